package hcl

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestDeferredLoadIsLoad: loading with the groups and apps of large files
// parsed as they are decoded gives exactly what parsing every file up front
// gives (the Spec, the diagnostics and the syntax kept for them), including
// when a deferred block does not parse in chunks (a heredoc over a cut, a
// duplicate attribute, a syntax error), when another file has errors too, and
// when decoding reports errors.
func TestDeferredLoadIsLoad(t *testing.T) {
	const vars = "variable \"region\" {\n  default = \"eu\"\n}\n"
	cases := map[string]map[string]string{
		"groups": {"a.hcl": vars, "b.hcl": string(groupedFile(4, 300, "", ""))},
		"groups heredoc": {"a.hcl": vars, "b.hcl": string(groupedFile(4, 300,
			"  app \"h\" {\n    cmd = <<EOT\n  }\n"+strings.Repeat("  app \"fake\" {\n  }\n", 400)+"EOT\n  }\n", ""))},
		"groups duplicate attr": {"a.hcl": vars, "b.hcl": string(groupedFile(4, 300, "  labels = { x = \"y\" }\n", ""))},
		"groups syntax error":   {"a.hcl": vars, "b.hcl": string(groupedFile(4, 300, "  app \"bad\" {\n    cmd = = 1\n  }\n", ""))},
		"groups and a bad file": {"a.hcl": vars + "app \"x\" {\n  cmd = = 2\n}\n", "b.hcl": string(groupedFile(4, 300, "  app \"bad\" {\n    cmd = = 1\n  }\n", ""))},
		"groups decode errors": {"a.hcl": vars, "b.hcl": string(groupedFile(4, 300,
			"  app \"dup\" {\n    cmd = \"x\"\n    instances = -1\n    cpus = var.nope\n  }\n  app \"dup\" {\n    cmd = \"y\"\n  }\n", ""))},
		"groups undeclared var":  {"b.hcl": string(groupedFile(3, 300, "", ""))},
		"groups and top apps":    {"a.hcl": vars + string(largeFile(600, -1, "")), "b.hcl": string(groupedFile(3, 300, "", "app \"after\" {\n  cmd = \"x\"\n}\n"))},
		"groups number too big":  {"a.hcl": vars, "b.hcl": string(groupedFile(3, 300, "  app \"big\" {\n    cmd = \"x\"\n    instances = 1e600000000\n    cpus = 1e30 * 1e30\n  }\n", ""))},
		"small":                  {"a.hcl": vars + "group \"g\" {\n  app \"a\" {\n    cmd = \"x\"\n  }\n}\n"},
		"flat":                   {"a.hcl": vars, "b.hcl": string(largeFile(2000, -1, ""))},
		"flat small files":       smallFiles(40, 25, ""),
		"flat small files error": smallFiles(40, 25, "app \"bad\" {\n  cmd = = 1\n}\n"),
		"flat small files dup":   smallFiles(40, 25, "app \"a0-3\" {\n  cmd = \"dup\"\n}\n"),
		"flat variable":          {"a.hcl": string(largeFile(2000, 1000, vars))},
		"flat indented variable": {"a.hcl": string(largeFile(2000, 1000, "  "+vars))},
		"flat attribute":         {"a.hcl": vars, "b.hcl": string(largeFile(2000, 1000, "x = 1\n"))},
		// An indented heredoc marker: no line of it tells a cut from a heredoc.
		"flat heredoc":          {"a.hcl": vars, "b.hcl": string(largeFile(2000, 1000, "app \"h\" {\n  cmd = <<-EOT\n}\n"+strings.Repeat("app \"fake\" {\n  x = 1\n}\n", 400)+"  EOT\n}\n"))},
		"flat no final newline": {"a.hcl": vars, "b.hcl": strings.TrimSuffix(string(largeFile(2000, -1, "")), "\n")},
	}
	// Those whose deferred blocks do not parse in chunks: loaded again.
	again := map[string]bool{"groups heredoc": true, "groups duplicate attr": true, "groups syntax error": true, "groups and a bad file": true,
		"flat small files error": true, "flat indented variable": true, "flat heredoc": true}
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			var srcs []source
			for _, n := range slices.Sorted(maps.Keys(files)) {
				srcs = append(srcs, source{name: n, src: []byte(files[n])})
			}
			// Deferring must apply to the large group files and to apps.
			if strings.HasPrefix(name, "groups") || strings.HasPrefix(name, "flat") {
				l := newLoader(Options{}, nil)
				if _, late := parseAll(srcs, l.budget, true); late.empty() {
					t.Fatal("nothing deferred")
				}
			}
			if _, _, ok := loadOnce(srcs, Options{}, nil, true); ok == again[name] {
				t.Fatalf("loaded again: %v, want %v", !ok, again[name])
			}
			want, wantDiags, ok := loadOnce(srcs, Options{}, nil, false)
			if !ok {
				t.Fatal("loading up front failed")
			}
			got, gotDiags := load(srcs, Options{}, nil)
			if !reflect.DeepEqual(gotDiags, wantDiags) {
				t.Fatalf("diagnostics differ:\ndeferred: %v\nup front: %v", DiagnosticLines(gotDiags), DiagnosticLines(wantDiags))
			}
			if (got.Spec == nil) != (want.Spec == nil) || got.Spec != nil && !reflect.DeepEqual(got.Spec, want.Spec) {
				t.Fatal("specs differ")
			}
			for n, f := range want.Files {
				if !reflect.DeepEqual(bodyOfFile(got.Files[n]), bodyOfFile(f)) {
					t.Fatalf("kept syntax of %s differs", n)
				}
			}
		})
	}
}

// smallFiles is n files of k apps each (and the variables in the first),
// with extra text in the middle of the file n/2.
func smallFiles(n, k int, extra string) map[string]string {
	files := map[string]string{}
	for i := 0; i < n; i++ {
		var b strings.Builder
		if i == 0 {
			b.WriteString("variable \"region\" {\n  default = \"eu\"\n}\n")
		}
		for j := 0; j < k; j++ {
			if i == n/2 && j == k/2 {
				b.WriteString(extra)
			}
			fmt.Fprintf(&b, "app \"a%d-%d\" {\n  cmd = \"x\"\n  env = { REGION = var.region }\n}\n", i, j)
		}
		files[fmt.Sprintf("f%03d.hcl", i)] = b.String()
	}
	return files
}

func bodyOfFile(f *hcl2.File) *hclsyntax.Body {
	if f == nil {
		return nil
	}
	b, _ := f.Body.(*hclsyntax.Body)
	return b
}
