package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
)

// deadline bounds every wait on the event stream; reaching it fails the test (it
// is a failure deadline, not a performance threshold).
const deadline = 5 * time.Second

// frame is one parsed SSE frame.
type frame struct {
	id, event, data string
}

// sseStream is an open GET /v2/events.
type sseStream struct {
	resp   *http.Response
	frames chan frame
	errc   chan error
}

// openEvents connects to /v2/events and parses frames in the background.
func openEvents(t *testing.T, ctx context.Context, url string, header map[string]string) *sseStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	st := &sseStream{resp: resp, frames: make(chan frame, 1000), errc: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f != (frame{}) {
					st.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, "id: "):
				f.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				f.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				f.data = line[6:]
			case strings.HasPrefix(line, ":"):
			default:
				st.errc <- &badLine{line}
				return
			}
		}
		st.errc <- sc.Err()
	}()
	return st
}

type badLine struct{ line string }

func (e *badLine) Error() string { return "unexpected SSE line " + e.line }

// next returns the next frame, failing the test at the deadline.
func (st *sseStream) next(t *testing.T) frame {
	t.Helper()
	select {
	case f := <-st.frames:
		return f
	case err := <-st.errc:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(deadline):
		t.Fatal("no event before the deadline")
	}
	return frame{}
}

func payload(t *testing.T, f frame) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(f.data), &m); err != nil {
		t.Fatalf("frame data %q: %v", f.data, err)
	}
	if m["eventType"] != f.event || m["timestamp"] == nil {
		t.Fatalf("frame %+v: data must carry eventType (= the event line) and timestamp", f)
	}
	return m
}

var streamNow = time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)

func TestEventsAttachedThenLive(t *testing.T) {
	s, f := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := openEvents(t, ctx, srv.URL+"/v2/events", nil)
	if ct := st.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	first := st.next(t)
	bus := f.bus
	if first.event != executor.EventStreamAttached || first.id != bus.StreamID(1) {
		t.Fatalf("first frame = %+v, want event_stream_attached with the attachment's id %s", first, bus.StreamID(1))
	}
	att := payload(t, first)
	if att["timestamp"] != "2024-03-02T12:00:00.000Z" || att["remoteAddress"] != "127.0.0.1" {
		t.Errorf("attached payload = %v", att)
	}
	bus.Publish(executor.EventStatusUpdate, streamNow, executor.StatusUpdate{TaskID: "shop_api.0a", InstanceID: "shop_api.0a", TaskStatus: "TASK_RUNNING", AppID: "/shop/api"})
	bus.Publish(executor.EventDeploymentSuccess, streamNow, executor.DeploymentSuccess{ID: "dep-1"})
	for i, want := range []frame{
		{id: bus.StreamID(2), event: "status_update_event", data: `{"eventType":"status_update_event","timestamp":"2024-03-02T12:00:01.000Z","slaveId":"","taskId":"shop_api.0a","instanceId":"shop_api.0a","taskStatus":"TASK_RUNNING","message":"","appId":"/shop/api","host":"","ipAddresses":null,"ports":null,"version":""}`},
		{id: bus.StreamID(3), event: "deployment_success", data: `{"eventType":"deployment_success","timestamp":"2024-03-02T12:00:01.000Z","id":"dep-1","plan":{"id":"","steps":null,"version":""}}`},
	} {
		if got := st.next(t); got != want {
			t.Errorf("frame %d = %+v\nwant %+v", i, got, want)
		}
	}
}

func TestEventsFilter(t *testing.T) {
	s, f := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := openEvents(t, ctx, srv.URL+"/v2/events?event_type=event_stream_attached&event_type=deployment_info,deployment_failed", nil)
	if got := st.next(t); got.event != executor.EventStreamAttached {
		t.Fatalf("first frame = %+v", got)
	}
	f.bus.Publish(executor.EventStatusUpdate, streamNow, executor.StatusUpdate{TaskID: "x"})
	f.bus.Publish(executor.EventDeploymentInfo, streamNow, executor.DeploymentStepEvent{})
	f.bus.Publish(executor.EventDeploymentFailed, streamNow, executor.DeploymentFailed{})
	if got := st.next(t); got.event != executor.EventDeploymentInfo || got.id != f.bus.StreamID(3) {
		t.Errorf("frame = %+v, want deployment_info %s (status_update_event filtered out)", got, f.bus.StreamID(3))
	}
	if got := st.next(t); got.event != executor.EventDeploymentFailed {
		t.Errorf("frame = %+v, want deployment_failed (comma-separated types)", got)
	}
}

// TestEventsReplay: Last-Event-ID replays what the bus holds after that id, then
// live events follow; the attached frame carries no id (the client's last id
// stays that of the last event it saw); a filter without event_stream_attached
// drops it.
func TestEventsReplay(t *testing.T) {
	s, f := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, typ := range []string{"deployment_info", "status_update_event", "deployment_info", "deployment_success"} {
		f.bus.Publish(typ, streamNow, struct{}{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := openEvents(t, ctx, srv.URL+"/v2/events", map[string]string{"Last-Event-ID": f.bus.StreamID(1)})
	first := st.next(t)
	if first.event != executor.EventStreamAttached || first.id != "" {
		t.Fatalf("first frame %+v, want event_stream_attached without an id", first)
	}
	for _, want := range []string{"2 status_update_event", "3 deployment_info", "4 deployment_success"} {
		if got := st.next(t); got.id+" "+got.event != f.bus.Epoch()+"-"+want {
			t.Errorf("frame %s %s, want %s", got.id, got.event, want)
		}
	}
	f.bus.Publish("deployment_success", streamNow, struct{}{})
	if got := st.next(t); got.id != f.bus.StreamID(6) {
		t.Errorf("live frame = %+v, want id 6 (5 is the attachment, not repeated)", got)
	}

	filtered := openEvents(t, ctx, srv.URL+"/v2/events?event_type=deployment_success", map[string]string{"Last-Event-ID": f.bus.StreamID(3)})
	for _, want := range []string{f.bus.StreamID(4), f.bus.StreamID(6)} {
		if got := filtered.next(t); got.id != want || got.event != "deployment_success" {
			t.Errorf("filtered replay frame %+v, want %s deployment_success", got, want)
		}
	}
}

// TestEventsGap: a Last-Event-ID the bus cannot replay from gets a stream_gap
// frame saying why, then what the bus holds — never an error, which would stop
// SSE clients from reconnecting.
func TestEventsGap(t *testing.T) {
	other := executor.NewBus(10)
	cases := map[string]struct {
		lastID func(b *executor.Bus) string
		reason string
		missed float64 // -1: not said
	}{
		// 150 published, 100 held (51..150; the attachment, published first,
		// pushes 51 out): 11..51 are lost.
		"too old":          {func(b *executor.Bus) string { return b.StreamID(10) }, executor.GapTooOld, 41},
		"another leader":   {func(*executor.Bus) string { return other.StreamID(120) }, executor.GapUnknownID, -1},
		"marathon numeric": {func(*executor.Bus) string { return "12" }, executor.GapUnknownID, -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(fixtureView())
			f.bus = executor.NewBus(100)
			s := New(f, Info{HTTPAddr: "127.0.0.1:8080"})
			srv := httptest.NewServer(s)
			defer srv.Close()
			for i := 0; i < 150; i++ {
				f.bus.Publish("deployment_info", streamNow, struct{}{})
			}
			lastID := tc.lastID(f.bus)
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			defer cancel()
			st := openEvents(t, ctx, srv.URL+"/v2/events?event_type=deployment_info", map[string]string{"Last-Event-ID": lastID})
			if st.resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", st.resp.StatusCode)
			}
			gap := st.next(t)
			if gap.event != executor.EventStreamGap || gap.id != "" {
				t.Fatalf("first frame %+v, want stream_gap without id (sent whatever the filter)", gap)
			}
			p := payload(t, gap)
			if p["reason"] != tc.reason || p["lastEventId"] != lastID || p["message"] == "" {
				t.Errorf("stream_gap %v", p)
			}
			if missed, ok := p["missed"].(float64); tc.missed >= 0 && missed != tc.missed || tc.missed < 0 && ok {
				t.Errorf("stream_gap missed %v, want %v", p["missed"], tc.missed)
			}
			// Then the oldest event the bus holds.
			if got := st.next(t); got.event != "deployment_info" || got.id != f.bus.StreamID(52) {
				t.Errorf("after the gap: %+v, want the oldest held, %s", got, f.bus.StreamID(52))
			}
		})
	}
}

// gatedWriter is a ResponseWriter whose writes wait while the gate is closed:
// a client that stopped reading.
type gatedWriter struct {
	*httptest.ResponseRecorder
	mu      sync.Mutex
	gate    chan struct{}
	blocked chan struct{}
	once    sync.Once
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.once.Do(func() { close(g.blocked) })
		<-gate
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ResponseRecorder.Write(p)
}

func (g *gatedWriter) body() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.Body.String()
}

// TestEventsSlowConsumer: a stream whose client stops reading holds up nothing
// (publishing goes on), and once it reads again it is told how many events it
// lost, and the loss is counted.
func TestEventsSlowConsumer(t *testing.T) {
	f := newFake(fixtureView())
	f.bus = executor.NewBus(50)
	m := metrics.New(nil)
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", Metrics: m})
	w := &gatedWriter{ResponseRecorder: httptest.NewRecorder(), blocked: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/v2/events", nil)
	r.Host = "127.0.0.1:8080"
	done := make(chan struct{})
	go func() { defer close(done); s.ServeHTTP(w, r) }()
	waitUntil(t, "the attached frame", func() bool { return strings.Contains(w.body(), "event_stream_attached") })
	w.mu.Lock()
	w.gate = make(chan struct{})
	gate := w.gate
	w.mu.Unlock()
	f.bus.Publish("first", streamNow, struct{}{})
	<-w.blocked // the stream is stuck writing "first"
	for i := 0; i < 500; i++ {
		f.bus.Publish("flood", streamNow, struct{}{})
	}
	w.mu.Lock()
	w.gate = nil
	w.mu.Unlock()
	close(gate)
	waitUntil(t, "a stream_gap", func() bool { return strings.Contains(w.body(), "stream_gap") })
	cancel()
	<-done
	body := w.body()
	if !strings.Contains(body, `"reason":"slow_consumer"`) || !strings.Contains(body, `"missed":450`) {
		t.Errorf("stream_gap does not say 450 events were missed (500 published while it was stuck, 50 held):\n%.2000s", body[strings.Index(body, "stream_gap")-40:])
	}
	if got := m.Document().Counters["stride.events.dropped{consumer=stream,reason=slow_consumer}"].Count; got != 450 {
		t.Errorf("dropped counted %d, want 450", got)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestEventsDetachedPublished: a stream that ends publishes
// event_stream_detached (other clients and the callbacks see it), and the
// stream gauge follows.
func TestEventsDetachedPublished(t *testing.T) {
	f := newFake(fixtureView())
	m := metrics.New(nil)
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", Metrics: m})
	srv := httptest.NewServer(s)
	defer srv.Close()
	watch, stop := f.bus.Subscribe(0)
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	st := openEvents(t, ctx, srv.URL+"/v2/events", nil)
	st.next(t)
	if got := m.Document().Gauges["stride.event.streams"].Value; got != 1 {
		t.Errorf("open streams %v, want 1", got)
	}
	cancel()
	for {
		select {
		case ev := <-watch:
			if ev.Type != executor.EventStreamDetached {
				continue
			}
			var p executor.StreamEvent
			if err := ev.Decode(&p); err != nil || p.RemoteAddress != "127.0.0.1" {
				t.Errorf("event_stream_detached %s", ev.JSON)
			}
			waitUntil(t, "the stream gauge back at 0", func() bool { return m.Document().Gauges["stride.event.streams"].Value == 0 })
			return
		case <-time.After(deadline):
			t.Fatal("no event_stream_detached")
		}
	}
}

// TestEventsClientIPThroughStandby: a request a standby forwarded names the
// client the standby saw.
func TestEventsClientIPThroughStandby(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v2/events", nil)
	r.RemoteAddr = "10.0.0.2:5555"
	if got := clientIP(r); got != "10.0.0.2" {
		t.Errorf("direct: %s", got)
	}
	r.Header.Set("X-Forwarded-For", "1.2.3.4, 10.9.9.9")
	if got := clientIP(r); got != "10.0.0.2" {
		t.Errorf("X-Forwarded-For without X-Marathon-Via must be ignored: %s", got)
	}
	r.Header.Set("X-Marathon-Via", "1.1 10.0.0.2:8080")
	if got := clientIP(r); got != "10.9.9.9" {
		t.Errorf("through a standby: %s, want the address it appended", got)
	}
}

// TestEventsEndOnClose: Close ends open streams (so http.Server.Shutdown can
// finish).
func TestEventsEndOnClose(t *testing.T) {
	s, _ := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := openEvents(t, ctx, srv.URL+"/v2/events", nil)
	st.next(t)
	s.Close()
	select {
	case err := <-st.errc:
		if err != nil {
			t.Errorf("stream ended with %v, want a clean end", err)
		}
	case f := <-st.frames:
		t.Errorf("unexpected frame %+v", f)
	case <-time.After(deadline):
		t.Fatal("stream still open after Close")
	}
}
