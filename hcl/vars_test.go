package hcl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// varApp is a configuration that shows var.x in the cmd of app /a, JSON-encoded.
func varApp(decl string) map[string]string {
	return map[string]string{
		"main.hcl": decl + "\napp \"a\" {\n  cmd = jsonencode(var.x)\n}\n",
	}
}

// TestVariablePrecedence checks Terraform's order: default < STRIDE_VAR_ env <
// -var-file files in order < -var flags in order.
func TestVariablePrecedence(t *testing.T) {
	const decl = `variable "x" {
  type    = string
  default = "default"
}`
	files := map[string]string{
		"one.vars": `x = "file1"`,
		"two.vars": `x = "file2"`,
	}
	tests := map[string]struct {
		opts Options
		want string
	}{
		"default":               {Options{}, "default"},
		"env":                   {Options{Environ: []string{"STRIDE_VAR_x=env"}}, "env"},
		"later env entry wins":  {Options{Environ: []string{"STRIDE_VAR_x=env1", "STRIDE_VAR_x=env2"}}, "env2"},
		"file over env":         {Options{Environ: []string{"STRIDE_VAR_x=env"}, VarFiles: []string{"one.vars"}}, "file1"},
		"later file wins":       {Options{VarFiles: []string{"two.vars", "one.vars"}}, "file1"},
		"flag over file":        {Options{VarFiles: []string{"one.vars"}, Vars: []string{"x=flag"}}, "flag"},
		"flag over env":         {Options{Environ: []string{"STRIDE_VAR_x=env"}, Vars: []string{"x=flag"}}, "flag"},
		"later flag wins":       {Options{Vars: []string{"x=flag1", "x=flag2"}}, "flag2"},
		"all four":              {Options{Environ: []string{"STRIDE_VAR_x=env"}, VarFiles: []string{"one.vars", "two.vars"}, Vars: []string{"x=flag"}}, "flag"},
		"flag value keeps =":    {Options{Vars: []string{"x=a=b"}}, "a=b"},
		"empty flag value":      {Options{Vars: []string{"x="}}, ""},
		"other env ignored":     {Options{Environ: []string{"STRIDE_VAR_y=1", "PATH=/bin", "STRIDE_VAR_=z"}}, "default"},
		"prefix case sensitive": {Options{Environ: []string{"stride_var_x=env"}}, "default"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srcs := varApp(decl)
			for _, vf := range tc.opts.VarFiles {
				srcs[vf] = files[vf]
			}
			cfg := mustLoad(t, srcs, tc.opts)
			if got, want := cfg.Spec.Apps[0].Cmd, `"`+tc.want+`"`; got != want {
				t.Errorf("var.x = %s, want %s", got, want)
			}
			if len(cfg.Spec.Apps) != 1 {
				t.Errorf("variable files were loaded as configuration: %d apps", len(cfg.Spec.Apps))
			}
		})
	}
}

// TestVariableTypes checks how each source's value is read for each type: raw
// strings for primitive types (and no type), HCL expressions for complex types and
// an explicit any.
func TestVariableTypes(t *testing.T) {
	tests := map[string]struct {
		decl string
		opts Options
		file string // contents of vars.hcl, passed as a -var-file when set
		want string // jsonencode(var.x)
	}{
		"number from flag":       {decl: `type = number`, opts: Options{Vars: []string{"x=3.5"}}, want: `3.5`},
		"bool from env":          {decl: `type = bool`, opts: Options{Environ: []string{"STRIDE_VAR_x=true"}}, want: `true`},
		"string keeps quotes":    {decl: `type = string`, opts: Options{Vars: []string{`x="q"`}}, want: `"\"q\""`},
		"no type is raw":         {decl: ``, opts: Options{Vars: []string{`x=[1, 2]`}}, want: `"[1, 2]"`},
		"any parses HCL":         {decl: `type = any`, opts: Options{Vars: []string{`x=[1, 2]`}}, want: `[1,2]`},
		"list from flag":         {decl: `type = list(string)`, opts: Options{Vars: []string{`x=["a", "b"]`}}, want: `["a","b"]`},
		"list converts numbers":  {decl: `type = list(string)`, opts: Options{Vars: []string{`x=[1]`}}, want: `["1"]`},
		"map from env":           {decl: `type = map(number)`, opts: Options{Environ: []string{`STRIDE_VAR_x={a = 1}`}}, want: `{"a":1}`},
		"object with optional":   {decl: `type = object({ name = string, port = optional(number, 80) })`, file: `x = { name = "web" }`, want: `{"name":"web","port":80}`},
		"default converted":      {decl: "type = number\ndefault = \"7\"", want: `7`},
		"default of any type":    {decl: `default = { a = [1] }`, want: `{"a":[1]}`},
		"file number to string":  {decl: `type = string`, file: `x = 12`, want: `"12"`},
		"file list":              {decl: `type = list(number)`, file: `x = [1, 2, 3]`, want: `[1,2,3]`},
		"set is sorted":          {decl: `type = set(string)`, opts: Options{Vars: []string{`x=["b", "a", "b"]`}}, want: `["a","b"]`},
		"null flag for any":      {decl: `type = any`, opts: Options{Vars: []string{`x=null`}}, want: `null`},
		"description, sensitive": {decl: "type = string\ndescription = \"d\"\nsensitive = true\ndefault = \"s\"", want: `"s"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srcs := varApp("variable \"x\" {\n" + tc.decl + "\n}")
			if tc.file != "" {
				srcs["vars.hcl"] = tc.file
				tc.opts.VarFiles = []string{"vars.hcl"}
			}
			cfg := mustLoad(t, srcs, tc.opts)
			if got := cfg.Spec.Apps[0].Cmd; got != tc.want {
				t.Errorf("var.x = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestVariableErrors checks the diagnostics of bad variable declarations and values.
func TestVariableErrors(t *testing.T) {
	tests := map[string]struct {
		decl  string
		opts  Options
		file  string // vars.hcl, passed as -var-file when set
		want  []string
		warns bool // only warnings: the Spec is still returned
	}{
		"required without value": {
			decl: `type = string`,
			want: []string{`main.hcl:1:1: No value for required variable: The variable "x" has no default, so it must be set with -var, -var-file or STRIDE_VAR_x.`},
		},
		"flag not name=value": {
			decl: `default = "d"`,
			opts: Options{Vars: []string{"x"}},
			want: []string{`Invalid -var option: The option -var "x" is not of the form name=value, e.g. -var 'tag=1.4.2'.`},
		},
		"flag without name": {
			decl: `default = "d"`,
			opts: Options{Vars: []string{"=v"}},
			want: []string{`Invalid -var option: The option -var "=v" is not of the form name=value, e.g. -var 'tag=1.4.2'.`},
		},
		"flag for undeclared variable": {
			decl: `default = "d"`,
			opts: Options{Vars: []string{"y=1"}},
			want: []string{`Value for undeclared variable: -var sets "y", but no variable "y" is declared. Did you mean "x"? Declare it with a variable "y" block.`},
		},
		"file for undeclared variable is a warning": {
			decl:  `default = "d"`,
			file:  "x = \"ok\"\nxx = 1\n",
			want:  []string{`vars.hcl:2:1: Value for undeclared variable: The file sets "xx", but no variable "xx" is declared; the value is ignored. Did you mean "x"?`},
			warns: true,
		},
		"env for undeclared variable is ignored": {
			decl:  `default = "d"`,
			opts:  Options{Environ: []string{"STRIDE_VAR_y=1"}},
			warns: true,
		},
		"flag value not a number": {
			decl: `type = number`,
			opts: Options{Vars: []string{"x=abc"}},
			want: []string{`<value for var.x>:1:1: Invalid value for variable: The value of variable "x" does not match its type number: a number is required.`},
		},
		"env value not HCL": {
			decl: `type = list(string)`,
			opts: Options{Environ: []string{"STRIDE_VAR_x=[a"}},
			want: []string{
				`<value for var.x from STRIDE_VAR_x>:1:1: Unterminated tuple constructor expression: There is no corresponding closing bracket before the end of the file. This may be caused by incorrect bracket nesting elsewhere in this file.`,
			},
		},
		"file value of wrong type": {
			decl: `type = list(number)`,
			file: `x = ["a"]`,
			want: []string{`vars.hcl:1:5: Invalid value for variable: The value of variable "x" does not match its type list(number): [0]: a number is required.`},
		},
		"file calls a function": {
			decl: `type = string`,
			file: `x = upper("a")`,
			want: []string{`vars.hcl:1:5: Function calls not allowed: Functions may not be called here.`},
		},
		"file with a block": {
			decl: `type = string`,
			file: "x = \"a\"\nb {}\n",
			want: []string{`vars.hcl:2:1: Unexpected "b" block: Blocks are not allowed here.`},
		},
		"file that does not parse": {
			decl: `type = string`,
			file: `x = `,
			want: []string{`vars.hcl:1:5: Missing expression: Expected the start of an expression, but found the end of the file.`},
		},
		"missing file": {
			decl: `default = "d"`,
			opts: Options{VarFiles: []string{"/nonexistent/stride.vars"}},
			want: []string{`Failed to read variables file: Cannot read "/nonexistent/stride.vars": open /nonexistent/stride.vars: no such file or directory.`},
		},
		"default of wrong type": {
			decl: "type = number\ndefault = \"seven\"",
			opts: Options{Vars: []string{"x=7"}},
			want: []string{`main.hcl:3:11: Invalid default value for variable: The default of variable "x" does not match its type number: a number is required.`},
		},
		"default with a reference": {
			decl: "default = var.y",
			want: []string{`main.hcl:2:11: Variables not allowed: Variables may not be used here.`},
		},
		"bad type expression": {
			decl: "type = strin\ndefault = 1",
			want: []string{`main.hcl:2:8: Invalid type specification: The keyword "strin" is not a valid type specification.`},
		},
		"unknown attribute": {
			decl: "default = 1\nvalidation = true",
			want: []string{`main.hcl:3:1: Unsupported argument: An argument named "validation" is not expected here.`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srcs := varApp("variable \"x\" {\n" + tc.decl + "\n}")
			if tc.file != "" {
				srcs["vars.hcl"] = tc.file
				tc.opts.VarFiles = append(tc.opts.VarFiles, "vars.hcl")
			}
			got, cfg, diags := lines(srcs, tc.opts)
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if diags.HasErrors() == tc.warns {
				t.Errorf("HasErrors = %v, want %v", diags.HasErrors(), !tc.warns)
			}
			if (cfg.Spec == nil) != diags.HasErrors() {
				t.Errorf("Spec nil = %v with HasErrors = %v", cfg.Spec == nil, diags.HasErrors())
			}
		})
	}
}

// TestDuplicateVariable covers declarations across files.
func TestDuplicateVariable(t *testing.T) {
	got, _, _ := lines(map[string]string{
		"a.hcl": "variable \"x\" {\n  default = 1\n}\n",
		"b.hcl": "variable \"x\" {\n  default = 2\n}\napp \"a\" {\n  cmd = \"c\"\n}\n",
	}, Options{})
	want := []string{`b.hcl:1:1: Duplicate variable: The variable "x" was already declared at a.hcl:1:1.`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestVarFileFromDisk reads a -var-file from disk (LoadSources reads files it is
// not given), and Load names it as given.
func TestVarFileFromDisk(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "prod.vars")
	if err := os.WriteFile(vf, []byte(`x = "disk"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(varApp(`variable "x" {}`)["main.hcl"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, Options{VarFiles: []string{vf}})
	if len(diags) > 0 {
		t.Fatal(DiagnosticLines(diags))
	}
	if got := cfg.Spec.Apps[0].Cmd; got != `"disk"` {
		t.Errorf("var.x = %s", got)
	}
	if cfg.Files[vf] == nil {
		t.Errorf("variable file %s not among Files", vf)
	}
	// JSON variable files are read by extension.
	jf := filepath.Join(dir, "prod.json")
	if err := os.WriteFile(jf, []byte(`{"x": "json"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags = Load(dir, Options{VarFiles: []string{jf}})
	if len(diags) > 0 {
		t.Fatal(DiagnosticLines(diags))
	}
	if got := cfg.Spec.Apps[0].Cmd; got != `"json"` {
		t.Errorf("var.x from JSON = %s", got)
	}
}
