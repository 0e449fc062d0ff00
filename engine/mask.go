package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaskJSON returns doc, the JSON of app a (any encoding of it whose field
// names are Marathon's), with every value at or under one of a's Sensitive
// paths replaced by the string SensitiveValue, keeping the order of keys.
// Events that carry an app definition use it; the API's reads do not
// (Marathon's clients need the real values). Env secret references are kept:
// they name a secret, they do not hold it.
func MaskJSON(a *App, doc []byte) ([]byte, error) {
	out, err := MaskJSONAt(doc, a.Sensitive)
	if err != nil {
		return nil, fmt.Errorf("mask %s: %w", a.ID, err)
	}
	return out, nil
}

// MaskJSONAt returns doc, an app's JSON as this package encodes it, with every
// value at or under one of the field paths replaced by the string
// SensitiveValue, keeping the order of keys (doc itself when paths is empty).
func MaskJSONAt(doc []byte, paths []string) ([]byte, error) {
	if len(paths) == 0 {
		return doc, nil
	}
	if !json.Valid(doc) {
		return nil, errors.New("not valid JSON")
	}
	m := masker{paths: paths}
	return m.value(make([]byte, 0, len(doc)), doc, skipWS(doc, 0), ""), nil
}

// masker copies a JSON document byte by byte, masking the values at or under
// its paths; what holds no sensitive path is copied whole.
type masker struct {
	paths []string
	// stringsOnly masks strings only, keeping the document's types.
	stringsOnly bool
}

var maskedString = []byte(`"` + SensitiveValue + `"`)

// under reports whether field path p lies at or under one of the paths.
func (m *masker) under(p string) bool {
	for _, sp := range m.paths {
		if FieldPathWithin(p, sp) {
			return true
		}
	}
	return false
}

// holds reports whether one of the paths lies under p.
func (m *masker) holds(p string) bool {
	if p == "" {
		return true
	}
	for _, sp := range m.paths {
		if FieldPathWithin(sp, p) {
			return true
		}
	}
	return false
}

// value appends the (valid) JSON value at src[i:], at field path p, and
// returns dst.
func (m *masker) value(dst, src []byte, i int, p string) []byte {
	dst, _ = m.walk(dst, src, i, p, false)
	return dst
}

// walk appends the value at src[i:] and returns the position after it; under
// says an enclosing value is sensitive.
func (m *masker) walk(dst, src []byte, i int, p string, under bool) ([]byte, int) {
	if i >= len(src) {
		return dst, i
	}
	end := skipJSONValue(src, i)
	under = under || p != "" && m.under(p)
	c := src[i]
	switch {
	case under && c == '"', under && !m.stringsOnly:
		return append(dst, maskedString...), end
	case !under && !m.holds(p), c != '{' && c != '[':
		return append(dst, src[i:end]...), end
	case c == '{':
		dst = append(dst, '{')
		i = skipWS(src, i+1)
		for first := true; i < len(src) && src[i] != '}'; first = false {
			ks := i
			i = skipString(src, i)
			key := string(src[ks+1 : i-1])
			if strings.IndexByte(key, '\\') >= 0 {
				_ = json.Unmarshal(src[ks:i], &key)
			}
			if !first {
				dst = append(dst, ',')
			}
			dst = append(dst, src[ks:i]...)
			dst = append(dst, ':')
			i = skipWS(src, skipWS(src, i)+1) // ':'
			dst, i = m.walk(dst, src, i, FieldPathKey(p, key), under)
			i = skipWS(src, i)
			if i < len(src) && src[i] == ',' {
				i = skipWS(src, i+1)
			}
		}
		return append(dst, '}'), end
	default: // '['
		dst = append(dst, '[')
		i = skipWS(src, i+1)
		for n := 0; i < len(src) && src[i] != ']'; n++ {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst, i = m.walk(dst, src, i, FieldPathIndex(p, n), under)
			i = skipWS(src, i)
			if i < len(src) && src[i] == ',' {
				i = skipWS(src, i+1)
			}
		}
		return append(dst, ']'), end
	}
}

// Masked returns a copy of a whose string values at or under its Sensitive
// paths read SensitiveValue, for renderings that hold typed apps (a
// deployment's plan); a itself when nothing is sensitive. Numbers and booleans
// are kept (the type cannot hold the mask): MaskJSON masks them too.
func (a *App) Masked() *App {
	if a == nil || len(a.Sensitive) == 0 {
		return a
	}
	// Whatever goes wrong, what is returned shows nothing sensitive.
	bare := &App{ID: a.ID, Sensitive: a.Sensitive}
	doc, err := json.Marshal(a)
	if err != nil {
		return bare
	}
	m := masker{paths: a.Sensitive, stringsOnly: true}
	out := &App{}
	if err := out.UnmarshalJSON(m.value(make([]byte, 0, len(doc)), doc, skipWS(doc, 0), "")); err != nil {
		return bare
	}
	return out
}
