package hcl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFormat formats testdata/hcl/format/*.hcl against their .golden files.
func TestFormat(t *testing.T) {
	dir := filepath.Join(testdataDir, "format")
	for _, name := range cases(t, dir) {
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out, diags := Format(src, name)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			golden(t, filepath.Join(dir, strings.TrimSuffix(name, ".hcl")+".golden"), string(out))
		})
	}
}

// TestFormatIdempotent formats every parseable fixture twice: the second pass
// changes nothing.
func TestFormatIdempotent(t *testing.T) {
	var files []string
	err := filepath.WalkDir(testdataDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			once, diags := Format(src, path)
			if diags.HasErrors() {
				if once != nil {
					t.Error("output along with syntax errors")
				}
				return
			}
			twice, diags := Format(once, path)
			if diags.HasErrors() {
				t.Fatalf("formatted output does not parse: %s", diags.Error())
			}
			if string(once) != string(twice) {
				t.Errorf("not idempotent:\n--- once\n%s--- twice\n%s", once, twice)
			}
		})
	}
}

// TestFormatSyntaxError returns the parser's diagnostics and no output.
func TestFormatSyntaxError(t *testing.T) {
	out, diags := Format([]byte("app \"a\" {\n  cmd = \n"), "bad.hcl")
	if out != nil {
		t.Errorf("output %q for a file that does not parse", out)
	}
	got := DiagnosticLines(diags)
	if len(got) == 0 || !strings.HasPrefix(got[0], "bad.hcl:") {
		t.Errorf("diagnostics %q", got)
	}
}
