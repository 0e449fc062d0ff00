package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/planner"
)

// testEnv is a Mesos stand-in and a Stride server on a data dir, talking over
// real HTTP: the production driver, executor, store and API.
type testEnv struct {
	t       *testing.T
	master  *localmesos.Master
	srv     *Server
	client  *api.Client
	dataDir string
	logMu   sync.Mutex
	log     []string
	// embeddedFirstPort is the first port of the subprocess stand-in's agents
	// (recover_test.go), picked once per data dir.
	embeddedFirstPort int
}

func newEnv(t *testing.T, agents int) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dataDir: t.TempDir()}
	m, err := localmesos.New(localmesos.Config{
		// Ports of their own: other packages' (and other checkouts') tests run
		// stand-ins at the same time.
		WorkDir: filepath.Join(e.dataDir, "mesos"), Agents: agents,
		FirstPort: freePortRange(t, agents, testPortsPerAgent), PortsPerAgent: testPortsPerAgent,
		OfferInterval: 50 * time.Millisecond, HeartbeatInterval: time.Second, UpdateRetry: 500 * time.Millisecond,
		Logf: e.logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	e.master = m
	e.startServer()
	return e
}

func (e *testEnv) logf(format string, args ...any) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

func (e *testEnv) startServer() { e.startServerOn(e.master.URL(), 10*time.Second) }

// startServerOn starts a server against a Mesos master and waits (up to
// timeout) until it has subscribed.
func (e *testEnv) startServerOn(mesosURL string, timeout time.Duration) {
	e.t.Helper()
	start := func() (*Server, error) {
		return Start(context.Background(), Config{
			Listen: "127.0.0.1:0", DataDir: e.dataDir, MesosURL: mesosURL,
			StableAfter: 2 * time.Second, Logf: e.logf,
		})
	}
	srv, err := start()
	// A server closed in this process may still have its data dir's lock shared
	// with a task process the stand-in is forking (the descriptor is only closed
	// at its exec): wait for that to pass, as a restarted process would.
	for deadline := time.Now().Add(timeout); errors.Is(err, engine.ErrLocked) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
		srv, err = start()
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.client = api.NewClient(srv.URL())
	e.t.Cleanup(func() { _ = srv.Close() })
	e.waitFor(timeout, "the server subscribed to Mesos at "+mesosURL, func() (bool, string) {
		v := srv.Executor().View()
		return v.Connected, fmt.Sprintf("connected=%v", v.Connected)
	})
}

// waitFor polls cond until it holds or the deadline passes.
func (e *testEnv) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	e.logMu.Lock()
	tail := e.log[max(0, len(e.log)-30):]
	e.logMu.Unlock()
	e.t.Fatalf("timed out after %v waiting for %s (last: %s)\nlog tail:\n%s", timeout, what, last, strings.Join(tail, "\n"))
}

// testApp returns an app running this test binary as an HTTP server with an HTTP
// health check.
func testApp(t *testing.T, id string, instances int, env map[string]string) *engine.App {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a := engine.NewApp(id)
	a.Cmd = "exec " + bin
	a.Instances = instances
	a.Cpus = 0.1
	a.Mem = 32
	a.Env = map[string]string{"STRIDE_TESTAPP": "1"}
	for k, v := range env {
		a.Env[k] = v
	}
	a.PortDefinitions = []engine.PortDefinition{{Name: "http"}}
	hc := engine.DefaultHealthCheck()
	hc.Path = "/health"
	hc.PortName = "http"
	hc.GracePeriodSeconds, hc.IntervalSeconds, hc.TimeoutSeconds, hc.MaxConsecutiveFailures = 5, 1, 1, 2
	a.HealthChecks = []engine.HealthCheck{hc}
	a.BackoffSeconds, a.BackoffFactor, a.MaxLaunchDelaySeconds = 0.5, 2, 4
	a.TaskKillGracePeriodSeconds = 2
	a.ApplyDefaults()
	if fe := a.Validate(); fe != nil {
		t.Fatalf("test app invalid: %v", fe)
	}
	return a
}

func specOf(apps ...*engine.App) *engine.Spec {
	s := &engine.Spec{Scope: "/"}
	s.Apps = append(s.Apps, apps...)
	return s
}

func (e *testEnv) apply(spec *engine.Spec) *api.ApplyResponse {
	e.t.Helper()
	resp, err := e.client.Apply(context.Background(), api.ApplyRequest{Spec: spec})
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return resp
}

func (e *testEnv) waitDeployment(id string, timeout time.Duration) {
	e.t.Helper()
	e.waitFor(timeout, "deployment "+id+" to succeed", func() (bool, string) {
		d, err := e.client.Deployment(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		if d.Status == engine.DeploymentFailed || d.Status == engine.DeploymentCancelled {
			e.t.Fatalf("deployment %s %s: %s", id, d.Status, d.Reason)
		}
		return d.Status == engine.DeploymentSucceeded, fmt.Sprintf("%s step %d %+v", d.Status, d.CurrentStep, d.Apps)
	})
}

// appStatus returns the app's status from the executor's published view.
func (e *testEnv) appStatus(id string) *executor.AppStatus {
	return e.srv.Executor().View().App(id)
}

// liveTasks returns the app's tasks the stand-in runs (not terminal).
func (e *testEnv) liveTasks(appID string) []localmesos.TaskInfo {
	var out []localmesos.TaskInfo
	for _, t := range e.master.Tasks() {
		if engine.AppIDFromTaskID(t.ID) == appID && !engine.TerminalTaskState(t.State.String()) {
			out = append(out, t)
		}
	}
	return out
}

func TestApplyScaleRestartDestroy(t *testing.T) {
	e := newEnv(t, 3)
	db := testApp(t, "/shop/db", 1, nil)
	web := testApp(t, "/shop/web", 3, nil)
	web.Dependencies = []string{"/shop/db"}
	web.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.34}

	// Create: db before web.
	resp := e.apply(specOf(db, web))
	if resp.DeploymentID == "" || len(resp.Plan.Steps) != 2 {
		t.Fatalf("want a 2-step deployment, got %+v", resp)
	}
	e.waitDeployment(resp.DeploymentID, 30*time.Second)
	if st := e.appStatus("/shop/web"); st.TasksHealthy != 3 || st.TasksRunning != 3 {
		t.Fatalf("web after create: %d running, %d healthy", st.TasksRunning, st.TasksHealthy)
	}
	for _, tk := range e.srv.Executor().View().Tasks {
		if tk.Host == "" || len(tk.Ports) != 1 || tk.StartedAt == "" || tk.Version == "" {
			t.Errorf("task lacks Marathon fields: %+v", tk)
		}
	}
	// The text task list has one line per app and service port, with host:port
	// of every running task.
	text := e.get("/v2/tasks", "text/plain")
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Split(strings.TrimRight(line, "\t"), "\t")
		if f[0] == "shop_web" && len(f) != 2+3 {
			t.Errorf("text line for web has %d endpoints, want 3: %q", len(f)-2, line)
		}
	}

	// Scale: 3 -> 5.
	web5 := web.Clone()
	web5.Instances = 5
	resp = e.apply(specOf(db, web5))
	if resp.Plan.Changes[0].Action != engine.ActionScale {
		t.Fatalf("want scale, got %+v", resp.Plan.Changes[0])
	}
	e.waitDeployment(resp.DeploymentID, 30*time.Second)
	if n := len(e.liveTasks("/shop/web")); n != 5 {
		t.Fatalf("web runs %d tasks after scale, want 5", n)
	}

	// Rolling restart, sampled: never more than maxRunning tasks alive, never fewer
	// than minHealthy healthy.
	web5v2 := web5.Clone()
	web5v2.Env["VERSION"] = "2"
	minHealthy, maxRunning := planner.Bounds(5, web5v2.UpgradeStrategy)
	resp = e.apply(specOf(db, web5v2))
	if resp.Plan.Changes[0].Action != engine.ActionRestart {
		t.Fatalf("want restart, got %+v", resp.Plan.Changes[0])
	}
	samples := 0
	e.waitFor(60*time.Second, "the rolling restart", func() (bool, string) {
		v := e.srv.Executor().View()
		st := v.App("/shop/web")
		live := 0
		for _, tk := range v.Tasks {
			if tk.AppID == "/shop/web" {
				live++
			}
		}
		samples++
		if live > maxRunning {
			t.Fatalf("%d web tasks alive during the restart, bound is %d", live, maxRunning)
		}
		if st.TasksHealthy < minHealthy {
			t.Fatalf("%d web tasks healthy during the restart, bound is %d", st.TasksHealthy, minHealthy)
		}
		d, ok := v.Deployment(resp.DeploymentID)
		return ok && d.Status == engine.DeploymentSucceeded, fmt.Sprintf("live %d healthy %d", live, st.TasksHealthy)
	})
	if samples < 10 {
		t.Fatalf("only %d samples of the restart", samples)
	}
	for _, tk := range e.srv.Executor().View().Tasks {
		if tk.AppID == "/shop/web" && tk.Version != e.appStatus("/shop/web").App.Version {
			t.Errorf("task %s still runs version %s", tk.ID, tk.Version)
		}
	}

	// Destroy everything: web (the dependent) is gone before db is touched.
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	resp = e.apply(specOf())
	if resp.Plan.Summary.Destroy != 2 || resp.Plan.Changes[0].ID != "/shop/web" {
		t.Fatalf("destroy plan: %+v", resp.Plan.Summary)
	}
	e.waitDeployment(resp.DeploymentID, 30*time.Second)
	var order []string
	for len(order) < 6 {
		select {
		case ev := <-events:
			var su executor.StatusUpdate
			if ev.Type == executor.EventStatusUpdate && ev.Decode(&su) == nil && su.TaskStatus == engine.TaskKilled {
				order = append(order, su.AppID)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("saw only %d kills: %v", len(order), order)
		}
	}
	if order[len(order)-1] != "/shop/db" {
		t.Fatalf("kill order %v: db must go last", order)
	}
	for _, id := range order[:5] {
		if id != "/shop/web" {
			t.Fatalf("kill order %v: all of web must go before db", order)
		}
	}
	if n := len(e.master.Tasks()); n != 0 {
		for _, tk := range e.master.Tasks() {
			if !engine.TerminalTaskState(tk.State.String()) {
				t.Fatalf("task %s still %s after destroy", tk.ID, tk.State)
			}
		}
	}
}

func (e *testEnv) get(path, accept string) string {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL()+path, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET %s: %s %s", path, resp.Status, body)
	}
	return string(body)
}

func TestKilledTaskIsReplacedAfterBackoff(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/api", 2, nil)
	a.BackoffSeconds = 1
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 30*time.Second)
	victim := e.liveTasks("/api")[0]
	killedAt := time.Now()
	if err := syscall.Kill(-victim.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the task's process group: %v", err)
	}
	e.waitFor(20*time.Second, "a replacement task running and healthy", func() (bool, string) {
		st := e.appStatus("/api")
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "victim still listed"
			}
		}
		return st.TasksHealthy == 2, fmt.Sprintf("%d healthy", st.TasksHealthy)
	})
	st := e.appStatus("/api")
	if st.LastTaskFailure == nil || st.LastTaskFailure.TaskID != victim.ID || st.LastTaskFailure.State != engine.TaskFailed {
		t.Fatalf("lastTaskFailure %+v, want the killed task failed", st.LastTaskFailure)
	}
	for _, tk := range st.Tasks {
		staged, err := time.Parse(time.RFC3339Nano, tk.StagedAt)
		if err != nil {
			t.Fatal(err)
		}
		// The replacement waited for the backoff (a lower bound, not a timing race).
		if staged.After(killedAt) && staged.Sub(killedAt) < time.Second {
			t.Errorf("replacement staged %v after the failure, before the 1s backoff", staged.Sub(killedAt))
		}
	}
}

func TestCrashLoopBacksOffExponentially(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/crash", 1, map[string]string{"EXIT_AFTER": "100ms"})
	a.HealthChecks = nil
	a.BackoffSeconds, a.BackoffFactor, a.MaxLaunchDelaySeconds = 0.4, 2, 10
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	e.apply(specOf(a))
	var staged []time.Time
	deadline := time.After(30 * time.Second)
	for len(staged) < 4 {
		select {
		case ev := <-events:
			var su executor.StatusUpdate
			if ev.Type == executor.EventStatusUpdate && ev.Decode(&su) == nil && su.AppID == "/crash" && su.TaskStatus == engine.TaskRunning {
				staged = append(staged, time.Now())
			}
		case <-deadline:
			t.Fatalf("only %d launches in 30s", len(staged))
		}
	}
	// Launch n+1 waits at least backoff*factor^(n-1) after failure n, which comes
	// ~100ms after launch n: gaps grow 0.4s, 0.8s, 1.6s (lower bounds).
	for i := 1; i < len(staged); i++ {
		min := time.Duration(0.4*float64(int(1)<<(i-1))*float64(time.Second)) + 100*time.Millisecond
		if gap := staged[i].Sub(staged[i-1]); gap < min {
			t.Errorf("launch %d came %v after launch %d, want >= %v", i+1, gap, i, min)
		}
	}
	st := e.appStatus("/crash")
	if st.LastTaskFailure == nil || st.LastTaskFailure.State != engine.TaskFailed || !strings.Contains(st.LastTaskFailure.Message, "3") {
		t.Fatalf("lastTaskFailure %+v, want TASK_FAILED with exit status 3", st.LastTaskFailure)
	}
	// Without health checks a task counts once it runs (Marathon's rule), so the
	// deployment may have succeeded; the backoff is what keeps the loop slow.
	// The remaining backoff is visible between crashes.
	e.waitFor(20*time.Second, "the backoff delay shown", func() (bool, string) {
		st := e.appStatus("/crash")
		return st.Delay > 0, fmt.Sprintf("delay %v", st.Delay)
	})
}

func TestUnsatisfiableConstraintIsReported(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/unique", 4, nil)
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	resp := e.apply(specOf(a))
	e.waitFor(20*time.Second, "the unplaced instance reported", func() (bool, string) {
		st := e.appStatus("/unique")
		return st.TasksRunning == 3 && strings.Contains(st.Waiting, "hostname:UNIQUE"), st.Waiting
	})
	st := e.appStatus("/unique")
	if !strings.Contains(st.Waiting, "3 agents considered") {
		t.Errorf("waiting reason %q does not say how many agents were considered", st.Waiting)
	}
	d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != engine.DeploymentRunning || len(d.Apps) != 1 || !strings.Contains(d.Apps[0].Waiting, "UNIQUE") {
		t.Fatalf("deployment does not show why it waits: %+v", d)
	}
	// Why it waits is Stride's: under /stride/v1, never in Marathon's app.
	if body := e.get("/stride/v1/apps/unique", "application/json"); !strings.Contains(body, "hostname:UNIQUE") {
		t.Errorf("GET /stride/v1/apps/unique does not carry the reason: %s", body)
	}
	if body := e.get("/v2/apps/unique", "application/json"); strings.Contains(body, "hostname:UNIQUE") || strings.Contains(body, `"stride"`) {
		t.Errorf("GET /v2/apps/unique carries Stride's fields: %s", body)
	}
}

func TestFailingHealthCheckReplacesTask(t *testing.T) {
	e := newEnv(t, 2)
	a := testApp(t, "/hc", 2, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 30*time.Second)
	victim := e.liveTasks("/hc")[0]
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	if err := os.WriteFile(filepath.Join(victim.Sandbox, "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	killed := false
	deadline := time.After(20 * time.Second)
	for !killed {
		select {
		case ev := <-events:
			var k executor.UnhealthyInstanceKill
			killed = ev.Type == executor.EventUnhealthyInstanceKill && ev.Decode(&k) == nil && k.TaskID == victim.ID && k.InstanceID == victim.ID
		case <-deadline:
			t.Fatal("no unhealthy_instance_kill_event for the task told to be unhealthy")
		}
	}
	e.waitFor(20*time.Second, "a healthy replacement", func() (bool, string) {
		st := e.appStatus("/hc")
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "victim still there"
			}
		}
		return st.TasksHealthy == 2, fmt.Sprintf("%d healthy", st.TasksHealthy)
	})
}

func TestServerRestartMidDeploymentResumes(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/resume", 3, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, 30*time.Second)
	v2 := a.Clone()
	v2.Env["VERSION"] = "2"
	resp := e.apply(specOf(v2))
	// Kill the server as soon as the rollout has started its first new task.
	e.waitFor(20*time.Second, "the first new task", func() (bool, string) {
		n := len(e.liveTasks("/resume"))
		return n == 4, fmt.Sprintf("%d live", n)
	})
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e.startServer()
	e.waitDeployment(resp.DeploymentID, 60*time.Second)
	live := e.liveTasks("/resume")
	if len(live) != 3 {
		t.Fatalf("%d tasks run after the resumed restart, want exactly 3: %+v", len(live), live)
	}
	st := e.appStatus("/resume")
	for _, tk := range st.Tasks {
		if tk.Version != st.App.Version {
			t.Errorf("task %s runs %s, want %s", tk.ID, tk.Version, st.App.Version)
		}
	}
	if st.TasksHealthy != 3 {
		t.Fatalf("%d healthy after resume", st.TasksHealthy)
	}
}

func TestStaleAndLockedAndBadInputChangeNothing(t *testing.T) {
	e := newEnv(t, 2)
	// Never healthy (404), and within its grace period: the deployment stays running.
	a := testApp(t, "/x", 1, nil)
	a.HealthChecks[0].Path = "/missing"
	a.HealthChecks[0].GracePeriodSeconds = 300
	resp := e.apply(specOf(a))
	state, err := e.client.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// A plan made against an older serial is refused as stale.
	b := a.Clone()
	b.Instances = 2
	old := state.Serial - 1
	_, err = e.client.Apply(context.Background(), api.ApplyRequest{Spec: specOf(b), StateSerial: &old})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "stale") {
		t.Fatalf("stale apply: %v", err)
	}

	// Invalid input: 422 naming the field.
	bad := a.Clone()
	bad.Cpus = -1
	_, err = e.client.Apply(context.Background(), api.ApplyRequest{Spec: specOf(bad)})
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || len(ae.Details) == 0 || ae.Details[0].Path != "/spec/apps/0/cpus" {
		t.Fatalf("invalid apply: %v", err)
	}
	// Malformed JSON: 400.
	r, err := http.Post(e.srv.URL()+"/stride/v1/apply", "application/json", strings.NewReader(`{"spec": {"apps": [{"id": 3}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest && r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("malformed apply: %s", r.Status)
	}

	// The app is locked by its running deployment (it waits for health).
	c := a.Clone()
	c.Instances = 3
	_, err = e.client.Apply(context.Background(), api.ApplyRequest{Spec: specOf(c)})
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, resp.DeploymentID) {
		t.Fatalf("locked apply: %v", err)
	}

	after, err := e.client.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.Serial != state.Serial || len(after.Apps) != 1 || after.Apps[0].Instances != 1 {
		t.Fatalf("refused applies changed the state: serial %d -> %d, apps %+v", state.Serial, after.Serial, after.Apps)
	}
	if deps := e.srv.Executor().View().Deployments; len(deps) != 1 || deps[0].ID != resp.DeploymentID {
		t.Fatalf("refused applies changed the deployments: %+v", deps)
	}

	// With force, the newer apply supersedes the running deployment.
	forced, err := e.client.Apply(context.Background(), api.ApplyRequest{Spec: specOf(c), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != engine.DeploymentCancelled || forced.DeploymentID == resp.DeploymentID {
		t.Fatalf("forced apply: old deployment %s, new %s", d.Status, forced.DeploymentID)
	}
}

// TestServerKilledMidDeploymentResumes kills the server with SIGKILL in the middle
// of a rolling restart — no flush, no goodbye — and starts another on the same
// data dir: it finishes the deployment, and no task runs twice.
func TestServerKilledMidDeploymentResumes(t *testing.T) {
	e := newEnv(t, 3)
	// The in-process server of newEnv is only needed for the setup; the one that
	// is killed runs in a subprocess.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	startProc := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "STRIDE_TESTSERVER=1", "LISTEN="+addr, "DATA_DIR="+e.dataDir, "MESOS_URL="+e.master.URL())
		var logs syncWriter
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		e.client = api.NewClient(addr)
		e.waitFor(20*time.Second, "the server subprocess to answer", func() (bool, string) {
			_, err := e.client.State(context.Background())
			return err == nil, fmt.Sprint(err, logs.String())
		})
		return cmd
	}
	proc := startProc()

	a := testApp(t, "/killed", 3, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}
	first := e.apply(specOf(a))
	e.waitFor(30*time.Second, "the create deployment", func() (bool, string) {
		d, err := e.client.Deployment(context.Background(), first.DeploymentID)
		return err == nil && d.Status == engine.DeploymentSucceeded, fmt.Sprint(err)
	})
	v2 := a.Clone()
	v2.Env["VERSION"] = "2"
	resp := e.apply(specOf(v2))
	e.waitFor(20*time.Second, "the first new task of the rollout", func() (bool, string) {
		n := len(e.liveTasks("/killed"))
		return n == 4, fmt.Sprintf("%d live", n)
	})
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()

	startProc()
	e.waitFor(60*time.Second, "the resumed deployment", func() (bool, string) {
		d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
		if err != nil {
			return false, err.Error()
		}
		return d.Status == engine.DeploymentSucceeded, fmt.Sprintf("%s %+v", d.Status, d.Apps)
	})
	app, err := e.client.App(context.Background(), "/killed")
	if err != nil {
		t.Fatal(err)
	}
	live := e.liveTasks("/killed")
	if len(live) != 3 || len(app.Tasks) != 3 {
		t.Fatalf("after the resumed rollout: %d tasks run on Mesos, %d known to Stride; want 3 and 3", len(live), len(app.Tasks))
	}
	for _, tk := range app.Tasks {
		if tk.Version != app.Version {
			t.Errorf("task %s runs %s, want %s", tk.ID, tk.Version, app.Version)
		}
	}
}

// syncWriter collects a subprocess's output for failure messages.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.b.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testPortsPerAgent is the size of each test agent's port range.
const testPortsPerAgent = 40

// freePortRange returns a first port for agents stand-in agents of perAgent ports
// each such that nothing listens, now, on any of those ports on the agents'
// addresses (127.0.0.2, 127.0.0.3, ...): tests elsewhere on the machine run
// stand-ins at the same time, and a task that finds its port taken exits.
func freePortRange(t *testing.T, agents, perAgent int) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for try := 0; try < 50; try++ {
		first := 10000 + rng.IntN(22000-agents*perAgent) // below the ephemeral ports (32768-)
		if portsFree(first, agents, perAgent) {
			return first
		}
	}
	t.Fatal("no free port range for the stand-in's agents")
	return 0
}

func portsFree(first, agents, perAgent int) bool {
	for i := 0; i < agents; i++ {
		host := fmt.Sprintf("127.0.0.%d", i+2)
		for p := first + i*perAgent; p < first+(i+1)*perAgent; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			ln.Close()
		}
	}
	return true
}
