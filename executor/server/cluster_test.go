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
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/internal/freeports"
)

// Started with STRIDE_TESTSERVER=cluster, the test binary is a cluster-mode
// Stride server (stride server -consul): MESOS_URL, CONSUL_ADDR and
// CONSUL_PREFIX configure it. It prints "ADDR host:port" on stdout once its API
// listens, and stops (resigning) on SIGTERM. The tests kill it with SIGKILL and
// freeze it with SIGSTOP.
func init() {
	if os.Getenv("STRIDE_TESTSERVER") == "cluster" {
		os.Exit(runClusterTestServer())
	}
}

func runClusterTestServer() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}
	srv, err := Start(ctx, Config{
		Listen: "127.0.0.1:0", MesosURL: os.Getenv("MESOS_URL"),
		Consul:      &ConsulConfig{Address: os.Getenv("CONSUL_ADDR"), Prefix: os.Getenv("CONSUL_PREFIX")},
		StableAfter: 2 * time.Second, Logf: logf,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 2
	}
	fmt.Println("ADDR " + srv.Addr())
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

// clusterEnv is a Consul, a Mesos stand-in, and Stride servers in subprocesses
// sharing both.
type clusterEnv struct {
	t       *testing.T
	master  *localmesos.Master
	prefix  string
	servers []*clusterProc
}

// newClusterEnv starts servers Stride servers against one stand-in; server i
// talks to the Consul agent consulAddrs[i % len] (a dev agent of its own when
// none is given).
func newClusterEnv(t *testing.T, consulAddrs []string, servers int) *clusterEnv {
	t.Helper()
	if len(consulAddrs) == 0 {
		consulAddrs = []string{consultest.Start(t, consultest.Options{}).HTTPAddr()}
	}
	dir := t.TempDir()
	m, err := localmesos.New(localmesos.Config{
		// Ports of their own, free ones: tests elsewhere run stand-ins too.
		WorkDir: filepath.Join(dir, "mesos"), Agents: 3,
		FirstPort: freeports.Range(t, 3*testPortsPerAgent), PortsPerAgent: testPortsPerAgent,
		OfferInterval: 50 * time.Millisecond, HeartbeatInterval: time.Second, UpdateRetry: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c := &clusterEnv{t: t, master: m, prefix: "stride-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "/"}
	for i := 0; i < servers; i++ {
		c.servers = append(c.servers, c.startServer(consulAddrs[i%len(consulAddrs)]))
	}
	return c
}

// clusterProc is one Stride server subprocess.
type clusterProc struct {
	cmd  *exec.Cmd
	addr string
	logs *syncWriter
}

func (p *clusterProc) url() string { return "http://" + p.addr }

func (p *clusterProc) client() *api.Client { return api.NewClient(p.url()) }

func (c *clusterEnv) startServer(consulAddr string) *clusterProc {
	c.t.Helper()
	bin, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "STRIDE_TESTSERVER=cluster", "MESOS_URL="+c.master.URL(),
		"CONSUL_ADDR="+consulAddr, "CONSUL_PREFIX="+c.prefix)
	logs := &syncWriter{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p := &clusterProc{cmd: cmd, logs: logs}
	c.t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		p.kill(syscall.SIGKILL)
		if c.t.Failed() {
			c.t.Logf("server %s log:\n%s", p.addr, logs.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		c.t.Fatalf("the server subprocess did not start: %q %v\n%s", line, err, logs.String())
	}
	p.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return p
}

// kill sends sig to the server subprocess and reaps it.
func (p *clusterProc) kill(sig syscall.Signal) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	_ = p.cmd.Wait()
}

func (p *clusterProc) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

func (p *clusterProc) alive() bool { return p.cmd.ProcessState == nil }

// infoOf is what the tests read of /v2/info.
type infoOf struct {
	Elected bool   `json:"elected"`
	Leader  string `json:"leader"`
}

// ask GETs path from one server with a short timeout (a frozen server must not
// hold the test up).
func ask(p *clusterProc, path string, v any) (int, http.Header, error) {
	cl := &http.Client{Timeout: 2 * time.Second}
	resp, err := cl.Get(p.url() + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			return resp.StatusCode, resp.Header, err
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// leader waits until every live server named in among agrees on one leader
// that is among them and says it is elected, and returns it.
func (c *clusterEnv) leader(timeout time.Duration, among ...*clusterProc) *clusterProc {
	c.t.Helper()
	if len(among) == 0 {
		among = c.servers
	}
	var found *clusterProc
	waitUntil(c.t, timeout, "one leader all servers agree on", func() (bool, string) {
		found = nil
		var states []string
		for _, p := range among {
			var l struct {
				Leader string `json:"leader"`
			}
			code, _, err := ask(p, "/v2/leader", &l)
			states = append(states, fmt.Sprintf("%s: %d %s %v", p.addr, code, l.Leader, err))
			if err != nil || code != http.StatusOK {
				return false, strings.Join(states, "; ")
			}
			if found == nil {
				for _, q := range among {
					if q.addr == l.Leader {
						found = q
					}
				}
			}
			if found == nil || l.Leader != found.addr {
				return false, strings.Join(states, "; ")
			}
		}
		// The leader itself serves /v2/info unproxied and says it is elected.
		var info infoOf
		code, h, err := ask(found, "/v2/info", &info)
		if err != nil || code != http.StatusOK || !info.Elected || h.Get("X-Marathon-Leader") != "http://"+found.addr {
			return false, fmt.Sprintf("leader %s info: %d %+v %v", found.addr, code, info, err)
		}
		return true, ""
	})
	return found
}

func (c *clusterEnv) standbys(leader *clusterProc) []*clusterProc {
	var out []*clusterProc
	for _, p := range c.servers {
		if p != leader && p.alive() {
			out = append(out, p)
		}
	}
	return out
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
}

// waitDeploymentVia waits, asking server p, until a deployment succeeded.
func waitDeploymentVia(t *testing.T, p func() *clusterProc, id string, timeout time.Duration) {
	t.Helper()
	waitUntil(t, timeout, "deployment "+id, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		d, err := p().client().Deployment(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		if d.Status == engine.DeploymentFailed || d.Status == engine.DeploymentCancelled {
			t.Fatalf("deployment %s %s: %s", id, d.Status, d.Reason)
		}
		return d.Status == engine.DeploymentSucceeded, d.Status
	})
}

// liveOf returns the live tasks of an app on the stand-in.
func liveOf(m *localmesos.Master, appID string) []localmesos.TaskInfo {
	var out []localmesos.TaskInfo
	for _, tk := range m.Tasks() {
		if engine.AppIDFromTaskID(tk.ID) == appID && !engine.TerminalTaskState(tk.State.String()) {
			out = append(out, tk)
		}
	}
	return out
}

// sampler records, every few milliseconds, the app's live and healthy tasks on
// the stand-in, and every task id it ever saw.
type sampler struct {
	mu      sync.Mutex
	samples [][2]int // live, running
	seen    map[string]bool
	stop    chan struct{}
	done    chan struct{}
}

func sample(m *localmesos.Master, appID string) *sampler {
	s := &sampler{seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			live := liveOf(m, appID)
			running := 0
			for _, tk := range live {
				if tk.State.String() == engine.TaskRunning {
					running++
				}
			}
			s.mu.Lock()
			s.samples = append(s.samples, [2]int{len(live), running})
			for _, tk := range live {
				s.seen[tk.ID] = true
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(5 * time.Millisecond): // sampling interval
			}
		}
	}()
	return s
}

func (s *sampler) finish() [][2]int {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}
