package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/planner"
)

// Reverting a deployment. A revert is an ordinary deployment, planned by the
// planner and carried out with the same rolling safeguards as any other (old
// tasks are not killed before their replacements are healthy and ready): its
// targets are the definitions the apps had before (Revert, Marathon's DELETE
// /v2/deployments/{id}) or, for an automatic revert after a failure, the last
// version of each app that ran fully healthy. Tasks that already run the
// configuration reverted to are kept (Deployment.Keep), so a revert only
// replaces what the reverted deployment had replaced.
//
// The failed (or cancelled) deployment, the revert deployment and the apps'
// reverted definitions are written in one commit: a leader killed at any moment
// leaves either the failing deployment (which the next leader fails again, and
// reverts) or the revert under way.

// Reasons of reverted deployments.
const (
	reasonReverted       = "reverted by deployment %s"
	reasonRevertedNoop   = "reverted: nothing it changed was left to undo"
	reasonRevertFailed   = "; the automatic revert could not start: %v"
	reasonRollingBack    = "; rolling back by deployment %s"
	reasonNotRolledBack  = "; nothing to roll back"
	msgRevertSetAside    = "app %s is set aside"
	msgRevertOfRevert    = "it reverts deployment %s itself"
	msgRevertNothingGood = "no version of %s is known to have run fully healthy; reverting to the one before"
)

// ErrNothingToRevert: the deployment changed nothing that its apps' previous
// definitions do not have.
var ErrNothingToRevert = errors.New("nothing to revert")

// ErrCannotRevert: the deployment cannot be reverted now (an app it changes is
// set aside; the revert would not plan).
var ErrCannotRevert = errors.New("the deployment cannot be reverted")

// Revert starts a deployment that takes the apps of a running deployment back to
// the definitions they had before it (Marathon's DELETE /v2/deployments/{id}
// without force): each changed app to its previous definition, each app it
// created removed, each it destroyed created again — with the same rolling
// safeguards as any deployment. The reverted deployment ends (cancelled, with
// the revert's id). The result has no deployment when nothing was left to undo
// (the deployment then simply ends); ErrNoDeployment: no running deployment has
// that id.
func (e *Executor) Revert(ctx context.Context, id string) (*WriteResult, error) {
	var (
		res *WriteResult
		err error
	)
	if derr := e.do(ctx, func() { res, err = e.revert(ctx, id) }); derr != nil {
		return nil, derr
	}
	return res, err
}

// revert is Revert on the actor.
func (e *Executor) revert(ctx context.Context, id string) (*WriteResult, error) {
	d, ok := e.deployments[id]
	if !ok {
		return nil, ErrNoDeployment
	}
	rev, err := e.endDeployment(ctx, d, engine.DeploymentCancelled, "", revertToBefore)
	e.publish()
	if err != nil {
		return nil, err
	}
	if rev == nil {
		return &WriteResult{Plan: &engine.Plan{}}, nil
	}
	return &WriteResult{Plan: rev.Plan, Deployment: rev, Version: rev.Version}, nil
}

// revertMode says what a revert goes back to.
type revertMode int

const (
	noRevert revertMode = iota
	// revertToBefore: every change of the deployment, to its Before.
	revertToBefore
	// revertToLastGood: the changes whose app asks for it (or all, with the
	// deployment's AutoRevert), to the last version that ran fully healthy.
	revertToLastGood
)

// endDeployment ends a running deployment with status and reason ("" for a
// revert: the reason names the revert) and, as mode says, starts its revert in
// the same commit. It returns the revert (nil when none started).
func (e *Executor) endDeployment(ctx context.Context, d *engine.Deployment, status, reason string, mode revertMode) (*engine.Deployment, error) {
	var l *launch
	var revertErr error
	if mode != noRevert {
		l, revertErr = e.revertLaunch(ctx, d, mode)
	}
	cp := e.failedCopy(d, reason)
	cp.Status = status
	switch {
	case l != nil:
		cp.RevertedBy = l.dep.ID
		if reason == "" {
			cp.Reason = fmt.Sprintf(reasonReverted, l.dep.ID)
		} else {
			cp.Reason += fmt.Sprintf(reasonRollingBack, l.dep.ID)
		}
	case reason == "" && errors.Is(revertErr, ErrNothingToRevert):
		cp.Reason = reasonRevertedNoop
	case reason == "" && revertErr != nil:
		return nil, revertErr // a manual revert that cannot be done changes nothing
	case revertErr != nil && !errors.Is(revertErr, ErrNothingToRevert):
		cp.Reason += fmt.Sprintf(reasonRevertFailed, revertErr)
	case mode == revertToLastGood:
		cp.Reason += reasonNotRolledBack
	}
	txn := engine.Txn{PutDeployments: []*engine.Deployment{cp}}
	if l != nil {
		txn.PutApps, txn.DeleteApps = l.txn.PutApps, l.txn.DeleteApps
		txn.PutDeployments = append(txn.PutDeployments, l.txn.PutDeployments...)
	}
	if err := e.commit(ctx, txn); err != nil {
		e.logf("executor: end deployment %s: %v", d.ID, err)
		return nil, err
	}
	delete(e.deployments, d.ID)
	e.remember(cp)
	e.viewDirty = true
	if status == engine.DeploymentFailed {
		// Its apps of the failed step count as failed for their dependents
		// until they run fully healthy again (or are applied anew).
		for _, c := range d.Plan.Changes {
			if c.Step == d.CurrentStep && c.Action != engine.ActionDestroy {
				e.failedApps[c.ID] = "its deployment " + d.ID + " failed"
			}
		}
	}
	e.logf("deployment %s %s: %s", d.ID, status, cp.Reason)
	now := e.cfg.Now()
	e.cfg.Metrics.DeploymentFinished(status)
	if status == engine.DeploymentFailed && d.CurrentStep < len(d.Plan.Steps) {
		e.bus.Publish(EventDeploymentStepFailure, now, DeploymentStepEvent{Plan: marathonPlan(cp), CurrentStep: marathonStep(d.Plan.Steps[d.CurrentStep])})
	}
	e.bus.Publish(EventDeploymentFailed, now, DeploymentFailed{ID: d.ID, Plan: marathonPlan(cp), Reason: cp.Reason})
	if l == nil {
		return nil, nil
	}
	e.activate(l)
	return l.dep, nil
}

// wantsRevert says whether a failed deployment is to be reverted automatically:
// the apply asked for it, or one of the apps it changes does (never a revert
// itself: a failed revert leaves things where they are).
func wantsRevert(d *engine.Deployment) bool {
	if d.RevertOf != "" {
		return false
	}
	if d.AutoRevert {
		return true
	}
	for _, c := range d.Plan.Changes {
		if appAutoRevert(c) {
			return true
		}
	}
	return false
}

// appAutoRevert says whether the app of a change asks to be reverted: the
// definition being deployed does (the one destroyed, for a destroy).
func appAutoRevert(c *engine.Change) bool {
	if c.After != nil {
		return c.After.AutoRevert
	}
	return c.Before != nil && c.Before.AutoRevert
}

// revertLaunch plans the revert of d and prepares it (nothing is written).
func (e *Executor) revertLaunch(ctx context.Context, d *engine.Deployment, mode revertMode) (*launch, error) {
	if d.RevertOf != "" && mode == revertToLastGood {
		return nil, fmt.Errorf("%w: "+msgRevertOfRevert, ErrCannotRevert, d.RevertOf)
	}
	desired := make(map[string]*engine.App, len(e.apps))
	for id, a := range e.apps {
		desired[id] = a
	}
	touched := false
	for _, c := range d.Plan.Changes {
		if mode == revertToLastGood && !d.AutoRevert && !appAutoRevert(c) {
			continue
		}
		if _, aside := e.quarantined[c.ID]; aside {
			return nil, fmt.Errorf("%w: "+msgRevertSetAside, ErrCannotRevert, c.ID)
		}
		touched = true
		target := c.Before
		if mode == revertToLastGood {
			target = e.lastGoodOf(ctx, d, c)
		}
		if target == nil {
			delete(desired, c.ID)
		} else {
			desired[c.ID] = target
		}
	}
	if !touched {
		return nil, ErrNothingToRevert
	}
	if err := e.assignRevertPorts(d, desired); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCannotRevert, err)
	}
	spec := &engine.Spec{Scope: "/", Apps: make([]*engine.App, 0, len(desired))}
	for _, a := range desired {
		spec.Apps = append(spec.Apps, a)
	}
	sort.Slice(spec.Apps, func(i, j int) bool { return spec.Apps[i].ID < spec.Apps[j].ID })
	plan, diags := planner.Plan(spec, e.stateLocked(), planner.Options{Scope: "/"})
	if diags.HasErrors() {
		return nil, fmt.Errorf("%w: %s", ErrCannotRevert, diags.Error())
	}
	if plan.Empty() {
		return nil, ErrNothingToRevert
	}
	return e.prepare(plan, e.lockedBy(plan, d.ID), launchOptions{
		deadline: d.ProgressDeadlineSeconds, revertOf: d.ID, keep: e.keepFor(ctx, plan),
	}), nil
}

// lastGoodOf is the definition an automatic revert takes a change's app back to:
// the last version that ran fully healthy before d started, read from the app's
// history; the one before d when that version is not known (or no longer
// recorded).
func (e *Executor) lastGoodOf(ctx context.Context, d *engine.Deployment, c *engine.Change) *engine.App {
	v := d.LastGood[c.ID]
	if c.Before == nil || v == "" || v == c.Before.Version {
		if c.Before != nil && v == "" {
			e.logf("deployment %s: "+msgRevertNothingGood, d.ID, c.ID)
		}
		return c.Before
	}
	a, err := e.store.AppVersion(ctx, c.ID, v)
	if err != nil || a == nil {
		e.logf("deployment %s: version %s of %s, the last that ran fully healthy, cannot be read (%v): reverting to the one before", d.ID, v, c.ID, err)
		return c.Before
	}
	a.ApplyDefaults()
	return a
}

// keepFor returns, for each restart of plan, the versions of the app's live
// tasks that already run the configuration the restart goes to (their launch
// definition differs from the target in no task field): those tasks count as
// new. The definitions come from the tasks (launched by this leader) or the
// app's history.
func (e *Executor) keepFor(ctx context.Context, plan *engine.Plan) map[string][]string {
	var keep map[string][]string
	for _, c := range plan.Changes {
		if c.Action != engine.ActionRestart || c.OnlyViolating || c.After == nil {
			continue
		}
		decided := map[string]bool{}
		for _, t := range e.liveTasks(c.ID) {
			if _, ok := decided[t.Version]; ok {
				continue
			}
			from := t.launchApp
			if from == nil || from.Version != t.Version {
				a, err := e.store.AppVersion(ctx, c.ID, t.Version)
				if err != nil {
					decided[t.Version] = false
					continue
				}
				a.ApplyDefaults()
				from = a
			}
			_, action, _, onlyViolating := planner.Diff(from, c.After)
			decided[t.Version] = action != engine.ActionRestart || onlyViolating
		}
		for v, ok := range decided {
			if ok {
				if keep == nil {
					keep = map[string][]string{}
				}
				keep[c.ID] = append(keep[c.ID], v)
			}
		}
		sort.Strings(keep[c.ID])
	}
	return keep
}

// noteGood records, for every app no deployment is changing, the version it runs
// when it runs fully healthy: every instance deployed (healthy, ready, not
// outdated) and no other task. Apps whose current version is already recorded
// cost a map lookup.
func (e *Executor) noteGood(now time.Time, ix *tickIndex) {
	var active map[string]activeChange
	for id, app := range e.apps {
		if e.lastGood[id] == app.Version && e.failedApps[id] == "" || app.Instances == 0 {
			continue
		}
		if _, aside := e.quarantined[id]; aside {
			continue
		}
		if active == nil {
			active = e.activeChanges()
		}
		if _, busy := active[id]; busy {
			continue
		}
		ts := ix.live[id]
		if len(ts) != app.Instances {
			continue
		}
		good := true
		for _, t := range ts {
			if t.killing || isOutdated(app, t, nil) || !e.taskDeployed(app, t, now) {
				good = false
				break
			}
		}
		if good {
			e.lastGood[id] = app.Version
			delete(e.failedApps, id)
		}
	}
}

// loadLastGood rebuilds the last fully healthy version of each app from the
// stored deployments, oldest first: a succeeded deployment's targets ran fully
// healthy; any other deployment recorded what had before it.
func (e *Executor) loadLastGood(deps map[string]*engine.Deployment) {
	e.lastGood = map[string]string{}
	all := make([]*engine.Deployment, 0, len(deps))
	for _, d := range deps {
		if d != nil && d.Plan != nil {
			all = append(all, d)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].CreatedAt != all[j].CreatedAt {
			return all[i].CreatedAt < all[j].CreatedAt
		}
		return all[i].ID < all[j].ID
	})
	for _, d := range all {
		for _, c := range d.Plan.Changes {
			if c == nil {
				continue
			}
			switch {
			case d.Status == engine.DeploymentSucceeded && c.After != nil:
				e.lastGood[c.ID] = c.After.Version
			case d.Status == engine.DeploymentSucceeded:
				delete(e.lastGood, c.ID)
			case d.LastGood[c.ID] != "":
				e.lastGood[c.ID] = d.LastGood[c.ID]
			}
		}
	}
}
