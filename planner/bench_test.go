package planner

import (
	"fmt"
	"testing"
)

// BenchmarkPlan plans a realistic state (apps in groups of 50, a fifth of them
// with dependencies on apps or groups, health checks, 1–5 instances) against a
// spec with 10% changed: restarts, scales, updates, creates and destroys.
// Targets on a 2-core machine: 1 ms, 10 ms and 100 ms per plan (issue 12).
//
// Besides the wall time it reports cpu-ns/op, the CPU time the process spent
// per plan on all threads (diffing goroutines and the garbage collector
// included): on a machine shared with other work the wall time varies with the
// load, the CPU time much less.
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
			cpu0, cpuOK := processCPU()
			for b.Loop() {
				Plan(w.spec, w.state, Options{})
				iters++
			}
			cpu1, _ := processCPU()
			b.ReportMetric(float64(n)*float64(iters)/b.Elapsed().Seconds(), "apps/s")
			if cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(iters), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkNextMove is the executor's rolling decision, made for every change of
// the current step at every housekeeping tick and every offer round.
func BenchmarkNextMove(b *testing.B) {
	f := Fleet{Action: "restart", Target: 100, MinHealthy: 50, MaxRunning: 120, Old: 60, OldHealthy: 55, OldFailing: 3, New: 45, NewReady: 40, Killing: 5}
	if m := NextMove(f); m.Start != 10 || m.KillOld != 3+45 {
		b.Fatalf("NextMove = %+v", m)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		NextMove(f)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "moves/s")
}

// BenchmarkPreviewWaves previews the rolling restart of large apps, one change
// of a plan (the preview iterates NextMove once per wave).
func BenchmarkPreviewWaves(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			minH, maxR := Bounds(n, us(0.9, 0.05))
			if w := previewWaves("restart", n, n, minH, maxR); len(w) == 0 || w[len(w)-1].New != n {
				b.Fatalf("waves end at %+v", w[len(w)-1])
			}
			b.ReportAllocs()
			for b.Loop() {
				previewWaves("restart", n, n, minH, maxR)
			}
		})
	}
}
