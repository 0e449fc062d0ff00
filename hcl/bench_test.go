package hcl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLargeConfig writes nFiles files holding apps apps in all (a multiple of
// nFiles*groups), each ~400 bytes with env, a port, a health check, a
// constraint and a dependency on its predecessor; groups depend on the first
// group. It returns the total size in bytes.
func writeLargeConfig(tb testing.TB, dir string, nFiles, groupsPerFile, apps int) int {
	tb.Helper()
	perGroup := apps / (nFiles * groupsPerFile)
	total := 0
	for f := 0; f < nFiles; f++ {
		var b strings.Builder
		if f == 0 {
			b.WriteString("variable \"region\" {\n  default = \"eu-west-1\"\n}\n\nlocals {\n  log_level = \"info\"\n}\n\n")
		}
		for g := 0; g < groupsPerFile; g++ {
			group := fmt.Sprintf("team-%02d-%02d", f, g)
			fmt.Fprintf(&b, "group %q {\n", group)
			if f+g > 0 {
				b.WriteString("  depends_on = [\"/team-00-00/svc-0000\"]\n")
			}
			b.WriteString("  labels     = { tier = \"backend\" }\n\n")
			for a := 0; a < perGroup; a++ {
				name := fmt.Sprintf("svc-%04d", a)
				fmt.Fprintf(&b, `  app %[1]q {
    cmd       = "exec ./svc --port $PORT0"
    instances = 3
    cpus      = 0.25
    mem       = 256
    env       = { LOG_LEVEL = local.log_level, REGION = var.region, SERVICE = "%[1]s" }
`, name)
				if a > 0 {
					fmt.Fprintf(&b, "    depends_on = [\"svc-%04d\"]\n", a-1)
				}
				b.WriteString(`    port "http" {}
    health_check {
      protocol   = "HTTP"
      path       = "/health"
      port_index = 0
    }
    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }
  }
`)
			}
			b.WriteString("}\n\n")
		}
		path := filepath.Join(dir, fmt.Sprintf("part-%02d.hcl", f))
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		total += b.Len()
	}
	return total
}

// benchLoad times loading dir (size bytes holding apps apps).
func benchLoad(b *testing.B, dir string, size, apps int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := Load(dir, Options{}); diags.HasErrors() {
			b.Fatal("errors")
		}
	}
	b.ReportMetric(float64(apps)*float64(b.N)/b.Elapsed().Seconds(), "apps/s")
}

// BenchmarkLoad10k loads 10,000 apps (~4 MB over 10 files).
func BenchmarkLoad10k(b *testing.B) {
	const apps = 10000
	dir := b.TempDir()
	size := writeLargeConfig(b, dir, 10, 10, apps)

	cfg, diags := Load(dir, Options{})
	if len(diags) > 0 {
		b.Fatalf("diagnostics:\n%s", strings.Join(DiagnosticLines(diags)[:min(10, len(diags))], "\n"))
	}
	if cfg.Spec == nil || len(cfg.Spec.Apps) != apps {
		b.Fatalf("got %d apps, want %d", len(cfg.Spec.Apps), apps)
	}
	if a := cfg.Spec.Apps[1]; a.ID != "/team-00-00/svc-0001" || len(a.Dependencies) != 1 || a.Env["REGION"] != "eu-west-1" {
		b.Fatalf("unexpected app %+v", a)
	}

	benchLoad(b, dir, size, apps)
}

// BenchmarkLoadSensitive10k is BenchmarkLoad10k with var.region sensitive: every
// app's env.REGION carries the mark and is listed in App.Sensitive.
func BenchmarkLoadSensitive10k(b *testing.B) {
	const apps = 10000
	dir := b.TempDir()
	size := writeLargeConfig(b, dir, 10, 10, apps)
	first := filepath.Join(dir, "part-00.hcl")
	src, err := os.ReadFile(first)
	if err != nil {
		b.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), `default = "eu-west-1"`, "default   = \"eu-west-1\"\n  sensitive = true", 1))
	if err := os.WriteFile(first, src, 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, diags := Load(dir, Options{})
	if len(diags) > 0 {
		b.Fatalf("diagnostics:\n%s", strings.Join(DiagnosticLines(diags)[:min(10, len(diags))], "\n"))
	}
	if a := cfg.Spec.Apps[1]; len(a.Sensitive) != 1 || a.Sensitive[0] != "env.REGION" || a.Env["REGION"] != "eu-west-1" {
		b.Fatalf("unexpected app %+v", a)
	}
	benchLoad(b, dir, size, apps)
}
