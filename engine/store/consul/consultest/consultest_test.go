package consultest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// A dev agent serves KV and answers DNS SRV for a registered service.
func TestDevAgent(t *testing.T) {
	a := Start(t, Options{})
	c := a.Client(t)
	if _, err := c.KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	kv, _, err := c.KV().Get("k", nil)
	if err != nil || kv == nil || string(kv.Value) != "v" {
		t.Fatalf("get: %v %v", kv, err)
	}
	reg := &api.CatalogRegistration{Node: "n1", Address: "127.0.0.9",
		Service: &api.AgentService{ID: "s1", Service: "web", Port: 4242}}
	if _, err := c.Catalog().Register(reg, nil); err != nil {
		t.Fatal(err)
	}
	r := Resolver(a)
	WaitFor(t, 10*time.Second, "SRV answer", func(ctx context.Context) error {
		_, srvs, err := r.LookupSRV(ctx, "", "", "web.service.consul")
		if err != nil {
			return err
		}
		if len(srvs) != 1 || srvs[0].Port != 4242 {
			return fmt.Errorf("got %v", srvs)
		}
		return nil
	})
}

// A persistent server keeps its data across a restart; Kill stops it by pid.
func TestPersistentRestart(t *testing.T) {
	a := Start(t, Options{Persistent: true})
	c := a.Client(t)
	if _, err := c.KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	a.Restart(t)
	kv, _, err := a.Client(t).KV().Get("k", nil)
	if err != nil || kv == nil || string(kv.Value) != "v" {
		t.Fatalf("after restart: %v %v", kv, err)
	}
	a.Kill()
	if a.PID() != 0 {
		t.Fatal("pid after kill")
	}
	if conn, err := net.DialTimeout("tcp", a.HTTPAddr(), time.Second); err == nil {
		conn.Close()
		t.Fatal("agent still listening after Kill")
	}
}

// Three servers elect a leader; when it is killed the other two elect another
// and keep the data.
func TestClusterSurvivesLeaderLoss(t *testing.T) {
	c := StartCluster(t, 3)
	first := c.Leader(t)
	if first < 0 {
		t.Fatal("no leader")
	}
	other := c.Agents[(first+1)%3]
	if _, err := other.Client(t).KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	c.Agents[first].Kill()
	WaitFor(t, 30*time.Second, "a new raft leader", func(context.Context) error {
		if l := c.Leader(t); l < 0 || l == first {
			return fmt.Errorf("leader %d", l)
		}
		return nil
	})
	kv, _, err := other.Client(t).KV().Get("k", &api.QueryOptions{RequireConsistent: true})
	if err != nil || kv == nil || string(kv.Value) != "v" {
		t.Fatalf("after leader loss: %v %v", kv, err)
	}
}
