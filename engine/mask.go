package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// MaskJSON returns doc, the JSON of app a (any encoding of it whose field
// names are Marathon's), with every value at or under one of a's Sensitive
// paths replaced by the string SensitiveValue, keeping the order of keys.
// Events that carry an app definition use it; the API's reads do not
// (Marathon's clients need the real values). Env secret references are kept:
// they name a secret, they do not hold it.
func MaskJSON(a *App, doc []byte) ([]byte, error) {
	paths := a.Sensitive
	if len(paths) == 0 {
		return doc, nil
	}
	m := masker{paths: paths, dec: json.NewDecoder(bytes.NewReader(doc))}
	m.dec.UseNumber()
	if err := m.value(""); err != nil {
		return nil, fmt.Errorf("mask %s: %w", a.ID, err)
	}
	return m.out.Bytes(), nil
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
	m := masker{paths: a.Sensitive, stringsOnly: true, dec: json.NewDecoder(bytes.NewReader(doc))}
	m.dec.UseNumber()
	if err := m.value(""); err != nil {
		return bare
	}
	out := &App{}
	if err := out.UnmarshalJSON(m.out.Bytes()); err != nil {
		return bare
	}
	return out
}

type masker struct {
	paths []string
	// stringsOnly masks strings only, keeping the document's types.
	stringsOnly bool
	dec         *json.Decoder
	out         bytes.Buffer
}

// sensitive reports whether field path p lies at or under a sensitive path.
func (m *masker) sensitive(p string) bool {
	if p == "" {
		return false
	}
	for _, sp := range m.paths {
		if FieldPathWithin(p, sp) {
			return true
		}
	}
	return false
}

// value copies (or masks) the next value, at field path p.
func (m *masker) value(p string) error {
	tok, err := m.dec.Token()
	if err != nil {
		return err
	}
	if m.sensitive(p) && tok != nil {
		_, isString := tok.(string)
		_, isDelim := tok.(json.Delim)
		switch {
		case isString || !m.stringsOnly && !isDelim:
			m.out.WriteString(`"` + SensitiveValue + `"`)
			return nil
		case !m.stringsOnly:
			m.out.WriteString(`"` + SensitiveValue + `"`)
			return m.skip()
		}
		// stringsOnly: numbers and booleans as they are, objects and arrays
		// walked (their strings lie under p too).
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m.out.WriteByte('{')
			for i := 0; m.dec.More(); i++ {
				kt, err := m.dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if i > 0 {
					m.out.WriteByte(',')
				}
				m.scalar(k)
				m.out.WriteByte(':')
				if err := m.value(FieldPathKey(p, k)); err != nil {
					return err
				}
			}
			m.out.WriteByte('}')
		case '[':
			m.out.WriteByte('[')
			for i := 0; m.dec.More(); i++ {
				if i > 0 {
					m.out.WriteByte(',')
				}
				if err := m.value(FieldPathIndex(p, i)); err != nil {
					return err
				}
			}
			m.out.WriteByte(']')
		default:
			return fmt.Errorf("unexpected %v", t)
		}
		_, err := m.dec.Token() // the closing delimiter
		return err
	default:
		m.scalar(t)
		return nil
	}
}

// scalar writes one JSON scalar (string, json.Number, bool or nil).
func (m *masker) scalar(v any) {
	enc := json.NewEncoder(&m.out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // scalars always encode
	m.out.Truncate(m.out.Len() - 1)
}

// skip consumes the rest of the object or array just opened.
func (m *masker) skip() error {
	depth := 1
	for depth > 0 {
		tok, err := m.dec.Token()
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
		if t, ok := tok.(json.Delim); ok {
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}
