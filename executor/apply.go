package executor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

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
	// ProgressDeadline is the progress deadline of the apps that set none (0:
	// the server's default; negative: none).
	ProgressDeadline time.Duration
	// AutoRevert rolls every app of the deployment back to its last fully
	// healthy version should the deployment fail.
	AutoRevert bool
	// Queue: when apps of the plan are held by running deployments (and Force
	// is not set), the apply is queued instead of refused (see queue.go).
	Queue bool
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
	plan, diags := planner.Plan(req.Spec, e.stateLocked(), planner.Options{Scope: req.Scope, Destroy: req.Destroy})
	if diags.HasErrors() {
		err := &PlanError{Message: diags.Error()}
		e.groupChangeFailed(req, err)
		return nil, nil, err
	}
	if plan.Empty() {
		return plan, nil, nil
	}
	// One deployment per app at a time (Marathon's semantics).
	locked := e.lockedBy(plan, "")
	if len(locked) > 0 && !req.Force && req.Queue {
		dep, err := e.enqueue(ctx, req, plan, locked)
		return plan, dep, err
	}
	if len(locked) > 0 && !req.Force {
		err := &LockedError{Deployments: locked}
		e.groupChangeFailed(req, err)
		return plan, nil, err
	}
	l := e.prepare(plan, locked, launchOptions{
		autoRevert: req.AutoRevert, deadline: e.deadlineSecondsFor(req.ProgressDeadline),
	})
	l.group = groupOf(req)
	if err := e.commit(ctx, l.txn); err != nil {
		e.groupChangeFailed(req, err)
		return nil, nil, err
	}
	e.activate(l)
	return plan, l.dep, nil
}

// lockedBy returns the running deployments (but skip) that hold apps of the
// plan, sorted.
func (e *Executor) lockedBy(plan *engine.Plan, skip string) []string {
	var locked []string
	seen := map[string]bool{}
	active := e.activeChanges()
	for _, c := range plan.Changes {
		if ac, ok := active[c.ID]; ok && ac.dep.ID != skip && !seen[ac.dep.ID] {
			seen[ac.dep.ID] = true
			locked = append(locked, ac.dep.ID)
		}
	}
	sort.Strings(locked)
	return locked
}

// launchOptions are the deployment-wide settings of a deployment being started.
type launchOptions struct {
	// id, when set, is the deployment's id (a queued deployment keeps its own).
	id         string
	autoRevert bool
	deadline   int
	// revertOf is the deployment this one reverts; keep the versions of tasks
	// that already run what it reverts to.
	revertOf string
	keep     map[string][]string
}

// launch is a deployment ready to start: the transaction that records it (the
// deployment, its target apps, the deployments it supersedes), and what to do
// in memory once it is committed.
type launch struct {
	plan       *engine.Plan
	dep        *engine.Deployment
	txn        engine.Txn
	superseded []string
	// group is the group the change is announced for (group_change_success;
	// "" means "/").
	group string
}

// prepare builds the deployment of plan and its transaction, superseding the
// running deployments in locked; nothing is written or changed yet. The target
// apps get their new versions; the deployment records its deadline and the last
// healthy version of each app it changes.
func (e *Executor) prepare(plan *engine.Plan, locked []string, o launchOptions) *launch {
	now := e.cfg.Now()
	version := FormatTime(now)
	id := o.id
	if id == "" {
		id = newUUID()
	}
	dep := &engine.Deployment{
		ID: id, Version: version, Plan: plan, Status: engine.DeploymentRunning,
		CreatedAt: version, AutoRevert: o.autoRevert, ProgressDeadlineSeconds: o.deadline,
		RevertOf: o.revertOf, Keep: o.keep,
	}
	for _, c := range plan.Changes {
		if good := e.lastGood[c.ID]; good != "" {
			if dep.LastGood == nil {
				dep.LastGood = map[string]string{}
			}
			dep.LastGood[c.ID] = good
		}
	}
	startStep(dep, now)
	l := &launch{plan: plan, dep: dep, superseded: locked}
	for _, old := range locked {
		cp := *e.deployments[old]
		cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentCancelled, "superseded by deployment "+dep.ID, version
		l.txn.PutDeployments = append(l.txn.PutDeployments, &cp)
	}
	for _, c := range plan.Changes {
		if c.Action == engine.ActionDestroy {
			l.txn.DeleteApps = append(l.txn.DeleteApps, c.ID)
			continue
		}
		c.After = stampVersion(c, version)
		l.txn.PutApps = append(l.txn.PutApps, c.After)
	}
	l.txn.PutDeployments = append(l.txn.PutDeployments, dep)
	return l
}

// activate takes a committed launch into memory: the superseded deployments
// end, the apps take their new definitions (and a fresh start: no backoff, no
// give-up, no quarantine), and the deployment runs.
func (e *Executor) activate(l *launch) {
	now := e.cfg.Now()
	dep := l.dep
	for _, id := range l.superseded {
		cancelled := e.deployments[id]
		delete(e.deployments, id)
		delete(e.queued, id)
		cancelled.Status = engine.DeploymentCancelled
		cancelled.Reason = "superseded by deployment " + dep.ID
		e.remember(cancelled)
		e.cfg.Metrics.DeploymentFinished(engine.DeploymentCancelled)
		e.bus.Publish(EventDeploymentFailed, now, DeploymentFailed{ID: id, Plan: marathonPlan(cancelled), Reason: cancelled.Reason})
	}
	// app_terminated_event follows once a destroyed app's tasks are gone (see
	// advanceDeployment).
	for _, id := range l.txn.DeleteApps {
		delete(e.apps, id)
		e.resetApp(id)
	}
	for _, a := range l.txn.PutApps {
		e.apps[a.ID] = a
		e.resetApp(a.ID)
	}
	e.deployments[dep.ID] = dep
	e.viewDirty = true
	what := "started"
	if dep.RevertOf != "" {
		what = "started to revert deployment " + dep.RevertOf
	}
	e.logf("deployment %s %s: %d change(s) in %d step(s)", dep.ID, what, len(l.plan.Changes), len(l.plan.Steps))
	group := l.group
	if group == "" {
		group = "/"
	}
	e.bus.Publish(EventGroupChangeSuccess, now, GroupChange{GroupID: group, Version: dep.Version})
	e.bus.Publish(EventDeploymentInfo, now, DeploymentStepEvent{Plan: marathonPlan(dep), CurrentStep: marathonStep(l.plan.Steps[0])})
	e.publish()
}

// resetApp gives an app that was just (re)defined a fresh start: its backoff,
// its give-up and its quarantine end.
func (e *Executor) resetApp(id string) {
	delete(e.delays, id)
	delete(e.gaveUp, id)
	delete(e.failedApps, id)
	e.release(id)
}

// deadlineSecondsFor is the deployment-wide progress deadline of an apply that
// asked for d (0: the server's default; negative: none), in whole seconds
// (rounded up), bounded like the apps' own.
func (e *Executor) deadlineSecondsFor(d time.Duration) int {
	if d == 0 {
		d = e.cfg.ProgressDeadline
	}
	if d <= 0 {
		return 0
	}
	return int(min((d+time.Second-1)/time.Second, engine.MaxProgressDeadlineSeconds))
}

// groupOf is the group an apply changes: its scope ("/": everything).
func groupOf(req ApplyRequest) string {
	if req.Scope == "" {
		return "/"
	}
	return engine.CanonicalID(req.Scope)
}

// groupChangeFailed publishes group_change_failed for an apply refused after
// its input was found valid (a locked app, a dependency cycle, a failed write).
func (e *Executor) groupChangeFailed(req ApplyRequest, err error) {
	e.bus.Publish(EventGroupChangeFailed, e.cfg.Now(), GroupChange{GroupID: groupOf(req), Reason: err.Error()})
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
// as they are. A queued deployment is dropped.
func (e *Executor) Cancel(ctx context.Context, id string) error {
	var err error
	if derr := e.do(ctx, func() {
		dep, ok := e.deployments[id]
		if q, queued := e.queued[id]; queued {
			e.endQueued(ctx, q, engine.DeploymentCancelled, "cancelled")
			e.publish()
			return
		}
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
		e.cfg.Metrics.DeploymentFinished(engine.DeploymentCancelled)
		e.bus.Publish(EventDeploymentFailed, e.cfg.Now(), DeploymentFailed{ID: id, Plan: marathonPlan(&cp), Reason: "cancelled"})
		e.publish()
	}); derr != nil {
		return derr
	}
	return err
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
		p, diags := planner.Plan(req.Spec, e.stateLocked(), planner.Options{Scope: req.Scope, Destroy: req.Destroy})
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
