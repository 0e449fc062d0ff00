package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stride-run/stride/engine"
)

// Strict bodies: a field Stride does not know in a body of its own API is an
// error with its JSON pointer, never silently dropped — a misspelt "forse": true
// must not become an apply without force. (Apps are strict on their own: their
// UnmarshalJSON rejects unknown fields with the path.)

// unknownFields returns the fields of raw that a value of type t does not have,
// at every depth, as 400 details ("/spec/bogus": "unknown field"). Types that
// decode themselves (json.Unmarshaler) are left to their decoder. raw is known to
// be valid JSON of the right shape (json.Unmarshal into t succeeded).
func unknownFields(raw []byte, t reflect.Type) []engine.FieldError {
	var out []engine.FieldError
	walkUnknown(raw, t, "", &out)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Messages of strict decoding.
const msgUnknownField = "unknown field (not part of this request)"

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func walkUnknown(raw []byte, t reflect.Type, path string, out *[]engine.FieldError) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] == 'n' { // null
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				// encoding/json matches names case-insensitively as a fallback.
				ft, ok = fields[strings.ToLower(k)]
			}
			p := path + "/" + pointerEscape(k)
			if !ok {
				*out = append(*out, engine.FieldError{Path: p, Errors: []string{msgUnknownField}})
				continue
			}
			walkUnknown(obj[k], ft, p, out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return
		}
		for i, it := range items {
			walkUnknown(it, t.Elem(), path+"/"+strconv.Itoa(i), out)
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return
		}
		for k, v := range obj {
			walkUnknown(v, t.Elem(), path+"/"+pointerEscape(k), out)
		}
	}
}

// jsonFields maps a struct's JSON names (and their lower-case forms) to the
// field types, following embedded structs as encoding/json does.
var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, dup := m[k]; !dup {
						m[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
		if _, dup := m[strings.ToLower(name)]; !dup {
			m[strings.ToLower(name)] = f.Type
		}
	}
	fieldCache.Store(t, m)
	return m
}

// pointerEscape escapes a key for a JSON pointer (RFC 6901).
func pointerEscape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
