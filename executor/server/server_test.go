package server

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/stride-run/stride/internal/freeports"
)

// testEnv is a Mesos stand-in and a Stride server on a data dir, talking over
// real HTTP: the production driver, executor, store and API.
type testEnv struct {
	t *testing.T
	// be is the cluster of a conformance scenario (conformance_test.go).
	be backend
	// frameworkID is the one the server subscribed as.
	frameworkID string
	master      *localmesos.Master
	srv         *Server
	client      *api.Client
	dataDir     string
	logMu       sync.Mutex
	log         []string
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
		FirstPort: freeports.Range(t, max(agents, 1)*testPortsPerAgent), PortsPerAgent: testPortsPerAgent,
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
	e.frameworkID = srv.Executor().FrameworkID()
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

// freeAddr returns a loopback address for a server to listen on: a port of
// internal/freeports held until the test ends.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freeports.Range(t, 1))
}

// testPortsPerAgent is the size of each test agent's port range.
const testPortsPerAgent = 40
