package executor

import (
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestQueuedApplyWaitsAndTheNewestReplacesOlderOnes(t *testing.T) {
	h := newHarness(t)
	app := testApp("/api", 2, "v1")
	h.deploy(app)
	next := func(cmd string) *engine.App {
		a := app.Clone()
		a.Cmd = cmd
		return a
	}
	running := h.apply(spec(next("v2")))
	queue := func(cmd string) *engine.Deployment {
		t.Helper()
		_, dep, err := h.applyReq(ApplyRequest{Spec: spec(next(cmd)), Queue: true, AutoRevert: true})
		if err != nil || dep == nil || dep.Status != engine.DeploymentQueued {
			t.Fatalf("queue %s: %+v, %v", cmd, dep, err)
		}
		if dep.Reason != "queued behind deployment "+running.ID {
			t.Errorf("reason %q", dep.Reason)
		}
		return dep
	}
	q3 := queue("v3")
	if h.store.snap.Deployments[q3.ID].Status != engine.DeploymentQueued || h.e.apps["/api"].Cmd != "v2" {
		t.Fatal("the queued apply is not stored, or it changed the app")
	}
	q4 := queue("v4")
	if d := h.store.snap.Deployments[q3.ID]; d.Status != engine.DeploymentCancelled || d.Reason != "superseded by queued deployment "+q4.ID {
		t.Fatalf("older queued: %s %q", d.Status, d.Reason)
	}
	// A new leader keeps the queue.
	h.restart()
	if _, ok := h.e.queued[q4.ID]; !ok || len(h.e.queued) != 1 {
		t.Fatalf("queue after a restart: %v", h.e.queued)
	}
	h.tick()
	if h.store.snap.Deployments[q4.ID].Status != engine.DeploymentQueued {
		t.Fatal("started while the app is still held")
	}
	// v2 finishes; v4 starts under its own id, planned against v2.
	for i := 0; i < 10 && h.store.snap.Deployments[running.ID].Status == engine.DeploymentRunning; i++ {
		h.offer(2)
		h.runLaunched()
		h.settle()
		h.tick()
		h.finishKills()
	}
	d := h.store.snap.Deployments[q4.ID]
	if d.Status != engine.DeploymentRunning || d.Queued != nil && d.Plan.Changes[0].Before.Cmd != "v2" || !d.AutoRevert {
		t.Fatalf("v4: %s, before %q", d.Status, d.Plan.Changes[0].Before.Cmd)
	}
	if h.e.apps["/api"].Cmd != "v4" {
		t.Fatalf("app %q", h.e.apps["/api"].Cmd)
	}
	h.e.publish()
	if got, ok := h.e.View().Deployment(q4.ID); !ok || got.Status != engine.DeploymentRunning {
		t.Fatalf("view: %+v", got)
	}
}

func TestQueuedApplyWithNothingLeftToDo(t *testing.T) {
	h := newHarness(t)
	app := testApp("/api", 1, "v1")
	h.deploy(app)
	v2, v3 := app.Clone(), app.Clone()
	v2.Cmd, v3.Cmd = "v2", "v3"
	h.apply(spec(v2))
	_, q, err := h.applyReq(ApplyRequest{Spec: spec(v3), Queue: true})
	if err != nil || q == nil || q.Status != engine.DeploymentQueued {
		t.Fatalf("queue: %+v %v", q, err)
	}
	// -force keeps its meaning: v3 starts at once, superseding v2.
	if _, forced, err := h.applyReq(ApplyRequest{Spec: spec(v3), Force: true}); err != nil || forced.Status != engine.DeploymentRunning {
		t.Fatalf("forced apply: %+v %v", forced, err)
	}
	for i := 0; i < 10 && len(h.e.deployments) > 0; i++ {
		h.offer(2)
		h.runLaunched()
		h.settle()
		h.tick()
		h.finishKills()
	}
	h.tick()
	if d := h.store.snap.Deployments[q.ID]; d.Status != engine.DeploymentSucceeded || d.Reason != reasonQueueNothing {
		t.Fatalf("queued: %s %q", d.Status, d.Reason)
	}
}
