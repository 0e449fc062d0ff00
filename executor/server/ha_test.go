package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/executor/api"
)

func applyVia(t *testing.T, p *clusterProc, apps ...*engine.App) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := p.client().Apply(ctx, api.ApplyRequest{Spec: specOf(apps...)})
	if err != nil {
		t.Fatalf("apply through %s: %v", p.addr, err)
	}
	return resp.DeploymentID
}

func liveIDs(c *clusterEnv, appID string) []string {
	var ids []string
	for _, tk := range liveOf(c.master, appID) {
		ids = append(ids, tk.ID)
	}
	sort.Strings(ids)
	return ids
}

// Three servers on one Consul and one Mesos: an apply sent to a standby is
// carried out by the leader; the leader is killed with SIGKILL in the middle of a
// rolling restart and another server finishes it, with no task lost or run twice
// and the rolling bounds kept at every sample.
func TestClusterFailoverMidRollingRestart(t *testing.T) {
	c := newClusterEnv(t, nil, 3)
	leader := c.leader(30 * time.Second)
	standby := c.standbys(leader)[0]

	// A standby forwards, and says who leads.
	code, h, err := ask(standby, "/v2/apps", nil)
	if err != nil || code != http.StatusOK || h.Get("X-Marathon-Leader") != "http://"+leader.addr {
		t.Fatalf("GET /v2/apps from a standby: %d %v, X-Marathon-Leader %q", code, err, h.Get("X-Marathon-Leader"))
	}

	a := testApp(t, "/shop/api", 4, nil)
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.25}
	waitDeploymentVia(t, func() *clusterProc { return standby }, applyVia(t, standby, a), 60*time.Second)
	old := liveIDs(c, "/shop/api")
	if len(old) != 4 {
		t.Fatalf("%d tasks after the first deployment, want 4", len(old))
	}

	v2 := a.Clone()
	v2.Env["VERSION"] = "2"
	s := sample(c.master, "/shop/api")
	dep := applyVia(t, standby, v2)
	waitUntil(t, 30*time.Second, "the first task of the new version", func() (bool, string) {
		ids := liveIDs(c, "/shop/api")
		for _, id := range ids {
			if !slices.Contains(old, id) {
				return true, ""
			}
		}
		return false, fmt.Sprint(ids)
	})
	killed := time.Now()
	leader.kill(syscall.SIGKILL)
	next := c.leader(60*time.Second, c.standbys(leader)...)
	t.Logf("failover after kill -9 of the leader: %s (new leader %s)", time.Since(killed).Round(time.Millisecond), next.addr)
	waitDeploymentVia(t, func() *clusterProc { return next }, dep, 120*time.Second)
	samples := s.finish()

	for i, smp := range samples {
		if smp[0] > 5 || smp[1] < 2 {
			t.Fatalf("sample %d of %d: %d live, %d running: outside the bounds (at most 5 live, at least 2 running)", i, len(samples), smp[0], smp[1])
		}
	}
	final := liveIDs(c, "/shop/api")
	if len(final) != 4 {
		t.Fatalf("%d tasks after the rollout, want 4: %v", len(final), final)
	}
	for _, id := range final {
		if slices.Contains(old, id) {
			t.Errorf("task %s of the old version survived the rollout", id)
		}
	}
	// Four old and four new tasks, nothing else: no task was lost and replaced,
	// and none was launched twice.
	s.mu.Lock()
	seen := len(s.seen)
	s.mu.Unlock()
	if seen != 8 {
		t.Fatalf("%d distinct tasks ran during the rollout, want 8 (4 old + 4 new)", seen)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := next.client().App(ctx, "/shop/api")
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range info.Tasks {
		if tk.Version != info.Version {
			t.Errorf("task %s runs version %s, the app is at %s", tk.ID, tk.Version, info.Version)
		}
	}
}

// A leader frozen with SIGSTOP until its lease runs out and another server is
// elected, then resumed, takes no action — though its health checks timed out
// while it was frozen — and becomes a standby. The new leader leaves the running
// tasks untouched.
func TestClusterFrozenLeaderTakesNoAction(t *testing.T) {
	c := newClusterEnv(t, nil, 2)
	leader := c.leader(30 * time.Second)
	a := testApp(t, "/frozen", 2, nil)
	a.HealthChecks[0].IntervalSeconds = 1
	a.HealthChecks[0].TimeoutSeconds = 1
	a.HealthChecks[0].MaxConsecutiveFailures = 1
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, leader, a), 60*time.Second)
	before := liveIDs(c, "/frozen")

	leader.signal(syscall.SIGSTOP)
	frozen := time.Now()
	next := c.leader(60*time.Second, c.standbys(leader)...)
	t.Logf("a frozen leader was replaced after %s", time.Since(frozen).Round(time.Millisecond))
	resumedAt := len(leader.logs.String())
	leader.signal(syscall.SIGCONT)

	// The resumed server finds its leadership gone and stands by: it forwards to
	// the new leader.
	waitUntil(t, 30*time.Second, "the resumed server to stand by", func() (bool, string) {
		var l struct {
			Leader string `json:"leader"`
		}
		code, _, err := ask(leader, "/v2/leader", &l)
		return err == nil && code == http.StatusOK && l.Leader == next.addr, fmt.Sprintf("%d %s %v", code, l.Leader, err)
	})
	// /v2/leader reads the lock's holder from Consul: it may answer before the
	// resumed term's own goroutines have run and said so.
	waitUntil(t, 30*time.Second, "the resumed server to say it lost the leadership", func() (bool, string) {
		return strings.Contains(leader.logs.String(), "leadership lost"), ""
	})
	// The new leader's own health checks pass on the same two tasks: nothing was
	// killed or launched by either server.
	waitUntil(t, 30*time.Second, "the new leader to see both tasks healthy", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		info, err := next.client().App(ctx, "/frozen")
		if err != nil {
			return false, err.Error()
		}
		return info.TasksHealthy == 2, fmt.Sprintf("%d healthy", info.TasksHealthy)
	})
	if after := liveIDs(c, "/frozen"); !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the freeze: %v -> %v\nresumed server's log:\n%s", before, after, leader.logs.String()[resumedAt:])
	}
	for _, tk := range c.master.Tasks() {
		if engine.TerminalTaskState(tk.State.String()) {
			t.Errorf("task %s ended: %s", tk.ID, tk.State)
		}
	}
}

// A restart of the (only) Consul agent is survived: the leadership is lost while
// Consul is away and won again after, the tasks run on untouched, and the cluster
// deploys again.
func TestClusterSurvivesConsulRestart(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{Persistent: true})
	c := newClusterEnv(t, []string{agent.HTTPAddr()}, 2)
	leader := c.leader(30 * time.Second)
	a := testApp(t, "/steady", 2, nil)
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, leader, a), 60*time.Second)
	before := liveIDs(c, "/steady")

	agent.Restart(t)
	next := c.leader(60 * time.Second)
	if after := liveIDs(c, "/steady"); !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the Consul restart: %v -> %v", before, after)
	}
	b := a.Clone()
	b.Instances = 3
	waitDeploymentVia(t, func() *clusterProc { return next }, applyVia(t, next, b), 60*time.Second)
	if n := len(liveIDs(c, "/steady")); n != 3 {
		t.Fatalf("%d tasks after scaling to 3", n)
	}
}

// With three Consul servers, the loss of the Consul raft leader is survived:
// the Stride servers on the other agents carry on (one of them leads), and the
// tasks are untouched.
func TestClusterSurvivesConsulLeaderLoss(t *testing.T) {
	cc := consultest.StartCluster(t, 3)
	c := newClusterEnv(t, cc.Addrs(), 3)
	leader := c.leader(30 * time.Second)
	a := testApp(t, "/ha", 2, nil)
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, leader, a), 60*time.Second)
	before := liveIDs(c, "/ha")

	lost := cc.Leader(t)
	if lost < 0 {
		t.Fatal("no Consul leader")
	}
	cc.Agents[lost].Kill()
	// Stride server i talks to Consul agent i: the one on the lost agent is cut
	// off; the others elect a leader among them.
	var rest []*clusterProc
	for i, p := range c.servers {
		if i != lost {
			rest = append(rest, p)
		}
	}
	next := c.leader(60*time.Second, rest...)
	if after := liveIDs(c, "/ha"); !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the Consul leader's loss: %v -> %v", before, after)
	}
	b := a.Clone()
	b.Instances = 3
	waitDeploymentVia(t, func() *clusterProc { return next }, applyVia(t, next, b), 60*time.Second)
}

// DELETE /v2/leader, sent to a standby, is forwarded to the leader, which
// abdicates: the other server takes over (a graceful hand-over, without waiting
// for a lease to run out), and the tasks run on.
func TestClusterAbdicationHandsOver(t *testing.T) {
	c := newClusterEnv(t, nil, 3)
	leader := c.leader(30 * time.Second)
	standby := c.standbys(leader)[0]
	a := testApp(t, "/handover", 1, nil)
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, standby, a), 60*time.Second)
	before := liveIDs(c, "/handover")

	req, _ := http.NewRequest(http.MethodDelete, standby.url()+"/v2/leader", nil)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE /v2/leader through the standby: %s", resp.Status)
	}
	next := c.leader(30*time.Second, c.servers...)
	if next == leader {
		t.Fatalf("the abdicating server %s leads again", next.addr)
	}
	t.Logf("graceful hand-over (DELETE /v2/leader): %s", time.Since(start).Round(time.Millisecond))
	if after := liveIDs(c, "/handover"); !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the hand-over: %v -> %v", before, after)
	}

	// SIGTERM: the leader resigns as it stops, and one of the others leads
	// (the third, most likely: the abdicated one stands back for a moment).
	start = time.Now()
	next.signal(syscall.SIGTERM)
	if err := next.cmd.Wait(); err != nil {
		t.Fatalf("the server did not stop cleanly on SIGTERM: %v", err)
	}
	c.leader(30*time.Second, c.standbys(next)...)
	t.Logf("graceful hand-over (SIGTERM): %s", time.Since(start).Round(time.Millisecond))
	if after := liveIDs(c, "/handover"); !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the SIGTERM hand-over: %v -> %v", before, after)
	}
}
