package executor

import (
	"errors"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestUnreadableAppKeepsItsTasks: an app whose record cannot be read is set aside;
// its running tasks are neither killed as orphans nor replaced, and its status
// says why. Applying the app again replaces the record and ends the quarantine.
func TestUnreadableAppKeepsItsTasks(t *testing.T) {
	h := newHarness(t)
	h.apply(spec(testApp("/bad", 2, "sleep 100")))
	h.offer(2)
	h.runLaunched()
	h.tick()
	running := h.ids(engine.TaskRunning)
	if len(running) != 2 {
		t.Fatalf("running %v", running)
	}
	// The app's record becomes unreadable.
	h.store.mu.Lock()
	delete(h.store.snap.Apps, "/bad")
	h.store.snap.Unreadable = []engine.UnreadableRecord{{Kind: "apps", ID: "/bad", Err: "unexpected end of JSON input"}}
	h.store.mu.Unlock()

	h.restart()
	for i := 0; i < 3; i++ {
		h.tick()
		h.offer(2)
	}
	if len(h.mesos.killed) != 0 || len(h.mesos.launched) != 0 {
		t.Fatalf("acted on a quarantined app: killed %v, launched %d", h.mesos.killed, len(h.mesos.launched))
	}
	h.e.publish()
	// The app has no definition to show, but the reason is logged and kept.
	if why := h.e.quarantined["/bad"]; !strings.Contains(why, "cannot read the stored record") {
		t.Fatalf("quarantine reason %q", why)
	}

	h.apply(spec(testApp("/bad", 2, "sleep 100")))
	if _, aside := h.e.quarantined["/bad"]; aside {
		t.Fatal("applying the app did not end its quarantine")
	}
}

// TestPanickingAppIsSetAside: a record whose handling panics costs that app only:
// the others are still served, the panicking app's deployment fails with the
// reason, and its tasks are left alone.
func TestPanickingAppIsSetAside(t *testing.T) {
	h := newHarness(t)
	h.e.decideHook = func(id string) {
		if id == "/a" {
			var m map[string]int
			m["boom"]++ // a nil-map write: the kind of bug a bad record trips
		}
	}
	dep := h.apply(spec(testApp("/a", 1, "sleep 100"), testApp("/b", 1, "sleep 100")))
	h.tick()
	h.offer(1)
	if len(h.mesos.launched) != 1 || engine.AppIDFromTaskID(h.mesos.launched[0].TaskID.Value) != "/b" {
		t.Fatalf("launched %d tasks, want one of /b", len(h.mesos.launched))
	}
	if why := h.e.quarantined["/a"]; !strings.Contains(why, "assignment to entry in nil map") {
		t.Fatalf("quarantine reason %q", why)
	}
	h.runLaunched()
	h.tick()
	if _, running := h.e.deployments[dep.ID]; running {
		t.Fatal("the deployment of the panicking app still runs")
	}
	stored := h.store.snap.Deployments[dep.ID]
	if stored.Status != engine.DeploymentFailed || !strings.Contains(stored.Reason, "app /a is set aside") {
		t.Fatalf("stored deployment %s %q", stored.Status, stored.Reason)
	}
	h.e.publish()
	if st := h.e.View().App("/a"); st == nil || !strings.Contains(st.Waiting, "internal error") {
		t.Fatalf("status of /a: %+v", st)
	}
}

// TestRequestPanicIsAnError: a command whose handling panics answers its caller
// with an error, and the actor keeps serving.
func TestRequestPanicIsAnError(t *testing.T) {
	h := newHarness(t)
	go func() { _ = h.e.Run(t.Context()) }()
	err := h.e.do(t.Context(), func() { panic("bad record") })
	if err == nil || !strings.Contains(err.Error(), "bad record") {
		t.Fatalf("do: %v", err)
	}
	if err := h.e.do(t.Context(), func() {}); err != nil {
		t.Fatalf("the actor stopped serving: %v", err)
	}
}

// TestApplyRefusesAppsOutsideTheLimits: the executor checks the bounds itself,
// whoever calls it, and writes nothing.
func TestApplyRefusesAppsOutsideTheLimits(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.Limits = engine.Limits{MaxInstances: 10}.WithDefaults()
	_, err := h.e.apply(h.ctx, ApplyRequest{Spec: spec(testApp("/big", 11, "sleep 1"))})
	var fe engine.FieldErrors
	if !errors.As(err, &fe) || fe.Error() != "/apps/0/instances: must be <= 10, got 11" {
		t.Fatalf("apply: %v", err)
	}
	if len(h.store.commits) != 0 {
		t.Fatalf("%d commits", len(h.store.commits))
	}
}
