package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
	st := &sseStream{resp: resp, frames: make(chan frame, 100), errc: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(resp.Body)
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
	if first.event != "event_stream_attached" || first.id != "" {
		t.Fatalf("first frame = %+v, want event_stream_attached without id", first)
	}
	var att map[string]any
	if err := json.Unmarshal([]byte(first.data), &att); err != nil {
		t.Fatal(err)
	}
	if att["eventType"] != "event_stream_attached" || att["timestamp"] != "2024-03-02T12:00:00.000Z" || att["remoteAddress"] != "127.0.0.1" {
		t.Errorf("attached payload = %v", att)
	}
	// Subscribed before attached was written: live events arrive in order.
	now := time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)
	f.bus.Publish("status_update_event", now, map[string]any{"taskId": "shop_api.0a", "taskStatus": "TASK_RUNNING"})
	f.bus.Publish("deployment_success", now, map[string]any{"id": "dep-1"})
	for i, want := range []frame{
		{id: "1", event: "status_update_event", data: `{"eventType":"status_update_event","taskId":"shop_api.0a","taskStatus":"TASK_RUNNING","timestamp":"2024-03-02T12:00:01.000Z"}`},
		{id: "2", event: "deployment_success", data: `{"eventType":"deployment_success","id":"dep-1","timestamp":"2024-03-02T12:00:01.000Z"}`},
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
	st := openEvents(t, ctx, srv.URL+"/v2/events?event_type=event_stream_attached&event_type=deployment_info", nil)
	if got := st.next(t); got.event != "event_stream_attached" {
		t.Fatalf("first frame = %+v", got)
	}
	now := time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)
	f.bus.Publish("status_update_event", now, map[string]any{"taskId": "x"})
	f.bus.Publish("deployment_info", now, map[string]any{"plan": map[string]any{"id": "dep-1"}})
	if got := st.next(t); got.event != "deployment_info" || got.id != "2" {
		t.Errorf("frame = %+v, want deployment_info id 2 (status_update_event filtered out)", got)
	}
}

// TestEventsReplay: Last-Event-ID replays what the bus holds after that id, then
// live events follow; a filter without event_stream_attached drops it too.
func TestEventsReplay(t *testing.T) {
	s, f := newTestServer()
	srv := httptest.NewServer(s)
	defer srv.Close()
	now := time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)
	for _, typ := range []string{"deployment_info", "status_update_event", "deployment_info", "deployment_success"} {
		f.bus.Publish(typ, now, map[string]any{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	st := openEvents(t, ctx, srv.URL+"/v2/events?event_type=deployment_info&event_type=deployment_success", map[string]string{"Last-Event-ID": "1"})
	for _, want := range []string{"3 deployment_info", "4 deployment_success"} {
		if got := st.next(t); got.id+" "+got.event != want {
			t.Errorf("frame = %+v, want %s", got, want)
		}
	}
	f.bus.Publish("deployment_success", now, map[string]any{})
	if got := st.next(t); got.id != "5" {
		t.Errorf("live frame = %+v, want id 5", got)
	}
}

func TestEventsBadLastEventID(t *testing.T) {
	s, _ := newTestServer()
	w := do(t, s, request{path: "/v2/events", header: map[string]string{"Last-Event-ID": "abc"}})
	if w.Code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", w.Code)
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
