package localmesos

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// The tests of recovery crash a Master for real: it runs in a subprocess of
// the test binary (helper mode "master"), which the test kills with SIGKILL,
// leaving its tasks running, orphaned. Then a Master in the test process
// starts on the same WorkDir.

// Environment of the "master" helper.
const (
	helperWorkDirEnv = "LOCALMESOS_TEST_WORKDIR"
	helperAgentsEnv  = "LOCALMESOS_TEST_AGENTS"
	helperPortsEnv   = "LOCALMESOS_TEST_PORTS" // first port and ports per agent: "20000,100"
)

// runMasterHelper runs a Master with the tests' timings on
// $LOCALMESOS_TEST_WORKDIR with $LOCALMESOS_TEST_AGENTS agents, prints its URL
// and serves until killed.
func runMasterHelper() int {
	agents, _ := strconv.Atoi(os.Getenv(helperAgentsEnv))
	var first, per int
	fmt.Sscanf(os.Getenv(helperPortsEnv), "%d,%d", &first, &per)
	m, err := New(Config{
		WorkDir: os.Getenv(helperWorkDirEnv), Agents: agents, FirstPort: first, PortsPerAgent: per,
		OfferInterval: 20 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond, UpdateRetry: 5 * time.Second,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(m.URL())
	select {}
}

// crashable is a Master in a subprocess.
type crashable struct {
	cmd    *exec.Cmd
	remote *Master // only its URL is set: enough for the test client
	log    *syncLog
}

// syncLog collects a subprocess's log for failure messages.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startCrashable starts a Master in a subprocess on dir.
func startCrashable(t *testing.T, dir string, agents int) *crashable {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	ports := Config{WorkDir: dir, Agents: agents}
	testPorts(t, &ports)
	cmd.Env = append(os.Environ(), helperEnv+"=master", helperWorkDirEnv+"="+dir, helperAgentsEnv+"="+strconv.Itoa(agents),
		fmt.Sprintf("%s=%d,%d", helperPortsEnv, ports.FirstPort, ports.PortsPerAgent))
	log := &syncLog{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &crashable{cmd: cmd, log: log}
	t.Cleanup(func() {
		c.crash()
		if t.Failed() {
			t.Logf("log of the crashed master:\n%s", log.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the master subprocess did not start: %v\n%s", err, log.String())
	}
	c.remote = &Master{url: strings.TrimSpace(line)}
	return c
}

// crash kills the master with SIGKILL and reaps it.
func (c *crashable) crash() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_ = c.cmd.Wait()
}

// orphan is a task process left behind by a crashed master.
type orphan struct {
	id    string
	pid   int
	start uint64
}

// orphanOf records the process of a RUNNING update, and kills its process
// group when the test ends, should it still run (and still be it).
func orphanOf(t *testing.T, st mesos.TaskStatus) orphan {
	t.Helper()
	pid := int(st.GetContainerStatus().GetExecutorPID())
	start, err := processStartTime(pid)
	if pid == 0 || err != nil {
		t.Fatalf("task %s: RUNNING names pid %d: %v", st.TaskID.Value, pid, err)
	}
	o := orphan{id: st.TaskID.Value, pid: pid, start: start}
	t.Cleanup(func() {
		if o.alive() {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	return o
}

func (o orphan) alive() bool {
	cur, err := processStartTime(o.pid)
	return err == nil && cur == o.start
}

// recoveringFramework is a FrameworkInfo with a failover timeout.
func recoveringFramework(failover float64) *mesos.FrameworkInfo {
	info := frameworkInfo(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
	info.FailoverTimeout = proto(failover)
	info.Checkpoint = proto(true)
	return info
}

// proc is a process the test started, reaped in the background.
type proc struct {
	*exec.Cmd
	exited chan struct{}
}

// bystander starts `sleep 300` working in dir, in its own process group,
// with env added to its environment: a process that is no task's. It is
// killed when the test ends.
func bystander(t *testing.T, dir string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command("sleep", "300")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{Cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	return p
}

// waitExited waits until a bystander has exited.
func waitExited(t *testing.T, p *proc, what string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitTimeout):
		t.Fatalf("%s was not killed", what)
	}
}

// pidLine is a checkpoint's pid line for pid, with a start time off by
// offset (a pid that now names another process) and a boot id.
func pidLine(t *testing.T, pid int, offset uint64, boot string) string {
	t.Helper()
	start, err := processStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %d %d %s\n", pid, pid, start+offset, boot)
}

// appendPid adds a pid line to the checkpoint in a sandbox.
func appendPid(t *testing.T, dir, line string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, checkpointName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// writeCrafted writes the checkpoint of a task of framework fwID on an agent
// into a new sandbox, and returns the sandbox.
func writeCrafted(t *testing.T, workDir string, agentIndex int, agentID, fwID, taskID string, failover float64) string {
	t.Helper()
	dir := filepath.Join(workDir, "agents", agentID, "frameworks", fwID, "tasks", taskID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	info := recoveringFramework(failover)
	info.ID = &mesos.FrameworkID{Value: fwID}
	b, err := json.Marshal(taskCheckpoint{
		FrameworkID: fwID, Framework: *info, AgentIndex: agentIndex, AgentID: agentID, ContainerID: newMasterID(), Launched: time.Now(),
		Task: mesos.TaskInfo{
			Name: taskID, TaskID: mesos.TaskID{Value: taskID}, AgentID: mesos.AgentID{Value: agentID},
			Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
			Command:   &mesos.CommandInfo{Value: proto("sleep 300")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, checkpointName), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// passingCheck is a COMMAND health check that passes.
func passingCheck() *mesos.HealthCheck {
	failures := uint32(3)
	return &mesos.HealthCheck{
		Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: proto("true")},
		DelaySeconds: proto(0.0), IntervalSeconds: proto(0.1), TimeoutSeconds: proto(5.0), ConsecutiveFailures: &failures,
	}
}

// TestCrashRecovery is item 4 of the hardening issue: a Master killed with
// SIGKILL leaves its tasks running, and the next one on the WorkDir adopts
// them: same task ids, same pids, same agents; the framework re-subscribing
// with its id gets them back (reconciliation says RUNNING), can kill them,
// hears of their exit; health checks run again. A pid file whose pid now names
// another process is neither adopted nor killed; one without a checkpoint is
// killed.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	first := startCrashable(t, dir, 2)
	c := subscribe(t, first.remote, protoCodec, recoveringFramework(3600))
	fwID := c.fwID
	o := c.offers()[0]
	agentID := o.AgentID.Value
	keep := shellTask(o, "keep.1", "sleep 300", 0.1, 32)
	keep.HealthCheck = passingCheck()
	kill := shellTask(o, "kill.1", "sleep 300", 0.1, 32)
	exit := shellTask(o, "exit.1", "sleep 300", 0.1, 32)
	c.ackAll = true
	c.launch([]mesos.OfferID{o.ID}, keep, kill, exit)
	// Every task runs, and the health check ran in the first master.
	orphans := map[string]orphan{}
	firstHealthy := false
	c.expect(func(ev *scheduler.Event) bool {
		if ev.Type == scheduler.Event_UPDATE {
			st := ev.Update.Status
			if _, seen := orphans[st.TaskID.Value]; !seen && st.GetState() == mesos.TASK_RUNNING {
				orphans[st.TaskID.Value] = orphanOf(t, st)
			}
			firstHealthy = firstHealthy || st.TaskID.Value == "keep.1" && st.GetHealthy()
		}
		return len(orphans) == 3 && firstHealthy
	})

	// A pid file of no task, whose process group still runs: killed. A task's
	// pid file whose pid now names another process: left alone.
	stale := filepath.Join(dir, "agents", agentID, "frameworks", fwID, "tasks", "stale.1")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	staleProc := bystander(t, stale)
	if err := os.WriteFile(filepath.Join(stale, pidFileName), []byte(pidLine(t, staleProc.Process.Pid, 0, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	reused := writeCrafted(t, dir, 0, agentID, fwID, "reused.1", 3600)
	reusedProc := bystander(t, t.TempDir())
	appendPid(t, reused, pidLine(t, reusedProc.Process.Pid, 1, bootID()))

	first.crash()
	for id, o := range orphans {
		if !o.alive() {
			t.Fatalf("task %s died with its master", id)
		}
	}

	m := newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 2 })
	waitExited(t, staleProc, "the process group of a pid file without checkpoint")
	if !processAlive(reusedProc.Process.Pid) {
		t.Error("the process a reused pid names was killed")
	}
	if m.ID() == strings.TrimSuffix(agentID, "-S0") {
		t.Error("the master id did not change")
	}
	if got := m.Agents()[0].ID; got != agentID {
		t.Fatalf("agent 0 is %s after the restart, was %s", got, agentID)
	}
	byID := map[string]TaskInfo{}
	for _, ti := range m.Tasks() {
		byID[ti.ID] = ti
	}
	for id, o := range orphans {
		ti := byID[id]
		if ti.State != mesos.TASK_RUNNING || ti.PID != o.pid || ti.AgentID != agentID || ti.FrameworkID != fwID || !ti.Recovered {
			t.Errorf("task %s after the restart: %+v, want RUNNING with pid %d on %s", id, ti, o.pid, agentID)
		}
	}
	if ti := byID["reused.1"]; ti.State != mesos.TASK_FAILED || ti.PID != 0 {
		t.Errorf("the task whose pid was reused: %+v, want TASK_FAILED and no pid", ti)
	}
	if _, ok := byID["stale.1"]; ok {
		t.Error("the pid file without checkpoint made a task")
	}
	if used := m.Agents()[0].Used; round3(used.Cpus) != 0.3 || used.Mem != 96 {
		t.Errorf("agent 0 uses %+v, want the 3 adopted tasks' 0.3 cpus and 96 MB", used)
	}
	st := m.state()
	if len(st.Frameworks) != 1 || !st.Frameworks[0].Recovered || st.Frameworks[0].Connected || len(st.Frameworks[0].Tasks) != 4 {
		t.Fatalf("/master/state frameworks: %+v", st.Frameworks)
	}
	for _, tj := range st.Frameworks[0].Tasks {
		if o, ok := orphans[tj.ID]; ok && tj.PID != o.pid {
			t.Errorf("/master/state: task %s has pid %d, want %d", tj.ID, tj.PID, o.pid)
		}
	}

	// The framework comes back: it hears of the task that ended, and of the
	// health of the one with a check (run by the new master); reconciliation
	// says the adopted tasks run, explicit and implicit.
	info := recoveringFramework(3600)
	info.ID = &mesos.FrameworkID{Value: fwID}
	c2 := subscribe(t, m, jsonCodec, info)
	if c2.fwID != fwID {
		t.Fatalf("re-subscribed as %s, want %s", c2.fwID, fwID)
	}
	c2.ackAll = true
	var explicit []scheduler.Call_Reconcile_Task
	for id := range orphans {
		explicit = append(explicit, scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: id}, AgentID: &mesos.AgentID{Value: agentID}})
	}
	c2.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: explicit}})
	c2.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
	reconciled := map[string]int{}
	var failed *mesos.TaskStatus
	healthy := false
	c2.expect(func(ev *scheduler.Event) bool {
		if ev.Type == scheduler.Event_UPDATE {
			st := ev.Update.Status
			o, adopted := orphans[st.TaskID.Value]
			switch {
			case st.GetReason() == mesos.REASON_RECONCILIATION && !adopted:
				if st.TaskID.Value != "reused.1" || st.GetState() != mesos.TASK_FAILED {
					t.Errorf("reconciliation: %v %v", st.TaskID.Value, st.GetState())
				}
			case st.GetReason() == mesos.REASON_RECONCILIATION:
				if st.GetState() != mesos.TASK_RUNNING || st.GetAgentID().GetValue() != agentID ||
					int(st.GetContainerStatus().GetExecutorPID()) != o.pid || st.UUID != nil {
					t.Errorf("reconciliation: %v %v on %s, pid %d", st.TaskID.Value, st.GetState(), st.GetAgentID().GetValue(), st.GetContainerStatus().GetExecutorPID())
				}
				reconciled[st.TaskID.Value]++
			case st.TaskID.Value == "reused.1":
				failed = &st
			case st.TaskID.Value == "keep.1" && st.GetHealthy():
				healthy = true
			}
		}
		return len(reconciled) == 3 && reconciled["keep.1"] == 2 && reconciled["kill.1"] == 2 && reconciled["exit.1"] == 2 && failed != nil && healthy
	})
	if failed.GetState() != mesos.TASK_FAILED || failed.GetMessage() != msgRecoveredExited || failed.UUID == nil {
		t.Errorf("the task that ended while no master ran: %v %q (uuid %x)", failed.GetState(), failed.GetMessage(), failed.UUID)
	}
	if st := m.state(); st.Frameworks[0].Recovered || !st.Frameworks[0].Connected {
		t.Errorf("the re-subscribed framework is still recovered or not connected: %+v", st.Frameworks[0])
	}

	// Killing an adopted task: SIGTERM to its process group.
	c2.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "kill.1"}}})
	c2.expect(isUpdate("kill.1", mesos.TASK_KILLING))
	killed := c2.update("kill.1", mesos.TASK_KILLED)
	if killed.GetMessage() != msgAdoptedKilled {
		t.Errorf("kill of an adopted task: %q", killed.GetMessage())
	}
	if orphans["kill.1"].alive() {
		t.Error("the killed task's process runs")
	}

	// An adopted process that exits: TASK_FAILED, exit status unknown.
	if err := syscall.Kill(orphans["exit.1"].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited := c2.update("exit.1", mesos.TASK_FAILED)
	if exited.GetMessage() != msgAdoptedExited || exited.GetReason() != mesos.REASON_EXECUTOR_TERMINATED {
		t.Errorf("exit of an adopted task: %v %q", exited.GetReason(), exited.GetMessage())
	}
	eventually(t, "the resources of the ended tasks to be free", func() bool {
		used := m.Agents()[0].Used
		return round3(used.Cpus) == 0.1 && used.Mem == 32
	})

	// A Master that closes kills the adopted tasks too, and leaves nothing
	// to recover.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if orphans["keep.1"].alive() {
		t.Error("Close left an adopted task running")
	}
	m3 := newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 2 })
	if tasks := m3.Tasks(); len(tasks) != 0 {
		t.Errorf("after a Close, the next Master recovered %+v", tasks)
	}
	if got := m3.Agents()[0].ID; got != agentID {
		t.Errorf("agent 0 is %s after another restart, was %s", got, agentID)
	}
}

// TestRecoveredFrameworkFailoverTimeout: a framework that does not come back
// within its failover timeout after the restart loses its tasks.
func TestRecoveredFrameworkFailoverTimeout(t *testing.T) {
	dir := t.TempDir()
	first := startCrashable(t, dir, 1)
	c := subscribe(t, first.remote, protoCodec, recoveringFramework(0.5))
	o := c.offers()[0]
	c.ackAll = true
	c.launch([]mesos.OfferID{o.ID}, shellTask(o, "abandoned.1", "sleep 300", 0.1, 32))
	orphan := orphanOf(t, c.update("abandoned.1", mesos.TASK_RUNNING))
	first.crash()

	m := newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 1 })
	if tasks := m.Tasks(); len(tasks) != 1 || tasks[0].PID != orphan.pid {
		t.Fatalf("not adopted: %+v", tasks)
	}
	eventually(t, "the abandoned task to be killed", func() bool { return !orphan.alive() })
	eventually(t, "the framework to be removed", func() bool {
		st := m.state()
		return len(st.Frameworks) == 0 && len(st.CompletedFrameworks) == 1 && st.CompletedFrameworks[0].ID == c.fwID
	})
	eventually(t, "the task's resources to be free", func() bool { return m.Agents()[0].Used.Cpus == 0 })
	info := recoveringFramework(0.5)
	info.ID = &mesos.FrameworkID{Value: c.fwID}
	late := tryClient(t, m, jsonCodec, info)
	if ev := late.expect(func(*scheduler.Event) bool { return true }); ev.Type != scheduler.Event_ERROR || ev.Error.Message != msgFrameworkRemoved {
		t.Errorf("late re-subscription got %v, want ERROR %q", ev, msgFrameworkRemoved)
	}
}

// TestRecoveryWithAnotherLayout: agents with other resources are other
// agents: the tasks of the earlier run are killed, the agents get new ids.
func TestRecoveryWithAnotherLayout(t *testing.T) {
	dir := t.TempDir()
	first := startCrashable(t, dir, 1)
	c := subscribe(t, first.remote, protoCodec, recoveringFramework(3600))
	o := c.offers()[0]
	c.ackAll = true
	c.launch([]mesos.OfferID{o.ID}, shellTask(o, "old.1", "sleep 300", 0.1, 32))
	orphan := orphanOf(t, c.update("old.1", mesos.TASK_RUNNING))
	first.crash()

	var logged syncLog
	m := newMaster(t, func(c *Config) {
		c.WorkDir = dir
		c.Agents = 2
		c.Logf = func(f string, a ...any) { fmt.Fprintf(&logged, f+"\n", a...) }
	})
	if !strings.Contains(logged.String(), "layout changed") {
		t.Errorf("the layout change was not logged:\n%s", logged.String())
	}
	eventually(t, "the task of the old layout to be killed", func() bool { return !orphan.alive() })
	if tasks := m.Tasks(); len(tasks) != 0 {
		t.Errorf("tasks recovered across a layout change: %+v", tasks)
	}
	if got := m.Agents()[0].ID; got == o.AgentID.Value || got != m.ID()+"-S0" {
		t.Errorf("agent 0 is %s, was %s; want the new master's %s-S0", got, o.AgentID.Value, m.ID())
	}
	// Reconciliation of the old task: unknown agent, TASK_LOST.
	info := recoveringFramework(3600)
	info.ID = &mesos.FrameworkID{Value: c.fwID}
	c2 := subscribe(t, m, jsonCodec, info)
	c2.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "old.1"}, AgentID: &o.AgentID}}}})
	if st := c2.expect(isTaskUpdate("old.1")).Update.Status; st.GetState() != mesos.TASK_LOST {
		t.Errorf("reconciliation of a task of the old layout: %v", st.GetState())
	}
}

// TestRecoverCheckpoints covers what a crash can leave in a sandbox, with
// sandboxes written by hand: a checkpoint without pid file (the master died
// between the two) whose process runs, or does not; a pid file of another
// boot; a process that ended; a damaged checkpoint; an old sandbox with open
// modes.
func TestRecoverCheckpoints(t *testing.T) {
	dir := t.TempDir()
	cfg0 := Config{WorkDir: dir, Agents: 1}
	testPorts(t, &cfg0)
	m0, err := New(cfg0)
	if err != nil {
		t.Fatal(err)
	}
	agentID := m0.Agents()[0].ID
	if err := m0.Close(); err != nil {
		t.Fatal(err)
	}
	const fwID = "crafted-framework"

	// The task processes of checkpoints without pid line: one runs (with the
	// MESOS_SANDBOX a task gets), the other's process group leader working in
	// the sandbox is someone's shell, not the task.
	leader := writeCrafted(t, dir, 0, agentID, fwID, "leader.1", 60)
	leaderProc := bystander(t, leader, "MESOS_SANDBOX="+leader)
	nolaunch := writeCrafted(t, dir, 0, agentID, fwID, "nolaunch.1", 60)
	shell := bystander(t, nolaunch)
	rebooted := writeCrafted(t, dir, 0, agentID, fwID, "rebooted.1", 60)
	rebootedProc := bystander(t, t.TempDir())
	appendPid(t, rebooted, pidLine(t, rebootedProc.Process.Pid, 0, "another-boot"))
	ended := writeCrafted(t, dir, 0, agentID, fwID, "ended.1", 60)
	endedProc := exec.Command("true")
	if err := endedProc.Run(); err != nil {
		t.Fatal(err)
	}
	appendPid(t, ended, fmt.Sprintf("%d %d 1 %s\n", endedProc.Process.Pid, endedProc.Process.Pid, bootID()))
	damaged := writeCrafted(t, dir, 0, agentID, fwID, "damaged.1", 60)
	damagedProc := bystander(t, damaged)
	if err := os.WriteFile(filepath.Join(damaged, checkpointName), []byte("{\n"+pidLine(t, damagedProc.Process.Pid, 0, bootID())), 0o644); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "agents", agentID, "frameworks", fwID, "tasks", "old.1")
	if err := os.MkdirAll(old, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(old, "stdout"), []byte("old output\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	m := newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 1 })
	waitExited(t, damagedProc, "the process group of a damaged checkpoint")
	if !processAlive(rebootedProc.Process.Pid) {
		t.Error("a process recorded before a reboot was killed")
	}
	if !processAlive(shell.Process.Pid) {
		t.Error("a process working in a sandbox was killed")
	}
	byID := map[string]TaskInfo{}
	for _, ti := range m.Tasks() {
		byID[ti.ID] = ti
	}
	if ti := byID["leader.1"]; ti.State != mesos.TASK_RUNNING || ti.PID != leaderProc.Process.Pid {
		t.Errorf("leader.1: %+v, want adopted with pid %d", ti, leaderProc.Process.Pid)
	}
	if _, pr, err := readCheckpoint(filepath.Join(leader, checkpointName)); err != nil || pr == nil || pr.pid != leaderProc.Process.Pid {
		t.Errorf("leader.1's pid line: %+v %v", pr, err)
	}
	for _, id := range []string{"damaged.1", "old.1"} {
		if _, ok := byID[id]; ok {
			t.Errorf("%s became a task", id)
		}
	}
	info := recoveringFramework(60)
	info.ID = &mesos.FrameworkID{Value: fwID}
	c := subscribe(t, m, jsonCodec, info)
	c.ackAll = true
	want := map[string]struct {
		state  mesos.TaskState
		reason mesos.TaskStatus_Reason
		msg    string
	}{
		"nolaunch.1": {mesos.TASK_LOST, mesos.REASON_AGENT_RESTARTED, msgRecoveredLaunch},
		"rebooted.1": {mesos.TASK_LOST, mesos.REASON_AGENT_RESTARTED, msgRecoveredRebooted},
		"ended.1":    {mesos.TASK_FAILED, mesos.REASON_EXECUTOR_TERMINATED, msgRecoveredExited},
	}
	got := map[string]mesos.TaskStatus{}
	c.expect(func(ev *scheduler.Event) bool {
		if ev.Type == scheduler.Event_UPDATE {
			if _, ok := want[ev.Update.Status.TaskID.Value]; ok {
				got[ev.Update.Status.TaskID.Value] = ev.Update.Status
			}
		}
		return len(got) == len(want)
	})
	for id, w := range want {
		if st := got[id]; st.GetState() != w.state || st.GetReason() != w.reason || st.GetMessage() != w.msg || st.GetAgentID().GetValue() != agentID {
			t.Errorf("%s: %v %v %q on %s, want %v %v %q", id, st.GetState(), st.GetReason(), st.GetMessage(), st.GetAgentID().GetValue(), w.state, w.reason, w.msg)
		}
	}
	eventually(t, "the ended tasks to be forgotten once acknowledged", func() bool { return len(m.Tasks()) == 1 })
	// Modes of what an older stand-in left are fixed; its output is kept.
	checkMode(t, old, dirMode)
	checkMode(t, filepath.Join(old, "stdout"), fileMode)
	checkMode(t, filepath.Join(dir, "agents", agentID, "frameworks", fwID), dirMode)
	for _, d := range []string{ended, rebooted, damaged} {
		if _, err := os.Stat(filepath.Join(d, checkpointDoneName)); err != nil {
			t.Errorf("the checkpoint in %s was not marked done: %v", d, err)
		}
	}
}

// checkMode fails the test unless path has exactly mode.
func checkMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != mode {
		t.Errorf("%s has mode %v, want %v", path, got, mode)
	}
}

// TestSandboxCollection is item 7 of the hardening issue: a crash-looping app
// leaves at most SandboxesKept finished sandboxes, next to the one of its
// running task (never removed); every directory is 0700, every file 0600; a
// Master starting on a WorkDir collects what is beyond the ones kept.
func TestSandboxCollection(t *testing.T) {
	const kept = 3
	dir := t.TempDir()
	m := newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 1; c.SandboxesKept = kept })
	c := subscribe(t, m, protoCodec, frameworkInfo())
	c.ackAll = true
	o := c.offers()[0]
	live := shellTask(o, "crash.live", "sleep 300", 0.1, 32)
	live.HealthCheck = passingCheck()
	c.launch([]mesos.OfferID{o.ID}, live)
	c.update("crash.live", mesos.TASK_RUNNING)
	liveBox := sandboxOf(t, m, "crash.live")

	// 12 launches of the crashing app, 2 of another one.
	var ids []string
	for round := 0; round < 3; round++ {
		o := c.offers()[0]
		var tasks []mesos.TaskInfo
		for i := 0; i < 4; i++ {
			id := fmt.Sprintf("crash.%d-%d", round, i)
			ids = append(ids, id)
			tasks = append(tasks, shellTask(o, id, "echo out; echo err >&2; exit 1", 0.01, 8))
		}
		if round < 2 {
			id := fmt.Sprintf("other.%d", round)
			ids = append(ids, id)
			tasks = append(tasks, shellTask(o, id, "exit 1", 0.01, 8))
		}
		c.launch([]mesos.OfferID{o.ID}, tasks...)
		c.updates(mesos.TASK_FAILED, ids[len(ids)-len(tasks):]...)
	}
	tasksDir := filepath.Dir(liveBox)
	entries, err := os.ReadDir(tasksDir)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var names []string
	for _, e := range entries {
		count[appKey(e.Name(), "")]++
		names = append(names, e.Name())
	}
	if count["crash"] != kept+1 || count["other"] != 2 || len(entries) != kept+3 {
		t.Errorf("sandboxes left: %v, want %d of crash (the running one and %d finished) and 2 of other", names, kept+1, kept)
	}
	if _, err := os.Stat(liveBox); err != nil {
		t.Fatalf("the running task's sandbox was removed: %v", err)
	}
	// The rounds ran one after the other: the newest 3 are of the last one.
	var finished string
	for _, n := range names {
		if strings.HasPrefix(n, "crash.") && n != "crash.live" {
			if !strings.HasPrefix(n, "crash.2-") {
				t.Errorf("an old sandbox %s was kept instead of a newer one: %v", n, names)
			}
			finished = filepath.Join(tasksDir, n)
		}
	}

	// Modes: the WorkDir and everything in the path of a sandbox 0700, the
	// stand-in's files 0600.
	for d := liveBox; ; d = filepath.Dir(d) {
		checkMode(t, d, dirMode)
		if d == dir {
			break
		}
	}
	for _, f := range []string{"stdout", "stderr", checkpointName} {
		checkMode(t, filepath.Join(liveBox, f), fileMode)
	}
	for _, f := range []string{"stdout", "stderr", checkpointDoneName} {
		checkMode(t, filepath.Join(finished, f), fileMode)
	}
	checkMode(t, filepath.Join(filepath.Dir(tasksDir), frameworkFileName), fileMode)
	checkMode(t, filepath.Join(dir, clusterFileName), fileMode)

	// With nothing kept, only the running task's sandbox stays.
	t.Run("none kept", func(t *testing.T) {
		m := newMaster(t, func(c *Config) { c.Agents = 1; c.SandboxesKept = -1 })
		c := subscribe(t, m, protoCodec, frameworkInfo())
		c.ackAll = true
		o := c.offers()[0]
		c.launch([]mesos.OfferID{o.ID}, shellTask(o, "app.live", "sleep 300", 0.1, 32), shellTask(o, "app.crash", "exit 1", 0.1, 32))
		seen := map[string]bool{}
		c.expect(func(ev *scheduler.Event) bool {
			if ev.Type == scheduler.Event_UPDATE {
				seen[ev.Update.Status.TaskID.Value+" "+ev.Update.Status.GetState().String()] = true
			}
			return seen["app.crash TASK_FAILED"] && seen["app.live TASK_RUNNING"]
		})
		box := sandboxOf(t, m, "app.live")
		entries, _ := os.ReadDir(filepath.Dir(box))
		if len(entries) != 1 || entries[0].Name() != "app.live" {
			t.Errorf("sandboxes left: %v, want only app.live's", entries)
		}
	})

	// A Master starting on the WorkDir keeps the newest finished sandbox of
	// each app: the running task was killed by Close, so it finished last.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	newMaster(t, func(c *Config) { c.WorkDir = dir; c.Agents = 1; c.SandboxesKept = 1 })
	entries, err = os.ReadDir(tasksDir)
	if err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "crash.live other.1" {
		t.Errorf("after a restart keeping 1 per app: %v, want [crash.live other.1]", names)
	}
}

// TestCheckpointRoundTrip: what a checkpoint records is what a TaskInfo and a
// FrameworkInfo hold.
func TestCheckpointRoundTrip(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	c := subscribe(t, m, protoCodec, recoveringFramework(42))
	c.ackAll = true
	o := c.offers()[0]
	ti := shellTask(o, "round.trip", "sleep 300", 0.1, 32)
	ti.HealthCheck = passingCheck()
	ti.KillPolicy = grace(time.Second)
	ti.Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "k", Value: proto("v")}}}
	ti.Command.Environment = &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "A", Value: proto("b")}}}
	ti.Resources = append(ti.Resources, ports(mesos.Value_Range{Begin: offerPort(t, o), End: offerPort(t, o)}))
	c.launch([]mesos.OfferID{o.ID}, ti)
	c.update("round.trip", mesos.TASK_RUNNING)
	box := sandboxOf(t, m, "round.trip")
	ck, pr, err := readCheckpoint(filepath.Join(box, checkpointName))
	if err != nil {
		t.Fatal(err)
	}
	if pid := m.Tasks()[0].PID; pr == nil || pr.pid != pid || pr.pgid != pid || pr.start == 0 || pr.boot != bootID() {
		t.Errorf("pid line %+v, want pid %d, its start time and the boot id %s", pr, pid, bootID())
	}
	if !ck.Task.Equal(&ti) {
		t.Errorf("checkpointed TaskInfo %+v\nwant %+v", ck.Task, ti)
	}
	if ck.FrameworkID != c.fwID || ck.Framework.GetFailoverTimeout() != 42 || ck.AgentID != o.AgentID.Value || ck.AgentIndex != 0 {
		t.Errorf("checkpoint: %+v", ck)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(box)), frameworkFileName))
	if err != nil {
		t.Fatal(err)
	}
	var fi mesos.FrameworkInfo
	if err := json.Unmarshal(b, &fi); err != nil || fi.GetFailoverTimeout() != 42 || fi.GetID().GetValue() != c.fwID {
		t.Errorf("framework.json: %s (%v)", b, err)
	}
	// UPDATE_FRAMEWORK changes the failover timeout: recorded again.
	upd := recoveringFramework(7)
	upd.ID = &mesos.FrameworkID{Value: c.fwID}
	c.mustCall(&scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: *upd}})
	b, _ = os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(box)), frameworkFileName))
	if err := json.Unmarshal(b, &fi); err != nil || fi.GetFailoverTimeout() != 7 {
		t.Errorf("framework.json after UPDATE_FRAMEWORK: %s (%v)", b, err)
	}
}
