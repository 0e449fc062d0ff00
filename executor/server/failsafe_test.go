package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/planner"
)

// Deployments that can fail safely (issue 11), on the stand-in: the production
// driver, executor, store and API over real HTTP, the test binary as the app.

// deployment reads a deployment from the API.
func (e *testEnv) deployment(id string) *api.DeploymentResponse {
	e.t.Helper()
	d, err := e.client.Deployment(context.Background(), id)
	if err != nil {
		e.t.Fatalf("deployment %s: %v", id, err)
	}
	return d
}

// waitEnded waits for a deployment to end and returns it.
func (e *testEnv) waitEnded(id string, timeout time.Duration) *api.DeploymentResponse {
	e.t.Helper()
	var d *api.DeploymentResponse
	e.waitFor(timeout, "deployment "+id+" to end", func() (bool, string) {
		var err error
		if d, err = e.client.Deployment(context.Background(), id); err != nil {
			return false, err.Error()
		}
		return d.Status != engine.DeploymentRunning && d.Status != engine.DeploymentQueued, fmt.Sprintf("%s %+v", d.Status, d.Progress)
	})
	return d
}

// touchAll creates (or, with remove, deletes) a file in the sandbox of every
// live task of the app.
func (e *testEnv) touchAll(appID, name string, remove bool) {
	e.t.Helper()
	for _, tk := range e.liveTasks(appID) {
		p := filepath.Join(tk.Sandbox, name)
		var err error
		if remove {
			err = os.Remove(p)
		} else {
			err = os.WriteFile(p, nil, 0o644)
		}
		if err != nil && !os.IsNotExist(err) {
			e.t.Fatal(err)
		}
	}
}

// A new version that never gets healthy fails at its progress deadline with the
// reason; with auto-revert the old version is back at full strength, and the
// rolling bounds held at every sample — through the failure and the revert.
func TestDeadlineFailsAndAutoRevertRestoresTheOldVersion(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/shop/api", 4, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.25}
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 60*time.Second)
	v1 := e.appStatus("/shop/api").App.Version
	minHealthy, maxRunning := planner.Bounds(4, a.UpgradeStrategy)

	bad := a.Clone()
	bad.Env["HEALTH_FAIL_AFTER"] = "1ms" // /health never answers 200
	bad.HealthChecks[0].GracePeriodSeconds = 1
	bad.ProgressDeadlineSeconds, bad.AutoRevert = 10, true
	resp := e.apply(specOf(bad))

	var failed *api.DeploymentResponse
	samples := 0
	e.waitFor(90*time.Second, "the failure and its revert to finish", func() (bool, string) {
		samples++
		v := e.srv.Executor().View()
		healthy := 0
		for _, tk := range v.Tasks {
			if tk.AppID == "/shop/api" && v.Healthy[tk.ID] {
				healthy++
			}
		}
		if live := len(e.liveTasks("/shop/api")); live > maxRunning {
			t.Fatalf("sample %d: %d tasks alive, bound is %d", samples, live, maxRunning)
		}
		if healthy < minHealthy {
			var b strings.Builder
			for _, tk := range v.Tasks {
				fmt.Fprintf(&b, "%s %s %s healthy=%v %+v\n", tk.ID, tk.State, tk.Version, v.Healthy[tk.ID], tk.HealthCheckResults)
			}
			e.logMu.Lock()
			tail := strings.Join(e.log[max(0, len(e.log)-40):], "\n")
			e.logMu.Unlock()
			t.Fatalf("sample %d: %d healthy, bound is %d\n%s\n%s", samples, healthy, minHealthy, b.String(), tail)
		}
		d := e.deployment(resp.DeploymentID)
		if d.Status == engine.DeploymentRunning {
			return false, fmt.Sprintf("running %+v", d.Progress)
		}
		failed = d
		if d.RevertedBy == "" {
			return true, ""
		}
		r := e.deployment(d.RevertedBy)
		return r.Status != engine.DeploymentRunning, fmt.Sprintf("revert %s %+v", r.Status, r.Progress)
	})
	want := "/shop/api: 0 of 4 new tasks healthy and ready after 10s without progress"
	if failed.Status != engine.DeploymentFailed || !strings.HasPrefix(failed.Reason, want) || failed.RevertedBy == "" {
		t.Fatalf("deployment %s: %q\nwant it failed: %q..., rolled back", failed.Status, failed.Reason, want)
	}
	if r := e.deployment(failed.RevertedBy); r.Status != engine.DeploymentSucceeded || r.RevertOf != resp.DeploymentID {
		t.Fatalf("revert %s %q (of %q)", r.Status, r.Reason, r.RevertOf)
	}
	st := e.appStatus("/shop/api")
	if st.App.Env["HEALTH_FAIL_AFTER"] != "" || st.TasksHealthy != 4 || len(e.liveTasks("/shop/api")) != 4 {
		t.Fatalf("after the revert: env %v, %d healthy, %d live", st.App.Env, st.TasksHealthy, len(e.liveTasks("/shop/api")))
	}
	kept := 0
	for _, tk := range st.Tasks {
		if tk.Version == v1 {
			kept++
		}
	}
	if kept < minHealthy {
		t.Errorf("%d tasks of the old version kept, want at least %d (the ones never killed)", kept, minHealthy)
	}
	t.Logf("%d samples; %d of the old version's tasks kept through the revert", samples, kept)
}

// A crash loop gives up after give_up_after failed launches and fails its
// deployment; the status says why; a later apply resets it.
func TestCrashLoopGivesUpAndFailsItsDeployment(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/crash", 1, map[string]string{"EXIT_AFTER": "100ms"})
	a.HealthChecks = nil
	a.BackoffSeconds, a.BackoffFactor, a.MaxLaunchDelaySeconds, a.GiveUpAfter = 0.2, 1, 1, 3
	resp := e.apply(specOf(a))
	d := e.waitEnded(resp.DeploymentID, 60*time.Second)
	if d.Status != engine.DeploymentFailed || !strings.HasPrefix(d.Reason, "/crash: gave up after 3 failed launches in a row; last failure: Command exited with status 3") {
		t.Fatalf("deployment %s: %q", d.Status, d.Reason)
	}
	sts, err := e.client.AppsStatus(context.Background())
	if err != nil || len(sts) != 1 || !strings.HasPrefix(sts[0].GaveUp, "/crash: gave up after 3") {
		t.Fatalf("/stride/v1/apps: %+v %v", sts, err)
	}
	if st := e.appStatus("/crash"); st.Pending != 0 || len(e.liveTasks("/crash")) != 0 {
		t.Fatalf("still launching after giving up: pending %d, %d live", st.Pending, len(e.liveTasks("/crash")))
	}
	fixed := a.Clone()
	delete(fixed.Env, "EXIT_AFTER")
	e.waitDeployment(e.apply(specOf(fixed)).DeploymentID, 60*time.Second)
	if st := e.appStatus("/crash"); st.GaveUp != "" {
		t.Fatalf("still gave up after a new apply: %s", st.GaveUp)
	}
}

// Readiness gates a rollout: a task healthy but not ready is not counted, and
// the readiness results are served where Marathon serves them.
func TestReadinessGatesTheRollout(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/ready", 2, nil)
	rc := engine.DefaultReadinessCheck()
	rc.Path, rc.PortName, rc.IntervalSeconds, rc.TimeoutSeconds, rc.PreserveLastResponse = "/ready", "http", 2, 1, true
	a.ReadinessChecks = []engine.ReadinessCheck{rc}
	resp := e.apply(specOf(a))
	e.waitFor(30*time.Second, "both tasks healthy but not ready", func() (bool, string) {
		d := e.deployment(resp.DeploymentID)
		if len(d.Progress) != 1 {
			return false, d.Status
		}
		p := d.Progress[0]
		return p.NotReady == 2 && p.Healthy == 0, fmt.Sprintf("%+v", p)
	})
	if d := e.deployment(resp.DeploymentID); d.Status != engine.DeploymentRunning {
		t.Fatalf("deployment %s with no task ready", d.Status)
	}
	e.waitFor(20*time.Second, "the readiness results served", func() (bool, string) {
		body := compact(e.get("/v2/apps/ready?embed=app.readiness", "application/json"))
		return strings.Contains(body, `"readinessCheckResults":[{"name":"readinessCheck"`) && strings.Contains(body, `"ready":false`) &&
			strings.Contains(body, `"lastResponse":{"status":503,"contentType":"text/plain;charset=utf-8","body":"warmingup\n"}`), body
	})
	if deps := compact(e.get("/v2/deployments", "application/json")); !strings.Contains(deps, `"readinessCheckResults":[{`) {
		t.Fatalf("currentActions carry no readiness results: %s", deps)
	}
	// One task ready: one counted; both: done.
	first := e.liveTasks("/ready")[0]
	if err := os.WriteFile(filepath.Join(first.Sandbox, "ready"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.waitFor(30*time.Second, "one task counted", func() (bool, string) {
		p := e.deployment(resp.DeploymentID).Progress
		return len(p) == 1 && p[0].Healthy == 1, fmt.Sprintf("%+v", p)
	})
	if d := e.deployment(resp.DeploymentID); d.Status != engine.DeploymentRunning {
		t.Fatalf("deployment %s with one of two tasks ready", d.Status)
	}
	e.touchAll("/ready", "ready", false)
	e.waitDeployment(resp.DeploymentID, 30*time.Second)
}

// A sick health checker — every check failing at once — kills nothing: the
// breaker opens (an event, a note in the status), and kills resume once the
// checks pass again.
func TestSickCheckerOpensTheBreaker(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/hc", 4, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 60*time.Second)
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	before := map[string]bool{}
	for _, tk := range e.liveTasks("/hc") {
		before[tk.ID] = true
	}
	e.touchAll("/hc", "unhealthy", false)
	// Each task fails its checks (max 2 in a row, every second): a kill would
	// come within seconds; the breaker must open instead.
	deadline := time.After(30 * time.Second)
	for opened := false; !opened; {
		select {
		case ev := <-events:
			switch ev.Type {
			case "unhealthy_instance_kill_event":
				t.Fatalf("killed a task while every check failed at once: %s", ev.JSON)
			case "health_kill_breaker_open_event":
				opened = true
			}
		case <-deadline:
			t.Fatal("the breaker did not open")
		}
	}
	e.waitFor(10*time.Second, "the status note", func() (bool, string) {
		st := e.appStatus("/hc")
		return strings.HasPrefix(st.KillSafety, "health-check kills paused: 4 of 4"), st.KillSafety
	})
	// Well past the checks' max_consecutive_failures: still every task there.
	e.waitFor(20*time.Second, "every check to have failed 4 times in a row", func() (bool, string) {
		min := 1 << 30
		for _, tk := range e.appStatus("/hc").Tasks {
			for _, h := range tk.HealthCheckResults {
				min = mins(min, h.ConsecutiveFailures)
			}
		}
		return min >= 4 && min < 1<<30, fmt.Sprint(min)
	})
	for _, tk := range e.liveTasks("/hc") {
		if !before[tk.ID] {
			t.Fatalf("a new task %s: one was killed", tk.ID)
		}
	}
	if len(e.liveTasks("/hc")) != 4 {
		t.Fatalf("%d tasks left", len(e.liveTasks("/hc")))
	}
	e.touchAll("/hc", "unhealthy", true)
	e.waitFor(20*time.Second, "the breaker to close", func() (bool, string) {
		st := e.appStatus("/hc")
		return st.KillSafety == "" && st.TasksHealthy == 4, st.KillSafety
	})
}

// compact drops the whitespace of a JSON body (its strings checked here have
// none).
func compact(s string) string {
	return strings.NewReplacer(" ", "", "\n", "", "\t", "").Replace(s)
}

func mins(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// Real failures below the breaker's share are killed, but no faster than the
// rate limit: 10 instances, 4 unhealthy, 0.1 per minute → one kill.
func TestHealthKillsAreRateLimited(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/many", 10, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0} // no room: kill, then replace
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 90*time.Second)
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	for _, tk := range e.liveTasks("/many")[:4] {
		if err := os.WriteFile(filepath.Join(tk.Sandbox, "unhealthy"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(30*time.Second, "the rate limit to hold the other kills", func() (bool, string) {
		st := e.appStatus("/many")
		return st.KillSafety == "3 health-check kill(s) waiting: at most 1 per 1m0s", st.KillSafety
	})
	kills := 0
	for drained := false; !drained; {
		select {
		case ev := <-events:
			if ev.Type == "unhealthy_instance_kill_event" {
				kills++
			}
		default:
			drained = true
		}
	}
	if kills != 1 {
		t.Fatalf("%d health kills within the minute, want 1", kills)
	}
}

// A failed dependency fails its dependents instead of leaving them waiting.
func TestFailedDependencyFailsItsDependents(t *testing.T) {
	e := newEnv(t, 2)
	db := testApp(t, "/data/db", 1, nil)
	e.waitDeployment(e.apply(specOf(db)).DeploymentID, 60*time.Second)
	bad := db.Clone()
	bad.Env["EXIT_AFTER"] = "100ms"
	bad.ProgressDeadlineSeconds = 8
	bad.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 0}
	dbDep := e.apply(specOf(bad))
	e.waitFor(20*time.Second, "the db down", func() (bool, string) {
		st := e.appStatus("/data/db")
		return st.TasksHealthy == 0, fmt.Sprint(st.TasksHealthy)
	})
	web := testApp(t, "/shop/web", 1, nil)
	web.Dependencies = []string{"/data"}
	webDep := e.apply(specOf(bad, web))
	e.waitFor(20*time.Second, "the web to wait for the db", func() (bool, string) {
		p := e.deployment(webDep.DeploymentID).Progress
		return len(p) == 1 && strings.HasPrefix(p[0].Waiting, "waiting for /data/db: 0/1 healthy, "), fmt.Sprintf("%+v", p)
	})
	if len(e.liveTasks("/shop/web")) != 0 {
		t.Fatal("the web started before its dependency was healthy")
	}
	d := e.waitEnded(dbDep.DeploymentID, 60*time.Second)
	if d.Status != engine.DeploymentFailed {
		t.Fatalf("db deployment %s: %s", d.Status, d.Reason)
	}
	w := e.waitEnded(webDep.DeploymentID, 20*time.Second)
	if want := "/shop/web: dependency /data/db failed: its deployment " + dbDep.DeploymentID + " failed"; w.Status != engine.DeploymentFailed || w.Reason != want {
		t.Fatalf("web deployment %s: %q\nwant failed: %q", w.Status, w.Reason, want)
	}
}

// A server restarted mid-deadline fails the deployment on time: the deadline is
// part of the stored deployment, not restarted with the server.
func TestRestartedServerKeepsTheDeadline(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/api", 2, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 60*time.Second)
	bad := a.Clone()
	bad.Env["HEALTH_FAIL_AFTER"] = "1ms"
	bad.ProgressDeadlineSeconds = 20
	resp := e.apply(specOf(bad))
	start := e.deployment(resp.DeploymentID)
	if len(start.Deadlines) != 1 {
		t.Fatalf("deadlines %+v", start.Deadlines)
	}
	since, err := time.Parse(time.RFC3339Nano, start.Deadlines[0].Since)
	if err != nil {
		t.Fatal(err)
	}
	e.waitFor(20*time.Second, "new tasks running", func() (bool, string) {
		n := len(e.liveTasks("/api"))
		return n == 4, fmt.Sprint(n)
	})
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	restartedAfter := time.Since(since)
	d := e.waitEnded(resp.DeploymentID, 60*time.Second)
	finished, err := time.Parse(time.RFC3339Nano, d.FinishedAt)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != engine.DeploymentFailed || !strings.HasPrefix(d.Reason, "/api: 0 of 2 new tasks healthy and ready after 20s") {
		t.Fatalf("deployment %s: %q", d.Status, d.Reason)
	}
	// On time: not before the deadline, and not a second deadline later (what
	// a deadline restarted with the server would give).
	if late := finished.Sub(since); late < 20*time.Second || late > 20*time.Second+restartedAfter/2 {
		t.Fatalf("failed %v after its step began (the server restarted %v after it), want at its 20s deadline", late, restartedAfter)
	}
}

// DELETE /v2/deployments/{id} (no force) reverts a running deployment, as in
// Marathon: the answer names the revert, and the app is back where it was.
func TestDeleteDeploymentReverts(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/api", 2, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 60*time.Second)
	bad := a.Clone()
	bad.Env["HEALTH_FAIL_AFTER"] = "1ms"
	resp := e.apply(specOf(bad))
	req, err := http.NewRequest(http.MethodDelete, e.srv.URL()+"/v2/deployments/"+resp.DeploymentID, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	revertID := res.Header.Get("Marathon-Deployment-Id")
	if res.StatusCode != http.StatusOK || revertID == "" || revertID == resp.DeploymentID {
		t.Fatalf("DELETE: %d, revert %q", res.StatusCode, revertID)
	}
	e.waitDeployment(revertID, 60*time.Second)
	if d := e.deployment(resp.DeploymentID); d.Status != engine.DeploymentCancelled || d.RevertedBy != revertID {
		t.Fatalf("reverted deployment %s, reverted by %q", d.Status, d.RevertedBy)
	}
	st := e.appStatus("/api")
	if st.App.Env["HEALTH_FAIL_AFTER"] != "" || st.TasksHealthy != 2 || len(e.liveTasks("/api")) != 2 {
		t.Fatalf("after the revert: env %v, %d healthy, %d live", st.App.Env, st.TasksHealthy, len(e.liveTasks("/api")))
	}
}
