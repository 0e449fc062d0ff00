package planner

import (
	"math"

	"github.com/stride-run/stride/engine"
)

// epsilon absorbs float error in instances*capacity products: 10*0.7 is
// 7.000000000000001 in float64 and must still round up to 7, and 100*0.29 is
// 28.999999999999996 and must still round down to 29.
const epsilon = 1e-9

// Bounds returns the capacity bounds of a rolling deployment to instances tasks
// under the upgrade strategy s:
//
//	minHealthy = ceil(instances * s.MinimumHealthCapacity)
//	maxRunning = instances + floor(instances * s.MaximumOverCapacity)
//
// Worked example: instances 10, minimum health capacity 0.5, maximum over capacity
// 0.2 → at least ceil(10*0.5) = 5 healthy tasks, at most 10 + floor(10*0.2) = 12
// running; a rollout may start 2 new tasks beyond the 10, and kill old ones while
// 5 or more stay healthy.
//
// Degenerate case: with minimum health capacity 1.0 and maximum over capacity 0
// (or any pair where minHealthy == maxRunning == instances, e.g. instances 3,
// capacities 0.9 and 0.2: ceil(2.7) = 3, 3 + floor(0.6) = 3) nothing could be
// killed before a replacement is up and nothing could be started before an old task
// is gone: the rollout would deadlock. Bounds then raises maxRunning to
// instances+1 so that it proceeds one task at a time, replace then kill (Marathon
// does the same).
//
// Capacities are clamped to [0, 1] (Validate rejects other values), products are
// rounded with a small epsilon so that float error never moves a bound (10*0.7 is
// 7, not 8), and instances <= 0 yields (0, 0): there is nothing to roll.
func Bounds(instances int, s engine.UpgradeStrategy) (minHealthy, maxRunning int) {
	if instances <= 0 {
		return 0, 0
	}
	n := float64(instances)
	minHealthy = int(math.Ceil(n*clamp01(s.MinimumHealthCapacity) - epsilon))
	maxRunning = instances + int(math.Floor(n*clamp01(s.MaximumOverCapacity)+epsilon))
	if minHealthy < 0 {
		minHealthy = 0
	}
	if minHealthy > instances {
		minHealthy = instances
	}
	if minHealthy == instances && maxRunning == instances {
		maxRunning = instances + 1
	}
	return minHealthy, maxRunning
}

// clamp01 clamps f to [0, 1]; NaN counts as 0.
func clamp01(f float64) float64 {
	switch {
	case f > 1:
		return 1
	case f >= 0:
		return f
	default: // negative or NaN
		return 0
	}
}

// Fleet is one app's tasks during a rollout, as counts: what NextMove decides
// from. The executor counts its real tasks into a Fleet on every decision; the
// planner's preview (newRolling) simulates one.
//
// Old tasks are the ones the change replaces (every task of a destroy; the tasks
// of an outdated configuration, or those violating new constraints, of a
// restart); New tasks run the target configuration (for a create, a scale or an
// update, every live task is New). Tasks already asked to die are in Killing
// only.
type Fleet struct {
	// Action is the change's action.
	Action engine.Action
	// Target is the number of instances wanted.
	Target int
	// MinHealthy and MaxRunning are the bounds of Bounds(Target, strategy).
	MinHealthy, MaxRunning int
	// Old counts the live old tasks not being killed; OldHealthy those of them
	// that serve (running and passing their health checks), OldFailing those known
	// not to (not running, or a health check failed). The rest are old tasks whose
	// health is not known yet: they are neither counted as capacity nor killed.
	Old, OldHealthy, OldFailing int
	// New counts the live new tasks not being killed; NewReady those of them that
	// count as deployed: running, healthy (or, without health checks, running
	// long enough) and ready (every readiness check passed).
	New, NewReady int
	// Killing counts the tasks asked to die that are still alive: they still
	// take a place under MaxRunning.
	Killing int
}

// Move is what NextMove decides for a Fleet now.
type Move struct {
	// Start is how many new tasks to launch.
	Start int
	// KillOld is how many old tasks to kill: the failing ones first, then
	// healthy ones (the app's kill selection picks which); never one whose health
	// is not known yet, except in a destroy, which kills every old task.
	KillOld int
	// KillNew is how many new tasks to kill because there are more than Target
	// (not yet running ones first, then by kill selection).
	KillNew int
	// Done: the change is complete (no old task left, nothing being killed, and
	// Target new tasks deployed).
	Done bool
}

// Kills is KillOld + KillNew.
func (m Move) Kills() int { return m.KillOld + m.KillNew }

// NextMove is the rolling arithmetic of Stride, the one function both the
// executor (on real tasks, at every decision) and the planner's preview (on
// simulated ones) apply. It is pure, and it never breaks a bound itself:
//
//   - starts never take Old+New+Killing above MaxRunning (a fleet already above
//     it, a restart that also scales down, starts nothing until kills bring it
//     under);
//   - kills of healthy old tasks never take OldHealthy+NewReady below
//     MinHealthy: only new tasks that are deployed (healthy and ready) count as
//     capacity, so old tasks go as their replacements come up;
//   - failing old tasks count toward nothing but MaxRunning and are killed
//     freely; old tasks of unknown health are kept until their health is known.
//
// Restart, worked through: 10 instances, minimum health capacity 0.5, maximum
// over capacity 0.2 → MinHealthy 5, MaxRunning 12. From 10 healthy old tasks:
//
//	move 1: start min(12-10, 10-0) = 2, kill 10-5 = 5 old   → old 5, new 2 (starting)
//	(the 2 new tasks become healthy and ready; the 5 kills complete)
//	move 2: start min(12-7, 10-2) = 5, kill (5+2)-5 = 2 old  → old 3, new 7
//	move 3: start min(12-10, 10-7) = 2, kill min(3, 10-5) = 3 → old 0, new 9
//	move 4: start 1                                          → old 0, new 10
//	move 5: done once the 10th is healthy and ready.
//
// Degenerate case: with bounds that leave no room either way (MinHealthy ==
// MaxRunning, which Bounds never returns but a caller might pass) and every task's
// health known, NextMove still makes progress one task at a time: it starts one
// (replace) when new tasks are missing, else kills one old task.
//
// create, scale and update: start Target-New (all at once, as Marathon does) or
// kill New-Target; an update is Done at once (no task is replaced), the others
// when Target new tasks are deployed. destroy: kill every old task; Done when
// none is left.
func NextMove(f Fleet) Move {
	f = f.clamped()
	var m Move
	switch f.Action {
	case engine.ActionDestroy:
		m.KillOld = f.Old
		m.KillNew = f.New
		m.Done = f.Old+f.New+f.Killing == 0
		return m
	case engine.ActionCreate, engine.ActionScale, engine.ActionUpdate:
		switch {
		case f.New < f.Target:
			m.Start = f.Target - f.New
		case f.New > f.Target:
			m.KillNew = f.New - f.Target
		}
		// Old tasks have no place in these actions; kill any the caller counted.
		m.KillOld = f.Old
		m.Done = f.Action == engine.ActionUpdate ||
			f.Old == 0 && f.Killing == 0 && f.New == f.Target && f.NewReady >= f.Target
		return m
	}

	// Restart.
	newKept := f.New
	if f.New > f.Target {
		m.KillNew = f.New - f.Target
		newKept = f.Target
	}
	running := f.Old + f.New + f.Killing
	if room := f.MaxRunning - running; room > 0 {
		m.Start = max(0, min(room, f.Target-newKept))
	}
	m.KillOld = f.OldFailing
	if spare := f.OldHealthy + min(f.NewReady, newKept) - f.MinHealthy; spare > 0 {
		m.KillOld += min(spare, f.OldHealthy)
	}
	m.Done = f.Old == 0 && f.Killing == 0 && f.New == f.Target && f.NewReady >= f.Target
	if !m.Done && m.Start == 0 && m.Kills() == 0 && f.settled() {
		// Only reachable with bounds Bounds never returns: one at a time.
		if newKept < f.Target {
			m.Start = 1
		} else if f.OldHealthy > 0 {
			m.KillOld = 1
		}
	}
	return m
}

// clamped returns f with negative counts raised to 0 and the parts of Old and New
// capped at their wholes, so that NextMove's arithmetic holds for any input.
func (f Fleet) clamped() Fleet {
	for _, p := range []*int{&f.Target, &f.MinHealthy, &f.MaxRunning, &f.Old, &f.OldHealthy, &f.OldFailing, &f.New, &f.NewReady, &f.Killing} {
		*p = max(*p, 0)
	}
	f.OldHealthy = min(f.OldHealthy, f.Old)
	f.OldFailing = min(f.OldFailing, f.Old-f.OldHealthy)
	f.NewReady = min(f.NewReady, f.New)
	return f
}

// settled reports whether nothing is under way that a later event would move:
// no kill pending, every new task deployed, every old task's health known.
func (f Fleet) settled() bool {
	return f.Killing == 0 && f.New == f.NewReady && f.Old == f.OldHealthy+f.OldFailing
}

// newRolling returns the rollout arithmetic of one change from `from` running
// tasks to `to`, under the upgrade strategy s of the desired app (the deployed
// one's for a destroy): the bounds, and the waves of previewWaves. An
// OnlyViolating restart is previewed as a full one (the worst case: every task
// violates); an update has no waves (no task is touched), From == To.
func newRolling(action engine.Action, from, to int, s engine.UpgradeStrategy) *engine.Rolling {
	if from < 0 {
		from = 0
	}
	if to < 0 {
		to = 0
	}
	r := &engine.Rolling{From: from, To: to}
	r.MinHealthy, r.MaxRunning = Bounds(to, s)
	if action != engine.ActionUpdate {
		r.Waves = previewWaves(action, from, to, r.MinHealthy, r.MaxRunning)
	}
	return r
}

// previewWaves previews a rollout from `from` running tasks to `to` by iterating
// NextMove — the executor's own arithmetic — over a simulated fleet in which every
// started task becomes healthy and ready, and every kill completes, before the
// next move. Each move that starts or kills something is one wave; Old and New
// count the tasks after it. The running tasks of a create, scale or update
// already run the desired configuration (they are New); those of a restart or a
// destroy are Old.
//
// Example, restart from 10 to 10 at 0.5 / 0.2 (bounds 5 and 12), as NextMove
// works it through: +2 -5 (old 5, new 2), +5 -2 (old 3, new 7), +2 -3 (old 0,
// new 9), +1 (old 0, new 10). TestRestartWaves holds more worked tables.
//
// Every move of a settled fleet makes progress (see NextMove), starts total at
// most `to` and kills at most `from` + `to`, so the loop ends; it is also capped
// at from+to+1 waves as a guard.
func previewWaves(action engine.Action, from, to, minHealthy, maxRunning int) []engine.Wave {
	f := Fleet{Action: action, Target: to, MinHealthy: minHealthy, MaxRunning: maxRunning}
	switch action {
	case engine.ActionCreate, engine.ActionScale, engine.ActionUpdate:
		f.New, f.NewReady = from, from
	default:
		f.Old, f.OldHealthy = from, from
	}
	var waves []engine.Wave
	for range from + to + 1 {
		m := NextMove(f)
		if m.Done || m.Start+m.Kills() == 0 {
			break
		}
		killOld := min(m.KillOld, f.Old)
		failing := min(killOld, f.OldFailing)
		f.OldFailing -= failing
		f.OldHealthy -= killOld - failing
		f.Old -= killOld
		f.New -= m.KillNew
		f.NewReady = min(f.NewReady, f.New)
		f.New += m.Start
		f.NewReady += m.Start
		waves = append(waves, engine.Wave{Start: m.Start, Kill: killOld + m.KillNew, Old: f.Old, New: f.New})
	}
	return waves
}
