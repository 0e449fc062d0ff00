package server

// Integration tests against a real Apache Mesos 1.11.1 cluster (one master, three
// agents on loopback; see executor/mesostest). They run when STRIDE_TEST_MESOS
// names a Mesos install (`make mesos`; .ci/run sets it) and are skipped otherwise:
//
//	STRIDE_TEST_MESOS=$(scripts/mesos.sh) go test -count=1 -run RealMesos ./executor/server/

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/executor/metrics"
)

// realTimeout bounds what the real cluster does (an unoptimised build on a small
// machine: executors take a moment to start).
const realTimeout = 120 * time.Second

// newRealEnv starts a Stride server, in process, against cluster c's master.
func newRealEnv(t *testing.T, c *mesostest.Cluster) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dataDir: t.TempDir()}
	e.startRealServer(c)
	return e
}

func (e *testEnv) startRealServer(c *mesostest.Cluster) {
	e.t.Helper()
	e.startServerOn(c.MasterURL(), 30*time.Second)
}

// liveMesosTasks returns the app's tasks that the real master holds in a
// non-terminal state, by id.
func liveMesosTasks(t *testing.T, c *mesostest.Cluster, appID string) map[string]mesostest.Task {
	t.Helper()
	all, err := c.Tasks(false)
	if err != nil {
		t.Fatalf("master state: %v", err)
	}
	out := map[string]mesostest.Task{}
	for id, tk := range all {
		if engine.AppIDFromTaskID(id) == appID && !engine.TerminalTaskState(tk.State) {
			out[id] = tk
		}
	}
	return out
}

// strideTasks returns the ids of the app's tasks in Stride's view, sorted.
func (e *testEnv) strideTasks(appID string) []string {
	st := e.appStatus(appID)
	if st == nil {
		return nil
	}
	var ids []string
	for _, tk := range st.Tasks {
		ids = append(ids, tk.ID)
	}
	sort.Strings(ids)
	return ids
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

// checkRealEvents checks what a real master's status updates became: Marathon's
// events for each task (taskId and instanceId, its agent, RUNNING, healthy) and
// the launch latency of each.
func checkRealEvents(t *testing.T, events <-chan *executor.Event, st *executor.AppStatus, m *metrics.Metrics) {
	t.Helper()
	running, changed, healthy := map[string]executor.StatusUpdate{}, map[string]bool{}, map[string]bool{}
	for len(running) < len(st.Tasks) || len(changed) < len(st.Tasks) || len(healthy) < len(st.Tasks) {
		var ev *executor.Event
		select {
		case ev = <-events:
		case <-time.After(realTimeout):
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

// TestRealMesosApplyScaleKillDestroy deploys the test app on a real cluster with a
// hostname:UNIQUE constraint and an HTTP health check, scales it down, kills a
// task's process and sees it replaced, and destroys it.
func TestRealMesosApplyScaleKillDestroy(t *testing.T) {
	c := mesostest.Start(t, mesostest.Options{Agents: 3})
	e := newRealEnv(t, c)
	a := testApp(t, "/real/web", 3, nil)
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}

	// Create: three instances, one per agent, healthy.
	events, stop := e.srv.Executor().Bus().Subscribe(0)
	defer stop()
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, realTimeout)
	st := e.appStatus("/real/web")
	checkRealEvents(t, events, st, e.srv.metrics)
	if st.TasksRunning != 3 || st.TasksHealthy != 3 {
		t.Fatalf("after create: %d running, %d healthy; want 3 and 3", st.TasksRunning, st.TasksHealthy)
	}
	agents := map[string]int{}
	for i, ag := range c.Agents {
		agents[ag.Hostname()] = i
	}
	hosts := map[string]bool{}
	for _, tk := range st.Tasks {
		i, ok := agents[tk.Host]
		if !ok {
			t.Fatalf("task %s on host %q, not one of the agents", tk.ID, tk.Host)
		}
		if hosts[tk.Host] {
			t.Fatalf("two tasks on %s despite hostname:UNIQUE", tk.Host)
		}
		hosts[tk.Host] = true
		if p := tk.Ports[0]; p < c.Agents[i].Ports[0] || p > c.Agents[i].Ports[1] {
			t.Errorf("task %s on port %d, outside agent %d's range %v", tk.ID, p, i, c.Agents[i].Ports)
		}
	}
	e.checkServing("/real/web")
	if live := liveMesosTasks(t, c, "/real/web"); len(live) != 3 {
		t.Fatalf("the master holds %d live tasks, want 3: %v", len(live), live)
	}

	// Scale to 2: the master sees one task killed.
	a2 := a.Clone()
	a2.Instances = 2
	e.waitDeployment(e.apply(specOf(a2)).DeploymentID, realTimeout)
	e.waitFor(realTimeout, "the master to hold 2 live tasks", func() (bool, string) {
		live := liveMesosTasks(t, c, "/real/web")
		return len(live) == 2, fmt.Sprint(live)
	})
	if ids := e.strideTasks("/real/web"); len(ids) != 2 {
		t.Fatalf("Stride lists %d tasks after the scale, want 2: %v", len(ids), ids)
	}

	// Kill a task's process: Mesos reports it failed, Stride launches another.
	victim := e.appStatus("/real/web").Tasks[0]
	tp, ok := c.FindTask(victim.ID)
	if !ok || tp.PID == 0 {
		t.Fatalf("task %s not found on the agents (%+v, found %v)", victim.ID, tp, ok)
	}
	if err := syscall.Kill(tp.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill task %s (pid %d): %v", victim.ID, tp.PID, err)
	}
	e.waitFor(realTimeout, "a healthy replacement of the killed task", func() (bool, string) {
		st := e.appStatus("/real/web")
		for _, tk := range st.Tasks {
			if tk.ID == victim.ID {
				return false, "the victim is still listed as " + tk.State
			}
		}
		return st.TasksHealthy == 2 && len(st.Tasks) == 2, fmt.Sprintf("%d tasks, %d healthy", len(st.Tasks), st.TasksHealthy)
	})
	st = e.appStatus("/real/web")
	if f := st.LastTaskFailure; f == nil || f.TaskID != victim.ID || f.State != engine.TaskFailed {
		t.Fatalf("lastTaskFailure %+v, want task %s failed", f, victim.ID)
	} else {
		t.Logf("the killed task, as Mesos reported it: %s %q", f.State, f.Message)
	}
	e.checkServing("/real/web")
	if all, err := c.Tasks(true); err != nil {
		t.Fatal(err)
	} else if tk := all[victim.ID]; tk.State != engine.TaskFailed {
		t.Errorf("the master has the killed task as %q, want TASK_FAILED", tk.State)
	}

	// Destroy: nothing is left running, on the master or on the agents.
	e.waitDeployment(e.apply(specOf()).DeploymentID, realTimeout)
	e.waitFor(realTimeout, "the master to hold no live task", func() (bool, string) {
		live := liveMesosTasks(t, c, "/real/web")
		return len(live) == 0, fmt.Sprint(live)
	})
	e.waitFor(realTimeout, "the task processes to be gone", func() (bool, string) {
		_, found := c.FindTask(victim.ID)
		left := taskProcesses(c)
		return !found && len(left) == 0, fmt.Sprintf("processes of tasks: %v", left)
	})
	if n := len(e.strideTasks("/real/web")); n != 0 {
		t.Fatalf("Stride still lists %d tasks", n)
	}
}

// taskProcesses returns the pids of the test app's processes (this test binary)
// running in the cluster's sandboxes.
func taskProcesses(c *mesostest.Cluster) []int {
	bin, _ := os.Executable()
	var out []int
	for _, pid := range mesostest.ProcessesBelow(c.Dir) {
		if exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && exe == bin {
			out = append(out, pid)
		}
	}
	return out
}

// TestRealMesosFrameworkFailover kills the Stride server (a subprocess) with
// SIGKILL while its tasks run on the real cluster, and starts another on the same
// data dir: it re-subscribes as the same framework, the same tasks still run, and
// nothing is launched twice.
func TestRealMesosFrameworkFailover(t *testing.T) {
	c := mesostest.Start(t, mesostest.Options{Agents: 3})
	e := &testEnv{t: t, dataDir: t.TempDir()}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	e.client = api.NewClient(addr)
	startProc := func() (*exec.Cmd, *syncWriter) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "STRIDE_TESTSERVER=1", "LISTEN="+addr, "DATA_DIR="+e.dataDir, "MESOS_URL="+c.MasterURL())
		logs := &syncWriter{}
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		e.waitFor(30*time.Second, "the server subprocess to answer", func() (bool, string) {
			_, err := e.client.State(context.Background())
			return err == nil, fmt.Sprint(err, logs.String())
		})
		return cmd, logs
	}
	frameworks := func() map[string]bool {
		st, err := c.State()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range st.Frameworks {
			out[f.ID] = f.Active
		}
		return out
	}
	appTasks := func() []string {
		app, err := e.client.App(context.Background(), "/failover")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range app.Tasks {
			if tk.State == engine.TaskRunning {
				ids = append(ids, tk.ID)
			}
		}
		sort.Strings(ids)
		return ids
	}

	proc, logs := startProc()
	a := testApp(t, "/failover", 3, nil)
	resp := e.apply(specOf(a))
	e.waitFor(realTimeout, "the deployment", func() (bool, string) {
		d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
		return err == nil && d.Status == engine.DeploymentSucceeded, fmt.Sprint(err, logs.String())
	})
	before := appTasks()
	fw := frameworks()
	if len(before) != 3 || len(fw) != 1 {
		t.Fatalf("before the failover: tasks %v, frameworks %v; want 3 tasks of 1 framework", before, fw)
	}
	var fwID string
	for id := range fw {
		fwID = id
	}

	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = proc.Wait()
	// The master notices the scheduler's connection closed: the framework is
	// inactive, its tasks keep running (failover timeout: 7 days).
	e.waitFor(realTimeout, "the master to see the framework disconnected", func() (bool, string) {
		fw := frameworks()
		return len(fw) == 1 && !fw[fwID], fmt.Sprint(fw)
	})
	if live := liveMesosTasks(t, c, "/failover"); len(live) != 3 {
		t.Fatalf("%d live tasks while the framework is disconnected, want 3", len(live))
	}

	_, logs = startProc()
	e.waitFor(realTimeout, "the new server to take the framework over", func() (bool, string) {
		fw := frameworks()
		return len(fw) == 1 && fw[fwID], fmt.Sprint(fw, logs.String())
	})
	e.waitFor(realTimeout, "the same three tasks running and healthy", func() (bool, string) {
		app, err := e.client.App(context.Background(), "/failover")
		if err != nil {
			return false, err.Error()
		}
		return app.TasksHealthy == 3 && len(app.Tasks) == 3, fmt.Sprintf("%d tasks, %d healthy", len(app.Tasks), app.TasksHealthy)
	})
	if after := appTasks(); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("tasks after the failover %v, before %v", after, before)
	}
	// Nothing launched twice: the master never saw a task other than those three.
	all, err := c.Tasks(true)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id, tk := range all {
		ids = append(ids, id+" "+tk.State)
	}
	sort.Strings(ids)
	if len(all) != 3 {
		t.Fatalf("the master saw %d tasks, want the 3 of the first server: %v", len(all), ids)
	}
	for _, id := range before {
		if all[id].State != engine.TaskRunning {
			t.Errorf("task %s is %q on the master", id, all[id].State)
		}
	}
}

// TestRealMesosAgentAndMasterRestartKeepTasks kills an agent with SIGKILL and
// starts it again on its work dir (it recovers its executors), then does the same
// to the master: the tasks keep running throughout, Stride re-subscribes to the
// restarted master as the same framework, and launches nothing.
func TestRealMesosAgentAndMasterRestartKeepTasks(t *testing.T) {
	// Agents notice the master's restart after the total ping timeout (15 s here,
	// 75 s by default); an agent restart takes much less, so that the killed agent
	// is not declared unreachable meanwhile.
	c := mesostest.Start(t, mesostest.Options{Agents: 3, AgentPingTimeout: time.Second, MaxAgentPingTimeouts: 15})
	e := newRealEnv(t, c)
	a := testApp(t, "/restarts", 3, nil)
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, realTimeout)
	before := e.strideTasks("/restarts")
	st, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Frameworks) != 1 {
		t.Fatalf("%d frameworks", len(st.Frameworks))
	}
	fwID := st.Frameworks[0].ID
	pids := map[string]int{}
	for _, id := range before {
		tp, ok := c.FindTask(id)
		if !ok || tp.PID == 0 {
			t.Fatalf("task %s not found on the agents", id)
		}
		pids[id] = tp.PID
	}
	same := func(what string) {
		t.Helper()
		e.waitFor(realTimeout, "the same three tasks healthy "+what, func() (bool, string) {
			st := e.appStatus("/restarts")
			ids := e.strideTasks("/restarts")
			return st.TasksHealthy == 3 && strings.Join(ids, ",") == strings.Join(before, ","),
				fmt.Sprintf("%d healthy, tasks %v", st.TasksHealthy, ids)
		})
		for id, pid := range pids {
			tp, ok := c.FindTask(id)
			if !ok || tp.PID != pid {
				t.Fatalf("%s: task %s runs as %+v (found %v), was pid %d", what, id, tp, ok, pid)
			}
		}
		all, err := c.Tasks(true)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 3 {
			t.Fatalf("%s: the master knows %d tasks, want the 3 first launched: %v", what, len(all), all)
		}
	}

	c.RestartAgent(0)
	same("after an agent restart")

	c.RestartMaster()
	e.waitFor(realTimeout, "Stride to re-subscribe to the restarted master", func() (bool, string) {
		st, err := c.State()
		if err != nil {
			return false, err.Error()
		}
		return len(st.Frameworks) == 1 && st.Frameworks[0].ID == fwID && st.Frameworks[0].Active && e.srv.Executor().View().Connected,
			fmt.Sprintf("frameworks %+v", st.Frameworks)
	})
	same("after a master restart")
}
