package api

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/stride-run/stride/executor"
)

// keepAlive is how often an idle event stream gets a comment line, so that
// proxies do not close it.
const keepAlive = 15 * time.Second

// eventStreamAttached is the type of the first frame of every stream (Marathon's).
const eventStreamAttached = "event_stream_attached"

// events is GET /v2/events, Marathon's server-sent event stream (§4.9):
//
//	event: <eventType>\ndata: <one-line JSON>\n\n
//
// The first frame is event_stream_attached (not from the bus, so without an id).
// Bus events carry "id: <n>" lines; a client reconnecting with Last-Event-ID
// first gets the events after n the bus still holds. ?event_type= (repeatable)
// keeps only those types, event_stream_attached included.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "streaming unsupported by the connection")
		return
	}
	var last uint64
	if h := r.Header.Get("Last-Event-ID"); h != "" {
		n, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "Last-Event-ID must be an event id (a number): "+h)
			return
		}
		last = n
	}
	var types map[string]bool
	if ts := r.URL.Query()["event_type"]; len(ts) > 0 {
		types = make(map[string]bool, len(ts))
		for _, t := range ts {
			types[t] = true
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

	ch, cancel := s.b.Bus().Subscribe(last)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var buf []byte
	if keep(eventStreamAttached) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		data, _ := json.Marshal(struct {
			EventType     string `json:"eventType"`
			Timestamp     string `json:"timestamp"`
			RemoteAddress string `json:"remoteAddress"`
		}{eventStreamAttached, executor.FormatTime(s.now()), host})
		buf = appendFrame(buf[:0], 0, eventStreamAttached, data)
		if _, err := w.Write(buf); err != nil {
			return
		}
	}
	fl.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
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
		case ev := <-ch:
			if !keep(ev.EventType) {
				continue
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			buf = appendFrame(buf[:0], ev.ID, ev.EventType, data)
			extend()
			if _, err := w.Write(buf); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// streamWriteTimeout is how long one frame of the event stream may take to write.
const streamWriteTimeout = 30 * time.Second

// appendFrame appends one SSE frame; id 0 writes no id line.
func appendFrame(b []byte, id uint64, eventType string, data []byte) []byte {
	if id > 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, eventType...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, '\n', '\n')
}
