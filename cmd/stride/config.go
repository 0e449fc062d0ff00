package main

import (
	"flag"
	"os"
	"runtime/debug"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/cmd/stride/internal/view"
	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/hcl"
	"github.com/stride-run/stride/planner"
)

// configFlags are the options every command that reads a configuration takes.
type configFlags struct {
	vars, varFiles multiFlag
	scope          string
	noColor        bool
}

func (cf *configFlags) register(fs *flag.FlagSet) {
	fs.Var(&cf.vars, "var", "set a variable: -var 'name=value' (repeatable; later wins)")
	fs.Var(&cf.varFiles, "var-file", "read variable values from an HCL file (repeatable)")
	fs.StringVar(&cf.scope, "scope", "", "the group path the configuration owns (overrides stride { scope })")
	fs.BoolVar(&cf.noColor, "no-color", false, "disable coloured output")
}

// loadConfig reads and validates the configuration at path (a directory or one
// file), printing every diagnostic, errors and warnings, on stderr. The spec is nil
// when there were errors. Dependency cycles are checked too, so that `validate`
// reports everything `plan` would, short of the deployed state.
func (c *cli) loadConfig(path string, cf *configFlags) (*hcl.Config, *engine.Spec) {
	if c.tuneMemory {
		defer limitLoadMemory(path)()
	}
	cfg, diags := hcl.Load(path, hcl.Options{
		Vars:     cf.vars,
		VarFiles: cf.varFiles,
		Environ:  c.environ(),
		Scope:    cf.scope,
	})
	if !diags.HasErrors() && cfg.Spec != nil {
		diags = append(diags, planner.CheckGraph(cfg.Spec)...)
	}
	c.printDiags(cfg, diags, cf.noColor)
	if diags.HasErrors() || cfg == nil {
		return cfg, nil
	}
	return cfg, cfg.Spec
}

// printDiags renders diagnostics Terraform-style on stderr.
func (c *cli) printDiags(cfg *hcl.Config, diags hcl2.Diagnostics, noColor bool) {
	if len(diags) == 0 {
		return
	}
	var files map[string]*hcl2.File
	if cfg != nil {
		files = cfg.Files
	}
	f, _ := c.stderr.(*os.File)
	_ = hcl.WriteDiagnostics(c.stderr, files, diags, 100, view.ColorEnabled(f, noColor))
}

// Loading a large configuration allocates many times what it keeps (hcl's
// lexer and parser), and keeps about 10 bytes of memory per byte of source:
// the decoded apps, and the headers of their blocks for diagnostics (the
// syntax trees of only the few groups being decoded are alive at once, see
// hcl.load). Go's default pacing would collect every time the heap doubled
// what it keeps, as it grows from nothing; the one-shot commands' lower
// target (main's gcPercent) more often still. So while the configuration
// loads, the garbage collector gets a soft memory limit sized to it instead:
// loadMemoryPerByte per byte of source, at least minLoadMemory, with Go's
// default target below it (a 4 MB configuration of 10k apps: 160 MB, for
// about 140 MB resident for the whole of `stride plan`). Past the limit the
// collector works harder rather than fail.
const (
	loadMemoryPerByte = 40
	minLoadMemory     = 64 << 20
)

// limitLoadMemory sets the memory limit for loading the configuration at path
// (a directory or one file) and returns the function that restores the
// previous settings.
func limitLoadMemory(path string) (restore func()) {
	limit := max(minLoadMemory, loadMemoryPerByte*configBytes(path))
	oldPercent := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	}
}

// configBytes is the size of the configuration files at path as hcl.Load reads
// them (every *.hcl of a directory, or the file); 0 when it cannot tell.
func configBytes(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !info.IsDir() {
		return info.Size()
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return n
}
