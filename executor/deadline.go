package executor

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
)

// Progress deadlines. Each change of a deployment's current step carries an
// engine.Deadline: when it last made progress (a new task deployed — healthy
// and ready — beyond the most seen so far, or a task fewer left to go than the
// fewest seen), and how long it may go without. The bookkeeping is part of the
// stored deployment, written when the step starts and at each progress, so a new
// leader keeps the same deadlines; the best counts are stored too, so that the
// health a new leader has yet to learn is not mistaken for progress.

// Reasons a deployment fails with (see stallReason for the stalled step's).
const (
	reasonStalled     = "%s: %s after %s without progress"
	reasonGaveUp      = "%s: gave up after %d failed launches in a row"
	reasonLastFailure = "; last failure: %s"
)

// deadlineSeconds is the progress deadline of a change: the app's own, else the
// deployment's (0: none).
func deadlineSeconds(d *engine.Deployment, c *engine.Change) int {
	app := c.After
	if app == nil {
		app = c.Before
	}
	if app != nil && app.ProgressDeadlineSeconds > 0 {
		return app.ProgressDeadlineSeconds
	}
	return max(d.ProgressDeadlineSeconds, 0)
}

// startStep gives the changes of the deployment's current step their deadline
// bookkeeping, starting now; their counts are filled in at the first look.
func startStep(d *engine.Deployment, now time.Time) {
	d.Deadlines = d.Deadlines[:0]
	if d.CurrentStep >= len(d.Plan.Steps) {
		d.Deadlines = nil
		return
	}
	since := FormatTime(now)
	for _, c := range d.Plan.Changes {
		if c.Step == d.CurrentStep {
			d.Deadlines = append(d.Deadlines, engine.Deadline{ID: c.ID, Since: since, Seconds: deadlineSeconds(d, c), Deployed: -1, Remaining: math.MaxInt32})
		}
	}
}

// deadlineIndex maps each change of the current step to the index of its
// bookkeeping in d.Deadlines, adding the bookkeeping (from now) of the changes
// the stored deployment has none for (written by an older release).
func deadlineIndex(d *engine.Deployment, now time.Time) map[string]int {
	ix := make(map[string]int, len(d.Deadlines))
	for i := range d.Deadlines {
		ix[d.Deadlines[i].ID] = i
	}
	for _, c := range d.Plan.Changes {
		if _, ok := ix[c.ID]; !ok && c.Step == d.CurrentStep {
			ix[c.ID] = len(d.Deadlines)
			d.Deadlines = append(d.Deadlines, engine.Deadline{ID: c.ID, Since: FormatTime(now), Seconds: deadlineSeconds(d, c), Deployed: -1, Remaining: math.MaxInt32})
		}
	}
	return ix
}

// remaining counts the tasks a change still has to get rid of.
func (r *rollout) remaining() int {
	return r.fleet.Old + r.fleet.Killing + max(0, r.fleet.New-r.fleet.Target)
}

// track records the change's progress in dl: it reports whether dl changed
// (and must be written) and whether the deadline has passed.
func (e *Executor) track(dl *engine.Deadline, r *rollout, app *engine.App, now time.Time) (changed, expired bool) {
	rem := r.remaining()
	switch {
	case dl.Deployed < 0:
		dl.Deployed, dl.Remaining, changed = r.deployed, rem, true
	case r.deployed > dl.Deployed || rem < dl.Remaining:
		dl.Deployed, dl.Remaining = max(dl.Deployed, r.deployed), min(dl.Remaining, rem)
		dl.Since, changed = FormatTime(now), true
	}
	if dl.Seconds <= 0 || r.move.Done {
		return changed, false
	}
	return changed, !now.Before(e.deadlineAt(dl, app))
}

// deadlineAt is when dl expires: Seconds after Since, but never before a new
// leader has had the time to learn the tasks' health (twice the longest check
// interval after it loaded the state, at most half the deadline): what became
// healthy while no leader watched is progress it must get to see.
func (e *Executor) deadlineAt(dl *engine.Deadline, app *engine.App) time.Time {
	d := time.Duration(dl.Seconds) * time.Second
	at := parseTime(dl.Since, e.loadedAt).Add(d)
	grace := min(2*checkInterval(app, e.cfg.StableAfter), d/2)
	return maxTime(at, e.loadedAt.Add(grace))
}

// checkInterval is the longest interval of the app's health and readiness
// checks (def when it has none).
func checkInterval(app *engine.App, def time.Duration) time.Duration {
	iv := time.Duration(0)
	if app != nil {
		for _, hc := range app.HealthChecks {
			iv = max(iv, time.Duration(hc.IntervalSeconds)*time.Second)
		}
		for _, rc := range app.ReadinessChecks {
			iv = max(iv, time.Duration(rc.IntervalSeconds)*time.Second)
		}
	}
	if iv == 0 {
		return def
	}
	return iv
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stallReason says why a change failed its deadline: "/shop/api: 0 of 3 new
// tasks healthy and ready after 5m0s without progress; last failure: ...".
func (e *Executor) stallReason(c *engine.Change, r *rollout, dl *engine.Deadline, waiting string) string {
	var what string
	switch {
	case c.Action == engine.ActionDestroy:
		what = fmt.Sprintf("%d task(s) still to stop", r.remaining())
	case r.fleet.New > r.fleet.Target || r.fleet.Target == 0:
		what = fmt.Sprintf("%d task(s) still to stop", r.remaining())
	default:
		what = fmt.Sprintf("%d of %d new tasks healthy and ready", r.deployed, r.fleet.Target)
		if nr := r.healthyNotReady; nr > 0 {
			what += fmt.Sprintf(" (%d more healthy but not ready)", nr)
		}
	}
	msg := fmt.Sprintf(reasonStalled, c.ID, what, time.Duration(dl.Seconds)*time.Second)
	if waiting != "" {
		msg += "; " + waiting
	}
	if f := e.lastFailure[c.ID]; f != nil {
		msg += fmt.Sprintf(reasonLastFailure, failureText(f))
	}
	return msg
}

// failureText renders a task failure: "exited with status 1 (TASK_FAILED)".
func failureText(f *TaskFailure) string {
	state := strings.ToLower(strings.TrimPrefix(f.State, "TASK_"))
	if f.Message == "" {
		return state
	}
	return f.Message + " (" + state + ")"
}
