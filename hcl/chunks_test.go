package hcl

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// largeFile is a file of n apps at the top level and in groups, ~300 bytes
// each, with extra text (a heredoc, a comment, a top-level attribute, an
// error) put before app k.
func largeFile(n, k int, extra string) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i == k {
			b.WriteString(extra)
		}
		if i%50 == 0 {
			fmt.Fprintf(&b, "group \"g%d\" {\n  labels = { tier = \"backend\" }\n}\n\n", i)
		}
		fmt.Fprintf(&b, "app \"a%d\" {\n  cmd       = \"exec ./svc --port $PORT0\"\n  instances = %d\n  env       = { REGION = var.region, N = \"${%d + 1}\" }\n  port \"http\" {}\n  health_check {\n    path = \"/health\"\n  }\n}\n", i, 1+i%5, i)
	}
	return []byte(b.String())
}

// TestChunkedParseIsWholeParse: a large file parsed in chunks gives exactly
// the syntax tree and diagnostics of parsing it whole, including when a cut
// would fall inside a heredoc, a comment or an unclosed bracket (the file is
// then parsed whole), and when the file has errors.
func TestChunkedParseIsWholeParse(t *testing.T) {
	const n, k = 2000, 1000
	heredocApp := "app \\\"fake\\\" {"
	cases := map[string]struct {
		extra string
		cuts  bool // the file is parsed in more than one chunk
	}{
		"plain":          {extra: "", cuts: true},
		"heredoc":        {extra: "app \"h\" {\n  cmd = <<EOT\n}\n" + strings.Repeat("app \"fake\" {\n  x = 1\n}\n", 4000) + "EOT\n}\n", cuts: true},
		"comment":        {extra: "/*\n}\n" + strings.Repeat("app \"fake\" {\n}\n", 5000) + "*/\n", cuts: true},
		"string":         {extra: "app \"s\" {\n  cmd = \"${\"\n}\n" + strings.Repeat("app \"fake\" {\n}\n", 5000) + "\"}\"\n}\n", cuts: true},
		"attribute":      {extra: "x = 1\n", cuts: true},
		"duplicate attr": {extra: strings.Repeat("x = 1\n", 2) + strings.Repeat("app \"pad\" {\n}\n", 5000) + "x = 2\n", cuts: true},
		"syntax error":   {extra: "app \"bad\" {\n  cmd = = 1\n}\n", cuts: true},
		"unclosed":       {extra: "app \"open\" {\n  env = {\n", cuts: true},
		"bom":            {extra: "", cuts: true},
		"heredoc marker": {extra: "app \"q\" {\n  cmd = \"" + heredocApp + "\"\n}\n", cuts: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := largeFile(n, k, tc.extra)
			if name == "bom" {
				src = append([]byte("\ufeff"), src...)
			}
			if got := len(splitChunks(0, src)); (got > 1) != tc.cuts {
				t.Fatalf("%d chunks", got)
			}
			whole, wholeDiags := hclsyntax.ParseConfig(src, "main.hcl", hcl2.InitialPos)
			got := parseChunked([]source{{name: "main.hcl", src: src}})[0]
			if !reflect.DeepEqual(got.diags, wholeDiags) {
				t.Fatalf("diagnostics differ:\nchunked: %v\nwhole:   %v", got.diags, wholeDiags)
			}
			if !reflect.DeepEqual(got.file.Body, whole.Body) {
				t.Fatal("syntax trees differ")
			}
			if string(got.file.Bytes) != string(src) {
				t.Fatal("file bytes differ")
			}
			if c := blockContext(got.file, len(src)-3); c != fmt.Sprintf("app \"a%d\"", n-1) && wholeDiags == nil {
				t.Fatalf("context of the last app: %q", c)
			}
		})
	}
}

// TestSplitChunks: cuts fall at top-level items after a line holding only "}",
// every chunk but the last is at least chunkSize long, and the chunks start
// at their line and byte in the file.
func TestSplitChunks(t *testing.T) {
	src := largeFile(3000, -1, "")
	chunks := splitChunks(0, src)
	if len(chunks) < 2 {
		t.Fatalf("%d chunks of %d bytes", len(chunks), len(src))
	}
	var joined []byte
	for i, c := range chunks {
		if i < len(chunks)-1 && len(c.src) < chunkSize {
			t.Errorf("chunk %d: %d bytes", i, len(c.src))
		}
		if c.start.Byte != len(joined) || c.start.Line != 1+strings.Count(string(joined), "\n") || c.start.Column != 1 {
			t.Errorf("chunk %d starts at %+v after %d bytes", i, c.start, len(joined))
		}
		if i > 0 && !strings.HasSuffix(string(joined), "\n}\n") {
			t.Errorf("chunk %d cut after %q", i, joined[len(joined)-10:])
		}
		joined = append(joined, c.src...)
	}
	if string(joined) != string(src) {
		t.Fatal("chunks do not make up the file")
	}
	if got := splitChunks(0, src[:chunkSize]); len(got) != 1 {
		t.Fatalf("a small file is cut in %d", len(got))
	}
}
