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

// ApplyRequest asks the executor to make the deployed state match a desired
// one: Spec (`stride apply`: the files' apps under Scope), or what Edit makes of
// the deployed state (the Marathon API's writes). Either way the result is
// planned against the deployed state by the planner and carried out by one
// deployment, so both doors give the same classification, rolling bounds,
// dependency order and locking.
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
	// Edit, when set, replaces Spec, Scope and Destroy: it runs on the actor with
	// the deployed apps and groups and changes them (see Desired). An error it
	// returns is returned as is, and nothing changes.
	Edit func(d *Desired) error
}

// WriteResult is what a write through the executor did.
type WriteResult struct {
	// Plan is the plan that was carried out (empty when nothing changed).
	Plan *engine.Plan
	// Deployment carries the plan out; nil when no app changed.
	Deployment *engine.Deployment
	// Version is the version the change was given ("" when nothing changed):
	// the new version of every app and group it touched.
	Version string
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

// Apply re-plans the request against the executor's own state and starts a
// deployment for the result. It returns the plan and the deployment (nil when
// there is nothing to do). The deployment and the target apps are written
// before any task is touched.
func (e *Executor) Apply(ctx context.Context, req ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	res, err := e.Write(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	return res.Plan, res.Deployment, nil
}

// Write is Apply, reporting the version of the change too (a write that only
// changes groups has a version but no deployment).
func (e *Executor) Write(ctx context.Context, req ApplyRequest) (*WriteResult, error) {
	var (
		res *WriteResult
		err error
	)
	if derr := e.do(ctx, func() { res, err = e.apply(ctx, req) }); derr != nil {
		return nil, derr
	}
	return res, err
}

func (e *Executor) stateLocked() *engine.State {
	st := &engine.State{Serial: e.serial, Apps: make([]*engine.App, 0, len(e.apps))}
	for _, a := range e.apps {
		st.Apps = append(st.Apps, a)
	}
	return st
}

// prepared is a planned request, not yet carried out.
type prepared struct {
	plan *engine.Plan
	// groups are the desired group records (versions as they are now).
	groups map[string]*engine.Group
	// kill lists tasks to kill once the change is recorded.
	kill []string
}

// prepare builds the desired state of req, checks it and plans it (on the
// actor).
func (e *Executor) prepare(req ApplyRequest) (*prepared, error) {
	if req.ExpectSerial != nil && *req.ExpectSerial != e.serial {
		return nil, fmt.Errorf("%w (planned against serial %d, now %d): run stride plan again", ErrStale, *req.ExpectSerial, e.serial)
	}
	var (
		spec    *engine.Spec
		groups  map[string]*engine.Group
		restart = req.Restart
		kill    []string
		opts    = planner.Options{Scope: req.Scope, Destroy: req.Destroy}
	)
	if req.Edit != nil {
		d := newDesired(e)
		if err := req.Edit(d); err != nil {
			return nil, err
		}
		spec, groups = d.spec()
		withAncestors(groups, spec.Apps)
		if len(spec.Apps) > e.cfg.Limits.MaxApps || len(groups) > e.cfg.Limits.MaxGroups {
			return nil, engine.FieldErrors{{Path: "/", Errors: []string{fmt.Sprintf("the change would make %d apps and %d groups (at most %d and %d)", len(spec.Apps), len(groups), e.cfg.Limits.MaxApps, e.cfg.Limits.MaxGroups)}}}
		}
		// The API validated what it put; the executor is the last line, whoever
		// calls it. Only what changed is checked: a stored app set aside as
		// invalid must not block every other write.
		var fe engine.FieldErrors
		for _, id := range d.changedApps() {
			if a := d.apps[id]; a != nil {
				for _, f := range a.ValidateWithin(e.cfg.Limits) {
					msgs := make([]string, len(f.Errors))
					for i, m := range f.Errors {
						msgs[i] = "app " + id + ": " + m
					}
					fe = append(fe, engine.FieldError{Path: f.Path, Errors: msgs})
				}
			}
		}
		fe = append(fe, d.checkTree(groups)...)
		if len(fe) > 0 {
			return nil, fe
		}
		for id := range d.restart {
			restart = append(restart, id)
		}
		sort.Strings(restart)
		kill = d.kill
		opts = planner.Options{Scope: "/", DanglingDependencies: true}
	} else {
		spec = req.Spec
		if spec == nil {
			spec = &engine.Spec{Scope: req.Scope}
		}
		fe := spec.CheckSize(e.cfg.Limits)
		for i, a := range spec.Apps {
			for _, f := range a.ValidateWithin(e.cfg.Limits) {
				fe = append(fe, engine.FieldError{Path: fmt.Sprintf("/apps/%d%s", i, strings.TrimSuffix(f.Path, "/")), Errors: f.Errors})
			}
		}
		if len(fe) > 0 {
			return nil, fe
		}
		scope := req.Scope
		if scope == "" {
			scope = spec.Scope
		}
		if scope != "" && scope != "/" {
			scope = engine.CanonicalID(scope)
		}
		groups = e.specGroups(spec, scope, req.Destroy)
	}
	opts.Restart = restart
	plan, diags := planner.Plan(spec, e.stateLocked(), opts)
	if diags.HasErrors() {
		return nil, &PlanError{Message: diags.Error()}
	}
	return &prepared{plan: plan, groups: groups, kill: kill}, nil
}

// nextVersion returns the version of a new change: now, or one millisecond
// after the last version given when the clock has not moved past it.
func (e *Executor) nextVersion() (string, time.Time) {
	now := e.cfg.Now()
	t := now.UTC().Truncate(time.Millisecond)
	if !t.After(e.lastVersion) {
		t = e.lastVersion.Add(time.Millisecond)
	}
	e.lastVersion = t
	return FormatTime(t), now
}

// noteVersion makes later versions newer than v (a version loaded from the
// store).
func (e *Executor) noteVersion(v string) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(e.lastVersion) {
		e.lastVersion = t
	}
}

func (e *Executor) apply(ctx context.Context, req ApplyRequest) (*WriteResult, error) {
	p, err := e.prepare(req)
	if err != nil {
		return nil, err
	}
	plan := p.plan

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
		return nil, &LockedError{Deployments: locked}
	}

	var kills []*taskState
	for _, id := range p.kill {
		if t, ok := e.tasks[id]; ok && !isGone(t.State) {
			kills = append(kills, t)
		}
	}
	if plan.Empty() && !groupsDiffer(e.groups, p.groups) && len(kills) == 0 {
		return &WriteResult{Plan: plan}, nil
	}

	// The change's version goes to every app it touches and to every group at
	// or above them.
	version, now := e.nextVersion()
	appChanges := make([]engine.VersionChange, 0, len(plan.Changes))
	var txn engine.Txn
	for _, c := range plan.Changes {
		vc := engine.VersionChange{ID: c.ID}
		if c.Before != nil {
			vc.Before = c.Before.Version
		}
		if c.Action == engine.ActionDestroy {
			txn.DeleteApps = append(txn.DeleteApps, c.ID)
		} else {
			c.After = stampVersion(c, version)
			txn.PutApps = append(txn.PutApps, c.After)
			vc.After = version
		}
		appChanges = append(appChanges, vc)
	}
	sort.Slice(appChanges, func(i, j int) bool { return appChanges[i].ID < appChanges[j].ID })
	txn.PutGroups, txn.DeleteGroups, txn.PutGroupVersions = groupChanges(e.groups, p.groups, appChanges, version)

	var dep *engine.Deployment
	if !plan.Empty() {
		dep = &engine.Deployment{
			ID: newUUID(), Version: version, Plan: plan, Status: engine.DeploymentRunning,
			CreatedAt: version,
		}
		for _, id := range locked {
			old := *e.deployments[id]
			old.Status, old.Reason, old.FinishedAt = engine.DeploymentCancelled, "superseded by deployment "+dep.ID, version
			txn.PutDeployments = append(txn.PutDeployments, &old)
		}
		txn.PutDeployments = append(txn.PutDeployments, dep)
	}
	if err := e.commit(ctx, txn); err != nil {
		return nil, err
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
		delete(e.offers, id)
		e.release(id)
		e.bus.Publish("app_terminated_event", now, map[string]any{"appId": id})
	}
	for _, a := range txn.PutApps {
		e.apps[a.ID] = a
		delete(e.delays, a.ID)
		e.release(a.ID)
	}
	for _, id := range txn.DeleteGroups {
		delete(e.groups, id)
	}
	for _, g := range txn.PutGroups {
		e.groups[g.ID] = g
	}
	for _, t := range kills {
		e.killTask(ctx, t, "killed by request, instances scaled down")
	}
	e.viewDirty = true
	e.bus.Publish("group_change_success", now, map[string]any{"groupId": "/", "version": version})
	if dep != nil {
		e.deployments[dep.ID] = dep
		e.logf("deployment %s started: %d change(s) in %d step(s)", dep.ID, len(plan.Changes), len(plan.Steps))
		e.bus.Publish("deployment_info", now, map[string]any{"plan": marathonPlan(dep), "currentStep": marathonStep(plan.Steps[0])})
	}
	e.publish()
	return &WriteResult{Plan: plan, Deployment: dep, Version: version}, nil
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
	if derr := e.do(ctx, func() { err = e.cancel(ctx, id, "cancelled") }); derr != nil {
		return derr
	}
	return err
}

// cancel ends a running deployment with a reason (on the actor).
func (e *Executor) cancel(ctx context.Context, id, reason string) error {
	dep, ok := e.deployments[id]
	if !ok {
		return ErrNoDeployment
	}
	cp := *dep
	cp.Status, cp.Reason, cp.FinishedAt = engine.DeploymentCancelled, reason, FormatTime(e.cfg.Now())
	if err := e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
		return err
	}
	delete(e.deployments, id)
	e.remember(&cp)
	e.bus.Publish("deployment_failed", e.cfg.Now(), map[string]any{"id": id, "plan": marathonPlan(&cp), "reason": reason})
	e.viewDirty = true
	e.publish()
	return nil
}

// Revert starts a deployment that takes the apps of a running deployment back
// to where they were before it (Marathon's DELETE /v2/deployments/{id}): each
// changed app to its previous definition, each app it created removed, each it
// destroyed created again — with the same rolling safeguards as any deployment.
// The reverted deployment is superseded by the revert. When nothing is to be
// undone (a restart: the definitions are the same) the deployment is cancelled
// and the result has no deployment. ErrNoDeployment: no running deployment has
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
	res, err := e.apply(ctx, ApplyRequest{Force: true, Edit: func(des *Desired) error {
		for _, c := range d.Plan.Changes {
			if c.Before != nil {
				des.PutApp(c.Before)
			} else {
				des.DeleteApp(c.ID)
			}
		}
		return nil
	}})
	if err != nil {
		return nil, err
	}
	if res.Deployment == nil {
		if _, still := e.deployments[id]; still {
			if err := e.cancel(ctx, id, "reverted"); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// ErrNoDeployment: no running deployment has that id.
var ErrNoDeployment = errors.New("no such deployment")

// KillTasks kills the given tasks; they are replaced (a kill that also scales
// the app down is a Write whose Edit calls Desired.KillTasks). Unknown ids are
// an error and nothing is killed.
func (e *Executor) KillTasks(ctx context.Context, ids []string) ([]engine.Task, error) {
	var (
		out []engine.Task
		err error
	)
	if derr := e.do(ctx, func() {
		var ts []*taskState
		for _, id := range ids {
			t, ok := e.tasks[id]
			if !ok || isGone(t.State) {
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

// ResetDelay ends the app's launch backoff at once (Marathon's DELETE
// /v2/queue/{id}/delay); it reports false when the app is not backing off.
func (e *Executor) ResetDelay(ctx context.Context, id string) (bool, error) {
	reset := false
	if derr := e.do(ctx, func() { reset = e.resetLaunchDelay(id) }); derr != nil {
		return false, derr
	}
	return reset, nil
}

// resetLaunchDelay is ResetDelay on the actor.
func (e *Executor) resetLaunchDelay(id string) bool {
	if e.launchDelayFor(id, e.cfg.Now()) == 0 {
		return false
	}
	delete(e.delays, id)
	e.logf("%s: launch delay reset by request", id)
	e.viewDirty = true
	e.publish()
	return true
}

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

// MarathonAction names a plan action the way Marathon's deployments do. An
// update in place (fields only Stride reads) is a restart in Marathon's
// vocabulary, which has no in-place update; no task is replaced.
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

// Plan returns the plan Apply would carry out now, changing nothing (`stride
// plan`, and PUT /v2/groups?dryRun=true).
func (e *Executor) Plan(ctx context.Context, req ApplyRequest) (*engine.Plan, error) {
	var (
		plan *engine.Plan
		err  error
	)
	if derr := e.do(ctx, func() {
		var p *prepared
		if p, err = e.prepare(req); err == nil {
			plan = p.plan
		}
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

// GroupVersions returns the recorded versions of a group, newest first (from
// the store; safe from any goroutine).
func (e *Executor) GroupVersions(ctx context.Context, id string) ([]string, error) {
	return e.store.GroupVersions(ctx, id)
}
