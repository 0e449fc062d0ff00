package bolt

import (
	"fmt"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/storetest"
)

// benchCommit times commits of batch task puts each (every commit is synced to
// disk), after checking that such a commit lands.
func benchCommit(b *testing.B, batch int) {
	s, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	txn := func(i int) engine.Txn {
		var txn engine.Txn
		for j := 0; j < batch; j++ {
			txn.PutTasks = append(txn.PutTasks, storetest.Task("/bench/app", i*batch+j))
		}
		return txn
	}
	idx, err := s.Commit(b.Context(), 0, txn(0))
	if err != nil {
		b.Fatal(err)
	}
	snap, err := s.Load(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if snap.Index != 1 || len(snap.Tasks) != batch {
		b.Fatalf("after one commit: index %d, %d tasks; want 1, %d", snap.Index, len(snap.Tasks), batch)
	}
	txns := make([]engine.Txn, b.N)
	for i := range txns {
		txns[i] = txn(i + 1)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if idx, err = s.Commit(b.Context(), idx, txns[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "commits/s")
	b.ReportMetric(float64(b.N*batch)/sec, "records/s")
}

func BenchmarkCommitTask(b *testing.B)     { benchCommit(b, 1) }
func BenchmarkCommitBatch100(b *testing.B) { benchCommit(b, 100) }

func BenchmarkLoad10kApps(b *testing.B) {
	const apps = 10_000
	s, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var idx uint64
	for i := 0; i < apps; i += 100 {
		var txn engine.Txn
		for j := i; j < i+100; j++ {
			txn.PutApps = append(txn.PutApps, storetest.App(fmt.Sprintf("/group%d/app%d", j%100, j), j))
		}
		if idx, err = s.Commit(b.Context(), idx, txn); err != nil {
			b.Fatal(err)
		}
	}
	snap, err := s.Load(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	if len(snap.Apps) != apps {
		b.Fatalf("loaded %d apps, want %d", len(snap.Apps), apps)
	}
	for _, j := range []int{0, 4321, apps - 1} {
		id := fmt.Sprintf("/group%d/app%d", j%100, j)
		got := &engine.Snapshot{Apps: map[string]*engine.App{id: snap.Apps[id]}}
		want := &engine.Snapshot{Apps: map[string]*engine.App{id: storetest.App(id, j)}}
		if d := storetest.Diff(got, want); d != "" {
			b.Fatalf("app %s:\n%s", id, d)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Load(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*apps)/b.Elapsed().Seconds(), "apps/s")
}
