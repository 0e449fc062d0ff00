package executor

import (
	"errors"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/planner"
)

// deployed counts the app's tasks that are deployed (healthy, ready, stable)
// and the live ones.
func (h *harness) deployedCount(appID string) (deployed, live int) {
	app := h.e.apps[appID]
	for _, t := range h.e.tasks {
		if t.AppID != appID || isGone(t.State) {
			continue
		}
		live++
		if app != nil && !t.killing && h.e.taskDeployed(app, t, h.clock.t) {
			deployed++
		}
	}
	return deployed, live
}

func TestAutoRevertAfterTheDeadlineKeepsTheBounds(t *testing.T) {
	h := newHarness(t)
	app := testApp("/api", 4, "v1")
	app.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.25}
	h.deploy(app)
	v1 := h.e.apps["/api"].Version
	minHealthy, maxRunning := planner.Bounds(4, app.UpgradeStrategy)

	v2 := app.Clone()
	v2.Cmd = "v2"
	_, failing, err := h.applyReq(ApplyRequest{Spec: spec(v2), AutoRevert: true, ProgressDeadline: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		deployed, live := h.deployedCount("/api")
		if live > maxRunning {
			t.Fatalf("%s: %d tasks alive, bound is %d", when, live, maxRunning)
		}
		if deployed < minHealthy {
			t.Fatalf("%s: %d deployed, bound is %d", when, deployed, minHealthy)
		}
	}
	var revert *engine.Deployment
	for i := 0; i < 200; i++ {
		h.tick()
		check("tick")
		if revert == nil {
			if d := h.store.snap.Deployments[failing.ID]; d.Status == engine.DeploymentFailed {
				if d.RevertedBy == "" || h.e.deployments[d.RevertedBy] == nil {
					t.Fatalf("failed without a revert: %+v", d)
				}
				revert = h.e.deployments[d.RevertedBy]
			}
		}
		if revert != nil && len(h.e.deployments) == 0 {
			break
		}
		before := len(h.mesos.launched)
		h.offer(2)
		check("offers")
		for _, ti := range h.mesos.launched[before:] {
			h.status(ti.TaskID.Value, mesos.TASK_RUNNING, "")
			if strings.Contains(ti.Command.GetValue(), "v2") {
				h.status(ti.TaskID.Value, mesos.TASK_FAILED, "Command exited with status 1")
			}
		}
		check("task updates")
		h.finishKills()
		check("kills")
		h.clock.advance(5 * time.Second)
	}
	if revert == nil || len(h.e.deployments) != 0 {
		t.Fatalf("revert %v, %d deployments running", revert, len(h.e.deployments))
	}
	f := h.store.snap.Deployments[failing.ID]
	if !strings.HasPrefix(f.Reason, "/api: 0 of 4 new tasks healthy and ready after 1m0s without progress; last failure: Command exited with status 1 (failed)") ||
		!strings.Contains(f.Reason, "rolling back by deployment "+revert.ID) {
		t.Errorf("failure reason %q", f.Reason)
	}
	r := h.store.snap.Deployments[revert.ID]
	if r.Status != engine.DeploymentSucceeded || r.RevertOf != failing.ID {
		t.Fatalf("revert %s (of %q)", r.Status, r.RevertOf)
	}
	if a := h.e.apps["/api"]; a.Cmd != "v1" {
		t.Fatalf("app cmd %q after the revert", a.Cmd)
	}
	// Back at full strength on v1; the v1 tasks that survived were kept.
	if deployed, live := h.deployedCount("/api"); deployed != 4 || live != 4 {
		t.Fatalf("%d deployed of %d live after the revert", deployed, live)
	}
	kept := 0
	for _, tk := range h.e.tasks {
		if tk.Version == v1 {
			kept++
		}
	}
	if kept < minHealthy || !slicesEqual(r.Keep["/api"], []string{v1}) {
		t.Errorf("%d v1 tasks kept (keep %v); want at least %d", kept, r.Keep, minHealthy)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A version that never ran fully healthy is skipped: v2 failed (not reverted),
// v3 (auto_revert) fails too: the revert goes back to v1.
func TestAutoRevertGoesBackToTheLastFullyHealthyVersion(t *testing.T) {
	h := newHarness(t)
	app := testApp("/api", 2, "v1")
	h.deploy(app)
	v1 := h.e.apps["/api"].Version
	fail := func(cmd string, auto bool) *engine.Deployment {
		t.Helper()
		next := h.e.apps["/api"].Clone()
		next.Cmd, next.AutoRevert, next.ProgressDeadlineSeconds = cmd, auto, 30
		h.clock.advance(time.Second)
		dep := h.apply(spec(next))
		for i := 0; i < 10 && h.store.snap.Deployments[dep.ID].Status == engine.DeploymentRunning; i++ {
			h.crashRound("boom")
			h.clock.advance(5 * time.Second)
		}
		h.tick()
		if st := h.store.snap.Deployments[dep.ID].Status; st != engine.DeploymentFailed {
			t.Fatalf("%s: %s", cmd, st)
		}
		return h.store.snap.Deployments[dep.ID]
	}
	d2 := fail("v2", false)
	if d2.RevertedBy != "" || !strings.HasSuffix(d2.Reason, "last failure: boom (failed)") {
		t.Fatalf("v2 without auto-revert: reverted by %q, reason %q", d2.RevertedBy, d2.Reason)
	}
	d3 := fail("v3", true)
	if d3.LastGood["/api"] != v1 || d3.RevertedBy == "" {
		t.Fatalf("v3: last good %q (want %s), reverted by %q", d3.LastGood["/api"], v1, d3.RevertedBy)
	}
	if got := h.e.apps["/api"].Cmd; got != "v1" {
		t.Fatalf("reverted to %q, want v1", got)
	}
}

func TestManualRevert(t *testing.T) {
	t.Run("a restart goes back to the definition before", func(t *testing.T) {
		h := newHarness(t)
		app := testApp("/api", 2, "v1")
		h.deploy(app)
		v2 := app.Clone()
		v2.Cmd = "v2"
		dep := h.apply(spec(v2))
		h.tick()
		// Revert runs endDeployment on the actor; the harness has no actor loop.
		rev, err := h.e.endDeployment(h.ctx, h.e.deployments[dep.ID], engine.DeploymentCancelled, "", revertToBefore)
		if err != nil || rev == nil {
			t.Fatalf("revert: %v", err)
		}
		d := h.store.snap.Deployments[dep.ID]
		if d.Status != engine.DeploymentCancelled || d.RevertedBy != rev.ID || d.Reason != "reverted by deployment "+rev.ID {
			t.Fatalf("reverted deployment: %s %q", d.Status, d.Reason)
		}
		if h.e.apps["/api"].Cmd != "v1" || rev.RevertOf != dep.ID {
			t.Fatalf("app %q, revert of %q", h.e.apps["/api"].Cmd, rev.RevertOf)
		}
	})
	t.Run("a create is undone by a destroy", func(t *testing.T) {
		h := newHarness(t)
		dep := h.apply(spec(testApp("/new", 2, "x")))
		rev, err := h.e.endDeployment(h.ctx, h.e.deployments[dep.ID], engine.DeploymentCancelled, "", revertToBefore)
		if err != nil || rev == nil || rev.Plan.Changes[0].Action != engine.ActionDestroy {
			t.Fatalf("revert %+v: %v", rev, err)
		}
		if _, ok := h.e.apps["/new"]; ok {
			t.Fatal("the created app is still defined")
		}
	})
	t.Run("nothing left to undo ends the deployment", func(t *testing.T) {
		h := newHarness(t)
		app := testApp("/api", 1, "v1")
		h.deploy(app)
		v2 := app.Clone()
		v2.Instances = 2
		dep := h.apply(spec(v2))
		// Someone put the old definition back in between (a forced apply would
		// have superseded it; here the executor's own state is edited).
		h.e.apps["/api"] = dep.Plan.Changes[0].Before
		rev, err := h.e.endDeployment(h.ctx, h.e.deployments[dep.ID], engine.DeploymentCancelled, "", revertToBefore)
		if err != nil || rev != nil {
			t.Fatalf("revert %+v: %v", rev, err)
		}
		if d := h.store.snap.Deployments[dep.ID]; d.Status != engine.DeploymentCancelled || d.Reason != reasonRevertedNoop {
			t.Fatalf("deployment %s %q", d.Status, d.Reason)
		}
	})
	t.Run("unknown deployment", func(t *testing.T) {
		h := newHarness(t)
		go func() {
			for fn := range h.e.mailbox {
				fn()
			}
		}()
		if _, err := h.e.Revert(h.ctx, "nope"); !errors.Is(err, ErrNoDeployment) {
			t.Fatalf("err = %v", err)
		}
	})
}
