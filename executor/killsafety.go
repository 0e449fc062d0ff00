package executor

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/planner"
)

// Kill safety: Stride's own health checks must never take a healthy service
// down. A task whose checks fail max_consecutive_failures times in a row is
// condemned (healthResult); healthKills, on every housekeeping tick, decides
// which condemned tasks die now:
//
//   - a circuit breaker: when a large share of an app's tasks that had been
//     healthy fail their checks at the same moment (at least 2, and at least
//     Config.BreakerShare of them), the checker or the network is more likely
//     sick than every task: no such task is killed for its health until the
//     share drops again (an event and a line in stride status say so). Tasks
//     that never passed their checks (a new version that does not work) are
//     neither counted nor protected: a sick checker is recognised by healthy
//     tasks turning unhealthy together;
//   - a rate limit: at most max(1, floor(instances × Config.HealthKillRate))
//     health kills per app per Config.HealthKillWindow; the others wait
//     (condemned tasks are killed as the budget allows);
//   - replace, then kill: when the app is not being deployed and its upgrade
//     strategy leaves room above its instances (maximum over capacity), a
//     replacement is started first and the condemned task is killed once enough
//     tasks are deployed without it — or after Config.ReplaceTimeout, should the
//     replacement never come up.

// Reasons shown for held health kills.
const (
	reasonBreakerOpen = "health-check kills paused: %d of %d tasks that were healthy fail their checks at once (the checker or the network may be sick)"
	reasonKillsHeld   = "%d health-check kill(s) waiting: at most %d per %v"
)

// killSafety is the kill-safety state of one app.
type killSafety struct {
	// kills are the times of the app's recent health kills (within the window).
	kills []time.Time
	// breaker is the reason the breaker is open ("" when closed); deferred how
	// many condemned tasks the rate limit holds.
	breaker  string
	deferred int
}

// healthKillBudget is how many health kills an app of n instances may have per
// window.
func (e *Executor) healthKillBudget(n int) int {
	return max(1, int(math.Floor(float64(n)*e.cfg.HealthKillRate+1e-9)))
}

// healthKills carries out the kills condemned tasks call for, within the
// breaker, the rate limit and replace-then-kill (see above).
func (e *Executor) healthKills(ctx context.Context, now time.Time, ix *tickIndex) {
	var condemned map[string]bool
	for _, t := range e.tasks {
		if t.condemned != "" && !t.killing && !isGone(t.State) {
			if condemned == nil {
				condemned = map[string]bool{}
			}
			condemned[t.AppID] = true
		}
	}
	if len(condemned) == 0 && len(e.safety) == 0 {
		return
	}
	for id, ks := range e.safety {
		if !condemned[id] && ks.breaker == "" && ks.deferred == 0 && len(ks.kills) == 0 {
			delete(e.safety, id)
		}
	}
	ids := make([]string, 0, len(condemned))
	for id := range condemned {
		ids = append(ids, id)
	}
	for id, ks := range e.safety {
		if ks.breaker != "" && !condemned[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	active := e.activeChanges()
	for _, id := range ids {
		e.appHealthKills(ctx, id, ix.live[id], active, now)
	}
}

func (e *Executor) appHealthKills(ctx context.Context, id string, tasks []*taskState, active map[string]activeChange, now time.Time) {
	app := e.apps[id]
	ks := e.safety[id]
	if ks == nil {
		ks = &killSafety{}
		e.safety[id] = ks
	}
	window := e.cfg.HealthKillWindow
	kept := ks.kills[:0]
	for _, at := range ks.kills {
		if now.Sub(at) < window {
			kept = append(kept, at)
		}
	}
	ks.kills = kept

	running, failing := 0, 0
	var condemned []*taskState
	for _, t := range tasks {
		if t.killing || t.State != engine.TaskRunning {
			continue
		}
		if t.condemned != "" {
			condemned = append(condemned, t)
		}
		if t.healthyAt.IsZero() {
			continue // never healthy: not what a sick checker looks like
		}
		running++
		if failingNow(t) {
			failing++
		}
	}
	// The breaker.
	threshold := max(2, int(math.Ceil(float64(running)*e.cfg.BreakerShare-1e-9)))
	if failing >= threshold {
		why := fmt.Sprintf(reasonBreakerOpen, failing, running)
		// Tasks that never passed their checks are not protected.
		for _, t := range condemned {
			if t.healthyAt.IsZero() {
				e.healthKill(ctx, ks, t, now)
			}
		}
		if ks.breaker == "" {
			e.logf("%s: %s", id, why)
			e.bus.Publish(EventHealthKillBreakerOpen, now, HealthKillBreaker{AppID: id, Failing: failing, Running: running, Reason: why})
		}
		if ks.breaker != why {
			ks.breaker, e.viewDirty = why, true
		}
		return
	}
	if ks.breaker != "" {
		e.logf("%s: health-check kills resume (%d of %d running tasks fail their checks)", id, failing, running)
		e.bus.Publish(EventHealthKillBreakerClosed, now, HealthKillBreaker{AppID: id, Failing: failing, Running: running})
		ks.breaker, e.viewDirty = "", true
	}

	// Condemned tasks, the longest failing first.
	sort.Slice(condemned, func(i, j int) bool { return condemned[i].stagedAt.Before(condemned[j].stagedAt) })
	instances := 0
	if app != nil {
		instances = app.Instances
	}
	budget := e.healthKillBudget(instances) - len(ks.kills)
	deferred := 0
	_, deploying := active[id]
	for _, t := range condemned {
		if !t.doomedAt.IsZero() {
			if !e.replaced(app, tasks, now) && now.Sub(t.doomedAt) < e.cfg.ReplaceTimeout {
				continue
			}
		} else if !deploying && e.roomToReplace(app, tasks) {
			// Replace first: decideApp no longer counts the task, so a
			// replacement is launched; the kill waits for it.
			t.doomedAt = now
			e.viewDirty = true
			e.logf("%s: %s; starting a replacement before killing it", t.ID, t.condemned)
			continue
		}
		if budget <= 0 {
			deferred++
			continue
		}
		budget--
		e.healthKill(ctx, ks, t, now)
	}
	if deferred != ks.deferred {
		ks.deferred, e.viewDirty = deferred, true
	}
}

// healthKill kills a task its health checks condemned, and counts the kill.
func (e *Executor) healthKill(ctx context.Context, ks *killSafety, t *taskState, now time.Time) {
	ks.kills = append(ks.kills, now)
	e.bus.Publish(EventUnhealthyInstanceKill, now, UnhealthyInstanceKill{
		AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID, Version: t.Version,
		Reason: strings.TrimPrefix(t.condemned, healthFailedPrefix), Host: t.Host, SlaveID: t.SlaveID,
	})
	t.failedHealth = true
	e.killTask(ctx, t, t.condemned)
}

// failingNow reports whether one of the task's Stride-run checks failed its last
// probe.
func failingNow(t *taskState) bool {
	for _, h := range t.health {
		if h.ran && !h.alive {
			return true
		}
	}
	return false
}

// roomToReplace says whether the app's upgrade strategy leaves room for one more
// task beside the live ones (its maximum over capacity).
func (e *Executor) roomToReplace(app *engine.App, tasks []*taskState) bool {
	if app == nil || app.Instances == 0 {
		return false
	}
	_, maxRunning := planner.Bounds(app.Instances, app.UpgradeStrategy)
	if maxRunning <= app.Instances {
		return false
	}
	live := 0
	for _, t := range tasks {
		if !t.killing {
			live++
		}
	}
	// Every doomed task has (or will have) its replacement among the live ones.
	return live+1 <= maxRunning
}

// replaced says whether the app has its instances deployed without its doomed
// tasks.
func (e *Executor) replaced(app *engine.App, tasks []*taskState, now time.Time) bool {
	if app == nil {
		return true
	}
	ok := 0
	for _, t := range tasks {
		if !t.killing && t.doomedAt.IsZero() && e.taskDeployed(app, t, now) {
			ok++
		}
	}
	return ok >= app.Instances
}

// killSafetyNote is the line stride status shows for the app ("" when none).
func (e *Executor) killSafetyNote(id string) string {
	ks := e.safety[id]
	switch {
	case ks == nil:
		return ""
	case ks.breaker != "":
		return ks.breaker
	case ks.deferred > 0:
		n := 0
		if a := e.apps[id]; a != nil {
			n = a.Instances
		}
		return fmt.Sprintf(reasonKillsHeld, ks.deferred, e.healthKillBudget(n), e.cfg.HealthKillWindow)
	}
	return ""
}
