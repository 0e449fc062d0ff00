package engine

import (
	"fmt"
	"maps"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func lineRange(line int) hcl.Range {
	return hcl.Range{Filename: "main.hcl", Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 5}}
}

// TestRanges: Ranges finds every key of the map it was made from, and no
// other, with few keys (searched in order) and many (sorted); RangeFor falls
// back to the longest recorded prefix, then to the declaration.
func TestRanges(t *testing.T) {
	m := map[string]hcl.Range{}
	for i, k := range []string{"/cmd", "/env", "/env/A", "/healthChecks/0", "/healthChecks/0/path", "/healthChecks/10", "/instances", "/labels/x"} {
		m[k] = lineRange(i + 2)
	}
	many := maps.Clone(m)
	for i := range 3 * sortedRanges {
		many[fmt.Sprintf("/labels/k%03d", i)] = lineRange(100 + i)
	}
	for _, m := range []map[string]hcl.Range{m, many} {
		r := rangesOf(m)
		if len(r) != len(m) {
			t.Fatalf("%d ranges, want %d", len(r), len(m))
		}
		for k, want := range m {
			if got, ok := r.Get(k); !ok || got != want {
				t.Errorf("Get(%q) = %v, %v; want %v", k, got, ok, want)
			}
		}
		for _, k := range []string{"", "/", "/c", "/cmdx", "/env/B", "/healthChecks/1", "/labels/k", "/labels/k999", "/zzz"} {
			if got, ok := r.Get(k); ok {
				t.Errorf("Get(%q) = %v, want none", k, got)
			}
		}
	}
	r := rangesOf(m)
	if MakeRanges(nil) != nil || MakeRanges([]KeyRange{}) != nil {
		t.Error("empty Ranges not nil")
	}
	if _, ok := Ranges(nil).Get("/cmd"); ok {
		t.Error("nil Ranges found a key")
	}

	s := &Source{DeclRange: lineRange(1), Attrs: r}
	for path, line := range map[string]int{
		"/healthChecks/0/path":     6,
		"/healthChecks/0/protocol": 5, // the check's block
		"/healthChecks/1/path":     1, // not recorded: the declaration
		"/env/B":                   3, // the env attribute
		"/cmd":                     2,
		"/mem":                     1,
	} {
		if got := s.RangeFor(path).Start.Line; got != line {
			t.Errorf("RangeFor(%q) at line %d, want %d", path, got, line)
		}
	}
}

// rangesOf is the Ranges of a map (in the map's order).
func rangesOf(m map[string]hcl.Range) Ranges {
	var r []KeyRange
	for k, v := range m {
		r = append(r, KeyRange{Key: k, Range: v})
	}
	return MakeRanges(r)
}
