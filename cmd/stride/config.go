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

// Loading a large configuration keeps about 25 bytes of memory per byte of
// source at its peak (the syntax tree of what is not decoded yet and the
// decoded apps) and allocates many times that. Go's default pacing lets the
// heap grow to twice what it keeps, and the one-shot commands' lower target
// (main's gcPercent) still left a 10k-app plan at 220 MB of resident memory.
// So while the configuration loads, the garbage collector gets a soft memory
// limit sized to it instead: loadMemoryPerByte per byte of source, at least
// minLoadMemory, with Go's default target below it (a 4 MB configuration of
// 10k apps: 160 MB, for about 185 MB resident and no more CPU than before).
// Past the limit the collector works harder rather than fail.
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
