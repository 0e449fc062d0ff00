package executor

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Queued deployments (stride apply -queue). An apply whose apps are held by
// running deployments is, when asked, queued instead of refused: the desired
// state is written as a deployment in the "queued" status, and planned again —
// against the state as it is then — once no running deployment holds the apps
// it changes. A newer queued apply replaces an older queued one that changes any
// of the same apps or owns the same scope (the older ends cancelled, "superseded
// by queued deployment ..."): the queue holds the latest desired state, not a
// backlog. -force keeps its meaning: cancel the running deployments and start at
// once.

// Reasons of queued deployments.
const (
	reasonQueuedBehind   = "queued behind deployment %s"
	reasonQueueSupersede = "superseded by queued deployment %s"
	reasonQueueNothing   = "nothing left to do when its turn came"
	reasonQueuePlan      = "planning it when its turn came failed: %s"
)

// enqueue writes a queued deployment for req, whose plan is held by locked.
func (e *Executor) enqueue(ctx context.Context, req ApplyRequest, plan *engine.Plan, locked []string) (*engine.Deployment, error) {
	now := FormatTime(e.cfg.Now())
	dep := &engine.Deployment{
		ID: newUUID(), Version: now, Plan: plan, Status: engine.DeploymentQueued, CreatedAt: now,
		Reason:     fmt.Sprintf(reasonQueuedBehind, strings.Join(locked, ", ")),
		AutoRevert: req.AutoRevert, ProgressDeadlineSeconds: e.deadlineSecondsFor(req.ProgressDeadline),
		Queued: &engine.QueuedApply{Spec: req.Spec, Scope: req.Scope, Destroy: req.Destroy},
	}
	txn := engine.Txn{PutDeployments: []*engine.Deployment{dep}}
	var superseded []*engine.Deployment
	for _, id := range e.queuedIDs() {
		old := e.queued[id]
		if !overlaps(old, dep) {
			continue
		}
		cp := *old
		cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentCancelled, fmt.Sprintf(reasonQueueSupersede, dep.ID), now
		txn.PutDeployments = append(txn.PutDeployments, &cp)
		superseded = append(superseded, &cp)
	}
	if err := e.commit(ctx, txn); err != nil {
		return nil, err
	}
	for _, d := range superseded {
		delete(e.queued, d.ID)
		e.remember(d)
		e.logf("queued deployment %s: %s", d.ID, d.Reason)
	}
	e.queued[dep.ID] = dep
	e.viewDirty = true
	e.logf("deployment %s queued behind %s", dep.ID, strings.Join(locked, ", "))
	e.publish()
	return dep, nil
}

// overlaps says whether two queued deployments want the same apps (or own the
// same scope).
func overlaps(a, b *engine.Deployment) bool {
	if a.Queued != nil && b.Queued != nil && scopeOf(a.Queued) == scopeOf(b.Queued) {
		return true
	}
	if a.Plan == nil || b.Plan == nil {
		return false
	}
	ids := map[string]bool{}
	for _, c := range a.Plan.Changes {
		if c != nil {
			ids[c.ID] = true
		}
	}
	for _, c := range b.Plan.Changes {
		if c != nil && ids[c.ID] {
			return true
		}
	}
	return false
}

func scopeOf(q *engine.QueuedApply) string {
	switch {
	case q.Scope != "":
		return q.Scope
	case q.Spec != nil && q.Spec.Scope != "":
		return q.Spec.Scope
	}
	return "/"
}

// queuedIDs lists the queued deployments, oldest first.
func (e *Executor) queuedIDs() []string {
	ids := make([]string, 0, len(e.queued))
	for id := range e.queued {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := e.queued[ids[i]], e.queued[ids[j]]
		if a.CreatedAt != b.CreatedAt {
			return a.CreatedAt < b.CreatedAt
		}
		return a.ID < b.ID
	})
	return ids
}

// startQueued starts, oldest first, each queued deployment whose apps no
// running deployment holds any more: planned again against the state as it is,
// under its own id.
func (e *Executor) startQueued(ctx context.Context) {
	for _, id := range e.queuedIDs() {
		q := e.queued[id]
		if q.Queued == nil || q.Queued.Spec == nil && !q.Queued.Destroy {
			e.endQueued(ctx, q, engine.DeploymentFailed, fmt.Sprintf(reasonQueuePlan, "the stored request is empty"))
			continue
		}
		spec := q.Queued.Spec
		if spec == nil {
			spec = &engine.Spec{Scope: q.Queued.Scope}
		}
		req := ApplyRequest{Spec: spec, Scope: q.Queued.Scope, Destroy: q.Queued.Destroy}
		p, err := e.planRequest(req)
		switch {
		case err != nil:
			e.endQueued(ctx, q, engine.DeploymentFailed, fmt.Sprintf(reasonQueuePlan, err))
			continue
		case p.plan.Empty():
			e.endQueued(ctx, q, engine.DeploymentSucceeded, reasonQueueNothing)
			continue
		}
		if locked := e.lockedBy(p.plan, ""); len(locked) > 0 {
			if why := fmt.Sprintf(reasonQueuedBehind, strings.Join(locked, ", ")); why != q.Reason {
				q.Reason, e.viewDirty = why, true
			}
			continue
		}
		delete(e.queued, q.ID)
		if _, err := e.launchWrite(ctx, p, nil, launchOptions{id: q.ID, autoRevert: q.AutoRevert, deadline: q.ProgressDeadlineSeconds}, groupOf(req)); err != nil {
			e.queued[q.ID] = q
			e.logf("executor: start queued deployment %s: %v", q.ID, err)
			return
		}
	}
}

// endQueued ends a queued deployment without starting it.
func (e *Executor) endQueued(ctx context.Context, q *engine.Deployment, status, reason string) {
	cp := *q
	cp.Status, cp.Reason, cp.FinishedAt = status, reason, FormatTime(e.cfg.Now())
	if err := e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
		e.logf("executor: end queued deployment %s: %v", q.ID, err)
		return
	}
	delete(e.queued, q.ID)
	e.remember(&cp)
	e.viewDirty = true
	e.logf("queued deployment %s %s: %s", q.ID, status, reason)
}
