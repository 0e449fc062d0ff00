package main

import (
	"flag"
	"os"

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
