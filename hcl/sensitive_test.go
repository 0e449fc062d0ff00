package hcl

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

const sensitiveSecret = "hunter2-s3cr3t"

// sensitiveDecl declares var.pw (sensitive) and var.plain.
const sensitiveDecl = `
variable "pw" {
  type      = string
  sensitive = true
}
variable "plain" {
  default = "visible"
}
locals {
  dsn = "postgres://app:${var.pw}@db/app"
}
`

// TestSensitivePaths checks that every field derived from a sensitive variable
// (directly, through a local, a template or a function) is listed in
// App.Sensitive, and that the others are not, while the values stay real.
func TestSensitivePaths(t *testing.T) {
	tests := []struct {
		name string
		app  string
		want []string
	}{
		{"none", `cmd = "run ${var.plain}"`, nil},
		{"cmd interpolated", `cmd = "run --password=${var.pw}"`, []string{"cmd"}},
		{"env entry", `
  cmd = "run"
  env = { DB_PASSWORD = var.pw, LOG = var.plain }`, []string{"env.DB_PASSWORD"}},
		{"local", `
  cmd = "run"
  env = { DSN = local.dsn }`, []string{"env.DSN"}},
		{"function", `cmd = upper(var.pw)`, []string{"cmd"}},
		{"label with odd key", `
  cmd = "run"
  labels = { "com.example/token" = var.pw }`, []string{`labels["com.example/token"]`}},
		{"args element", `
  args = ["run", var.pw]`, []string{"args[1]"}},
		{"health check path", `
  cmd = "run"
  port "http" { number = 0 }
  health_check {
    protocol = "HTTP"
    path     = "/health?token=${var.pw}"
  }`, []string{"healthChecks[0].path"}},
		{"whole env", `
  cmd = "run"
  env = { for k in ["A"] : k => var.pw }`, []string{"env.A"}},
		{"sensitive()", `cmd = sensitive("run ${var.plain}")`, []string{"cmd"}},
		{"nonsensitive()", `cmd = "len ${nonsensitive(length(var.pw))}"`, nil},
		{"constraint", `
  cmd = "run"
  constraints = [["rack", "CLUSTER", var.pw]]`, []string{"constraints"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs := map[string]string{"main.hcl": sensitiveDecl + "app \"a\" {\n" + tc.app + "\n}\n"}
			cfg := mustLoad(t, srcs, Options{Vars: []string{"pw=" + sensitiveSecret}})
			a := cfg.Spec.Apps[0]
			if !reflect.DeepEqual(a.Sensitive, tc.want) {
				t.Errorf("Sensitive = %q, want %q", a.Sensitive, tc.want)
			}
			for _, p := range tc.want {
				if !a.IsSensitive(p) {
					t.Errorf("IsSensitive(%q) = false", p)
				}
			}
			if errs := a.Validate(); len(errs) > 0 {
				t.Errorf("the decoded app does not validate: %v", errs)
			}
		})
	}
}

// TestSensitiveValueReachesApp checks that marking changes what is shown, not
// what is deployed.
func TestSensitiveValueReachesApp(t *testing.T) {
	srcs := map[string]string{"main.hcl": sensitiveDecl + `app "a" {
  cmd = "run --password=${var.pw}"
  env = { DSN = local.dsn }
}
`}
	cfg := mustLoad(t, srcs, Options{Environ: []string{"STRIDE_VAR_pw=" + sensitiveSecret}})
	a := cfg.Spec.Apps[0]
	if a.Cmd != "run --password="+sensitiveSecret {
		t.Errorf("cmd = %q", a.Cmd)
	}
	if a.Env["DSN"] != "postgres://app:"+sensitiveSecret+"@db/app" {
		t.Errorf("env.DSN = %q", a.Env["DSN"])
	}
}

// TestSensitiveDiagnostics checks that errors quoting a sensitive value, from
// Stride's validation, hcl's functions or a variable's type, show
// "(sensitive value)" instead, and still name the field's position.
func TestSensitiveDiagnostics(t *testing.T) {
	tests := []struct {
		name, app string
		where     string
	}{
		{"validation quotes the value", `
  cmd = "run"
  kill_selection = var.pw`, "main.hcl:"},
		{"duration quotes the value", `
  cmd = "run"
  deployment { progress_deadline = var.pw }`, "main.hcl:"},
		{"function error quotes the value", `cmd = "x${tonumber(var.pw)}"`, "main.hcl:"},
		{"derived value in a validation", `
  cmd = "run"
  kill_selection = "x-${var.pw}-y"`, "main.hcl:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs := map[string]string{"main.hcl": sensitiveDecl + "app \"a\" {\n" + tc.app + "\n}\n"}
			cfg, diags := LoadSources(bytesOf(srcs), Options{Vars: []string{"pw=" + sensitiveSecret}})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, cfg.Files, diags, 0, false); err != nil {
				t.Fatal(err)
			}
			out := buf.String() + strings.Join(DiagnosticLines(diags), "\n")
			if strings.Contains(out, sensitiveSecret) {
				t.Errorf("the secret appears in the diagnostics:\n%s", out)
			}
			if !strings.Contains(out, tc.where) {
				t.Errorf("the diagnostics do not name %s:\n%s", tc.where, out)
			}
			for _, d := range diags {
				if d.Expression != nil || d.EvalContext != nil {
					t.Errorf("diagnostic %q keeps its expression and context (hcl's writer would print values)", d.Summary)
				}
			}
		})
	}
}

// TestNonsensitiveRefusesPlainValue follows Terraform: nonsensitive of a value
// that is not sensitive is an error.
func TestNonsensitiveRefusesPlainValue(t *testing.T) {
	srcs := map[string]string{"main.hcl": sensitiveDecl + "app \"a\" {\n  cmd = nonsensitive(var.plain)\n}\n"}
	_, diags := LoadSources(bytesOf(srcs), Options{Vars: []string{"pw=x"}})
	if !diags.HasErrors() || !strings.Contains(strings.Join(DiagnosticLines(diags), "\n"), "not sensitive") {
		t.Errorf("want an error saying the value is not sensitive, got %v", DiagnosticLines(diags))
	}
}

// TestSensitiveVariableValueNotShown checks that an invalid value given to a
// sensitive variable is reported without its source.
func TestSensitiveVariableValueNotShown(t *testing.T) {
	srcs := map[string]string{"main.hcl": `variable "pw" {
  type      = list(string)
  sensitive = true
}
app "a" { cmd = "run" }
`}
	for name, opts := range map[string]Options{
		"flag": {Vars: []string{`pw=["` + sensitiveSecret + `"`}},
		"env":  {Environ: []string{`STRIDE_VAR_pw=["` + sensitiveSecret + `"`}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, diags := LoadSources(bytesOf(srcs), opts)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, cfg.Files, diags, 0, false); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), sensitiveSecret) {
				t.Errorf("the secret appears in the diagnostics:\n%s", buf.String())
			}
			if !strings.Contains(buf.String(), "source code not available") {
				t.Errorf("want the snippet withheld:\n%s", buf.String())
			}
		})
	}
}
