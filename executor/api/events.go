package api

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
)

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies do not close it.
const keepAlive = 15 * time.Second

// streamBatch bounds the frames written to an event stream at once.
const streamBatch = 512

// events is GET /v2/events, Marathon's server-sent event stream (§4.9):
//
//	id: <epoch>-<n>\nevent: <eventType>\ndata: <one-line JSON>\n\n
//
// The stream follows the bus with a Reader of its own, so a client that reads
// slowly holds up nothing but itself.
//
//   - The first frame is event_stream_attached (published on the bus too, so
//     other clients and the callbacks see the attachment). It carries the
//     attachment's id, so that a client that reconnects replays what it missed
//     meanwhile, unless the client is resuming, when it carries none (the
//     client's last id stays that of the last event it saw).
//   - Last-Event-ID replays the events after that id that the bus still holds.
//     When it cannot replay all of them (the id is too old, or from another
//     leader's term or a restart) the stream says so with a stream_gap frame
//     (Stride's; no id) and replays what the bus holds. A stream that falls
//     further behind than the bus holds gets a stream_gap too. Clients that
//     keep a cache of the state read it again when they see one.
//   - ?event_type= (repeatable) keeps only those types, event_stream_attached
//     included; stream_gap frames are always sent.
//   - event_stream_detached is published when the stream ends.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported by the connection")
		return
	}
	var types map[string]bool
	if ts := r.URL.Query()["event_type"]; len(ts) > 0 {
		types = make(map[string]bool, len(ts))
		for _, t := range ts {
			for _, one := range strings.Split(t, ",") {
				if one = strings.TrimSpace(one); one != "" {
					types[one] = true
				}
			}
		}
	}
	keep := func(t string) bool { return types == nil || types[t] }

	// The stream outlives the server's read and write timeouts: no read deadline
	// (the request is read), and a write deadline per frame, so a client that
	// stops reading is dropped instead of holding a goroutine forever.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	extend := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }
	extend()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	s.info.Metrics.StreamOpened()
	defer s.info.Metrics.StreamClosed()
	bus := s.b.Bus()
	remote := clientIP(r)
	attached := bus.Publish(executor.EventStreamAttached, s.now(), executor.StreamEvent{RemoteAddress: remote})
	defer func() {
		bus.Publish(executor.EventStreamDetached, s.now(), executor.StreamEvent{RemoteAddress: remote})
	}()
	// The reader starts after the attachment (or at the client's last id, when
	// that is earlier: the attachment is then skipped as the replay reaches it).
	var (
		rd  *executor.Reader
		gap *executor.StreamGap
	)
	lastID := r.Header.Get("Last-Event-ID")
	resuming := lastID != ""
	if resuming {
		rd, gap = bus.Resume(lastID)
	} else {
		rd = bus.ReaderAfter(attached.ID)
	}

	buf := make([]byte, 0, 4096)
	if keep(executor.EventStreamAttached) {
		var id []byte
		if !resuming {
			id = bus.AppendStreamID(nil, attached.ID)
		}
		buf = appendFrame(buf, id, attached.Type, attached.JSON)
	}
	if gap != nil {
		buf = s.appendGap(buf, gap)
	}
	if _, err := w.Write(buf); err != nil {
		return
	}
	fl.Flush()

	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	batch := make([]*executor.Event, 0, streamBatch)
	var idBuf []byte
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		case <-tick.C:
			extend()
			if _, err := w.Write([]byte(":\n\n")); err != nil {
				return
			}
			fl.Flush()
			continue
		case <-rd.Ready():
		}
		var missed uint64
		batch, missed = rd.Read(batch[:0], streamBatch)
		buf = buf[:0]
		if missed > 0 {
			s.info.Metrics.EventsDropped(metrics.ConsumerStream, metrics.DropSlowConsumer, missed)
			buf = s.appendGap(buf, &executor.StreamGap{Missed: &missed, Reason: executor.GapSlowConsumer,
				Message: "this stream fell behind by more events than the server holds: read the state again"})
		}
		for _, ev := range batch {
			if ev.ID == attached.ID || !keep(ev.Type) {
				continue
			}
			idBuf = bus.AppendStreamID(idBuf[:0], ev.ID)
			buf = appendFrame(buf, idBuf, ev.Type, ev.JSON)
		}
		if len(buf) == 0 {
			continue
		}
		extend()
		if _, err := w.Write(buf); err != nil {
			return
		}
		fl.Flush()
	}
}

// appendGap appends a stream_gap frame (no id: it is not an event of the bus).
func (s *Server) appendGap(buf []byte, gap *executor.StreamGap) []byte {
	payload := struct {
		EventType string `json:"eventType"`
		Timestamp string `json:"timestamp"`
		*executor.StreamGap
	}{executor.EventStreamGap, executor.FormatTime(s.now()), gap}
	data, err := json.Marshal(payload)
	if err != nil {
		return buf
	}
	return appendFrame(buf, nil, executor.EventStreamGap, data)
}

// streamWriteTimeout is how long one write to the event stream may take.
const streamWriteTimeout = 30 * time.Second

// appendFrame appends one SSE frame; an empty id writes no id line.
func appendFrame(b, id []byte, eventType string, data []byte) []byte {
	if len(id) > 0 {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, eventType...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}

// clientIP is the address of the client that made r: the remote address, or,
// for a request a standby forwarded (X-Marathon-Via), the address the standby
// appended to X-Forwarded-For. It is informational (events' clientIp and
// remoteAddress), never used to decide anything.
func clientIP(r *http.Request) string {
	if r.Header.Get("X-Marathon-Via") != "" {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := strings.TrimSpace(last); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// postEvent publishes Marathon's api_post_event for an app definition written
// through the API: every handler that creates or changes an app calls it once
// the write succeeded (POST /stride/v1/apply does, per app it creates or
// changes). The definition's plain environment values are
// masked (executor.MaskEnv), and its sensitive values (engine.MaskJSON): events
// reach every stream and callback.
func (s *Server) postEvent(r *http.Request, app *engine.App) {
	if app == nil {
		return
	}
	// Marathon's fields only: clients decode appDefinition as an app.
	def, err := executor.MaskEnv(app).MarshalMarathonJSON()
	if err != nil {
		return
	}
	// Values derived from sensitive input, env secrets included, are shown as
	// engine.SensitiveValue.
	if def, err = engine.MaskJSON(app, def); err != nil {
		return
	}
	s.b.Bus().Publish(executor.EventAPIPost, s.now(), executor.APIPost{ClientIP: clientIP(r), URI: r.URL.Path, AppDefinition: def})
}
