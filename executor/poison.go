package executor

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Poison-pill safety. A state record the executor cannot act on — one that does
// not decode, an app that breaks the limits (instances = 2e9 written by an older
// release or by hand), a deployment whose plan does not hold together — or a record
// whose handling panics, must cost only that record: it is set aside with the
// reason, and the executor keeps serving every other app and restarts cleanly on
// the same data. Nothing is deleted: the record stays in the store for a person to
// read, and the next apply of the same id replaces it.
//
//   - An app set aside (quarantined) is neither scaled, nor restarted, nor killed:
//     its running tasks are left alone, no task is launched for it, and its status
//     says why (AppStatus.Waiting).
//   - A deployment that cannot be carried out is marked failed, with the reason,
//     in the store; the apps it wrote keep their definitions.

// Reasons recorded for records set aside.
const (
	reasonUnreadable = "Stride cannot read the stored record of this app (%s); it leaves the app's tasks alone until the app is applied again"
	reasonInvalid    = "the stored definition of this app is invalid (%s); Stride leaves its tasks alone until the app is applied again"
	reasonPanic      = "Stride hit an internal error acting on this app (%v); it leaves the app's tasks alone until the app is applied again"
	reasonBadDeploy  = "Stride cannot carry out the stored deployment: %s"
)

// quarantine sets an app aside with a reason (logged once).
func (e *Executor) quarantine(id, reason string) {
	if e.quarantined[id] == reason {
		return
	}
	e.quarantined[id] = reason
	e.viewDirty = true
	e.logf("executor: %s: %s", id, reason)
}

// release ends an app's quarantine (a new definition was written).
func (e *Executor) release(id string) {
	if _, ok := e.quarantined[id]; ok {
		delete(e.quarantined, id)
		e.viewDirty = true
	}
}

// checkLoaded sets aside what load read but cannot act on: unreadable records,
// apps outside the limits, and deployments that cannot be carried out, which are
// marked failed in the store.
func (e *Executor) checkLoaded(ctx context.Context, unreadable []engine.UnreadableRecord) error {
	for _, u := range unreadable {
		switch u.Kind {
		case "apps":
			e.quarantine(u.ID, fmt.Sprintf(reasonUnreadable, u.Err))
		default:
			e.logf("executor: the stored %s record %q cannot be read (%s); it is ignored", u.Kind, u.ID, u.Err)
		}
	}
	for id, a := range e.apps {
		if a == nil {
			delete(e.apps, id)
			e.quarantine(id, fmt.Sprintf(reasonUnreadable, "empty record"))
			continue
		}
		if fe := a.ValidateWithin(e.cfg.Limits); len(fe) > 0 {
			e.quarantine(id, fmt.Sprintf(reasonInvalid, truncate(fe.Error(), 300)))
		}
	}
	ids := make([]string, 0, len(e.deployments))
	for id := range e.deployments {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var failed []*engine.Deployment
	for _, id := range ids {
		why := e.deploymentProblem(e.deployments[id])
		if app, aside := e.quarantinedChange(e.deployments[id]); why == "" && app != "" {
			why = "app " + app + " is set aside: " + aside
		}
		if why != "" {
			failed = append(failed, e.failedCopy(e.deployments[id], fmt.Sprintf(reasonBadDeploy, why)))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if err := e.commit(ctx, engine.Txn{PutDeployments: failed}); err != nil {
		return fmt.Errorf("executor: mark stored deployments failed: %w", err)
	}
	for _, d := range failed {
		e.logf("deployment %s failed: %s", d.ID, d.Reason)
		e.cfg.Metrics.DeploymentFinished(engine.DeploymentFailed)
		delete(e.deployments, d.ID)
		e.remember(d)
	}
	return nil
}

// deploymentProblem says why a stored deployment cannot be carried out ("" when
// it can).
func (e *Executor) deploymentProblem(d *engine.Deployment) string {
	if d.Plan == nil || len(d.Plan.Steps) == 0 {
		return "it has no steps"
	}
	if d.CurrentStep < 0 || d.CurrentStep >= len(d.Plan.Steps) {
		return fmt.Sprintf("its current step %d is not one of its %d steps", d.CurrentStep, len(d.Plan.Steps))
	}
	for i, c := range d.Plan.Changes {
		switch {
		case c == nil || c.ID == "":
			return fmt.Sprintf("change %d is empty", i)
		case c.Step < 0 || c.Step >= len(d.Plan.Steps):
			return fmt.Sprintf("change %s is in step %d, not one of its %d steps", c.ID, c.Step, len(d.Plan.Steps))
		case c.Action != engine.ActionDestroy && c.After == nil:
			return fmt.Sprintf("change %s has no target app", c.ID)
		}
		if c.After != nil {
			if fe := c.After.ValidateWithin(e.cfg.Limits); len(fe) > 0 {
				return fmt.Sprintf("the target of %s is invalid: %s", c.ID, truncate(fe.Error(), 300))
			}
		}
	}
	return ""
}

// quarantinedChange returns the first app of the deployment's current or later
// steps that is set aside, with the reason ("" when none is).
func (e *Executor) quarantinedChange(d *engine.Deployment) (string, string) {
	if len(e.quarantined) == 0 {
		return "", ""
	}
	for _, c := range d.Plan.Changes {
		if why, ok := e.quarantined[c.ID]; ok && c.Step >= d.CurrentStep {
			return c.ID, why
		}
	}
	return "", ""
}

// failedCopy returns d marked failed with a reason.
func (e *Executor) failedCopy(d *engine.Deployment, reason string) *engine.Deployment {
	cp := *d
	cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentFailed, reason, FormatTime(e.cfg.Now())
	return &cp
}

// failDeployment marks a running deployment failed in the store and drops it.
func (e *Executor) failDeployment(ctx context.Context, d *engine.Deployment, reason string) {
	cp := e.failedCopy(d, reason)
	if err := e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{cp}}); err != nil {
		e.logf("executor: mark deployment %s failed: %v", d.ID, err)
	}
	delete(e.deployments, d.ID)
	e.remember(cp)
	e.viewDirty = true
	e.logf("deployment %s failed: %s", d.ID, reason)
	e.cfg.Metrics.DeploymentFinished(engine.DeploymentFailed)
	now := e.cfg.Now()
	if d.Plan != nil && d.CurrentStep >= 0 && d.CurrentStep < len(d.Plan.Steps) {
		e.bus.Publish(EventDeploymentStepFailure, now, DeploymentStepEvent{Plan: marathonPlan(cp), CurrentStep: marathonStep(d.Plan.Steps[d.CurrentStep])})
	}
	e.bus.Publish(EventDeploymentFailed, now, DeploymentFailed{ID: d.ID, Plan: marathonPlan(cp), Reason: reason})
}

// guard runs fn and turns a panic into an error carrying the panic value; the
// stack goes to the log, once per panic.
func (e *Executor) guard(what string, fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			e.logf("executor: panic in %s: %v\n%s", what, r, debug.Stack())
			err = fmt.Errorf("%v", r)
		}
	}()
	fn()
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.TrimSpace(s[:n]) + "…"
}
