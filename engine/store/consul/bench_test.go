package consul

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/engine/store/storetest"
)

// BenchmarkTaskUpdates commits task-state updates in batches of 60, as the
// executor's flush does: tasks/s is the figure (target ≥ 5,000).
func BenchmarkTaskUpdates(b *testing.B) {
	a := consultest.Start(b, consultest.Options{})
	s := open(b, a, nextPrefix(), 0)
	ctx := context.Background()
	idx := uint64(0)
	const batch = 60
	tasks := make([]*engine.Task, batch)
	for i := range tasks {
		tasks[i] = storetest.Task("/bench", i)
	}
	start := time.Now()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for _, t := range tasks {
			t.State = []string{engine.TaskStaging, engine.TaskRunning}[n%2]
		}
		var err error
		if idx, err = s.Commit(ctx, idx, engine.Txn{PutTasks: tasks}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "tasks/s")
}

// BenchmarkLoad1kApps10kTasks is a new leader's load (target ≤ 2 s).
func BenchmarkLoad1kApps10kTasks(b *testing.B) {
	a := consultest.Start(b, consultest.Options{})
	s := open(b, a, nextPrefix(), 0)
	ctx := context.Background()
	idx := uint64(0)
	var err error
	for i := 0; i < 1000; i += 50 {
		var txn engine.Txn
		for j := i; j < i+50; j++ {
			app := storetest.App("/bench/app-"+strconv.Itoa(j), j+1)
			app.Version = ""
			txn.PutApps = append(txn.PutApps, app)
		}
		if idx, err = s.Commit(ctx, idx, txn); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 10000; i += 60 {
		var txn engine.Txn
		for j := i; j < min(i+60, 10000); j++ {
			txn.PutTasks = append(txn.PutTasks, storetest.Task("/bench/app-"+strconv.Itoa(j%1000), j))
		}
		if idx, err = s.Commit(ctx, idx, txn); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		snap, err := open(b, a, s.shared.cfg.Prefix, 0).Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Apps) != 1000 || len(snap.Tasks) != 10000 {
			b.Fatalf("%d apps, %d tasks", len(snap.Apps), len(snap.Tasks))
		}
	}
}
