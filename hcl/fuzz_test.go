package hcl

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad loads one file of arbitrary contents: Load must never panic, and it
// returns a Spec exactly when there are no errors. Seeds are every fixture under
// testdata/hcl.
func FuzzLoad(f *testing.F) {
	err := filepath.WalkDir(testdataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f.Add(b)
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := LoadSources(map[string][]byte{"fuzz.hcl": src}, Options{})
		if cfg == nil {
			t.Fatal("nil Config")
		}
		if (cfg.Spec == nil) != diags.HasErrors() {
			t.Fatalf("Spec nil = %v, HasErrors = %v: %q", cfg.Spec == nil, diags.HasErrors(), DiagnosticLines(diags))
		}
		if err := WriteDiagnostics(io.Discard, cfg.Files, diags, 80, true); err != nil {
			t.Fatal(err)
		}
		_ = DiagnosticLines(diags)
		if cfg.Spec != nil {
			for _, a := range cfg.Spec.Apps {
				if a.Source == nil {
					t.Fatalf("%s: no Source", a.ID)
				}
			}
		}
	})
}
