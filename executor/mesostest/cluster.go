// Package mesostest starts a real Apache Mesos cluster — one mesos-master and N
// mesos-agents on loopback — for tests, from the Mesos install named by the
// environment variable STRIDE_TEST_MESOS (the unpacked mesos-dist directory; `make
// mesos` prints it). Without the variable, Start skips the test.
//
//	c := mesostest.Start(t, mesostest.Options{Agents: 3})
//	srv, _ := server.Start(ctx, server.Config{MesosURL: c.MasterURL(), ...})
//
// The master listens on 127.0.0.1 and agent i on 127.0.0.(2+i), each on a port
// found free; agent i offers a range of ports of its own, [FirstPort+i*PortsPerAgent,
// FirstPort+(i+1)*PortsPerAgent), from a block that internal/freeports hands
// out (or the fixed FirstPort given), and carries the attribute rack_id:rack-(i%Racks+1).
// Everything lives in a directory of t.TempDir(): work dirs, sandboxes, and one
// log file per process, whose tails are printed when the test failed. On cleanup
// every process of the cluster is stopped, including the executors and tasks
// that the posix launcher leaves running when an agent goes away.
//
// It is a helper for tests only: functions call t.Fatal on failure.
package mesostest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/internal/freeports"
)

// EnvVar names the Mesos install the tests use.
const EnvVar = "STRIDE_TEST_MESOS"

// Options shape a cluster; zero fields take the defaults noted.
type Options struct {
	// Agents is the number of agents (default 3, at most 200).
	Agents int
	// FirstPort and PortsPerAgent (default 200) set the agents' port
	// resources. Without FirstPort the agents' ports are a block of
	// internal/freeports (outside Linux's ephemeral ports, which the
	// executors' libprocess and every connection take their local ports from,
	// and a stride dev's), held for the test's life so that clusters and
	// stand-ins of concurrent tests never offer the same ports. A fixed
	// FirstPort (a test whose golden files quote ports) must lie within
	// freeports.FixedFirst-FixedLast, and is claimed too (waiting for another
	// test to free it).
	FirstPort, PortsPerAgent int
	// Cpus, Mem and Disk (MB) are each agent's resources (defaults 1, 1024, 1024).
	// Mesos checks mem and disk against the machine: keep them small.
	Cpus      float64
	Mem, Disk int
	// Racks is how many distinct rack_id attributes the agents get (default 2).
	Racks int
	// AgentPingTimeout and MaxAgentPingTimeouts are the master's
	// --agent_ping_timeout and --max_agent_ping_timeouts (0: Mesos' defaults, 15 s
	// and 5). Their product is how long a silent agent stays reachable, and also
	// how long an agent waits, after its master went away, before it looks for it
	// again and re-registers: with the defaults, agents come back to a restarted
	// master only after 75 s.
	AgentPingTimeout     time.Duration
	MaxAgentPingTimeouts int
	// FastAgentLoss is AgentPingTimeout 1 s and MaxAgentPingTimeouts 3: a silent
	// agent is unreachable after about 3 s, for agent-loss scenarios.
	FastAgentLoss bool
	// AllocationInterval is the master's --allocation_interval (0: Mesos'
	// default, 1 s).
	AllocationInterval time.Duration
	// MasterFlags and AgentFlags are appended to every master's and agent's
	// command line ("--name=value").
	MasterFlags, AgentFlags []string
	// Timeout bounds the start of the cluster and of every restart (default 60 s).
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Agents <= 0 {
		o.Agents = 3
	}
	if o.PortsPerAgent <= 0 {
		o.PortsPerAgent = 200
	}
	if o.Cpus <= 0 {
		o.Cpus = 1
	}
	if o.Mem <= 0 {
		o.Mem = 1024
	}
	if o.Disk <= 0 {
		o.Disk = 1024
	}
	if o.Racks <= 0 {
		o.Racks = 2
	}
	if o.FastAgentLoss {
		o.AgentPingTimeout, o.MaxAgentPingTimeouts = time.Second, 3
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	return o
}

// Cluster is a running master and its agents.
type Cluster struct {
	t      testing.TB
	opts   Options
	Dist   string // the Mesos install (STRIDE_TEST_MESOS)
	Dir    string // everything of the cluster lives below it
	Master *Master
	Agents []*Agent
	procs  []*proc // every process started, for the cleanup and the logs
}

// Master is the cluster's mesos-master.
type Master struct {
	Port    int
	WorkDir string
	proc    *proc
}

// Agent is one mesos-agent.
type Agent struct {
	Index    int
	IP       string // 127.0.0.(2+Index), also its hostname
	Port     int
	WorkDir  string
	Ports    [2]int // the first and last port it offers
	Rack     string // rack_id attribute
	Resource string // the --resources flag
	proc     *proc
	restarts int
}

// Hostname is the agent's hostname as Mesos reports it (its IP).
func (a *Agent) Hostname() string { return a.IP }

// URL is the agent's HTTP endpoint.
func (a *Agent) URL() string { return "http://" + net.JoinHostPort(a.IP, strconv.Itoa(a.Port)) }

// PID is the agent process's pid (0 when it is not running).
func (a *Agent) PID() int {
	if a.proc == nil || a.proc.exited() {
		return 0
	}
	return a.proc.cmd.Process.Pid
}

// Dist returns the Mesos install of STRIDE_TEST_MESOS, skipping the test when the
// variable is unset.
func Dist(t testing.TB) string {
	t.Helper()
	dist := os.Getenv(EnvVar)
	if dist == "" {
		t.Skipf("real Mesos tests need %s=<mesos-dist dir>: run `make mesos` and export what it prints (or `make test-mesos`)", EnvVar)
	}
	for _, f := range []string{"bin/mesos-master.sh", "bin/mesos-agent.sh"} {
		if _, err := os.Stat(filepath.Join(dist, f)); err != nil {
			t.Fatalf("%s=%s is not a mesos-dist directory: %v", EnvVar, dist, err)
		}
	}
	return dist
}

// Start starts a master and opts.Agents agents and returns once every agent is
// registered with the master. Everything is stopped on t's cleanup.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	dist := Dist(t)
	opts = opts.withDefaults()
	if opts.Agents > 200 {
		t.Fatalf("mesostest: %d agents: at most 200 (one loopback address each)", opts.Agents)
	}
	// TempDir first, then the ports: their cleanups run after the
	// cluster's, once the processes are gone.
	dir := t.TempDir()
	if n := opts.Agents * opts.PortsPerAgent; opts.FirstPort > 0 {
		freeports.Claim(t, opts.FirstPort, n, opts.Timeout)
	} else {
		opts.FirstPort = freeports.Range(t, n)
	}
	c := &Cluster{t: t, opts: opts, Dist: dist, Dir: dir}
	t.Cleanup(c.cleanup)
	firsts := make([]int, opts.Agents)
	for i := range firsts {
		firsts[i] = opts.FirstPort + i*opts.PortsPerAgent
	}
	c.Master = &Master{WorkDir: filepath.Join(c.Dir, "master")}
	c.startMaster()
	for i := 0; i < opts.Agents; i++ {
		lo := firsts[i]
		a := &Agent{
			Index: i, IP: fmt.Sprintf("127.0.0.%d", 2+i),
			WorkDir: filepath.Join(c.Dir, fmt.Sprintf("agent%d", i)),
			Ports:   [2]int{lo, lo + opts.PortsPerAgent - 1},
			Rack:    fmt.Sprintf("rack-%d", i%opts.Racks+1),
		}
		a.Resource = fmt.Sprintf("cpus:%g;mem:%d;disk:%d;ports:[%d-%d]", opts.Cpus, opts.Mem, opts.Disk, a.Ports[0], a.Ports[1])
		c.Agents = append(c.Agents, a)
		c.startAgent(a, 0)
	}
	c.WaitAgents()
	return c
}

// MasterURL is the master's HTTP endpoint, as server.Config.MesosURL takes it.
func (c *Cluster) MasterURL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Master.Port))
}

// masterArgs is the master's command line at port.
func (c *Cluster) masterArgs(port int) []string {
	args := []string{
		"--ip=127.0.0.1", "--port=" + strconv.Itoa(port), "--hostname=127.0.0.1",
		"--work_dir=" + c.Master.WorkDir,
	}
	if c.opts.AgentPingTimeout > 0 {
		args = append(args, "--agent_ping_timeout="+mesosDuration(c.opts.AgentPingTimeout))
	}
	if c.opts.MaxAgentPingTimeouts > 0 {
		args = append(args, "--max_agent_ping_timeouts="+strconv.Itoa(c.opts.MaxAgentPingTimeouts))
	}
	if c.opts.AllocationInterval > 0 {
		args = append(args, "--allocation_interval="+mesosDuration(c.opts.AllocationInterval))
	}
	return append(args, c.opts.MasterFlags...)
}

// startMaster starts the master: on its port when it has one (a restart), else on
// a free one, trying another if the one picked was taken in between.
func (c *Cluster) startMaster() {
	c.t.Helper()
	m := c.Master
	fixed := m.Port != 0
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := m.Port
		if !fixed {
			port = freePort(c.t, "127.0.0.1")
		}
		p := c.spawn("master", filepath.Join(c.Dist, "bin", "mesos-master.sh"), c.masterArgs(port))
		err := c.poll(c.opts.Timeout, func() (bool, error) {
			if p.exited() {
				return false, fmt.Errorf("mesos-master exited (%v)", p.exitErr())
			}
			var st struct {
				Flags struct {
					WorkDir string `json:"work_dir"`
				} `json:"flags"`
			}
			err := getJSON(fmt.Sprintf("http://127.0.0.1:%d/master/state", port), &st)
			// Another master on the port picked would answer too: ours names our work dir.
			return err == nil && st.Flags.WorkDir == m.WorkDir, nil
		})
		if err == nil {
			m.Port, m.proc = port, p
			return
		}
		lastErr = err
		p.stop(5 * time.Second)
		if !bindFailed(p) {
			break
		}
		if fixed {
			// A restart keeps its port (the agents know it): wait for it.
			waitPortFree(c.opts.Timeout, "127.0.0.1", port)
		}
	}
	c.t.Fatalf("mesostest: the master did not start: %v\n%s", lastErr, c.logTails())
}

// agentArgs is agent a's command line.
func (c *Cluster) agentArgs(a *Agent) []string {
	args := []string{
		"--master=" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Master.Port)),
		"--ip=" + a.IP, "--hostname=" + a.IP, "--port=" + strconv.Itoa(a.Port),
		"--work_dir=" + a.WorkDir,
		// Its own runtime directory (default /var/run/mesos, shared by every
		// agent on the machine): agents of concurrent tests otherwise take each
		// other's containers for orphans and destroy them, or abort recovering
		// a directory another agent is writing. Under the work dir, it survives
		// the agent's restarts, as /var/run/mesos survives an agent's.
		"--runtime_dir=" + filepath.Join(a.WorkDir, "run"),
		"--launcher=posix", "--isolation=posix/cpu,posix/mem",
		"--no-systemd_enable_support", "--containerizers=mesos",
		"--resources=" + a.Resource,
		"--attributes=rack_id:" + a.Rack,
	}
	if os.Geteuid() != 0 {
		// Only root can run tasks as their framework's user.
		args = append(args, "--no-switch_user")
	}
	return append(args, c.opts.AgentFlags...)
}

// startAgent starts agent a (a restart keeps its port: the agent's checkpointed
// info names it) and waits until its HTTP endpoint answers; registration is
// waited for by the caller.
func (c *Cluster) startAgent(a *Agent, restart int) {
	c.t.Helper()
	fixed := a.Port != 0
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if !fixed {
			a.Port = freePort(c.t, a.IP)
		}
		name := fmt.Sprintf("agent%d", a.Index)
		if restart > 0 {
			name = fmt.Sprintf("agent%d.restart%d", a.Index, restart)
		}
		p := c.spawn(name, filepath.Join(c.Dist, "bin", "mesos-agent.sh"), c.agentArgs(a))
		err := c.poll(c.opts.Timeout, func() (bool, error) {
			if p.exited() {
				return false, fmt.Errorf("mesos-agent %d exited (%v)", a.Index, p.exitErr())
			}
			var st struct {
				Flags struct {
					WorkDir string `json:"work_dir"`
				} `json:"flags"`
			}
			err := getJSON(a.URL()+"/state", &st)
			return err == nil && st.Flags.WorkDir == a.WorkDir, nil
		})
		if err == nil {
			a.proc = p
			return
		}
		lastErr = err
		p.stop(5 * time.Second)
		if !bindFailed(p) {
			break
		}
		if fixed {
			waitPortFree(c.opts.Timeout, a.IP, a.Port)
		}
	}
	c.t.Fatalf("mesostest: agent %d did not start: %v\n%s", a.Index, lastErr, c.logTails())
}

// MasterState is the part of GET /master/state the helpers use.
type MasterState struct {
	Version string `json:"version"`
	Slaves  []struct {
		ID         string            `json:"id"`
		Hostname   string            `json:"hostname"`
		Port       int               `json:"port"`
		Active     bool              `json:"active"`
		Attributes map[string]string `json:"attributes"`
	} `json:"slaves"`
	Frameworks []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Active bool   `json:"active"`
		Tasks  []Task `json:"tasks"`
		// CompletedTasks are the terminal ones (the master keeps the last 1,000).
		CompletedTasks []Task `json:"completed_tasks"`
	} `json:"frameworks"`
	CompletedFrameworks []struct {
		ID string `json:"id"`
	} `json:"completed_frameworks"`
}

// Task is a task of GET /master/state.
type Task struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	FrameworkID string `json:"framework_id"`
	AgentID     string `json:"slave_id"`
	State       string `json:"state"`
}

// State returns the master's /master/state.
func (c *Cluster) State() (*MasterState, error) {
	var st MasterState
	if err := getJSON(c.MasterURL()+"/master/state", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// Tasks returns the tasks the master knows of (of every framework), by id: the
// live ones and, with completed, the terminal ones too.
func (c *Cluster) Tasks(completed bool) (map[string]Task, error) {
	st, err := c.State()
	if err != nil {
		return nil, err
	}
	out := map[string]Task{}
	for _, f := range st.Frameworks {
		if completed {
			for _, tk := range f.CompletedTasks {
				out[tk.ID] = tk
			}
		}
		for _, tk := range f.Tasks {
			out[tk.ID] = tk
		}
	}
	return out, nil
}

// WaitAgents waits until the master lists every running agent as registered and
// active.
func (c *Cluster) WaitAgents() {
	c.t.Helper()
	var last string
	err := c.poll(c.opts.Timeout, func() (bool, error) {
		st, err := c.State()
		if err != nil {
			last = err.Error()
			return false, nil
		}
		active := map[string]bool{}
		for _, s := range st.Slaves {
			if s.Active {
				active[net.JoinHostPort(s.Hostname, strconv.Itoa(s.Port))] = true
			}
		}
		var missing []string
		for _, a := range c.Agents {
			if a.PID() == 0 {
				continue
			}
			// Registered means the master lists it active and the agent has
			// checkpointed the id it was given: killed before that, it would
			// come back as a new agent.
			if !active[net.JoinHostPort(a.IP, strconv.Itoa(a.Port))] || !a.checkpointed() {
				missing = append(missing, a.IP)
			}
		}
		last = fmt.Sprintf("%d agents listed, not (yet) active: %v", len(st.Slaves), missing)
		return len(missing) == 0, nil
	})
	if err != nil {
		c.t.Fatalf("mesostest: agents not registered: %v (%s)\n%s", err, last, c.logTails())
	}
}

// checkpointed reports whether the agent has checkpointed the agent info (its
// id) the master gave it: <work_dir>/meta/slaves/latest/slave.info, written
// (atomically, by rename) when the agent handles its registration, which is
// after the master lists it active.
func (a *Agent) checkpointed() bool {
	fi, err := os.Stat(filepath.Join(a.WorkDir, "meta", "slaves", "latest", "slave.info"))
	return err == nil && fi.Size() > 0
}

// KillAgent kills agent i with SIGKILL, as a crash: its executors and tasks keep
// running (posix launcher), as on a host whose agent died.
func (c *Cluster) KillAgent(i int) {
	c.t.Helper()
	a := c.Agents[i]
	if a.proc == nil || a.proc.exited() {
		c.t.Fatalf("mesostest: agent %d is not running", i)
	}
	a.proc.kill()
}

// StartAgent starts agent i again on its work dir and port (after KillAgent): it
// recovers its executors. It returns once the master lists it active again.
func (c *Cluster) StartAgent(i int) {
	c.t.Helper()
	a := c.Agents[i]
	if a.PID() != 0 {
		c.t.Fatalf("mesostest: agent %d is running", i)
	}
	a.restarts++
	c.startAgent(a, a.restarts)
	c.WaitAgents()
}

// RestartAgent is KillAgent then StartAgent.
func (c *Cluster) RestartAgent(i int) {
	c.t.Helper()
	c.KillAgent(i)
	c.StartAgent(i)
}

// RestartMaster kills the master with SIGKILL and starts it again on the same
// port and work dir (it recovers its registry of agents, the default
// --registry=replicated_log, from there); it returns once every running agent has
// re-registered, which takes the agents' total ping timeout (see
// Options.AgentPingTimeout: keep it short). Frameworks must re-subscribe by
// themselves.
func (c *Cluster) RestartMaster() {
	c.t.Helper()
	c.Master.proc.kill()
	c.startMaster()
	c.WaitAgents()
}

// AgentState is the part of an agent's GET /state the helpers use.
type AgentState struct {
	ID         string `json:"id"`
	Frameworks []struct {
		ID        string     `json:"id"`
		Executors []Executor `json:"executors"`
	} `json:"frameworks"`
}

// Executor is an executor of an agent's /state.
type Executor struct {
	ID        string `json:"id"`
	Directory string `json:"directory"`
	Container string `json:"container"`
	Tasks     []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"tasks"`
}

// AgentState returns agent i's /state.
func (c *Cluster) AgentState(i int) (*AgentState, error) {
	var st AgentState
	if err := getJSON(c.Agents[i].URL()+"/state", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// TaskProcess is where a task runs.
type TaskProcess struct {
	Agent   int    // index of the agent
	Sandbox string // the executor's directory
	// ExecutorPID is the container's pid as the agent reports it: with the posix
	// launcher, a "mesos-containerizer launch" whose child is the command executor
	// (mesos-executor), in a session of their own.
	ExecutorPID int
	// PID is the task's process (0 if none): the command executor's child, which
	// runs in a session of its own. Killing the executor leaves it running.
	PID int
}

// FindTask returns where task id runs, asking the agents (their /state for the
// sandbox, /containers for the executor's pid) and /proc for the task's process.
// ok is false when no agent runs it.
func (c *Cluster) FindTask(id string) (tp TaskProcess, ok bool) {
	for i, a := range c.Agents {
		if a.PID() == 0 {
			continue
		}
		st, err := c.AgentState(i)
		if err != nil {
			continue
		}
		for _, f := range st.Frameworks {
			for _, ex := range f.Executors {
				for _, tk := range ex.Tasks {
					if tk.ID != id {
						continue
					}
					tp = TaskProcess{Agent: i, Sandbox: ex.Directory}
					var cs []struct {
						ExecutorID string `json:"executor_id"`
						Status     struct {
							ExecutorPID int `json:"executor_pid"`
						} `json:"status"`
					}
					if err := getJSON(a.URL()+"/containers", &cs); err == nil {
						for _, ct := range cs {
							if ct.ExecutorID == ex.ID {
								tp.ExecutorPID = ct.Status.ExecutorPID
							}
						}
					}
					tp.PID = taskBelow(tp.ExecutorPID)
					return tp, true
				}
			}
		}
	}
	return TaskProcess{}, false
}

// cleanup stops the agents, then the master, then whatever still runs below the
// cluster's directory (executors and tasks), and prints the logs' tails when the
// test failed.
func (c *Cluster) cleanup() {
	for _, a := range c.Agents {
		if a.proc != nil {
			a.proc.stop(5 * time.Second)
		}
	}
	if c.Master != nil && c.Master.proc != nil {
		c.Master.proc.stop(5 * time.Second)
	}
	for _, p := range c.procs {
		p.stop(time.Second)
	}
	if left := killBelow(c.Dir, 10*time.Second); len(left) > 0 {
		c.t.Errorf("mesostest: processes below %s survive SIGKILL: %v", c.Dir, left)
	}
	if c.t.Failed() {
		c.t.Logf("mesostest: logs of the Mesos cluster in %s:\n%s", c.Dir, c.logTails())
	}
}

// Teardown removes a framework through the master's operator endpoint
// (POST /master/teardown): its tasks are killed. It returns once the master
// lists it among the completed frameworks.
func (c *Cluster) Teardown(frameworkID string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.MasterURL()+"/master/teardown", strings.NewReader("frameworkId="+frameworkID))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		c.t.Fatalf("mesostest: teardown of %s: %v", frameworkID, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("mesostest: teardown of %s: %s: %s", frameworkID, resp.Status, bytes.TrimSpace(body))
	}
	err = c.poll(c.opts.Timeout, func() (bool, error) {
		st, err := c.State()
		if err != nil {
			return false, nil
		}
		for _, f := range st.CompletedFrameworks {
			if f.ID == frameworkID {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		c.t.Fatalf("mesostest: framework %s not removed: %v", frameworkID, err)
	}
}

// TaskOutput returns the stdout and stderr of a task's latest run, from its
// agent's work dir (also after the task ended); empty when none is found.
func (c *Cluster) TaskOutput(taskID string) (stdout, stderr string) {
	for _, a := range c.Agents {
		pattern := filepath.Join(a.WorkDir, "slaves", "*", "frameworks", "*", "executors", taskID, "runs", "latest")
		dirs, _ := filepath.Glob(pattern)
		for _, d := range dirs {
			out, _ := os.ReadFile(filepath.Join(d, "stdout"))
			errOut, _ := os.ReadFile(filepath.Join(d, "stderr"))
			return string(out), string(errOut)
		}
	}
	return "", ""
}

// MasterLog returns the master's log so far (of every run of it).
func (c *Cluster) MasterLog() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range c.procs {
		if p.name == "master" && !seen[p.logPath] {
			seen[p.logPath] = true
			data, _ := os.ReadFile(p.logPath)
			b.Write(data)
		}
	}
	return b.String()
}

// LogTails returns the last lines of every process's log.
func (c *Cluster) LogTails() string { return c.logTails() }

func (c *Cluster) logTails() string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, p := range c.procs {
		if seen[p.logPath] {
			continue // a restart on the same log
		}
		seen[p.logPath] = true
		fmt.Fprintf(&b, "--- %s (%s), last lines:\n%s\n", p.name, p.logPath, tail(p.logPath, 25))
	}
	return b.String()
}

// poll calls cond every 50 ms until it holds, fails, or timeout passes.
func (c *Cluster) poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

// proc is a process of the cluster with its log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// spawn starts bin with args, stdout and stderr to <Dir>/<name>.log.
func (c *Cluster) spawn(name, bin string, args []string) *proc {
	c.t.Helper()
	logPath := filepath.Join(c.Dir, name+".log")
	// Several attempts of the same name append to one log.
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "+ %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = c.Dir
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("mesostest: start %s: %v", bin, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) exitErr() error {
	<-p.done
	return p.err
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM, then SIGKILL after grace, and waits.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.kill()
	}
}

// bindFailed tells whether the process's log says its port was taken.
func bindFailed(p *proc) bool {
	b, _ := os.ReadFile(p.logPath)
	s := string(b)
	return strings.Contains(s, "Address already in use") || strings.Contains(s, "Failed to bind")
}

// freePort returns a port free on ip just now.
func freePort(t testing.TB, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("mesostest: no free port on %s: %v", ip, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitPortFree waits until ip:port can be bound (a killed process's socket may
// linger for a moment).
func waitPortFree(timeout time.Duration, ip string, port int) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err == nil {
			ln.Close()
			return
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// getJSON GETs url and decodes the JSON answer into v.
func getJSON(url string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, v)
}

// mesosDuration writes d as Mesos flags take it ("250ms").
func mesosDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%dsecs", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines, fatal []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "] HTTP GET for ") {
			continue // the helpers' polling
		}
		// glog's fatal lines ("F1205 16:32:31.123 ...", "Check failed") say why a
		// process aborted, above the stack trace that fills the tail.
		if len(fatal) < 5 && (len(line) > 1 && line[0] == 'F' && line[1] >= '0' && line[1] <= '9' || strings.Contains(line, "Check failed")) {
			fatal = append(fatal, line)
		}
		lines = append(lines, line)
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(fatal) > 0 {
		lines = append(append(fatal, "..."), lines...)
	}
	return strings.Join(lines, "\n")
}
