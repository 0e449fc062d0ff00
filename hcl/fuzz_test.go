package hcl

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoad loads one file of arbitrary contents: Load must never panic, it
// returns a Spec exactly when there are no errors, and parsing the groups and
// apps as they are decoded gives what parsing the file up front gives. Seeds
// are every fixture under testdata/hcl.
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
		upFront, upFrontDiags, _ := loadOnce([]source{{name: "fuzz.hcl", src: src}}, Options{}, nil, false)
		if !reflect.DeepEqual(DiagnosticLines(diags), DiagnosticLines(upFrontDiags)) || !reflect.DeepEqual(cfg.Spec, upFront.Spec) {
			t.Fatalf("deferred parsing differs from parsing up front:\n%q\n%q", DiagnosticLines(diags), DiagnosticLines(upFrontDiags))
		}
		if !reflect.DeepEqual(bodyOfFile(cfg.Files["fuzz.hcl"]), bodyOfFile(upFront.Files["fuzz.hcl"])) {
			t.Fatal("the syntax kept differs from parsing up front")
		}
		if cfg.Spec != nil {
			for _, a := range cfg.Spec.Apps {
				if a.Source == nil {
					t.Fatalf("%s: no Source", a.ID)
				}
			}
		}
	})
}
