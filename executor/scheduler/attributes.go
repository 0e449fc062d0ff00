package scheduler

import (
	"math"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// AttributeValue renders a Mesos agent attribute as constraints compare it, the
// way Marathon formats them: TEXT as is; SCALAR rounded to Mesos' three decimals
// without trailing zeros ("2", "2.5"); RANGES sorted, "[1-2,5-9]"; SET sorted,
// "{a,b,c}".
func AttributeValue(a mesos.Attribute) string {
	switch a.Type {
	case mesos.TEXT:
		return a.Text.GetValue()
	case mesos.SCALAR:
		v := math.Round(a.Scalar.GetValue()*1000) / 1000
		return strconv.FormatFloat(v, 'f', -1, 64)
	case mesos.RANGES:
		rs := slices.Clone(a.Ranges.GetRange())
		slices.SortFunc(rs, func(x, y mesos.Value_Range) int { return cmpU64(x.Begin, y.Begin) })
		var b strings.Builder
		b.WriteByte('[')
		for i, r := range rs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatUint(r.Begin, 10))
			b.WriteByte('-')
			b.WriteString(strconv.FormatUint(r.End, 10))
		}
		b.WriteByte(']')
		return b.String()
	case mesos.SET:
		items := slices.Clone(a.Set.GetItem())
		slices.Sort(items)
		return "{" + strings.Join(items, ",") + "}"
	}
	return ""
}

// Attributes renders an agent's attributes by name (AttributeValue); when a name
// repeats, the first wins, as in Marathon. The executor fills Running.Attributes
// and Agent.Attributes with it.
func Attributes(attrs []mesos.Attribute) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, a := range attrs {
		if _, dup := m[a.Name]; !dup {
			m[a.Name] = AttributeValue(a)
		}
	}
	return m
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// kv is one rendered attribute.
type kv struct{ name, value string }

// appendAttrs renders attributes once per agent onto buf (first of a name
// wins); constraints look them up by a linear scan (agents carry a handful).
func appendAttrs(buf []kv, attrs []mesos.Attribute) []kv {
	start := len(buf)
next:
	for _, a := range attrs {
		for _, have := range buf[start:] {
			if have.name == a.Name {
				continue next
			}
		}
		buf = append(buf, kv{a.Name, AttributeValue(a)})
	}
	return buf
}

func attrMapList(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	slices.SortFunc(out, func(a, b kv) int { return strings.Compare(a.name, b.name) })
	return out
}

func findAttr(attrs []kv, name string) (string, bool) {
	for i := range attrs {
		if attrs[i].name == name {
			return attrs[i].value, true
		}
	}
	return "", false
}

// runningView lets a Running task answer field lookups.
type runningView struct{ r *Running }

func (v runningView) host() string { return v.r.Hostname }
func (v runningView) attr(name string) (string, bool) {
	s, ok := v.r.Attributes[name]
	return s, ok
}
