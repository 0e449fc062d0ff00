package server

// The conformance suite: Stride's integration scenarios written once and run
// against two backends, the Mesos stand-in (a fresh one per scenario) and a
// real Apache Mesos 1.11.1 cluster (one, shared by the scenarios: each runs
// its own Stride server and framework, torn down at its end). The subtests are
// named by backend:
//
//	go test -run 'TestConformance/standin' ./executor/server/
//	STRIDE_TEST_MESOS=$(scripts/mesos.sh) go test -run 'TestConformance/mesos' ./executor/server/
//
// Without STRIDE_TEST_MESOS the real-cluster half is skipped. What a scenario
// checks holds on both: where a real master behaved differently, the stand-in
// was changed (see executor/localmesos/conformance_test.go for the protocol
// level).

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/executor/metrics"
	"github.com/stride-run/stride/planner"
)

// backend is a Mesos cluster a scenario runs Stride against.
type backend interface {
	// mesosURL is the master's URL.
	mesosURL() string
	// killTask kills a task's process with SIGKILL, behind Mesos' back.
	killTask(t *testing.T, taskID string)
	// sandbox returns a running task's sandbox directory.
	sandbox(t *testing.T, taskID string) string
	// partition cuts an agent off from the master (its tasks keep running);
	// heal lets it back.
	partition(t *testing.T, agentID string)
	heal(t *testing.T, agentID string)
	// portRange returns the ports the agent on host offers.
	portRange(t *testing.T, host string) (lo, hi int)
	// timeout bounds every wait of a scenario.
	timeout() time.Duration
}

// Both backends have three agents over two racks, with disjoint port ranges.
const conformanceAgents = 3

// standinBackend is a stand-in of the scenario's own.
type standinBackend struct{ m *localmesos.Master }

func (b standinBackend) mesosURL() string { return b.m.URL() }

func (b standinBackend) task(t *testing.T, id string) localmesos.TaskInfo {
	t.Helper()
	for _, tk := range b.m.Tasks() {
		if tk.ID == id {
			return tk
		}
	}
	t.Fatalf("the stand-in has no task %s", id)
	return localmesos.TaskInfo{}
}

func (b standinBackend) killTask(t *testing.T, id string) {
	t.Helper()
	if err := syscall.Kill(b.task(t, id).PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill task %s: %v", id, err)
	}
}

func (b standinBackend) sandbox(t *testing.T, id string) string { return b.task(t, id).Sandbox }

func (b standinBackend) partition(t *testing.T, agentID string) {
	t.Helper()
	if err := b.m.PartitionAgent(agentID); err != nil {
		t.Fatal(err)
	}
}

func (b standinBackend) heal(t *testing.T, agentID string) {
	t.Helper()
	if err := b.m.HealAgent(agentID); err != nil {
		t.Fatal(err)
	}
}

func (b standinBackend) portRange(t *testing.T, host string) (int, int) {
	t.Helper()
	for _, a := range b.m.Agents() {
		if a.Hostname == host && len(a.Total.Ports) == 1 {
			return int(a.Total.Ports[0].Begin), int(a.Total.Ports[0].End)
		}
	}
	t.Fatalf("no agent %s", host)
	return 0, 0
}

func (b standinBackend) timeout() time.Duration { return 60 * time.Second }

// realBackend is the shared real cluster.
type realBackend struct {
	c *mesostest.Cluster
	// agents maps agent ids to the cluster's agents (the master stops listing
	// one it lost).
	agents map[string]int
}

func (b *realBackend) mesosURL() string { return b.c.MasterURL() }

func (b *realBackend) find(t *testing.T, id string) mesostest.TaskProcess {
	t.Helper()
	var tp mesostest.TaskProcess
	waitUntil(t, b.timeout(), "task "+id+" on an agent", func() (bool, string) {
		var ok bool
		tp, ok = b.c.FindTask(id)
		return ok && tp.PID > 0, fmt.Sprintf("%+v", tp)
	})
	return tp
}

func (b *realBackend) killTask(t *testing.T, id string) {
	t.Helper()
	if err := syscall.Kill(b.find(t, id).PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill task %s: %v", id, err)
	}
}

func (b *realBackend) sandbox(t *testing.T, id string) string { return b.find(t, id).Sandbox }

func (b *realBackend) agentIndex(t *testing.T, agentID string) int {
	t.Helper()
	if i, ok := b.agents[agentID]; ok {
		return i
	}
	st, err := b.c.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Slaves {
		for i, a := range b.c.Agents {
			if s.ID == agentID && a.IP == s.Hostname {
				b.agents[agentID] = i
				return i
			}
		}
	}
	t.Fatalf("no agent %s", agentID)
	return 0
}

// partition kills the agent process: its tasks keep running (posix launcher),
// and the master declares it unreachable after its ping timeouts.
func (b *realBackend) partition(t *testing.T, agentID string) {
	b.c.KillAgent(b.agentIndex(t, agentID))
}

// heal starts the agent again: it recovers its tasks and re-registers.
func (b *realBackend) heal(t *testing.T, agentID string) { b.c.StartAgent(b.agentIndex(t, agentID)) }

func (b *realBackend) portRange(t *testing.T, host string) (int, int) {
	t.Helper()
	for _, a := range b.c.Agents {
		if a.IP == host {
			return a.Ports[0], a.Ports[1]
		}
	}
	t.Fatalf("no agent %s", host)
	return 0, 0
}

// timeout is generous: an unoptimised Mesos on a shared two-core machine.
func (b *realBackend) timeout() time.Duration { return 120 * time.Second }

// scenario is one conformance scenario.
type scenario func(t *testing.T, e *testEnv)

var scenarios = map[string]scenario{
	"apply-scale-restart-destroy":  scenarioApplyScaleRestartDestroy,
	"kill-and-replace":             scenarioKillAndReplace,
	"crash-loop-backoff":           scenarioCrashLoop,
	"unsatisfiable-constraint":     scenarioUnsatisfiable,
	"health-check-failure":         scenarioHealthCheckFailure,
	"server-restart-mid-rollout":   scenarioServerRestart,
	"mesos-command-check":          scenarioMesosCommandCheck,
	"mesos-http-check":             scenarioMesosHTTPCheck,
	"fetch-artifacts":              scenarioFetch,
	"kill-grace-period":            scenarioKillGrace,
	"agent-loss-unreachable":       scenarioAgentLoss,
	"agent-loss-replaced-at-once":  scenarioAgentLossDefault,
	"zz-destroy-leaves-no-process": scenarioNothingLeft,
}

func TestConformance(t *testing.T) {
	names := make([]string, 0, len(scenarios))
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	// The two halves share nothing (the stand-ins' ports are not the real
	// agents'): they run side by side.
	t.Run("standin", func(t *testing.T) {
		t.Parallel()
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, conformanceAgents)
				e.be = standinBackend{e.master}
				scenarios[name](t, e)
			})
		}
	})
	t.Run("mesos", func(t *testing.T) {
		t.Parallel()
		// A silent agent is unreachable after 8 s (agent loss), late enough
		// not to happen by accident on a busy machine.
		c := mesostest.Start(t, mesostest.Options{Agents: conformanceAgents, AgentPingTimeout: 2 * time.Second, MaxAgentPingTimeouts: 4})
		be := &realBackend{c: c, agents: map[string]int{}}
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				e := &testEnv{t: t, dataDir: t.TempDir(), be: be}
				// Registered before the server's own cleanup, so run after it:
				// the server is gone before its framework is torn down (else
				// it would subscribe afresh and launch again).
				t.Cleanup(func() { e.teardownOn(c) })
				e.startServerOn(c.MasterURL(), be.timeout())
				scenarios[name](t, e)
			})
		}
	})
}

// teardownOn removes the scenario's framework from the shared cluster and waits
// until the master holds no live task.
func (e *testEnv) teardownOn(c *mesostest.Cluster) {
	if e.frameworkID == "" {
		return
	}
	c.Teardown(e.frameworkID)
	waitUntil(e.t, 60*time.Second, "the cluster to run no task", func() (bool, string) {
		tasks, err := c.Tasks(false)
		return err == nil && len(tasks) == 0, fmt.Sprint(tasks, err)
	})
}

// masterTasks returns the tasks the master knows of the app, by id with their
// state: the live ones and, with completed, the finished ones too. The stand-in
// serves the same /master/state as Mesos.
func (e *testEnv) masterTasks(appID string, completed bool) map[string]string {
	e.t.Helper()
	resp, err := http.Get(e.be.mesosURL() + "/master/state")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st mesostest.MasterState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range st.Frameworks {
		if f.ID != e.frameworkID {
			continue
		}
		var tasks []mesostest.Task
		tasks = append(tasks, f.Tasks...)
		if completed {
			tasks = append(tasks, f.CompletedTasks...)
		}
		for _, tk := range tasks {
			if engine.AppIDFromTaskID(tk.ID) == appID {
				out[tk.ID] = tk.State
			}
		}
	}
	return out
}

// liveOnMaster counts the app's tasks the master holds in a non-terminal state.
func (e *testEnv) liveOnMaster(appID string) int {
	n := 0
	for _, state := range e.masterTasks(appID, false) {
		if !engine.TerminalTaskState(state) {
			n++
		}
	}
	return n
}

// watchViews calls check on every view the executor publishes until stop is
// closed; it returns how many it saw once check has seen the last.
func (e *testEnv) watchViews(check func(v *executor.View)) (stop func() int) {
	done := make(chan struct{})
	count := make(chan int, 1)
	v := e.srv.Executor().View()
	go func() {
		n := 0
		for {
			check(v)
			n++
			select {
			case <-v.Next():
				v = e.srv.Executor().View()
			case <-done:
				count <- n
				return
			}
		}
	}()
	return func() int { close(done); return <-count }
}

// scenarioApplyScaleRestartDestroy: a two-step create (db before web), each
// task on a port of its agent's range, serving; a scale up; a rolling restart
// whose bounds hold in every view the executor publishes; a destroy that kills
// all of web before db.
func scenarioApplyScaleRestartDestroy(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	db := testApp(t, "/shop/db", 1, nil)
	web := testApp(t, "/shop/web", 3, nil)
	web.Dependencies = []string{"/shop/db"}
	web.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.25}

	events, stopEvents := e.srv.Executor().Bus().Subscribe(0)
	resp := e.apply(specOf(db, web))
	if resp.DeploymentID == "" || len(resp.Plan.Steps) != 2 {
		t.Fatalf("want a 2-step deployment, got %+v", resp)
	}
	e.waitDeployment(resp.DeploymentID, timeout)
	st := e.appStatus("/shop/web")
	if st.TasksHealthy != 3 || st.TasksRunning != 3 {
		t.Fatalf("web after create: %d running, %d healthy", st.TasksRunning, st.TasksHealthy)
	}
	checkTaskEvents(t, events, st, e.srv.metrics, timeout)
	stopEvents()
	for _, tk := range e.srv.Executor().View().Tasks {
		if tk.Host == "" || len(tk.Ports) != 1 || tk.StartedAt == "" || tk.Version == "" {
			t.Errorf("task lacks Marathon fields: %+v", tk)
		}
		if lo, hi := e.be.portRange(t, tk.Host); tk.Ports[0] < lo || tk.Ports[0] > hi {
			t.Errorf("task %s on port %d, outside its agent's range %d-%d", tk.ID, tk.Ports[0], lo, hi)
		}
	}
	e.checkServing("/shop/web")
	if n := e.liveOnMaster("/shop/web"); n != 3 {
		t.Fatalf("the master holds %d live web tasks, want 3", n)
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

	// Scale: 3 -> 4.
	web4 := web.Clone()
	web4.Instances = 4
	resp = e.apply(specOf(db, web4))
	if resp.Plan.Changes[0].Action != engine.ActionScale {
		t.Fatalf("want scale, got %+v", resp.Plan.Changes[0])
	}
	e.waitDeployment(resp.DeploymentID, timeout)
	e.waitFor(timeout, "the master to hold 4 live web tasks", func() (bool, string) {
		n := e.liveOnMaster("/shop/web")
		return n == 4, fmt.Sprint(n)
	})

	// Rolling restart: in every view, at most maxRunning tasks and at least
	// minHealthy healthy ones.
	web4v2 := web4.Clone()
	web4v2.Env["VERSION"] = "2"
	minHealthy, maxRunning := planner.Bounds(4, web4v2.UpgradeStrategy)
	var violations []string
	stop := e.watchViews(func(v *executor.View) {
		st := v.App("/shop/web")
		if st == nil {
			return
		}
		if live := len(st.Tasks); live > maxRunning {
			violations = append(violations, fmt.Sprintf("%d web tasks alive, bound %d", live, maxRunning))
		}
		if st.TasksHealthy < minHealthy {
			violations = append(violations, fmt.Sprintf("%d web tasks healthy, bound %d", st.TasksHealthy, minHealthy))
		}
	})
	resp = e.apply(specOf(db, web4v2))
	if resp.Plan.Changes[0].Action != engine.ActionRestart {
		t.Fatalf("want restart, got %+v", resp.Plan.Changes[0])
	}
	e.waitDeployment(resp.DeploymentID, timeout)
	if n := stop(); n < 5 || len(violations) > 0 {
		t.Fatalf("%d views of the restart, bounds (%d healthy, %d running) broken: %v", n, minHealthy, maxRunning, violations)
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
	e.waitDeployment(resp.DeploymentID, timeout)
	var order []string
	for len(order) < 5 {
		select {
		case ev := <-events:
			if su, ok := statusUpdate(ev); ok && su.TaskStatus == engine.TaskKilled {
				order = append(order, su.AppID)
			}
		case <-time.After(timeout):
			t.Fatalf("saw only %d kills: %v", len(order), order)
		}
	}
	if order[len(order)-1] != "/shop/db" {
		t.Fatalf("kill order %v: db must go last", order)
	}
	for _, id := range order[:4] {
		if id != "/shop/web" {
			t.Fatalf("kill order %v: all of web must go before db", order)
		}
	}
	for _, app := range []string{"/shop/web", "/shop/db"} {
		if n := e.liveOnMaster(app); n != 0 {
			t.Fatalf("the master still holds %d live tasks of %s", n, app)
		}
	}
}

// checkServing asks every task of the app for /health on its host and port: the
// ports Stride took from the offers are the ones the tasks listen on.
func (e *testEnv) checkServing(appID string) {
	e.t.Helper()
	for _, tk := range e.appStatus(appID).Tasks {
		if len(tk.Ports) != 1 {
			e.t.Fatalf("task %s has ports %v, want one", tk.ID, tk.Ports)
		}
		url := "http://" + net.JoinHostPort(tk.Host, strconv.Itoa(tk.Ports[0])) + "/health"
		resp, err := http.Get(url)
		if err != nil {
			e.t.Fatalf("task %s: %v", tk.ID, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			e.t.Fatalf("task %s: GET %s: %s", tk.ID, url, resp.Status)
		}
	}
}

// scenarioKillAndReplace: a task's process is killed behind Mesos' back: Mesos
// reports it failed (the command executor's message), and Stride replaces it
// after the app's backoff.
func scenarioKillAndReplace(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := testApp(t, "/api", 2, nil)
	a.BackoffSeconds = 1
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	victim := e.appStatus("/api").Tasks[0]
	killedAt := time.Now()
	e.be.killTask(t, victim.ID)
	e.waitFor(timeout, "a replacement task running and healthy", func() (bool, string) {
		st := e.appStatus("/api")
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "victim still listed as " + tk.State
			}
		}
		return st.TasksHealthy == 2 && len(st.Tasks) == 2, fmt.Sprintf("%d tasks, %d healthy", len(st.Tasks), st.TasksHealthy)
	})
	st := e.appStatus("/api")
	if f := st.LastTaskFailure; f == nil || f.TaskID != victim.ID || f.State != engine.TaskFailed || f.Message != "Command terminated with signal Killed" {
		t.Fatalf("lastTaskFailure %+v, want the killed task TASK_FAILED %q", f, "Command terminated with signal Killed")
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
	if state := e.masterTasks("/api", true)[victim.ID]; state != engine.TaskFailed {
		t.Errorf("the master has the killed task as %q, want TASK_FAILED", state)
	}
	e.checkServing("/api")
}

// scenarioCrashLoop: a task that exits soon after it starts is launched again
// with exponentially growing pauses.
func scenarioCrashLoop(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := testApp(t, "/crash", 1, map[string]string{"EXIT_AFTER": "100ms"})
	a.HealthChecks = nil
	a.BackoffSeconds, a.BackoffFactor, a.MaxLaunchDelaySeconds = 0.4, 2, 10
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	e.apply(specOf(a))
	var started []time.Time
	deadline := time.After(timeout)
	for len(started) < 4 {
		select {
		case ev := <-events:
			if su, ok := statusUpdate(ev); ok && su.AppID == "/crash" && su.TaskStatus == engine.TaskRunning {
				started = append(started, time.Now())
			}
		case <-deadline:
			t.Fatalf("only %d launches in %v", len(started), timeout)
		}
	}
	// Launch n+1 waits at least backoff*factor^(n-1) after failure n, which comes
	// at least 100ms after launch n: gaps grow 0.4s, 0.8s, 1.6s (lower bounds).
	for i := 1; i < len(started); i++ {
		min := time.Duration(0.4*float64(int(1)<<(i-1))*float64(time.Second)) + 100*time.Millisecond
		if gap := started[i].Sub(started[i-1]); gap < min {
			t.Errorf("launch %d came %v after launch %d, want >= %v", i+1, gap, i, min)
		}
	}
	st := e.appStatus("/crash")
	if f := st.LastTaskFailure; f == nil || f.State != engine.TaskFailed || f.Message != "Command exited with status 3" {
		if rb, ok := e.be.(*realBackend); ok && f != nil {
			_, stderr := rb.c.TaskOutput(f.TaskID)
			t.Logf("stderr of %s:\n%s", f.TaskID, stderr)
		}
		t.Fatalf("lastTaskFailure %+v, want TASK_FAILED %q", f, "Command exited with status 3")
	}
	e.waitFor(timeout, "the backoff delay shown", func() (bool, string) {
		st := e.appStatus("/crash")
		return st.Delay > 0, fmt.Sprintf("delay %v", st.Delay)
	})
}

// scenarioUnsatisfiable: a fourth instance that hostname:UNIQUE cannot place on
// three agents is reported with its reason, in the app and the deployment.
func scenarioUnsatisfiable(t *testing.T, e *testEnv) {
	a := testApp(t, "/unique", 4, nil)
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	resp := e.apply(specOf(a))
	e.waitFor(e.be.timeout(), "the unplaced instance reported", func() (bool, string) {
		st := e.appStatus("/unique")
		return st.TasksRunning == 3 && strings.Contains(st.Waiting, "hostname:UNIQUE"), st.Waiting
	})
	st := e.appStatus("/unique")
	if !strings.Contains(st.Waiting, "3 agents considered") {
		t.Errorf("waiting reason %q does not say how many agents were considered", st.Waiting)
	}
	hosts := map[string]bool{}
	for _, tk := range st.Tasks {
		if hosts[tk.Host] {
			t.Errorf("two tasks on %s despite hostname:UNIQUE", tk.Host)
		}
		hosts[tk.Host] = true
	}
	d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != engine.DeploymentRunning || len(d.Apps) != 1 || !strings.Contains(d.Apps[0].Waiting, "UNIQUE") {
		t.Fatalf("deployment does not show why it waits: %+v", d)
	}
	// Marathon's resources carry Marathon's fields only: the reason is Stride's.
	if body := e.get("/stride/v1/apps/unique", "application/json"); !strings.Contains(body, "hostname:UNIQUE") {
		t.Errorf("GET /stride/v1/apps/unique does not carry the reason: %s", body)
	}
	if body := e.get("/v2/queue", "application/json"); !strings.Contains(body, "UnfulfilledConstraint") {
		t.Errorf("GET /v2/queue does not name Marathon's reason: %s", body)
	}
}

// scenarioHealthCheckFailure: a task whose (Stride-run) HTTP health check
// fails is killed and replaced.
func scenarioHealthCheckFailure(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := testApp(t, "/hc", 2, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	victim := e.appStatus("/hc").Tasks[0]
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	if err := os.WriteFile(filepath.Join(e.be.sandbox(t, victim.ID), "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(timeout)
	for killed := false; !killed; {
		select {
		case ev := <-events:
			var kill executor.UnhealthyInstanceKill
			killed = ev.Type == executor.EventUnhealthyInstanceKill && ev.Decode(&kill) == nil && kill.TaskID == victim.ID
		case <-deadline:
			t.Fatal("no unhealthy_instance_kill_event for the task told to be unhealthy")
		}
	}
	e.waitFor(timeout, "a healthy replacement", func() (bool, string) {
		st := e.appStatus("/hc")
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "victim still there"
			}
		}
		return st.TasksHealthy == 2, fmt.Sprintf("%d healthy", st.TasksHealthy)
	})
}

// scenarioServerRestart: the server stops as the rolling restart has started
// its first new task; another on the same data dir re-subscribes as the same
// framework and finishes the deployment, no task running twice.
func scenarioServerRestart(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := testApp(t, "/resume", 3, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 0}
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	fwID := e.frameworkID
	v2 := a.Clone()
	v2.Env["VERSION"] = "2"
	resp := e.apply(specOf(v2))
	e.waitFor(timeout, "the first new task", func() (bool, string) {
		n := e.liveOnMaster("/resume")
		return n == 4, fmt.Sprintf("%d live", n)
	})
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	e.startServerOn(e.be.mesosURL(), timeout)
	if e.frameworkID != fwID {
		t.Fatalf("the new server subscribed as %s, the first as %s", e.frameworkID, fwID)
	}
	e.waitDeployment(resp.DeploymentID, timeout)
	e.waitFor(timeout, "3 tasks on the master", func() (bool, string) {
		n := e.liveOnMaster("/resume")
		return n == 3, fmt.Sprintf("%d live", n)
	})
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

// mesosCheckApp is the test app with one health check run by Mesos on the
// agent, instead of Stride's HTTP check.
func mesosCheckApp(t *testing.T, id string, hc engine.HealthCheck, env map[string]string) *engine.App {
	a := testApp(t, id, 2, env)
	hc.GracePeriodSeconds, hc.IntervalSeconds, hc.TimeoutSeconds, hc.MaxConsecutiveFailures = 5, 1, 2, 2
	hc.DelaySeconds = 0 // Marathon's default is 15 s before the first check
	a.HealthChecks = []engine.HealthCheck{hc}
	a.TaskKillGracePeriodSeconds = 1
	if fe := a.Validate(); fe != nil {
		t.Fatalf("test app invalid: %v", fe)
	}
	return a
}

// mesosCheckFails: the app's two tasks are healthy by their Mesos check; one
// is made to fail it (a file "unhealthy" in its sandbox): the agent kills it,
// Stride replaces it.
func mesosCheckFails(t *testing.T, e *testEnv, a *engine.App) {
	timeout := e.be.timeout()
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	st := e.appStatus(a.ID)
	if st.TasksHealthy != 2 {
		t.Fatalf("%d healthy after the deployment, want 2", st.TasksHealthy)
	}
	victim := st.Tasks[0]
	if err := os.WriteFile(filepath.Join(e.be.sandbox(t, victim.ID), "unhealthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.waitFor(timeout, "the failing task replaced by a healthy one", func() (bool, string) {
		st := e.appStatus(a.ID)
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "victim still listed as " + tk.State
			}
		}
		return st.TasksHealthy == 2 && len(st.Tasks) == 2, fmt.Sprintf("%d tasks, %d healthy", len(st.Tasks), st.TasksHealthy)
	})
	if f := e.appStatus(a.ID).LastTaskFailure; f == nil || f.TaskID != victim.ID || f.State != engine.TaskKilled {
		t.Fatalf("lastTaskFailure %+v, want the failing task TASK_KILLED (by its agent)", f)
	}
	if state := e.masterTasks(a.ID, true)[victim.ID]; state != engine.TaskKilled {
		t.Errorf("the master has the failing task as %q, want TASK_KILLED", state)
	}
}

// scenarioMesosCommandCheck: a COMMAND health check, run by the agent.
func scenarioMesosCommandCheck(t *testing.T, e *testEnv) {
	hc := engine.DefaultHealthCheck()
	hc.Protocol = engine.ProtoCommand
	hc.Command = &engine.CheckCommand{Value: `test ! -e "$MESOS_SANDBOX/unhealthy"`}
	mesosCheckFails(t, e, mesosCheckApp(t, "/cmdcheck", hc, nil))
}

// scenarioMesosHTTPCheck: a MESOS_HTTP health check, run by the agent against
// 127.0.0.1 and the task's port: the app listens on every address.
func scenarioMesosHTTPCheck(t *testing.T, e *testEnv) {
	hc := engine.DefaultHealthCheck()
	hc.Protocol = engine.ProtoMesosHTTP
	hc.Path = "/health"
	hc.PortName = "http"
	mesosCheckFails(t, e, mesosCheckApp(t, "/httpcheck", hc, map[string]string{"HOST": "0.0.0.0"}))
}

// scenarioFetch: the agent fetches a file:// URI made executable and an archive
// it extracts; the task runs the one, which reads the other.
func scenarioFetch(t *testing.T, e *testEnv) {
	src := t.TempDir()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(src, "start.sh")
	body := "#!/bin/sh\ntest \"$(cat conf/greeting.txt)\" = hello || exit 7\nexec " + bin + "\n"
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, filepath.Join(src, "conf.tar.gz"), map[string]string{"conf/greeting.txt": "hello\n"})
	a := testApp(t, "/fetched", 2, nil)
	a.Cmd = "./start.sh"
	a.Fetch = []engine.Artifact{
		{URI: "file://" + script, Executable: true},
		{URI: "file://" + filepath.Join(src, "conf.tar.gz"), Extract: true},
	}
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, e.be.timeout())
	e.checkServing("/fetched")
	for _, tk := range e.appStatus("/fetched").Tasks {
		sb := e.be.sandbox(t, tk.ID)
		if fi, err := os.Stat(filepath.Join(sb, "start.sh")); err != nil || fi.Mode()&0o100 == 0 {
			t.Errorf("start.sh in the sandbox of %s: %v, mode %v", tk.ID, err, fi)
		}
		if _, err := os.Stat(filepath.Join(sb, "conf", "greeting.txt")); err != nil {
			t.Errorf("the archive was not extracted in the sandbox of %s: %v", tk.ID, err)
		}
	}
}

// scenarioKillGrace: a task that ignores SIGTERM is killed with SIGKILL only
// after the app's taskKillGracePeriodSeconds.
func scenarioKillGrace(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	const grace = 3 * time.Second
	a := testApp(t, "/stubborn", 1, map[string]string{"IGNORE_SIGTERM": "1"})
	a.TaskKillGracePeriodSeconds = int(grace / time.Second)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	victim := e.appStatus("/stubborn").Tasks[0]
	sandbox := e.be.sandbox(t, victim.ID)
	events, cancel := e.srv.Executor().Bus().Subscribe(0)
	defer cancel()
	e.waitDeployment(e.apply(specOf()).DeploymentID, timeout)
	var killing, killed time.Time
	var message string
	deadline := time.After(timeout)
	for killed.IsZero() {
		select {
		case ev := <-events:
			su, ok := statusUpdate(ev)
			if !ok || su.TaskID != victim.ID {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, ev.Timestamp)
			if err != nil {
				t.Fatalf("event time %q: %v", ev.Timestamp, err)
			}
			switch su.TaskStatus {
			case engine.TaskKilling:
				killing = at
			case engine.TaskKilled:
				killed, message = at, su.Message
			}
		case <-deadline:
			t.Fatal("the task was not killed")
		}
	}
	if killing.IsZero() || killed.Sub(killing) < grace-100*time.Millisecond {
		t.Errorf("TASK_KILLING at %v, TASK_KILLED at %v: want the grace period of %v between them", killing, killed, grace)
	}
	if message != "Command terminated with signal Killed" {
		t.Errorf("TASK_KILLED message %q, want the SIGKILL's", message)
	}
	if _, err := os.Stat(filepath.Join(sandbox, "sigterm")); err != nil {
		t.Errorf("the task did not get SIGTERM first: %v", err)
	}
}

// agentLossApp is an app of two instances on distinct agents.
func agentLossApp(t *testing.T, id string, u *engine.UnreachableStrategy) *engine.App {
	a := testApp(t, id, 2, nil)
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	a.UnreachableStrategy = u
	if fe := a.Validate(); fe != nil {
		t.Fatalf("test app invalid: %v", fe)
	}
	return a
}

// scenarioAgentLoss: an agent is cut off (the real one: its process killed with
// SIGKILL) under a task of an app whose unreachableStrategy waits 6 s: the
// task turns TASK_UNREACHABLE, still counts, and is replaced on the third agent
// only once inactiveAfterSeconds have passed; when the agent comes back its
// task is killed. No view ever counts more than two instances running or
// healthy.
func scenarioAgentLoss(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	const inactive = 6 * time.Second
	a := agentLossApp(t, "/partitioned", &engine.UnreachableStrategy{InactiveAfterSeconds: int(inactive / time.Second), ExpungeAfterSeconds: 600})
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	victim := e.appStatus("/partitioned").Tasks[0]
	var violations []string
	stop := e.watchViews(func(v *executor.View) {
		if st := v.App("/partitioned"); st != nil && (st.TasksRunning > 2 || st.TasksHealthy > 2) {
			violations = append(violations, fmt.Sprintf("%d running, %d healthy", st.TasksRunning, st.TasksHealthy))
		}
	})
	e.be.partition(t, victim.SlaveID)
	var since time.Time
	e.waitFor(timeout, "the task unreachable", func() (bool, string) {
		for _, tk := range e.appStatus("/partitioned").Tasks {
			if tk.ID == victim.ID && tk.State == engine.TaskUnreachable {
				since = parseRFC3339(t, e.srv.Executor().View(), victim.ID)
				return true, ""
			}
		}
		return false, fmt.Sprint(e.strideTasks("/partitioned"))
	})
	e.waitFor(timeout, "a replacement running and healthy", func() (bool, string) {
		st := e.appStatus("/partitioned")
		return st.TasksHealthy == 2 && len(st.Tasks) == 3, fmt.Sprintf("%d tasks, %d healthy", len(st.Tasks), st.TasksHealthy)
	})
	for _, tk := range e.appStatus("/partitioned").Tasks {
		if tk.ID == victim.ID {
			continue
		}
		if tk.Host == victim.Host {
			t.Errorf("task %s on the lost agent %s", tk.ID, tk.Host)
		}
		// Not before inactiveAfterSeconds (a lower bound, not a timing race).
		if staged, _ := time.Parse(time.RFC3339Nano, tk.StagedAt); staged.After(since) && staged.Sub(since) < inactive {
			t.Errorf("replacement %s staged %v after the agent was lost, before inactiveAfterSeconds (%v)", tk.ID, staged.Sub(since), inactive)
		}
	}
	e.be.heal(t, victim.SlaveID)
	e.waitFor(timeout, "the stale task killed", func() (bool, string) {
		state := e.masterTasks("/partitioned", true)[victim.ID]
		return state == engine.TaskKilled && len(e.strideTasks("/partitioned")) == 2, state
	})
	e.waitFor(timeout, "two healthy tasks", func() (bool, string) {
		st := e.appStatus("/partitioned")
		return st.TasksHealthy == 2, fmt.Sprint(st.TasksHealthy)
	})
	if n := stop(); len(violations) > 0 {
		t.Fatalf("in %d views, more than two instances counted: %v", n, violations)
	}
	if n := e.liveOnMaster("/partitioned"); n != 2 {
		t.Fatalf("the master holds %d live tasks, want 2", n)
	}
}

// parseRFC3339 returns the time task id became unreachable, from the store.
func parseRFC3339(t *testing.T, v *executor.View, id string) time.Time {
	for _, tk := range v.Tasks {
		if tk.ID == id && tk.UnreachableSince != "" {
			ts, err := time.Parse(time.RFC3339Nano, tk.UnreachableSince)
			if err != nil {
				t.Fatal(err)
			}
			return ts
		}
	}
	t.Fatalf("task %s has no unreachable time", id)
	return time.Time{}
}

// scenarioAgentLossDefault: with the default unreachableStrategy ({0, 0}) the
// task of a lost agent is forgotten and replaced at once, and killed when its
// agent comes back, as a task Stride does not know.
func scenarioAgentLossDefault(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := agentLossApp(t, "/lost", nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	victim := e.appStatus("/lost").Tasks[0]
	e.be.partition(t, victim.SlaveID)
	e.waitFor(timeout, "a replacement running and healthy", func() (bool, string) {
		ids := e.strideTasks("/lost")
		st := e.appStatus("/lost")
		for _, id := range ids {
			if id == victim.ID {
				return false, "the victim is still listed"
			}
		}
		return st.TasksHealthy == 2 && len(ids) == 2, fmt.Sprintf("%v, %d healthy", ids, st.TasksHealthy)
	})
	if f := e.appStatus("/lost").LastTaskFailure; f == nil || f.TaskID != victim.ID || f.State != engine.TaskUnreachable {
		t.Errorf("lastTaskFailure %+v, want the lost task TASK_UNREACHABLE", f)
	}
	e.be.heal(t, victim.SlaveID)
	e.waitFor(timeout, "the task that came back killed", func() (bool, string) {
		state := e.masterTasks("/lost", true)[victim.ID]
		return state == engine.TaskKilled, state
	})
	if n := e.liveOnMaster("/lost"); n != 2 {
		t.Fatalf("the master holds %d live tasks, want 2", n)
	}
}

// scenarioNothingLeft: a destroy leaves no task on the master, in Stride, or as
// a process on the machine.
func scenarioNothingLeft(t *testing.T, e *testEnv) {
	timeout := e.be.timeout()
	a := testApp(t, "/gone", 3, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, timeout)
	var pids []int
	for _, tk := range e.appStatus("/gone").Tasks {
		pids = append(pids, taskPID(t, e, tk.ID))
	}
	e.waitDeployment(e.apply(specOf()).DeploymentID, timeout)
	e.waitFor(timeout, "no task on the master and no process left", func() (bool, string) {
		var alive []int
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && processRuns(pid) {
				alive = append(alive, pid)
			}
		}
		return e.liveOnMaster("/gone") == 0 && len(alive) == 0, fmt.Sprintf("processes %v", alive)
	})
	if n := len(e.strideTasks("/gone")); n != 0 {
		t.Fatalf("Stride still lists %d tasks", n)
	}
}

// taskPID returns the pid of a task's process on either backend.
func taskPID(t *testing.T, e *testEnv, id string) int {
	switch b := e.be.(type) {
	case standinBackend:
		return b.task(t, id).PID
	case *realBackend:
		return b.find(t, id).PID
	}
	t.Fatalf("unknown backend %T", e.be)
	return 0
}

// writeTarGz writes a .tar.gz holding files (path -> content).
func writeTarGz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkTaskEvents checks what the master's status updates became: Marathon's
// events for each task (taskId and instanceId, its agent, RUNNING, healthy) and
// the launch latency of each.
func checkTaskEvents(t *testing.T, events <-chan *executor.Event, st *executor.AppStatus, m *metrics.Metrics, timeout time.Duration) {
	t.Helper()
	running, changed, healthy := map[string]executor.StatusUpdate{}, map[string]bool{}, map[string]bool{}
	for len(running) < len(st.Tasks) || len(changed) < len(st.Tasks) || len(healthy) < len(st.Tasks) {
		var ev *executor.Event
		select {
		case ev = <-events:
		case <-time.After(timeout):
			t.Fatalf("events of the running tasks: %d status updates, %d instance changes, %d healthy", len(running), len(changed), len(healthy))
		}
		switch ev.Type {
		case executor.EventStatusUpdate:
			var su executor.StatusUpdate
			if err := ev.Decode(&su); err == nil && su.TaskStatus == engine.TaskRunning {
				running[su.TaskID] = su
			}
		case executor.EventInstanceChanged:
			var ic executor.InstanceChanged
			if err := ev.Decode(&ic); err == nil && ic.Condition == "Running" && ic.InstanceID == ic.TaskID {
				changed[ic.InstanceID] = true
			}
		case executor.EventHealthStatusChanged:
			var hc executor.HealthStatusChanged
			if err := ev.Decode(&hc); err == nil && hc.Alive && hc.InstanceID == hc.TaskID {
				healthy[hc.TaskID] = true
			}
		}
	}
	for _, tk := range st.Tasks {
		su, ok := running[tk.ID]
		if !ok || su.InstanceID != tk.ID || su.Host != tk.Host || su.SlaveID != tk.SlaveID || su.AppID != tk.AppID || len(su.Ports) != len(tk.Ports) {
			t.Errorf("status_update_event of %s: %+v", tk.ID, su)
		}
	}
	if n := m.Document().Timers["stride.task.launch.seconds"].Count; n < int64(len(st.Tasks)) {
		t.Errorf("launch latency recorded %d times, want at least %d", n, len(st.Tasks))
	}
}

// statusUpdate decodes a status_update_event.
func statusUpdate(ev *executor.Event) (executor.StatusUpdate, bool) {
	var su executor.StatusUpdate
	if ev.Type != executor.EventStatusUpdate || ev.Decode(&su) != nil {
		return su, false
	}
	return su, true
}
