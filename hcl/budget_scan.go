package hcl

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// hcl's parser recurses once per level of nesting (and takes time growing with
// the square of it): 100,000 nested brackets overflow the stack, a fatal error
// no recover can catch. So a file's nesting is measured before it is parsed,
// by a scan that follows hcl's lexer (strings, heredocs, comments, template
// sequences) over the bytes. Where the scan is not sure to read the bytes as the
// lexer does (identifiers or other syntax outside ASCII, malformed heredocs),
// the file is lexed with hcl's own lexer and its tokens measured instead.
//
// The depth counted is that of unclosed brackets, braces, parentheses, strings,
// heredocs and template sequences, plus the unary operators and conditionals
// pending in the innermost of them, plus the open if and for directives of each
// template. It is within a small factor of the parser's recursion.

// nestingDiag measures the nesting of a configuration file (json: a JSON
// file) and returns the error to report if it is too deep, or nil.
func nestingDiag(src []byte, filename string, json bool) *hcl2.Diagnostic {
	var t depthTracker
	if json {
		t.scanJSON(src)
	} else if !t.scan(src) {
		t = depthTracker{}
		t.tokens(src, filename)
	}
	if t.overAt < 0 {
		return nil
	}
	rng := rangeAt(src, filename, t.overAt)
	return &hcl2.Diagnostic{
		Severity: hcl2.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("The configuration nests more than %d levels deep here (brackets, braces, blocks, strings, template sequences, unary operators and conditionals count); the limit is %d.",
			MaxNestingDepth, MaxNestingDepth),
		Subject: &rng,
	}
}

// rangeAt is the one-character range at byte offset off of src.
func rangeAt(src []byte, filename string, off int) hcl2.Range {
	off = min(max(off, 0), len(src))
	line := 1 + bytes.Count(src[:off], []byte("\n"))
	start := bytes.LastIndexByte(src[:off], '\n') + 1
	col := 1 + utf8.RuneCount(src[start:off])
	pos := hcl2.Pos{Line: line, Column: col, Byte: off}
	end := pos
	if off < len(src) {
		end = hcl2.Pos{Line: line, Column: col + 1, Byte: off + 1}
	}
	return hcl2.Range{Filename: filename, Start: pos, End: end}
}

// Frame kinds.
const (
	frameRoot     = 'r' // the file (a body)
	frameBrace    = '{' // an object or a block body
	frameForBrace = 'F' // a for expression in braces: newlines do not end it
	frameParen    = '('
	frameBrack    = '['
	frameInterp   = 'i' // a template sequence: ${ ... } or %{ ... }
	frameTemplate = 't' // a quoted string or a heredoc
)

type frame struct {
	kind byte
	// ops: unary operators and conditionals pending in this frame;
	// directives: open if and for directives of this template.
	ops, directives int
}

// depthTracker follows the nesting of a token stream, fed by either scanner.
type depthTracker struct {
	frames      []frame
	depth       int
	maxDepth    int
	overAt      int // byte offset where the depth first passed the limit; -1 if never
	prevOperand bool
	started     bool
}

func (t *depthTracker) init() {
	if !t.started {
		t.started = true
		t.frames = []frame{{kind: frameRoot}}
		t.overAt = -1
	}
}

func (t *depthTracker) top() *frame { return &t.frames[len(t.frames)-1] }

func (t *depthTracker) grow(n, at int) {
	t.depth += n
	t.maxDepth = max(t.maxDepth, t.depth)
	if t.depth > MaxNestingDepth && t.overAt < 0 {
		t.overAt = at
	}
}

func (t *depthTracker) open(kind byte, at int) {
	t.frames = append(t.frames, frame{kind: kind})
	t.grow(1, at)
	t.prevOperand = false
}

// close ends the innermost frame if it is of the kind closed; a closer that
// matches nothing changes nothing (the parser reports it).
func (t *depthTracker) close(kinds string) {
	if len(t.frames) > 1 && bytes.IndexByte([]byte(kinds), t.top().kind) >= 0 {
		f := t.frames[len(t.frames)-1]
		t.frames = t.frames[:len(t.frames)-1]
		t.depth -= 1 + f.ops + f.directives
	}
	t.prevOperand = true
}

// closeTo ends the innermost frame of the kind given; the frames left open
// inside it stay counted (a syntax error, and no telling how the parser
// recovers).
func (t *depthTracker) closeTo(kind byte) {
	for i := len(t.frames) - 1; i > 0; i-- {
		if t.frames[i].kind != kind {
			continue
		}
		f := t.frames[i]
		t.depth -= 1 + f.ops + f.directives
		t.frames = append(t.frames[:i], t.frames[i+1:]...)
		return
	}
}

func (t *depthTracker) op(at int) {
	t.top().ops++
	t.grow(1, at)
	t.prevOperand = false
}

// reset ends the expressions pending in the innermost frame.
func (t *depthTracker) reset() {
	f := t.top()
	t.depth -= f.ops
	f.ops = 0
}

func (t *depthTracker) comma() {
	t.reset()
	t.prevOperand = false
}

func (t *depthTracker) newline() {
	if k := t.top().kind; k == frameRoot || k == frameBrace {
		t.reset()
		t.prevOperand = false
	}
}

// directive counts an if or for directive (+1) or its end (-1) in the
// template holding the innermost sequence.
func (t *depthTracker) directive(delta, at int) {
	for i := len(t.frames) - 1; i >= 0; i-- {
		if t.frames[i].kind != frameTemplate {
			continue
		}
		f := &t.frames[i]
		if delta < 0 {
			if f.directives > 0 {
				f.directives--
				t.depth--
			}
			return
		}
		f.directives++
		t.grow(1, at)
		return
	}
}

// directiveDelta is what the word after %{ does: +1 for if and for, -1 for
// their ends, 0 otherwise; not an identifier counts as an opening (the parser
// rejects it, and opening is the cautious guess).
func directiveDelta(word string, isIdent bool) int {
	switch {
	case !isIdent:
		return 1
	case word == "if" || word == "for":
		return 1
	case word == "endif" || word == "endfor":
		return -1
	}
	return 0
}

// minus is a - or ! token: an operator on what precedes it when that is an
// operand, a unary operator otherwise.
func (t *depthTracker) minus(at int) {
	if t.prevOperand {
		t.prevOperand = false
		return
	}
	t.op(at)
}

// tokens measures src through hcl's lexer.
func (t *depthTracker) tokens(src []byte, filename string) {
	t.init()
	toks, _ := hclsyntax.LexConfig(src, filename, hcl2.InitialPos)
	next := func(i int) (hclsyntax.Token, bool) {
		for j := i + 1; j < len(toks); j++ {
			if toks[j].Type != hclsyntax.TokenNewline {
				return toks[j], true
			}
		}
		return hclsyntax.Token{}, false
	}
	for i, tok := range toks {
		at := tok.Range.Start.Byte
		switch tok.Type {
		case hclsyntax.TokenOBrace:
			kind := byte(frameBrace)
			if n, ok := next(i); ok && (n.Type == hclsyntax.TokenComment || (n.Type == hclsyntax.TokenIdent && string(n.Bytes) == "for")) {
				kind = frameForBrace
			}
			t.open(kind, at)
		case hclsyntax.TokenCBrace:
			t.close("{F")
		case hclsyntax.TokenOBrack:
			t.open(frameBrack, at)
		case hclsyntax.TokenCBrack:
			t.close("[")
		case hclsyntax.TokenOParen:
			t.open(frameParen, at)
		case hclsyntax.TokenCParen:
			t.close("(")
		case hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			t.open(frameTemplate, at)
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			t.closeTo(frameTemplate)
			t.prevOperand = true
		case hclsyntax.TokenTemplateInterp:
			t.open(frameInterp, at)
		case hclsyntax.TokenTemplateControl:
			t.open(frameInterp, at)
			n, ok := next(i)
			word, isIdent := "", ok && n.Type == hclsyntax.TokenIdent
			if isIdent {
				word = string(n.Bytes)
			}
			t.directive(directiveDelta(word, isIdent), at)
		case hclsyntax.TokenTemplateSeqEnd:
			t.closeTo(frameInterp)
			t.prevOperand = false
		case hclsyntax.TokenMinus, hclsyntax.TokenBang:
			t.minus(at)
		case hclsyntax.TokenQuestion:
			t.op(at)
		case hclsyntax.TokenComma:
			t.comma()
		case hclsyntax.TokenNewline:
			t.newline()
		case hclsyntax.TokenComment:
			// A line comment ends with its newline, which the parser sees.
			if b := tok.Bytes; len(b) > 0 && b[len(b)-1] == '\n' {
				t.newline()
			}
		case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit:
			t.prevOperand = true
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit, hclsyntax.TokenQuotedNewline, hclsyntax.TokenEOF:
		default:
			t.prevOperand = false
		}
	}
}

// Lexer modes of the byte scanner.
const (
	modeMain = iota
	modeString
	modeHeredoc
)

type scanMode struct {
	mode   int
	marker []byte // heredoc: the closing marker
	sol    bool   // heredoc: at the start of a line
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c == '-' || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scan measures src byte by byte, following hcl's lexer; false when it cannot
// be sure to (the caller lexes instead).
func (t *depthTracker) scan(src []byte) bool {
	t.init()
	if rest, ok := bytes.CutPrefix(src, []byte("\xef\xbb\xbf")); ok {
		ok := t.scan(rest)
		if t.overAt >= 0 {
			t.overAt += 3
		}
		return ok
	}
	modes := []scanMode{{mode: modeMain}}
	// A /* comment needs a */ after it; knowing where the last one is keeps the
	// scan linear.
	lastClose := bytes.LastIndex(src, []byte("*/"))
	hasClose := func(from int) bool { return lastClose >= from }
	braces := 0
	var retBraces []int
	// ident reads an identifier at i (ASCII only; ok false when a non-ASCII
	// byte could continue it).
	ident := func(i int) (string, int, bool) {
		j := i
		for j < len(src) && isIdentByte(src[j]) {
			j++
		}
		if j < len(src) && src[j] >= 0x80 {
			return "", j, false
		}
		return string(src[i:j]), j, true
	}
	// sequence enters a template sequence ${ or %{ at i (two bytes, then an
	// optional ~).
	sequence := func(i int, control bool) (int, bool) {
		t.open(frameInterp, i)
		braces++
		retBraces = append(retBraces, braces)
		if len(modes) > 0 && modes[len(modes)-1].mode == modeHeredoc {
			modes[len(modes)-1].sol = false
		}
		modes = append(modes, scanMode{mode: modeMain})
		j := i + 2
		if j < len(src) && src[j] == '~' {
			j++
		}
		if control {
			k := skipBlank(src, j)
			if k < len(src) && src[k] >= 0x80 {
				return j, false
			}
			word, isIdent := "", k < len(src) && isIdentStart(src[k])
			if isIdent {
				var ok bool
				word, _, ok = ident(k)
				if !ok {
					return j, false
				}
			}
			t.directive(directiveDelta(word, isIdent), i)
		}
		return j, true
	}
	for i := 0; i < len(src); {
		m := &modes[len(modes)-1]
		c := src[i]
		switch m.mode {
		case modeString:
			switch {
			case c == '"':
				modes = modes[:len(modes)-1]
				t.closeTo(frameTemplate)
				t.prevOperand = true
				i++
			case c == '\\':
				i++
				if i < len(src) && src[i] != '\n' && src[i] != '\r' && src[i] < 0x80 {
					i++
				}
			case (c == '$' || c == '%') && i+2 < len(src) && src[i+1] == c && src[i+2] == '{':
				i += 3 // $${ and %%{ are literal
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				var ok bool
				if i, ok = sequence(i, c == '%'); !ok {
					return false
				}
			default:
				i++
			}
		case modeHeredoc:
			if c == '$' || c == '%' {
				switch {
				case i+2 < len(src) && src[i+1] == c && src[i+2] == '{':
					i += 3
				case i+1 < len(src) && src[i+1] == '{':
					var ok bool
					if i, ok = sequence(i, c == '%'); !ok {
						return false
					}
				default:
					i++
				}
				m.sol = false
				continue
			}
			j := i
			for j < len(src) && src[j] != '$' && src[j] != '%' && src[j] != '\n' && src[j] != '\r' {
				j++
			}
			if !utf8.Valid(src[i:j]) {
				return false
			}
			if j >= len(src) || src[j] == '$' || src[j] == '%' {
				m.sol = false
				i = j
				continue
			}
			eol := j + 1
			if src[j] == '\r' {
				if j+1 >= len(src) || src[j+1] != '\n' {
					return false // a lone carriage return stops hcl's lexer
				}
				eol = j + 2
			}
			if m.sol && bytes.Equal(bytes.TrimSpace(src[i:j]), m.marker) {
				modes = modes[:len(modes)-1]
				t.closeTo(frameTemplate)
				t.prevOperand = true
				t.newline()
			}
			m.sol = true
			i = eol
		default: // main
			switch {
			case c == ' ' || c == '\t':
				i++
			case c == '\n':
				t.newline()
				i++
			case c == '\r' && i+1 < len(src) && src[i+1] == '\n':
				t.newline()
				i += 2
			case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
				j := bytes.IndexByte(src[i:], '\n')
				if j < 0 {
					i = len(src)
				} else {
					i += j + 1
					t.newline()
				}
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				if !hasClose(i + 2) {
					t.prevOperand = false
					i++
				} else {
					i += 2 + bytes.Index(src[i+2:], []byte("*/")) + 2
				}
			case c == '"':
				t.open(frameTemplate, i)
				modes = append(modes, scanMode{mode: modeString})
				i++
			case c == '<' && i+1 < len(src) && src[i+1] == '<':
				j := i + 2
				if j < len(src) && src[j] == '-' {
					j++
				}
				if j < len(src) && src[j] >= 0x80 {
					return false
				}
				if j < len(src) && isIdentStart(src[j]) {
					word, k, ok := ident(j)
					if !ok {
						return false
					}
					nl := k
					if nl < len(src) && src[nl] == '\r' {
						nl++
					}
					if nl < len(src) && src[nl] == '\n' {
						t.open(frameTemplate, i)
						modes = append(modes, scanMode{mode: modeHeredoc, marker: []byte(word), sol: true})
						i = nl + 1
						continue
					}
				}
				t.prevOperand = false
				i++
			case c == '{':
				kind := byte(frameBrace)
				k := skipBlank(src, i+1)
				if startsComment(src, k, hasClose) {
					kind = frameForBrace
				} else if k < len(src) && isIdentStart(src[k]) {
					if word, _, ok := ident(k); !ok {
						return false
					} else if word == "for" {
						kind = frameForBrace
					}
				}
				t.open(kind, i)
				braces++
				i++
			case c == '}' || (c == '~' && i+1 < len(src) && src[i+1] == '}'):
				if len(retBraces) > 0 && retBraces[len(retBraces)-1] == braces {
					retBraces = retBraces[:len(retBraces)-1]
					braces--
					modes = modes[:len(modes)-1]
					t.closeTo(frameInterp)
					t.prevOperand = false
				} else {
					braces--
					if c == '~' {
						t.closeTo(frameInterp)
						t.prevOperand = false
					} else {
						t.close("{F")
					}
				}
				if c == '~' {
					i += 2
				} else {
					i++
				}
			case c == '[':
				t.open(frameBrack, i)
				i++
			case c == ']':
				t.close("[")
				i++
			case c == '(':
				t.open(frameParen, i)
				i++
			case c == ')':
				t.close("(")
				i++
			case c == '-' || c == '!':
				if c == '!' && i+1 < len(src) && src[i+1] == '=' {
					t.prevOperand = false
					i += 2
					continue
				}
				t.minus(i)
				i++
			case c == '?':
				t.op(i)
				i++
			case c == ',':
				t.comma()
				i++
			case isDigit(c):
				i = numberEnd(src, i)
				t.prevOperand = true
			case isIdentStart(c):
				_, j, ok := ident(i)
				if !ok {
					return false
				}
				i = j
				t.prevOperand = true
			case c >= 0x80:
				return false
			default:
				t.prevOperand = false
				i++
			}
		}
	}
	return true
}

// skipBlank skips the spaces, tabs and newlines at src[i:] (what the lexer
// ignores or turns into newline tokens).
func skipBlank(src []byte, i int) int {
	for i < len(src) {
		switch {
		case src[i] == ' ' || src[i] == '\t' || src[i] == '\n':
			i++
		case src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n':
			i += 2
		default:
			return i
		}
	}
	return i
}

// startsComment says whether a comment starts at src[i:]; hasClose says
// whether a */ follows an offset.
func startsComment(src []byte, i int, hasClose func(int) bool) bool {
	switch {
	case i >= len(src):
		return false
	case src[i] == '#':
		return true
	case src[i] != '/' || i+1 >= len(src):
		return false
	case src[i+1] == '/':
		return true
	case src[i+1] == '*':
		return hasClose(i + 2)
	}
	return false
}

// numberEnd is the end of the number literal starting at i: digits, then
// digits, points and exponents (e, an optional sign, a digit), not ending in a
// point.
func numberEnd(src []byte, i int) int {
	end := i + 1
	j := i + 1
	for j < len(src) {
		c := src[j]
		switch {
		case isDigit(c):
			j++
			end = j
		case c == '.':
			j++
		case (c == 'e' || c == 'E') && j+1 < len(src) && isDigit(src[j+1]):
			j += 2
			end = j
		case (c == 'e' || c == 'E') && j+2 < len(src) && (src[j+1] == '+' || src[j+1] == '-') && isDigit(src[j+2]):
			j += 3
			end = j
		default:
			return end
		}
	}
	return end
}

// scanJSON measures a JSON file: brackets and braces outside strings.
func (t *depthTracker) scanJSON(src []byte) {
	t.init()
	inString, escaped := false, false
	for i, c := range src {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			t.open(c, i)
		case ']':
			t.close("[")
		case '}':
			t.close("{")
		}
	}
}
