package engine

import (
	"strconv"
	"strings"
)

// Field paths name one field of Marathon's app JSON the way the plan shows it, in
// one spelling everywhere (the planner's field changes, the plan view's leaves,
// sensitive values, lifecycle.ignore_changes): dotted names, list indices in
// brackets, and map keys that are not plain names quoted in brackets:
//
//	cmd   env.LOG_LEVEL   healthChecks[0].path   labels["com.example/owner"]
//
// A plain key is made of letters, digits, '_' and '-'. JSON pointers
// ("/healthChecks/0/path", RFC 6901), which diagnostics and API errors use, convert
// both ways with PointerToFieldPath and FieldPathToPointer.

// FieldPathIndex returns prefix[i].
func FieldPathIndex(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

// FieldPathKey returns prefix.key, or prefix["key"] when key is not a plain name,
// so that paths stay unambiguous: labels.team, labels["com.example/owner"].
func FieldPathKey(prefix, key string) string {
	if plainKey(key) {
		if prefix == "" {
			return key
		}
		return prefix + "." + key
	}
	return prefix + "[" + strconv.Quote(key) + "]"
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// mapFields are the app JSON fields whose members are map keys, so that a
// numeric segment under them is a key, not an index.
var mapFields = map[string]bool{"env": true, "labels": true, "secrets": true}

// PointerToFieldPath converts a JSON pointer into an app ("/env/LOG",
// "/healthChecks/0/path", "/labels/com.example~1owner") to a field path
// ("env.LOG", "healthChecks[0].path", `labels["com.example/owner"]`). A numeric
// segment is a list index unless it follows a map field (env, labels, secrets).
func PointerToFieldPath(ptr string) string {
	if ptr == "" || ptr == "/" {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	out := ""
	prev := ""
	for _, s := range segs {
		s = unescapePointer(s)
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && strconv.Itoa(n) == s && !mapFields[prev] {
			out = FieldPathIndex(out, n)
		} else {
			out = FieldPathKey(out, s)
		}
		prev = s
	}
	return out
}

// FieldPathToPointer converts a field path back to a JSON pointer; ok is false
// when path is not well formed.
func FieldPathToPointer(path string) (ptr string, ok bool) {
	var b strings.Builder
	i := 0
	for i < len(path) {
		switch c := path[i]; {
		case c == '[':
			end := strings.IndexByte(path[i:], ']')
			if i+1 < len(path) && path[i+1] == '"' {
				// A quoted key: find the closing quote, honouring escapes.
				j := i + 2
				for j < len(path) && path[j] != '"' {
					if path[j] == '\\' {
						j++
					}
					j++
				}
				if j+1 >= len(path) || path[j+1] != ']' {
					return "", false
				}
				key, err := strconv.Unquote(path[i+1 : j+1])
				if err != nil {
					return "", false
				}
				b.WriteByte('/')
				b.WriteString(EscapePointer(key))
				i = j + 2
				continue
			}
			if end < 0 {
				return "", false
			}
			idx := path[i+1 : i+end]
			if n, err := strconv.Atoi(idx); err != nil || n < 0 {
				return "", false
			}
			b.WriteByte('/')
			b.WriteString(idx)
			i += end + 1
		case c == '.':
			if i == 0 {
				return "", false
			}
			i++
		default:
			j := i
			for j < len(path) && path[j] != '.' && path[j] != '[' {
				j++
			}
			b.WriteByte('/')
			b.WriteString(EscapePointer(path[i:j]))
			i = j
		}
	}
	if b.Len() == 0 {
		return "", false
	}
	return b.String(), true
}

// EscapePointer escapes one JSON pointer token (RFC 6901: ~ as ~0, / as ~1).
func EscapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func unescapePointer(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

// PointerWithin reports whether the JSON pointer p is at or below the pointer
// prefix ("/env/DB" is within "/env" and "/env/DB", not within "/env/D").
func PointerWithin(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix) && (prefix == "" || p[len(prefix)] == '/')
}

// FieldPathWithin reports whether field path p is at or below prefix: env.DB is
// within env and env.DB, healthChecks[0].path within healthChecks[0] and
// healthChecks; env.DBX is not within env.DB.
func FieldPathWithin(p, prefix string) bool {
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '.' || p[len(prefix)] == '['
}
