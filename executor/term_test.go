package executor

import (
	"context"
	"errors"
	"testing"

	"github.com/stride-run/stride/engine"
)

// fencedStore refuses every write from a point on, as a Consul store does once the
// leader's session is gone.
type fencedStore struct {
	*memStore
	fenced bool
}

func (f *fencedStore) Commit(ctx context.Context, expect uint64, txn engine.Txn) (uint64, error) {
	if f.fenced {
		return 0, engine.ErrFenced
	}
	return f.memStore.Commit(ctx, expect, txn)
}

// A write refused by the store (the lock is gone) ends the term at once: the
// launch whose intent could not be recorded is never sent, and nothing after it
// reaches Mesos.
func TestFencedWriteEndsTermBeforeActing(t *testing.T) {
	h := newHarness(t)
	dep := h.apply(spec(testApp("/web", 3, "sleep 100")))
	if dep == nil {
		t.Fatal("no deployment")
	}
	fs := &fencedStore{memStore: h.store, fenced: true}
	h.e.store = fs
	h.offer(1)
	if len(h.mesos.launched) != 0 {
		t.Fatalf("launched %d tasks after the store refused their records", len(h.mesos.launched))
	}
	if !errors.Is(h.e.ended, ErrTermEnded) || !errors.Is(h.e.ended, engine.ErrFenced) {
		t.Fatalf("ended = %v, want ErrTermEnded wrapping ErrFenced", h.e.ended)
	}
	// Later events act on nothing: no kill, no decline, no launch.
	h.offer(1)
	h.tick()
	if n := len(h.mesos.launched) + len(h.mesos.killed) + len(h.mesos.declined); n != 0 {
		t.Fatalf("%d Mesos calls after the term ended", n)
	}
	if len(h.store.snap.Tasks) != 0 {
		t.Fatalf("tasks written after the term ended: %v", h.store.snap.Tasks)
	}
}

// A compare-and-set conflict (someone else wrote since this executor loaded)
// ends the term too, and Run returns ErrTermEnded instead of carrying on.
func TestConflictEndsTermAndRunReturns(t *testing.T) {
	h := newHarness(t)
	// Another writer commits behind the executor's back.
	if _, err := h.store.Commit(h.ctx, h.store.snap.Index, engine.Txn{PutApps: []*engine.App{testApp("/other", 1, "sleep 1")}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- h.e.Run(context.Background()) }()
	_, _, err := h.e.Apply(h.ctx, ApplyRequest{Spec: spec(testApp("/web", 1, "sleep 100"))})
	if !errors.Is(err, ErrTermEnded) || !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("apply: %v, want ErrTermEnded wrapping ErrConflict", err)
	}
	if err := <-done; !errors.Is(err, ErrTermEnded) {
		t.Fatalf("Run returned %v, want ErrTermEnded", err)
	}
	if got := h.e.Ended(); !errors.Is(got, ErrTermEnded) {
		t.Fatalf("View().Ended = %v", got)
	}
	if _, ok := h.store.snap.Apps["/web"]; ok {
		t.Fatal("the refused apply was written")
	}
}
