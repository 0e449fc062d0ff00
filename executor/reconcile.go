package executor

import (
	"context"
	"sort"
	"time"
)

// reconcileState is the reconciliation under way: the tasks Mesos has not
// answered for since they were asked about. A master answers an explicit
// reconciliation at once, except for tasks of agents it does not know yet (a
// master that has just restarted, before its agents re-register): those
// questions are dropped, so Stride asks again, with a growing pause, until
// every task is answered.
type reconcileState struct {
	// unanswered holds the tasks asked about and not heard of since.
	unanswered map[string]bool
	// next is when to ask again; wait the pause after that (doubling up to
	// maxReconcileRetry).
	next time.Time
	wait time.Duration
	// rounds counts the reconciliations sent again (for the view and tests).
	rounds uint64
}

// maxReconcileRetry bounds the pause between reconciliations of unanswered tasks.
const maxReconcileRetry = time.Minute

// answered notes that Mesos said something of a task.
func (r *reconcileState) answered(id string) { delete(r.unanswered, id) }

// reconcile asks Mesos for the state of every task we know (explicit: tasks
// Mesos does not know come back lost and are replaced), then for every task it
// knows (implicit: a running task Stride has no record of is killed, so nothing
// runs twice). Tasks it does not answer for are asked about again
// (reconcileUnanswered).
func (e *Executor) reconcile(ctx context.Context) {
	now := e.cfg.Now()
	e.lastRecon = now
	if e.mesos == nil || !e.connected {
		return
	}
	e.recon.unanswered = make(map[string]bool, len(e.tasks))
	for id := range e.tasks {
		e.recon.unanswered[id] = true
	}
	e.recon.wait = e.cfg.ReconcileRetry
	e.recon.next = now.Add(e.recon.wait)
	e.sendReconcile(ctx, e.tasks2agents(e.recon.unanswered))
}

// reconcileUnanswered asks again about the tasks Mesos has not answered for,
// once their pause is over, and implicitly about all it knows.
func (e *Executor) reconcileUnanswered(ctx context.Context, now time.Time) {
	if len(e.recon.unanswered) == 0 || !e.connected || e.mesos == nil || now.Before(e.recon.next) {
		return
	}
	for id := range e.recon.unanswered {
		if e.tasks[id] == nil {
			delete(e.recon.unanswered, id)
		}
	}
	if len(e.recon.unanswered) == 0 {
		return
	}
	e.recon.rounds++
	e.viewDirty = true
	e.logf("reconciliation: Mesos has not answered for %d tasks in %v; asking again", len(e.recon.unanswered), e.recon.wait)
	e.recon.wait = min(2*e.recon.wait, maxReconcileRetry)
	e.recon.next = now.Add(e.recon.wait)
	e.sendReconcile(ctx, e.tasks2agents(e.recon.unanswered))
}

// tasks2agents maps the given tasks to their agents.
func (e *Executor) tasks2agents(ids map[string]bool) map[string]string {
	out := make(map[string]string, len(ids))
	for id := range ids {
		if t := e.tasks[id]; t != nil {
			out[id] = t.SlaveID
		}
	}
	return out
}

// sendReconcile sends an explicit reconciliation of known (if any), then an
// implicit one.
func (e *Executor) sendReconcile(ctx context.Context, known map[string]string) {
	if len(known) > 0 {
		if err := e.mesos.Reconcile(ctx, known); err != nil {
			e.logf("reconcile: %v", err)
		}
	}
	if err := e.mesos.Reconcile(ctx, nil); err != nil {
		e.logf("reconcile (implicit): %v", err)
	}
}

func sortStrings(s []string) { sort.Strings(s) }
