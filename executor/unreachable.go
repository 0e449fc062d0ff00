package executor

import (
	"context"
	"fmt"
	"math"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// What happens to a task whose agent Mesos lost (TASK_UNREACHABLE; Stride
// subscribes PARTITION_AWARE), by the app's unreachableStrategy, as in
// Marathon:
//
//   - For inactiveAfterSeconds after the agent was lost the task still counts
//     as one of the app's instances (it may well be running, cut off): nothing
//     replaces it. It is neither running nor healthy meanwhile, so a
//     deployment waiting for health waits, and one that kills old tasks (a
//     restart, a scale down) expunges it first.
//   - After that it is inactive: it no longer counts, and a replacement is
//     launched. It stays listed (TASK_UNREACHABLE) so that Stride knows it.
//   - After expungeAfterSeconds it is expunged: forgotten. So is a task Stride
//     decides to kill while it is unreachable (Mesos cannot deliver the kill).
//   - Should it come back (TASK_RUNNING with REASON_AGENT_REREGISTERED, or a
//     reconciliation answer): before it went inactive it simply carries on;
//     after (its replacement was launched) it is killed; once expunged it is a
//     task Stride does not know, and is killed as such. Two instances are never
//     counted for one.
//
// The default {0, 0} replaces and forgets the task at once. "disabled" (as
// Marathon's UnreachableDisabled, for tasks that cannot move, such as those
// with local volumes) never does: the task counts as an instance until its
// agent comes back (or Stride decides to kill it, which forgets it).
//
// Worked through with inactiveAfterSeconds 60 and expungeAfterSeconds 600 for
// an app of 3 instances, one on an agent lost at 12:00:00: until 12:01:00 the
// app has 2 running and 1 unreachable instance and launches nothing; at
// 12:01:00 a fourth task is launched (3 count: the 2 and the new one); if the
// agent comes back at 12:05:00 its task is killed; if it never does, the task
// is forgotten at 12:10:00.

// never is the time a task of an app whose unreachable strategy is disabled may
// stay unreachable (292 years: time.Time.Add does not overflow with it).
const never = time.Duration(math.MaxInt64)

// unreachableTimes returns how long a task of app may be unreachable before it
// is replaced, and before it is forgotten (never for "disabled").
func unreachableTimes(app *engine.App) (inactive, expunge time.Duration) {
	if app == nil || app.UnreachableStrategy == nil {
		return 0, 0
	}
	u := app.UnreachableStrategy
	if u.Disabled {
		return never, never
	}
	inactive = time.Duration(u.InactiveAfterSeconds) * time.Second
	expunge = time.Duration(u.ExpungeAfterSeconds) * time.Second
	return inactive, max(expunge, inactive)
}

// appOf returns the definition a task is judged by: its app's, or the one it
// was launched from when the app is gone.
func (e *Executor) appOf(t *taskState) *engine.App {
	if app := e.apps[t.AppID]; app != nil {
		return app
	}
	return t.launchApp
}

// unreachableInactive reports whether t is unreachable for longer than its
// app's inactiveAfterSeconds (a replacement is due or launched).
func (e *Executor) unreachableInactive(t *taskState, now time.Time) bool {
	if t.State != engine.TaskUnreachable {
		return false
	}
	inactive, _ := unreachableTimes(e.appOf(t))
	return !now.Before(t.unreachableAt.Add(inactive))
}

// counts reports whether t counts as one of its app's instances: it is not
// over, and not unreachable for longer than its app lets it be.
func (e *Executor) counts(t *taskState, now time.Time) bool {
	return !isGone(t.State) && !e.unreachableInactive(t, now)
}

// taskUnreachable handles a task's first TASK_UNREACHABLE: its health checks
// stop, and it is written down with the time its agent was lost (Mesos'
// unreachable_time, else now) before anything is decided on it; with no time
// allowed by its app, it is expunged at once.
func (e *Executor) taskUnreachable(ctx context.Context, t *taskState, st mesos.TaskStatus, now time.Time) {
	since := now
	if ut := st.GetUnreachableTime(); ut != nil && ut.Nanoseconds > 0 {
		since = time.Unix(0, ut.Nanoseconds).UTC()
	}
	prev := t.State
	t.State = engine.TaskUnreachable
	t.unreachableAt = since
	t.UnreachableSince = FormatTime(since)
	t.inactiveLogged = false
	t.healthStarted = false
	t.health = nil
	t.mesosHealthy, t.mesosHealthSeen = false, false
	e.health.stop(t.ID)
	e.viewDirty = true
	e.publishTaskState(t, now)
	inactive, expunge := unreachableTimes(e.appOf(t))
	if t.killing || expunge == 0 {
		why := "its agent is unreachable"
		if t.killing {
			why = t.killReason + "; its agent is unreachable"
		}
		e.expunge(ctx, t, why)
		return
	}
	delete(e.dirtyTasks, t.ID)
	cp := t.Task
	if err := e.commit(ctx, engine.Txn{PutTasks: []*engine.Task{&cp}}); err != nil {
		e.logf("executor: %v", err)
	}
	if inactive == never {
		e.logf("%s unreachable (was %s) on %s: %s; never replaced (unreachable strategy disabled)", t.ID, prev, t.Host, t.Message)
		return
	}
	e.logf("%s unreachable (was %s) on %s: %s; replaced after %v, forgotten after %v", t.ID, prev, t.Host, t.Message, inactive, expunge)
}

// taskReachable handles an unreachable task that Mesos reports again: one whose
// replacement is due is killed, another carries on.
func (e *Executor) taskReachable(ctx context.Context, t *taskState, now time.Time) {
	inactive, _ := unreachableTimes(e.appOf(t))
	since := t.unreachableAt
	t.UnreachableSince, t.unreachableAt, t.inactiveLogged = "", time.Time{}, false
	e.dirtyTasks[t.ID] = true
	if isGone(t.State) {
		return // it ended meanwhile: taskGone follows
	}
	if !now.Before(since.Add(inactive)) {
		e.killTask(ctx, t, fmt.Sprintf("back after %v unreachable, replaced meanwhile", now.Sub(since).Round(time.Second)))
		return
	}
	e.logf("%s reachable again (%s), after %v", t.ID, t.State, now.Sub(since).Round(time.Second))
}

// expunge forgets a task: its record goes, and Mesos' later word of it is
// that of a task Stride does not know (killed if it runs).
func (e *Executor) expunge(ctx context.Context, t *taskState, why string) {
	e.logf("%s expunged (%s)", t.ID, why)
	if !t.killing {
		// As a task that ended on its own (for lastTaskFailure), without
		// counting for the backoff (countsForBackoff).
		t.Message = why
	}
	e.taskGone(ctx, t, engine.TaskUnreachable, e.cfg.Now())
}

// unreachableHousekeeping announces the replacement of tasks that went
// inactive, and expunges those unreachable for longer than their app allows.
func (e *Executor) unreachableHousekeeping(ctx context.Context, now time.Time) {
	var ids []string
	for id, t := range e.tasks {
		if t.State == engine.TaskUnreachable {
			ids = append(ids, id)
		}
	}
	sortStrings(ids)
	for _, id := range ids {
		t := e.tasks[id]
		inactive, expunge := unreachableTimes(e.appOf(t))
		switch {
		case !now.Before(t.unreachableAt.Add(expunge)):
			e.expunge(ctx, t, fmt.Sprintf("unreachable for %v", expunge))
		case !now.Before(t.unreachableAt.Add(inactive)) && !t.inactiveLogged:
			t.inactiveLogged = true
			e.viewDirty = true
			e.logf("%s unreachable for %v: replacing it", t.ID, inactive)
		}
	}
}
