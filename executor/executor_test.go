package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/scheduler"
	"github.com/stride-run/stride/planner"
)

func TestCreateWritesIntentBeforeLaunchAndSucceeds(t *testing.T) {
	h := newHarness(t)
	dep := h.apply(spec(testApp("/web", 3, "sleep 100")))
	if dep == nil {
		t.Fatal("no deployment")
	}
	if got := h.store.snap.Deployments[dep.ID]; got == nil || got.Status != engine.DeploymentRunning {
		t.Fatalf("deployment not persisted as running: %+v", got)
	}
	h.offer(1)
	if len(h.mesos.launched) != 3 {
		t.Fatalf("launched %d tasks, want 3", len(h.mesos.launched))
	}
	for _, ti := range h.mesos.launched {
		if _, ok := h.store.snap.Tasks[ti.TaskID.Value]; !ok {
			t.Errorf("task %s launched without a stored record", ti.TaskID.Value)
		}
		env := map[string]string{}
		for _, v := range ti.Command.Environment.Variables {
			env[v.Name] = v.GetValue()
		}
		for _, k := range []string{"HOST", "PORT0", "PORT", "PORTS", "PORT_HTTP", "MARATHON_APP_ID", "MARATHON_APP_VERSION", "MESOS_TASK_ID"} {
			if env[k] == "" {
				t.Errorf("task env lacks %s: %v", k, env)
			}
		}
		if env["MARATHON_APP_ID"] != "/web" || env["MESOS_TASK_ID"] != ti.TaskID.Value {
			t.Errorf("wrong env: %v", env)
		}
		if !strings.HasPrefix(ti.TaskID.Value, "web.") || engine.AppIDFromTaskID(ti.TaskID.Value) != "/web" {
			t.Errorf("task id %q is not Marathon's legacy form", ti.TaskID.Value)
		}
	}
	h.tick()
	if h.store.snap.Deployments[dep.ID].Status != engine.DeploymentRunning {
		t.Fatal("deployment finished before tasks ran")
	}
	h.runLaunched()
	h.settle()
	h.tick()
	if got := h.store.snap.Deployments[dep.ID].Status; got != engine.DeploymentSucceeded {
		t.Fatalf("deployment status %q, want succeeded", got)
	}
	// Nothing pending any more: offers are declined and suppressed.
	h.offer(1)
	if len(h.mesos.launched) != 3 || h.mesos.suppressed == 0 {
		t.Fatalf("launched %d, suppressed %d: want 3 launches and a suppress", len(h.mesos.launched), h.mesos.suppressed)
	}
}

// TestRollingRestartKeepsBounds samples the task counts after every event of a
// rolling restart and checks the upgrade strategy's bounds.
func TestRollingRestartKeepsBounds(t *testing.T) {
	cases := map[string]struct {
		instances int
		minHealth float64
		over      float64
	}{
		"half down, quarter over": {4, 0.5, 0.25},
		"full health, full over":  {3, 1, 1},
		"full health, no over":    {3, 1, 0},
		"no health, no over":      {5, 0, 0},
		"ten, 0.5, 0.2":           {10, 0.5, 0.2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			app := testApp("/api", tc.instances, "v1")
			app.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: tc.minHealth, MaximumOverCapacity: tc.over}
			h.apply(spec(app))
			h.offer(2)
			h.runLaunched()
			h.settle()
			h.tick()
			if len(h.e.deployments) != 0 {
				t.Fatal("create did not finish")
			}
			v2 := app.Clone()
			v2.Cmd = "v2"
			h.clock.advance(time.Second)
			dep := h.apply(spec(v2))
			if dep == nil || dep.Plan.Changes[0].Action != engine.ActionRestart {
				t.Fatalf("want a restart deployment, got %+v", dep)
			}
			minHealthy, maxRunning := planner.Bounds(tc.instances, app.UpgradeStrategy)
			check := func(when string) {
				t.Helper()
				live, running := h.count("/api")
				if live > maxRunning {
					t.Fatalf("%s: %d tasks alive, bound is %d", when, live, maxRunning)
				}
				if running < minHealthy {
					t.Fatalf("%s: %d healthy, bound is %d", when, running, minHealthy)
				}
			}
			for i := 0; i < 100 && len(h.e.deployments) > 0; i++ {
				h.tick()
				check("after tick")
				h.finishKills()
				check("after kills")
				h.offer(2)
				check("after offers")
				h.runLaunched()
				h.settle()
				check("after running")
				h.clock.advance(100 * time.Millisecond)
			}
			if len(h.e.deployments) != 0 {
				t.Fatal("restart did not finish in 100 rounds")
			}
			for _, tk := range h.e.tasks {
				if isOutdated(h.e.apps["/api"], tk, nil) {
					t.Errorf("task %s still runs the old version", tk.ID)
				}
			}
			if live, running := h.count("/api"); live != tc.instances || running != tc.instances {
				t.Fatalf("after restart: %d live, %d running; want %d", live, running, tc.instances)
			}
		})
	}
}

func TestScaleDownKillsYoungestFirst(t *testing.T) {
	h := newHarness(t)
	app := testApp("/web", 3, "sleep 100")
	h.apply(spec(app))
	h.offer(1)
	launched := append([]mesos.TaskInfo(nil), h.mesos.launched...)
	h.runLaunched()
	h.settle()
	h.tick()
	// Make the staging times distinct: first launched is oldest.
	for i, ti := range launched {
		h.e.tasks[ti.TaskID.Value].stagedAt = h.clock.t.Add(time.Duration(i) * time.Second)
	}
	small := app.Clone()
	small.Instances = 1
	dep := h.apply(spec(small))
	if dep.Plan.Changes[0].Action != engine.ActionScale {
		t.Fatalf("want scale, got %s", dep.Plan.Changes[0].Action)
	}
	h.tick()
	want := []string{launched[2].TaskID.Value, launched[1].TaskID.Value}
	if len(h.mesos.killed) != 2 || !sameSet(h.mesos.killed, want) {
		t.Fatalf("killed %v, want the two youngest %v", h.mesos.killed, want)
	}
	h.finishKills()
	h.tick()
	if len(h.e.deployments) != 0 {
		t.Fatal("scale did not finish")
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

func TestCrashLoopBacksOffExponentially(t *testing.T) {
	h := newHarness(t)
	app := testApp("/crash", 1, "exit 1")
	app.BackoffSeconds, app.BackoffFactor, app.MaxLaunchDelaySeconds = 2, 2, 5
	h.apply(spec(app))
	wantDelays := []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, delay := range wantDelays {
		h.offer(1)
		if len(h.mesos.launched) != i+1 {
			t.Fatalf("round %d: %d launches, want %d", i, len(h.mesos.launched), i+1)
		}
		id := h.mesos.launched[i].TaskID.Value
		h.status(id, mesos.TASK_RUNNING, "")
		h.status(id, mesos.TASK_FAILED, "Command exited with status 1")
		if lf := h.e.lastFailure["/crash"]; lf == nil || lf.State != engine.TaskFailed || lf.TaskID != id {
			t.Fatalf("round %d: lastTaskFailure = %+v", i, lf)
		}
		// Just before the delay is over: still waiting.
		h.clock.advance(delay - 10*time.Millisecond)
		h.offer(1)
		if len(h.mesos.launched) != i+1 {
			t.Fatalf("round %d: launched during the %v backoff", i, delay)
		}
		h.clock.advance(10 * time.Millisecond)
	}
}

func TestBackoffResetsAfterHealthyRun(t *testing.T) {
	h := newHarness(t)
	app := testApp("/flaky", 1, "sleep 5")
	app.BackoffSeconds, app.BackoffFactor = 1, 4
	h.apply(spec(app))
	h.offer(1)
	id := h.mesos.launched[0].TaskID.Value
	h.status(id, mesos.TASK_RUNNING, "")
	h.status(id, mesos.TASK_FAILED, "boom")
	h.clock.advance(time.Second)
	h.offer(1)
	id = h.mesos.launched[1].TaskID.Value
	h.status(id, mesos.TASK_RUNNING, "")
	h.clock.advance(11 * time.Second) // longer than StableAfter: it had been healthy
	h.status(id, mesos.TASK_FAILED, "boom")
	if d := h.e.launchDelayFor("/flaky", h.clock.t); d != time.Second {
		t.Fatalf("delay after a healthy run = %v, want the initial 1s", d)
	}
}

func TestDestroyKillsDependentsFirst(t *testing.T) {
	h := newHarness(t)
	db := testApp("/db", 1, "db")
	api := testApp("/api", 2, "api")
	api.Dependencies = []string{"/db"}
	h.apply(spec(db, api))
	for i := 0; i < 5 && len(h.e.deployments) > 0; i++ {
		h.offer(1)
		h.runLaunched()
		h.settle()
		h.tick()
	}
	if len(h.e.deployments) != 0 {
		t.Fatal("create did not finish")
	}
	dep := h.apply(spec())
	if dep == nil || len(dep.Plan.Steps) != 2 {
		t.Fatalf("want a two-step destroy, got %+v", dep)
	}
	h.tick()
	for _, id := range h.mesos.killed {
		if engine.AppIDFromTaskID(id) != "/api" {
			t.Fatalf("killed %s before /api was gone", id)
		}
	}
	if len(h.mesos.killed) != 2 {
		t.Fatalf("killed %v, want both /api tasks", h.mesos.killed)
	}
	h.finishKills()
	h.tick()
	h.tick()
	if len(h.mesos.killed) != 3 || engine.AppIDFromTaskID(h.mesos.killed[2]) != "/db" {
		t.Fatalf("killed %v, want /db last", h.mesos.killed)
	}
	h.finishKills()
	h.tick()
	if len(h.e.deployments) != 0 || len(h.e.tasks) != 0 || len(h.store.snap.Apps) != 0 {
		t.Fatalf("destroy left deployments=%d tasks=%d apps=%d", len(h.e.deployments), len(h.e.tasks), len(h.store.snap.Apps))
	}
}

func TestNewLeaderResumesDeployment(t *testing.T) {
	h := newHarness(t)
	dep := h.apply(spec(testApp("/web", 4, "sleep 100")))
	h.offer(1)
	h.status(h.mesos.launched[0].TaskID.Value, mesos.TASK_RUNNING, "")
	h.status(h.mesos.launched[1].TaskID.Value, mesos.TASK_RUNNING, "")
	launched := append([]mesos.TaskInfo(nil), h.mesos.launched...)

	// The leader dies here. The next one loads the store.
	h.restart()
	if _, ok := h.e.deployments[dep.ID]; !ok {
		t.Fatal("new leader lost the running deployment")
	}
	if len(h.e.tasks) != 4 {
		t.Fatalf("new leader knows %d tasks, want 4", len(h.e.tasks))
	}
	h.e.onSubscribed(h.ctx, "fw-1", false)
	if len(h.mesos.reconciled) != 2 || len(h.mesos.reconciled[0]) != 4 || len(h.mesos.reconciled[1]) != 0 {
		t.Fatalf("reconciled %v, want the 4 known tasks (explicit), then all (implicit)", h.mesos.reconciled)
	}
	// Mesos answers: two running, two never arrived.
	h.status(launched[0].TaskID.Value, mesos.TASK_RUNNING, "")
	h.status(launched[1].TaskID.Value, mesos.TASK_RUNNING, "")
	h.status(launched[2].TaskID.Value, mesos.TASK_LOST, "unknown task")
	h.status(launched[3].TaskID.Value, mesos.TASK_LOST, "unknown task")
	h.offer(1)
	if len(h.mesos.launched) != 2 {
		t.Fatalf("new leader launched %d, want the 2 lost ones replaced", len(h.mesos.launched))
	}
	h.runLaunched()
	h.settle()
	h.tick()
	if got := h.store.snap.Deployments[dep.ID].Status; got != engine.DeploymentSucceeded {
		t.Fatalf("resumed deployment status %q", got)
	}
}

func TestStalePlanAndLockedAppsChangeNothing(t *testing.T) {
	h := newHarness(t)
	h.apply(spec(testApp("/web", 1, "a")))
	commits := len(h.store.commits)
	stale := uint64(0)
	_, err := h.e.apply(h.ctx, ApplyRequest{Spec: spec(testApp("/web", 2, "a")), ExpectSerial: &stale})
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("err = %v, want stale", err)
	}
	_, err = h.e.apply(h.ctx, ApplyRequest{Spec: spec(testApp("/web", 2, "a"))})
	var locked *LockedError
	if !errors.As(err, &locked) || len(locked.Deployments) != 1 {
		t.Fatalf("err = %v, want locked", err)
	}
	if len(h.store.commits) != commits {
		t.Fatalf("refused applies wrote %d commits", len(h.store.commits)-commits)
	}
	res, err := h.e.apply(h.ctx, ApplyRequest{Spec: spec(testApp("/web", 2, "a")), Force: true})
	if err != nil || res.Deployment == nil {
		t.Fatalf("forced apply: %v", err)
	}
	if h.store.snap.Deployments[locked.Deployments[0]].Status != engine.DeploymentCancelled {
		t.Fatal("forced apply did not cancel the running deployment")
	}
}

func TestUnknownRunningTaskIsKilled(t *testing.T) {
	h := newHarness(t)
	h.status("ghost.1234", mesos.TASK_RUNNING, "")
	if len(h.mesos.killed) != 1 || h.mesos.killed[0] != "ghost.1234" {
		t.Fatalf("killed %v, want the unknown task", h.mesos.killed)
	}
}

func TestHealthCheckFailuresKillAndBackOff(t *testing.T) {
	h := newHarness(t)
	app := testApp("/hc", 1, "serve")
	zero := 0
	app.HealthChecks = []engine.HealthCheck{{Protocol: engine.ProtoHTTP, Path: "/", PortIndex: &zero,
		GracePeriodSeconds: 5, IntervalSeconds: 1, TimeoutSeconds: 1, MaxConsecutiveFailures: 3}}
	// No room above the instances: the task is killed before it is replaced.
	app.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 0}
	h.apply(spec(app))
	h.offer(1)
	id := h.mesos.launched[0].TaskID.Value
	h.e.health.stopAll()
	h.status(id, mesos.TASK_RUNNING, "")
	h.e.health.stopAll() // the test feeds results itself
	hc := app.HealthChecks[0]
	// Within the grace period failures do not count.
	for i := 0; i < 5; i++ {
		h.e.healthResult(id, 0, hc, "connection refused")
	}
	if h.e.tasks[id].killing {
		t.Fatal("killed during the grace period")
	}
	h.clock.advance(6 * time.Second)
	h.e.healthResult(id, 0, hc, "")
	if !h.e.taskHealthy(app, h.e.tasks[id]) {
		t.Fatal("task not healthy after a passing check")
	}
	for i := 0; i < 2; i++ {
		h.e.healthResult(id, 0, hc, "500 Internal Server Error")
	}
	if h.e.tasks[id].killing {
		t.Fatal("killed after 2 failures; max is 3")
	}
	h.e.healthResult(id, 0, hc, "500 Internal Server Error")
	h.tick()
	if !h.e.tasks[id].killing || len(h.mesos.killed) != 1 {
		t.Fatal("not killed after 3 consecutive failures")
	}
	h.status(id, mesos.TASK_KILLED, "")
	h.offer(1)
	if len(h.mesos.launched) != 1 {
		t.Fatal("replacement launched without backoff")
	}
	h.clock.advance(time.Second)
	h.offer(1)
	if len(h.mesos.launched) != 2 {
		t.Fatalf("no replacement after the backoff: %d launches", len(h.mesos.launched))
	}
}

func TestUnplacedReasonIsVisible(t *testing.T) {
	h := newHarness(t)
	app := testApp("/big", 1, "x")
	app.Cpus = 100
	h.apply(spec(app))
	h.offer(2)
	h.e.publish()
	st := h.e.View().App("/big")
	if st == nil || !strings.Contains(st.Waiting, "agents considered") {
		t.Fatalf("waiting reason = %+v", st)
	}
}

// Config.Drain runs before a task is first asked to be killed — so the Consul
// registry takes it out of DNS before SIGTERM — once per task, even when the
// kill is asked again; a failing drain does not stop the kill.
func TestDrainRunsBeforeTheKill(t *testing.T) {
	h := newHarness(t)
	var drained []string
	h.e.cfg.Drain = func(ctx context.Context, tk engine.Task) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("drain without a deadline")
		}
		if slices.Contains(h.mesos.killed, tk.ID) {
			t.Errorf("%s was killed before it was drained", tk.ID)
		}
		drained = append(drained, tk.ID)
		return errors.New("consul is away")
	}
	app := testApp("/web", 2, "sleep 100")
	h.apply(spec(app))
	h.offer(1)
	h.runLaunched()
	h.settle()
	h.tick()
	small := app.Clone()
	small.Instances = 0
	h.apply(spec(small))
	h.tick()
	if len(h.mesos.killed) != 2 || !sameSet(drained, h.mesos.killed) {
		t.Fatalf("killed %v, drained %v", h.mesos.killed, drained)
	}
	h.clock.advance(h.e.cfg.KillRetry + time.Second)
	for _, id := range drained {
		h.e.killTask(h.ctx, h.e.tasks[id], "asked again")
	}
	if len(h.mesos.killed) != 4 || len(drained) != 2 {
		t.Fatalf("after the kill retry: killed %v, drained %v (want each drained once)", h.mesos.killed, drained)
	}
}

// TestPlacementReplaysFromDeploymentID checks that a deployment's placements are
// seeded from its id: Match run again on the same offers with
// scheduler.SeedOf(deployment id) puts the instances on the same agents.
func TestPlacementReplaysFromDeploymentID(t *testing.T) {
	for _, instances := range []int{1, 3, 7} {
		t.Run(fmt.Sprint(instances), func(t *testing.T) {
			h := newHarness(t)
			app := testApp("/web", instances, "sleep 100")
			dep := h.apply(spec(app))
			offers := h.makeOffers(20)
			h.e.handleOffers(h.ctx, offers)
			var got []string
			for _, ti := range h.mesos.launched {
				got = append(got, ti.AgentID.Value)
			}
			res := scheduler.Match(offers, []scheduler.Request{{App: h.e.apps["/web"], Count: instances}},
				scheduler.Options{Seed: scheduler.SeedOf(dep.ID), Roles: []string{"*"}})
			var want []string
			for _, p := range res.Placements[0] {
				want = append(want, p.AgentID)
			}
			if len(got) != instances || !slices.Equal(got, want) {
				t.Fatalf("launched on %v, replay places on %v", got, want)
			}
		})
	}
}

// Revert undoes a running deployment with a new one: a changed app goes back to
// its previous definition, a created one is removed; the reverted deployment is
// superseded. (The harness has no actor loop: the test calls revert, which the
// exported Revert runs on the actor.)
func TestRevertUndoesARunningDeployment(t *testing.T) {
	h := newHarness(t)
	web := testApp("/web", 2, "sleep 100")
	h.apply(spec(web))
	h.offer(1)
	h.runLaunched()
	h.settle()
	h.tick()
	if len(h.e.deployments) != 0 {
		t.Fatal("the first deployment did not finish")
	}
	changed := web.Clone()
	changed.Cmd = "sleep 200"
	dep := h.apply(spec(changed, testApp("/new", 1, "sleep 1")))
	if _, err := h.e.revert(h.ctx, "no-such"); !errors.Is(err, ErrNoDeployment) {
		t.Fatalf("revert of an unknown deployment: %v", err)
	}
	res, err := h.e.revert(h.ctx, dep.ID)
	if err != nil || res.Deployment == nil {
		t.Fatalf("revert: %+v %v", res, err)
	}
	rev := res.Deployment
	if _, running := h.e.deployments[dep.ID]; running {
		t.Fatal("the reverted deployment still runs")
	}
	if got := h.store.snap.Deployments[dep.ID]; got.Status != engine.DeploymentCancelled || !strings.Contains(got.Reason, rev.ID) {
		t.Fatalf("the reverted deployment is stored %s (%s)", got.Status, got.Reason)
	}
	actions := map[string]engine.Action{}
	for _, c := range rev.Plan.Changes {
		actions[c.ID] = c.Action
	}
	if actions["/web"] != engine.ActionRestart || actions["/new"] != engine.ActionDestroy || len(actions) != 2 {
		t.Fatalf("revert plan: %v", actions)
	}
	if h.e.apps["/web"].Cmd != "sleep 100" || h.store.snap.Apps["/web"].Cmd != "sleep 100" {
		t.Fatalf("/web is %q after the revert", h.e.apps["/web"].Cmd)
	}
	if _, ok := h.e.apps["/new"]; ok {
		t.Fatal("/new is still an app after the revert")
	}
	// The revert's own tasks replace the changed ones, rolling.
	for round := 0; round < 10 && h.e.deployments[rev.ID] != nil; round++ {
		h.tick()
		h.offer(1)
		h.runLaunched()
		h.finishKills()
		h.tick()
	}
	if _, running := h.e.deployments[rev.ID]; running {
		t.Fatalf("the revert did not finish: %+v", h.e.deployments[rev.ID])
	}
}

// Reverting a deployment that changed no definition (a restart) has nothing
// to deploy: the deployment is cancelled, and no new one starts.
func TestRevertOfARestartCancelsIt(t *testing.T) {
	h := newHarness(t)
	h.apply(spec(testApp("/web", 2, "sleep 100")))
	h.offer(1)
	h.runLaunched()
	h.settle()
	h.tick()
	res, err := h.e.apply(h.ctx, ApplyRequest{Spec: spec(testApp("/web", 2, "sleep 100")), Restart: []string{"/web"}})
	if err != nil || res.Deployment == nil {
		t.Fatalf("restart: %+v %v", res, err)
	}
	rev, err := h.e.revert(h.ctx, res.Deployment.ID)
	if err != nil || rev.Deployment != nil {
		t.Fatalf("revert of a restart: %+v %v", rev, err)
	}
	if got := h.store.snap.Deployments[res.Deployment.ID]; got.Status != engine.DeploymentCancelled || got.Reason != reasonRevertedNoop {
		t.Fatalf("the restart is stored %s (%s)", got.Status, got.Reason)
	}
}
