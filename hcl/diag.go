package hcl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// ANSI escapes used when WriteDiagnostics is asked for colour.
const (
	ansiRed       = "\x1b[31m"
	ansiYellow    = "\x1b[33m"
	ansiBold      = "\x1b[1m"
	ansiHighlight = "\x1b[1;4m"
	ansiReset     = "\x1b[0m"
)

// WriteDiagnostics renders every diagnostic, errors and warnings, Terraform-style:
//
//	Error: Invalid dependency
//
//	  on shop/main.hcl:12:18, in app "api":
//	  12:     depends_on = ["dbx"]
//
//	"dbx" (resolved to /shop/dbx) names no app or group declared in the files. Did you mean "db"?
//
// The source lines come from files (keyed by the diagnostic's file name); the
// subject is underlined when color is set. width > 0 word-wraps the detail text.
func WriteDiagnostics(w io.Writer, files map[string]*hcl2.File, diags hcl2.Diagnostics, width uint, color bool) error {
	bw := bufio.NewWriter(w)
	for _, d := range diags {
		if d == nil {
			continue
		}
		writeDiagnostic(bw, files, d, width, color)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing diagnostics: %w", err)
	}
	return nil
}

func writeDiagnostic(w *bufio.Writer, files map[string]*hcl2.File, d *hcl2.Diagnostic, width uint, color bool) {
	sev, code := "Error", ansiRed
	if d.Severity == hcl2.DiagWarning {
		sev, code = "Warning", ansiYellow
	}
	if color {
		fmt.Fprintf(w, "%s%s:%s %s%s%s\n\n", code, sev, ansiReset, ansiBold, d.Summary, ansiReset)
	} else {
		fmt.Fprintf(w, "%s: %s\n\n", sev, d.Summary)
	}

	if d.Subject != nil {
		writeSnippet(w, files, d, color)
	}

	if d.Detail != "" {
		detail := d.Detail
		if width > 0 {
			detail = wrap(detail, int(width))
		}
		fmt.Fprintf(w, "%s\n\n", detail)
	}
}

// writeSnippet writes the "on file:line:col, in app "x":" line and the source
// lines covering the subject (and context) range.
func writeSnippet(w *bufio.Writer, files map[string]*hcl2.File, d *hcl2.Diagnostic, color bool) {
	subj := *d.Subject
	file := files[subj.Filename]
	if file == nil || file.Bytes == nil {
		fmt.Fprintf(w, "  on %s:%d:%d:\n  (source code not available)\n\n", subj.Filename, subj.Start.Line, subj.Start.Column)
		return
	}
	where := ""
	if c := blockContext(file, subj.Start.Byte); c != "" {
		where = ", in " + c
	}
	fmt.Fprintf(w, "  on %s:%d:%d%s:\n", subj.Filename, subj.Start.Line, subj.Start.Column, where)

	snip, high := subj, subj
	if d.Context != nil && d.Context.Filename == subj.Filename {
		snip = hcl2.RangeOver(snip, *d.Context)
	}
	// An empty range cannot be shown; widen it to one character.
	if snip.Empty() {
		snip.End.Byte++
		snip.End.Column++
	}
	if high.Empty() {
		high.End.Byte++
		high.End.Column++
	}
	src := file.Bytes
	// Scan from the start of the snippet's first line, not of the file: a file
	// with many diagnostics would otherwise be scanned once for each.
	start := min(max(snip.Start.Byte, 0), len(src))
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	startPos := hcl2.Pos{Line: max(snip.Start.Line, 1), Column: 1, Byte: start}
	sc := hcl2.NewRangeScannerFragment(src, subj.Filename, startPos, bufio.ScanLines) // indexes src by startPos.Byte
	for sc.Scan() {
		line := sc.Range()
		if line.Start.Byte > snip.End.Byte {
			break
		}
		if !line.Overlaps(snip) {
			continue
		}
		before, hl, after := line.PartitionAround(high)
		b, h, a := shortenLine(before.SliceBytes(src), hl.SliceBytes(src), after.SliceBytes(src))
		if !color || hl.Empty() {
			fmt.Fprintf(w, "%4d: %s%s%s\n", line.Start.Line, b, h, a)
			continue
		}
		fmt.Fprintf(w, "%4d: %s%s%s%s%s\n", line.Start.Line, b, ansiHighlight, h, ansiReset, a)
	}
	w.WriteByte('\n')
}

// maxSnippetLine is the longest source line a snippet shows whole; a longer
// one (a generated file, a configuration that nests too deeply) is cut around
// the subject.
const maxSnippetLine = 500

// shortenLine cuts a line, given as the parts before, in and after the
// subject, to about maxSnippetLine bytes: the end of the part before, the start
// of the subject and of the part after, with "..." where bytes are left out.
func shortenLine(before, hl, after []byte) ([]byte, []byte, []byte) {
	if len(before)+len(hl)+len(after) <= maxSnippetLine {
		return before, hl, after
	}
	const ctx = maxSnippetLine / 4
	if len(before) > ctx {
		before = append([]byte("..."), before[runeStart(before, len(before)-ctx):]...)
	}
	if len(hl) > 2*ctx {
		hl = append(hl[:runeStart(hl, 2*ctx):runeStart(hl, 2*ctx)], "..."...)
		after = nil
	}
	if len(after) > ctx {
		after = append(after[:runeStart(after, ctx):runeStart(after, ctx)], "..."...)
	}
	return before, hl, after
}

// runeStart moves i back to the start of the UTF-8 sequence it falls in.
func runeStart(b []byte, i int) int {
	for i > 0 && i < len(b) && b[i]&0xC0 == 0x80 {
		i--
	}
	return i
}

// contextBlocks are the block types named in a snippet's "in ..." context.
var contextBlocks = map[string]bool{"app": true, "group": true, "variable": true, "locals": true, "stride": true}

// blockContext names the innermost app, group, variable, locals or stride block
// holding the byte offset, e.g. `app "api"`; "" when there is none.
func blockContext(file *hcl2.File, offset int) string {
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return ""
	}
	found := ""
	for body != nil {
		var next *hclsyntax.Body
		for _, b := range body.Blocks {
			if !b.Range().ContainsOffset(offset) {
				continue
			}
			if contextBlocks[b.Type] {
				var s strings.Builder
				s.WriteString(b.Type)
				for _, l := range b.Labels {
					fmt.Fprintf(&s, " %q", l)
				}
				found = s.String()
			}
			next = b.Body
			break
		}
		body = next
	}
	return found
}

// wrap breaks text into lines of at most width columns at spaces (longer words
// stay whole); existing line breaks are kept.
func wrap(text string, width int) string {
	var out strings.Builder
	for i, para := range strings.Split(text, "\n") {
		if i > 0 {
			out.WriteByte('\n')
		}
		col := 0
		for j, word := range strings.Fields(para) {
			switch {
			case j == 0:
			case col+1+len(word) > width:
				out.WriteByte('\n')
				col = 0
			default:
				out.WriteByte(' ')
				col++
			}
			out.WriteString(word)
			col += len(word)
		}
	}
	return out.String()
}

// DiagnosticLines renders one compact line per diagnostic,
// "file:line:col: Summary: Detail" (or "Summary: Detail" without a source range),
// sorted by file, line and column (ties keep their order). Newlines in the detail
// become spaces. Golden tests compare these lines.
func DiagnosticLines(diags hcl2.Diagnostics) []string {
	type entry struct {
		file      string
		line, col int
		text      string
	}
	entries := make([]entry, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		var b bytes.Buffer
		var e entry
		if d.Subject != nil {
			e.file, e.line, e.col = d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column
			fmt.Fprintf(&b, "%s:%d:%d: ", e.file, e.line, e.col)
		}
		b.WriteString(d.Summary)
		if d.Detail != "" {
			b.WriteString(": ")
			b.WriteString(strings.Join(strings.Fields(d.Detail), " "))
		}
		e.text = b.String()
		entries = append(entries, e)
	}
	sort.SliceStable(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.file != b.file {
			return a.file < b.file
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.col < b.col
	})
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = e.text
	}
	return lines
}
