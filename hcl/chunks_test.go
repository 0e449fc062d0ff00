package hcl

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// largeFile is a file of n apps, ~300 bytes each, at the top level, with a
// small group every 50 apps, and with extra text (a heredoc, a comment, a
// top-level attribute, an error) put before app k.
func largeFile(n, k int, extra string) []byte {
	return largeFileIndent(n, k, extra, "")
}

// largeFileIndent is largeFile with the apps indented by indent, for putting
// them in groups.
func largeFileIndent(n, k int, extra, indent string) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i == k {
			b.WriteString(extra)
		}
		if i%50 == 0 && indent == "" {
			fmt.Fprintf(&b, "group \"g%d\" {\n  labels = { tier = \"backend\" }\n}\n\n", i)
		}
		app := fmt.Sprintf("app \"a%d\" {\n  cmd       = \"exec ./svc --port $PORT0\"\n  instances = %d\n  env       = { REGION = var.region, N = \"${%d + 1}\" }\n  port \"http\" {}\n  health_check {\n    path = \"/health\"\n  }\n}\n", i, 1+i%5, i)
		if indent != "" {
			app = indent + strings.ReplaceAll(strings.TrimSuffix(app, "\n"), "\n", "\n"+indent) + "\n"
		}
		b.WriteString(app)
	}
	return []byte(b.String())
}

// groupedFile is a file of groups of many apps each (see largeFileIndent),
// with extra text inside the second group (indented) and after it.
func groupedFile(groups, apps int, inner, after string) []byte {
	var b strings.Builder
	b.WriteString("# groups\n\n")
	for g := 0; g < groups; g++ {
		fmt.Fprintf(&b, "group \"g%d\" {\n  labels = { tier = \"backend\" }\n\n", g)
		x := ""
		if g == 1 {
			x = inner
		}
		b.Write(largeFileIndent(apps, apps/2, x, "  "))
		b.WriteString("}\n")
		if g == 1 {
			b.WriteString(after)
		}
		b.WriteString("\n")
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
	grouped := map[string]struct{ inner, after string }{
		"groups":                  {},
		"groups heredoc":          {inner: "  app \"h\" {\n    cmd = <<EOT\n  }\n" + strings.Repeat("  app \"fake\" {\n  }\n", 4000) + "EOT\n  }\n"},
		"groups duplicate attr":   {inner: "  labels = { x = \"y\" }\n"},
		"groups error":            {inner: "  app \"bad\" {\n    cmd = = 1\n  }\n"},
		"groups unclosed":         {inner: "  app \"open\" {\n"},
		"groups comment after":    {after: "/* a comment\n*/\n# another\n"},
		"groups attribute after":  {after: "x = 1\n"},
		"groups stray brace":      {after: "}\n"},
		"groups no final newline": {},
	}
	for name, g := range grouped {
		cases[name] = struct {
			extra string
			cuts  bool
		}{extra: g.inner + "\x00" + g.after, cuts: true}
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			src := largeFile(n, k, tc.extra)
			if inner, after, ok := strings.Cut(tc.extra, "\x00"); ok {
				src = groupedFile(4, 400, inner, after)
			}
			switch name {
			case "bom":
				src = append([]byte("\ufeff"), src...)
			case "groups no final newline":
				src = bytes.TrimRight(src, "\n")
			}
			if got := len(splitChunks(0, src)); (got > 1) != tc.cuts {
				t.Fatalf("%d chunks", got)
			}
			whole, wholeDiags := hclsyntax.ParseConfig(src, "main.hcl", hcl2.InitialPos)
			chunked, _ := parseDeferred([]source{{name: "main.hcl", src: src}}, false)
			got := chunked[0]
			if !reflect.DeepEqual(got.diags, wholeDiags) {
				t.Fatalf("diagnostics differ:\nchunked: %v\nwhole:   %v", got.diags, wholeDiags)
			}
			if !reflect.DeepEqual(got.file.Body, whole.Body) {
				t.Fatal("syntax trees differ")
			}
			if string(got.file.Bytes) != string(src) {
				t.Fatal("file bytes differ")
			}
			want := fmt.Sprintf("app \"a%d\"", n-1)
			if strings.HasPrefix(name, "groups") {
				want = `group "g3"`
			}
			off := len(src) - 3 // in the last app, or the last group's closing line
			if name == "groups no final newline" {
				off = len(src) - 1
			}
			if c := blockContext(got.file, off); c != want && wholeDiags == nil {
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
		if i < len(chunks)-1 && len(c.src) < chunkSize || c.split {
			t.Errorf("chunk %d: %d bytes (split %v)", i, len(c.src), c.split)
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
	g := groupedFile(3, 500, "", "")
	gc := splitChunks(0, g)
	var split int
	for _, c := range gc {
		if c.split {
			split++
			if len(c.inner) < 2 || string(c.header.src[len(c.header.src)-2:]) != "}\n" {
				t.Errorf("split chunk at %+v: %d inner parts, header %q", c.start, len(c.inner), c.header.src)
			}
		}
	}
	if split != 3 {
		t.Errorf("%d of %d chunks split, want the 3 groups", split, len(gc))
	}
	if got := splitChunks(0, src[:chunkFileSize-1]); len(got) != 1 {
		t.Fatalf("a small file is cut in %d", len(got))
	}
}
