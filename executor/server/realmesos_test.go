package server

// Integration tests against a real Apache Mesos 1.11.1 cluster (one master, three
// agents on loopback; see executor/mesostest). They run when STRIDE_TEST_MESOS
// names a Mesos install (`make mesos`; .ci/run sets it) and are skipped otherwise:
//
//	STRIDE_TEST_MESOS=$(scripts/mesos.sh) go test -count=1 -run RealMesos ./executor/server/

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/bolt"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
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

// TestRealMesosFrameworkFailover kills the Stride server (a subprocess) with
// SIGKILL while its tasks run on the real cluster, forgets one of its task
// records meanwhile (as a leader that died between a LAUNCH and its record
// would), and starts another server on the same data dir. It re-subscribes as
// the same framework within the failover timeout; its explicit reconciliation
// (the master's log shows it) brings back the two tasks it knows, every one
// answered; its implicit one reports the third, which it does not know: that
// one is killed and replaced. The master sees no other launch: nothing ran
// twice.
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
	orphan, kept := before[0], before[1:]
	withStore(t, e.dataDir, func(st *bolt.Store, snap *engine.Snapshot) {
		if _, err := st.Commit(context.Background(), snap.Index, engine.Txn{DeleteTasks: []string{orphan}}); err != nil {
			t.Fatal(err)
		}
	})
	logBefore := len(c.MasterLog())

	_, logs = startProc()
	e.waitFor(realTimeout, "the new server to take the framework over", func() (bool, string) {
		fw := frameworks()
		return len(fw) == 1 && fw[fwID], fmt.Sprint(fw, logs.String())
	})
	var replacement string
	e.waitFor(realTimeout, "the two known tasks and a replacement of the orphan running and healthy", func() (bool, string) {
		app, err := e.client.App(context.Background(), "/failover")
		if err != nil {
			return false, err.Error()
		}
		var ids []string
		replacement = ""
		for _, tk := range app.Tasks {
			ids = append(ids, tk.ID)
			if tk.ID != kept[0] && tk.ID != kept[1] {
				replacement = tk.ID
			}
		}
		return app.TasksHealthy == 3 && len(app.Tasks) == 3 && replacement != "" && replacement != orphan,
			fmt.Sprintf("tasks %v, %d healthy", ids, app.TasksHealthy)
	})
	after := appTasks()
	want := append(append([]string(nil), kept...), replacement)
	sort.Strings(want)
	if strings.Join(after, ",") != strings.Join(want, ",") {
		t.Fatalf("tasks after the failover %v, want the two kept %v and one replacement", after, kept)
	}
	masterLog := c.MasterLog()[logBefore:]
	for _, want := range []string{
		"Performing explicit task state reconciliation for 2 tasks of framework " + fwID,
		"Performing implicit task state reconciliation for framework " + fwID,
	} {
		if !strings.Contains(masterLog, want) {
			t.Errorf("the master's log lacks %q", want)
		}
	}
	// Nothing launched twice: the master saw the three first tasks and one
	// replacement; the orphan was killed, the two others never stopped.
	all, err := c.Tasks(true)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for id, tk := range all {
		states = append(states, id+" "+tk.State)
	}
	sort.Strings(states)
	if len(all) != 4 {
		for id, tk := range all {
			if tk.State == engine.TaskFailed {
				_, stderr := c.TaskOutput(id)
				t.Logf("stderr of the failed %s:\n%s", id, stderr)
			}
		}
		t.Fatalf("the master saw %d tasks, want the 3 of the first server and 1 replacement: %v", len(all), states)
	}
	for id, want := range map[string]string{orphan: engine.TaskKilled, kept[0]: engine.TaskRunning, kept[1]: engine.TaskRunning, replacement: engine.TaskRunning} {
		if all[id].State != want {
			t.Errorf("task %s is %q on the master, want %s", id, all[id].State, want)
		}
	}
}

// TestRealMesosAgentAndMasterRestartKeepTasks kills an agent with SIGKILL and
// starts it again on its work dir (it recovers its executors), then does the same
// to the master: the tasks keep running throughout; Stride re-subscribes to the
// restarted master as the same framework, asks again until every task is
// answered for (the master drops the questions about tasks of agents that have
// not re-registered), launches nothing, and carries on: a scale up deploys.
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
	e.waitFor(realTimeout, "every task answered for", func() (bool, string) {
		v := e.srv.Executor().View()
		return v.Unreconciled == 0, fmt.Sprintf("%d unanswered", v.Unreconciled)
	})
	t.Logf("reconciliations asked again after the master restart: %d", e.srv.Executor().View().ReconcileRetries)
	same("after a master restart")

	// Stride carries on: it launches on the restarted master's offers.
	a4 := a.Clone()
	a4.Constraints = nil
	a4.Instances = 4
	e.waitDeployment(e.apply(specOf(a4)).DeploymentID, realTimeout)
	if live := liveMesosTasks(t, c, "/restarts"); len(live) != 4 {
		t.Fatalf("%d live tasks after the scale up, want 4", len(live))
	}
}

// TestRealMesosFrameworkSettings: a master that authenticates frameworks
// refuses a server without its principal's secret, and takes one with it; what
// /master/frameworks then shows is the framework's settings: its name, role,
// failover timeout, principal, checkpointing, capabilities (PARTITION_AWARE
// among them) and the URL of Stride's API.
func TestRealMesosFrameworkSettings(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(creds, []byte(`{"credentials": [{"principal": "stride-test", "secret": "s3cret"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mesostest.Start(t, mesostest.Options{Agents: 1, MasterFlags: []string{
		"--authenticate_http_frameworks", "--http_framework_authenticators=basic", "--credentials=" + creds,
	}})
	fw := FrameworkConfig{Name: "stride-settings", Roles: []string{"web"}, FailoverTimeout: 36 * time.Hour, Principal: "stride-test"}

	// Without the secret: refused.
	bad := &testEnv{t: t, dataDir: t.TempDir()}
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: bad.dataDir, MesosURL: c.MasterURL(), Framework: fw, Logf: bad.logf})
	if err != nil {
		t.Fatal(err)
	}
	bad.waitFor(realTimeout, "the master to refuse the subscription", func() (bool, string) {
		bad.logMu.Lock()
		defer bad.logMu.Unlock()
		for _, l := range bad.log {
			if strings.Contains(l, "401") {
				return true, ""
			}
		}
		return false, strings.Join(bad.log, "\n")
	})
	if srv.Executor().View().Connected {
		t.Fatal("subscribed without the secret")
	}
	_ = srv.Close()

	e := &testEnv{t: t, dataDir: t.TempDir()}
	fw.Secret = "s3cret"
	srv, err = Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: e.dataDir, MesosURL: c.MasterURL(), Framework: fw, Logf: e.logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.srv = srv
	e.waitFor(realTimeout, "the server subscribed", func() (bool, string) { return srv.Executor().View().Connected, "" })
	var st struct {
		Frameworks []struct {
			ID              string   `json:"id"`
			Name            string   `json:"name"`
			Roles           []string `json:"roles"`
			Principal       string   `json:"principal"`
			FailoverTimeout float64  `json:"failover_timeout"`
			Checkpoint      bool     `json:"checkpoint"`
			Capabilities    []string `json:"capabilities"`
			WebuiURL        string   `json:"webui_url"`
			Active          bool     `json:"active"`
		} `json:"frameworks"`
	}
	r, err := http.Get(c.MasterURL() + "/master/frameworks")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(st.Frameworks) != 1 {
		t.Fatalf("/master/frameworks lists %d frameworks", len(st.Frameworks))
	}
	f := st.Frameworks[0]
	t.Logf("/master/frameworks: %+v", f)
	caps := strings.Join(f.Capabilities, ",")
	if f.Name != "stride-settings" || strings.Join(f.Roles, ",") != "web" || f.Principal != "stride-test" ||
		f.FailoverTimeout != (36*time.Hour).Seconds() || !f.Checkpoint || !f.Active ||
		f.WebuiURL != "http://"+srv.Addr() || f.ID != srv.Executor().FrameworkID() {
		t.Errorf("framework %+v", f)
	}
	for _, want := range []string{"MULTI_ROLE", "TASK_KILLING_STATE", "PARTITION_AWARE"} {
		if !strings.Contains(caps, want) {
			t.Errorf("capabilities %s lack %s", caps, want)
		}
	}
	for _, l := range append(e.log, bad.log...) {
		if strings.Contains(l, "s3cret") {
			t.Fatalf("the secret was logged: %s", l)
		}
	}
}
