package consul

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/engine/store/storetest"
)

func open(t testing.TB, a *consultest.Agent, prefix string, maxOps int) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Client: a.Client(t), Prefix: prefix, LockKey: prefix + "leader", MaxOps: maxOps})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var prefixes atomic.Int64

func nextPrefix() string { return fmt.Sprintf("t%d/", prefixes.Add(1)) }

func TestConformance(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	storetest.Run(t, func(t *testing.T) engine.Store { return open(t, a, nextPrefix(), 0) })
}

// With at most 8 operations per transaction, most of the suite's commits go
// through the journal.
func TestConformanceThroughTheJournal(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	storetest.Run(t, func(t *testing.T) engine.Store { return open(t, a, nextPrefix(), 8) })
}

func TestReopen(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	p := nextPrefix()
	storetest.Reopen(t, func(t *testing.T) engine.Store { return open(t, a, p, 0) })
}

// A writer killed at each step of a journaled commit leaves the store whole: the
// old state before the commit point, the new one after, and the next store on
// the prefix finishes the commit.
func TestJournalSurvivesAKilledWriter(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	for _, step := range []string{"part", "committed", "applying"} {
		t.Run(step, func(t *testing.T) {
			p := nextPrefix()
			s := open(t, a, p, 8)
			ctx := context.Background()
			base := engine.Txn{PutApps: []*engine.App{storetest.App("/a", 1)}}
			idx, err := s.Commit(ctx, 0, base)
			if err != nil {
				t.Fatal(err)
			}
			var big engine.Txn
			for i := 0; i < 40; i++ {
				big.PutTasks = append(big.PutTasks, storetest.Task("/a", i))
			}
			testHook = func(at string) bool { return at == step }
			_, err = s.Commit(ctx, idx, big)
			testHook = nil
			if step != "committed" && !errors.Is(err, errKilled) {
				t.Fatalf("commit: %v", err)
			}
			// A second server reads the store while the commit is half done.
			other := open(t, a, p, 8)
			snap, err := other.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := 40
			if step == "part" {
				want = 0
			}
			if len(snap.Tasks) != want || len(snap.Apps) != 1 {
				t.Fatalf("after a writer killed at %q: %d tasks, %d apps; want %d and 1", step, len(snap.Tasks), len(snap.Apps), want)
			}
			// The next commit on the prefix finishes (or discards) the journal
			// and goes on.
			if _, err := other.Commit(ctx, snap.Index, engine.Txn{DeleteTasks: []string{storetest.Task("/a", 0).ID}}); err != nil {
				t.Fatal(err)
			}
			pairs, _, err := a.Client(t).KV().List(p+"journal/", nil)
			if err != nil || len(pairs) != 0 {
				t.Fatalf("journal keys left: %d %v", len(pairs), err)
			}
			snap, err = open(t, a, p, 0).Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Tasks) != max(want-1, 0) {
				t.Fatalf("after the next commit: %d tasks, want %d", len(snap.Tasks), max(want-1, 0))
			}
		})
	}
}

// A fenced store writes only while its session holds the lock: once the session
// is gone, Commit fails with ErrFenced and writes nothing.
func TestFencedBySession(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	c := a.Client(t)
	p := nextPrefix()
	base := open(t, a, p, 0)
	sess, _, err := c.Session().Create(&api.SessionEntry{TTL: "10s", LockDelay: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ok, _, err := c.KV().Acquire(&api.KVPair{Key: p + "leader", Session: sess}, nil)
	if err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	s := base.Fenced(sess)
	ctx := context.Background()
	idx, err := s.Commit(ctx, 0, engine.Txn{PutApps: []*engine.App{storetest.App("/a", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Session().Destroy(sess, nil); err != nil {
		t.Fatal(err)
	}
	_, err = s.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{storetest.App("/b", 2)}})
	if !errors.Is(err, engine.ErrFenced) {
		t.Fatalf("commit after the session was destroyed: %v, want ErrFenced", err)
	}
	snap, err := base.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps) != 1 || snap.Index != idx {
		t.Fatalf("a fenced commit wrote: %d apps, index %d", len(snap.Apps), snap.Index)
	}
}
