package driver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/executor/localmesos"
)

// BenchmarkAcknowledgedUpdates measures status updates per second through the
// driver: decoded off the stream, handed to the handler, acknowledged.
//
//   - fake: a fake master streams updates as fast as the driver takes them;
//     this is the driver's own cost (decode, dispatch, one ACKNOWLEDGE POST
//     each).
//   - localmesos: tasks launched on the stand-in run `true` (STARTING,
//     RUNNING, FINISHED: three acknowledged updates each); this is the
//     end-to-end rate, dominated by the stand-in starting processes.
func BenchmarkAcknowledgedUpdates(b *testing.B) {
	for _, codec := range []string{"protobuf", "json"} {
		b.Run("fake/"+codec, func(b *testing.B) { benchFake(b, codec) })
	}
	b.Run("localmesos", benchLocalmesos)
}

// benchFake streams batches of updates from a fake master.
func benchFake(b *testing.B, codec string) {
	f := newFakeMaster(b)
	batches := make(chan int)
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		s := openFakeStream(w, r, "s")
		_ = s.send(subscribedEvent("fw-1", 15))
		seq := uint64(0)
		for {
			select {
			case n := <-batches:
				for i := 0; i < n; i++ {
					seq++
					uuid := make([]byte, 16)
					binary.BigEndian.PutUint64(uuid[8:], seq)
					if err := s.send(updateEvent(fmt.Sprintf("t%d", seq), mesos.TASK_RUNNING, uuid)); err != nil {
						return
					}
				}
			case <-r.Context().Done():
				return
			}
		}
	}
	var acked atomic.Int64
	var mu sync.Mutex
	var bad []string // acknowledgements that do not match their update
	ackedCh := make(chan struct{}, 1)
	f.setAnswer(func(c *scheduler.Call) (int, string) {
		if c.Type == scheduler.Call_ACKNOWLEDGE {
			a := c.Acknowledge
			if want := fmt.Sprintf("t%d", binary.BigEndian.Uint64(a.UUID[8:])); a.TaskID.Value != want || a.AgentID.Value != "agent-1" {
				mu.Lock()
				bad = append(bad, a.TaskID.Value)
				mu.Unlock()
			}
			acked.Add(1)
			select {
			case ackedCh <- struct{}{}:
			default:
			}
		}
		return http.StatusAccepted, ""
	})
	h := &countingHandler{}
	cfg := testConfig(b, f.URL())
	cfg.Codec = codec
	cfg.Logf = nil
	start(b, cfg, h)
	waitUntil(b, "Subscribed", func() bool { return h.subscribed.Load() })
	waitAcks := func(n int64) {
		deadline := time.After(waitTimeout)
		for acked.Load() < n {
			select {
			case <-ackedCh:
			case <-deadline:
				b.Fatalf("%d of %d updates acknowledged", acked.Load(), n)
			}
		}
	}

	// Right before fast: 100 updates, each acknowledged with its own task
	// and uuid, each handed to the handler.
	batches <- 100
	waitAcks(100)
	mu.Lock()
	if len(bad) > 0 || h.updates.Load() != 100 {
		b.Fatalf("mismatched acknowledgements %v; %d updates handled", bad, h.updates.Load())
	}
	mu.Unlock()

	acked.Store(0)
	b.ResetTimer()
	begin := time.Now()
	batches <- b.N
	waitAcks(int64(b.N))
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "updates/s")
}

// countingHandler counts, for the benchmarks.
type countingHandler struct {
	subscribed atomic.Bool
	updates    atomic.Int64
	mu         sync.Mutex
	offers     []mesos.Offer
}

func (c *countingHandler) Subscribed(context.Context, string, bool) { c.subscribed.Store(true) }
func (c *countingHandler) Disconnected(context.Context, error)      {}
func (c *countingHandler) Offers(_ context.Context, offers []mesos.Offer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offers = append(c.offers, offers...)
}
func (c *countingHandler) Rescind(context.Context, string)                 {}
func (c *countingHandler) Update(context.Context, mesos.TaskStatus)        { c.updates.Add(1) }
func (c *countingHandler) Failure(context.Context, string, string, *int32) {}
func (c *countingHandler) Removed(context.Context, string)                 {}
func (c *countingHandler) takeOffer() (mesos.Offer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.offers) == 0 {
		return mesos.Offer{}, false
	}
	o := c.offers[0]
	c.offers = c.offers[1:]
	return o, true
}

// waitUntil polls cond with a deadline.
func waitUntil(b testing.TB, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// benchLocalmesos launches batches of short tasks on the stand-in.
func benchLocalmesos(b *testing.B) {
	const batch = 20
	m := newMaster(b, func(c *localmesos.Config) { c.Agents = 1 })
	h := &countingHandler{}
	cfg := testConfig(b, m.URL())
	cfg.Logf = nil
	d := start(b, cfg, h)
	waitUntil(b, "Subscribed", func() bool { return h.subscribed.Load() })
	round := 0
	runBatch := func() {
		var o mesos.Offer
		waitUntil(b, "an offer", func() bool {
			var ok bool
			o, ok = h.takeOffer()
			return ok
		})
		round++
		tasks := make([]mesos.TaskInfo, batch)
		for i := range tasks {
			tasks[i] = shellTask(o, fmt.Sprintf("r%d-%d", round, i), "true")
		}
		if err := d.Launch(context.Background(), []string{o.ID.Value}, tasks, 0); err != nil {
			b.Fatal(err)
		}
		// Every task finished and every update of it acknowledged: the
		// stand-in forgets a task once its terminal update is.
		waitUntil(b, "the batch to finish", func() bool { return len(m.Tasks()) == 0 })
	}

	runBatch()
	if got := h.updates.Load(); got != 3*batch {
		b.Fatalf("%d updates for %d tasks, want 3 each (STARTING, RUNNING, FINISHED)", got, batch)
	}
	h.updates.Store(0)
	b.ResetTimer()
	begin := time.Now()
	for i := 0; i < b.N; i++ {
		runBatch()
	}
	b.StopTimer()
	b.ReportMetric(float64(h.updates.Load())/time.Since(begin).Seconds(), "updates/s")
}
