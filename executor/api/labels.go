package api

import (
	"fmt"
	"slices"
	"strings"
)

// labelSelector is a parsed ?label= query of GET /v2/apps: every term must match.
type labelSelector []labelTerm

// labelTerm is one selector. An app matches only if it has the label Key (for
// every operator, "!=" and "notin" included, as in Marathon) and its value passes.
type labelTerm struct {
	Key    string
	Op     string // "exists", "==", "!=", "in", "notin"
	Values []string
}

// Matches reports whether labels satisfy every term.
func (sel labelSelector) Matches(labels map[string]string) bool {
	for _, t := range sel {
		v, ok := labels[t.Key]
		if !ok {
			return false
		}
		switch t.Op {
		case "==":
			if v != t.Values[0] {
				return false
			}
		case "!=":
			if v == t.Values[0] {
				return false
			}
		case "in":
			if !slices.Contains(t.Values, v) {
				return false
			}
		case "notin":
			if slices.Contains(t.Values, v) {
				return false
			}
		}
	}
	return true
}

// parseLabelSelector parses Marathon's label selector language
// (LabelSelectorParsers):
//
//	query    = [ selector { "," selector } ]
//	selector = term                      existence
//	         | term ("==" | "!=") term   equality
//	         | term ("in" | "notin") "(" [ term { "," term } ] ")"
//	term     = { A-Z a-z 0-9 "-" "_" "." | "\" any-character }
//
// Whitespace between tokens is ignored; any other character must be escaped with
// a backslash ("\!\!\! in (\-\-\-, \&\&\&)").
func parseLabelSelector(s string) (labelSelector, error) {
	p := &selParser{src: s}
	sel, err := p.query()
	if err != nil {
		return nil, fmt.Errorf("can not parse label selector %q: %w", s, err)
	}
	return sel, nil
}

type selParser struct {
	src string
	pos int
}

func (p *selParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *selParser) eof() bool {
	p.skipSpace()
	return p.pos >= len(p.src)
}

// lit consumes s if it comes next.
func (p *selParser) lit(s string) bool {
	p.skipSpace()
	if strings.HasPrefix(p.src[p.pos:], s) {
		p.pos += len(s)
		return true
	}
	return false
}

func termChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// term reads a term, unescaping "\x" to "x"; ok is false when none comes next.
func (p *selParser) term() (string, bool) {
	p.skipSpace()
	var b strings.Builder
	start := p.pos
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\' && p.pos+1 < len(p.src):
			b.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case termChar(c):
			b.WriteByte(c)
			p.pos++
		default:
			return b.String(), p.pos > start
		}
	}
	return b.String(), p.pos > start
}

func (p *selParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: "+format, append([]any{p.pos}, args...)...)
}

func (p *selParser) query() (labelSelector, error) {
	sel := labelSelector{}
	if p.eof() {
		return sel, nil
	}
	for {
		t, err := p.selector()
		if err != nil {
			return nil, err
		}
		sel = append(sel, t)
		if p.eof() {
			return sel, nil
		}
		if !p.lit(",") {
			return nil, p.errorf("expected \",\" or the end of the query")
		}
	}
}

func (p *selParser) selector() (labelTerm, error) {
	key, ok := p.term()
	if !ok {
		return labelTerm{}, p.errorf("expected a label name")
	}
	switch {
	case p.lit("=="), p.lit("!="):
		op := p.src[p.pos-2 : p.pos]
		v, ok := p.term()
		if !ok {
			return labelTerm{}, p.errorf("expected a value after %q", op)
		}
		return labelTerm{Key: key, Op: op, Values: []string{v}}, nil
	}
	// A set operator is a term "in" or "notin" followed by "(".
	save := p.pos
	if op, ok := p.term(); ok && (op == "in" || op == "notin") && p.lit("(") {
		var vals []string
		if p.lit(")") {
			return labelTerm{Key: key, Op: op, Values: vals}, nil
		}
		for {
			v, ok := p.term()
			if !ok {
				return labelTerm{}, p.errorf("expected a value in the set")
			}
			vals = append(vals, v)
			if p.lit(")") {
				return labelTerm{Key: key, Op: op, Values: vals}, nil
			}
			if !p.lit(",") {
				return labelTerm{}, p.errorf("expected \",\" or \")\" in the set")
			}
		}
	}
	p.pos = save
	return labelTerm{Key: key, Op: "exists"}, nil
}
