package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	marathon "github.com/gambol99/go-marathon"
)

// A real third-party Marathon client library (github.com/gambol99/go-marathon,
// not one of ours) drives a Stride server on the stand-in through the whole
// life of apps and groups, as Marathon users' tools do.

// goMarathon returns a go-marathon client for the env's server.
func (e *testEnv) goMarathon() marathon.Marathon {
	e.t.Helper()
	cfg := marathon.NewDefaultConfig()
	cfg.URL = e.srv.URL()
	cfg.PollingWaitTime = 50 * time.Millisecond
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	m, err := marathon.NewClient(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// marathonApp returns a go-marathon application running the test binary as an
// HTTP server with an HTTP health check.
func marathonApp(t *testing.T, id string, instances int) *marathon.Application {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path, idx, failures := "/health", 0, 2
	app := marathon.NewDockerApplication()
	app.Container = nil
	app.Name(id).Command("exec "+bin).CPU(0.1).Memory(32).Count(instances).AddEnv("STRIDE_TESTAPP", "1").
		AddPortDefinition(marathon.PortDefinition{Name: "http"}.SetPort(0)).
		AddHealthCheck(marathon.HealthCheck{Protocol: "HTTP", Path: &path, PortIndex: &idx, GracePeriodSeconds: 5, IntervalSeconds: 1, TimeoutSeconds: 1, MaxConsecutiveFailures: &failures})
	backoff, factor, maxDelay := 0.5, 2.0, 4.0
	app.BackoffSeconds, app.BackoffFactor, app.MaxLaunchDelaySeconds = &backoff, &factor, &maxDelay
	app.SetTaskKillGracePeriod(2)
	return app
}

// apiCode returns the go-marathon error code of err (-1 when it is no API
// error).
func apiCode(err error) int {
	var ae *marathon.APIError
	if errors.As(err, &ae) {
		return ae.ErrCode
	}
	return -1
}

// rawCall sends a request go-marathon has no method for, and returns the
// status and body.
func (e *testEnv) rawCall(method, path, body string) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL()+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func TestGoMarathonClient(t *testing.T) {
	e := newEnv(t, 3)
	m := e.goMarathon()
	const wait = 60 * time.Second

	if ok, err := m.Ping(); !ok || err != nil {
		t.Fatalf("ping: %v", err)
	}
	info, err := m.Info()
	if err != nil || info.Leader == "" || info.FrameworkID == "" {
		t.Fatalf("info: %+v %v", info, err)
	}

	// Create, and wait on the deployment it names (as the Terraform provider
	// does) and on the app.
	created, err := m.CreateApplication(marathonApp(t, "/gm/web", 2))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	ids := created.DeploymentIDs()
	if len(ids) != 1 || created.ID != "/gm/web" {
		t.Fatalf("create answered %+v", created)
	}
	if err := m.WaitOnDeployment(ids[0].DeploymentID, wait); err != nil {
		t.Fatalf("wait on the create: %v", err)
	}
	if err := m.WaitOnApplication("/gm/web", wait); err != nil {
		t.Fatalf("wait on the app: %v", err)
	}
	if ok, err := m.ApplicationOK("gm/web"); !ok || err != nil {
		t.Fatalf("app not healthy: %v", err)
	}
	if _, err := m.CreateApplication(marathonApp(t, "/gm/web", 1)); apiCode(err) != marathon.ErrCodeDuplicateID {
		t.Fatalf("create again: %v, want 409 (exists)", err)
	}

	// Scale: no task replaced.
	before := e.liveIDs("/gm/web")
	dep, err := m.ScaleApplicationInstances("/gm/web", 3, false)
	if err != nil {
		t.Fatalf("scale: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	after := e.liveIDs("/gm/web")
	if len(after) != 3 || slices.ContainsFunc(before, func(id string) bool { return !slices.Contains(after, id) }) {
		t.Fatalf("scale replaced tasks: %v -> %v", before, after)
	}

	// Kill a task: it is replaced. Kill one with scale: instances go down.
	tasks, err := m.Tasks("/gm/web")
	if err != nil || len(tasks.Tasks) != 3 {
		t.Fatalf("tasks: %+v %v", tasks, err)
	}
	victim := tasks.Tasks[0].ID
	if _, err := m.KillTask(victim, nil); err != nil {
		t.Fatalf("kill: %v", err)
	}
	e.waitFor(wait, "the killed task replaced", func() (bool, string) {
		live := e.liveIDs("/gm/web")
		return len(live) == 3 && !slices.Contains(live, victim), strings.Join(live, ",")
	})
	if err := m.WaitOnApplication("/gm/web", wait); err != nil {
		t.Fatal(err)
	}
	victim = e.liveIDs("/gm/web")[1]
	if _, err := m.KillTask(victim, &marathon.KillTaskOpts{Scale: true}); err != nil {
		t.Fatalf("kill and scale: %v", err)
	}
	e.waitFor(wait, "the app scaled down by the kill", func() (bool, string) {
		live := e.liveIDs("/gm/web")
		return len(live) == 2 && !slices.Contains(live, victim), strings.Join(live, ",")
	})
	app, err := m.Application("/gm/web")
	if err != nil || *app.Instances != 2 {
		t.Fatalf("after kill with scale: %+v %v", app, err)
	}
	for _, d := range app.DeploymentIDs() {
		if err := m.WaitOnDeployment(d.DeploymentID, wait); err != nil {
			t.Fatal(err)
		}
	}

	// Update (a restart), then roll back to a recorded version.
	versions, err := m.ApplicationVersions("/gm/web")
	if err != nil || len(versions.Versions) < 3 {
		t.Fatalf("versions: %+v %v", versions, err)
	}
	firstVersion := versions.Versions[len(versions.Versions)-1]
	upd := marathonApp(t, "/gm/web", 2)
	upd.AddEnv("COLOUR", "blue")
	dep, err = m.UpdateApplication(upd, false)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	app, err = m.Application("/gm/web")
	if err != nil || (*app.Env)["COLOUR"] != "blue" || app.Version != dep.Version {
		t.Fatalf("after the update: %+v %v", app, err)
	}
	old, err := m.ApplicationByVersion("/gm/web", firstVersion)
	if err != nil || *old.Instances != 2 || (*old.Env)["COLOUR"] != "" {
		t.Fatalf("version %s: %+v %v", firstVersion, old, err)
	}
	if ok, err := m.HasApplicationVersion("/gm/web", firstVersion); !ok || err != nil {
		t.Fatalf("HasApplicationVersion: %v %v", ok, err)
	}
	dep, err = m.SetApplicationVersion("/gm/web", &marathon.ApplicationVersion{Version: firstVersion})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if app, err = m.Application("/gm/web"); err != nil || (*app.Env)["COLOUR"] != "" {
		t.Fatalf("after the rollback: %+v %v", app, err)
	}

	// Restart: every task replaced.
	rolled := e.liveIDs("/gm/web")
	dep, err = m.RestartApplication("/gm/web", false)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if restarted := e.liveIDs("/gm/web"); len(restarted) != 2 || slices.ContainsFunc(restarted, func(id string) bool { return slices.Contains(rolled, id) }) {
		t.Fatalf("restart kept tasks: %v -> %v", rolled, restarted)
	}

	// Errors: 404 and 422.
	if _, err := m.Application("/gm/none"); apiCode(err) != marathon.ErrCodeNotFound {
		t.Fatalf("unknown app: %v, want 404", err)
	}
	bad := marathonApp(t, "/gm/bad", 1)
	bad.CPU(-1)
	if _, err := m.CreateApplication(bad); apiCode(err) != marathon.ErrCodeInvalidBean {
		t.Fatalf("invalid app: %v, want 422", err)
	}

	// Groups: create, scale (an update, and scaleBy), delete.
	// An id relative to the group (go-marathon's Name makes ids absolute).
	relative := func(id string, n int) *marathon.Application {
		a := marathonApp(t, "/x", n)
		a.ID = id
		return a
	}
	g := marathon.NewApplicationGroup("/gm/grp")
	g.App(relative("api", 1)).App(marathonApp(t, "/gm/grp/db", 1))
	if err := m.CreateGroup(g); err != nil {
		t.Fatalf("create group: %v", err)
	}
	if err := m.WaitOnGroup("/gm/grp", wait); err != nil {
		t.Fatalf("wait on the group: %v", err)
	}
	if ok, err := m.HasGroup("/gm/grp"); !ok || err != nil {
		t.Fatalf("HasGroup: %v %v", ok, err)
	}
	got, err := m.Group("/gm/grp")
	if err != nil || len(got.Apps) != 2 || got.Apps[0].ID != "/gm/grp/api" {
		t.Fatalf("group: %+v %v", got, err)
	}
	g2 := marathon.NewApplicationGroup("/gm/grp")
	g2.App(relative("api", 2)).App(relative("db", 1))
	dep, err = m.UpdateGroup("/gm/grp", g2, false)
	if err != nil {
		t.Fatalf("update group: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if n := len(e.liveIDs("/gm/grp/api")); n != 2 {
		t.Fatalf("%d api tasks after the group update", n)
	}
	code, body := e.rawCall(http.MethodPut, "/v2/groups/gm/grp", `{"scaleBy": 1.5}`)
	var scaled marathon.DeploymentID
	if err := json.Unmarshal([]byte(body), &scaled); code != http.StatusOK || err != nil {
		t.Fatalf("scaleBy: %d %s", code, body)
	}
	if err := m.WaitOnDeployment(scaled.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if a, d := len(e.liveIDs("/gm/grp/api")), len(e.liveIDs("/gm/grp/db")); a != 3 || d != 2 {
		t.Fatalf("scaleBy 1.5: %d api, %d db tasks; want 3 and 2", a, d)
	}
	dep, err = m.DeleteGroup("/gm/grp", false)
	if err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if ok, _ := m.HasGroup("/gm/grp"); ok || len(e.liveIDs("/gm/grp/api")) != 0 {
		t.Fatal("the group is still there")
	}

	// A deployment that cannot finish (no agent is called "nowhere"): listed,
	// it locks its app (409 with the locking deployment), and the queue says
	// why. Reverting it starts a deployment that undoes it.
	stuck := marathonApp(t, "/gm/stuck", 1)
	stuck.AddConstraint("hostname", "LIKE", "nowhere")
	created, err = m.CreateApplication(stuck)
	if err != nil {
		t.Fatal(err)
	}
	stuckDep := created.DeploymentIDs()[0].DeploymentID
	deps, err := m.Deployments()
	if err != nil || !slices.ContainsFunc(deps, func(d *marathon.Deployment) bool {
		return d.ID == stuckDep && d.CurrentStep == 1 && d.TotalSteps == 1 && len(d.Steps) == 1 && d.Steps[0][0].Action == "StartApplication"
	}) {
		t.Fatalf("deployments: %+v %v", deps, err)
	}
	if _, err := m.ScaleApplicationInstances("/gm/stuck", 2, false); apiCode(err) != marathon.ErrCodeAppLocked || !strings.Contains(err.Error(), stuckDep) {
		t.Fatalf("scale of a locked app: %v, want 409 naming %s", err, stuckDep)
	}
	e.waitFor(wait, "/gm/stuck in the queue with its offers declined", func() (bool, string) {
		q, err := m.Queue()
		if err != nil {
			return false, err.Error()
		}
		for _, it := range q.Items {
			if it.Application.ID == "/gm/stuck" && it.Count == 1 && it.Delay.Overdue {
				_, body := e.rawCall(http.MethodGet, "/v2/queue", "")
				return strings.Contains(body, `"reason":"UnfulfilledConstraint","declined":`) && !strings.Contains(body, `"reason":"UnfulfilledConstraint","declined":0`), body
			}
		}
		return false, "not queued"
	})
	rev, err := m.DeleteDeployment(stuckDep, false)
	if err != nil || rev.DeploymentID == "" || rev.DeploymentID == stuckDep {
		t.Fatalf("revert: %+v %v", rev, err)
	}
	if err := m.WaitOnDeployment(rev.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Application("/gm/stuck"); apiCode(err) != marathon.ErrCodeNotFound {
		t.Fatalf("the reverted create left the app: %v", err)
	}
	// Cancel (force): the deployment stops where it is, the app stays.
	created, err = m.CreateApplication(stuck)
	if err != nil {
		t.Fatal(err)
	}
	stuckDep = created.DeploymentIDs()[0].DeploymentID
	if code, body := e.rawCall(http.MethodDelete, "/v2/deployments/"+stuckDep+"?force=true", ""); code != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", code, body)
	}
	if found, err := m.HasDeployment(stuckDep); found || err != nil {
		t.Fatalf("the cancelled deployment is listed: %v", err)
	}
	if _, err := m.Application("/gm/stuck"); err != nil {
		t.Fatalf("the cancelled create removed the app: %v", err)
	}

	// Launch delay: an app that fails at once backs off; resetting the delay
	// relaunches it at once; resetting it again is a 404.
	crash := marathon.NewDockerApplication()
	crash.Container = nil
	crash.Name("/gm/crash").Command("exit 1").CPU(0.1).Memory(16).Count(1)
	backoff, factor, maxDelay := 60.0, 1.0, 60.0
	crash.BackoffSeconds, crash.BackoffFactor, crash.MaxLaunchDelaySeconds = &backoff, &factor, &maxDelay
	if _, err := m.CreateApplication(crash); err != nil {
		t.Fatal(err)
	}
	e.waitFor(wait, "/gm/crash backing off in the queue", func() (bool, string) {
		q, err := m.Queue()
		if err != nil {
			return false, err.Error()
		}
		for _, it := range q.Items {
			if it.Application.ID == "/gm/crash" && !it.Delay.Overdue && it.Delay.TimeLeftSeconds > 0 {
				return true, ""
			}
		}
		return false, "no delay yet"
	})
	// The app fails at once: its last failure names a new task only if it was
	// relaunched, which within the 60 s backoff only the reset can do.
	crashed, err := m.Application("/gm/crash")
	if err != nil || crashed.LastTaskFailure == nil {
		t.Fatalf("no last task failure: %+v %v", crashed, err)
	}
	failed := crashed.LastTaskFailure.TaskID
	if err := m.DeleteQueueDelay("/gm/crash"); err != nil {
		t.Fatalf("reset the delay: %v", err)
	}
	e.waitFor(wait, "a relaunch (and its failure) after the reset", func() (bool, string) {
		a, err := m.Application("/gm/crash")
		if err != nil || a.LastTaskFailure == nil {
			return false, fmt.Sprint(err)
		}
		return a.LastTaskFailure.TaskID != failed, a.LastTaskFailure.TaskID
	})
	if err := m.DeleteQueueDelay("/gm/web"); apiCode(err) != marathon.ErrCodeNotFound {
		t.Fatalf("reset without a delay: %v, want 404", err)
	}

	// Delete.
	dep, err = m.DeleteApplication("/gm/web", false)
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := m.WaitOnDeployment(dep.DeploymentID, wait); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Application("/gm/web"); apiCode(err) != marathon.ErrCodeNotFound || len(e.liveIDs("/gm/web")) != 0 {
		t.Fatalf("after delete: %v", err)
	}
}
