package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/hcl"
)

// writeConfig writes n apps (~400 bytes each) in groups of 100 over 10 files:
// env from locals and variables, a named port, an HTTP health check, a
// constraint and a dependency on the previous app of the group.
func writeConfig(tb testing.TB, dir string, n int) {
	tb.Helper()
	const files, perGroup = 10, 100
	groups := n / perGroup
	for f := 0; f < files; f++ {
		var b strings.Builder
		if f == 0 {
			b.WriteString("variable \"region\" {\n  default = \"eu-1\"\n}\n\nlocals {\n  log_level = \"info\"\n}\n\n")
		}
		for g := f; g < groups; g += files {
			fmt.Fprintf(&b, "group \"team-%03d\" {\n", g)
			for a := 0; a < perGroup; a++ {
				fmt.Fprintf(&b, "  app \"svc-%03d\" {\n    cmd       = \"exec ./svc --port $PORT0\"\n    instances = %d\n    cpus      = 0.25\n    mem       = 256\n    env       = { LOG_LEVEL = local.log_level, REGION = var.region }\n", a, 1+a%5)
				if a > 0 {
					fmt.Fprintf(&b, "    depends_on = [\"svc-%03d\"]\n", a-1)
				}
				b.WriteString("    port \"http\" {}\n    health_check {\n      protocol  = \"HTTP\"\n      path      = \"/health\"\n      port_name = \"http\"\n    }\n    constraint {\n      attribute = \"hostname\"\n      operator  = \"UNIQUE\"\n    }\n  }\n")
			}
			b.WriteString("}\n\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%02d.hcl", f)), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// writeState writes the deployed state for the configuration in dir with 10% of
// the apps different: a quarter each restarted (cmd), scaled, updated (labels),
// and destroyed-and-created (renamed).
func writeState(tb testing.TB, dir, file string) {
	tb.Helper()
	cfg, diags := hcl.Load(dir, hcl.Options{})
	if diags.HasErrors() {
		tb.Fatalf("config: %s", strings.Join(hcl.DiagnosticLines(diags), "\n"))
	}
	st := engine.State{Serial: 1}
	for i, a := range cfg.Spec.Apps {
		a = a.Clone()
		if i%10 == 0 {
			switch (i / 10) % 4 {
			case 0:
				a.Cmd = "exec ./svc-old --port $PORT0"
			case 1:
				a.Instances++
			case 2:
				a.Labels = map[string]string{"team": "old"}
			case 3:
				a.ID += "-old"
				a.Dependencies = nil
			}
		}
		st.Apps = append(st.Apps, a)
	}
	data, err := json.Marshal(&st)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkPlanEndToEnd10k times `stride plan -state` for 10k apps with 10%
// changed, in process (decode HCL, decode state, plan, render text), and
// reports the peak resident memory of the same command run as a process.
func BenchmarkPlanEndToEnd10k(b *testing.B) {
	dir := b.TempDir()
	cfgDir := filepath.Join(dir, "config")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		b.Fatal(err)
	}
	writeConfig(b, cfgDir, 10000)
	stateFile := filepath.Join(dir, "state.json")
	writeState(b, cfgDir, stateFile)
	args := []string{"plan", "-no-color", "-detailed-exitcode", "-state", stateFile, cfgDir}

	var out strings.Builder
	c := newCLI(strings.NewReader(""), &out, io.Discard)
	if code := c.run(args); code != exitChanges {
		b.Fatalf("exit %d, want %d", code, exitChanges)
	}
	if want := "Plan: 250 to create, 250 to update, 250 to scale, 250 to restart, 250 to destroy."; !strings.Contains(out.String(), want) {
		b.Fatalf("summary missing %q", want)
	}

	// Peak memory of the real command.
	bin := filepath.Join(dir, "stride")
	if outp, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, outp)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	peakFile := filepath.Join(dir, "peak")
	cmd.Env = append(os.Environ(), "STRIDE_PEAK_RSS_FILE="+peakFile)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitChanges {
			b.Fatalf("stride plan: %v", err)
		}
	}
	peak, err := os.ReadFile(peakFile)
	if err != nil {
		b.Fatalf("peak memory not recorded: %v", err)
	}
	var peakKB float64
	if _, err := fmt.Sscanf(string(peak), "%f kB", &peakKB); err != nil {
		b.Fatalf("peak memory %q: %v", peak, err)
	}
	peakMB := peakKB / 1024

	b.ResetTimer()
	for b.Loop() {
		c := newCLI(strings.NewReader(""), io.Discard, io.Discard)
		if code := c.run(args); code != exitChanges {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(peakMB, "peak-MB")
}
