package localmesos

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// defaultPath is the PATH of a task when the master's own environment has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Messages of the status updates the agent and executor generate.
const (
	msgDockerNoEngine   = "docker containers need a Docker engine, and the stand-in found none"
	msgDockerNotRun     = "docker containers are not run by the stand-in, although a Docker engine answers on /var/run/docker.sock; use a command task, or a real Mesos cluster"
	msgImageUnsupported = "container images need the Mesos containerizer's provisioner, which the stand-in does not have; use a command task"
	msgKilledLaunching  = "Killed before delivery to the executor"
)

// runTask brings a task from STAGING to RUNNING: sandbox, URIs, checkpoint,
// process. It runs on its own goroutine; every state change happens under
// m.mu.
func (m *Master) runTask(t *task) {
	// ended finishes a launch that started no process: the sandbox is done
	// with; then, under m.mu, report does what is left.
	ended := func(report func()) {
		finishSandboxFiles(t)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.sandboxFinished(t)
		report()
	}
	fail := func(reason mesos.TaskStatus_Reason, format string, args ...any) {
		ended(func() {
			switch {
			case t.gone || m.closed:
				m.releaseResources(t)
			case t.killRequested:
				m.emit(t, t.executorStatus(mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), msgKilledLaunching))
			default:
				m.emit(t, t.executorStatus(mesos.TASK_FAILED, mesos.SOURCE_AGENT, reason.Enum(), fmt.Sprintf(format, args...)))
			}
		})
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
			// As the Mesos fetcher: the details go to the sandbox's stderr,
			// the update says which container failed.
			appendSandboxFile(t.sandbox, "stderr", fmt.Sprintf("Failed to fetch '%s': %v\n", uri.Value, err))
			fail(mesos.REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch container: Failed to fetch all URIs for container '%s': exited with status 1", t.containerID)
			return
		}
	}
	env := m.taskEnv(t)
	cmd, cmdErr := buildCommand(t.info.Command, t.sandbox, env)
	if cmdErr != nil {
		// The Mesos command executor forks, and the child's exec fails: the
		// task runs, says why on stderr, and exits with status 1.
		cmd = failingCommand(fmt.Sprintf("Failed to execute '%s': %v", t.info.Command.GetValue(), cmdErr), t.sandbox, env)
	}

	m.mu.Lock()
	var report func()
	switch {
	case t.gone || m.closed:
		report = func() { m.releaseResources(t) }
	case t.killRequested:
		report = func() {
			m.emit(t, t.executorStatus(mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), msgKilledLaunching))
		}
	}
	if report != nil {
		m.mu.Unlock()
		ended(report)
		return
	}
	m.procs.Add(1)
	m.checkpointFramework(t.fw, t.agent)
	fwInfo := t.fw.info // replaced, never changed in place
	m.mu.Unlock()

	// The checkpoint is written before the process starts, and the pid added
	// once it runs, so that a Master started after a crash can recover the
	// task (recover.go).
	ck, err := writeCheckpoint(t, fwInfo)
	var pidErr error
	if err == nil {
		err = startProcess(cmd, t.sandbox)
		if err == nil {
			pidErr = recordPid(ck, cmd.Process.Pid)
		}
		if cerr := ck.Close(); pidErr == nil && cerr != nil {
			pidErr = fmt.Errorf("record pid: %w", cerr)
		}
	}
	if err != nil {
		m.procs.Done()
		ended(func() {
			m.emit(t, t.executorStatus(mesos.TASK_FAILED, mesos.SOURCE_EXECUTOR, mesos.REASON_COMMAND_EXECUTOR_FAILED.Enum(), "Failed to launch task subprocess: "+err.Error()))
			m.releaseResources(t)
		})
		return
	}

	m.mu.Lock()
	defer m.mu.Unlock()
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
	// STARTING once the executor is up, after the fetch (the task stays
	// STAGING meanwhile), then RUNNING once the command is forked.
	m.emit(t, t.executorStatus(mesos.TASK_STARTING, mesos.SOURCE_EXECUTOR, nil, ""))
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
// sandbox's files of those names (0600).
func startProcess(cmd *exec.Cmd, sandbox string) error {
	open := func(name string) (*os.File, error) {
		return os.OpenFile(filepath.Join(sandbox, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
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
	m.reaped(t, func() (mesos.TaskState, *mesos.TaskStatus_Reason, string) {
		state, message := exitState(cmd.ProcessState, t.killRequested)
		return state, nil, message
	})
}

// reaped finishes a task whose process has exited (an own child or an adopted
// process): what is left of its process group is killed, its sandbox files are
// closed off, and unless the task is gone or the master closed, the exit is
// reported as exit says (called with m.mu held) — with healthy=false after a
// kill caused by a failing health check, as the command executor does. It takes
// m.mu.
func (m *Master) reaped(t *task, exit func() (mesos.TaskState, *mesos.TaskStatus_Reason, string)) {
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	finishSandboxFiles(t)

	m.mu.Lock()
	defer m.mu.Unlock()
	t.exited = true
	delete(m.live, t)
	if t.killTimer != nil {
		t.killTimer.Stop()
	}
	t.cancel()
	m.sandboxFinished(t)
	if t.gone || m.closed {
		m.releaseResources(t)
		return
	}
	state, reason, message := exit()
	st := t.executorStatus(state, mesos.SOURCE_EXECUTOR, reason, message)
	if t.killedByCheck {
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
// variables a Mesos 1.11 agent gives a command task (and no others: HOST, the
// ports and MESOS_TASK_ID are the framework's to set, as Marathon and Stride
// do), then the task's own command.environment (which wins).
func (m *Master) taskEnv(t *task) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	home := os.Getenv("HOME")
	if home == "" {
		home = t.sandbox
	}
	checkpoint := "0"
	if t.fw.info.GetCheckpoint() {
		checkpoint = "1"
	}
	role := "*"
	for _, r := range t.info.Resources {
		if r.AllocationInfo != nil && r.AllocationInfo.GetRole() != "" {
			role = r.AllocationInfo.GetRole()
			break
		}
	}
	if len(t.fw.roles) == 1 {
		role = t.fw.roles[0]
	}
	endpoint := net.JoinHostPort(t.agent.hostname, strconv.Itoa(m.port))
	env := []string{
		"PATH=" + path,
		"HOME=" + home,
		"LIBPROCESS_IP=" + t.agent.hostname,
		"LIBPROCESS_PORT=0",
		"MESOS_AGENT_ENDPOINT=" + endpoint,
		"MESOS_ALLOCATION_ROLE=" + role,
		"MESOS_CHECKPOINT=" + checkpoint,
		"MESOS_DIRECTORY=" + t.sandbox,
		"MESOS_EXECUTOR_ID=" + t.id(),
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=5secs",
		"MESOS_FRAMEWORK_ID=" + t.fw.id,
		"MESOS_HTTP_COMMAND_EXECUTOR=0",
		"MESOS_RECOVERY_TIMEOUT=15mins",
		"MESOS_SANDBOX=" + t.sandbox,
		"MESOS_SLAVE_ID=" + t.agent.id,
		"MESOS_SLAVE_PID=slave(1)@" + endpoint,
		"MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs",
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

// failingCommand is a process that writes msg to its stderr and exits with
// status 1: what runs of a task whose command cannot be executed.
func failingCommand(msg, sandbox string, env []string) *exec.Cmd {
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", `printf '%s\n' "$1" >&2; exit 1`, "sh", msg}}
	cmd.Dir = sandbox
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// appendSandboxFile appends text to a file of the sandbox (0600), as the
// agent's own messages to a task's stderr.
func appendSandboxFile(sandbox, name, text string) {
	f, err := os.OpenFile(filepath.Join(sandbox, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, fileMode)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(text)
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
