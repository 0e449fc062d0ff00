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
	// ProgressDeadline is the progress deadline of the apps that set none (0:
	// the server's default; negative: none).
	ProgressDeadline time.Duration
	// AutoRevert rolls every app of the deployment back to its last fully
	// healthy version should the deployment fail.
	AutoRevert bool
	// Queue: when apps of the plan are held by running deployments (and Force
	// is not set), the apply is queued instead of refused (see queue.go).
	Queue bool
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

// planRequest builds the desired state of req, checks it and plans it (on the
// actor).
func (e *Executor) planRequest(req ApplyRequest) (*prepared, error) {
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
		if err := e.assignEditPorts(d, spec); err != nil {
			return nil, err
		}
		for id := range d.restart {
			restart = append(restart, id)
		}
		sort.Strings(restart)
		kill = d.kill
		// An edit through the API is the runtime ignore_changes leaves fields
		// to: it sets them.
		opts = planner.Options{Scope: "/", DanglingDependencies: true, RuntimeEdit: true}
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
		var err error
		if spec, err = e.assignSpecPorts(spec, scope, req.Destroy); err != nil {
			return nil, err
		}
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
	p, err := e.planRequest(req)
	if err != nil {
		var pe *PlanError
		if errors.As(err, &pe) {
			e.groupChangeFailed(req, err)
		}
		return nil, err
	}
	plan := p.plan

	// One deployment per app at a time (Marathon's semantics), or queued when
	// asked (`stride apply -queue`; the API's writes are never queued).
	locked := e.lockedBy(plan, "")
	if len(locked) > 0 && !req.Force && req.Queue && req.Edit == nil {
		dep, err := e.enqueue(ctx, req, plan, locked)
		if err != nil {
			return nil, err
		}
		return &WriteResult{Plan: plan, Deployment: dep}, nil
	}
	if len(locked) > 0 && !req.Force {
		err := &LockedError{Deployments: locked}
		e.groupChangeFailed(req, err)
		return nil, err
	}
	res, err := e.launchWrite(ctx, p, locked, launchOptions{
		autoRevert: req.AutoRevert, deadline: e.deadlineSecondsFor(req.ProgressDeadline),
	}, groupOf(req))
	if err != nil {
		e.groupChangeFailed(req, err)
	}
	return res, err
}

// launchWrite records and starts what a planned request changes: the apps (a
// deployment superseding those in locked), the group records and their version
// history, and the tasks it kills; all in one commit, before any task is
// touched. A request that changes nothing returns an empty plan and no version.
func (e *Executor) launchWrite(ctx context.Context, p *prepared, locked []string, o launchOptions, group string) (*WriteResult, error) {
	var kills []*taskState
	for _, id := range p.kill {
		if t, ok := e.tasks[id]; ok && !isGone(t.State) {
			kills = append(kills, t)
		}
	}
	if p.plan.Empty() && !groupsDiffer(e.groups, p.groups) && len(kills) == 0 {
		return &WriteResult{Plan: p.plan}, nil
	}
	l := e.prepare(p.plan, locked, o)
	l.group = group
	// The change's version goes to every app it touches and to every group at
	// or above them.
	appChanges := make([]engine.VersionChange, 0, len(p.plan.Changes))
	for _, c := range p.plan.Changes {
		vc := engine.VersionChange{ID: c.ID}
		if c.Before != nil {
			vc.Before = c.Before.Version
		}
		if c.Action != engine.ActionDestroy {
			vc.After = l.version
		}
		appChanges = append(appChanges, vc)
	}
	sort.Slice(appChanges, func(i, j int) bool { return appChanges[i].ID < appChanges[j].ID })
	l.txn.PutGroups, l.txn.DeleteGroups, l.txn.PutGroupVersions = groupChanges(e.groups, p.groups, appChanges, l.version)
	if err := e.commit(ctx, l.txn); err != nil {
		return nil, err
	}
	e.activate(l)
	for _, t := range kills {
		e.killTask(ctx, t, "killed by request, instances scaled down")
	}
	if len(kills) > 0 {
		e.publish()
	}
	return &WriteResult{Plan: p.plan, Deployment: l.dep, Version: l.version}, nil
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

// launch is a change ready to start: the transaction that records it (the
// deployment, its target apps, the deployments it supersedes, group records),
// and what to do in memory once it is committed.
type launch struct {
	plan *engine.Plan
	// dep is nil when the plan changes no app (a write of groups only).
	dep        *engine.Deployment
	version    string
	txn        engine.Txn
	superseded []string
	// group is the group the change is announced for (group_change_success;
	// "" means "/").
	group string
}

// prepare builds the deployment of plan and its transaction, superseding the
// running deployments in locked; nothing is written or changed yet. The target
// apps get the change's new version; the deployment records its deadline and
// the last healthy version of each app it changes. An empty plan gets no
// deployment.
func (e *Executor) prepare(plan *engine.Plan, locked []string, o launchOptions) *launch {
	version, now := e.nextVersion()
	l := &launch{plan: plan, version: version}
	if plan.Empty() {
		return l
	}
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
	l.dep, l.superseded = dep, locked
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
// give-up, no quarantine), the groups theirs, and the deployment runs.
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
		delete(e.offers, id)
		e.resetApp(id)
	}
	for _, a := range l.txn.PutApps {
		e.apps[a.ID] = a
		e.resetApp(a.ID)
	}
	for _, id := range l.txn.DeleteGroups {
		delete(e.groups, id)
	}
	for _, g := range l.txn.PutGroups {
		e.groups[g.ID] = g
	}
	e.viewDirty = true
	group := l.group
	if group == "" {
		group = "/"
	}
	e.bus.Publish(EventGroupChangeSuccess, now, GroupChange{GroupID: group, Version: l.version})
	if dep != nil {
		e.deployments[dep.ID] = dep
		what := "started"
		if dep.RevertOf != "" {
			what = "started to revert deployment " + dep.RevertOf
		}
		e.logf("deployment %s %s: %d change(s) in %d step(s)", dep.ID, what, len(l.plan.Changes), len(l.plan.Steps))
		e.bus.Publish(EventDeploymentInfo, now, DeploymentStepEvent{Plan: marathonPlan(dep), CurrentStep: marathonStep(l.plan.Steps[0])})
	}
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

// groupOf is the group an apply changes: its scope ("/": everything, and every
// write through the API, which edits the whole tree).
func groupOf(req ApplyRequest) string {
	if req.Scope == "" || req.Edit != nil {
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
		if q, queued := e.queued[id]; queued {
			e.endQueued(ctx, q, engine.DeploymentCancelled, "cancelled")
			e.publish()
			return
		}
		err = e.cancel(ctx, id, "cancelled")
	}); derr != nil {
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
	e.cfg.Metrics.DeploymentFinished(engine.DeploymentCancelled)
	e.bus.Publish(EventDeploymentFailed, e.cfg.Now(), DeploymentFailed{ID: id, Plan: marathonPlan(&cp), Reason: reason})
	e.viewDirty = true
	e.publish()
	return nil
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
		if p, err = e.planRequest(req); err == nil {
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
