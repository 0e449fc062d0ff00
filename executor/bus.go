package executor

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Event is one event on the bus: Marathon's eventType and a payload that is
// encoded once, when it is published, and shared read-only by every reader.
type Event struct {
	// ID numbers the events of one bus: 1, 2, 3, ... in publishing order.
	ID uint64
	// Type is Marathon's eventType.
	Type string
	// Timestamp is when it was published (Marathon's ISO-8601 form).
	Timestamp string
	// JSON is the payload as clients get it: one line of JSON carrying
	// "eventType" and "timestamp" and the fields of the published payload.
	JSON []byte
}

// Decode decodes the event's JSON into v.
func (ev *Event) Decode(v any) error { return json.Unmarshal(ev.JSON, v) }

// MarshalJSON returns the event's payload.
func (ev *Event) MarshalJSON() ([]byte, error) { return ev.JSON, nil }

// Bus holds the events of one executor (one leader term) in publishing order and
// lets any number of readers follow them at their own pace.
//
// It is a bounded history, not a set of queues: Publish appends the event and
// wakes the readers, and never waits for any of them, so a slow or stuck reader
// (an event stream whose client stopped reading, a callback whose target is
// down) cannot slow the executor or another reader. The bus keeps the newest
// MaxEvents events (and at most MaxBytes of payload); a reader that falls
// further behind than that is told how many events it missed and continues
// with the oldest event still held. The same history serves the event stream's
// Last-Event-ID replay.
//
// Events of one app are published by the executor's actor in the order they
// happen, and every reader gets them in that order.
type Bus struct {
	epoch    string
	maxCount int
	maxBytes int
	observe  func(eventType string)

	mu sync.Mutex
	// events are the held events, oldest first: events[i].ID == first+i.
	events []*Event
	// first is the ID of events[0] (last+1 when none is held); last is the ID of
	// the newest event published (0: none yet).
	first, last uint64
	bytes       int
	// signal is closed (and replaced) by every Publish.
	signal chan struct{}
}

// DefaultBusEvents and DefaultBusBytes bound the history of the executor's bus:
// at 1,000 events a second, ten seconds of events, and never more than 32 MiB
// of payload (deployment events of large plans are big).
const (
	DefaultBusEvents = 10_000
	DefaultBusBytes  = 32 << 20
)

// NewBus returns a bus keeping the newest max events (DefaultBusEvents when
// max <= 0) and at most DefaultBusBytes of payload.
func NewBus(max int) *Bus {
	if max <= 0 {
		max = DefaultBusEvents
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Bus{epoch: hex.EncodeToString(b[:]), maxCount: max, maxBytes: DefaultBusBytes, first: 1, signal: make(chan struct{})}
}

// SetObserver sets a function called with the type of every published event
// (metrics). Call it before publishing.
func (b *Bus) SetObserver(fn func(eventType string)) { b.observe = fn }

// Epoch names this bus: event stream ids are "<epoch>-<id>", so that an id a
// client got from another leader's bus (or before a restart) is recognised as
// foreign instead of being taken for one of this bus's.
func (b *Bus) Epoch() string { return b.epoch }

// StreamID is the event stream id of the bus's event id.
func (b *Bus) StreamID(id uint64) string {
	return b.epoch + "-" + strconv.FormatUint(id, 10)
}

// AppendStreamID appends StreamID(id) to dst.
func (b *Bus) AppendStreamID(dst []byte, id uint64) []byte {
	dst = append(dst, b.epoch...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, id, 10)
}

// Last returns the ID of the newest event published (0: none yet).
func (b *Bus) Last() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// Publish encodes payload (a struct of this package's event payloads, or a
// map; it must not have fields named eventType or timestamp) with eventType
// and the timestamp now, appends it to the history and
// wakes the readers. It never waits on a reader. It returns the event.
func (b *Bus) Publish(eventType string, now time.Time, payload any) *Event {
	ts := FormatTime(now)
	ev := &Event{Type: eventType, Timestamp: ts, JSON: encodeEvent(eventType, ts, payload)}
	b.mu.Lock()
	b.last++
	ev.ID = b.last
	b.events = append(b.events, ev)
	b.bytes += len(ev.JSON)
	for len(b.events) > 1 && (len(b.events) > b.maxCount || b.bytes > b.maxBytes) {
		b.bytes -= len(b.events[0].JSON)
		b.events[0] = nil
		b.events = b.events[1:]
		b.first++
	}
	close(b.signal)
	b.signal = make(chan struct{})
	b.mu.Unlock()
	if b.observe != nil {
		b.observe(eventType)
	}
	return ev
}

// encodeEvent returns {"eventType":..,"timestamp":..,<payload's fields>} on one
// line, with <, > and & left as they are (as Marathon sends them).
func encodeEvent(eventType, ts string, payload any) []byte {
	var buf bytes.Buffer
	buf.Grow(128)
	buf.WriteString(`{"eventType":`)
	_ = writeJSONString(&buf, eventType)
	buf.WriteString(`,"timestamp":`)
	_ = writeJSONString(&buf, ts)
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(payload); err != nil {
		// Payloads are this package's own types: a failure is a bug. Clients
		// still learn that something happened.
		buf.WriteString(`,"message":`)
		_ = writeJSONString(&buf, "the event's payload could not be encoded: "+err.Error())
		buf.WriteByte('}')
		return buf.Bytes()
	}
	raw := bytes.TrimSpace(body.Bytes())
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		buf.WriteByte('}')
		return buf.Bytes()
	}
	if inner := bytes.TrimSpace(raw[1 : len(raw)-1]); len(inner) > 0 {
		buf.WriteByte(',')
		buf.Write(inner)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

func writeJSONString(buf *bytes.Buffer, s string) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

// Reader follows the bus from a position. It is not safe for concurrent use;
// every goroutine that reads the bus has its own.
type Reader struct {
	b *Bus
	// next is the ID of the next event to read.
	next uint64
}

// ReaderAfter returns a reader whose first event is the one after id (0: the
// first event the bus published, or the oldest one it holds).
func (b *Bus) ReaderAfter(id uint64) *Reader { return &Reader{b: b, next: id + 1} }

// Tail returns a reader of the events published from now on.
func (b *Bus) Tail() *Reader {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &Reader{b: b, next: b.last + 1}
}

// closedChan is a channel that is always ready.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Ready returns a channel that is closed once an event the reader has not read
// exists (at once when one does already).
func (r *Reader) Ready() <-chan struct{} {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.next <= r.b.last {
		return closedChan
	}
	return r.b.signal
}

// Read appends to dst the next events, at most max of them, and advances past
// them. missed counts the events that were dropped from the history before the
// reader got to them (the reader then continues with the oldest event held).
func (r *Reader) Read(dst []*Event, max int) (events []*Event, missed uint64) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.next < b.first {
		missed = b.first - r.next
		r.next = b.first
	}
	if r.next > b.last {
		return dst, missed
	}
	i := int(r.next - b.first)
	n := min(len(b.events)-i, max)
	dst = append(dst, b.events[i:i+n]...)
	r.next += uint64(n)
	return dst, missed
}

// Backlog returns how many published events the reader has not read yet.
func (r *Reader) Backlog() uint64 {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.next > r.b.last {
		return 0
	}
	return r.b.last - r.next + 1
}

// SkipTo drops the reader's backlog down to keep events (the oldest go) and
// returns how many it dropped.
func (r *Reader) SkipTo(keep uint64) uint64 {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.next > r.b.last || r.b.last-r.next+1 <= keep {
		return 0
	}
	to := r.b.last - keep + 1
	dropped := to - r.next
	r.next = to
	return dropped
}

// Position reports the ID of the last event the reader has read (or skipped).
func (r *Reader) Position() uint64 { return r.next - 1 }

// Gap reasons (StreamGap.Reason).
const (
	// GapTooOld: the events after the client's Last-Event-ID are no longer held.
	GapTooOld = "too_old"
	// GapUnknownID: the Last-Event-ID is not one of this bus's (another leader's
	// term, a restart, or not an id Stride gave).
	GapUnknownID = "unknown_id"
	// GapSlowConsumer: the stream fell behind by more than the bus holds.
	GapSlowConsumer = "slow_consumer"
)

// Resume returns a reader for a client that last saw the event stream id
// lastID (the Last-Event-ID header), to replay what it missed. When the bus
// cannot replay everything after lastID, gap says why (and how many events
// were lost, when that is known), and the reader starts at the oldest event
// held: after a failover or a restart that is everything the new bus has
// published, which the client has not seen.
func (b *Bus) Resume(lastID string) (r *Reader, gap *StreamGap) {
	epoch, seqText, ok := strings.Cut(lastID, "-")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	b.mu.Lock()
	defer b.mu.Unlock()
	first, last := b.first, b.last
	switch {
	case !ok || err != nil || epoch != b.epoch || seq > last:
		return &Reader{b: b, next: first}, &StreamGap{LastEventID: lastID, Reason: GapUnknownID,
			Message: "Last-Event-ID is not an id of this leader's event stream (another leader, or a restart): events may have been missed; read the state again"}
	case seq+1 < first:
		missed := first - 1 - seq
		return &Reader{b: b, next: first}, &StreamGap{LastEventID: lastID, Missed: &missed, Reason: GapTooOld,
			Message: "the events after Last-Event-ID are no longer held (the server keeps the newest " + strconv.Itoa(b.maxCount) + "): read the state again"}
	}
	return &Reader{b: b, next: seq + 1}, nil
}

// Subscribe returns a channel of the events after lastID (0: only those
// published from now on) and a function that ends the subscription. A goroutine feeds
// the channel from a Reader: a subscriber that does not drain it holds up only
// itself. Meant for tests and tools; the event stream and the callbacks use
// Readers directly.
func (b *Bus) Subscribe(lastID uint64) (<-chan *Event, func()) {
	ch := make(chan *Event, 256)
	done := make(chan struct{})
	r := b.ReaderAfter(lastID)
	if lastID == 0 {
		r = b.Tail()
	}
	go func() {
		defer close(ch)
		var buf []*Event
		for {
			select {
			case <-done:
				return
			case <-r.Ready():
			}
			buf, _ = r.Read(buf[:0], 256)
			for _, ev := range buf {
				select {
				case ch <- ev:
				case <-done:
					return
				}
			}
		}
	}()
	var once sync.Once
	return ch, func() { once.Do(func() { close(done) }) }
}

// FormatTime renders t as Marathon does: ISO-8601 UTC with milliseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
