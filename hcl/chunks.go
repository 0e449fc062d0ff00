package hcl

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A large file is parsed in chunks of a few kilobytes, each on its own (in
// parallel with the other chunks), and the chunks' syntax trees merged: hcl's
// lexer collects every token of what it parses at once (96 bytes each) in a
// slice grown by append, a quarter at a time once large, so lexing a 400 kB
// file in one go copied and allocated about five times its 10 MB of tokens:
// a third of the time and half of the allocations of a large configuration.
// A chunk is parsed at its position in the file (line, column and byte
// offset), so every range is what parsing the whole file gives.
//
// Chunks are whole top-level items, cut at the start of a line that begins
// with a letter in column 1 right after a line holding only "}". A top-level
// block larger than a chunk (a group of many apps) is cut inside too, the
// same way one level of indentation in: it is parsed as its header line (with
// a closing brace added), its inner parts as bodies, and what follows its
// closing brace; and put together as the parser would have built it.
//
// A cut that the lexer would not make (inside a heredoc, a multi-line string
// or comment, or an unclosed bracket) leaves the part before it unterminated,
// which hcl reports as an error: whenever any part of a file has a diagnostic,
// or the parts declare the same attribute, the file is parsed again whole, so
// its diagnostics and syntax tree are exactly those of the whole file.

// chunkFileSize is the size from which a file is parsed in chunks, and
// chunkSize about the size of each chunk.
const (
	chunkFileSize = 128 << 10
	chunkSize     = 2 << 10
)

// part is a piece of a file to parse at its position.
type part struct {
	start hcl2.Pos
	src   []byte
}

// chunk is one or more whole top-level items of a file; when split (one block
// cut inside), header is its first line with "}\n" added, inner its body's
// parts, closeBrace the range of its closing brace and tail what follows that
// brace's line.
type chunk struct {
	file       int // index in the sources
	part           // the whole chunk
	split      bool
	header     part
	inner      []part
	closeBrace hcl2.Range
	tail       part
}

// lineInfo is one line of a file: where it starts, its number, its text
// without the line break and trailing blanks, and its indentation.
type lineInfo struct {
	off, num int
	text     []byte
	indent   int
}

// fileLines lists the lines of src from byte off, numbered from num.
func fileLines(src []byte, off, num int) []lineInfo {
	out := make([]lineInfo, 0, bytes.Count(src[off:], []byte{'\n'})+1)
	for off < len(src) {
		end := bytes.IndexByte(src[off:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += off + 1
		}
		text := bytes.TrimRight(src[off:end], " \t\r\n")
		indent := 0
		for indent < len(text) && (text[indent] == ' ' || text[indent] == '\t') {
			indent++
		}
		out = append(out, lineInfo{off: off, num: num, text: text, indent: indent})
		off = end
		num++
	}
	return out
}

// cuts returns the indexes of the lines of ls that start an item indented by
// indent after a line holding only "}" at the same indentation (see above).
func cuts(ls []lineInfo, indent int) []int {
	var out []int
	prevClose := false
	for i, l := range ls {
		if len(l.text) == 0 {
			continue
		}
		if prevClose && l.indent == indent && isLetter(l.text[indent]) {
			out = append(out, i)
		}
		prevClose = l.indent == indent && len(l.text) == indent+1 && l.text[indent] == '}'
	}
	return out
}

// splitChunks cuts src into chunks (see above); a small file, or one with no
// place to cut, is one chunk.
func splitChunks(file int, src []byte) []chunk {
	whole := []chunk{{file: file, part: part{start: hcl2.InitialPos, src: src}}}
	if len(src) < chunkFileSize {
		return whole
	}
	ls := fileLines(src, 0, 1)
	pos := func(i int) hcl2.Pos {
		if i == len(ls) {
			return hcl2.Pos{Line: len(ls) + 1, Column: 1, Byte: len(src)}
		}
		return hcl2.Pos{Line: ls[i].num, Column: 1, Byte: ls[i].off}
	}
	// Top-level items: lines [bounds[k], bounds[k+1]).
	bounds := append(append([]int{0}, cuts(ls, 0)...), len(ls))
	var out []chunk
	from := 0 // first line of the chunk being collected
	flush := func(to int) {
		if to > from {
			out = append(out, chunk{file: file, part: part{start: pos(from), src: src[pos(from).Byte:pos(to).Byte]}})
		}
		from = to
	}
	for k := 0; k+1 < len(bounds); k++ {
		lo, hi := bounds[k], bounds[k+1]
		if pos(hi).Byte-pos(lo).Byte > 2*chunkSize {
			if c, ok := splitBlock(file, src, ls[lo:hi], pos(hi)); ok {
				flush(lo)
				out = append(out, c)
				from = hi
				continue
			}
		}
		if pos(hi).Byte-pos(from).Byte >= chunkSize {
			flush(hi)
		}
	}
	flush(len(ls))
	if len(out) <= 1 {
		return whole
	}
	return out
}

// splitBlock cuts one top-level block, lines ls ending before end, inside (see
// above), if it is laid out as "TYPE LABELS {" (after blank lines or line
// comments), items indented alike, and "}" in column 1.
func splitBlock(file int, src []byte, ls []lineInfo, end hcl2.Pos) (chunk, bool) {
	h := 0 // the header line, after blank lines and line comments
	for h < len(ls) && (len(ls[h].text) == 0 || ls[h].text[0] == '#' || bytes.HasPrefix(ls[h].text, []byte("//"))) {
		h++
	}
	if h == len(ls) {
		return chunk{}, false
	}
	head := ls[h].text
	if !isLetter(head[0]) || head[len(head)-1] != '{' {
		return chunk{}, false
	}
	closing := len(ls) - 1
	for closing > 0 && len(ls[closing].text) == 0 {
		closing--
	}
	// The closing brace's line must end with a line break: the tail's
	// position is then the start of the next line.
	if l := ls[closing]; string(l.text) != "}" || closing < h+2 || bytes.IndexByte(src[l.off:end.Byte], '\n') < 0 {
		return chunk{}, false
	}
	body := ls[h+1 : closing]
	indent := -1
	for _, l := range body {
		if len(l.text) > 0 {
			indent = l.indent
			break
		}
	}
	if indent <= 0 {
		return chunk{}, false
	}
	linePos := func(l lineInfo) hcl2.Pos { return hcl2.Pos{Line: l.num, Column: 1, Byte: l.off} }
	closePos := linePos(ls[closing])
	c := chunk{file: file, split: true}
	c.part = part{start: linePos(ls[0]), src: src[ls[0].off:end.Byte]}
	c.header = part{start: c.start, src: append(append([]byte(nil), src[ls[0].off:ls[h+1].off]...), "}\n"...)}
	innerCuts := append(append([]int{0}, cuts(body, indent)...), len(body))
	from := 0
	at := func(i int) hcl2.Pos {
		if i == len(body) {
			return closePos
		}
		return linePos(body[i])
	}
	for k := 1; k < len(innerCuts); k++ {
		to := innerCuts[k]
		if at(to).Byte-at(from).Byte >= chunkSize || to == len(body) {
			c.inner = append(c.inner, part{start: at(from), src: src[at(from).Byte:at(to).Byte]})
			from = to
		}
	}
	c.closeBrace = hcl2.Range{Start: closePos, End: hcl2.Pos{Line: closePos.Line, Column: 2, Byte: closePos.Byte + 1}}
	tailStart := end
	if closing+1 < len(ls) {
		tailStart = linePos(ls[closing+1])
	}
	c.tail = part{start: tailStart, src: src[tailStart.Byte:end.Byte]}
	return c, true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// deferredBody is the body of a top-level group or app cut inside (a split
// chunk) whose inner parts are not parsed yet: it is parsed when it is
// decoded (see loader.decodeAll), so that the syntax trees of only a few
// blocks are alive at once rather than that of the whole configuration, which
// the garbage collector would otherwise scan over and over while it is
// decoded. Until then the body is empty but for its ranges.
type deferredBody struct {
	filename string
	parts    []part
	body     *hclsyntax.Body
	parsed   []parsed     // the parts', as they are parsed
	left     atomic.Int64 // parts not parsed yet
}

// parse parses part k; it says whether that was the last one.
func (d *deferredBody) parse(k int) (last bool) {
	p := d.parts[k]
	d.parsed[k].file, d.parsed[k].diags = hclsyntax.ParseConfig(p.src, d.filename, p.start)
	return d.left.Add(-1) == 0
}

// fill puts the parsed parts into the body, as assemble does; false when a
// part has diagnostics or the parts declare the same attribute: the file must
// then be parsed whole (and the configuration loaded again without deferring,
// see load).
func (d *deferredBody) fill() bool {
	for _, p := range d.parsed {
		if len(p.diags) > 0 {
			return false
		}
	}
	ok := fillInner(d.body, d.parsed)
	d.parsed = nil
	return ok
}

// deferredChunk is a chunk of whole top-level groups and apps (a small file,
// or a run of items of a large one) not parsed yet: it is parsed and decoded
// as one job (see loader.decodeAll), and its blocks then join the file's body.
// Until then the file's body has an empty body in its place, with its ranges.
type deferredChunk struct {
	filename string
	part
	file *hclsyntax.Body // the file's body
}

// parse parses the chunk; ok when it holds only group and app blocks with a
// name each and nothing else, as the decision to defer it expected (else the
// configuration is loaded again without deferring, see load).
func (d *deferredChunk) parse() (body *hclsyntax.Body, ok bool) {
	f, diags := hclsyntax.ParseConfig(d.src, d.filename, d.start)
	body = f.Body.(*hclsyntax.Body)
	if len(diags) > 0 || len(body.Attributes) > 0 {
		return nil, false
	}
	for _, b := range body.Blocks {
		if b.Type != "app" && b.Type != "group" || len(b.Labels) != 1 {
			return nil, false
		}
	}
	return body, true
}

// joinChunks adds the decoded blocks of deferred chunks (blocks[i] of
// chunks[i]) to their files' bodies, in source order.
func joinChunks(chunks []*deferredChunk, blocks []hclsyntax.Blocks) {
	touched := map[*hclsyntax.Body]bool{}
	for i, c := range chunks {
		c.file.Blocks = append(c.file.Blocks, blocks[i]...)
		touched[c.file] = true
	}
	for body := range touched {
		slices.SortStableFunc(body.Blocks, func(a, b *hclsyntax.Block) int {
			return a.TypeRange.Start.Byte - b.TypeRange.Start.Byte
		})
	}
}

// end is where a chunk that ends with a line break ends.
func (p part) end() hcl2.Pos {
	return hcl2.Pos{Line: p.start.Line + bytes.Count(p.src, []byte{'\n'}), Column: 1, Byte: p.start.Byte + len(p.src)}
}

// chunkDeferrable says whether a chunk of whole items may be parsed late: it
// starts with a group or app and, as far as its lines tell, holds nothing but
// groups and apps (parse checks what they cannot tell), and it ends with a
// line break (its placeholder's ranges are then known without parsing it).
func chunkDeferrable(c chunk) bool {
	src := c.src
	if c.split || len(src) == 0 || src[len(src)-1] != '\n' || !startsAppOrGroup(src) {
		return false
	}
	for off := 0; off < len(src); {
		if isLetter(src[off]) && !startsAppOrGroup(src[off:]) {
			return false
		}
		i := bytes.IndexByte(src[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	return true
}

func startsAppOrGroup(b []byte) bool {
	return bytes.HasPrefix(b, []byte("app ")) || bytes.HasPrefix(b, []byte("group "))
}

// placeholder is the parse of a deferred chunk with nothing in it: an empty
// body with the chunk's ranges.
func placeholder(c chunk, filename string) parsed {
	f, _ := hclsyntax.ParseConfig(nil, filename, c.start)
	body := f.Body.(*hclsyntax.Body)
	end := c.end()
	body.SrcRange.End = end
	body.EndRange = hcl2.Range{Filename: filename, Start: end, End: end}
	return parsed{file: f}
}

// pending is what parseDeferred left to parse.
type pending struct {
	bodies map[*hclsyntax.Body]*deferredBody
	chunks []*deferredChunk // in file and source order
}

func (p *pending) empty() bool { return len(p.bodies) == 0 && len(p.chunks) == 0 }

// deferrable says whether a split chunk's block may have its inner parts
// parsed late: only groups and apps, which nothing is evaluated from before
// they are decoded (variables, locals and the stride block are read first).
func deferrable(c chunk) bool {
	h := bytes.TrimLeft(c.header.src, " \t")
	for len(h) > 0 && (h[0] == '#' || bytes.HasPrefix(h, []byte("//")) || h[0] == '\n' || h[0] == '\r') {
		// Skip the blank lines and line comments before the header line.
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			return false
		}
		h = bytes.TrimLeft(h[i+1:], " \t")
	}
	return startsAppOrGroup(h)
}

// parseDeferred parses every source, each in chunks, with up to GOMAXPROCS
// parts at a time, and merges each file's chunks (or parses it again whole,
// see above). The files are not yet checked for nesting nor instrumented.
// With deferring, chunks of whole groups and apps, and the inner parts of
// split groups and apps, are not parsed but returned for the decoder to parse
// (see deferredChunk and deferredBody).
func parseDeferred(srcs []source, deferring bool) ([]parsed, *pending) {
	perFile := make([][]chunk, len(srcs))
	parallel(len(srcs), func(i int) { perFile[i] = splitChunks(i, srcs[i].src) })
	var chunks []chunk
	for _, cs := range perFile {
		chunks = append(chunks, cs...)
	}
	// One job per part; a split chunk's parts follow one another: header,
	// inner parts, tail.
	type job struct {
		file int
		part
	}
	var jobs []job
	deferred := make([]bool, len(chunks))
	for i, c := range chunks {
		if !c.split {
			if deferred[i] = deferring && chunkDeferrable(c); !deferred[i] {
				jobs = append(jobs, job{c.file, c.part})
			}
			continue
		}
		jobs = append(jobs, job{c.file, c.header})
		if deferred[i] = deferring && deferrable(c); !deferred[i] {
			for _, p := range c.inner {
				jobs = append(jobs, job{c.file, p})
			}
		}
		jobs = append(jobs, job{c.file, c.tail})
	}
	results := make([]parsed, len(jobs))
	parallel(len(jobs), func(k int) {
		j := jobs[k]
		results[k].file, results[k].diags = hclsyntax.ParseConfig(j.src, srcs[j.file].name, j.start)
	})
	// Put split chunks together, then each file's chunks.
	perChunk := make([]parsed, len(chunks))
	lateBodies := make([]*deferredBody, len(chunks))
	k := 0
	for i, c := range chunks {
		if !c.split && deferred[i] {
			perChunk[i] = placeholder(c, srcs[c.file].name)
			continue
		}
		n := 1
		switch {
		case deferred[i]:
			n = 2
		case c.split:
			n = len(c.inner) + 2
		}
		perChunk[i] = assemble(c, srcs[c.file].name, results[k:k+n], deferred[i])
		if deferred[i] && len(perChunk[i].diags) == 0 {
			blk := perChunk[i].file.Body.(*hclsyntax.Body).Blocks[0]
			lateBodies[i] = &deferredBody{filename: srcs[c.file].name, parts: c.inner, body: blk.Body, parsed: make([]parsed, len(c.inner))}
			lateBodies[i].left.Store(int64(len(c.inner)))
		}
		k += n
	}
	out := make([]parsed, len(srcs))
	late := &pending{bodies: map[*hclsyntax.Body]*deferredBody{}}
	for k := 0; k < len(chunks); {
		i := chunks[k].file
		n := 1
		for k+n < len(chunks) && chunks[k+n].file == i {
			n++
		}
		var merged bool
		out[i], merged = mergeChunks(srcs[i], perChunk[k:k+n])
		if merged {
			for j := k; j < k+n; j++ {
				switch {
				case lateBodies[j] != nil:
					late.bodies[lateBodies[j].body] = lateBodies[j]
				case deferred[j] && !chunks[j].split:
					late.chunks = append(late.chunks, &deferredChunk{filename: srcs[i].name, part: chunks[j].part, file: out[i].file.Body.(*hclsyntax.Body)})
				}
			}
		}
		k += n
	}
	return out, late
}

// assemble builds the syntax tree of a split chunk from its parts' (header,
// inner parts, tail): the block as the parser builds it, in the header's file.
// A part's diagnostics are passed on (the file is then parsed whole). A
// deferred chunk has only its header and tail: its block's body is left empty
// but for its ranges, for deferredBody.fill.
func assemble(c chunk, filename string, parts []parsed, deferred bool) parsed {
	if !c.split {
		return parts[0]
	}
	var diags hcl2.Diagnostics
	for _, p := range parts {
		diags = append(diags, p.diags...)
	}
	header := parts[0].file.Body.(*hclsyntax.Body)
	tail := parts[len(parts)-1].file.Body.(*hclsyntax.Body)
	if len(diags) > 0 || len(header.Blocks) != 1 || len(header.Attributes) != 0 || len(tail.Blocks) != 0 || len(tail.Attributes) != 0 {
		if len(diags) == 0 {
			diags = hcl2.Diagnostics{{Severity: hcl2.DiagError, Summary: "chunk"}} // not a block: parse whole
		}
		return parsed{file: parts[0].file, diags: diags}
	}
	closeBrace := c.closeBrace
	closeBrace.Filename = filename
	inner := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	if !deferred && !fillInner(inner, parts[1:len(parts)-1]) {
		return parsed{file: parts[0].file, diags: hcl2.Diagnostics{{Severity: hcl2.DiagError, Summary: "chunk"}}}
	}
	block := header.Blocks[0]
	inner.SrcRange = hcl2.RangeBetween(block.OpenBraceRange, closeBrace)
	inner.EndRange = hcl2.Range{Filename: filename, Start: closeBrace.End, End: closeBrace.End}
	block.Body = inner
	block.CloseBraceRange = closeBrace
	header.SrcRange = hcl2.RangeBetween(header.SrcRange, tail.SrcRange)
	header.EndRange = tail.EndRange
	return parsed{file: parts[0].file}
}

// fillInner puts the blocks and attributes of the parsed inner parts of a
// split block into its body, in order; false when two parts declare the same
// attribute.
func fillInner(inner *hclsyntax.Body, parts []parsed) bool {
	n := 0
	for _, p := range parts {
		n += len(p.file.Body.(*hclsyntax.Body).Blocks)
	}
	inner.Blocks = make(hclsyntax.Blocks, 0, n)
	for _, p := range parts {
		b := p.file.Body.(*hclsyntax.Body)
		inner.Blocks = append(inner.Blocks, b.Blocks...)
		for name, a := range b.Attributes {
			if _, dup := inner.Attributes[name]; dup {
				return false
			}
			inner.Attributes[name] = a
		}
	}
	return true
}

// mergeChunks merges the parsed chunks of one file into the first one's body,
// or parses the file whole when a chunk has diagnostics or the chunks declare
// the same attribute; merged says which.
func mergeChunks(s source, parts []parsed) (p parsed, merged bool) {
	if len(parts) == 1 && len(parts[0].diags) == 0 {
		parts[0].file.Bytes = s.src
		return parts[0], true
	}
	whole := func() (parsed, bool) {
		f, diags := hclsyntax.ParseConfig(s.src, s.name, hcl2.InitialPos)
		return parsed{file: f, diags: diags}, false
	}
	for _, p := range parts {
		if len(p.diags) > 0 {
			return whole()
		}
	}
	first := parts[0].file.Body.(*hclsyntax.Body)
	last := parts[len(parts)-1].file.Body.(*hclsyntax.Body)
	n := 0
	for _, p := range parts {
		n += len(p.file.Body.(*hclsyntax.Body).Blocks)
	}
	blocks := make(hclsyntax.Blocks, 0, n)
	for _, p := range parts {
		b := p.file.Body.(*hclsyntax.Body)
		blocks = append(blocks, b.Blocks...)
		if p.file == parts[0].file {
			continue
		}
		for name, a := range b.Attributes {
			if _, dup := first.Attributes[name]; dup {
				return whole()
			}
			first.Attributes[name] = a
		}
	}
	first.Blocks = blocks
	first.SrcRange = hcl2.RangeBetween(first.SrcRange, last.SrcRange)
	first.EndRange = last.EndRange
	f := parts[0].file // its Nav is first: the merged body
	f.Bytes = s.src
	return parsed{file: f}, true
}

// parallel calls do(0..n-1), up to GOMAXPROCS at a time.
func parallel(n int, do func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			do(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				do(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
