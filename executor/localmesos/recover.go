package localmesos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// Recovery after a crash.
//
// A Mesos agent checkpoints every task it launches and, when it restarts,
// recovers the executors that still run; after a master failover the agents
// re-register with their tasks, and a framework that re-subscribes with its id
// within its failover_timeout gets them back. The stand-in does the same with
// what it keeps in its WorkDir:
//
//   - cluster.json: the prefix of the agent ids and the agent layout (the
//     Config fields that shape an agent). A Master on the same WorkDir with the
//     same layout keeps the agent ids "<prefix>-S<i>"; the master id itself is
//     fresh on every start, as a Mesos master's is, so framework and offer ids
//     of different runs never collide. A changed layout gets new agent ids (the
//     new master's id as the prefix), and the processes of the earlier run are
//     killed: their agents no longer exist.
//   - agents/<agent>/frameworks/<framework>/framework.json: the framework's
//     latest FrameworkInfo (failover_timeout, capabilities, user), rewritten
//     when it changes.
//   - in each sandbox, .localmesos.task: the checkpoint of a launching or
//     running task, written right before its process starts (TaskInfo,
//     framework id and FrameworkInfo, agent, container id, as one line of
//     JSON), followed, once the process runs, by a line with its process
//     group, the process's start time and the boot id. (One file, its second
//     line appended through the descriptor that wrote the first, costs a
//     launch no more file creations than the pid file alone did.) When the
//     task's process has been reaped, or its launch ended without one, the
//     file is renamed .localmesos.done. A .localmesos.pid file (pid line only)
//     is what an older stand-in left.
//
// New looks at every sandbox: a task whose checkpoint is current and whose
// process still runs (same pid, same start time, same boot) is adopted: it is
// RUNNING on its agent, its resources held, in a "recovered" framework that is
// disconnected and whose failover timeout starts when the Master starts; its
// health check runs again, and its exit is watched through a pidfd (it is not
// the Master's child). A checkpoint without pid line (the Master died between
// the two) is matched with the process group leader that has the sandbox in
// its environment (MESOS_SANDBOX), if one runs. A task whose process ended while no Master watched gets a
// TASK_FAILED (the exit status is unknowable); one whose launch was cut short,
// or whose machine rebooted since, TASK_LOST (TASK_GONE for partition-aware
// frameworks); both are delivered, reliably, when the framework comes back.
// A process group recorded without a usable checkpoint (an older stand-in's
// pid file, a damaged checkpoint) or on an agent of another layout is killed
// if the recorded process still runs; a pid that now names another process,
// or was recorded before a reboot, is never signalled.

// File and directory modes of everything the stand-in writes in its WorkDir.
const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// Names of the files recovery uses.
const (
	clusterFileName    = "cluster.json"
	frameworkFileName  = "framework.json"
	checkpointName     = ".localmesos.task"
	checkpointDoneName = ".localmesos.done"
	pidFileName        = ".localmesos.pid" // of an older stand-in
	trashDirName       = ".trash"
)

// Messages of the updates of tasks found after a restart.
const (
	msgRecoveredExited   = "Command exited while the stand-in was not running: its exit status is unknown"
	msgAdoptedExited     = "Command exited: its exit status is unknown, because the stand-in adopted the process after a restart and is not its parent"
	msgAdoptedKilled     = "Command was killed: its exit status is unknown, because the stand-in adopted the process after a restart and is not its parent"
	msgRecoveredLaunch   = "The stand-in stopped while it was launching the task, which does not run"
	msgRecoveredRebooted = "The machine rebooted since the task was launched, so it no longer runs"
)

// layout is what defines the agents of a WorkDir: the Config fields that
// shape their ids, resources and attributes.
type layout struct {
	Agents        int                `json:"agents"`
	Racks         int                `json:"racks"`
	Cpus          float64            `json:"cpus"`
	Mem           float64            `json:"mem"`
	Disk          float64            `json:"disk"`
	PortsPerAgent int                `json:"ports_per_agent"`
	FirstPort     int                `json:"first_port"`
	Roles         map[string]float64 `json:"roles,omitempty"`
	Attributes    map[string]string  `json:"attributes,omitempty"`
}

func layoutOf(c Config) layout {
	l := layout{
		Agents: c.Agents, Racks: c.Racks, Cpus: c.Cpus, Mem: c.Mem, Disk: c.Disk,
		PortsPerAgent: c.PortsPerAgent, FirstPort: c.FirstPort,
	}
	if len(c.Roles) > 0 {
		l.Roles = c.Roles
	}
	if len(c.Attributes) > 0 {
		l.Attributes = c.Attributes
	}
	return l
}

// clusterRecord is the content of cluster.json.
type clusterRecord struct {
	AgentIDPrefix string `json:"agent_id_prefix"`
	Layout        layout `json:"layout"`
}

// agentIdentity returns the prefix of the agent ids and whether the tasks of
// an earlier run on the WorkDir can be recovered (its layout is this one). A
// WorkDir without a usable cluster.json, or with another layout, gets
// masterID as the prefix, recorded for the next run.
func agentIdentity(cfg Config, masterID string) (prefix string, compatible bool, err error) {
	path := filepath.Join(cfg.WorkDir, clusterFileName)
	want := layoutOf(cfg)
	wantJSON, _ := json.Marshal(want)
	b, readErr := os.ReadFile(path)
	var rec clusterRecord
	switch {
	case errors.Is(readErr, fs.ErrNotExist):
	case readErr != nil:
		cfg.Logf("localmesos: %v: new agent ids", readErr)
	case json.Unmarshal(b, &rec) != nil || validateID(rec.AgentIDPrefix) != nil:
		cfg.Logf("localmesos: %s is damaged: new agent ids", path)
	default:
		got, _ := json.Marshal(rec.Layout)
		if bytes.Equal(got, wantJSON) {
			_ = os.Chmod(path, fileMode)
			return rec.AgentIDPrefix, true, nil
		}
		cfg.Logf("localmesos: the agent layout changed since the last run (%s, now %s): new agent ids; the tasks of the earlier run are killed", got, wantJSON)
	}
	out, _ := json.MarshalIndent(clusterRecord{AgentIDPrefix: masterID, Layout: want}, "", "  ")
	if err := writeFileAtomic(path, append(out, '\n')); err != nil {
		return "", false, fmt.Errorf("localmesos: record the agent layout: %w", err)
	}
	return masterID, false, nil
}

// writeFileAtomic replaces path with content (mode 0600) through a rename, so
// that a crash leaves either the old or the new content.
func writeFileAtomic(path string, content []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, fileMode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, fileMode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// taskCheckpoint is the content of a sandbox's checkpoint file.
type taskCheckpoint struct {
	FrameworkID string              `json:"framework_id"`
	Framework   mesos.FrameworkInfo `json:"framework_info"`
	AgentIndex  int                 `json:"agent_index"`
	AgentID     string              `json:"agent_id"`
	ContainerID string              `json:"container_id"`
	Launched    time.Time           `json:"launched"`
	Task        mesos.TaskInfo      `json:"task_info"`
}

// writeCheckpoint creates the task's checkpoint in its sandbox, before the
// process starts, and returns the file open, for recordPid. A torn file means
// that the process never started.
func writeCheckpoint(t *task, fwInfo mesos.FrameworkInfo) (*os.File, error) {
	b, err := json.Marshal(taskCheckpoint{
		FrameworkID: t.fw.id, Framework: fwInfo, AgentIndex: t.agent.index, AgentID: t.agent.id,
		ContainerID: t.containerID, Launched: time.Now(), Task: t.info,
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(t.sandbox, checkpointName), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fileMode)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return f, nil
}

// recordPid appends the pid line to a checkpoint: the process group (pid =
// pgid), the process's start time, which tells it apart from a later process
// that reuses the pid, and the boot id, without which start times mean
// nothing.
func recordPid(f *os.File, pid int) error {
	start, err := processStartTime(pid)
	if err != nil {
		start = 0
	}
	if _, err := fmt.Fprintf(f, "%d %d %d %s\n", pid, pid, start, bootID()); err != nil {
		return fmt.Errorf("record pid: %w", err)
	}
	return nil
}

// rewritePidLine replaces the pid line of a checkpoint (none, or torn).
func rewritePidLine(path string, pr pidRecord) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	first, _, _ := bytes.Cut(b, []byte("\n"))
	line := fmt.Sprintf("%s\n%d %d %d %s\n", first, pr.pid, pr.pgid, pr.start, pr.boot)
	if err := writeFileAtomic(path, []byte(line)); err != nil {
		return fmt.Errorf("record pid: %w", err)
	}
	return nil
}

// readCheckpoint reads a checkpoint file and its pid line, if any.
func readCheckpoint(path string) (*taskCheckpoint, *pidRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	first, rest, _ := bytes.Cut(b, []byte("\n"))
	var ck taskCheckpoint
	if err := json.Unmarshal(first, &ck); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if ck.FrameworkID == "" || ck.Task.TaskID.Value == "" || ck.AgentID == "" {
		return nil, nil, fmt.Errorf("%s: incomplete checkpoint", path)
	}
	// A torn pid line (the Master died writing it) counts as none.
	if line, _, complete := bytes.Cut(rest, []byte("\n")); complete {
		if pr, err := parsePidLine(string(line)); err == nil {
			return &ck, &pr, nil
		}
	}
	return &ck, nil, nil
}

// checkpointFramework records the framework's FrameworkInfo in its directory
// on agent a, unless the current one is recorded already. Called with m.mu
// held, after the directory was created.
func (m *Master) checkpointFramework(fw *framework, a *agent) {
	if fw.infoWritten[a.index] == fw.infoGen {
		return
	}
	if err := m.writeFrameworkFile(fw, a); err != nil {
		m.logf("framework %s: %v", fw.id, err)
		return
	}
	fw.infoWritten[a.index] = fw.infoGen
}

func (m *Master) writeFrameworkFile(fw *framework, a *agent) error {
	b, err := json.Marshal(fw.info)
	if err != nil {
		return err
	}
	dir := filepath.Join(m.cfg.WorkDir, "agents", a.id, "frameworks", sandboxName(fw.id))
	if err := writeFileAtomic(filepath.Join(dir, frameworkFileName), b); err != nil {
		return fmt.Errorf("checkpoint framework info: %w", err)
	}
	return nil
}

// recheckpointFramework rewrites the framework's FrameworkInfo on the agents
// that have it, after it changed. Called with m.mu held.
func (m *Master) recheckpointFramework(fw *framework) {
	for _, i := range sortedInts(fw.infoWritten) {
		m.checkpointFramework(fw, m.agents[i])
	}
}

func sortedInts[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// pidRecord is a checkpoint's pid line (or an older stand-in's pid file).
type pidRecord struct {
	pid, pgid int
	start     uint64 // 0: unknown
	boot      string // "": unknown (a pid file of an older stand-in)
}

// readPidFile parses the pid file of an older stand-in.
func readPidFile(path string) (pidRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidRecord{}, err
	}
	pr, err := parsePidLine(string(b))
	if err != nil {
		return pr, fmt.Errorf("%s: %w", path, err)
	}
	return pr, nil
}

// parsePidLine parses "pid pgid start [boot]".
func parsePidLine(line string) (pidRecord, error) {
	f := strings.Fields(line)
	var r pidRecord
	if len(f) < 3 {
		return r, errors.New("not a pid record")
	}
	var errs [3]error
	r.pid, errs[0] = strconv.Atoi(f[0])
	r.pgid, errs[1] = strconv.Atoi(f[1])
	r.start, errs[2] = strconv.ParseUint(f[2], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return r, err
	}
	if len(f) > 3 {
		r.boot = f[3]
	}
	return r, nil
}

// procStatus is what a pid record says of the process now.
type procStatus int

const (
	procRuns     procStatus = iota // the recorded process runs
	procGone                       // it ended (its pid is free or names another process)
	procRebooted                   // it was recorded before the machine's last boot
	procUnknown                    // it cannot be told (no start time, no /proc)
)

// status checks a pid record against the running processes.
func (r pidRecord) status() (procStatus, error) {
	if boot := bootID(); r.boot != "" && boot != "" && r.boot != boot {
		return procRebooted, nil
	}
	// Process groups 0 and 1 and our own are never ours to kill: kill(-1)
	// would reach every process we may signal.
	if r.pid <= 1 || r.pgid <= 1 || r.pgid == syscall.Getpgrp() {
		return procUnknown, fmt.Errorf("pid %d, process group %d cannot be a task's", r.pid, r.pgid)
	}
	current, err := processStartTime(r.pid)
	switch {
	case errors.Is(err, errNoProcess):
		return procGone, nil
	case err != nil:
		return procUnknown, err
	case r.start == 0:
		return procUnknown, errors.New("no start time was recorded")
	case current != r.start:
		return procGone, nil
	}
	return procRuns, nil
}

// killRecorded kills the process group of a pid file if its process still
// runs (and never one that only reuses the pid).
func killRecorded(path string, r pidRecord, logf func(string, ...any)) {
	st, err := r.status()
	switch st {
	case procRuns:
		if err := syscall.Kill(-r.pgid, syscall.SIGKILL); err == nil {
			logf("localmesos: killed process group %d of task %s, left running by an earlier run", r.pgid, filepath.Base(filepath.Dir(path)))
		}
	case procUnknown:
		logf("localmesos: not killing process group %d recorded in %s: %v", r.pgid, path, err)
	}
}

// recovery is the state of one pass over the sandboxes of a WorkDir.
type recovery struct {
	compatible bool
	leaders    map[string]processID // task processes by sandbox, found when needed
	finished   []string             // sandboxes of no running task
}

// recoverTasks looks at every sandbox in the WorkDir (see the top of this
// file), fixing the modes of what it finds. Called from New, before anything
// else runs.
func (m *Master) recoverTasks(compatible bool) {
	work := m.cfg.WorkDir
	for _, pattern := range []string{"agents", "agents/*", "agents/*/frameworks", "agents/*/frameworks/*", "agents/*/frameworks/*/tasks"} {
		dirs, _ := filepath.Glob(filepath.Join(work, filepath.FromSlash(pattern)))
		for _, d := range dirs {
			fixMode(d, dirMode)
		}
	}
	files, _ := filepath.Glob(filepath.Join(work, "agents", "*", "frameworks", "*", frameworkFileName))
	for _, f := range files {
		fixMode(f, fileMode)
	}
	sandboxes, _ := filepath.Glob(filepath.Join(work, "agents", "*", "frameworks", "*", "tasks", "*"))
	rec := &recovery{compatible: compatible}
	for _, dir := range sandboxes {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
			continue
		}
		fixMode(dir, dirMode)
		for _, name := range []string{"stdout", "stderr", checkpointName, checkpointDoneName} {
			fixMode(filepath.Join(dir, name), fileMode)
		}
		if !m.recoverSandbox(rec, dir) {
			rec.finished = append(rec.finished, dir)
		}
	}
	m.indexFinished(rec.finished)
}

// fixMode takes group and world permissions away from path, as the stand-in
// creates it (dirMode or fileMode).
func fixMode(path string, mode os.FileMode) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() == mode {
		return
	}
	_ = os.Chmod(path, mode)
}

// recoverSandbox handles one sandbox; it reports whether a task of it runs
// (adopted), which keeps the sandbox from being collected.
func (m *Master) recoverSandbox(rec *recovery, dir string) bool {
	// The pid file of an older stand-in: a process group without checkpoint.
	if legacy := filepath.Join(dir, pidFileName); fileExists(legacy) {
		if pr, err := readPidFile(legacy); err == nil {
			killRecorded(legacy, pr, m.cfg.Logf)
		} else {
			m.logf("%v", err)
		}
		_ = os.Remove(legacy)
	}
	ckPath := filepath.Join(dir, checkpointName)
	ck, pr, err := readCheckpoint(ckPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false // finished
	case err != nil:
		// A damaged checkpoint: no task; its process group is killed.
		m.logf("not recovering the task of %s: %v", dir, err)
		var pr *pidRecord
		if b, rerr := os.ReadFile(ckPath); rerr == nil {
			if _, line, ok := bytes.Cut(b, []byte("\n")); ok {
				if p, perr := parsePidLine(string(line)); perr == nil {
					pr = &p
				}
			}
		}
		m.killUnrecovered(rec, ckPath, pr)
		markDone(dir)
		return false
	}
	agentOK := ck.AgentIndex >= 0 && ck.AgentIndex < len(m.agents) &&
		m.agents[ck.AgentIndex].id == ck.AgentID && agentOfSandbox(dir) == ck.AgentID
	if !rec.compatible || !agentOK {
		m.logf("not recovering task %s of framework %s: its agent %s no longer exists", ck.Task.TaskID.Value, ck.FrameworkID, ck.AgentID)
		m.killUnrecovered(rec, ckPath, pr)
		markDone(dir)
		return false
	}
	if m.recoverTask(rec, ck, dir, pr) {
		return true
	}
	markDone(dir)
	return false
}

// killUnrecovered kills the process group of a task that is not recovered:
// the one of its checkpoint's pid line, or, without one, the task process
// found by its sandbox (see recoverTask).
func (m *Master) killUnrecovered(rec *recovery, ckPath string, pr *pidRecord) {
	if pr == nil {
		if rec.leaders == nil {
			rec.leaders = taskLeaders()
		}
		p, ok := rec.leaders[filepath.Dir(ckPath)]
		if !ok {
			return
		}
		pr = &pidRecord{pid: p.pid, pgid: p.pid, start: p.start, boot: bootID()}
	}
	killRecorded(ckPath, *pr, m.cfg.Logf)
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// agentOfSandbox returns the agent id in a sandbox's path.
func agentOfSandbox(dir string) string {
	// <work>/agents/<agent>/frameworks/<framework>/tasks/<task>
	return filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(dir)))))
}

// recoverTask recovers the task of a current checkpoint: adopted if its
// process still runs, otherwise reported ended. It reports whether the task
// was adopted.
func (m *Master) recoverTask(rec *recovery, ck *taskCheckpoint, dir string, pr *pidRecord) bool {
	id := ck.Task.TaskID.Value
	var (
		status    procStatus
		statusErr error
		ran       = pr != nil
	)
	if pr != nil {
		status, statusErr = pr.status()
	} else {
		// The Master stopped between the checkpoint and its pid line: the
		// process, if it started, is the group leader with the sandbox in
		// its environment.
		if rec.leaders == nil {
			rec.leaders = taskLeaders()
		}
		status = procGone
		if p, ok := rec.leaders[dir]; ok {
			status, pr = procRuns, &pidRecord{pid: p.pid, pgid: p.pid, start: p.start, boot: bootID()}
			if err := rewritePidLine(filepath.Join(dir, checkpointName), *pr); err != nil {
				m.logf("task %s: %v", id, err)
			}
		}
	}
	switch status {
	case procRuns:
		err := m.adopt(ck, dir, *pr)
		if err == nil {
			return true
		}
		m.logf("not recovering task %s of framework %s: %v; killing its process group %d", id, ck.FrameworkID, err, pr.pgid)
		_ = syscall.Kill(-pr.pgid, syscall.SIGKILL)
	case procUnknown:
		m.logf("not recovering task %s of framework %s: cannot tell whether its process %d still runs: %v", id, ck.FrameworkID, pr.pid, statusErr)
	case procGone:
		if ran {
			m.recoverEnded(ck, dir, true, msgRecoveredExited)
		} else {
			m.recoverEnded(ck, dir, false, msgRecoveredLaunch)
		}
	case procRebooted:
		m.recoverEnded(ck, dir, false, msgRecoveredRebooted)
	}
	return false
}

// markDone renames a sandbox's checkpoint to its "done" name: its task no
// longer runs.
func markDone(dir string) {
	_ = os.Rename(filepath.Join(dir, checkpointName), filepath.Join(dir, checkpointDoneName))
}

// recoveredFramework returns the framework of a checkpoint, creating it as a
// recovered (disconnected) framework with the FrameworkInfo recorded next to
// the sandbox (or in the checkpoint).
func (m *Master) recoveredFramework(ck *taskCheckpoint, dir string) *framework {
	if fw := m.frameworks[ck.FrameworkID]; fw != nil {
		// Its file on this agent may be older: rewritten on the next change.
		if _, ok := fw.infoWritten[ck.AgentIndex]; !ok {
			fw.infoWritten[ck.AgentIndex] = 0
		}
		return fw
	}
	info := ck.Framework
	fwFile := filepath.Join(filepath.Dir(filepath.Dir(dir)), frameworkFileName)
	if b, err := os.ReadFile(fwFile); err == nil {
		var fi mesos.FrameworkInfo
		if err := json.Unmarshal(b, &fi); err == nil {
			info = fi
		} else {
			m.logf("%s: %v", fwFile, err)
		}
	}
	info.ID = &mesos.FrameworkID{Value: ck.FrameworkID}
	fw := &framework{
		id:          ck.FrameworkID,
		tasks:       map[string]*task{},
		unreachable: map[string]*task{},
		offers:      map[string]*offer{},
		infoWritten: map[int]int{},
		registered:  time.Now(),
		recovered:   true,
	}
	fw.applyInfo(info, nil)
	// The file on disk is the one just read.
	fw.infoWritten[ck.AgentIndex] = fw.infoGen
	m.frameworks[fw.id] = fw
	m.recoveredFrameworks = append(m.recoveredFrameworks, fw)
	m.logf("framework %s (%s) recovered; it has %v to re-subscribe", fw.id, info.Name, seconds(info.GetFailoverTimeout()))
	return fw
}

// adopt makes a task of an earlier run, whose process still runs, a task of
// this Master: RUNNING on its agent with its resources held, its exit watched.
func (m *Master) adopt(ck *taskCheckpoint, dir string, pr pidRecord) error {
	a := m.agents[ck.AgentIndex]
	res, err := parseResources(ck.Task.Resources)
	if err != nil {
		return fmt.Errorf("its resources: %w", err)
	}
	if !a.free.contains(res) {
		return fmt.Errorf("its resources %s are not free on agent %s (%s)", res, a.id, a.free)
	}
	fw := m.recoveredFramework(ck, dir)
	id := ck.Task.TaskID.Value
	if fw.tasks[id] != nil {
		return fmt.Errorf("the framework has another task %s", id)
	}
	ctx, cancel := context.WithCancel(m.ctx)
	t := &task{
		fw:          fw,
		agent:       a,
		info:        ck.Task,
		res:         res,
		sandbox:     dir,
		ctx:         ctx,
		cancel:      cancel,
		pid:         pr.pid,
		containerID: ck.ContainerID,
		adopted:     true,
	}
	if t.containerID == "" {
		t.containerID = newMasterID()
	}
	st := t.executorStatus(mesos.TASK_RUNNING, mesos.SOURCE_EXECUTOR, nil, "")
	st.UUID = nil // not an update the framework is sent: what reconciliation answers
	t.record(st)
	fw.tasks[id] = t
	a.tasks[t] = struct{}{}
	a.free.sub(res)
	a.used.add(res)
	m.live[t] = struct{}{}
	m.active[dir] = t
	m.adopted = append(m.adopted, t)
	m.procs.Add(1)
	go m.watchAdopted(t, pr.start)
	m.logf("framework %s: recovered task %s on agent %s: process group %d still runs", fw.id, id, a.id, pr.pid)
	return nil
}

// recoverEnded records a task of an earlier run whose process no longer runs:
// the framework gets a terminal update for it (TASK_FAILED if it ran,
// TASK_LOST or TASK_GONE otherwise), reliably, once it re-subscribes.
func (m *Master) recoverEnded(ck *taskCheckpoint, dir string, ran bool, msg string) {
	fw := m.recoveredFramework(ck, dir)
	id := ck.Task.TaskID.Value
	if fw.tasks[id] != nil {
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	cancel()
	t := &task{
		fw: fw, agent: m.agents[ck.AgentIndex], info: ck.Task, sandbox: dir, ctx: ctx, cancel: cancel,
		containerID: ck.ContainerID, released: true, exited: true, adopted: true, sandboxDone: true,
	}
	state, reason := mesos.TASK_FAILED, mesos.REASON_EXECUTOR_TERMINATED
	if !ran {
		state, reason = mesos.TASK_LOST, mesos.REASON_AGENT_RESTARTED
		if fw.partitionAware() {
			state = mesos.TASK_GONE
		}
	}
	fw.tasks[id] = t
	m.emit(t, t.executorStatus(state, mesos.SOURCE_AGENT, reason.Enum(), msg))
}

// watchAdopted waits for the exit of an adopted process (not our child: its
// exit status is unknowable), kills what is left of its process group and
// reports the exit: TASK_KILLED after a kill, TASK_FAILED otherwise.
func (m *Master) watchAdopted(t *task, start uint64) {
	defer m.procs.Done()
	waitExit(t.pid, start)
	m.reaped(t, func() (mesos.TaskState, *mesos.TaskStatus_Reason, string) {
		if t.killRequested {
			return mesos.TASK_KILLED, nil, msgAdoptedKilled
		}
		return mesos.TASK_FAILED, mesos.REASON_EXECUTOR_TERMINATED.Enum(), msgAdoptedExited
	})
}

// startRecovered starts what recovered tasks and frameworks need once the
// Master serves: the health checks of adopted tasks, and the failover timeout
// of every recovered framework (counted from now, as Mesos counts it from the
// master's failover). Called with m.mu held.
func (m *Master) startRecovered() {
	for _, t := range m.adopted {
		if !t.terminal && !t.killRequested && !t.gone && t.info.HealthCheck != nil {
			m.startHealthCheck(t)
		}
	}
	m.adopted = nil
	for _, fw := range m.recoveredFrameworks {
		if m.frameworks[fw.id] == fw && fw.stream == nil && fw.recovered {
			m.startFailover(fw)
		}
	}
	m.recoveredFrameworks = nil
}
