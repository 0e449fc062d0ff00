package catalog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stride-run/stride/engine/store/consul/consultest"
)

// bigWorld is 1,000 apps of 10 tasks on 100 hosts.
func bigWorld() *world {
	w := newWorld()
	for a := 0; a < 1000; a++ {
		id := fmt.Sprintf("/team%d/app%d", a%20, a)
		w.apps = append(w.apps, webApp(id))
		for i := 0; i < 10; i++ {
			n := a*10 + i
			w.run(id, fmt.Sprintf("team%d_app%d.%d", a%20, a, i), fmt.Sprintf("10.0.%d.%d", n%100/250, n%100), i != 0, 31000+n%1000, 32000+n%1000)
		}
	}
	return w
}

// The registry's work on every view of the executor: 10,000 tasks compared
// with the mirror (nothing changed: the common case).
func BenchmarkPlanUnchanged10k(b *testing.B) {
	w := bigWorld()
	v := w.view()
	r := New(Config{Owner: "stride/", Now: time.Now})
	units, _ := r.plan(v)
	r.applied(units)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if units, _ := r.plan(v); len(units) != 0 {
			b.Fatalf("%d units for an unchanged view", len(units))
		}
	}
	b.ReportMetric(float64(len(v.Tasks)), "tasks/op")
}

// Registrations written into a real Consul dev agent: 10,000 tasks on 100
// hosts from nothing, in transactions of 63 operations.
func BenchmarkRegister10k(b *testing.B) {
	agent := consultest.Start(b, consultest.Options{})
	cl := agent.Client(b)
	v := bigWorld().view()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := New(Config{Client: cl, Owner: fmt.Sprintf("bench%d/", i)})
		if _, err := r.Sync(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(v.Tasks)*b.N)/b.Elapsed().Seconds(), "registrations/s")
}
