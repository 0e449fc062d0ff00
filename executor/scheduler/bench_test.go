package scheduler

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// benchOffers simulates n agents, one offer each, over the given racks and three
// zones.
func benchOffers(n, racks int) []mesos.Offer {
	offers := make([]mesos.Offer, n)
	for i := range offers {
		id := fmt.Sprintf("agent-%05d", i)
		offers[i] = mkOffer(id,
			[]mesos.Resource{scalar("cpus", 8), scalar("mem", 16384), scalar("disk", 100000), portRange(31000, 32000)},
			fmt.Sprintf("rack_id=rack-%02d", i%racks), fmt.Sprintf("zone=zone-%d", (i/racks)%3))
	}
	return offers
}

func BenchmarkMatch(b *testing.B) {
	sizes := []struct {
		agents, racks, instances int
		constraints              []string
	}{
		{100, 4, 80, []string{"hostname:UNIQUE", "rack_id:GROUP_BY:4", "zone:LIKE:zone-[0-2]"}},
		{10000, 20, 5000, []string{"hostname:UNIQUE", "rack_id:GROUP_BY:20", "zone:MAX_PER:1700"}},
		{10000, 20, 5000, nil},
	}
	for _, sz := range sizes {
		name := fmt.Sprintf("agents=%d/instances=%d/constraints=%d", sz.agents, sz.instances, len(sz.constraints))
		b.Run(name, func(b *testing.B) {
			offers := benchOffers(sz.agents, sz.racks)
			app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 0.5, 256; a.Constraints = cons(sz.constraints...) })
			reqs := []Request{{App: app, Count: sz.instances}}

			res := Match(offers, reqs, Options{Seed: 1})
			if u := res.Unplaced[0]; u != nil {
				b.Fatalf("not all placed: %s", u.Message)
			}
			if len(sz.constraints) > 0 {
				var run []Running
				for _, p := range res.Placements[0] {
					run = append(run, running(offers, p.AgentID)...)
				}
				if v := Violators(app, run); len(v) > 0 {
					b.Fatalf("%d placements violate the constraints", len(v))
				}
			}

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Match(offers, reqs, Options{Seed: int64(i)})
			}
			b.ReportMetric(float64(sz.instances)*float64(b.N)/b.Elapsed().Seconds(), "placements/s")
		})
	}
}

// BenchmarkViolators measures the constraint-only restart check of a large app.
func BenchmarkViolators(b *testing.B) {
	offers := benchOffers(10000, 20)
	app := mkApp(func(a *engine.App) {
		a.Constraints = cons("hostname:UNIQUE", "rack_id:GROUP_BY:20", "zone:MAX_PER:1700")
	})
	var run []Running
	for i := 0; i < 5000; i++ {
		run = append(run, running(offers, offers[(i*7)%len(offers)].AgentID.Value)...)
	}
	if v := Violators(app, run); len(v) != 0 {
		b.Fatalf("violators %v in an even spread", v[:min(len(v), 5)])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Violators(app, run)
	}
	b.ReportMetric(5000*float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}
