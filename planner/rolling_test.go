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
		"worked example 10 at 0.5/0.2":            {10, 10, us(0.5, 0.2), []engine.Wave{w(2, 5, 5, 2), w(5, 2, 3, 7), w(2, 3, 0, 9), w(1, 0, 0, 10)}},
		"marathon defaults: start all, then kill": {3, 3, us(1, 1), []engine.Wave{w(3, 0, 3, 3), w(0, 3, 0, 3)}},
		"degenerate: one at a time":               {3, 3, us(1, 0), []engine.Wave{w(1, 0, 3, 1), w(0, 1, 2, 1), w(1, 0, 2, 2), w(0, 1, 1, 2), w(1, 0, 1, 3), w(0, 1, 0, 3)}},
		"min health 0, over 0: kill then start":   {4, 4, us(0, 0), []engine.Wave{w(0, 4, 0, 0), w(4, 0, 0, 4)}},
		"scale up with restart":                   {2, 6, us(1, 0.5), []engine.Wave{w(6, 0, 2, 6), w(0, 2, 0, 6)}},
		"scale down above max running":            {10, 4, us(1, 0), []engine.Wave{w(0, 6, 4, 0), w(1, 0, 4, 1), w(0, 1, 3, 1), w(1, 0, 3, 2), w(0, 1, 2, 2), w(1, 0, 2, 3), w(0, 1, 1, 3), w(1, 0, 1, 4), w(0, 1, 0, 4)}},
		"scale down to zero":                      {3, 0, us(1, 1), []engine.Wave{w(0, 3, 0, 0)}},
		"from zero":                               {0, 2, us(1, 0), []engine.Wave{w(2, 0, 0, 2)}},
		"half down, quarter over":                 {4, 4, us(0.5, 0.25), []engine.Wave{w(1, 2, 2, 1), w(2, 1, 1, 3), w(1, 1, 0, 4)}},
		"nothing to do":                           {0, 0, us(1, 1), nil},
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

func TestNextMove(t *testing.T) {
	restart := func(target, minH, maxR int) Fleet {
		return Fleet{Action: engine.ActionRestart, Target: target, MinHealthy: minH, MaxRunning: maxR}
	}
	with := func(f Fleet, old, oldHealthy, oldFailing, nw, newReady, killing int) Fleet {
		f.Old, f.OldHealthy, f.OldFailing, f.New, f.NewReady, f.Killing = old, oldHealthy, oldFailing, nw, newReady, killing
		return f
	}
	cases := map[string]struct {
		f    Fleet
		want Move
	}{
		// The doc comment's worked example, move by move.
		"worked 1: 10 old healthy":          {with(restart(10, 5, 12), 10, 10, 0, 0, 0, 0), Move{Start: 2, KillOld: 5}},
		"worked 1': kills pending":          {with(restart(10, 5, 12), 5, 5, 0, 2, 0, 5), Move{Start: 0, KillOld: 0}},
		"worked 2: 2 new ready":             {with(restart(10, 5, 12), 5, 5, 0, 2, 2, 0), Move{Start: 5, KillOld: 2}},
		"worked 3":                          {with(restart(10, 5, 12), 3, 3, 0, 7, 7, 0), Move{Start: 2, KillOld: 3}},
		"worked 4":                          {with(restart(10, 5, 12), 0, 0, 0, 9, 9, 0), Move{Start: 1}},
		"worked 5: done":                    {with(restart(10, 5, 12), 0, 0, 0, 10, 10, 0), Move{Done: true}},
		"new healthy but not ready":         {with(restart(3, 3, 4), 3, 3, 0, 1, 0, 0), Move{}},
		"failing old killed freely":         {with(restart(3, 3, 4), 3, 1, 2, 0, 0, 0), Move{Start: 1, KillOld: 2}},
		"unknown old kept":                  {with(restart(3, 0, 3), 3, 0, 0, 0, 0, 0), Move{}},
		"scale down with restart":           {with(restart(4, 4, 5), 10, 10, 0, 0, 0, 0), Move{KillOld: 6}},
		"excess new killed":                 {with(restart(2, 1, 3), 0, 0, 0, 4, 4, 0), Move{KillNew: 2}},
		"degenerate bounds: one at a time":  {with(restart(3, 3, 3), 3, 3, 0, 0, 0, 0), Move{Start: 1}},
		"degenerate bounds: then kill":      {with(restart(3, 3, 3), 2, 2, 0, 3, 3, 0), Move{KillOld: 2}},
		"create":                            {Fleet{Action: engine.ActionCreate, Target: 3}, Move{Start: 3}},
		"create done":                       {Fleet{Action: engine.ActionCreate, Target: 3, New: 3, NewReady: 3}, Move{Done: true}},
		"create waits for ready":            {Fleet{Action: engine.ActionCreate, Target: 3, New: 3, NewReady: 2}, Move{}},
		"scale down":                        {Fleet{Action: engine.ActionScale, Target: 1, New: 3, NewReady: 3}, Move{KillNew: 2}},
		"scale down waits for kills":        {Fleet{Action: engine.ActionScale, Target: 1, New: 1, NewReady: 1, Killing: 2}, Move{}},
		"update is done at once":            {Fleet{Action: engine.ActionUpdate, Target: 2, New: 1}, Move{Start: 1, Done: true}},
		"destroy":                           {Fleet{Action: engine.ActionDestroy, Old: 3, OldHealthy: 1}, Move{KillOld: 3}},
		"destroy done":                      {Fleet{Action: engine.ActionDestroy}, Move{Done: true}},
		"negative counts are clamped":       {Fleet{Action: engine.ActionCreate, Target: -1, New: -4}, Move{Done: true}},
		"parts above wholes are clamped":    {with(restart(2, 1, 3), 1, 5, 5, 0, 7, 0), Move{Start: 2}},
		"zero target restart kills old all": {with(restart(0, 0, 0), 3, 3, 0, 0, 0, 0), Move{KillOld: 3}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := NextMove(tc.f); got != tc.want {
				t.Errorf("NextMove(%+v) = %+v, want %+v", tc.f, got, tc.want)
			}
		})
	}
}

// TestNextMoveKeepsBounds drives a simulated fleet through random sequences of
// task events — new tasks come up or die, old ones turn healthy, fail or die,
// kills complete — applying NextMove after each, and checks that no move breaks
// a bound: starts never take the fleet above MaxRunning, kills of healthy tasks
// never take the healthy count below MinHealthy, no move kills a task of
// unknown health or more tasks than there are. A final run of only good events
// must then finish the rollout.
func TestNextMoveKeepsBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
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
	for seq := 0; seq < 3000; seq++ {
		from, to := r.IntN(12), r.IntN(12)
		s := us(capacity(), capacity())
		minH, maxR := Bounds(to, s)
		f := Fleet{Action: engine.ActionRestart, Target: to, MinHealthy: minH, MaxRunning: maxR, Old: from, OldHealthy: from}
		apply := func(what string) {
			t.Helper()
			m := NextMove(f)
			running := f.Old + f.New + f.Killing
			if m.Start > 0 && running+m.Start > f.MaxRunning {
				t.Fatalf("seq %d after %s: %+v → %+v starts above MaxRunning", seq, what, f, m)
			}
			if m.Start > f.Target-min(f.New, f.Target) {
				t.Fatalf("seq %d after %s: %+v → %+v starts more than missing", seq, what, f, m)
			}
			if m.KillOld > f.OldHealthy+f.OldFailing || m.KillNew > f.New {
				t.Fatalf("seq %d after %s: %+v → %+v kills unknown or absent tasks", seq, what, f, m)
			}
			healthy := f.OldHealthy + min(f.NewReady, f.Target)
			if hk := m.KillOld - f.OldFailing; hk > 0 && healthy-hk < f.MinHealthy {
				t.Fatalf("seq %d after %s: %+v → %+v kills %d healthy, leaving %d < MinHealthy", seq, what, f, m, hk, healthy-hk)
			}
			// Carry the move out: failing old first, then healthy; new tasks
			// not yet ready first.
			failing := min(m.KillOld, f.OldFailing)
			f.OldFailing -= failing
			f.OldHealthy -= m.KillOld - failing
			f.Old -= m.KillOld
			notReady := min(m.KillNew, f.New-f.NewReady)
			f.NewReady -= m.KillNew - notReady
			f.New -= m.KillNew
			f.Killing += m.Kills()
			f.New += m.Start
		}
		apply("start")
		for ev := 0; ev < 60; ev++ {
			var what string
			switch r.IntN(7) {
			case 0:
				if f.New > f.NewReady {
					f.NewReady++
					what = "a new task deployed"
				}
			case 1:
				if f.New > 0 {
					if f.NewReady > 0 && r.IntN(2) == 0 {
						f.NewReady--
					}
					f.NewReady = min(f.NewReady, f.New-1)
					f.New--
					what = "a new task died"
				}
			case 2:
				if f.OldHealthy > 0 {
					f.OldHealthy--
					f.OldFailing++
					what = "an old task failed its checks"
				}
			case 3:
				if f.Old > 0 {
					f.Old--
					switch {
					case f.OldFailing > 0:
						f.OldFailing--
					case f.OldHealthy > 0:
						f.OldHealthy--
					}
					what = "an old task died"
				}
			case 4, 5:
				if f.Killing > 0 {
					f.Killing--
					what = "a kill completed"
				}
			case 6:
				if f.Old > f.OldHealthy+f.OldFailing {
					f.OldHealthy++
					what = "an old task turned healthy"
				}
			}
			if what != "" {
				apply(what)
			}
		}
		// Only good events from here: the rollout must finish.
		for i := 0; ; i++ {
			if i > 200 {
				t.Fatalf("seq %d: no progress from %+v", seq, f)
			}
			if NextMove(f).Done {
				break
			}
			f.Killing = 0
			f.NewReady = f.New
			f.OldHealthy = f.Old - f.OldFailing
			apply("good events")
		}
	}
}
