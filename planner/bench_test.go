package planner

import (
	"fmt"
	"testing"
)

// BenchmarkPlan plans a realistic state (apps in groups of 50, a fifth of them
// with dependencies on apps or groups, health checks, 1–5 instances) against a
// spec with 10% changed: restarts, scales, updates, creates and destroys.
// Targets on a 2-core machine: 1 ms, 10 ms and 150 ms per plan.
func BenchmarkPlan(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("apps=%d", n), func(b *testing.B) {
			w := genWorld(n, 1)
			plan, diags := Plan(w.spec, w.state, Options{})
			if diags.HasErrors() {
				b.Fatalf("Plan: %v", diags)
			}
			if plan.Summary != w.want {
				b.Fatalf("summary = %+v, want %+v", plan.Summary, w.want)
			}
			b.ReportAllocs()
			iters := 0
			for b.Loop() {
				Plan(w.spec, w.state, Options{})
				iters++
			}
			b.ReportMetric(float64(n)*float64(iters)/b.Elapsed().Seconds(), "apps/s")
		})
	}
}
