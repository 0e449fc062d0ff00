package executor

import (
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// deploy applies apps and carries the deployment to success on the harness.
func (h *harness) deploy(apps ...*engine.App) {
	h.t.Helper()
	h.apply(spec(apps...))
	for i := 0; i < 10 && len(h.e.deployments) > 0; i++ {
		h.offer(2)
		h.runLaunched()
		h.settle()
		h.tick()
	}
	if len(h.e.deployments) != 0 {
		h.t.Fatal("the deployment did not finish")
	}
}

// crashRound lets the executor act once and makes every task it launched fail
// at once, as a version that cannot start does.
func (h *harness) crashRound(msg string) {
	h.tick()
	before := len(h.mesos.launched)
	h.offer(2)
	for _, ti := range h.mesos.launched[before:] {
		h.status(ti.TaskID.Value, mesos.TASK_RUNNING, "")
		h.status(ti.TaskID.Value, mesos.TASK_FAILED, msg)
	}
	h.finishKills()
}

func storedDeployment(h *harness, id string) *engine.Deployment {
	h.t.Helper()
	d := h.store.snap.Deployments[id]
	if d == nil {
		h.t.Fatalf("deployment %s not stored", id)
	}
	return d
}

func TestDeadlineFailsAStalledDeploymentWithTheReason(t *testing.T) {
	h := newHarness(t)
	app := testApp("/shop/api", 3, "v1")
	h.deploy(app)
	v2 := app.Clone()
	v2.Cmd, v2.ProgressDeadlineSeconds = "v2", 60
	dep := h.apply(spec(v2))
	if got := storedDeployment(h, dep.ID).Deadlines; len(got) != 1 || got[0].ID != "/shop/api" || got[0].Seconds != 60 {
		t.Fatalf("stored deadlines %+v, want one of 60s for /shop/api written with the deployment", got)
	}
	start := h.clock.t
	for h.clock.t.Sub(start) < 55*time.Second {
		h.crashRound("Command exited with status 1")
		h.clock.advance(5 * time.Second)
	}
	if st := storedDeployment(h, dep.ID).Status; st != engine.DeploymentRunning {
		t.Fatalf("status %q before the deadline", st)
	}
	h.clock.advance(6 * time.Second)
	h.tick()
	d := storedDeployment(h, dep.ID)
	want := "/shop/api: 0 of 3 new tasks healthy and ready after 1m0s without progress; last failure: Command exited with status 1 (failed)"
	if d.Status != engine.DeploymentFailed || d.Reason != want {
		t.Fatalf("deployment %s: %q\nwant failed: %q", d.Status, d.Reason, want)
	}
	// The old version was never touched below its bounds (1.0 / 1.0: none killed).
	if _, running := h.count("/shop/api"); running != 3 {
		t.Fatalf("%d tasks running after the failure, want the 3 old ones", running)
	}
}

func TestDeadlineIsResetByProgressAndKeptAcrossARestart(t *testing.T) {
	h := newHarness(t)
	app := testApp("/api", 2, "v1")
	h.deploy(app)
	v2 := app.Clone()
	v2.Cmd, v2.ProgressDeadlineSeconds = "v2", 100
	v2.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}
	dep := h.apply(spec(v2))
	h.tick()
	h.offer(2) // one new task (one at a time)
	h.runLaunched()
	h.clock.advance(40 * time.Second) // past StableAfter: the new task is deployed
	h.tick()
	since := storedDeployment(h, dep.ID).Deadlines[0].Since
	if since != FormatTime(h.clock.t) {
		t.Fatalf("progress at %s not recorded: since %s", FormatTime(h.clock.t), since)
	}
	// From here the next new task crashes: no progress. A new leader takes over
	// 30s later; the deadline stays 100s after the last progress.
	h.crashRound("boom")
	h.tick() // the old task's kill completed: progress too
	progressAt := h.clock.t
	h.clock.advance(30 * time.Second)
	h.restart()
	h.e.onSubscribed(h.ctx, "fw", false)
	for _, tk := range h.e.tasks {
		h.status(tk.ID, mesos.TASK_RUNNING, "")
	}
	for h.clock.t.Sub(progressAt) < 95*time.Second {
		h.crashRound("boom")
		h.clock.advance(5 * time.Second)
	}
	if st := storedDeployment(h, dep.ID).Status; st != engine.DeploymentRunning {
		t.Fatalf("failed %v after the last progress, before its 100s deadline: %s", h.clock.t.Sub(progressAt), storedDeployment(h, dep.ID).Reason)
	}
	h.clock.advance(6 * time.Second)
	h.tick()
	d := storedDeployment(h, dep.ID)
	if d.Status != engine.DeploymentFailed || !strings.HasPrefix(d.Reason, "/api: 1 of 2 new tasks healthy and ready after 1m40s") {
		t.Fatalf("deployment %s: %q", d.Status, d.Reason)
	}
}

func TestNoDeadlineWhenNoneApplies(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.ProgressDeadline = -1
	app := testApp("/api", 1, "v1")
	h.deploy(app)
	v2 := app.Clone()
	v2.Cmd = "v2"
	dep := h.apply(spec(v2))
	for i := 0; i < 20; i++ {
		h.crashRound("boom")
		h.clock.advance(time.Hour)
	}
	if d := storedDeployment(h, dep.ID); d.Status != engine.DeploymentRunning || d.ProgressDeadlineSeconds != 0 {
		t.Fatalf("deployment %s (deadline %ds), want running without a deadline", d.Status, d.ProgressDeadlineSeconds)
	}
}

func TestApplyDeadlineAndServerDefault(t *testing.T) {
	h := newHarness(t)
	cases := map[string]struct {
		req  time.Duration
		want int
	}{
		"server default":   {0, 600},
		"apply's own":      {90 * time.Second, 90},
		"rounded up":       {1500 * time.Millisecond, 2},
		"bounded":          {30 * 24 * time.Hour, engine.MaxProgressDeadlineSeconds},
		"none when forced": {-1, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := h.e.deadlineSecondsFor(tc.req); got != tc.want {
				t.Errorf("deadlineSecondsFor(%v) = %d, want %d", tc.req, got, tc.want)
			}
		})
	}
}
