package planner

import (
	"fmt"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestDepRange(t *testing.T) {
	// Sorted ids: '-' and '.' sort before '/', so /a-c and /a.x lie between /a and
	// the apps under /a.
	ids := []string{"/a", "/a-c", "/a.x", "/a/b", "/a/b/c", "/a/z", "/a0", "/b/x", "/ba"}
	apps := make([]*engine.App, len(ids))
	for i, id := range ids {
		apps[i] = &engine.App{ID: id}
	}
	cases := map[string]struct {
		dep           string
		exact, lo, hi int32
	}{
		"app with apps under it": {"/a", 0, 3, 6},
		"app only":               {"/a-c", 1, 2, 2},
		"nested group":           {"/a/b", 3, 4, 5},
		"group only":             {"/b", -1, 7, 8},
		"root":                   {"/", -1, 0, 9},
		"prefix of an id only":   {"/b/", -1, 9, 9},
		"nothing":                {"/c", -1, 9, 9},
		"empty":                  {"", -1, 0, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			exact, lo, hi := depRange(apps, tc.dep)
			if lo == hi {
				lo, hi = tc.lo, tc.hi // an empty range may sit anywhere
			}
			if exact != tc.exact || lo != tc.lo || hi != tc.hi {
				t.Errorf("depRange(%q) = %d, [%d, %d); want %d, [%d, %d)", tc.dep, exact, lo, hi, tc.exact, tc.lo, tc.hi)
			}
		})
	}
	t.Run("large group uses the search", func(t *testing.T) {
		var big []*engine.App
		for i := 0; i < 100; i++ {
			big = append(big, &engine.App{ID: fmt.Sprintf("/g/a%03d", i)})
		}
		big = append(big, &engine.App{ID: "/g0"})
		if exact, lo, hi := depRange(big, "/g"); exact != -1 || lo != 0 || hi != 100 {
			t.Errorf("depRange = %d, [%d, %d)", exact, lo, hi)
		}
	})
}

// TestLongChain plans a chain of 20,000 creates: the iterative SCC search and the
// levels handle depth without recursion, one step per app.
func TestLongChain(t *testing.T) {
	const n = 20000
	apps := make([]*engine.App, n)
	for i := range apps {
		a := engine.NewApp(fmt.Sprintf("/c%05d", i))
		a.Cmd = "run"
		if i > 0 {
			a.Dependencies = []string{fmt.Sprintf("/c%05d", i-1)}
		}
		a.ApplyDefaults()
		apps[i] = a
	}
	p, diags := Plan(&engine.Spec{Scope: "/", Apps: apps}, &engine.State{}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Steps) != n || p.Changes[n-1].ID != "/c19999" || p.Changes[n-1].Step != n-1 {
		t.Errorf("%d steps, last change %s at step %d", len(p.Steps), p.Changes[n-1].ID, p.Changes[n-1].Step)
	}
	// Closing the chain makes one cycle naming all of its members.
	apps[0] = engine.NewApp("/c00000")
	apps[0].Cmd = "run"
	apps[0].Dependencies = []string{"/c19999"}
	diags = CheckGraph(&engine.Spec{Scope: "/", Apps: apps})
	if len(diags) != 1 || diags[0].Summary != summaryCycle {
		t.Fatalf("diags = %v", diags)
	}
}
