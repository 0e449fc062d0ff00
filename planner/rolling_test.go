package planner

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stride-run/stride/engine"
)

func us(minHealth, overCap float64) engine.UpgradeStrategy {
	return engine.UpgradeStrategy{MinimumHealthCapacity: minHealth, MaximumOverCapacity: overCap}
}

func TestBounds(t *testing.T) {
	cases := map[string]struct {
		n                      int
		s                      engine.UpgradeStrategy
		minHealthy, maxRunning int
	}{
		"worked example":              {10, us(0.5, 0.2), 5, 12},
		"marathon defaults":           {3, us(1, 1), 3, 6},
		"degenerate 1.0/0":            {10, us(1, 0), 10, 11},
		"degenerate by rounding":      {3, us(0.9, 0.2), 3, 4},
		"min health 0, over 0":        {5, us(0, 0), 0, 5},
		"one instance 1.0/0":          {1, us(1, 0), 1, 2},
		"one instance 0/0":            {1, us(0, 0), 0, 1},
		"zero instances":              {0, us(1, 1), 0, 0},
		"negative instances":          {-2, us(1, 1), 0, 0},
		"fencepost 10*0.7 is 7":       {10, us(0.7, 0), 7, 10},
		"fencepost 30*0.1 is 3":       {30, us(0.1, 0.1), 3, 33},
		"fencepost 100*0.29 is 29":    {100, us(0.29, 0.29), 29, 129},
		"fencepost 10*0.3":            {10, us(0.3, 0.3), 3, 13},
		"fencepost 3*(1/3)":           {3, us(1.0/3, 1.0/3), 1, 4},
		"ceil and floor of halves":    {7, us(0.5, 0.5), 4, 10},
		"capacities clamp above 1":    {4, us(1.5, 2), 4, 8},
		"capacities clamp below 0":    {4, us(-1, -1), 0, 4},
		"NaN capacities count as 0":   {4, us(math.NaN(), math.NaN()), 0, 4},
		"large fleet":                 {1000, us(0.95, 0.05), 950, 1050},
		"full over-capacity, min 0.5": {9, us(0.5, 1), 5, 18},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mh, mr := Bounds(tc.n, tc.s)
			if mh != tc.minHealthy || mr != tc.maxRunning {
				t.Errorf("Bounds(%d, %+v) = %d, %d; want %d, %d", tc.n, tc.s, mh, mr, tc.minHealthy, tc.maxRunning)
			}
		})
	}
}

func TestRestartWaves(t *testing.T) {
	w := func(start, kill, old, new int) engine.Wave {
		return engine.Wave{Start: start, Kill: kill, Old: old, New: new}
	}
	cases := map[string]struct {
		from, to int
		s        engine.UpgradeStrategy
		want     []engine.Wave
	}{
		"worked example 10 at 0.5/0.2":          {10, 10, us(0.5, 0.2), []engine.Wave{w(2, 7, 3, 2), w(7, 3, 0, 9), w(1, 0, 0, 10)}},
		"marathon defaults: all at once":        {3, 3, us(1, 1), []engine.Wave{w(3, 3, 0, 3)}},
		"degenerate: one at a time":             {3, 3, us(1, 0), []engine.Wave{w(1, 1, 2, 1), w(1, 1, 1, 2), w(1, 1, 0, 3)}},
		"min health 0, over 0: kill then start": {4, 4, us(0, 0), []engine.Wave{w(0, 4, 0, 0), w(4, 0, 0, 4)}},
		"scale up with restart":                 {2, 6, us(1, 0.5), []engine.Wave{w(6, 2, 0, 6)}},
		"scale down above max running":          {10, 4, us(1, 0), []engine.Wave{w(0, 6, 4, 0), w(1, 1, 3, 1), w(1, 1, 2, 2), w(1, 1, 1, 3), w(1, 1, 0, 4)}},
		"scale down to zero":                    {3, 0, us(1, 1), []engine.Wave{w(0, 3, 0, 0)}},
		"from zero":                             {0, 2, us(1, 0), []engine.Wave{w(2, 0, 0, 2)}},
		"nothing to do":                         {0, 0, us(1, 1), nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRolling(engine.ActionRestart, tc.from, tc.to, tc.s)
			if !reflect.DeepEqual(r.Waves, tc.want) {
				t.Errorf("waves = %+v\nwant    %+v", r.Waves, tc.want)
			}
			checkRolling(t, engine.ActionRestart, r)
		})
	}
}

func TestRollingByAction(t *testing.T) {
	s := us(0.5, 0.2)
	cases := map[string]struct {
		action   engine.Action
		from, to int
		want     engine.Rolling
	}{
		"create":       {engine.ActionCreate, 0, 10, engine.Rolling{From: 0, To: 10, MinHealthy: 5, MaxRunning: 12, Waves: []engine.Wave{{Start: 10, New: 10}}}},
		"create none":  {engine.ActionCreate, 0, 0, engine.Rolling{}},
		"destroy":      {engine.ActionDestroy, 4, 0, engine.Rolling{From: 4, Waves: []engine.Wave{{Kill: 4}}}},
		"destroy none": {engine.ActionDestroy, 0, 0, engine.Rolling{}},
		"scale up":     {engine.ActionScale, 3, 5, engine.Rolling{From: 3, To: 5, MinHealthy: 3, MaxRunning: 6, Waves: []engine.Wave{{Start: 2, New: 5}}}},
		"scale down":   {engine.ActionScale, 5, 3, engine.Rolling{From: 5, To: 3, MinHealthy: 2, MaxRunning: 3, Waves: []engine.Wave{{Kill: 2, New: 3}}}},
		"update":       {engine.ActionUpdate, 4, 4, engine.Rolling{From: 4, To: 4, MinHealthy: 2, MaxRunning: 4}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRolling(tc.action, tc.from, tc.to, s)
			if !reflect.DeepEqual(*r, tc.want) {
				t.Errorf("rolling = %+v\nwant      %+v", *r, tc.want)
			}
			checkRolling(t, tc.action, r)
		})
	}
}

// checkRolling asserts the rollout invariants of r: every wave makes progress,
// no wave's starts take old+new above MaxRunning (unless the wave starts nothing
// because old+new already exceeds it), no wave's kills take old+new below
// MinHealthy, the counts add up, and the last wave ends with Old 0, New To.
func checkRolling(t *testing.T, action engine.Action, r *engine.Rolling) {
	t.Helper()
	old, cur := r.From, 0
	if action == engine.ActionScale {
		old, cur = 0, r.From // a scale's running tasks already count as new
	}
	if action == engine.ActionUpdate {
		if len(r.Waves) != 0 || r.From != r.To {
			t.Errorf("update rolling %+v: want From == To and no waves", r)
		}
		return
	}
	if len(r.Waves) > r.From+r.To {
		t.Fatalf("%d waves for %d → %d", len(r.Waves), r.From, r.To)
	}
	for i, w := range r.Waves {
		if w.Start < 0 || w.Kill < 0 || w.Start+w.Kill == 0 {
			t.Fatalf("wave %d %+v makes no progress", i, w)
		}
		if w.Start > 0 && old+cur+w.Start > r.MaxRunning && action == engine.ActionRestart {
			t.Errorf("wave %d %+v: %d running after starts, max %d", i, w, old+cur+w.Start, r.MaxRunning)
		}
		cur += w.Start
		if w.Kill > 0 && action == engine.ActionRestart && old+cur-w.Kill < r.MinHealthy {
			t.Errorf("wave %d %+v: %d healthy after kills, min %d", i, w, old+cur-w.Kill, r.MinHealthy)
		}
		if action == engine.ActionScale {
			cur -= w.Kill
		} else {
			old -= w.Kill
		}
		if w.Old != old || w.New != cur || old < 0 || cur > r.To {
			t.Fatalf("wave %d %+v: counts should be old %d new %d (to %d)", i, w, old, cur, r.To)
		}
	}
	if old != 0 || cur != r.To {
		t.Errorf("rollout ends with old %d new %d, want 0 and %d", old, cur, r.To)
	}
}

// TestRollingProperties checks the invariants over many seeded random inputs,
// favouring the edges (0, 1, capacities 0 and 1).
func TestRollingProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	pick := func() int {
		switch r.IntN(4) {
		case 0:
			return r.IntN(3)
		case 1:
			return r.IntN(20)
		default:
			return r.IntN(300)
		}
	}
	capacity := func() float64 {
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return 1
		default:
			return float64(r.IntN(101)) / 100
		}
	}
	actions := []engine.Action{engine.ActionRestart, engine.ActionRestart, engine.ActionScale, engine.ActionCreate, engine.ActionDestroy}
	for i := 0; i < 20000; i++ {
		action := actions[r.IntN(len(actions))]
		from, to := pick(), pick()
		switch action {
		case engine.ActionCreate:
			from = 0
		case engine.ActionDestroy:
			to = 0
		}
		s := us(capacity(), capacity())
		roll := newRolling(action, from, to, s)
		mh, mr := Bounds(to, s)
		if to > 0 && (mh > to || mr < to || mh >= mr) {
			t.Fatalf("Bounds(%d, %+v) = %d, %d: want minHealthy <= n <= maxRunning and minHealthy < maxRunning", to, s, mh, mr)
		}
		checkRolling(t, action, roll)
		if t.Failed() {
			t.Fatalf("input: %s %d → %d %+v: %+v", action, from, to, s, roll)
		}
	}
}
