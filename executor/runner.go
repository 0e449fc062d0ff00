package executor

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/scheduler"
	"github.com/stride-run/stride/planner"
)

// activeChange is one app's part in a running deployment.
type activeChange struct {
	dep    *engine.Deployment
	change *engine.Change
	// current: the change belongs to the step being carried out; otherwise it is in
	// a later step and the app is held as it was (change.Before).
	current bool
}

// activeChanges indexes the running deployments by app id.
func (e *Executor) activeChanges() map[string]activeChange {
	out := map[string]activeChange{}
	for _, d := range e.deployments {
		for _, c := range d.Plan.Changes {
			if c.Step < d.CurrentStep {
				continue
			}
			out[c.ID] = activeChange{dep: d, change: c, current: c.Step == d.CurrentStep}
		}
	}
	return out
}

// decisions is what the executor wants to happen now.
type decisions struct {
	reqs       []scheduler.Request
	launchApps map[string]*engine.App
	kills      map[*taskState]string
	// seedKeys holds, per request, what its placements are seeded from: the id of
	// the deployment that launches them, or "<app id>@<version>" for an app kept
	// at its instance count outside any deployment.
	seedKeys []string
}

// decide computes, for every app, how many instances to launch and which tasks to
// kill: deployment steps follow their rolling bounds, apps held for a later step
// keep their old definition, every other app is kept at its instance count, and
// tasks of apps nobody owns are killed.
func (e *Executor) decide() decisions { return e.decideWith(e.newTickIndex().live) }

// decideWith is decide over live, the apps' live tasks sorted oldest first.
func (e *Executor) decideWith(live map[string][]*taskState) decisions {
	now := e.cfg.Now()
	d := decisions{launchApps: map[string]*engine.App{}, kills: map[*taskState]string{}}
	active := e.activeChanges()

	ids := make([]string, 0, len(e.apps)+len(active))
	seen := map[string]bool{}
	for id := range e.apps {
		ids, seen[id] = append(ids, id), true
	}
	for id := range active {
		if !seen[id] {
			ids, seen[id] = append(ids, id), true
		}
	}
	for id := range live {
		if _, aside := e.quarantined[id]; !seen[id] && !aside {
			// Orphans: tasks of apps that are neither stored nor being deployed.
			for _, t := range live[id] {
				d.kills[t] = "app no longer exists"
			}
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, aside := e.quarantined[id]; aside {
			continue
		}
		if err := e.guard("deciding for "+id, func() { e.decideApp(&d, id, live[id], active, now) }); err != nil {
			// Whatever the failed call had decided for the app is dropped.
			for t := range d.kills {
				if t.AppID == id {
					delete(d.kills, t)
				}
			}
			e.quarantine(id, fmt.Sprintf(reasonPanic, err))
		}
	}
	return d
}

// decideApp is decide for one app.
func (e *Executor) decideApp(d *decisions, id string, tasks []*taskState, active map[string]activeChange, now time.Time) {
	if e.decideHook != nil {
		e.decideHook(id)
	}
	var spec *engine.App
	launch := 0
	seedKey := ""
	if ac, ok := active[id]; ok {
		seedKey = ac.dep.ID
	}
	if ac, ok := active[id]; ok && ac.current && !e.holdForDependencies(id) {
		spec = e.apps[id]
		var kills map[*taskState]string
		launch, kills, _ = e.stepProgress(ac.dep, ac.change, spec, tasks)
		for t, why := range kills {
			d.kills[t] = why
		}
	} else {
		if ok {
			spec = ac.change.Before // held for a later step, or for its dependencies
		} else {
			spec = e.apps[id]
		}
		if spec == nil {
			for _, t := range tasks {
				d.kills[t] = "app no longer exists"
			}
			return
		}
		// Tasks doomed by their health checks (killsafety.go) are being
		// replaced: they do not count, and go first when scaling down.
		var n, doomed []*taskState
		for _, t := range notKilling(tasks) {
			if t.doomedAt.IsZero() {
				n = append(n, t)
			} else {
				doomed = append(doomed, t)
			}
		}
		launch = spec.Instances - len(n)
		if launch < 0 {
			for _, t := range doomed {
				d.kills[t] = "scaling down"
			}
			for _, t := range pickKills(spec, n, -launch) {
				d.kills[t] = "scaling down"
			}
			launch = 0
		}
	}
	if _, gaveUp := e.gaveUp[id]; gaveUp {
		launch = 0
	}
	if launch > 0 && spec != nil && e.launchDelayFor(id, now) == 0 {
		req := scheduler.Request{App: spec, Count: launch, Running: e.running(tasks)}
		d.reqs = append(d.reqs, req)
		d.launchApps[id] = spec
		if seedKey == "" {
			seedKey = id + "@" + spec.Version
		}
		d.seedKeys = append(d.seedKeys, seedKey)
	}
}

// running describes where tasks run, for constraint checks.
func (e *Executor) running(tasks []*taskState) []scheduler.Running {
	out := make([]scheduler.Running, 0, len(tasks))
	for _, t := range tasks {
		if t.killing {
			continue
		}
		out = append(out, scheduler.Running{AgentID: t.SlaveID, Hostname: t.Host, Attributes: e.agents[t.SlaveID].attributes})
	}
	return out
}

// pendingRequests returns what should be launched on the next offers, and the
// placement seed for them: derived from the deployment (or app version) of the
// first request, so that a placement can be replayed from the offers and the
// deployment id alone (scheduler.SeedOf).
func (e *Executor) pendingRequests() ([]scheduler.Request, map[string]*engine.App, int64) {
	d := e.decide()
	var seed int64
	if len(d.seedKeys) > 0 {
		seed = scheduler.SeedOf(d.seedKeys[0])
	}
	return d.reqs, d.launchApps, seed
}

// rollout is one change's tasks sorted the way the rolling arithmetic sees
// them, with the Fleet counted from them and the Move planner.NextMove makes of
// it.
type rollout struct {
	fleet planner.Fleet
	move  planner.Move
	// old are the live tasks the change replaces, fresh those running (or
	// starting) the target; neither holds tasks being killed.
	old, fresh []*taskState
	// deployed counts the fresh tasks that count as deployed (healthy, ready,
	// stable), oldHealthy the old ones that serve, healthyNotReady the fresh
	// ones that pass their health checks but not yet their readiness checks.
	deployed, oldHealthy, healthyNotReady int
	// appID is the change's app.
	appID string
}

// rollout counts the tasks of a change in the current step into a Fleet and
// asks planner.NextMove what to do (see there for the arithmetic, worked
// through).
func (e *Executor) rollout(dep *engine.Deployment, c *engine.Change, app *engine.App, tasks []*taskState, now time.Time) rollout {
	r := rollout{appID: c.ID}
	active := notKilling(tasks)
	r.fleet.Action = c.Action
	r.fleet.Killing = len(tasks) - len(active)
	if app != nil && c.Action != engine.ActionDestroy {
		r.fleet.Target = app.Instances
		r.fleet.MinHealthy, r.fleet.MaxRunning = planner.Bounds(app.Instances, app.UpgradeStrategy)
	}
	switch c.Action {
	case engine.ActionDestroy:
		r.old = active
	case engine.ActionRestart:
		var violating map[*taskState]bool
		if c.OnlyViolating {
			violating = e.violators(app, active)
		}
		for _, t := range active {
			if (c.OnlyViolating && violating[t]) || (!c.OnlyViolating && isOutdated(app, t, dep.Keep[c.ID])) {
				r.old = append(r.old, t)
			} else {
				r.fresh = append(r.fresh, t)
			}
		}
	default:
		r.fresh = active
	}
	r.fleet.Old, r.fleet.New = len(r.old), len(r.fresh)
	// While the app's circuit breaker is open its checks are not trusted: old
	// tasks that had been healthy and only fail their checks now are neither
	// capacity nor killed.
	distrust := e.safety[c.ID] != nil && e.safety[c.ID].breaker != ""
	for _, t := range r.old {
		switch {
		case app != nil && e.taskHealthy(app, t):
			r.fleet.OldHealthy++
		case app == nil || e.taskFailing(app, t) && !(distrust && protected(t)):
			r.fleet.OldFailing++
		}
	}
	r.oldHealthy = r.fleet.OldHealthy
	for _, t := range r.fresh {
		switch {
		case e.taskDeployed(app, t, now):
			r.fleet.NewReady++
		case app != nil && e.taskHealthy(app, t) && !e.taskReady(app, t):
			r.healthyNotReady++
		}
	}
	r.deployed = r.fleet.NewReady
	r.move = planner.NextMove(r.fleet)
	return r
}

// kills picks the tasks the move kills: old ones failing first, then healthy
// ones by the app's kill selection (a destroy's then the rest); excess new ones
// not yet running first.
func (e *Executor) rolloutKills(r *rollout, app *engine.App, kills map[*taskState]string) {
	why := "replaced by new version"
	if r.fleet.Action == engine.ActionDestroy {
		why = "app destroyed"
	} else if r.fleet.Action != engine.ActionRestart {
		why = "scaling down"
	}
	n := r.move.KillOld
	var healthy, unknown []*taskState
	distrust := e.safety[r.appID] != nil && e.safety[r.appID].breaker != ""
	for _, t := range r.old {
		switch {
		case app != nil && e.taskHealthy(app, t):
			healthy = append(healthy, t)
		case app == nil || e.taskFailing(app, t) && !(distrust && protected(t)):
			if n > 0 {
				kills[t] = why
				n--
			}
		default:
			unknown = append(unknown, t)
		}
	}
	for _, t := range pickKills(app, healthy, n) {
		kills[t] = why
		n--
	}
	if r.fleet.Action == engine.ActionDestroy {
		for _, t := range pickKills(app, unknown, n) {
			kills[t] = why
		}
	}
	for _, t := range pickKills(app, r.fresh, r.move.KillNew) {
		kills[t] = "scaling down"
	}
}

// stepProgress is the rolling arithmetic of one change in the current step: how
// many new tasks to start, which tasks to kill, and whether the change is done.
// It counts the tasks and lets planner.NextMove decide (see there, worked
// through).
func (e *Executor) stepProgress(dep *engine.Deployment, c *engine.Change, app *engine.App, tasks []*taskState) (launch int, kills map[*taskState]string, done bool) {
	r := e.rollout(dep, c, app, tasks, e.cfg.Now())
	kills = map[*taskState]string{}
	e.rolloutKills(&r, app, kills)
	return r.move.Start, kills, r.move.Done
}

// holdForDependencies says whether an app of a current step is held for its
// dependencies: it waits for one, or — it has some — they were not looked at
// since its step began (an apply that offers could follow before the next
// look at the deployments).
func (e *Executor) holdForDependencies(id string) bool {
	waiting, checked := e.waitFor[id]
	if !checked {
		a := e.apps[id]
		return a != nil && len(a.Dependencies) > 0
	}
	return waiting != ""
}

// protected says whether an open circuit breaker shields the task from being
// treated as broken for its failing checks: it runs and had been healthy.
func protected(t *taskState) bool {
	return t.State == engine.TaskRunning && !t.healthyAt.IsZero()
}

// taskDeployed reports whether a task counts as deployed: running, not being
// killed, passing every health check — or, for an app without health checks,
// running for at least StableAfter — and ready (every readiness check passed).
func (e *Executor) taskDeployed(app *engine.App, t *taskState, now time.Time) bool {
	if app == nil || !e.taskHealthy(app, t) {
		return false
	}
	if len(app.HealthChecks) == 0 && now.Sub(t.runningAt) < e.cfg.StableAfter {
		return false
	}
	return e.taskReady(app, t)
}

// isOutdated reports whether the task runs an older configuration than the
// app's. keep lists task versions known to run the app's configuration all the
// same (a revert's Deployment.Keep).
func isOutdated(app *engine.App, t *taskState, keep []string) bool {
	cfg := app.Version
	if app.VersionInfo != nil && app.VersionInfo.LastConfigChangeAt != "" {
		cfg = app.VersionInfo.LastConfigChangeAt
	}
	return t.Version < cfg && !slices.Contains(keep, t.Version)
}

func notKilling(ts []*taskState) []*taskState {
	out := make([]*taskState, 0, len(ts))
	for _, t := range ts {
		if !t.killing {
			out = append(out, t)
		}
	}
	return out
}

func sortTasks(ts []*taskState) {
	sort.Slice(ts, func(i, j int) bool {
		if !ts[i].stagedAt.Equal(ts[j].stagedAt) {
			return ts[i].stagedAt.Before(ts[j].stagedAt)
		}
		return ts[i].ID < ts[j].ID
	})
}

// pickKills chooses n tasks to kill: not-yet-running ones first, then by the app's
// kill selection (YOUNGEST_FIRST by default). ts is sorted oldest first.
func pickKills(app *engine.App, ts []*taskState, n int) []*taskState {
	if n <= 0 {
		return nil
	}
	cand := append([]*taskState(nil), ts...)
	youngest := app == nil || app.KillSelection != engine.KillOldestFirst
	sort.SliceStable(cand, func(i, j int) bool {
		ri, rj := cand[i].State == engine.TaskRunning, cand[j].State == engine.TaskRunning
		if ri != rj {
			return !ri
		}
		if youngest {
			return cand[i].stagedAt.After(cand[j].stagedAt)
		}
		return cand[i].stagedAt.Before(cand[j].stagedAt)
	})
	if n > len(cand) {
		n = len(cand)
	}
	return cand[:n]
}

// violators returns the tasks that break the app's (new) constraints, as the
// scheduler judges them (the oldest tasks are kept where a limit per value
// applies: ts is sorted oldest first).
func (e *Executor) violators(app *engine.App, ts []*taskState) map[*taskState]bool {
	out := map[*taskState]bool{}
	run := make([]scheduler.Running, len(ts))
	for i, t := range ts {
		run[i] = scheduler.Running{AgentID: t.SlaveID, Hostname: t.Host, Attributes: e.agents[t.SlaveID].attributes}
	}
	for _, i := range scheduler.Violators(app, run) {
		out[ts[i]] = true
	}
	return out
}

// housekeeping runs every tick on the actor: advance deployments, issue kills,
// suppress or revive offers, reconcile and flush periodically.
func (e *Executor) housekeeping(ctx context.Context) {
	now := e.cfg.Now()
	// Tasks come and go only in other actor calls: one index serves the tick.
	ix := e.newTickIndex()
	e.advanceDeployments(ctx, ix)
	e.startQueued(ctx)
	e.noteGood(now, ix)
	e.healthKills(ctx, now, ix)
	d := e.decideWith(ix.live)
	for t, why := range d.kills {
		e.killTask(ctx, t, why)
	}
	// The view shows what this tick decided rather than deciding again.
	pending := make(map[string]int, len(d.reqs))
	for _, r := range d.reqs {
		pending[r.App.ID] = r.Count
	}
	if !maps.Equal(pending, e.pending) {
		e.pending, e.viewDirty = pending, true
	}
	e.endLaunchAttempts(pending, now)
	for _, t := range e.tasks {
		if t.State == engine.TaskStaging && !t.killing && now.Sub(t.stagedAt) > e.cfg.LaunchTimeout {
			e.killTask(ctx, t, fmt.Sprintf("still staging after %v", e.cfg.LaunchTimeout))
		}
	}
	e.setSuppressed(ctx, len(d.reqs) == 0)
	e.unreachableHousekeeping(ctx, now)
	if e.connected && now.Sub(e.lastRecon) >= e.cfg.ReconcileInterval {
		e.reconcile(ctx)
	} else {
		e.reconcileUnanswered(ctx, now)
	}
	if len(e.dirtyTasks) > 0 {
		e.flushTasks(ctx)
	}
}

// advanceDeployments moves each running deployment past the steps that are done,
// persisting its progress after every step.
func (e *Executor) advanceDeployments(ctx context.Context, ix *tickIndex) {
	e.waitFor = map[string]string{}
	if len(e.deployments) == 0 {
		return
	}
	ids := make([]string, 0, len(e.deployments))
	for id := range e.deployments {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		dep := e.deployments[id]
		if app, why := e.quarantinedChange(dep); app != "" {
			e.failDeployment(ctx, dep, fmt.Sprintf(reasonBadDeploy, "app "+app+" is set aside: "+why))
			continue
		}
		if err := e.guard("deployment "+id, func() { e.advanceDeployment(ctx, dep, ix) }); err != nil {
			e.failDeployment(ctx, dep, fmt.Sprintf(reasonBadDeploy, "internal error: "+err.Error()))
		}
	}
}

// advanceDeployment is advanceDeployments for one deployment: it records the
// progress of the current step's changes, fails the deployment when one of them
// passed its progress deadline, and moves past the steps that are done,
// persisting its progress.
func (e *Executor) advanceDeployment(ctx context.Context, dep *engine.Deployment, ix *tickIndex) {
	id := dep.ID
	now := e.cfg.Now()
	dirty := false
	for dep.CurrentStep < len(dep.Plan.Steps) {
		done, changed, failure := e.checkStep(dep, ix, now)
		dirty = dirty || changed
		if failure != "" {
			mode := noRevert
			if wantsRevert(dep) {
				mode = revertToLastGood
			}
			_, _ = e.endDeployment(ctx, dep, engine.DeploymentFailed, failure, mode)
			return
		}
		if !done {
			break
		}
		step := dep.Plan.Steps[dep.CurrentStep]
		for _, a := range step.Actions {
			if a.Action == engine.ActionDestroy {
				e.bus.Publish(EventAppTerminated, now, AppTerminated{AppID: a.ID})
			}
		}
		e.bus.Publish(EventDeploymentStepSuccess, now, DeploymentStepEvent{Plan: marathonPlan(dep), CurrentStep: marathonStep(step)})
		dep.CurrentStep++
		startStep(dep, now)
		dirty = true
		if dep.CurrentStep < len(dep.Plan.Steps) {
			e.logf("deployment %s: step %d/%d", dep.ID, dep.CurrentStep+1, len(dep.Plan.Steps))
			e.bus.Publish(EventDeploymentInfo, now, DeploymentStepEvent{Plan: marathonPlan(dep), CurrentStep: marathonStep(dep.Plan.Steps[dep.CurrentStep])})
		}
	}
	if dep.CurrentStep >= len(dep.Plan.Steps) {
		dep.Status = engine.DeploymentSucceeded
		dep.FinishedAt = FormatTime(now)
	}
	if !dirty && dep.Status == engine.DeploymentRunning {
		return
	}
	cp := *dep
	cp.Deadlines = append([]engine.Deadline(nil), dep.Deadlines...)
	if err := e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
		e.logf("executor: %v", err)
		return
	}
	e.viewDirty = true
	if dep.Status == engine.DeploymentSucceeded {
		for _, c := range dep.Plan.Changes {
			if a := e.apps[c.ID]; a != nil && c.Action != engine.ActionDestroy {
				e.lastGood[c.ID] = a.Version
			} else {
				delete(e.lastGood, c.ID)
			}
		}
		delete(e.deployments, id)
		e.remember(dep)
		e.logf("deployment %s succeeded", dep.ID)
		e.cfg.Metrics.DeploymentFinished(engine.DeploymentSucceeded)
		e.bus.Publish(EventDeploymentSuccess, now, DeploymentSuccess{ID: dep.ID, Plan: marathonPlan(dep)})
	}
}

// checkStep looks at every change of the deployment's current step: done says
// whether all of them are, changed whether their progress bookkeeping moved
// (and must be written), failure why the deployment fails ("" when it goes on).
func (e *Executor) checkStep(dep *engine.Deployment, ix *tickIndex, now time.Time) (done, changed bool, failure string) {
	done = true
	deadlines := deadlineIndex(dep, now)
	for _, c := range dep.Plan.Changes {
		if c.Step != dep.CurrentStep {
			continue
		}
		app := e.apps[c.ID]
		if c.Action == engine.ActionDestroy {
			app = c.Before
		} else if app == nil {
			continue
		}
		dl := &dep.Deadlines[deadlines[c.ID]]
		waiting := ""
		if c.Action != engine.ActionDestroy {
			var failed string
			waiting, failed = e.dependencyState(app, ix, now)
			if failed != "" {
				if failure == "" {
					failure = c.ID + ": " + failed
				}
				done = false
				continue
			}
			// Dependencies gate the start only: once begun, a change goes on.
			if dl.Started {
				waiting = ""
			} else if waiting == "" {
				dl.Started, changed = true, true
			}
		}
		r := e.rollout(dep, c, app, ix.live[c.ID], now)
		// Checked ("" when not waiting): decide holds the app until it is.
		e.waitFor[c.ID] = waiting
		if waiting != "" {
			// Held until its dependencies are up: no progress to make.
			r.move.Done = false
		}
		moved, expired := e.track(dl, &r, app, now)
		changed = changed || moved
		if r.move.Done {
			continue
		}
		done = false
		if why, gaveUp := e.gaveUp[c.ID]; gaveUp && failure == "" {
			failure = why
		}
		if expired && failure == "" {
			if waiting == "" {
				waiting = e.waitingText(c.ID)
			}
			failure = e.stallReason(c, &r, dl, waiting)
		}
	}
	if failure != "" {
		failure += notStarted(dep)
	}
	return done, changed, failure
}

// notStarted names the apps of the deployment's later steps, which a failure
// leaves as they were: "; not started: /shop/web, /shop/worker".
func notStarted(dep *engine.Deployment) string {
	var ids []string
	for _, c := range dep.Plan.Changes {
		if c.Step > dep.CurrentStep {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	sort.Strings(ids)
	return "; not started: " + strings.Join(ids, ", ")
}

// liveTasks returns the app's tasks that are not gone, oldest first.
func (e *Executor) liveTasks(appID string) []*taskState {
	var tasks []*taskState
	for _, t := range e.tasks {
		if t.AppID == appID && !isGone(t.State) {
			tasks = append(tasks, t)
		}
	}
	sortTasks(tasks)
	return tasks
}

// waitingText is why the app's pending instances wait ("" when they do not).
func (e *Executor) waitingText(appID string) string {
	if un := e.unplaced[appID]; un != nil {
		return un.Message
	}
	return ""
}
