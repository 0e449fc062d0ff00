package api

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// fanOut is an API server with n event stream clients connected over real
// TCP, each counting the status_update_event frames it reads and noting, per
// event, the latest time any client got it.
type fanOut struct {
	bus     *executor.Bus
	srv     *httptest.Server
	cancel  context.CancelFunc
	clients sync.WaitGroup

	// base is the bus id of the first event the benchmark publishes.
	base    atomic.Uint64
	pubAt   []int64        // per event: UnixNano when published
	gotAt   []atomic.Int64 // per event: UnixNano of the last client to get it
	counts  []atomic.Int64 // per client: events received
	gaps    atomic.Int64   // stream_gap frames seen
	streams int
}

func newFanOut(b *testing.B, clients, events int) *fanOut {
	b.Helper()
	f := newFake(&executor.View{})
	f.bus = executor.NewBus(executor.DefaultBusEvents)
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080"})
	fo := &fanOut{bus: f.bus, srv: httptest.NewServer(s), pubAt: make([]int64, events), gotAt: make([]atomic.Int64, events),
		counts: make([]atomic.Int64, clients), streams: clients}
	ctx, cancel := context.WithCancel(context.Background())
	fo.cancel = cancel
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	attached := make(chan struct{}, clients)
	for i := 0; i < clients; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fo.srv.URL+"/v2/events?event_type=status_update_event,event_stream_attached", nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		fo.clients.Add(1)
		go fo.read(i, resp, attached)
	}
	for i := 0; i < clients; i++ {
		select {
		case <-attached:
		case <-time.After(30 * time.Second):
			b.Fatal("clients did not attach")
		}
	}
	return fo
}

// read is one client: it parses ids and counts frames.
func (fo *fanOut) read(i int, resp *http.Response, attached chan<- struct{}) {
	defer fo.clients.Done()
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var id uint64
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			id = 0
		case len(line) > 4 && string(line[:4]) == "id: ":
			s := string(line[4:])
			n, err := strconv.ParseUint(s[strings.LastIndexByte(s, '-')+1:], 10, 64)
			if err == nil {
				id = n
			}
		case string(line) == "event: stream_gap":
			fo.gaps.Add(1)
		case string(line) == "event: status_update_event":
			if base := fo.base.Load(); base > 0 && id >= base && int(id-base) < len(fo.gotAt) {
				now := time.Now().UnixNano()
				slot := &fo.gotAt[id-base]
				for {
					old := slot.Load()
					if now <= old || slot.CompareAndSwap(old, now) {
						break
					}
				}
				fo.counts[i].Add(1)
			}
		case string(line) == "event: event_stream_attached":
			if first { // its own; the others' follow
				first = false
				attached <- struct{}{}
			}
		}
	}
}

// publish publishes event n (a realistic status update).
func (fo *fanOut) publish(n int) {
	ev := fo.bus.Publish(executor.EventStatusUpdate, time.Now(), executor.StatusUpdate{
		SlaveID: "20150707-153709-201330860-5050-12052-S0", TaskID: fmt.Sprintf("shop_api.%08x-5d1f-11e5-88f7-56b91e7a505b", n),
		InstanceID: fmt.Sprintf("shop_api.%08x-5d1f-11e5-88f7-56b91e7a505b", n), TaskStatus: engine.TaskRunning,
		AppID: "/shop/api", Host: "agent-017.example.com", IPAddresses: []engine.IPAddr{{IPAddress: "10.0.0.17", Protocol: "IPv4"}},
		Ports: []int{31017}, Version: "2015-09-25T15:13:48.343Z",
	})
	if n == 0 {
		fo.base.Store(ev.ID)
	}
	fo.pubAt[n] = time.Now().UnixNano()
}

// wait waits until every client has every event (or fails).
func (fo *fanOut) wait(b *testing.B, events int) {
	deadline := time.Now().Add(2 * time.Minute)
	for c := range fo.counts {
		for fo.counts[c].Load() < int64(events) {
			if fo.gaps.Load() > 0 {
				b.Fatalf("a client fell behind the bus: %d stream_gap frames", fo.gaps.Load())
			}
			if time.Now().After(deadline) {
				b.Fatalf("client %d got %d of %d events", c, fo.counts[c].Load(), events)
			}
			time.Sleep(time.Millisecond) // polling interval
		}
	}
}

func (fo *fanOut) close() {
	fo.cancel()
	fo.clients.Wait()
	fo.srv.Close()
}

// latencies returns the p50 and p99 of publish → the last client's receipt.
func (fo *fanOut) latencies(events int) (p50, p99 time.Duration) {
	ls := make([]time.Duration, events)
	for i := 0; i < events; i++ {
		ls[i] = time.Duration(fo.gotAt[i].Load() - fo.pubAt[i])
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return ls[events/2], ls[events*99/100]
}

// BenchmarkEventFanOut1000PerSecond: 100 event stream clients and status updates
// published at 1,000 a second (the executor's pace in a busy cluster). It checks
// that every client gets every event (no stream falls behind: no stream_gap)
// and reports how long an event takes to reach the last of the 100 clients.
// One op is one event.
func BenchmarkEventFanOut1000PerSecond(b *testing.B) {
	const clients = 100
	events := b.N
	fo := newFanOut(b, clients, events)
	defer fo.close()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	// On schedule: every wake publishes the events due by then (a ticker alone
	// drops ticks when the machine is busy, and would publish fewer).
	for n := 0; n < events; {
		<-tick.C
		due := min(events, int(time.Since(start)/time.Millisecond)+1)
		for ; n < due; n++ {
			fo.publish(n)
		}
	}
	fo.wait(b, events)
	elapsed := time.Since(start)
	b.StopTimer()
	p50, p99 := fo.latencies(events)
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(fo.gaps.Load()), "gaps")
}

// BenchmarkEventFanOutMax: the same 100 clients, events published as fast as
// the bus takes them, in bursts of 5,000 (half of what the bus holds, so that
// no client can fall off it): the fan-out's headroom. One op is one event
// delivered to all 100 clients.
func BenchmarkEventFanOutMax(b *testing.B) {
	const clients, burst = 100, executor.DefaultBusEvents / 2
	fo := newFanOut(b, clients, b.N)
	defer fo.close()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		end := min(done+burst, b.N)
		for n := done; n < end; n++ {
			fo.publish(n)
		}
		fo.wait(b, end)
		done = end
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N*clients)/elapsed.Seconds(), "frames/s")
	b.ReportMetric(float64(fo.gaps.Load()), "gaps")
}
