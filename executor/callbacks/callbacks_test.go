package callbacks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/bolt"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
)

// deadline bounds every wait; reaching it fails the test (a failure deadline,
// not a performance threshold).
const deadline = 10 * time.Second

var evTime = time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)

// sink is a subscriber: an HTTP server that records what it is sent and
// answers as told.
type sink struct {
	srv *httptest.Server

	mu       sync.Mutex
	bodies   []string
	attempts int
	// answer decides the status of attempt n (1-based); nil: 200.
	answer func(n int, body string) int
	// hold, when set, makes every request wait until it is closed.
	hold chan struct{}
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		hold := s.hold
		s.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.attempts++
		code := 200
		if s.answer != nil {
			code = s.answer(s.attempts, string(body))
		}
		if code < 300 {
			s.bodies = append(s.bodies, string(body))
		}
		s.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// logs collects log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// seq is what the tests read of a delivered event; they publish payload.
type seq struct {
	EventType string `json:"eventType"`
	AppID     string `json:"appId"`
	N         int    `json:"n"`
}

type payload struct {
	AppID string `json:"appId,omitempty"`
	N     int    `json:"n"`
}

func decodeSeq(t *testing.T, bodies []string) []seq {
	t.Helper()
	out := make([]seq, len(bodies))
	for i, b := range bodies {
		if err := json.Unmarshal([]byte(b), &out[i]); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
	}
	return out
}

func start(t *testing.T, d *Dispatcher, subs ...executor.Subscriber) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d.sync(ctx, subs)
	t.Cleanup(func() { cancel(); d.stopAll() })
	return cancel
}

func sub(url string) executor.Subscriber {
	return executor.Subscriber{Subscription: engine.Subscription{CallbackURL: url}}
}

// TestDeliversEveryEventInOrder: each subscriber gets every event after its
// subscription, as the stream's JSON, each app's in publishing order.
func TestDeliversEveryEventInOrder(t *testing.T) {
	bus := executor.NewBus(10_000)
	m := metrics.New(nil)
	d := New(Config{Bus: bus, Metrics: m})
	a, b := newSink(t), newSink(t)
	bus.Publish("before", evTime, struct{}{})
	start(t, d, executor.Subscriber{Subscription: engine.Subscription{CallbackURL: a.srv.URL + "/a"}, After: bus.Last()}, sub(b.srv.URL+"/b"))
	for n := 0; n < 100; n++ {
		for _, app := range []string{"/x", "/y"} {
			bus.Publish(executor.EventStatusUpdate, evTime, payload{AppID: app, N: n})
		}
	}
	waitFor(t, "200 deliveries to a", func() bool { return len(a.got()) == 200 })
	waitFor(t, "201 deliveries to b (it subscribed at 0)", func() bool { return len(b.got()) == 201 })
	for name, s := range map[string]*sink{"a": a, "b": b} {
		next := map[string]int{}
		bodies := s.got()
		if name == "b" {
			if !strings.HasPrefix(bodies[0], `{"eventType":"before","timestamp":"2024-03-02T12:00:01.000Z"`) {
				t.Errorf("b's first event %s", bodies[0])
			}
			bodies = bodies[1:]
		}
		for _, e := range decodeSeq(t, bodies) {
			if e.EventType != executor.EventStatusUpdate || e.N != next[e.AppID] {
				t.Fatalf("%s: %s event %d came when %d was due", name, e.AppID, e.N, next[e.AppID])
			}
			next[e.AppID]++
		}
	}
	if got := m.Document().Counters["stride.event.callbacks{result=delivered}"].Count; got != 401 {
		t.Errorf("delivered counted %d, want 401", got)
	}
}

// TestSlowSubscriberBlocksNoOne: a subscriber that does not answer holds up
// neither the bus nor another subscriber; its backlog stays bounded, the
// oldest events going first, and the loss is counted.
func TestSlowSubscriberBlocksNoOne(t *testing.T) {
	bus := executor.NewBus(10_000)
	m := metrics.New(nil)
	var l logs
	d := New(Config{Bus: bus, Metrics: m, MaxBacklog: 10, Logf: l.logf})
	slow, fast := newSink(t), newSink(t)
	slow.hold = make(chan struct{})
	start(t, d, sub(slow.srv.URL), sub(fast.srv.URL))
	bus.Publish("e", evTime, payload{N: 0})
	waitFor(t, "the slow subscriber stuck on the first event", func() bool {
		return d.Subscribers() == 2 && len(fast.got()) == 1
	})
	// In chunks the fast subscriber keeps up with (its backlog is bounded too).
	for n := 1; n < 200; n++ {
		bus.Publish("e", evTime, payload{N: n})
		if n%5 == 0 {
			waitFor(t, "the fast subscriber served", func() bool { return len(fast.got()) == n+1 })
		}
	}
	waitFor(t, "the fast subscriber served", func() bool { return len(fast.got()) == 200 })
	slow.mu.Lock()
	close(slow.hold)
	slow.hold = nil
	slow.mu.Unlock()
	dropped := func() int64 {
		return m.Document().Counters["stride.events.dropped{consumer=callback,reason=backlog_full}"].Count
	}
	waitFor(t, "the slow subscriber's last event", func() bool {
		got := slow.got()
		return len(got) > 0 && decodeSeq(t, got[len(got)-1:])[0].N == 199
	})
	got := decodeSeq(t, slow.got())
	if len(got) > 1+64+10 || int64(len(got))+dropped() != 200 {
		t.Errorf("slow subscriber got %d, dropped %d: want at most 75 (the event it was stuck on, a batch, the backlog) and the rest dropped", len(got), dropped())
	}
	for i := 1; i < len(got); i++ {
		if got[i].N <= got[i-1].N {
			t.Fatalf("out of order: %d after %d", got[i].N, got[i-1].N)
		}
	}
	if !strings.Contains(l.text(), "dropped") {
		t.Errorf("the drops were not logged:\n%s", l.text())
	}
}

// TestRetriesWithBackoff: a failed delivery is tried again after a doubling
// backoff; after MaxAttempts the event is given up, counted, and the backoff
// carries over to the next event until a delivery works.
func TestRetriesWithBackoff(t *testing.T) {
	bus := executor.NewBus(100)
	m := metrics.New(nil)
	var l logs
	d := New(Config{Bus: bus, Metrics: m, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxAttempts: 3, Logf: l.logf})
	var mu sync.Mutex
	var waits []time.Duration
	d.wait = func(ctx context.Context, w time.Duration) bool {
		mu.Lock()
		waits = append(waits, w)
		mu.Unlock()
		return ctx.Err() == nil
	}
	s := newSink(t)
	// Event 0: two failures, then delivered. Event 1: always 503 (given up).
	// Event 2: one failure, then delivered.
	s.answer = func(n int, body string) int {
		switch {
		case strings.Contains(body, `"n":0`) && n <= 2:
			return 503
		case strings.Contains(body, `"n":1`):
			return 503
		case strings.Contains(body, `"n":2`) && n == 7:
			return http.StatusFound
		}
		return 200
	}
	url := strings.Replace(s.srv.URL, "http://", "http://user:pw-secret@", 1) + "/hook?token=tok-secret"
	start(t, d, sub(url))
	for n := 0; n < 3; n++ {
		bus.Publish("e", evTime, payload{N: n})
	}
	waitFor(t, "event 2 delivered", func() bool { return len(s.got()) == 2 })
	got := decodeSeq(t, s.got())
	if got[0].N != 0 || got[1].N != 2 {
		t.Fatalf("delivered %+v, want events 0 and 2", got)
	}
	mu.Lock()
	defer mu.Unlock()
	// 0: fail, wait 10, fail, wait 20, ok (reset). 1: fail, wait 10, fail, wait
	// 20, fail: given up (backoff now 40). 2: wait 40, 302 (a redirect is a
	// failure), wait 40, ok.
	want := "[10ms 20ms 10ms 20ms 40ms 40ms]"
	if fmt.Sprint(waits) != want {
		t.Errorf("waits %v, want %s", waits, want)
	}
	doc := m.Document()
	if doc.Counters["stride.event.callbacks{result=failed}"].Count != 1 || doc.Counters["stride.events.dropped{consumer=callback,reason=undeliverable}"].Count != 1 ||
		doc.Counters["stride.event.callbacks{result=delivered}"].Count != 2 {
		t.Errorf("counters: %+v", doc.Counters)
	}
	text := l.text()
	if !strings.Contains(text, "delivery failed") || !strings.Contains(text, "delivering again") || !strings.Contains(text, "127.0.0.1") {
		t.Errorf("log:\n%s", text)
	}
	if strings.Contains(text, "pw-secret") || strings.Contains(text, "tok-secret") {
		t.Errorf("the log holds the URL's password or query:\n%s", text)
	}
}

// TestRedirectsAreNotFollowed: a 3xx is a failed delivery; the target it names
// is never asked.
func TestRedirectsAreNotFollowed(t *testing.T) {
	target := newSink(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.srv.URL, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	bus := executor.NewBus(100)
	m := metrics.New(nil)
	d := New(Config{Bus: bus, Metrics: m, MaxAttempts: 2})
	d.wait = func(ctx context.Context, _ time.Duration) bool { return ctx.Err() == nil }
	start(t, d, sub(redirect.URL))
	bus.Publish("e", evTime, struct{}{})
	waitFor(t, "the event given up", func() bool {
		return m.Document().Counters["stride.event.callbacks{result=failed}"].Count == 1
	})
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.attempts != 0 {
		t.Errorf("the redirect target was asked %d times", target.attempts)
	}
}

func TestRefusedAddresses(t *testing.T) {
	for addr, refused := range map[string]bool{
		"169.254.169.254:80": true, "[fe80::1]:80": true, "224.0.0.1:80": true, "[ff02::1]:80": true,
		"0.0.0.0:80": true, "[::]:80": true,
		"127.0.0.1:80": false, "[::1]:80": false, "10.1.2.3:80": false, "192.168.1.1:80": false, "8.8.8.8:443": false,
	} {
		if err := refuseAddress("tcp", addr, nil); (err != nil) != refused {
			t.Errorf("%s: %v, want refused %v", addr, err, refused)
		}
	}
	// Through the client: a name resolving to a refused address is refused too.
	_, err := Client().Post("http://169.254.169.254:9/latest/meta-data", "application/json", nil)
	if err == nil || !strings.Contains(err.Error(), "link-local") {
		t.Errorf("metadata address: %v", err)
	}
}

// TestUnsubscribedStops: a subscriber removed from the view gets nothing more.
func TestUnsubscribedStops(t *testing.T) {
	bus := executor.NewBus(100)
	d := New(Config{Bus: bus})
	s := newSink(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.sync(ctx, []executor.Subscriber{sub(s.srv.URL)})
	bus.Publish("e", evTime, payload{N: 1})
	waitFor(t, "the first event", func() bool { return len(s.got()) == 1 })
	d.mu.Lock()
	w := d.workers[s.srv.URL]
	d.mu.Unlock()
	d.sync(ctx, nil)
	<-w.done
	bus.Publish("e", evTime, payload{N: 2})
	if d.Subscribers() != 0 || len(s.got()) != 1 {
		t.Errorf("after unsubscribing: %d workers, %d events", d.Subscribers(), len(s.got()))
	}
}

// TestWithExecutor: subscriptions made through a real executor (bolt store)
// are delivered by Run, which follows the executor's views: the subscriber
// gets its own subscribe_event first, and nothing once it unsubscribed.
func TestWithExecutor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ex, err := executor.New(ctx, executor.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = ex.Run(ctx) }()
	d := New(Config{Bus: ex.Bus()})
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx, ex.View) }()
	s := newSink(t)
	if _, err := ex.Subscribe(ctx, engine.Subscription{CallbackURL: s.srv.URL + "/e", ClientIP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the subscribe_event", func() bool { return len(s.got()) == 1 })
	if got := decodeSeq(t, s.got()); got[0].EventType != executor.EventSubscribe {
		t.Fatalf("first delivery %+v, want its own subscribe_event", got[0])
	}
	ex.Bus().Publish("later", evTime, struct{}{})
	waitFor(t, "a later event", func() bool { return len(s.got()) == 2 })
	if _, err := ex.Unsubscribe(ctx, s.srv.URL+"/e", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker stopped", func() bool { return d.Subscribers() == 0 })
	ex.Bus().Publish("after", evTime, struct{}{})
	// Its own unsubscribe_event may have been under way when the worker
	// stopped; nothing published later is delivered.
	for _, e := range decodeSeq(t, s.got())[2:] {
		if e.EventType != executor.EventUnsubscribe {
			t.Errorf("delivered %s after unsubscribing", e.EventType)
		}
	}
	cancel()
	<-done
}

// BenchmarkDelivery: events POSTed to 10 local subscribers (keep-alive
// connections); one op is one event delivered to all of them.
func BenchmarkDelivery(b *testing.B) {
	const subscribers = 10
	bus := executor.NewBus(executor.DefaultBusEvents)
	d := New(Config{Bus: bus, MaxBacklog: executor.DefaultBusEvents})
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	defer srv.Close()
	var subs []executor.Subscriber
	for i := 0; i < subscribers; i++ {
		subs = append(subs, sub(fmt.Sprintf("%s/s%d", srv.URL, i)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.sync(ctx, subs)
	defer func() { cancel(); d.stopAll() }()
	b.ResetTimer()
	for done := 0; done < b.N; {
		end := min(done+1000, b.N)
		for n := done; n < end; n++ {
			bus.Publish(executor.EventStatusUpdate, evTime, payload{AppID: "/a", N: n})
		}
		for got.Load() < int64(end*subscribers) {
			time.Sleep(100 * time.Microsecond) // polling interval
		}
		done = end
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*subscribers)/b.Elapsed().Seconds(), "deliveries/s")
}
