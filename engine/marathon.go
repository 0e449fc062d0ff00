package engine

// The Marathon encoding: App as Marathon's /v2 resources carry it.
//
// Stride's App holds more than Marathon's: fields only Stride reads (the Consul
// service registration today; more tomorrow). The full encoding (MarshalJSON) is
// what the state store, the saved plans and Stride's own /stride/v1 endpoints
// use. Marathon's clients build objects from every field they get and some break
// on fields they do not know, so the /v2 endpoints use MarshalMarathonJSON, which
// keeps only the members listed in marathonAppSchema — Marathon's AppDefinition
// (RAML v2/types/app.raml and the types it uses). It is a whitelist applied to the
// full encoding, so Stride-only fields need no marking: a field added to App and
// to the full encoding stays out of /v2 by construction, at any depth. A field
// Marathon has is added to the schema below (and covered by
// TestMarathonEncodingKeepsEveryMarathonField); nothing else belongs there.

import (
	"fmt"
	"strings"
)

// marathonAppSchema lists the members of Marathon's app JSON. A bare name keeps
// the member's value whole (scalars, lists of scalars, maps such as env and
// labels); name{...} is an object whose members are filtered by the inner list;
// name[...] is an array of such objects.
const marathonAppSchema = `
	id cmd args user env secrets instances cpus mem disk gpus executor
	constraints acceptedResourceRoles role
	fetch[uri extract executable cache destPath]
	portDefinitions[port protocol name labels]
	requirePorts
	container{
		type
		docker{image network privileged forcePullImage parameters[key value] pullConfig
			portMappings[containerPort hostPort servicePort protocol name labels networkNames]}
		volumes[containerPath hostPath mode persistent external secret]
		portMappings[containerPort hostPort servicePort protocol name labels networkNames]}
	networks[mode name labels]
	healthChecks[protocol path portIndex portName port command{value} gracePeriodSeconds
		intervalSeconds timeoutSeconds maxConsecutiveFailures ignoreHttp1xx delaySeconds ipProtocol]
	readinessChecks[name protocol path portName intervalSeconds timeoutSeconds
		httpStatusCodesForReady preserveLastResponse]
	dependencies
	upgradeStrategy{minimumHealthCapacity maximumOverCapacity}
	backoffSeconds backoffFactor maxLaunchDelaySeconds taskKillGracePeriodSeconds killSelection
	unreachableStrategy{inactiveAfterSeconds expungeAfterSeconds}
	labels tty
	resourceLimits{cpus mem}
	version
	versionInfo{lastScalingAt lastConfigChangeAt}
`

// schemaNode is one level of a JSON whitelist. A nil node keeps a value whole;
// fields filters an object's members, elem the elements of an array.
type schemaNode struct {
	fields map[string]*schemaNode
	elem   *schemaNode
}

var marathonApp = mustParseSchema(marathonAppSchema)

// MarshalMarathonJSON encodes the app as Marathon's /v2 endpoints show it: the
// full encoding (MarshalJSON) without the members Marathon's AppDefinition does
// not have, such as "service".
func (a *App) MarshalMarathonJSON() ([]byte, error) {
	full, err := a.MarshalJSON()
	if err != nil {
		return nil, err
	}
	// In place: the filter only drops bytes, so it never writes ahead of where
	// it reads.
	return filterJSON(full[:0], full, marathonApp), nil
}

// IsMarathonAppField reports whether key is a top-level member of Marathon's app
// JSON. The members of Stride's full app encoding that are not are Stride's own.
func IsMarathonAppField(key string) bool {
	_, ok := marathonApp.fields[key]
	return ok
}

// MarathonOnly filters an app's full JSON encoding (one object) down to
// Marathon's members, as MarshalMarathonJSON does.
func MarathonOnly(full []byte) []byte {
	return filterJSON(make([]byte, 0, len(full)), full, marathonApp)
}

// filterJSON appends src (one JSON value, as this package encodes it) to dst,
// keeping only what node allows. dst may be src[:0]: what is written never
// overtakes what is read (len(dst) stays at or before the read position), and
// overlapping copies go forward (append copies like memmove).
func filterJSON(dst, src []byte, node *schemaNode) []byte {
	dst, _ = filterValue(dst, src, skipWS(src, 0), node)
	return dst
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// filterValue copies the value at src[i:] to dst through node and returns the
// position after it.
func filterValue(dst, src []byte, i int, node *schemaNode) ([]byte, int) {
	if i >= len(src) {
		return dst, i
	}
	switch {
	case node != nil && node.fields != nil && src[i] == '{':
		dst = append(dst, '{')
		i = skipWS(src, i+1)
		first := true
		for i < len(src) && src[i] != '}' {
			ks := i
			i = skipString(src, i)
			key := src[ks+1 : i-1]
			i = skipWS(src, i)
			i = skipWS(src, i+1) // ':'
			child, keep := node.fields[string(key)]
			if keep {
				if !first {
					dst = append(dst, ',')
				}
				first = false
				dst = append(dst, src[ks:ks+len(key)+2]...)
				dst = append(dst, ':')
				dst, i = filterValue(dst, src, i, child)
			} else {
				i = skipJSONValue(src, i)
			}
			i = skipWS(src, i)
			if i < len(src) && src[i] == ',' {
				i = skipWS(src, i+1)
			}
		}
		return append(dst, '}'), i + 1
	case node != nil && node.elem != nil && src[i] == '[':
		dst = append(dst, '[')
		i = skipWS(src, i+1)
		first := true
		for i < len(src) && src[i] != ']' {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst, i = filterValue(dst, src, i, node.elem)
			i = skipWS(src, i)
			if i < len(src) && src[i] == ',' {
				i = skipWS(src, i+1)
			}
		}
		return append(dst, ']'), i + 1
	}
	end := skipJSONValue(src, i)
	return append(dst, src[i:end]...), end
}

// skipString returns the position after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipJSONValue returns the position after the (valid) JSON value at b[i].
func skipJSONValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
	}
	return i
}

// mustParseSchema parses the whitelist notation of marathonAppSchema.
func mustParseSchema(s string) *schemaNode {
	p := schemaParser{s: s}
	n := p.object()
	p.ws()
	if p.i != len(p.s) {
		panic(fmt.Sprintf("engine: schema: unexpected %q at %d", p.s[p.i], p.i))
	}
	return n
}

type schemaParser struct {
	s string
	i int
}

func (p *schemaParser) ws() {
	for p.i < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) {
		p.i++
	}
}

// object parses names up to a closing '}' or ']' (not consumed) or the end.
func (p *schemaParser) object() *schemaNode {
	n := &schemaNode{fields: map[string]*schemaNode{}}
	for {
		p.ws()
		if p.i >= len(p.s) || p.s[p.i] == '}' || p.s[p.i] == ']' {
			return n
		}
		start := p.i
		for p.i < len(p.s) && !strings.ContainsRune(" \t\r\n{}[]", rune(p.s[p.i])) {
			p.i++
		}
		name := p.s[start:p.i]
		if name == "" {
			panic(fmt.Sprintf("engine: schema: empty name at %d", p.i))
		}
		if _, dup := n.fields[name]; dup {
			panic("engine: schema: duplicate name " + name)
		}
		var child *schemaNode
		if p.i < len(p.s) && (p.s[p.i] == '{' || p.s[p.i] == '[') {
			open := p.s[p.i]
			p.i++
			inner := p.object()
			want := byte('}')
			if open == '[' {
				want = ']'
			}
			if p.i >= len(p.s) || p.s[p.i] != want {
				panic("engine: schema: unclosed " + name)
			}
			p.i++
			child = inner
			if open == '[' {
				child = &schemaNode{elem: inner}
			}
		}
		n.fields[name] = child
	}
}
