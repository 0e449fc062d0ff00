// Package consultest runs real Consul agents for tests: a single server (the
// `-dev` agent, in memory, or a server with a data directory that survives a
// restart) or a cluster of three servers, all on loopback with ports found free,
// each stopped by pid when the test ends.
//
// The binary is the one `make consul` builds (scripts/consul.sh, from the wrapper
// module tools/consul): the environment variable STRIDE_TEST_CONSUL names it, and
// without it the default cache path is tried. When neither has a binary, the test
// is skipped with a message saying how to build it; `make test` always builds it
// first, so CI never skips.
//
//	a := consultest.Start(t, consultest.Options{})
//	client := a.Client(t)
//
// It is a helper for tests only: functions call t.Fatal on failure.
package consultest

import (
	"bytes"
	"context"
	"errors"
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

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/internal/freeports"
)

// EnvVar names the Consul binary the tests use.
const EnvVar = "STRIDE_TEST_CONSUL"

// Version is the Consul release tools/consul builds.
const Version = "1.22.0"

// Binary returns the Consul binary for tests, or skips t when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvVar); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("consultest: %s=%s: %v", EnvVar, p, err)
		}
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	p := filepath.Join(cache, "stride", "consul-"+Version, "consul")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	t.Skipf("no Consul binary: run `make consul` (or set %s), or use `make test`, which builds it", EnvVar)
	return ""
}

// Options shape an agent.
type Options struct {
	// Persistent runs a server with a data directory (bootstrap-expect 1) instead
	// of the in-memory -dev agent, so that its state survives Restart.
	Persistent bool
	// Args are appended to the agent's command line.
	Args []string
	// Timeout bounds a start and a restart (default 60 s).
	Timeout time.Duration
}

// Agent is one running Consul agent.
type Agent struct {
	t       testing.TB
	bin     string
	name    string
	dir     string
	ports   ports
	args    []string
	timeout time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
}

type ports struct{ http, dns, server, serfLAN, serfWAN int }

// HTTPAddr is the agent's HTTP API address (127.0.0.1:port).
func (a *Agent) HTTPAddr() string { return "127.0.0.1:" + strconv.Itoa(a.ports.http) }

// DNSAddr is the agent's DNS address (UDP and TCP).
func (a *Agent) DNSAddr() string { return "127.0.0.1:" + strconv.Itoa(a.ports.dns) }

// Dir is the agent's directory (its log, and its data when persistent).
func (a *Agent) Dir() string { return a.dir }

// PID is the agent's process id (0 when stopped).
func (a *Agent) PID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// Start starts one agent and waits until it has a raft leader.
func Start(t testing.TB, o Options) *Agent {
	t.Helper()
	bin := Binary(t)
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	a := &Agent{t: t, bin: bin, name: "consul-1", dir: t.TempDir(), ports: freePorts(t), timeout: o.Timeout}
	if o.Persistent {
		a.args = append(a.serverArgs(), "-bootstrap-expect", "1")
	} else {
		a.args = append(a.commonArgs(), "-dev")
	}
	a.args = append(a.args, o.Args...)
	t.Cleanup(a.cleanup)
	// The ports were free when picked and released for Consul to bind: another
	// process may take one in between. An agent that exits because a port is
	// taken is started again on new ports.
	for attempt := 1; ; attempt++ {
		a.start()
		exited, err := a.waitReady()
		if err == nil {
			return a
		}
		if !exited || attempt == 3 || !strings.Contains(a.Tail(40), "address already in use") {
			t.Fatalf("consultest: %s: %v\n%s", a.name, err, a.Tail(40))
		}
		a.mu.Lock()
		a.cmd, a.done = nil, nil
		if a.log != nil {
			a.log.Close()
		}
		a.mu.Unlock()
		a.ports = freePorts(t)
		if o.Persistent {
			a.args = append(a.serverArgs(), "-bootstrap-expect", "1")
		} else {
			a.args = append(a.commonArgs(), "-dev")
		}
		a.args = append(a.args, o.Args...)
	}
}

func (a *Agent) commonArgs() []string {
	p := a.ports
	return []string{
		"agent", "-node", a.name,
		"-client", "127.0.0.1", "-bind", "127.0.0.1",
		"-http-port", strconv.Itoa(p.http), "-dns-port", strconv.Itoa(p.dns),
		"-server-port", strconv.Itoa(p.server), "-serf-lan-port", strconv.Itoa(p.serfLAN),
		"-serf-wan-port", strconv.Itoa(p.serfWAN),
		"-grpc-port", "-1", "-grpc-tls-port", "-1",
		"-log-level", "info", "-disable-host-node-id",
	}
}

func (a *Agent) serverArgs() []string {
	return append(a.commonArgs(), "-server", "-data-dir", filepath.Join(a.dir, "data"),
		"-hcl", `performance { raft_multiplier = 1 }`,
		"-hcl", `disable_update_check = true`)
}

func (a *Agent) start() {
	a.t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		a.t.Fatalf("consultest: %s already running", a.name)
	}
	log, err := os.OpenFile(filepath.Join(a.dir, "consul.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		a.t.Fatalf("consultest: log: %v", err)
	}
	cmd := exec.Command(a.bin, a.args...)
	cmd.Dir = a.dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		a.t.Fatalf("consultest: start %s: %v", a.bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	a.cmd, a.done, a.log = cmd, done, log
}

// Client returns an API client of the agent.
func (a *Agent) Client(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: a.HTTPAddr()})
	if err != nil {
		t.Fatalf("consultest: client: %v", err)
	}
	return c
}

// WaitLeader waits until the agent answers and knows a raft leader, and its
// catalog has registered the agent's own node (so that writes and service
// registrations succeed).
func (a *Agent) WaitLeader(t testing.TB) {
	t.Helper()
	if _, err := a.waitReady(); err != nil {
		t.Fatalf("consultest: %s: %v\n%s", a.name, err, a.Tail(40))
	}
}

// waitReady is WaitLeader returning why the agent is not ready (exited: its
// process ended while starting).
func (a *Agent) waitReady() (exited bool, err error) {
	c, err := api.NewClient(&api.Config{Address: a.HTTPAddr()})
	if err != nil {
		return false, fmt.Errorf("client: %w", err)
	}
	deadline := time.Now().Add(a.timeout)
	var last error
	for time.Now().Before(deadline) {
		a.mu.Lock()
		done := a.done
		a.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				return true, errors.New("exited while starting")
			default:
			}
		}
		leader, err := c.Status().Leader()
		if err == nil && leader != "" {
			var nodes []*api.Node
			nodes, _, err = c.Catalog().Nodes(nil)
			if err == nil && len(nodes) > 0 {
				return false, nil
			}
			if err == nil {
				err = errors.New("no node in the catalog yet")
			}
		} else if err == nil {
			err = errors.New("no leader yet")
		}
		last = err
		time.Sleep(50 * time.Millisecond) // polling interval while raft elects
	}
	return false, fmt.Errorf("not ready after %s: %v", a.timeout, last)
}

// Stop stops the agent with SIGTERM (SIGKILL after 10 s) and waits for it.
func (a *Agent) Stop() { a.signal(syscall.SIGTERM, 10*time.Second) }

// Kill kills the agent with SIGKILL and waits for it.
func (a *Agent) Kill() { a.signal(syscall.SIGKILL, 0) }

// Restart stops the agent (SIGTERM) and starts it again with the same ports and
// data, then waits for a leader.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Stop()
	a.start()
	a.WaitLeader(t)
}

// StartAgain starts a stopped or killed agent, without waiting for a leader.
func (a *Agent) StartAgain(t testing.TB) {
	t.Helper()
	a.start()
}

func (a *Agent) signal(sig syscall.Signal, grace time.Duration) {
	a.mu.Lock()
	cmd, done, log := a.cmd, a.done, a.log
	a.cmd, a.done, a.log = nil, nil, nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-done
	log.Close()
}

func (a *Agent) cleanup() {
	if a.t.Failed() {
		a.t.Logf("consultest: last lines of %s's log:\n%s", a.name, a.Tail(60))
	}
	a.Kill()
}

// Tail returns the last n lines of the agent's log.
func (a *Agent) Tail(n int) string {
	data, err := os.ReadFile(filepath.Join(a.dir, "consul.log"))
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// Cluster is three (or more) Consul servers on loopback forming one raft group.
type Cluster struct {
	Agents []*Agent
}

// StartCluster starts n servers (bootstrap-expect n) that join one another, and
// waits until every one of them knows the leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		n = 3
	}
	bin := Binary(t)
	c := &Cluster{}
	for i := 0; i < n; i++ {
		c.Agents = append(c.Agents, &Agent{
			t: t, bin: bin, name: fmt.Sprintf("consul-%d", i+1), dir: t.TempDir(),
			ports: freePorts(t), timeout: 90 * time.Second,
		})
	}
	for _, a := range c.Agents {
		a.args = append(a.serverArgs(), "-bootstrap-expect", strconv.Itoa(n))
		for _, o := range c.Agents {
			if o != a {
				a.args = append(a.args, "-retry-join", "127.0.0.1:"+strconv.Itoa(o.ports.serfLAN))
			}
		}
		t.Cleanup(a.cleanup)
		a.start()
	}
	for _, a := range c.Agents {
		a.WaitLeader(t)
	}
	return c
}

// Leader returns the index of the server that is the raft leader, or -1.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	for _, a := range c.Agents {
		if a.PID() == 0 {
			continue
		}
		cl := a.Client(t)
		leader, err := cl.Status().Leader()
		if err != nil || leader == "" {
			continue
		}
		for i, o := range c.Agents {
			if leader == "127.0.0.1:"+strconv.Itoa(o.ports.server) {
				return i
			}
		}
	}
	return -1
}

// Addrs returns the HTTP addresses of the cluster's running servers.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, a := range c.Agents {
		out = append(out, a.HTTPAddr())
	}
	return out
}

// freePorts takes five ports of a block of internal/freeports, free for TCP
// and UDP (Consul's DNS and serf ports take both) and held until the test
// ends, so that agents of concurrent tests never meet.
func freePorts(t testing.TB) ports {
	t.Helper()
	p := freeports.Range(t, 5)
	return ports{http: p, dns: p + 1, server: p + 2, serfLAN: p + 3, serfWAN: p + 4}
}

// WaitFor polls cond every 20 ms until it returns nil or timeout passes, then fails
// t with cond's last error.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		if last = cond(ctx); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not after %s: %v", what, timeout, last)
		case <-time.After(20 * time.Millisecond): // polling interval
		}
	}
}
