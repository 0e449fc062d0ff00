package executor

import (
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
)

// checkedApp has one HTTP health check that kills after one failure; the tests
// feed its results.
func checkedApp(id string, instances int, s engine.UpgradeStrategy) *engine.App {
	a := testApp(id, instances, "serve")
	zero := 0
	a.HealthChecks = []engine.HealthCheck{{Protocol: engine.ProtoHTTP, Path: "/", PortIndex: &zero,
		GracePeriodSeconds: 0, IntervalSeconds: 1, TimeoutSeconds: 1, MaxConsecutiveFailures: 1}}
	a.UpgradeStrategy = s
	return a
}

// deployChecked deploys app, every task passing its check.
func (h *harness) deployChecked(app *engine.App) {
	h.t.Helper()
	h.apply(spec(app))
	for i := 0; i < 10 && len(h.e.deployments) > 0; i++ {
		h.offer(2)
		h.runLaunched()
		h.e.health.stopAll()
		h.checkAll(app.ID, "")
		h.tick()
	}
	if len(h.e.deployments) != 0 {
		h.t.Fatal("the deployment did not finish")
	}
}

// checkAll feeds one health result (cause "" passes) to every running task of
// the app, the first n of them when n > 0.
func (h *harness) checkAll(appID, cause string, n ...int) {
	hc := h.e.apps[appID].HealthChecks[0]
	k := 0
	for _, id := range h.ids(engine.TaskRunning) {
		t := h.e.tasks[id]
		if t.AppID != appID || t.killing {
			continue
		}
		if len(n) > 0 && k >= n[0] {
			return
		}
		k++
		h.e.healthResult(id, 0, hc, cause)
	}
}

func TestSickCheckerOpensTheBreakerAndKillsNothing(t *testing.T) {
	h := newHarness(t)
	h.deployChecked(checkedApp("/api", 4, engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}))
	events := h.events()
	h.checkAll("/api", "connection refused") // the checker lost the network
	for i := 0; i < 5; i++ {
		h.tick()
		h.clock.advance(time.Minute)
		h.checkAll("/api", "connection refused")
	}
	if len(h.mesos.killed) != 0 {
		t.Fatalf("killed %v while every check failed at once", h.mesos.killed)
	}
	h.e.publish()
	note := h.e.View().App("/api").KillSafety
	if note != "health-check kills paused: 4 of 4 tasks that were healthy fail their checks at once (the checker or the network may be sick)" {
		t.Fatalf("status note %q", note)
	}
	if !hasEvent(events, "health_kill_breaker_open_event") {
		t.Error("no health_kill_breaker_open_event")
	}
	// The checker recovers; one task really is broken: kills resume, replace
	// first (room: maximum over capacity 1).
	h.checkAll("/api", "", 3)
	h.tick()
	if !hasEvent(events, "health_kill_breaker_closed_event") {
		t.Error("no health_kill_breaker_closed_event")
	}
	doomed := 0
	for _, tk := range h.e.tasks {
		if !tk.doomedAt.IsZero() {
			doomed++
		}
	}
	if doomed != 1 || len(h.mesos.killed) != 0 {
		t.Fatalf("%d doomed, killed %v: want the broken task replaced first", doomed, h.mesos.killed)
	}
}

// hasEvent reports whether an event of type typ was published since the log's
// last read.
func hasEvent(events *eventLog, typ string) bool {
	found := false
	for _, ev := range events.next() {
		found = found || ev.Type == typ
	}
	return found
}

func TestHealthKillsAreRateLimited(t *testing.T) {
	h := newHarness(t)
	// No room above the instances: condemned tasks are killed, not replaced.
	h.deployChecked(checkedApp("/api", 10, engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0}))
	h.checkAll("/api", "500 Internal Server Error", 4) // 4 of 10: below the breaker's half
	h.tick()
	if len(h.mesos.killed) != 1 {
		t.Fatalf("killed %d tasks, want 1 (10 instances × 0.1 per minute)", len(h.mesos.killed))
	}
	h.e.publish()
	if note := h.e.View().App("/api").KillSafety; note != "3 health-check kill(s) waiting: at most 1 per 1m0s" {
		t.Fatalf("status note %q", note)
	}
	h.clock.advance(59 * time.Second)
	h.tick()
	if len(h.mesos.killed) != 1 {
		t.Fatalf("killed %d within the minute", len(h.mesos.killed))
	}
	h.clock.advance(2 * time.Second)
	h.tick()
	if len(h.mesos.killed) != 2 {
		t.Fatalf("killed %d after the minute, want 2", len(h.mesos.killed))
	}
	// A condemned task that passes its check again is pardoned.
	h.checkAll("/api", "")
	h.clock.advance(2 * time.Minute)
	h.tick()
	if len(h.mesos.killed) != 2 {
		t.Fatalf("killed %d after the tasks recovered", len(h.mesos.killed))
	}
}

func TestUnhealthyTaskIsReplacedThenKilled(t *testing.T) {
	h := newHarness(t)
	app := checkedApp("/api", 2, engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0.5})
	h.deployChecked(app)
	victim := h.ids(engine.TaskRunning)[0]
	h.e.healthResult(victim, 0, app.HealthChecks[0], "500")
	h.tick()
	if h.e.tasks[victim].killing || h.e.tasks[victim].doomedAt.IsZero() {
		t.Fatal("the unhealthy task was not kept for its replacement")
	}
	h.offer(2)
	if live, _ := h.count("/api"); live != 3 {
		t.Fatalf("%d live, want the replacement beside the 2", live)
	}
	h.runLaunched()
	h.e.health.stopAll()
	h.tick()
	if h.e.tasks[victim].killing {
		t.Fatal("killed before its replacement is healthy")
	}
	for _, id := range h.ids(engine.TaskRunning) {
		if id != victim {
			h.e.healthResult(id, 0, app.HealthChecks[0], "")
		}
	}
	h.tick()
	if !h.e.tasks[victim].killing || !strings.HasPrefix(h.e.tasks[victim].killReason, "health check failed: 500") {
		t.Fatalf("not killed once replaced (reason %q)", h.e.tasks[victim].killReason)
	}
}

// While an app's breaker is open, a rolling restart does not treat tasks that
// only fail their checks as broken: it does not kill them freely.
func TestBreakerHoldsRestartKillsOfFailingOldTasks(t *testing.T) {
	h := newHarness(t)
	app := checkedApp("/api", 4, engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0})
	h.deployChecked(app)
	h.checkAll("/api", "timeout")
	h.tick() // the breaker opens
	v2 := h.e.apps["/api"].Clone()
	v2.Cmd = "v2"
	h.clock.advance(time.Second)
	h.apply(spec(v2))
	h.tick()
	if len(h.mesos.killed) != 0 {
		t.Fatalf("killed %v: old tasks that only fail their checks, while the breaker is open", h.mesos.killed)
	}
}

// Tasks that never passed their checks — a new version that does not work — are
// not what a sick checker looks like: they neither open the breaker nor are
// protected by it (the rate limit still applies).
func TestNeverHealthyTasksDoNotOpenTheBreaker(t *testing.T) {
	h := newHarness(t)
	h.deployChecked(checkedApp("/api", 4, engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}))
	v2 := h.e.apps["/api"].Clone()
	v2.Cmd = "v2"
	h.clock.advance(time.Second)
	h.apply(spec(v2))
	h.tick()
	h.offer(2)
	h.runLaunched()
	h.e.health.stopAll()
	hc := v2.HealthChecks[0]
	for id, tk := range h.e.tasks {
		if !isOutdated(h.e.apps["/api"], tk, nil) {
			h.e.healthResult(id, 0, hc, "500")
		}
	}
	h.tick()
	h.e.publish()
	if note := h.e.View().App("/api").KillSafety; strings.HasPrefix(note, "health-check kills paused") {
		t.Fatalf("the breaker opened for tasks that were never healthy: %s", note)
	}
	if len(h.mesos.killed) != 1 {
		t.Fatalf("killed %d, want 1 (the rate limit)", len(h.mesos.killed))
	}
}
