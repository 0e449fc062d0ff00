package executor

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

func TestCrashLoopGivesUpAndFailsItsDeployment(t *testing.T) {
	h := newHarness(t)
	app := testApp("/crash", 2, "exit 1")
	app.BackoffSeconds, app.BackoffFactor, app.GiveUpAfter = 1, 1, 3
	dep := h.apply(spec(app))
	for round := 0; round < 10; round++ {
		before := len(h.mesos.launched)
		h.offer(1)
		for _, ti := range h.mesos.launched[before:] {
			h.status(ti.TaskID.Value, mesos.TASK_RUNNING, "")
			h.status(ti.TaskID.Value, mesos.TASK_FAILED, "Command exited with status 1")
		}
		h.clock.advance(2 * time.Second)
		h.tick()
	}
	// Two instances fail at once: the third failure in a row gives up (a round
	// may launch both; none after).
	if n := len(h.mesos.launched); n < 3 || n > 4 {
		t.Fatalf("%d launches, want the app to give up after 3 failures", n)
	}
	want := "/crash: gave up after 3 failed launches in a row; last failure: Command exited with status 1 (failed)"
	if got := h.e.gaveUp["/crash"]; got != want {
		t.Fatalf("gave up: %q\nwant        %q", got, want)
	}
	if d := h.store.snap.Deployments[dep.ID]; d.Status != engine.DeploymentFailed || d.Reason != want {
		t.Fatalf("deployment %s: %q", d.Status, d.Reason)
	}
	h.e.publish()
	if st := h.e.View().App("/crash"); st.GaveUp != want {
		t.Fatalf("status does not say why: %+v", st)
	}
	// A later apply of the app resets it.
	fixed := app.Clone()
	fixed.Cmd = "sleep 100"
	launched := len(h.mesos.launched)
	h.apply(spec(fixed))
	h.offer(1)
	if len(h.mesos.launched) != launched+2 || h.e.gaveUp["/crash"] != "" {
		t.Fatalf("after a new apply: %d launches (want %d), gave up %q", len(h.mesos.launched), launched+2, h.e.gaveUp["/crash"])
	}
}

// A task that fails after it was healthy is not a failed launch: the count
// starts again, and the app never gives up while it keeps getting healthy.
func TestGiveUpCountsOnlyConsecutiveFailedLaunches(t *testing.T) {
	h := newHarness(t)
	app := testApp("/flaky", 1, "x")
	app.BackoffSeconds, app.BackoffFactor, app.GiveUpAfter = 1, 1, 2
	h.deploy(app)
	for i := 0; i < 5; i++ {
		id := h.ids(engine.TaskRunning)[0]
		h.status(id, mesos.TASK_FAILED, "boom") // had run StableAfter: had been healthy
		h.clock.advance(2 * time.Second)
		h.offer(1)
		h.runLaunched()
		h.settle()
	}
	if why := h.e.gaveUp["/flaky"]; why != "" {
		t.Fatalf("gave up on an app whose tasks got healthy each time: %s", why)
	}
}
