package hcl

import (
	"bytes"
	"runtime"
	"sync"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A large file is parsed in chunks of whole top-level blocks, each on its own
// (in parallel with the other files' chunks), and the chunks' bodies merged:
// hcl's lexer keeps every token of what it parses at once (about 100 bytes
// each, in a slice grown by doubling), so a 400 kB file allocated ~50 MB of
// tokens, most of the allocations of a large configuration, and held them at
// the peak. A chunk is parsed at its position in the file (line, column and
// byte offset), so every range is what parsing the whole file gives.
//
// Chunks are cut only at the start of a line that begins a new top-level item
// (a letter in column 1) right after a line holding only "}". A cut that the
// lexer would not make (inside a heredoc, a multi-line string or comment, or
// an unclosed bracket) leaves the chunk before it unterminated, which hcl
// reports as an error: whenever any chunk of a file has a diagnostic, or the
// chunks declare the same attribute, the file is parsed again whole, so its
// diagnostics and syntax tree are exactly those of the whole file.

// chunkSize is the size from which a file is cut into chunks, and about the
// size of each.
const chunkSize = 64 << 10

// chunk is a piece of a file to parse at its position.
type chunk struct {
	file  int // index in the sources
	start hcl2.Pos
	src   []byte
}

// splitChunks cuts src into chunks of about chunkSize bytes at top-level block
// boundaries (see above); a small file, or one with no boundary, is one chunk.
func splitChunks(file int, src []byte) []chunk {
	if len(src) < 2*chunkSize {
		return []chunk{{file: file, start: hcl2.InitialPos, src: src}}
	}
	var out []chunk
	start := hcl2.InitialPos
	line := 1              // the line of offset i
	prevOnlyBrace := false // the last non-blank line before i is "}"
	for i := 0; i < len(src); {
		end := bytes.IndexByte(src[i:], '\n')
		if end < 0 {
			end = len(src)
		} else {
			end += i + 1
		}
		text := bytes.TrimRight(src[i:end], " \t\r\n")
		if i-start.Byte >= chunkSize && prevOnlyBrace && len(text) > 0 && isLetter(text[0]) {
			out = append(out, chunk{file: file, start: start, src: src[start.Byte:i]})
			start = hcl2.Pos{Line: line, Column: 1, Byte: i}
		}
		if len(text) > 0 {
			prevOnlyBrace = len(text) == 1 && text[0] == '}'
		}
		i = end
		line++
	}
	return append(out, chunk{file: file, start: start, src: src[start.Byte:]})
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseChunked parses every source, each in chunks, with up to GOMAXPROCS
// chunks at a time, and merges each file's chunks (or parses it again whole,
// see above). The files are not yet checked for nesting nor instrumented.
func parseChunked(srcs []source) []parsed {
	var chunks []chunk
	for i, s := range srcs {
		chunks = append(chunks, splitChunks(i, s.src)...)
	}
	results := make([]parsed, len(chunks))
	parallel(len(chunks), func(k int) {
		c := chunks[k]
		results[k].file, results[k].diags = hclsyntax.ParseConfig(c.src, srcs[c.file].name, c.start)
	})
	out := make([]parsed, len(srcs))
	for k := 0; k < len(chunks); {
		i := chunks[k].file
		n := 1
		for k+n < len(chunks) && chunks[k+n].file == i {
			n++
		}
		out[i] = mergeChunks(srcs[i], results[k:k+n])
		k += n
	}
	return out
}

// mergeChunks merges the parsed chunks of one file into the first one's body,
// or parses the file whole when a chunk has diagnostics or the chunks declare
// the same attribute.
func mergeChunks(s source, parts []parsed) parsed {
	if len(parts) == 1 {
		return parts[0]
	}
	whole := func() parsed {
		f, diags := hclsyntax.ParseConfig(s.src, s.name, hcl2.InitialPos)
		return parsed{file: f, diags: diags}
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
	return parsed{file: f}
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
