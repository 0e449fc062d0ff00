package executor

import (
	"fmt"
	"testing"

	"github.com/stride-run/stride/engine"
)

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
