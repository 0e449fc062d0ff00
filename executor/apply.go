package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/planner"
)

// ApplyRequest asks the executor to make the deployed state match Spec.
type ApplyRequest struct {
	Spec    *engine.Spec
	Scope   string
	Destroy bool
	// ExpectSerial, when set, is the state serial the caller planned against; the
	// apply is refused (ErrStale) if the state has moved since.
	ExpectSerial *uint64
	// Force cancels running deployments of the same apps instead of refusing.
	Force bool
	// Restart lists apps to restart even when unchanged (planner.Options).
	Restart []string
}

// LockedError says which deployments hold the apps of a refused apply.
type LockedError struct {
	Deployments []string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: %s (apply with -force to cancel them)", ErrLocked, strings.Join(e.Deployments, ", "))
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// PlanError carries planner diagnostics (cycles, say).
type PlanError struct{ Message string }

func (e *PlanError) Error() string { return e.Message }

// Apply re-plans Spec against the executor's own state and starts a deployment for
// the result. It returns the plan and the deployment (nil when there is nothing to
// do). The deployment and the target apps are written before any task is touched.
func (e *Executor) Apply(ctx context.Context, req ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	var (
		plan *engine.Plan
		dep  *engine.Deployment
		err  error
	)
	if derr := e.do(ctx, func() { plan, dep, err = e.apply(ctx, req) }); derr != nil {
		return nil, nil, derr
	}
	return plan, dep, err
}

func (e *Executor) stateLocked() *engine.State {
	st := &engine.State{Serial: e.serial, Apps: make([]*engine.App, 0, len(e.apps))}
	for _, a := range e.apps {
		st.Apps = append(st.Apps, a)
	}
	return st
}

func (e *Executor) apply(ctx context.Context, req ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	if req.ExpectSerial != nil && *req.ExpectSerial != e.serial {
		return nil, nil, fmt.Errorf("%w (planned against serial %d, now %d): run stride plan again", ErrStale, *req.ExpectSerial, e.serial)
	}
	if req.Spec == nil {
		req.Spec = &engine.Spec{Scope: req.Scope}
	}
	// The API checks the same; the executor is the last line, whoever calls it.
	fe := req.Spec.CheckSize(e.cfg.Limits)
	for i, a := range req.Spec.Apps {
		for _, f := range a.ValidateWithin(e.cfg.Limits) {
			fe = append(fe, engine.FieldError{Path: fmt.Sprintf("/apps/%d%s", i, strings.TrimSuffix(f.Path, "/")), Errors: f.Errors})
		}
	}
	if len(fe) > 0 {
		return nil, nil, fe
	}
	plan, diags := planner.Plan(req.Spec, e.stateLocked(), planner.Options{Scope: req.Scope, Destroy: req.Destroy, Restart: req.Restart})
	if diags.HasErrors() {
		return nil, nil, &PlanError{Message: diags.Error()}
	}
	if plan.Empty() {
		return plan, nil, nil
	}
	// One deployment per app at a time (Marathon's semantics).
	var locked []string
	lockedSet := map[string]bool{}
	active := e.activeChanges()
	for _, c := range plan.Changes {
		if ac, ok := active[c.ID]; ok && !lockedSet[ac.dep.ID] {
			lockedSet[ac.dep.ID] = true
			locked = append(locked, ac.dep.ID)
		}
	}
	sort.Strings(locked)
	if len(locked) > 0 && !req.Force {
		return plan, nil, &LockedError{Deployments: locked}
	}

	now := e.cfg.Now()
	version := FormatTime(now)
	dep := &engine.Deployment{
		ID: newUUID(), Version: version, Plan: plan, Status: engine.DeploymentRunning,
		CreatedAt: version,
	}
	var txn engine.Txn
	for _, id := range locked {
		old := *e.deployments[id]
		old.Status, old.Reason, old.FinishedAt = engine.DeploymentCancelled, "superseded by deployment "+dep.ID, version
		txn.PutDeployments = append(txn.PutDeployments, &old)
	}
	for _, c := range plan.Changes {
		if c.Action == engine.ActionDestroy {
			txn.DeleteApps = append(txn.DeleteApps, c.ID)
			continue
		}
		c.After = stampVersion(c, version)
		txn.PutApps = append(txn.PutApps, c.After)
	}
	txn.PutDeployments = append(txn.PutDeployments, dep)
	if err := e.commit(ctx, txn); err != nil {
		return nil, nil, err
	}
	for _, id := range locked {
		cancelled := e.deployments[id]
		delete(e.deployments, id)
		cancelled.Status = engine.DeploymentCancelled
		e.remember(cancelled)
		e.bus.Publish("deployment_failed", now, map[string]any{"id": id, "plan": marathonPlan(cancelled), "reason": "superseded by deployment " + dep.ID})
	}
	for _, id := range txn.DeleteApps {
		delete(e.apps, id)
		delete(e.delays, id)
		e.release(id)
		e.bus.Publish("app_terminated_event", now, map[string]any{"appId": id})
	}
	for _, a := range txn.PutApps {
		e.apps[a.ID] = a
		delete(e.delays, a.ID)
		e.release(a.ID)
	}
	e.deployments[dep.ID] = dep
	e.viewDirty = true
	e.logf("deployment %s started: %d change(s) in %d step(s)", dep.ID, len(plan.Changes), len(plan.Steps))
	e.bus.Publish("group_change_success", now, map[string]any{"groupId": "/", "version": version})
	e.bus.Publish("deployment_info", now, map[string]any{"plan": marathonPlan(dep), "currentStep": marathonStep(plan.Steps[0])})
	e.publish()
	return plan, dep, nil
}

// stampVersion gives the target app of a change its new version: every change gets
// a new version; versionInfo says whether the configuration (tasks are replaced)
// or only the scale changed.
func stampVersion(c *engine.Change, version string) *engine.App {
	a := c.After.Clone()
	a.Version = version
	prevCfg, prevScale := "", ""
	if b := c.Before; b != nil {
		prevCfg, prevScale = b.Version, b.Version
		if b.VersionInfo != nil {
			prevCfg, prevScale = b.VersionInfo.LastConfigChangeAt, b.VersionInfo.LastScalingAt
		}
	}
	vi := &engine.VersionInfo{LastConfigChangeAt: prevCfg, LastScalingAt: prevScale}
	switch {
	case c.Action == engine.ActionCreate, c.Action == engine.ActionRestart && !c.OnlyViolating:
		vi.LastConfigChangeAt, vi.LastScalingAt = version, version
	case c.Action == engine.ActionScale:
		vi.LastScalingAt = version
	}
	a.VersionInfo = vi
	return a
}

// Cancel stops a running deployment where it is (Marathon's DELETE
// /v2/deployments/{id}?force=true): apps keep their new definitions, tasks are left
// as they are.
func (e *Executor) Cancel(ctx context.Context, id string) error {
	var err error
	if derr := e.do(ctx, func() {
		dep, ok := e.deployments[id]
		if !ok {
			err = ErrNoDeployment
			return
		}
		cp := *dep
		cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentCancelled, "cancelled", FormatTime(e.cfg.Now())
		if err = e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
			return
		}
		delete(e.deployments, id)
		e.remember(&cp)
		e.bus.Publish("deployment_failed", e.cfg.Now(), map[string]any{"id": id, "plan": marathonPlan(&cp), "reason": "cancelled"})
		e.publish()
	}); derr != nil {
		return derr
	}
	return err
}

// Revert starts a deployment that takes the apps of a running deployment back
// to where they were before it (Marathon's DELETE /v2/deployments/{id}): each
// changed app to its previous definition, each app it created removed, each it
// destroyed created again — with the same rolling safeguards as any deployment.
// The reverted deployment is superseded. The revert is nil when nothing is to
// be done (ErrNoDeployment: no running deployment has that id).
func (e *Executor) Revert(ctx context.Context, id string) (*engine.Deployment, error) {
	var (
		dep *engine.Deployment
		err error
	)
	if derr := e.do(ctx, func() {
		d, ok := e.deployments[id]
		if !ok {
			err = ErrNoDeployment
			return
		}
		desired := make(map[string]*engine.App, len(e.apps))
		for appID, a := range e.apps {
			desired[appID] = a
		}
		for _, c := range d.Plan.Changes {
			if c.Before != nil {
				desired[c.ID] = c.Before
			} else {
				delete(desired, c.ID)
			}
		}
		spec := &engine.Spec{Scope: "/", Apps: make([]*engine.App, 0, len(desired))}
		for _, a := range desired {
			spec.Apps = append(spec.Apps, a)
		}
		sort.Slice(spec.Apps, func(i, j int) bool { return spec.Apps[i].ID < spec.Apps[j].ID })
		_, dep, err = e.apply(ctx, ApplyRequest{Spec: spec, Scope: "/", Force: true})
		if err == nil && dep == nil {
			// Nothing to undo (the deployment changed nothing yet that its
			// apps' previous definitions do not have): it simply ends.
			cp := *d
			cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentCancelled, "reverted", FormatTime(e.cfg.Now())
			if err = e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
				return
			}
			delete(e.deployments, id)
			e.remember(&cp)
			e.bus.Publish("deployment_failed", e.cfg.Now(), map[string]any{"id": id, "plan": marathonPlan(&cp), "reason": "reverted"})
		}
		e.publish()
	}); derr != nil {
		return nil, derr
	}
	return dep, err
}

// ErrNoDeployment: no running deployment has that id.
var ErrNoDeployment = errors.New("no such deployment")

// KillTasks kills the given tasks (they are replaced unless scale is set, in which
// case the apps' instances are reduced accordingly). Unknown ids are an error and
// nothing is killed.
func (e *Executor) KillTasks(ctx context.Context, ids []string) ([]engine.Task, error) {
	var (
		out []engine.Task
		err error
	)
	if derr := e.do(ctx, func() {
		var ts []*taskState
		for _, id := range ids {
			t, ok := e.tasks[id]
			if !ok {
				err = fmt.Errorf("%w: %s", ErrNoTask, id)
				return
			}
			ts = append(ts, t)
		}
		for _, t := range ts {
			e.killTask(ctx, t, "killed by request")
			out = append(out, t.Task)
		}
		e.publish()
	}); derr != nil {
		return nil, derr
	}
	return out, err
}

// ErrNoTask: no task has that id.
var ErrNoTask = errors.New("unknown task")

// remember keeps a finished deployment for status queries (the most recent 100).
func (e *Executor) remember(d *engine.Deployment) {
	e.recent = append(e.recent, d)
	if len(e.recent) > 100 {
		e.recent = e.recent[len(e.recent)-100:]
	}
}

// marathonPlan renders a deployment as the "plan" of Marathon's deployment events.
func marathonPlan(d *engine.Deployment) map[string]any {
	steps := make([]any, len(d.Plan.Steps))
	for i, s := range d.Plan.Steps {
		steps[i] = marathonStep(s)
	}
	return map[string]any{"id": d.ID, "steps": steps, "version": d.Version}
}

func marathonStep(s engine.Step) map[string]any {
	actions := make([]map[string]any, len(s.Actions))
	for i, a := range s.Actions {
		actions[i] = map[string]any{"action": MarathonAction(a.Action), "app": a.ID}
	}
	return map[string]any{"actions": actions}
}

// MarathonAction names a plan action the way Marathon's deployments do.
func MarathonAction(a engine.Action) string {
	switch a {
	case engine.ActionCreate:
		return "StartApplication"
	case engine.ActionDestroy:
		return "StopApplication"
	case engine.ActionScale:
		return "ScaleApplication"
	case engine.ActionRestart:
		return "RestartApplication"
	default:
		return "RestartApplication"
	}
}

// Plan returns the plan Apply would carry out now, changing nothing.
func (e *Executor) Plan(ctx context.Context, req ApplyRequest) (*engine.Plan, error) {
	var (
		plan *engine.Plan
		err  error
	)
	if derr := e.do(ctx, func() {
		if req.Spec == nil {
			req.Spec = &engine.Spec{Scope: req.Scope}
		}
		p, diags := planner.Plan(req.Spec, e.stateLocked(), planner.Options{Scope: req.Scope, Destroy: req.Destroy, Restart: req.Restart})
		if diags.HasErrors() {
			err = &PlanError{Message: diags.Error()}
			return
		}
		plan = p
	}); derr != nil {
		return nil, derr
	}
	return plan, err
}

// AppVersions returns the recorded versions of an app, newest first (from the
// store; safe from any goroutine).
func (e *Executor) AppVersions(ctx context.Context, id string) ([]string, error) {
	return e.store.AppVersions(ctx, id)
}

// AppVersion returns an app as recorded at a version (engine.ErrNotFound).
func (e *Executor) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	return e.store.AppVersion(ctx, id, version)
}
