package executor

import (
	"fmt"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
)

// BenchmarkHousekeeping is one housekeeping tick (every 100 ms on the actor) of
// an executor running n apps of 3 tasks each, all healthy, while a rolling
// restart of 10% of them is under way: the rollouts (planner.NextMove on counted
// tasks), deadlines, dependency gates, the kill-safety pass and the last-good
// bookkeeping. It reports apps/s.
func BenchmarkHousekeeping(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			h := newHarness(b)
			apps := make([]*engine.App, n)
			for i := range apps {
				apps[i] = testApp(fmt.Sprintf("/g%d/app%d", i%10, i), 3, "v1")
				if i%10 == 1 {
					apps[i].Dependencies = []string{fmt.Sprintf("/g%d/app%d", (i-1)%10, i-1)}
				}
			}
			h.apply(spec(apps...))
			for i := 0; i < 30 && len(h.e.deployments) > 0; i++ {
				h.offer(50)
				h.runLaunched()
				h.settle()
				h.tick()
			}
			if len(h.e.deployments) != 0 {
				b.Fatal("the create did not finish")
			}
			next := make([]*engine.App, n)
			for i := range apps {
				next[i] = h.e.apps[apps[i].ID].Clone()
				if i%10 == 0 {
					next[i].Cmd = "v2"
				}
			}
			h.clock.advance(time.Second)
			if dep := h.apply(spec(next...)); dep == nil || dep.Plan.Summary.Restart != n/10 {
				b.Fatalf("want %d restarts", n/10)
			}
			h.tick()
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				h.e.housekeeping(h.ctx)
				iters++
			}
			b.ReportMetric(float64(n)*float64(iters)/b.Elapsed().Seconds(), "apps/s")
		})
	}
}

// BenchmarkWrite measures one write through the API's path (an Edit putting
// one app: the desired state built, planned against every deployed app,
// versions and group records written) with 1k and 10k apps deployed, store
// writes in memory: the executor's share of a POST /v2/apps.
func BenchmarkWrite(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			h := newHarness(b)
			apps := map[string]*engine.App{}
			for i := 0; i < n; i++ {
				a := testApp(fmt.Sprintf("/team-%02d/svc-%05d", i%50, i), 1, "sleep 1")
				a.Version = "2026-01-01T00:00:00.000Z"
				apps[a.ID] = a
			}
			h.store.snap.Apps = apps
			h.restart()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a := testApp(fmt.Sprintf("/new/app-%06d", i), 1, "sleep 1")
				res, err := h.e.apply(h.ctx, ApplyRequest{Edit: func(d *Desired) error { d.PutApp(a); return nil }})
				if err != nil || res.Plan.Summary.Create != 1 {
					b.Fatalf("write %d: %+v %v", i, res, err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/write")
		})
	}
}
