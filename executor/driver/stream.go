package driver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// frameReader reads RecordIO records, "<decimal length>\n<bytes>", as a
// framing.Reader for mesos-go's codecs. It is mesos-go's recordio reader
// without its two limits: that one refuses records over 4 MiB by default (an
// OFFERS event of a few thousand agents can be larger) and allocates half of
// any larger maximum up front.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
	max int
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// maxHeaderBytes bounds the length line of a record (20 digits hold any uint64).
const maxHeaderBytes = 20

// ReadFrame returns the next record; the slice is reused by the next call. It
// returns io.EOF at a clean end of the stream (between records) and
// io.ErrUnexpectedEOF inside one.
func (f *frameReader) ReadFrame() ([]byte, error) {
	for {
		n, err := f.readLength()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue // an empty record carries nothing to decode
		}
		if n > f.max {
			return nil, fmt.Errorf("recordio: a record of %d bytes is larger than the limit of %d", n, f.max)
		}
		if cap(f.buf) < n {
			f.buf = make([]byte, n)
		}
		f.buf = f.buf[:n]
		if _, err := io.ReadFull(f.r, f.buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return f.buf, nil
	}
}

// readLength reads a record's length line.
func (f *frameReader) readLength() (int, error) {
	var digits [maxHeaderBytes]byte
	i := 0
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && i > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if c == '\n' {
			break
		}
		if i == len(digits) {
			return 0, errors.New("recordio: the record length is longer than 20 characters")
		}
		digits[i] = c
		i++
	}
	n, err := strconv.ParseUint(string(digits[:i]), 10, 63)
	if err != nil {
		return 0, fmt.Errorf("recordio: bad record length %q", digits[:i])
	}
	if n > uint64(maxInt) {
		return 0, fmt.Errorf("recordio: a record of %d bytes cannot be held", n)
	}
	return int(n), nil
}

const maxInt = int(^uint(0) >> 1)

var _ framing.Reader = (*frameReader)(nil)

// eventStream reads the events of a subscription on its own goroutine into an
// unbounded queue, so that a slow handler never stalls the connection (or
// makes its heartbeats look missed): the heartbeat watchdog looks at when the
// last event arrived off the wire, not when it was handled.
type eventStream struct {
	dec  encoding.Decoder
	wake chan struct{} // signalled (capacity 1) when events or the end arrive
	done chan struct{} // closed when the reader goroutine returns

	mu       sync.Mutex
	queue    []*scheduler.Event
	err      error     // why the stream ended; nil while it runs
	lastSeen time.Time // when the latest event (or the stream) arrived
}

func newEventStream(codec encoding.Codec, body io.Reader, opened time.Time) *eventStream {
	fr := newFrameReader(body, maxEventBytes)
	return &eventStream{
		dec:      codec.NewDecoder(func() framing.Reader { return fr }),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		lastSeen: opened,
	}
}

// read decodes events until the stream fails or ends (io.EOF).
func (s *eventStream) read() {
	defer close(s.done)
	for {
		ev := new(scheduler.Event)
		err := s.dec.Decode(ev)
		s.mu.Lock()
		if err != nil {
			s.err = err
		} else {
			s.queue = append(s.queue, ev)
			s.lastSeen = time.Now()
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// take returns the queued events, when the latest event arrived, and the
// error the stream ended with (nil while it runs).
func (s *eventStream) take() ([]*scheduler.Event, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.queue
	s.queue = nil
	return evs, s.lastSeen, s.err
}
