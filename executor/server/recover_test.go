package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/internal/freeports"
)

// Started with STRIDE_TESTSERVER=embedded, the test binary is a Stride server
// with the embedded Mesos stand-in — `stride dev` in a test subprocess — for
// the tests that kill one with SIGKILL: LISTEN and DATA_DIR configure it; it
// prints the stand-in's URL on stdout and stops (killing its tasks) on
// SIGTERM. The hook is an init function because TestMain is testapp_test.go's.
func init() {
	if os.Getenv("STRIDE_TESTSERVER") == "embedded" {
		os.Exit(runEmbeddedTestServer())
	}
}

// embeddedAgents is how many agents the subprocess stand-in has; FIRST_PORT is
// where their port ranges (1000 ports each) start, free ones the test picked:
// tests elsewhere on the machine run stand-ins at the same time.
const embeddedAgents = 2

func runEmbeddedTestServer() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	firstPort, err := strconv.Atoi(os.Getenv("FIRST_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver: FIRST_PORT:", err)
		return 2
	}
	srv, err := Start(ctx, Config{
		Listen: os.Getenv("LISTEN"), DataDir: os.Getenv("DATA_DIR"), Embedded: true, Agents: embeddedAgents, FirstPort: firstPort,
		OfferInterval: 50 * time.Millisecond, HeartbeatInterval: time.Second, StableAfter: 2 * time.Second,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 2
	}
	fmt.Println(srv.MesosURL())
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		fmt.Fprintln(os.Stderr, "testserver:", err)
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 1
	}
	return 0
}

// embeddedProc is a `stride dev`-like server in a subprocess.
type embeddedProc struct {
	cmd      *exec.Cmd
	mesosURL string
	logs     *syncWriter
}

// startEmbedded starts an embedded server subprocess on dataDir, its API on
// addr, and waits until the API answers.
func startEmbedded(t *testing.T, e *testEnv, addr string) *embeddedProc {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	if e.embeddedFirstPort == 0 {
		// The same ranges for every server on the data dir: adopted tasks
		// keep their ports.
		e.embeddedFirstPort = freeports.Range(t, embeddedAgents*1000)
	}
	cmd.Env = append(os.Environ(), "STRIDE_TESTSERVER=embedded", "LISTEN="+addr, "DATA_DIR="+e.dataDir, "FIRST_PORT="+strconv.Itoa(e.embeddedFirstPort))
	logs := &syncWriter{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &embeddedProc{cmd: cmd, logs: logs}
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		// A server killed with SIGKILL leaves its tasks running, by design:
		// whatever a failed test left behind goes with the test.
		mesostest.KillBelow(e.dataDir, 10*time.Second)
		if t.Failed() {
			t.Logf("server subprocess log:\n%s", logs.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the server subprocess did not start: %v\n%s", err, logs.String())
	}
	p.mesosURL = strings.TrimSpace(line)
	e.client = api.NewClient(addr)
	e.waitFor(20*time.Second, "the server subprocess to answer", func() (bool, string) {
		_, err := e.client.State(context.Background())
		return err == nil, fmt.Sprint(err)
	})
	return p
}

// kill sends sig to the server subprocess and reaps it.
func (p *embeddedProc) kill(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
}

// standInTask is what GET /master/state of the stand-in shows of a task.
type standInTask struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	SlaveID string `json:"slave_id"`
	PID     int    `json:"pid"`
}

// standInState returns the tasks and completed tasks the stand-in knows.
func standInState(t *testing.T, mesosURL string) (tasks, completed map[string]standInTask) {
	t.Helper()
	resp, err := http.Get(mesosURL + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Frameworks []struct {
			Tasks          []standInTask `json:"tasks"`
			CompletedTasks []standInTask `json:"completed_tasks"`
		} `json:"frameworks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	tasks, completed = map[string]standInTask{}, map[string]standInTask{}
	for _, fw := range st.Frameworks {
		for _, tk := range fw.Tasks {
			tasks[tk.ID] = tk
		}
		for _, tk := range fw.CompletedTasks {
			completed[tk.ID] = tk
		}
	}
	return tasks, completed
}

// strideTaskIDs returns the sorted ids of an app's tasks.
func strideTaskIDs(tasks []engine.Task) []string {
	var ids []string
	for _, tk := range tasks {
		ids = append(ids, tk.ID)
	}
	sort.Strings(ids)
	return ids
}

// TestEmbeddedServerKilledKeepsTasks is item 4 of the hardening issue end to
// end: `kill -9` of a server with the embedded stand-in (both die) after a
// deployment succeeded, and a restart on the same data dir, leave the same
// task ids running with the same pids, healthy, and start no deployment.
func TestEmbeddedServerKilledKeepsTasks(t *testing.T) {
	e := &testEnv{t: t, dataDir: t.TempDir()}
	addr := freeAddr(t)
	first := startEmbedded(t, e, addr)

	a := testApp(t, "/survivor", 2, nil)
	resp := e.apply(specOf(a))
	e.waitFor(30*time.Second, "the deployment", func() (bool, string) {
		d, err := e.client.Deployment(context.Background(), resp.DeploymentID)
		return err == nil && d.Status == engine.DeploymentSucceeded, fmt.Sprint(d, err)
	})
	healthy := func() (*api.AppInfo, bool, string) {
		app, err := e.client.App(context.Background(), "/survivor")
		if err != nil {
			return nil, false, err.Error()
		}
		return app, app.TasksHealthy == 2 && app.TasksRunning == 2 && len(app.Tasks) == 2, fmt.Sprintf("%d running, %d healthy", app.TasksRunning, app.TasksHealthy)
	}
	var before *api.AppInfo
	e.waitFor(30*time.Second, "2 healthy tasks", func() (bool, string) {
		app, ok, state := healthy()
		before = app
		return ok, state
	})
	mesosBefore, _ := standInState(t, first.mesosURL)
	if len(mesosBefore) != 2 {
		t.Fatalf("the stand-in runs %d tasks, want 2: %+v", len(mesosBefore), mesosBefore)
	}
	for id, tk := range mesosBefore {
		pid := tk.PID
		if tk.State != "TASK_RUNNING" || pid <= 1 {
			t.Fatalf("task %s: %+v", id, tk)
		}
		t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	}

	first.kill(syscall.SIGKILL)
	for id, tk := range mesosBefore {
		if !processRuns(tk.PID) {
			t.Fatalf("task %s (pid %d) died with the server", id, tk.PID)
		}
	}

	second := startEmbedded(t, e, addr)
	var after *api.AppInfo
	e.waitFor(30*time.Second, "the tasks healthy again after the restart", func() (bool, string) {
		app, ok, state := healthy()
		after = app
		return ok, state
	})
	if got, want := strideTaskIDs(after.Tasks), strideTaskIDs(before.Tasks); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Stride's tasks after the restart: %v, want the same as before: %v", got, want)
	}
	mesosAfter, completed := standInState(t, second.mesosURL)
	for id, tk := range mesosBefore {
		got, ok := mesosAfter[id]
		switch {
		case !ok:
			t.Errorf("task %s is gone from the stand-in after the restart", id)
		case got.State != "TASK_RUNNING" || got.PID != tk.PID || got.SlaveID != tk.SlaveID:
			t.Errorf("task %s after the restart: %+v, want RUNNING with pid %d on %s", id, got, tk.PID, tk.SlaveID)
		}
	}
	if len(mesosAfter) != len(mesosBefore) || len(completed) != 0 {
		t.Errorf("the stand-in runs %v and completed %v after the restart, want only %v", mesosAfter, completed, mesosBefore)
	}
	deps, err := e.client.Deployments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(deps) != 0 {
		t.Errorf("the restart started deployments: %+v", deps)
	}
	if after.Version != before.Version {
		t.Errorf("the app's version changed across the restart: %s -> %s", before.Version, after.Version)
	}

	// A graceful stop kills the tasks: `stride dev` says they stop with it.
	second.kill(syscall.SIGTERM)
	if !second.cmd.ProcessState.Success() {
		t.Errorf("the server did not stop cleanly: %v", second.cmd.ProcessState)
	}
	for id, tk := range mesosBefore {
		if processRuns(tk.PID) {
			t.Errorf("task %s (pid %d) outlived a graceful stop", id, tk.PID)
		}
	}
}

// processRuns reports whether pid names a process that is not a zombie (an
// orphan's exit may be reaped late, or never, by whatever adopted it).
func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
