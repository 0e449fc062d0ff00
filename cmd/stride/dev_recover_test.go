package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
)

// With STRIDE_TEST_CLI=1 the test binary is the stride command (its arguments
// are the command line), for the tests that kill `stride dev` with SIGKILL.
func init() {
	if os.Getenv("STRIDE_TEST_CLI") == "1" {
		os.Exit(newCLI(os.Stdin, os.Stdout, os.Stderr).run(os.Args[1:]))
	}
}

// devProc is `stride dev` in a subprocess.
type devProc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// startDev runs `stride dev` with args in a subprocess.
func startDev(t *testing.T, args ...string) *devProc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, append([]string{"dev"}, args...)...)
	cmd.Env = append(os.Environ(), "STRIDE_TEST_CLI=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProc{cmd: cmd, out: out}
	dataDir := ""
	for i, a := range args {
		if a == "-data-dir" && i+1 < len(args) {
			dataDir, _ = filepath.Abs(args[i+1])
		}
	}
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		// A stride dev killed with SIGKILL leaves its tasks running, by design:
		// whatever a failed test left behind goes with the test.
		if dataDir != "" {
			mesostest.KillBelow(dataDir, 10*time.Second)
		}
		if t.Failed() {
			t.Logf("stride dev output:\n%s", out.String())
		}
	})
	return p
}

func (p *devProc) stop(sig syscall.Signal) {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Signal(sig)
		_ = p.cmd.Wait()
	}
}

// devTask is a task as GET /master/state of the stand-in shows it.
type devTask struct {
	ID, State string
	SlaveID   string `json:"slave_id"`
	PID       int
}

// standInTasks returns the stand-in's running and completed tasks, the
// stand-in found through Stride's /v2/info.
func standInTasks(t *testing.T, addr string) (running, completed map[string]devTask) {
	t.Helper()
	getJSON := func(url string, v any) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, b)
		}
	}
	var info struct {
		MarathonConfig struct{ Master string } `json:"marathon_config"`
	}
	getJSON("http://"+addr+"/v2/info", &info)
	var st struct {
		Frameworks []struct {
			Tasks          []devTask `json:"tasks"`
			CompletedTasks []devTask `json:"completed_tasks"`
		}
	}
	getJSON(info.MarathonConfig.Master+"/master/state", &st)
	running, completed = map[string]devTask{}, map[string]devTask{}
	for _, fw := range st.Frameworks {
		for _, tk := range fw.Tasks {
			running[tk.ID] = tk
		}
		for _, tk := range fw.CompletedTasks {
			completed[tk.ID] = tk
		}
	}
	return running, completed
}

// processRuns reports whether pid names a process that is not a zombie.
func processRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestDevKilledKeepsTasks: `kill -9` of `stride dev examples/multi-tier` and
// the same command again leave the same tasks running with the same pids:
// re-applying the configuration finds nothing to change, no deployment
// starts, and the apps are healthy again. Stopping it (SIGTERM) stops them.
func TestDevKilledKeepsTasks(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the multi-tier example runs python3; .ci/run installs it")
	}
	addr := freeAddr(t)
	dataDir := t.TempDir()
	example, _ := filepath.Abs("../../examples/multi-tier")
	// Ports of its own: other packages' tests run stand-ins in parallel.
	args := []string{"-no-color", "-listen", addr, "-data-dir", dataDir, "-first-port", devFirstPort(t, 3), example}
	client := api.NewClient(addr)
	want := map[string]int{"/infra/db": 1, "/shop/api": 2, "/shop/web": 3}
	type appState struct {
		version string
		tasks   []string
	}
	healthy := func(p *devProc) map[string]appState {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			apps, err := client.Apps(context.Background())
			ok := err == nil && len(apps) == len(want)
			state := fmt.Sprint(err)
			got := map[string]appState{}
			for _, a := range apps {
				ids := []string{}
				for _, tk := range a.Tasks {
					ids = append(ids, tk.ID)
				}
				sort.Strings(ids)
				got[a.ID] = appState{a.Version, ids}
				state += fmt.Sprintf("%s %d/%d healthy, deployments %v; ", a.ID, a.TasksHealthy, want[a.ID], a.Deployments)
				ok = ok && a.TasksHealthy == want[a.ID] && len(a.Tasks) == want[a.ID] && len(a.Deployments) == 0
			}
			if ok {
				return got
			}
			if p.cmd.ProcessState != nil {
				t.Fatalf("stride dev exited: %v", p.cmd.ProcessState)
			}
			if time.Now().After(deadline) {
				t.Fatalf("multi-tier not healthy in time: %s", state)
			}
			time.Sleep(100 * time.Millisecond) // polling interval
		}
	}

	first := startDev(t, args...)
	before := healthy(first)
	tasksBefore, _ := standInTasks(t, addr)
	if len(tasksBefore) != 6 {
		t.Fatalf("the stand-in runs %d tasks, want 6: %v", len(tasksBefore), tasksBefore)
	}
	for _, tk := range tasksBefore {
		pid := tk.PID
		t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	}

	first.stop(syscall.SIGKILL)
	for id, tk := range tasksBefore {
		if !processRuns(tk.PID) {
			t.Fatalf("task %s (pid %d) died with stride dev", id, tk.PID)
		}
	}

	second := startDev(t, args...)
	after := healthy(second)
	// The configuration was applied again: nothing to do.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(second.out.String(), "No changes") {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted stride dev did not find the configuration applied:\n%s", second.out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	for id, b := range before {
		a := after[id]
		if a.version != b.version || strings.Join(a.tasks, " ") != strings.Join(b.tasks, " ") {
			t.Errorf("%s after the restart: version %s, tasks %v; before: %s, %v", id, a.version, a.tasks, b.version, b.tasks)
		}
	}
	tasksAfter, completed := standInTasks(t, addr)
	for id, b := range tasksBefore {
		if a, ok := tasksAfter[id]; !ok || a.State != "TASK_RUNNING" || a.PID != b.PID || a.SlaveID != b.SlaveID {
			t.Errorf("task %s after the restart: %+v, before %+v", id, a, b)
		}
	}
	if len(tasksAfter) != len(tasksBefore) || len(completed) != 0 {
		t.Errorf("after the restart the stand-in runs %v and completed %v", tasksAfter, completed)
	}
	deps, err := client.Deployments(context.Background())
	if err != nil || len(deps) != 0 {
		t.Errorf("deployments after the restart: %+v %v", deps, err)
	}

	second.stop(syscall.SIGTERM)
	if !second.cmd.ProcessState.Success() {
		t.Errorf("stride dev did not stop cleanly: %v", second.cmd.ProcessState)
	}
	for id, tk := range tasksBefore {
		if processRuns(tk.PID) {
			t.Errorf("task %s (pid %d) outlived stride dev", id, tk.PID)
		}
	}
}

// TestDevStopsTasksOnHangup: closing the terminal of a `stride dev` (SIGHUP)
// stops its tasks as Ctrl-C does, instead of leaving them running with their
// ports.
func TestDevStopsTasksOnHangup(t *testing.T) {
	addr := freeAddr(t)
	dataDir := t.TempDir()
	example, _ := filepath.Abs("../../examples/hello-world")
	p := startDev(t, "-no-color", "-listen", addr, "-data-dir", dataDir, "-first-port", devFirstPort(t, 3), example)
	var tasks map[string]devTask
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.cmd.ProcessState != nil {
			t.Fatalf("stride dev exited: %v", p.cmd.ProcessState)
		}
		running := map[string]devTask{}
		if _, err := http.Get("http://" + addr + "/ping"); err == nil {
			all, _ := standInTasks(t, addr)
			for id, tk := range all {
				if tk.State == "TASK_RUNNING" && tk.PID > 0 {
					running[id] = tk
				}
			}
		}
		if len(running) == 2 {
			tasks = running
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello-world not running in time: %v", running)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
	for _, tk := range tasks {
		pid := tk.PID
		t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	}

	p.stop(syscall.SIGHUP)
	if !p.cmd.ProcessState.Success() {
		t.Errorf("stride dev did not stop cleanly on SIGHUP: %v\n%s", p.cmd.ProcessState, p.out.String())
	}
	for id, tk := range tasks {
		if processRuns(tk.PID) {
			t.Errorf("task %s (pid %d) outlived stride dev's SIGHUP", id, tk.PID)
		}
	}
}
