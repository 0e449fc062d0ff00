package localmesos

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// stream is one subscription connection: the events the master sends to a
// framework, encoded with the codec the scheduler accepted and framed with
// RecordIO. The master never blocks on a slow scheduler: events queue here and
// the HTTP handler's goroutine writes them out.
type stream struct {
	id    string         // the Mesos-Stream-Id
	codec encoding.Codec // JSON or protobuf
	fw    *framework     // set by subscribe (under the master's lock)

	mu     sync.Mutex
	frames [][]byte // encoded events not yet written
	closed bool     // no more events; the writer drains the queue and returns
	wake   chan struct{}
}

func newStream(codec encoding.Codec) *stream {
	return &stream{id: newMasterID(), codec: codec, wake: make(chan struct{}, 1)}
}

// send queues an event; it is dropped if the stream is closed.
func (s *stream) send(ev *scheduler.Event) {
	var frame []byte
	enc := s.codec.NewEncoder(func() framing.Writer {
		return framing.WriterFunc(func(b []byte) error {
			frame = append([]byte(nil), b...)
			return nil
		})
	})
	if err := enc.Encode(ev); err != nil {
		// A generated type that cannot encode itself is a bug in the master.
		panic("localmesos: encode event: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.frames = append(s.frames, frame)
	s.notify()
}

// sendError queues an ERROR event.
func (s *stream) sendError(message string) {
	s.send(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: message}})
}

// close stops the stream once the queued events are written.
func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.notify()
}

func (s *stream) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// take returns the queued frames and whether the stream is closed.
func (s *stream) take() ([][]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	frames := s.frames
	s.frames = nil
	return frames, s.closed
}

// serve writes the stream's events to w until the stream is closed, the
// client goes away, or the master stops; a HEARTBEAT is queued every interval.
func (s *stream) serve(ctx context.Context, w http.ResponseWriter, heartbeat time.Duration) {
	rc := http.NewResponseController(w)
	out := recordio.NewWriter(w)
	var tick <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		frames, closed := s.take()
		for _, f := range frames {
			if err := out.WriteFrame(f); err != nil {
				s.close()
				return
			}
		}
		if len(frames) > 0 {
			if err := rc.Flush(); err != nil {
				s.close()
				return
			}
		}
		if closed {
			return
		}
		select {
		case <-s.wake:
		case <-tick:
			s.send(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
		case <-ctx.Done():
			s.close()
			return
		}
	}
}
