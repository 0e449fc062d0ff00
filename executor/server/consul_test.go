package server

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
)

// testElector is a ConsulElector on a real agent, with the timings shortened so
// that a deposition takes a second or two.
func testElector(t *testing.T, a *consultest.Agent, addr string) *ConsulElector {
	t.Helper()
	el := &ConsulElector{
		Client: a.Client(t), Prefix: "elect-" + t.Name() + "/", Advertise: addr,
		Fence:             func(string) engine.Store { return nil },
		LockDelay:         100 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond,
		LeaseTimeout:      500 * time.Millisecond,
		DeposeAfter:       time.Second,
		PollInterval:      20 * time.Millisecond,
		Logf:              t.Logf,
	}
	t.Cleanup(func() { _ = el.Close() })
	return el
}

func campaign(t *testing.T, el *ConsulElector, timeout time.Duration) Term {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	term, err := el.Campaign(ctx)
	if err != nil {
		t.Fatalf("campaign of %s: %v", el.Advertise, err)
	}
	return term
}

func leaderOfElector(t *testing.T, el *ConsulElector) string {
	t.Helper()
	l, err := el.Leader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// One of two servers wins; the other waits while the winner heartbeats, and wins
// within a poll interval once the winner resigns (a graceful hand-over).
func TestConsulElectorHandOver(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	one, two := testElector(t, a, "10.0.0.1:8080"), testElector(t, a, "10.0.0.2:8080")
	t1 := campaign(t, one, 10*time.Second)
	if got := leaderOfElector(t, two); got != "10.0.0.1:8080" {
		t.Fatalf("leader = %q", got)
	}
	// The second campaigns and must not win while the first heartbeats, well past
	// DeposeAfter.
	ctx, cancel := context.WithTimeout(context.Background(), 3*two.DeposeAfter)
	_, err := two.Campaign(ctx)
	cancel()
	if err == nil {
		t.Fatal("a second server won while the leader was alive")
	}
	select {
	case <-t1.Done():
		t.Fatal("the live leader lost its term")
	default:
	}
	won := make(chan Term, 1)
	go func() {
		term, err := two.Campaign(context.Background())
		if err == nil {
			won <- term
		}
	}()
	start := time.Now()
	if err := t1.Resign(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-won:
	case <-time.After(10 * time.Second):
		t.Fatal("the standby did not win after the leader resigned")
	}
	t.Logf("hand-over after Resign: %s", time.Since(start).Round(time.Millisecond))
	if got := leaderOfElector(t, one); got != "10.0.0.2:8080" {
		t.Fatalf("leader after hand-over = %q", got)
	}
}

// A leader whose heartbeat stops (a frozen process) loses its lease first, is
// deposed by the standby after DeposeAfter, and can never write again: its
// session no longer holds the lock.
func TestConsulElectorDeposesSilentLeader(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	one, two := testElector(t, a, "10.0.0.1:8080"), testElector(t, a, "10.0.0.2:8080")
	t1 := campaign(t, one, 10*time.Second).(*consulTerm)
	// Freeze it: the heartbeat stops, the lock stays.
	t1.stop()
	t1.wg.Wait()
	consultest.WaitFor(t, 5*time.Second, "the silent leader's lease to run out", func(context.Context) error {
		if t1.Valid() {
			return context.DeadlineExceeded
		}
		return nil
	})
	start := time.Now()
	t2 := campaign(t, two, 20*time.Second)
	t.Logf("a silent leader was replaced after %s (DeposeAfter %s)", time.Since(start).Round(time.Millisecond), two.DeposeAfter)
	if got := leaderOfElector(t, one); got != "10.0.0.2:8080" {
		t.Fatalf("leader = %q", got)
	}
	// A write fenced by the old session is refused.
	ok, _, _, err := a.Client(t).Txn().Txn(api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: one.LockKey(), Session: t1.session}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: "elect-x", Value: []byte("stale")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("a write checked against the deposed session succeeded")
	}
	// The old term's heartbeat, resumed, finds the lock gone.
	if err := t1.beat(context.Background(), 99); err == nil {
		t.Fatal("the deposed leader's heartbeat succeeded")
	}
	select {
	case <-t2.Done():
		t.Fatal("the new leader lost its term")
	default:
	}
}
