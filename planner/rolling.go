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

// newRolling returns the rollout arithmetic of one change from `from` running
// tasks to `to`, under the upgrade strategy s of the desired app (the deployed
// one's for a destroy). Waves depend on the action:
//
//   - create: one wave starting `to` (none when to is 0);
//   - destroy: one wave killing `from` (none when from is 0);
//   - scale: one wave starting or killing the difference; the running tasks already
//     run the desired configuration, so they count as New;
//   - restart: replacement waves, see restartWaves; an OnlyViolating restart is
//     previewed as a full one (the worst case: every task violates);
//   - update: no waves (no task is touched), From == To.
func newRolling(action engine.Action, from, to int, s engine.UpgradeStrategy) *engine.Rolling {
	if from < 0 {
		from = 0
	}
	if to < 0 {
		to = 0
	}
	r := &engine.Rolling{From: from, To: to}
	r.MinHealthy, r.MaxRunning = Bounds(to, s)
	switch action {
	case engine.ActionCreate:
		if to > 0 {
			r.Waves = []engine.Wave{{Start: to, New: to}}
		}
	case engine.ActionDestroy:
		if from > 0 {
			r.Waves = []engine.Wave{{Kill: from}}
		}
	case engine.ActionScale:
		switch {
		case to > from:
			r.Waves = []engine.Wave{{Start: to - from, New: to}}
		case to < from:
			r.Waves = []engine.Wave{{Kill: from - to, New: to}}
		}
	case engine.ActionRestart:
		r.Waves = restartWaves(from, to, r.MinHealthy, r.MaxRunning)
	}
	return r
}

// restartWaves previews the rolling replacement of `from` old tasks by `to` new
// ones within the bounds (minHealthy, maxRunning) of Bounds(to, ...), assuming each
// started task becomes healthy before the next wave. Each wave
//
//  1. starts as many new tasks as maxRunning allows (never more than `to` in all):
//     start = min(to-new, maxRunning-(old+new)), or 0 when old+new is already at or
//     above maxRunning (a restart combined with a scale down: From > MaxRunning);
//  2. then kills as many old tasks as minHealthy allows, counting the tasks just
//     started as healthy: kill = min(old, old+new-minHealthy). In the scale-down
//     case this first wave only kills, down to max(minHealthy, new), which makes
//     room for starts in the next one.
//
// Example: from 10, to 10, capacities 0.5 and 0.2 (bounds 5 and 12):
//
//	wave 1: start 2 (12 running), kill 7 → old 3, new 2  (5 healthy)
//	wave 2: start 7 (12 running), kill 3 → old 0, new 9
//	wave 3: start 1              → old 0, new 10
//
// TestRestartWaves holds more worked tables.
//
// Every wave makes progress: when new < to, either a start fits, or old+new >=
// maxRunning > minHealthy (Bounds guarantees minHealthy < maxRunning for to > 0)
// and old > 0, so a kill fits; when new == to and old > 0, to >= minHealthy lets at
// least one old task go. Starts total `to` and kills total `from`, so there are at
// most from+to waves and the loop terminates for every input.
func restartWaves(from, to, minHealthy, maxRunning int) []engine.Wave {
	old, cur := from, 0
	var waves []engine.Wave
	for old > 0 || cur < to {
		start := 0
		if room := maxRunning - (old + cur); room > 0 {
			start = min(to-cur, room)
		}
		cur += start
		kill := 0
		if spare := old + cur - minHealthy; spare > 0 {
			kill = min(old, spare)
		}
		old -= kill
		if start == 0 && kill == 0 {
			// Unreachable for bounds from Bounds (see above); guards the loop
			// against hand-made bounds: finish one task at a time.
			if cur < to {
				start = 1
				cur++
			} else {
				kill = 1
				old--
			}
		}
		waves = append(waves, engine.Wave{Start: start, Kill: kill, Old: old, New: cur})
	}
	return waves
}
