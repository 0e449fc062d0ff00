package localmesos

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// pidFileName is the file in a sandbox that records the task's process group
// while it runs, so that a later Master can kill what a killed one left.
const pidFileName = ".localmesos.pid"

// defaultPath is the PATH of a task when the master's own environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Messages of the status updates the agent and executor generate.
const (
	msgDockerNoEngine   = "docker containers need a Docker engine, and the stand-in found none"
	msgDockerNotRun     = "docker containers are not run by the stand-in, although a Docker engine answers on /var/run/docker.sock; use a command task, or a real Mesos cluster"
	msgImageUnsupported = "container images need the Mesos containerizer's provisioner, which the stand-in does not have; use a command task"
	msgKilledLaunching  = "Task was killed before it was launched"
)

// runTask brings a task from STAGING to RUNNING: sandbox, URIs, process. It
// runs on its own goroutine; every state change happens under m.mu.
func (m *Master) runTask(t *task) {
	fail := func(reason mesos.TaskStatus_Reason, format string, args ...any) {
		m.mu.Lock()
		defer m.mu.Unlock()
		switch {
		case t.gone || m.closed:
			m.releaseResources(t)
		case t.killRequested:
			m.emit(t, t.executorStatus(mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), msgKilledLaunching))
		default:
			m.emit(t, t.executorStatus(mesos.TASK_FAILED, mesos.SOURCE_AGENT, reason.Enum(), fmt.Sprintf(format, args...)))
		}
	}
	if err := ensureSandbox(t.sandbox); err != nil {
		fail(mesos.REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch container: %v", err)
		return
	}
	if c := t.info.Container; c != nil {
		switch {
		case c.GetType() == mesos.ContainerInfo_DOCKER:
			m.mu.Lock()
			ping := m.docker
			m.mu.Unlock()
			msg := msgDockerNotRun
			if err := ping(t.ctx); err != nil {
				msg = msgDockerNoEngine
			}
			fail(mesos.REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch container: %s", msg)
			return
		case c.GetMesos().GetImage() != nil:
			fail(mesos.REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch container: %s", msgImageUnsupported)
			return
		}
	}
	for _, uri := range t.info.Command.URIs {
		if err := fetchURI(t.ctx, uri, t.sandbox); err != nil {
			fail(mesos.REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch container: Failed to fetch '%s': %v", uri.Value, err)
			return
		}
	}
	env := m.taskEnv(t)
	cmd, cmdErr := buildCommand(t.info.Command, t.sandbox, env)

	m.mu.Lock()
	switch {
	case t.gone || m.closed:
		m.releaseResources(t)
		m.mu.Unlock()
		return
	case t.killRequested:
		m.emit(t, t.executorStatus(mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), msgKilledLaunching))
		m.mu.Unlock()
		return
	case cmdErr != nil:
		m.emit(t, t.executorStatus(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, mesos.REASON_COMMAND_EXECUTOR_FAILED.Enum(), "Failed to launch task subprocess: "+cmdErr.Error()))
		m.mu.Unlock()
		return
	}
	m.emit(t, t.executorStatus(mesos.TASK_STARTING, mesos.SOURCE_EXECUTOR, nil, ""))
	m.procs.Add(1)
	m.mu.Unlock()

	err := startProcess(cmd, t.sandbox)
	var pidErr error
	if err == nil {
		pidErr = writePidFile(t.sandbox, cmd.Process.Pid)
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.procs.Done()
		m.emit(t, t.executorStatus(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, mesos.REASON_COMMAND_EXECUTOR_FAILED.Enum(), "Failed to launch task subprocess: "+err.Error()))
		m.releaseResources(t)
		return
	}
	t.pid = cmd.Process.Pid
	m.live[t] = struct{}{}
	if pidErr != nil {
		m.logf("task %s: %v", t.id(), pidErr)
	}
	go m.waitTask(t, cmd)
	if t.gone || m.closed {
		t.signal(syscall.SIGKILL)
		return
	}
	m.emit(t, t.executorStatus(mesos.TASK_RUNNING, mesos.SOURCE_EXECUTOR, nil, ""))
	if t.killRequested {
		// A KILL arrived while the process was starting.
		if t.fw.killingState() {
			m.emit(t, t.executorStatus(mesos.TASK_KILLING, mesos.SOURCE_EXECUTOR, nil, ""))
		}
		m.signalKill(t, t.killGrace(nil))
		return
	}
	if t.info.HealthCheck != nil {
		m.startHealthCheck(t)
	}
}

// startProcess starts cmd with its stdout and stderr appended to the
// sandbox's files of those names.
func startProcess(cmd *exec.Cmd, sandbox string) error {
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(sandbox, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	}
	stdout, err := open("stdout")
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := open("stderr")
	if err != nil {
		return err
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Start()
}

// waitTask reaps the task's process, kills what is left of its process group
// (as an agent destroys a container whose executor exited) and reports the
// exit: TASK_FINISHED for status 0, TASK_KILLED after a kill, TASK_FAILED
// otherwise, with the command executor's messages.
func (m *Master) waitTask(t *task, cmd *exec.Cmd) {
	defer m.procs.Done()
	_ = cmd.Wait() // the exit status is in ProcessState
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = os.Remove(filepath.Join(t.sandbox, pidFileName))

	m.mu.Lock()
	defer m.mu.Unlock()
	t.exited = true
	delete(m.live, t)
	if t.killTimer != nil {
		t.killTimer.Stop()
	}
	t.cancel()
	if t.gone || m.closed {
		m.releaseResources(t)
		return
	}
	state, message := exitState(cmd.ProcessState, t.killRequested)
	st := t.executorStatus(state, mesos.SOURCE_EXECUTOR, nil, message)
	if t.killedByCheck {
		// As the command executor: a kill caused by a failing health check
		// is marked with healthy=false.
		st.Healthy = proto(false)
	}
	m.emit(t, st)
}

// exitState maps a process's exit to the terminal state and message the Mesos
// command executor reports.
func exitState(ps *os.ProcessState, killed bool) (mesos.TaskState, string) {
	msg := "Command " + exitMessage(ps)
	switch {
	case killed:
		return mesos.TASK_KILLED, msg
	case ps.Success():
		return mesos.TASK_FINISHED, msg
	default:
		return mesos.TASK_FAILED, msg
	}
}

// signalName renders a signal as strsignal(3) does: "Terminated", "Killed".
func signalName(sig syscall.Signal) string {
	s := sig.String()
	if s == "" {
		return strconv.Itoa(int(sig))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// taskEnv is the environment of a task's process: a minimal PATH and HOME, the
// variables a Mesos agent gives a command task, HOST (the agent's address),
// then the task's own command.environment (which wins).
func (m *Master) taskEnv(t *task) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = t.sandbox
	}
	env := []string{
		"PATH=" + path,
		"HOME=" + home,
		"HOST=" + t.agent.hostname,
		"LIBPROCESS_IP=" + t.agent.hostname,
		"MESOS_SANDBOX=" + t.sandbox,
		"MESOS_DIRECTORY=" + t.sandbox,
		"MESOS_TASK_ID=" + t.id(),
		"MESOS_EXECUTOR_ID=" + t.id(),
		"MESOS_FRAMEWORK_ID=" + t.fw.id,
		"MESOS_AGENT_ID=" + t.agent.id,
		"MESOS_SLAVE_ID=" + t.agent.id,
		"MESOS_CONTAINER_IP=" + t.agent.hostname,
		"MESOS_MASTER=" + m.url,
	}
	for _, k := range []string{"USER", "LOGNAME", "LANG", "TZ", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	for _, v := range t.info.Command.GetEnvironment().GetVariables() {
		env = append(env, v.Name+"="+v.GetValue())
	}
	return env
}

// buildCommand turns a CommandInfo into a process in its own process group,
// working in the sandbox: shell commands run as `sh -c value`; others exec
// value (found on the task's PATH, or relative to the sandbox) with arguments
// as the whole argv, as Mesos does.
func buildCommand(c *mesos.CommandInfo, sandbox string, env []string) (*exec.Cmd, error) {
	var cmd *exec.Cmd
	if c.GetShell() {
		cmd = &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", c.GetValue()}}
	} else {
		path, err := lookPath(c.GetValue(), sandbox, env)
		if err != nil {
			return nil, err
		}
		args := c.Arguments
		if len(args) == 0 {
			args = []string{c.GetValue()}
		}
		cmd = &exec.Cmd{Path: path, Args: append([]string(nil), args...)}
	}
	cmd.Dir = sandbox
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}

// lookPath finds an executable: a name with a slash relative to the sandbox,
// a bare name on the PATH of env.
func lookPath(name, sandbox string, env []string) (string, error) {
	isExec := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(sandbox, p)
		}
		if isExec(p) {
			return p, nil
		}
		return "", fmt.Errorf("'%s' is not an executable file", name)
	}
	path := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(sandbox, dir)
		}
		if p := filepath.Join(dir, name); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("'%s' was not found on PATH", name)
}

// writePidFile records a task's process group in its sandbox: pid (= pgid) and
// the process's start time, which tells it apart from a later process that
// reuses the pid.
func writePidFile(sandbox string, pid int) error {
	start, err := processStartTime(pid)
	if err != nil {
		start = 0
	}
	content := fmt.Sprintf("%d %d %d\n", pid, pid, start)
	if err := os.WriteFile(filepath.Join(sandbox, pidFileName), []byte(content), 0o644); err != nil {
		return fmt.Errorf("record pid: %w", err)
	}
	return nil
}

// killStaleProcesses kills the process groups recorded in pid files under
// workDir by an earlier master that did not get to clean up (it was killed),
// if they still run, and removes the pid files.
func killStaleProcesses(workDir string, logf func(string, ...any)) {
	files, _ := filepath.Glob(filepath.Join(workDir, "agents", "*", "frameworks", "*", "tasks", "*", pidFileName))
	for _, f := range files {
		pid, pgid, start, err := readPidFile(f)
		// Process groups 0 and 1 and our own are never killed: kill(-1) would
		// reach every process we may signal.
		if err == nil && pid > 1 && pgid > 1 && pgid != syscall.Getpgrp() {
			current, err := processStartTime(pid)
			switch {
			case errors.Is(err, errNoProcess):
				// Gone already.
			case err != nil:
				logf("localmesos: not killing process group %d recorded in %s: %v", pgid, f, err)
			case start != 0 && current != start:
				// The pid now belongs to another process.
			default:
				if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
					logf("localmesos: killed process group %d of task %s, left running by an earlier run", pgid, filepath.Base(filepath.Dir(f)))
				}
			}
		}
		_ = os.Remove(f)
	}
}

// readPidFile parses a pid file.
func readPidFile(path string) (pid, pgid int, start uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	_, err = fmt.Sscanf(string(b), "%d %d %d", &pid, &pgid, &start)
	return pid, pgid, start, err
}

// errNoProcess reports that a pid names no process (or only a zombie).
var errNoProcess = errors.New("no such process")

// sleepCtx is time.Sleep that returns early (false) when done is closed.
func sleepCtx(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}
