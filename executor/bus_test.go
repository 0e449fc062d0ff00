package executor

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

var busTime = time.Date(2024, 3, 2, 12, 0, 1, 0, time.UTC)

// readAll reads every event the reader can get now.
func readAll(r *Reader) ([]*Event, uint64) {
	var out []*Event
	var missed uint64
	for {
		n := len(out)
		var m uint64
		out, m = r.Read(out, 7) // small batches: the batching must not matter
		missed += m
		if len(out) == n {
			return out, missed
		}
	}
}

func ids(evs []*Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestBusEncodesOnceWithTypeAndTimestamp(t *testing.T) {
	b := NewBus(10)
	cases := map[string]struct {
		typ     string
		payload any
		want    string
	}{
		"struct": {EventStatusUpdate, StatusUpdate{TaskID: "a.1", InstanceID: "a.1", TaskStatus: "TASK_RUNNING", AppID: "/a", IPAddresses: nil, Ports: []int{31000}},
			`{"eventType":"status_update_event","timestamp":"2024-03-02T12:00:01.000Z","slaveId":"","taskId":"a.1","instanceId":"a.1","taskStatus":"TASK_RUNNING","message":"","appId":"/a","host":"","ipAddresses":null,"ports":[31000],"version":""}`},
		"empty payload":       {EventAppTerminated, struct{}{}, `{"eventType":"app_terminated_event","timestamp":"2024-03-02T12:00:01.000Z"}`},
		"map":                 {"x", map[string]any{"b": 1, "a": "<&>"}, `{"eventType":"x","timestamp":"2024-03-02T12:00:01.000Z","a":"<&>","b":1}`},
		"not an object":       {"x", 42, `{"eventType":"x","timestamp":"2024-03-02T12:00:01.000Z"}`},
		"cannot be encoded":   {"x", map[string]any{"f": func() {}}, `{"eventType":"x","timestamp":"2024-03-02T12:00:01.000Z","message":"the event's payload could not be encoded: json: unsupported type: func()"}`},
		"quotes in the type":  {`a"b`, struct{}{}, `{"eventType":"a\"b","timestamp":"2024-03-02T12:00:01.000Z"}`},
		"html is not escaped": {EventGroupChangeFailed, GroupChange{GroupID: "/", Reason: "a < b && c > d"}, `{"eventType":"group_change_failed","timestamp":"2024-03-02T12:00:01.000Z","groupId":"/","version":"","reason":"a < b && c > d"}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ev := b.Publish(tc.typ, busTime, tc.payload)
			if string(ev.JSON) != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", ev.JSON, tc.want)
			}
			if !json.Valid(ev.JSON) || strings.Contains(string(ev.JSON), "\n") {
				t.Errorf("not one line of valid JSON: %q", ev.JSON)
			}
		})
	}
}

func TestBusReadersFollowInOrder(t *testing.T) {
	b := NewBus(100)
	early := b.ReaderAfter(0)
	b.Publish("a", busTime, struct{}{})
	tail := b.Tail()
	select {
	case <-tail.Ready():
		t.Fatal("a tail reader is ready before anything was published after it")
	default:
	}
	ready := tail.Ready()
	for i := 0; i < 5; i++ {
		b.Publish("b", busTime, struct{}{})
	}
	select {
	case <-ready:
	default:
		t.Fatal("Ready's channel was not closed by Publish")
	}
	got, missed := readAll(early)
	if fmt.Sprint(ids(got)) != "[1 2 3 4 5 6]" || missed != 0 {
		t.Errorf("early reader: %v missed %d", ids(got), missed)
	}
	got, _ = readAll(tail)
	if fmt.Sprint(ids(got)) != "[2 3 4 5 6]" {
		t.Errorf("tail reader: %v", ids(got))
	}
	if tail.Position() != 6 || tail.Backlog() != 0 {
		t.Errorf("position %d backlog %d, want 6, 0", tail.Position(), tail.Backlog())
	}
}

// TestBusNeverWaitsForAReader: a reader that never reads holds up nothing; it
// is told how many events it lost and goes on with the oldest one held.
func TestBusNeverWaitsForAReader(t *testing.T) {
	b := NewBus(100)
	stuck := b.ReaderAfter(0)
	for i := 0; i < 1000; i++ {
		b.Publish("e", busTime, struct{ N int }{i})
	}
	got, missed := readAll(stuck)
	if missed != 900 || len(got) != 100 || got[0].ID != 901 || got[99].ID != 1000 {
		t.Fatalf("stuck reader: missed %d, got %d events %d..%d; want 900 missed, 901..1000", missed, len(got), got[0].ID, got[len(got)-1].ID)
	}
}

func TestBusBoundsBytes(t *testing.T) {
	b := NewBus(1000)
	b.maxBytes = 1000
	big := strings.Repeat("x", 300)
	for i := 0; i < 10; i++ {
		b.Publish("e", busTime, map[string]string{"pad": big})
	}
	if b.bytes > b.maxBytes || len(b.events) != 2 || b.first != 9 {
		t.Fatalf("holds %d events (%d bytes) from %d; want the newest 2 within 1000 bytes", len(b.events), b.bytes, b.first)
	}
	// One event larger than the bound is still held: the newest is never dropped.
	b.Publish("e", busTime, map[string]string{"pad": strings.Repeat("y", 2000)})
	if len(b.events) != 1 || b.last != 11 {
		t.Fatalf("holds %d events, last %d", len(b.events), b.last)
	}
}

func TestBusSkipTo(t *testing.T) {
	b := NewBus(100)
	r := b.ReaderAfter(0)
	for i := 0; i < 10; i++ {
		b.Publish("e", busTime, struct{}{})
	}
	if n := r.SkipTo(20); n != 0 {
		t.Errorf("SkipTo(20) with a backlog of 10 dropped %d", n)
	}
	if n := r.SkipTo(3); n != 7 || r.Backlog() != 3 {
		t.Errorf("SkipTo(3) dropped %d, backlog %d; want 7, 3", n, r.Backlog())
	}
	got, _ := readAll(r)
	if fmt.Sprint(ids(got)) != "[8 9 10]" {
		t.Errorf("after SkipTo: %v", ids(got))
	}
}

func TestBusResume(t *testing.T) {
	b := NewBus(10)
	for i := 0; i < 30; i++ {
		b.Publish("e", busTime, struct{}{})
	}
	// The bus holds 21..30.
	other := NewBus(10)
	cases := map[string]struct {
		lastID    string
		wantFirst uint64
		gap       string
		missed    int64 // -1: not said
	}{
		"held":              {b.StreamID(25), 26, "", -1},
		"just before held":  {b.StreamID(20), 21, "", -1},
		"newest":            {b.StreamID(30), 31, "", -1},
		"too old":           {b.StreamID(5), 21, GapTooOld, 15},
		"from another bus":  {other.StreamID(25), 21, GapUnknownID, -1},
		"from the future":   {b.StreamID(31), 21, GapUnknownID, -1},
		"not a number":      {b.Epoch() + "-x", 21, GapUnknownID, -1},
		"marathon-style id": {"42", 21, GapUnknownID, -1},
		"garbage":           {"\x00--", 21, GapUnknownID, -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, gap := b.Resume(tc.lastID)
			if r.Position()+1 != tc.wantFirst {
				t.Errorf("first event %d, want %d", r.Position()+1, tc.wantFirst)
			}
			switch {
			case tc.gap == "" && gap != nil:
				t.Errorf("unexpected gap %+v", gap)
			case tc.gap != "" && (gap == nil || gap.Reason != tc.gap || gap.LastEventID != tc.lastID || gap.Message == ""):
				t.Errorf("gap %+v, want reason %s", gap, tc.gap)
			case tc.missed >= 0 && (gap.Missed == nil || int64(*gap.Missed) != tc.missed):
				t.Errorf("gap %+v, want missed %d", gap, tc.missed)
			case tc.missed < 0 && gap != nil && gap.Missed != nil:
				t.Errorf("gap %+v says how many were missed, which it cannot know", gap)
			}
		})
	}
}

// TestBusKeepsPerAppOrder: events of many apps, published interleaved as the
// actor does, reach every reader with each app's events in publishing order,
// whatever the readers' pace (one reads in big batches, one in small ones, one
// after everything was published).
func TestBusKeepsPerAppOrder(t *testing.T) {
	b := NewBus(100_000)
	type seq struct {
		AppID string `json:"appId"`
		N     int    `json:"n"`
	}
	readers := []*Reader{b.Tail(), b.Tail(), b.Tail()}
	done := make(chan [][]*Event)
	go func() {
		var out [][]*Event
		for i, r := range readers[:2] {
			var got []*Event
			for len(got) < 3000 {
				<-r.Ready()
				got, _ = r.Read(got, 1+i*500)
			}
			out = append(out, got)
		}
		done <- out
	}()
	for n := 0; n < 1000; n++ {
		for _, app := range []string{"/a", "/b", "/c"} {
			b.Publish(EventStatusUpdate, busTime, seq{app, n})
		}
	}
	got := <-done
	last, _ := readAll(readers[2])
	got = append(got, last)
	for i, evs := range got {
		next := map[string]int{}
		for _, ev := range evs {
			var s seq
			if err := ev.Decode(&s); err != nil {
				t.Fatal(err)
			}
			if s.N != next[s.AppID] {
				t.Fatalf("reader %d: %s event %d came when %d was due", i, s.AppID, s.N, next[s.AppID])
			}
			next[s.AppID]++
		}
		if len(evs) != 3000 {
			t.Errorf("reader %d got %d events", i, len(evs))
		}
	}
}

func TestBusSubscribe(t *testing.T) {
	b := NewBus(10)
	b.Publish("before", busTime, struct{}{})
	ch, cancel := b.Subscribe(0)
	b.Publish("after", busTime, struct{}{})
	select {
	case ev := <-ch:
		if ev.Type != "after" || ev.ID != 2 {
			t.Errorf("first event %s %d, want the one published after subscribing", ev.Type, ev.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	cancel()
	cancel() // twice is fine
	for range ch {
	}
	replay, cancel2 := b.Subscribe(1)
	defer cancel2()
	if ev := <-replay; ev.ID != 2 {
		t.Errorf("Subscribe(1) starts at %d, want 2", ev.ID)
	}
}

// BenchmarkBusPublish: what publishing an event costs the executor's actor
// (encoding a status update, appending it, waking the readers), with no reader
// and with 100 readers that never read (streams whose clients stopped
// reading): the same, the actor never waits on a reader.
func BenchmarkBusPublish(b *testing.B) {
	for _, readers := range []int{0, 100} {
		b.Run(fmt.Sprintf("stuck-readers=%d", readers), func(b *testing.B) {
			bus := NewBus(DefaultBusEvents)
			rs := make([]*Reader, readers)
			for i := range rs {
				rs[i] = bus.Tail()
				_ = rs[i].Ready() // waiting on the signal, never reading
			}
			su := StatusUpdate{SlaveID: "20150707-153709-201330860-5050-12052-S0", TaskID: "shop_api.0a3f", InstanceID: "shop_api.0a3f",
				TaskStatus: "TASK_RUNNING", AppID: "/shop/api", Host: "agent-017.example.com", Ports: []int{31017}, Version: "2015-09-25T15:13:48.343Z"}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bus.Publish(EventStatusUpdate, busTime, su)
			}
			b.StopTimer()
			if bus.Last() != uint64(b.N) {
				b.Fatalf("published %d, want %d", bus.Last(), b.N)
			}
			for _, r := range rs {
				if _, missed := r.Read(nil, 1); b.N > DefaultBusEvents && missed == 0 {
					b.Fatal("a stuck reader was not told it missed events")
				}
			}
		})
	}
}

// FuzzResume: any Last-Event-ID gives a reader within what the bus holds (or
// just after it), and a gap unless it is one of the bus's held ids.
func FuzzResume(f *testing.F) {
	b := NewBus(10)
	for i := 0; i < 25; i++ {
		b.Publish("e", busTime, struct{}{})
	}
	for _, seed := range []string{b.StreamID(20), b.StreamID(3), b.StreamID(99), "", "-", "x-1", b.Epoch() + "-", b.Epoch() + "-18446744073709551615", "1-2-3"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, lastID string) {
		r, gap := b.Resume(lastID)
		first := r.Position() + 1
		if first < b.first || first > b.last+1 {
			t.Fatalf("%q: reader at %d, the bus holds %d..%d", lastID, first, b.first, b.last)
		}
		if gap == nil {
			rest, ok := strings.CutPrefix(lastID, b.Epoch()+"-")
			n, err := strconv.ParseUint(rest, 10, 64)
			if !ok || err != nil || n != first-1 {
				t.Fatalf("%q: no gap, yet the reader starts at %d", lastID, first)
			}
		} else if gap.Reason == "" || gap.Message == "" {
			t.Fatalf("%q: gap without a reason: %+v", lastID, gap)
		}
	})
}
