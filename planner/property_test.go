package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// randomCase is a random acyclic spec/state pair: apps live in groups /g0../g3;
// an app of /gi depends only on apps or groups /gj with j < i, or on apps of its
// own group with a lower number, so both the desired and the deployed graphs are
// acyclic and every dependency names something that exists.
type randomCase struct {
	spec  *engine.Spec
	state *engine.State
	scope string
}

func genRandomCase(r *rand.Rand) randomCase {
	const groups = 4
	type ref struct{ g, i int }
	universe := map[int][]int{} // group → app numbers
	for g := 0; g < groups; g++ {
		for i := 0; i < r.IntN(6); i++ {
			universe[g] = append(universe[g], i)
		}
	}
	id := func(g, i int) string { return fmt.Sprintf("/g%d/a%d", g, i) }
	scope := "/"
	if r.IntN(3) == 0 {
		scope = fmt.Sprintf("/g%d", r.IntN(groups))
	}
	deployed, desired := map[string]bool{}, map[string]bool{}
	for g := 0; g < groups; g++ {
		for _, i := range universe[g] {
			if r.IntN(4) != 0 {
				deployed[id(g, i)] = true
			}
			if r.IntN(4) != 0 && engine.InScope(id(g, i), scope) {
				desired[id(g, i)] = true
			}
		}
	}
	// randomDeps picks dependencies of app (g, i) among ids for which ok holds.
	randomDeps := func(g, i int, ok func(string) bool) []string {
		var out []string
		for k := 0; k < r.IntN(3); k++ {
			if r.IntN(3) == 0 && g > 0 {
				// a whole lower group, when it has an app
				gg := r.IntN(g)
				for _, j := range universe[gg] {
					if ok(id(gg, j)) {
						out = append(out, fmt.Sprintf("/g%d", gg))
						break
					}
				}
				continue
			}
			var cands []ref
			for gg := 0; gg <= g; gg++ {
				for _, j := range universe[gg] {
					if (gg < g || j < i) && ok(id(gg, j)) {
						cands = append(cands, ref{gg, j})
					}
				}
			}
			if len(cands) > 0 {
				c := cands[r.IntN(len(cands))]
				out = append(out, id(c.g, c.i))
			}
		}
		return out
	}
	mk := func(g, i int, depsOK func(string) bool) *engine.App {
		a := engine.NewApp(id(g, i))
		a.Cmd = "run"
		a.Instances = r.IntN(5)
		a.UpgradeStrategy = us(float64(r.IntN(3))/2, float64(r.IntN(3))/2)
		a.Dependencies = randomDeps(g, i, depsOK)
		return a
	}
	c := randomCase{scope: scope, spec: &engine.Spec{Scope: scope}, state: &engine.State{Serial: uint64(r.IntN(100))}}
	for g := 0; g < groups; g++ {
		for _, i := range universe[g] {
			if deployed[id(g, i)] {
				a := mk(g, i, func(s string) bool { return deployed[s] })
				a.ApplyDefaults()
				c.state.Apps = append(c.state.Apps, a)
			}
			if desired[id(g, i)] {
				a := mk(g, i, func(s string) bool { return desired[s] || deployed[s] })
				switch r.IntN(6) {
				case 0:
					a.Cmd = "run v2"
				case 1:
					a.Labels = map[string]string{"x": "y"}
				case 2:
					a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
				}
				a.ApplyDefaults()
				c.spec.Apps = append(c.spec.Apps, a)
			}
		}
	}
	r.Shuffle(len(c.state.Apps), func(i, j int) { c.state.Apps[i], c.state.Apps[j] = c.state.Apps[j], c.state.Apps[i] })
	return c
}

// reaches reports the apps (among apps) reachable from a along dependencies, a
// group dependency standing for every app under it.
func reaches(apps []*engine.App, from *engine.App) map[string]bool {
	byID := map[string]*engine.App{}
	for _, a := range apps {
		byID[a.ID] = a
	}
	seen := map[string]bool{}
	var visit func(a *engine.App)
	visit = func(a *engine.App) {
		for _, d := range a.Dependencies {
			for _, b := range apps {
				if engine.InScope(b.ID, d) && !seen[b.ID] {
					seen[b.ID] = true
					visit(byID[b.ID])
				}
			}
		}
	}
	visit(from)
	return seen
}

func planJSON(t *testing.T, p *engine.Plan) []byte {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatalf("marshal plan: %v", err)
	}
	return b
}

func TestPlanProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 11))
	for n := 0; n < 3000; n++ {
		c := genRandomCase(r)
		specBefore, _ := json.Marshal(c.spec)
		stateBefore, _ := json.Marshal(c.state)
		p, diags := Plan(c.spec, c.state, Options{})
		if diags.HasErrors() {
			t.Fatalf("case %d: %v", n, diags)
		}
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d (scope %s): %s\nspec %s\nstate %s", n, c.scope, fmt.Sprintf(format, args...), specBefore, stateBefore)
		}
		checkPlanShape(t, p)
		for _, ch := range p.Changes {
			checkRolling(t, ch.Action, ch.Rolling)
		}
		if t.Failed() {
			fail("shape or rolling")
		}

		// Every app at most once; only apps under the scope.
		step := map[string]int{}
		action := map[string]engine.Action{}
		for _, ch := range p.Changes {
			if _, dup := step[ch.ID]; dup {
				fail("%s appears twice", ch.ID)
			}
			if !engine.InScope(ch.ID, c.scope) {
				fail("%s is outside the scope", ch.ID)
			}
			step[ch.ID], action[ch.ID] = ch.Step, ch.Action
		}

		// Desired apps: the spec plus the deployed apps outside the scope.
		desired := append([]*engine.App{}, c.spec.Apps...)
		for _, a := range c.state.Apps {
			if !engine.InScope(a.ID, c.scope) {
				desired = append(desired, a)
			}
		}
		lastDestroy := -1
		for _, ch := range p.Changes {
			if ch.Action == engine.ActionDestroy {
				lastDestroy = ch.Step
			} else if lastDestroy >= ch.Step {
				fail("%s at step %d is not after every destroy", ch.ID, ch.Step)
			}
		}
		for _, a := range desired {
			s, changed := step[a.ID]
			if !changed {
				continue
			}
			earliest := lastDestroy + 1
			for dep := range reaches(desired, a) {
				ds, ok := step[dep]
				if !ok || action[dep] == engine.ActionDestroy {
					continue
				}
				if ds >= s {
					fail("%s (step %d) depends on %s (step %d)", a.ID, s, dep, ds)
				}
				earliest = max(earliest, ds+1)
			}
			if s != earliest {
				fail("%s at step %d, earliest allowed %d", a.ID, s, earliest)
			}
		}
		// Destroys: dependents first, over the deployed apps' own dependencies.
		for _, a := range c.state.Apps {
			if action[a.ID] != engine.ActionDestroy {
				continue
			}
			for dep := range reaches(c.state.Apps, a) {
				if action[dep] == engine.ActionDestroy && step[dep] <= step[a.ID] {
					fail("destroy of %s (step %d) not before destroy of its dependency %s (step %d)", a.ID, step[a.ID], dep, step[dep])
				}
			}
		}

		// Deterministic: the state's order does not matter; inputs untouched.
		want := planJSON(t, p)
		shuffled := &engine.State{Serial: c.state.Serial, Apps: append([]*engine.App{}, c.state.Apps...)}
		r.Shuffle(len(shuffled.Apps), func(i, j int) { shuffled.Apps[i], shuffled.Apps[j] = shuffled.Apps[j], shuffled.Apps[i] })
		p2, _ := Plan(c.spec, shuffled, Options{})
		if got := planJSON(t, p2); !bytes.Equal(got, want) {
			fail("plan differs after shuffling the state:\n%s\n%s", got, want)
		}
		specAfter, _ := json.Marshal(c.spec)
		stateAfter, _ := json.Marshal(c.state)
		if !bytes.Equal(specAfter, specBefore) || !bytes.Equal(stateAfter, stateBefore) {
			fail("Plan mutated its input")
		}
	}
}

// TestPlanDestroyProperties plans -destroy of random states: every deployed app
// under the scope is destroyed once, dependents first, nothing else changes.
func TestPlanDestroyProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(99, 1))
	for n := 0; n < 1000; n++ {
		c := genRandomCase(r)
		p, diags := Plan(c.spec, c.state, Options{Destroy: true})
		if diags.HasErrors() {
			t.Fatalf("case %d: %v", n, diags)
		}
		var want []string
		for _, a := range c.state.Apps {
			if engine.InScope(a.ID, c.scope) {
				want = append(want, a.ID)
			}
		}
		sort.Strings(want)
		var got []string
		step := map[string]int{}
		for _, ch := range p.Changes {
			if ch.Action != engine.ActionDestroy {
				t.Fatalf("case %d: %s %s in a destroy plan", n, ch.Action, ch.ID)
			}
			got = append(got, ch.ID)
			step[ch.ID] = ch.Step
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: destroyed %q, want %q", n, got, want)
		}
		for _, a := range c.state.Apps {
			s, ok := step[a.ID]
			if !ok {
				continue
			}
			for dep := range reaches(c.state.Apps, a) {
				if ds, ok := step[dep]; ok && ds <= s {
					t.Fatalf("case %d: %s (step %d) depends on %s (step %d)", n, a.ID, s, dep, ds)
				}
			}
		}
	}
}

// TestPlanParallelMatchesSequential plans a large world with the diff split over
// goroutines and sequentially, with the state in two orders: same bytes.
func TestPlanParallelMatchesSequential(t *testing.T) {
	w := genWorld(3000, 5)
	parallel, diags := Plan(w.spec, w.state, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if parallel.Summary != w.want {
		t.Fatalf("summary %+v, want %+v", parallel.Summary, w.want)
	}
	saved := parallelDiffMin
	parallelDiffMin = 1 << 30
	defer func() { parallelDiffMin = saved }()
	w2 := genWorld(3000, 6) // same apps, state shuffled differently
	sequential, _ := Plan(w2.spec, w2.state, Options{})
	if a, b := planJSON(t, parallel), planJSON(t, sequential); !bytes.Equal(a, b) {
		t.Errorf("parallel and sequential plans differ:\n%s", lineDiff(string(a), string(b)))
	}
}

// TestPlanParallelRuntimeManaged: the fields left to runtime, collected per diffed
// range, come out in id order and the same as sequentially.
func TestPlanParallelRuntimeManaged(t *testing.T) {
	plan := func(seed uint64) *engine.Plan {
		w := genWorld(3000, seed)
		for k, a := range w.spec.Apps {
			if k%97 == 0 {
				a.Lifecycle = &engine.Lifecycle{IgnoreChanges: []string{"instances", "labels"}}
				a.Instances += 3
				a.Labels["scaled"] = "by hand"
			}
		}
		p, diags := Plan(w.spec, w.state, Options{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return p
	}
	parallel := plan(5)
	if len(parallel.RuntimeManaged) < 40 {
		t.Fatalf("%d fields left to runtime, want one instances and one labels entry per ignoring deployed app", len(parallel.RuntimeManaged))
	}
	if !slices.IsSortedFunc(parallel.RuntimeManaged, func(x, y engine.RuntimeField) int { return strings.Compare(x.ID, y.ID) }) {
		t.Errorf("fields left to runtime not in id order: %+v", parallel.RuntimeManaged)
	}
	saved := parallelDiffMin
	parallelDiffMin = 1 << 30
	defer func() { parallelDiffMin = saved }()
	sequential := plan(6)
	if a, b := planJSON(t, parallel), planJSON(t, sequential); !bytes.Equal(a, b) {
		t.Errorf("parallel and sequential plans differ:\n%s", lineDiff(string(a), string(b)))
	}
}
