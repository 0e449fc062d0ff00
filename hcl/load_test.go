package hcl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// testdataDir is the repository's fixtures for this package.
const testdataDir = "../testdata/hcl"

// cases lists the fixtures of dir: every *.hcl file and every sub-directory, by
// name without extension.
func cases(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		switch {
		case e.IsDir():
			names = append(names, e.Name())
		case strings.HasSuffix(e.Name(), ".hcl"):
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	return names
}

// golden compares got with the file, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (run with -update to accept):\n--- want\n%s--- got\n%s", path, want, got)
	}
}

// TestInvalid loads every fixture under testdata/hcl/invalid (run from that
// directory, so that file names are short) and compares DiagnosticLines with
// <case>.golden. Each fixture must fail and yield no Spec.
func TestInvalid(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join(testdataDir, "invalid"))
	if err != nil {
		t.Fatal(err)
	}
	names := cases(t, dir)
	t.Chdir(dir)
	for _, name := range names {
		t.Run(strings.TrimSuffix(name, ".hcl"), func(t *testing.T) {
			cfg, diags := Load(name, Options{})
			if cfg == nil {
				t.Fatal("nil Config")
			}
			if !diags.HasErrors() {
				t.Errorf("no errors; diagnostics: %q", DiagnosticLines(diags))
			}
			if cfg.Spec != nil {
				t.Error("Spec returned along with errors")
			}
			got := strings.Join(DiagnosticLines(diags), "\n") + "\n"
			golden(t, strings.TrimSuffix(name, ".hcl")+".golden", got)
			// Every diagnostic but those about the command line points into a file.
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s: %s", d.Summary, d.Detail)
				}
			}
		})
	}
}

// TestValid loads every fixture under testdata/hcl/valid: no diagnostics at all,
// and a Spec whose apps are sorted, defaulted and carry their Source.
func TestValid(t *testing.T) {
	dir := filepath.Join(testdataDir, "valid")
	for _, name := range cases(t, dir) {
		t.Run(strings.TrimSuffix(name, ".hcl"), func(t *testing.T) {
			cfg, diags := Load(filepath.Join(dir, name), Options{})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", strings.Join(DiagnosticLines(diags), "\n"))
			}
			if cfg.Spec == nil {
				t.Fatal("nil Spec without errors")
			}
			checkSpecInvariants(t, cfg)
		})
	}
}

// checkSpecInvariants checks what every decoded Spec must satisfy.
func checkSpecInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	spec := cfg.Spec
	for i, a := range spec.Apps {
		if i > 0 && spec.Apps[i-1].ID >= a.ID {
			t.Errorf("apps not sorted: %s before %s", spec.Apps[i-1].ID, a.ID)
		}
		if a.Source == nil || a.Source.DeclRange.Filename == "" {
			t.Errorf("%s: no Source", a.ID)
			continue
		}
		if cfg.Files[a.Source.DeclRange.Filename] == nil {
			t.Errorf("%s: declared in %q, not among Files", a.ID, a.Source.DeclRange.Filename)
		}
		if a.UnreachableStrategy == nil || a.KillSelection == "" {
			t.Errorf("%s: defaults not applied", a.ID)
		}
		for _, d := range a.Dependencies {
			if _, ok := a.Source.Dependencies.Get(d); !ok {
				t.Errorf("%s: dependency %s has no source range", a.ID, d)
			}
		}
		if fe := a.Validate(); fe != nil {
			t.Errorf("%s: Validate: %v", a.ID, fe)
		}
	}
	for i, g := range spec.Groups {
		if i > 0 && spec.Groups[i-1].ID >= g.ID {
			t.Errorf("groups not sorted: %s before %s", spec.Groups[i-1].ID, g.ID)
		}
		if g.Source == nil {
			t.Errorf("%s: no Source", g.ID)
		}
	}
}

// mustLoad loads in-memory files and fails the test on any diagnostic.
func mustLoad(t *testing.T, srcs map[string]string, opts Options) *Config {
	t.Helper()
	cfg, diags := LoadSources(bytesOf(srcs), opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics:\n%s", strings.Join(DiagnosticLines(diags), "\n"))
	}
	return cfg
}

func bytesOf(srcs map[string]string) map[string][]byte {
	m := make(map[string][]byte, len(srcs))
	for k, v := range srcs {
		m[k] = []byte(v)
	}
	return m
}

// lines loads in-memory files and returns the diagnostic lines.
func lines(srcs map[string]string, opts Options) ([]string, *Config, hcl2.Diagnostics) {
	cfg, diags := LoadSources(bytesOf(srcs), opts)
	return DiagnosticLines(diags), cfg, diags
}

// TestUnknownFunctionSuggestionIsStable: the suggestion for an unknown
// function is the closest name, the same on every load (hcl's own depends on
// map order).
func TestUnknownFunctionSuggestionIsStable(t *testing.T) {
	src := map[string][]byte{"main.hcl": []byte("locals {\n  b = Aa()\n  c = lenght([])\n}\n")}
	var first []string
	for i := 0; i < 30; i++ {
		_, diags := LoadSources(src, Options{})
		lines := DiagnosticLines(diags)
		if i == 0 {
			first = lines
			continue
		}
		if strings.Join(lines, "\n") != strings.Join(first, "\n") {
			t.Fatalf("load %d: %q, first load: %q", i, lines, first)
		}
	}
	if want := `There is no function named "lenght". Did you mean "length"?`; !strings.Contains(strings.Join(first, "\n"), want) {
		t.Errorf("diagnostics %q lack %q", first, want)
	}
}
