package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/executor/catalog"
)

// Consul DNS (what `dig @127.0.0.1 -p <dns port> api-shop.service.consul SRV`
// answers) returns exactly the healthy tasks of /shop/api, following a deploy, a
// scale-up, a health failure and recovery, a kill and its replacement, a
// failover after kill -9 of the leader, and the app's removal.
func TestClusterConsulDNSFollowsHealthyTasks(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	c := newClusterEnv(t, []string{agent.HTTPAddr()}, 2)
	leader := c.leader(30 * time.Second)
	// Each task says, when it gets SIGTERM, whether it was still in the catalog.
	a := testApp(t, "/shop/api", 2, map[string]string{"CONSUL_AT_SIGTERM": agent.HTTPAddr() + ",api-shop"})
	// Failing health does not get the task killed during the test: it stays
	// running, unhealthy, and out of DNS.
	a.HealthChecks[0].MaxConsecutiveFailures = 1000
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, leader, a), 60*time.Second)
	c.waitDNS(agent, leader, "/shop/api", 2)

	a.Instances = 3
	waitDeploymentVia(t, func() *clusterProc { return leader }, applyVia(t, leader, a), 60*time.Second)
	c.waitDNS(agent, leader, "/shop/api", 3)

	// A health failure takes the task out of DNS at once, though it runs on;
	// when it is healthy again it comes back.
	victim := liveOf(c.master, "/shop/api")[0]
	flag := filepath.Join(victim.Sandbox, "unhealthy")
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got := c.waitDNS(agent, leader, "/shop/api", 2)
	if slices.Contains(got, victim.ID) {
		t.Fatalf("the unhealthy task %s is still answered", victim.ID)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	c.waitDNS(agent, leader, "/shop/api", 3)

	// A killed task leaves DNS; its replacement joins once healthy.
	killedTask := liveOf(c.master, "/shop/api")[1]
	killed := killedTask.ID
	req, err := http.NewRequest(http.MethodDelete, leader.url()+"/v2/apps/shop/api/tasks/"+url.PathEscape(killed), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("kill %s: %s", killed, resp.Status)
	}
	waitUntil(t, 60*time.Second, "a replacement of the killed task in DNS", func() (bool, string) {
		ids, err := c.dnsTasks(agent, leader, "/shop/api", 3)
		return err == nil && !slices.Contains(ids, killed), fmt.Sprint(ids, err)
	})
	drainedFirst(t, killedTask.ID, killedTask.Sandbox)

	// kill -9 of the leader: the entries stay (the tasks run on), and the new
	// leader takes them over.
	leader.kill(syscall.SIGKILL)
	next := c.leader(60*time.Second, c.standbys(leader)...)
	c.waitDNS(agent, next, "/shop/api", 3)

	// Removing the app takes every entry, and the nodes, out of the catalog;
	// each task before its SIGTERM.
	last := liveOf(c.master, "/shop/api")
	waitDeploymentVia(t, func() *clusterProc { return next }, applyVia(t, next), 60*time.Second)
	consultest.WaitFor(t, 30*time.Second, "api-shop to leave DNS", func(ctx context.Context) error {
		got, err := consultest.LookupService(ctx, agent, "api-shop")
		if err != nil || len(got) > 0 {
			return fmt.Errorf("DNS answers %v (%v)", got, err)
		}
		nodes, _, err := agent.Client(t).Catalog().Nodes((&api.QueryOptions{NodeMeta: map[string]string{catalog.MetaOwner: c.prefix}}).WithContext(ctx))
		if err != nil || len(nodes) > 0 {
			return fmt.Errorf("Stride's nodes left: %d (%v)", len(nodes), err)
		}
		return nil
	})
	for _, tk := range last {
		drainedFirst(t, tk.ID, tk.Sandbox)
	}
}

// drainedFirst checks that a killed task found itself out of the catalog when
// it got SIGTERM.
func drainedFirst(t *testing.T, id, sandbox string) {
	t.Helper()
	var said []byte
	waitUntil(t, 30*time.Second, id+" to report its SIGTERM", func() (bool, string) {
		var err error
		said, err = os.ReadFile(filepath.Join(sandbox, "at-sigterm"))
		return err == nil, fmt.Sprint(err)
	})
	if string(said) != "absent" {
		t.Fatalf("%s at SIGTERM: %q in the catalog, want absent (deregistered before the kill)", id, said)
	}
}

// waitDNS waits until Consul DNS answers exactly the healthy tasks of appID —
// as the leader's API lists them, want of them — and returns their ids.
func (c *clusterEnv) waitDNS(agent *consultest.Agent, p *clusterProc, appID string, want int) []string {
	c.t.Helper()
	var ids []string
	waitUntil(c.t, 60*time.Second, fmt.Sprintf("DNS to answer the %d healthy tasks of %s", want, appID), func() (bool, string) {
		var err error
		ids, err = c.dnsTasks(agent, p, appID, want)
		return err == nil, fmt.Sprint(err)
	})
	return ids
}

// dnsTasks compares Consul DNS for appID's service with the healthy tasks the
// leader p lists: nil error when they are the same want tasks (their ids).
func (c *clusterEnv) dnsTasks(agent *consultest.Agent, p *clusterProc, appID string, want int) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := p.client().App(ctx, appID)
	if err != nil {
		return nil, err
	}
	var healthy, ids []string
	for _, tk := range info.Tasks {
		ok := tk.State == engine.TaskRunning && len(tk.HealthCheckResults) > 0
		for _, h := range tk.HealthCheckResults {
			ok = ok && h.Alive
		}
		if ok && len(tk.Ports) > 0 {
			healthy = append(healthy, net.JoinHostPort(tk.Host, strconv.Itoa(tk.Ports[0])))
			ids = append(ids, tk.ID)
		}
	}
	sort.Strings(healthy)
	sort.Strings(ids)
	got, err := consultest.LookupService(ctx, agent, engine.DefaultServiceName(appID))
	if err != nil {
		return nil, err
	}
	if len(healthy) != want || !slices.Equal(got, healthy) {
		return nil, fmt.Errorf("DNS answers %v; the healthy tasks are %v (want %d)", got, healthy, want)
	}
	return ids, nil
}
