package planner

import (
	"fmt"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestIDIndex(t *testing.T) {
	saved := parallelIndexMin
	parallelIndexMin = 64
	defer func() { parallelIndexMin = saved }()
	apps := func(n int, ids ...string) []*engine.App {
		var out []*engine.App
		for i := range n {
			out = append(out, &engine.App{ID: fmt.Sprintf("/g%d/app%d", i%7, i)})
		}
		for _, id := range ids {
			out = append(out, &engine.App{ID: id})
		}
		return out
	}
	tests := []struct {
		name     string
		apps     []*engine.App
		dups     bool
		notFound []string
	}{
		{name: "empty", apps: nil, notFound: []string{"/a", ""}},
		{name: "one", apps: apps(0, "/a"), notFound: []string{"/b", "/a/b", ""}},
		{name: "small", apps: apps(100), notFound: []string{"/g0/app1", "/g1/app100"}},
		{name: "parallel", apps: apps(3 * parallelIndexMin), notFound: []string{"/g0/app1", "/nope"}},
		{name: "duplicate", apps: apps(10, "/g3/app3"), dups: true},
		{name: "duplicate in two ranges", apps: append(apps(0, "/first"), apps(3*parallelIndexMin, "/first")...), dups: true},
		{name: "duplicate in one range", apps: apps(3*parallelIndexMin, "/g1/app8"), dups: true},
	}
	for _, tt := range tests {
		for _, workers := range []int{1, 2, 8} {
			t.Run(fmt.Sprintf("%s/workers=%d", tt.name, workers), func(t *testing.T) {
				x := newIDIndex(tt.apps, workers, nil)
				if got := x.dups.Load(); got != tt.dups {
					t.Fatalf("dups = %v, want %v", got, tt.dups)
				}
				if tt.dups {
					m := x.useMap()
					for i, a := range tt.apps {
						if j, ok := x.find(a.ID); !ok || j != m[a.ID] {
							t.Errorf("find(%q) = %d, %v after useMap, want %d (app %d)", a.ID, j, ok, m[a.ID], i)
						}
					}
					return
				}
				for i, a := range tt.apps {
					if j, ok := x.find(a.ID); !ok || int(j) != i {
						t.Errorf("find(%q) = %d, %v, want %d", a.ID, j, ok, i)
					}
				}
				for _, id := range tt.notFound {
					if j, ok := x.find(id); ok {
						t.Errorf("find(%q) = %d, want not found", id, j)
					}
				}
			})
		}
	}
}

// BenchmarkIDIndex indexes 100,000 deployed ids and finds each once, the
// matching step of BenchmarkPlan.
func BenchmarkIDIndex(b *testing.B) {
	w := genWorld(100000, 1)
	b.ReportAllocs()
	for b.Loop() {
		x := newIDIndex(w.state.Apps, 2, nil)
		for _, a := range w.spec.Apps {
			x.find(a.ID)
		}
	}
}
