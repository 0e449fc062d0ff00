package executor

import (
	"context"
	"fmt"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// BenchmarkHousekeepingUnreachable times one housekeeping tick (what the actor does every
// 100 ms: deployments, decisions, unreachable tasks, reconciliation retries)
// over 100 apps of 100 running tasks, with none, or 1% of them unreachable and
// every task awaiting a reconciliation answer:
//
//	go test -run '^$' -bench Housekeeping ./executor/
func BenchmarkHousekeepingUnreachable(b *testing.B) {
	for _, unreachable := range []int{0, 100} {
		b.Run(fmt.Sprintf("tasks=10000/unreachable=%d", unreachable), func(b *testing.B) {
			clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			store := newMemStore()
			ctx := context.Background()
			e, err := New(ctx, Config{Store: store, Now: clock.now})
			if err != nil {
				b.Fatal(err)
			}
			defer e.health.stopAll()
			fm := &fakeMesos{}
			e.SetMesos(fm)
			e.connected = true
			var apps []*engine.App
			for i := 0; i < 100; i++ {
				a := testApp(fmt.Sprintf("/bench/app%03d", i), 100, "sleep 100")
				a.HealthChecks = nil
				a.UnreachableStrategy = &engine.UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 600}
				apps = append(apps, a)
			}
			if _, err := e.apply(ctx, ApplyRequest{Spec: spec(apps...)}); err != nil {
				b.Fatal(err)
			}
			for len(fm.launched) < 10000 {
				n := len(fm.launched)
				var offers []mesos.Offer
				for i := 1; i <= 50; i++ {
					offers = append(offers, benchOffer(fmt.Sprintf("o%d-%d", n, i), i))
				}
				e.handleOffers(ctx, offers)
				if len(fm.launched) == n {
					b.Fatalf("stuck at %d launched", n)
				}
			}
			for id, t := range e.tasks {
				e.handleUpdate(ctx, mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: mesos.TASK_RUNNING.Enum(), AgentID: &mesos.AgentID{Value: t.SlaveID}})
			}
			n := 0
			for id, t := range e.tasks {
				if n == unreachable {
					break
				}
				n++
				e.handleUpdate(ctx, mesos.TaskStatus{TaskID: mesos.TaskID{Value: id}, State: mesos.TASK_UNREACHABLE.Enum(), AgentID: &mesos.AgentID{Value: t.SlaveID},
					UnreachableTime: &mesos.TimeInfo{Nanoseconds: clock.t.UnixNano()}})
			}
			e.housekeeping(ctx)
			e.reconcile(ctx)
			if len(e.tasks) != 10000 || len(e.recon.unanswered) != 10000 {
				b.Fatalf("%d tasks, %d awaiting reconciliation", len(e.tasks), len(e.recon.unanswered))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.housekeeping(ctx)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/task")
		})
	}
}

// benchOffer is a large offer of agent i.
func benchOffer(id string, i int) mesos.Offer {
	role := "*"
	alloc := &mesos.Resource_AllocationInfo{Role: &role}
	return mesos.Offer{
		ID: mesos.OfferID{Value: id}, AgentID: mesos.AgentID{Value: fmt.Sprintf("a%d", i)}, Hostname: fmt.Sprintf("10.0.%d.%d", i/250, i%250),
		Resources: []mesos.Resource{
			{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1000}, AllocationInfo: alloc},
			{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 1 << 20}, AllocationInfo: alloc},
			{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 10000, End: 60000}}}, AllocationInfo: alloc},
		},
	}
}
