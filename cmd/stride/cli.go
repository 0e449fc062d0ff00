package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/stride-run/stride/cmd/stride/internal/view"
	"github.com/stride-run/stride/internal/version"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitChanges = 2 // plan -detailed-exitcode: the plan has changes
	exitFmt     = 3 // fmt -check: some file is not formatted
)

// cli carries the process's streams, so commands can be run in tests without a
// subprocess.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// getenv reads the environment (os.Getenv in production).
	getenv  func(string) string
	environ func() []string
	// ctx is the base context of long-running commands (dev, server, apply's
	// follow); interrupts and SIGTERM end them too.
	ctx context.Context
	// tuneMemory: loading a configuration may set the process's memory limit
	// (limitLoadMemory); only the stride process itself sets it, not tests
	// that run commands in theirs.
	tuneMemory bool
}

func newCLI(stdin io.Reader, stdout, stderr io.Writer) *cli {
	return &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, environ: os.Environ, ctx: context.Background()}
}

type command struct {
	name, synopsis string
	run            func(c *cli, args []string) int
}

func commands() []command {
	return []command{
		{"validate", "Check that a configuration is valid", (*cli).validate},
		{"fmt", "Rewrite configuration files to the canonical format", (*cli).fmt},
		{"plan", "Show the changes and the rolling deployment that apply would carry out", (*cli).plan},
		{"apply", "Carry out a plan through the Stride server and follow the deployment", (*cli).apply},
		{"destroy", "Destroy every deployed app under the configuration's scope", (*cli).destroy},
		{"status", "Show the deployed apps, their tasks' health and running deployments", (*cli).status},
		{"tasks", "List tasks: where they run, their ports, state and health", (*cli).tasks},
		{"import", "Write a server's (or a JSON file's) apps and groups as HCL files", (*cli).importCmd},
		{"rollback", "Deploy an earlier recorded version of an app again", (*cli).rollback},
		{"dev", "Run Stride on the embedded default (local state, in-process Mesos stand-in)", (*cli).dev},
		{"server", "Run the Stride server against a Mesos master", (*cli).server},
		{"mesos-local", "Run the single-machine Mesos stand-in on its own", (*cli).mesosLocal},
		{"version", "Print Stride's version", (*cli).version},
	}
}

func (c *cli) run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		c.usage(c.stdout)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	if args[0] == "-version" || args[0] == "--version" {
		return c.version(nil)
	}
	for _, cmd := range commands() {
		if cmd.name == args[0] {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "stride: unknown command %q\n\n", args[0])
	c.usage(c.stderr)
	return exitError
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: stride <command> [options] [args]\n\n")
	fmt.Fprintf(w, "Stride plans and applies HCL descriptions of long-running services on Mesos.\n\nCommands:\n")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, cmd := range cmds {
		fmt.Fprintf(w, "  %-12s %s\n", cmd.name, cmd.synopsis)
	}
	fmt.Fprintf(w, "\nRun \"stride <command> -h\" for a command's options.\n")
}

func (c *cli) version([]string) int {
	fmt.Fprintf(c.stdout, "Stride v%s\n", version.Version)
	return exitOK
}

// flagSet returns a flag set that reports its errors and usage on stderr.
func (c *cli) flagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: stride %s\n\nOptions:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before or after the positional arguments
// (`stride plan DIR -json` as well as `stride plan -json DIR`), and returns the
// positional ones. "--" ends the flags.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// errUsage marks a command-line mistake (the usage has been printed).
var errUsage = errors.New("usage")

// oneDir returns the single optional positional argument (default ".").
func oneDir(fs *flag.FlagSet, pos []string) (string, error) {
	switch len(pos) {
	case 0:
		return ".", nil
	case 1:
		return pos[0], nil
	default:
		fmt.Fprintf(fs.Output(), "stride %s: too many arguments: %s\n", fs.Name(), strings.Join(pos, " "))
		fs.Usage()
		return "", errUsage
	}
}

// multiFlag collects a repeatable flag (-var, -var-file).
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// styles returns the output styles for stdout: coloured only on a terminal and
// without -no-color.
func (c *cli) styles(noColor bool) view.Styles {
	f, _ := c.stdout.(*os.File)
	return view.NewStyles(view.ColorEnabled(f, noColor))
}

func (c *cli) errStyles(noColor bool) view.Styles {
	f, _ := c.stderr.(*os.File)
	return view.NewStyles(view.ColorEnabled(f, noColor))
}

// errorf prints "Error: ..." on stderr, Terraform-style, and returns exitError.
func (c *cli) errorf(noColor bool, format string, args ...any) int {
	s := c.errStyles(noColor)
	fmt.Fprintf(c.stderr, "%s %s\n", s.Error.Sprint("Error:"), fmt.Sprintf(format, args...))
	return exitError
}
