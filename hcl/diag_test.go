package hcl

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
)

// TestWriteDiagnostics renders the diagnostics of testdata/hcl/render/shop, plain
// and coloured, against golden files. They show every diagnostic (errors and
// warnings) with its file:line:col, the enclosing app or group, and the source.
func TestWriteDiagnostics(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join(testdataDir, "render"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cfg, diags := Load("shop", Options{VarFiles: []string{"shop.vars"}})
	if !diags.HasErrors() {
		t.Fatal("no errors")
	}
	tests := map[string]struct {
		width uint
		color bool
	}{
		"shop.golden":       {width: 0},
		"shop.wrap.golden":  {width: 60},
		"shop.color.golden": {width: 0, color: true},
	}
	for file, tc := range tests {
		t.Run(file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, cfg.Files, diags, tc.width, tc.color); err != nil {
				t.Fatal(err)
			}
			golden(t, file, buf.String())
			if !tc.color && strings.Contains(buf.String(), "\x1b[") {
				t.Error("escape codes without colour")
			}
			if n := strings.Count(buf.String(), "Error: ") + strings.Count(buf.String(), "Warning: "); !tc.color && n != len(diags) {
				t.Errorf("%d diagnostics rendered, want %d", n, len(diags))
			}
		})
	}
}

// TestWriteDiagnosticsWithoutSource renders diagnostics whose file is unknown and
// those without a range.
func TestWriteDiagnosticsWithoutSource(t *testing.T) {
	rng := hcl2.Range{Filename: "gone.hcl", Start: hcl2.Pos{Line: 3, Column: 7, Byte: 20}, End: hcl2.Pos{Line: 3, Column: 9, Byte: 22}}
	diags := hcl2.Diagnostics{
		{Severity: hcl2.DiagWarning, Summary: "Value for undeclared variable", Detail: "Ignored.", Subject: &rng},
		{Severity: hcl2.DiagError, Summary: "Invalid -var option", Detail: "Bad."},
		nil,
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, nil, diags, 0, false); err != nil {
		t.Fatal(err)
	}
	want := "Warning: Value for undeclared variable\n\n  on gone.hcl:3:7:\n  (source code not available)\n\nIgnored.\n\n" +
		"Error: Invalid -var option\n\nBad.\n\n"
	if buf.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", buf.String(), want)
	}
}

// TestDiagnosticLines checks the compact form and its ordering: rangeless first,
// then by file, line and column.
func TestDiagnosticLines(t *testing.T) {
	at := func(file string, line, col int) *hcl2.Range {
		return &hcl2.Range{Filename: file, Start: hcl2.Pos{Line: line, Column: col}, End: hcl2.Pos{Line: line, Column: col + 1}}
	}
	diags := hcl2.Diagnostics{
		{Severity: hcl2.DiagError, Summary: "C", Detail: "third\nline", Subject: at("b.hcl", 1, 1)},
		{Severity: hcl2.DiagError, Summary: "B", Detail: "second", Subject: at("a.hcl", 10, 2)},
		{Severity: hcl2.DiagWarning, Summary: "A", Detail: "first", Subject: at("a.hcl", 2, 30)},
		{Severity: hcl2.DiagError, Summary: "Z", Detail: ""},
		{Severity: hcl2.DiagError, Summary: "B2", Detail: "same place", Subject: at("a.hcl", 10, 2)},
	}
	got := DiagnosticLines(diags)
	want := []string{
		"Z",
		"a.hcl:2:30: A: first",
		"a.hcl:10:2: B: second",
		"a.hcl:10:2: B2: same place",
		"b.hcl:1:1: C: third line",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestWrap(t *testing.T) {
	tests := map[string]struct {
		in    string
		width int
		want  string
	}{
		"short":        {"a b c", 10, "a b c"},
		"breaks":       {"aaa bbb ccc", 7, "aaa bbb\nccc"},
		"long word":    {"aaaaaaaaaa b", 4, "aaaaaaaaaa\nb"},
		"keeps breaks": {"a\nb c", 3, "a\nb c"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := wrap(tc.in, tc.width); got != tc.want {
				t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
			}
		})
	}
}
