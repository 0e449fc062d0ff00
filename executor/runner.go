package executor

import (
	"context"
	"fmt"
	"maps"
	"sort"
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
}

// decide computes, for every app, how many instances to launch and which tasks to
// kill: deployment steps follow their rolling bounds, apps held for a later step
// keep their old definition, every other app is kept at its instance count, and
// tasks of apps nobody owns are killed.
func (e *Executor) decide() decisions {
	now := e.cfg.Now()
	d := decisions{launchApps: map[string]*engine.App{}, kills: map[*taskState]string{}}
	active := e.activeChanges()

	live := map[string][]*taskState{}
	for _, t := range e.tasks {
		if e.counts(t, now) {
			live[t.AppID] = append(live[t.AppID], t)
		}
	}
	for _, ts := range live {
		sortTasks(ts)
	}
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
	if ac, ok := active[id]; ok && ac.current {
		spec = e.apps[id]
		var kills map[*taskState]string
		launch, kills, _ = e.stepProgress(ac.change, spec, tasks)
		for t, why := range kills {
			d.kills[t] = why
		}
	} else {
		if ok {
			spec = ac.change.Before // held for a later step
		} else {
			spec = e.apps[id]
		}
		if spec == nil {
			for _, t := range tasks {
				d.kills[t] = "app no longer exists"
			}
			return
		}
		n := notKilling(tasks)
		launch = spec.Instances - len(n)
		if launch < 0 {
			for _, t := range pickKills(spec, n, -launch) {
				d.kills[t] = "scaling down"
			}
			launch = 0
		}
	}
	if launch > 0 && spec != nil && e.launchDelayFor(id, now) == 0 {
		req := scheduler.Request{App: spec, Count: launch, Running: e.running(tasks)}
		d.reqs = append(d.reqs, req)
		d.launchApps[id] = spec
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

// pendingRequests returns what should be launched on the next offers.
func (e *Executor) pendingRequests() ([]scheduler.Request, map[string]*engine.App) {
	d := e.decide()
	return d.reqs, d.launchApps
}

// stepProgress is the rolling arithmetic of one change in the current step: how
// many new tasks to start, which tasks to kill, and whether the change is done.
//
// Restart, worked through: instances 4, minimumHealthCapacity 0.5,
// maximumOverCapacity 0.25 → at least 2 healthy, at most 5 running. With 4 healthy
// old tasks: start 1 new (5 running) and kill 2 old (2 healthy left); once the new
// one is healthy (3 healthy): start 2 new, kill 1 old; and so on until no old task
// is left and 4 new ones are healthy.
func (e *Executor) stepProgress(c *engine.Change, app *engine.App, tasks []*taskState) (launch int, kills map[*taskState]string, done bool) {
	kills = map[*taskState]string{}
	active := notKilling(tasks)
	killingCount := len(tasks) - len(active)
	switch c.Action {
	case engine.ActionDestroy:
		for _, t := range tasks {
			kills[t] = "app destroyed"
		}
		return 0, kills, len(tasks) == 0
	case engine.ActionUpdate:
		launch = app.Instances - len(active)
		if launch < 0 {
			for _, t := range pickKills(app, active, -launch) {
				kills[t] = "scaling down"
			}
			launch = 0
		}
		return launch, kills, true
	case engine.ActionCreate, engine.ActionScale:
		target := app.Instances
		if len(active) < target {
			launch = target - len(active)
		} else if len(active) > target {
			for _, t := range pickKills(app, active, len(active)-target) {
				kills[t] = "scaling down"
			}
		}
		healthy := 0
		for _, t := range active {
			if e.taskHealthy(app, t) {
				healthy++
			}
		}
		return launch, kills, killingCount == 0 && len(active) == target && healthy >= target
	}

	// Restart.
	target := app.Instances
	var old, fresh []*taskState
	violating := map[*taskState]bool{}
	if c.OnlyViolating {
		violating = e.violators(app, active)
	}
	for _, t := range active {
		if (c.OnlyViolating && violating[t]) || (!c.OnlyViolating && isOutdated(app, t)) {
			old = append(old, t)
		} else {
			fresh = append(fresh, t)
		}
	}
	minHealthy, maxRunning := planner.Bounds(target, app.UpgradeStrategy)
	healthyOld, healthyNew := 0, 0
	var failingOld, healthyOldTasks []*taskState
	for _, t := range old {
		switch {
		case e.taskHealthy(app, t):
			healthyOld++
			healthyOldTasks = append(healthyOldTasks, t)
		case e.taskFailing(app, t):
			failingOld = append(failingOld, t)
		}
	}
	for _, t := range fresh {
		if e.taskHealthy(app, t) {
			healthyNew++
		}
	}
	if len(fresh) > target {
		for _, t := range pickKills(app, fresh, len(fresh)-target) {
			kills[t] = "scaling down"
		}
		fresh = fresh[:target]
	}
	// Failing old tasks count toward nothing but capacity: kill them freely. Old
	// tasks whose health is not known yet are kept until it is.
	for _, t := range failingOld {
		kills[t] = "replaced by new version"
	}
	running := len(old) + len(fresh) + killingCount
	if start := min(maxRunning-running, target-len(fresh)); start > 0 {
		launch = start
	}
	if allowed := healthyOld + healthyNew - minHealthy; allowed > 0 {
		// Never leave more old tasks than there is room for new ones to replace.
		for _, t := range pickKills(app, healthyOldTasks, min(allowed, len(healthyOldTasks))) {
			kills[t] = "replaced by new version"
		}
	}
	done = len(old) == 0 && killingCount == 0 && len(fresh) == target && healthyNew >= target
	return launch, kills, done
}

// isOutdated reports whether the task runs an older configuration than the app's.
func isOutdated(app *engine.App, t *taskState) bool {
	cfg := app.Version
	if app.VersionInfo != nil && app.VersionInfo.LastConfigChangeAt != "" {
		cfg = app.VersionInfo.LastConfigChangeAt
	}
	return t.Version < cfg
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
	e.advanceDeployments(ctx)
	d := e.decide()
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
func (e *Executor) advanceDeployments(ctx context.Context) {
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
		if err := e.guard("deployment "+id, func() { e.advanceDeployment(ctx, dep) }); err != nil {
			e.failDeployment(ctx, dep, fmt.Sprintf(reasonBadDeploy, "internal error: "+err.Error()))
		}
	}
}

// advanceDeployment is advanceDeployments for one deployment.
func (e *Executor) advanceDeployment(ctx context.Context, dep *engine.Deployment) {
	id := dep.ID
	moved := false
	for dep.CurrentStep < len(dep.Plan.Steps) {
		if !e.stepDone(dep) {
			break
		}
		e.bus.Publish("deployment_step_success", e.cfg.Now(), map[string]any{
			"plan": marathonPlan(dep), "currentStep": marathonStep(dep.Plan.Steps[dep.CurrentStep]),
		})
		dep.CurrentStep++
		moved = true
		if dep.CurrentStep < len(dep.Plan.Steps) {
			e.logf("deployment %s: step %d/%d", dep.ID, dep.CurrentStep+1, len(dep.Plan.Steps))
			e.bus.Publish("deployment_info", e.cfg.Now(), map[string]any{
				"plan": marathonPlan(dep), "currentStep": marathonStep(dep.Plan.Steps[dep.CurrentStep]),
			})
		}
	}
	if dep.CurrentStep >= len(dep.Plan.Steps) {
		dep.Status = engine.DeploymentSucceeded
		dep.FinishedAt = FormatTime(e.cfg.Now())
	}
	if !moved && dep.Status == engine.DeploymentRunning {
		return
	}
	cp := *dep
	if err := e.commit(ctx, engine.Txn{PutDeployments: []*engine.Deployment{&cp}}); err != nil {
		e.logf("executor: %v", err)
		return
	}
	e.viewDirty = true
	if dep.Status == engine.DeploymentSucceeded {
		delete(e.deployments, id)
		e.remember(dep)
		e.logf("deployment %s succeeded", dep.ID)
		e.bus.Publish("deployment_success", e.cfg.Now(), map[string]any{"id": dep.ID, "plan": marathonPlan(dep)})
	}
}

// stepDone reports whether every action of the deployment's current step is done.
func (e *Executor) stepDone(dep *engine.Deployment) bool {
	step := dep.Plan.Steps[dep.CurrentStep]
	byID := map[string]*engine.Change{}
	for _, c := range dep.Plan.Changes {
		byID[c.ID] = c
	}
	for _, a := range step.Actions {
		c := byID[a.ID]
		if c == nil {
			continue
		}
		var tasks []*taskState
		now := e.cfg.Now()
		for _, t := range e.tasks {
			if t.AppID == c.ID && e.counts(t, now) {
				tasks = append(tasks, t)
			}
		}
		sortTasks(tasks)
		app := e.apps[c.ID]
		if app == nil && c.Action != engine.ActionDestroy {
			continue
		}
		if _, _, done := e.stepProgress(c, app, tasks); !done {
			return false
		}
	}
	return true
}
