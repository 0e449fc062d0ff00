package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/internal/freeports"
)

// The tests talk real HTTP to a localmesos.Master (or, for protocol corners a
// real master cannot be made to show on demand, to a fake one) and run real
// task processes. They wait on events with a deadline, never on fixed sleeps.

// waitTimeout bounds every wait: generous, for a loaded machine.
const waitTimeout = 20 * time.Second

// syncLog forwards log lines to t.Logf until the test ends (goroutines may
// still log after it).
type syncLog struct {
	mu    sync.Mutex
	t     testing.TB
	done  bool
	lines []string
}

func newSyncLog(t testing.TB) *syncLog {
	l := &syncLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *syncLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	line := fmt.Sprintf(format, args...)
	l.lines = append(l.lines, line)
	if _, bench := l.t.(*testing.B); !l.done && !bench {
		l.t.Log(line)
	}
}

// contains reports whether a logged line contains s.
func (l *syncLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// newMaster starts a stand-in with short test timings; edit adjusts its
// config. Cleanup closes it (after the drivers started later have stopped).
func newMaster(t testing.TB, edit func(*localmesos.Config)) *localmesos.Master {
	t.Helper()
	log := newSyncLog(t)
	cfg := localmesos.Config{
		WorkDir:           t.TempDir(),
		Agents:            1,
		OfferInterval:     20 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond,
		// Long: a status update is sent again only if a test reconnects,
		// so that a missing acknowledgement shows as Pending.
		UpdateRetry: time.Minute,
		Logf:        log.logf,
	}
	if edit != nil {
		edit(&cfg)
	}
	if cfg.FirstPort == 0 {
		// Ports of its own, free: tasks of tests running in parallel (and of a
		// stride dev on this machine) never fight over them.
		cfg.PortsPerAgent = 100
		cfg.FirstPort = freeports.Range(t, max(cfg.Agents, 1)*cfg.PortsPerAgent)
	}
	m, err := localmesos.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// testConfig is a driver config for tests: fast backoff, a fixed user.
func testConfig(t testing.TB, master string) Config {
	log := newSyncLog(t)
	return Config{
		Master:     master,
		User:       "tester",
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Logf:       log.logf,
	}
}

// running is a driver whose Run goroutine a test started.
type running struct {
	*Driver
	cancel context.CancelFunc
	done   chan error // receives Run's result
}

// start runs a driver until the test ends (or stop); cleanup checks that Run
// returned nil.
func start(t testing.TB, cfg Config, h Handler) *running {
	t.Helper()
	d := New(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Driver: d, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// stop cancels Run and returns its result (once; later calls return nil).
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// record is one call the recorder received.
type record struct {
	kind        string // Subscribed, Disconnected, Offers, Rescind, Update, Failure, Removed
	frameworkID string
	reconnected bool
	err         error
	offers      []mesos.Offer
	offerID     string
	status      mesos.TaskStatus
	agentID     string
	executorID  string
	exitStatus  *int32
	message     string
}

// recorder is a Handler that records every call, in order, and lets tests
// wait for one. Hooks, when set, run after the call is recorded (on the
// driver's goroutine, so they may call the driver).
type recorder struct {
	t testing.TB

	mu      sync.Mutex
	records []record
	changed chan struct{} // closed and replaced on every record

	onSubscribed func(ctx context.Context, id string)
	onOffers     func(ctx context.Context, offers []mesos.Offer)
	onUpdate     func(ctx context.Context, st mesos.TaskStatus)
}

var _ Handler = (*recorder)(nil)

func newRecorder(t testing.TB) *recorder {
	return &recorder{t: t, changed: make(chan struct{})}
}

func (r *recorder) add(rec record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Subscribed implements Handler.
func (r *recorder) Subscribed(ctx context.Context, id string, reconnected bool) {
	r.add(record{kind: "Subscribed", frameworkID: id, reconnected: reconnected})
	if r.onSubscribed != nil {
		r.onSubscribed(ctx, id)
	}
}

// Disconnected implements Handler.
func (r *recorder) Disconnected(ctx context.Context, err error) {
	r.add(record{kind: "Disconnected", err: err})
}

// Offers implements Handler.
func (r *recorder) Offers(ctx context.Context, offers []mesos.Offer) {
	r.add(record{kind: "Offers", offers: offers})
	if r.onOffers != nil {
		r.onOffers(ctx, offers)
	}
}

// Rescind implements Handler.
func (r *recorder) Rescind(ctx context.Context, offerID string) {
	r.add(record{kind: "Rescind", offerID: offerID})
}

// Update implements Handler.
func (r *recorder) Update(ctx context.Context, st mesos.TaskStatus) {
	r.add(record{kind: "Update", status: st})
	if r.onUpdate != nil {
		r.onUpdate(ctx, st)
	}
}

// Failure implements Handler.
func (r *recorder) Failure(ctx context.Context, agentID, executorID string, status *int32) {
	r.add(record{kind: "Failure", agentID: agentID, executorID: executorID, exitStatus: status})
}

// Removed implements Handler.
func (r *recorder) Removed(ctx context.Context, message string) {
	r.add(record{kind: "Removed", message: message})
}

// snapshot returns the records so far.
func (r *recorder) snapshot() []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]record(nil), r.records...)
}

// waitFor waits until a record at index from or later satisfies match, and
// returns its index and the record.
func (r *recorder) waitFor(what string, from int, match func(record) bool) (int, record) {
	r.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for i := from; i < len(r.records); i++ {
			if match(r.records[i]) {
				rec := r.records[i]
				r.mu.Unlock()
				return i, rec
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			r.t.Fatalf("timed out waiting for %s; records: %s", what, r.summary())
		}
	}
}

// summary renders the records briefly, for failure messages.
func (r *recorder) summary() string {
	var b strings.Builder
	for _, rec := range r.snapshot() {
		switch rec.kind {
		case "Update":
			fmt.Fprintf(&b, "\n  Update %s %v", rec.status.TaskID.Value, rec.status.GetState())
		case "Offers":
			fmt.Fprintf(&b, "\n  Offers x%d", len(rec.offers))
		default:
			fmt.Fprintf(&b, "\n  %s %s %v %v %s", rec.kind, rec.frameworkID, rec.reconnected, rec.err, rec.message)
		}
	}
	return b.String()
}

// Matchers of records.
func isKind(kind string) func(record) bool {
	return func(rec record) bool { return rec.kind == kind }
}

func isUpdate(taskID string, state mesos.TaskState) func(record) bool {
	return func(rec record) bool {
		return rec.kind == "Update" && rec.status.TaskID.Value == taskID && rec.status.GetState() == state
	}
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shellTask is a task running a shell command with a little of an offer.
func shellTask(o mesos.Offer, id, command string) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:      id,
		TaskID:    mesos.TaskID{Value: id},
		AgentID:   o.AgentID,
		Resources: []mesos.Resource{scalar("cpus", 0.01, o), scalar("mem", 16, o)},
		Command:   &mesos.CommandInfo{Value: &command},
	}
}

// scalar is a scalar resource allocated to the offer's role.
func scalar(name string, v float64, o mesos.Offer) mesos.Resource {
	return mesos.Resource{
		Name:           name,
		Type:           mesos.SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: v},
		AllocationInfo: o.AllocationInfo,
	}
}

// taskInfo returns the stand-in's snapshot of a task, or false.
func taskInfo(m *localmesos.Master, id string) (localmesos.TaskInfo, bool) {
	for _, ti := range m.Tasks() {
		if ti.ID == id {
			return ti, true
		}
	}
	return localmesos.TaskInfo{}, false
}

// masterState is the part of GET /master/state the tests read.
type masterState struct {
	Frameworks []struct {
		ID              string   `json:"id"`
		Name            string   `json:"name"`
		User            string   `json:"user"`
		WebuiURL        string   `json:"webui_url"`
		Hostname        string   `json:"hostname"`
		Roles           []string `json:"roles"`
		Capabilities    []string `json:"capabilities"`
		Connected       bool     `json:"connected"`
		FailoverTimeout float64  `json:"failover_timeout"`
		Checkpoint      bool     `json:"checkpoint"`
		SuppressedRoles []string `json:"suppressed_roles"`
	} `json:"frameworks"`
	CompletedFrameworks []struct {
		ID string `json:"id"`
	} `json:"completed_frameworks"`
}

// getState reads the stand-in's /master/state.
func getState(t testing.TB, m *localmesos.Master) masterState {
	t.Helper()
	resp, err := http.Get(m.URL() + "/master/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s masterState
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// proxy is a TCP proxy in front of a master whose connections a test can cut
// or freeze, and which can refuse new connections.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	refuse bool
}

// proxyConn is one proxied connection.
type proxyConn struct {
	client, server net.Conn
	frozen         chan struct{} // closed: stop forwarding to the client
	closed         chan struct{}
	once           sync.Once
	freezeOnce     sync.Once
}

func (c *proxyConn) close() {
	c.once.Do(func() {
		close(c.closed)
		c.client.Close()
		c.server.Close()
	})
}

// newProxy starts a proxy to target ("host:port"); cleanup closes it.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[*proxyConn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	return p
}

// URL is the proxy's address as a master URL.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, frozen: make(chan struct{}), closed: make(chan struct{})}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(server, client)
			c.close()
			p.forget(c)
		}()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := server.Read(buf)
				select {
				case <-c.frozen:
					<-c.closed
					return
				default:
				}
				if n > 0 {
					if _, werr := client.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			c.close()
			p.forget(c)
		}()
	}
}

func (p *proxy) forget(c *proxyConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// open returns the connections currently open.
func (p *proxy) open() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	return out
}

// Cut closes every open connection.
func (p *proxy) Cut() {
	for _, c := range p.open() {
		c.close()
	}
}

// Freeze stops forwarding anything from the master on every open connection,
// without closing it: the master and the driver both still see it open.
func (p *proxy) Freeze() {
	for _, c := range p.open() {
		c.freezeOnce.Do(func() { close(c.frozen) })
	}
}

// Refuse makes the proxy close new connections at once (or not).
func (p *proxy) Refuse(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
}

// fakeMaster is an httptest server standing in for a master where a test
// needs to script the protocol: it records every call and answers SUBSCRIBE
// with the subscribe function.
type fakeMaster struct {
	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	calls   []*scheduler.Call // every call received, SUBSCRIBE included, in order
	headers []http.Header     // their request headers
	changed chan struct{}

	// subscribe answers a SUBSCRIBE (default: a stream with SUBSCRIBED).
	subscribe func(w http.ResponseWriter, r *http.Request, call *scheduler.Call)
	// answer returns the status and body of any other call (default 202).
	answer func(call *scheduler.Call) (int, string)
}

func newFakeMaster(t testing.TB) *fakeMaster {
	f := &fakeMaster{t: t, changed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the fake's base URL.
func (f *fakeMaster) URL() string { return f.srv.URL }

// setAnswer replaces the answer function while the fake serves.
func (f *fakeMaster) setAnswer(answer func(call *scheduler.Call) (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

func (f *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	codec, ok := requestCodec(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(r.Body)
	if !ok || err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	call := new(scheduler.Call)
	if err := codec.NewDecoder(encoding.SourceReader(bytes.NewReader(body))).Decode(call); err != nil {
		http.Error(w, "cannot decode: "+err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.headers = append(f.headers, r.Header.Clone())
	close(f.changed)
	f.changed = make(chan struct{})
	subscribe, answer := f.subscribe, f.answer
	f.mu.Unlock()
	if call.Type == scheduler.Call_SUBSCRIBE {
		if subscribe == nil {
			subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
				s := openFakeStream(w, r, "stream-1")
				s.send(subscribedEvent("fw-1", 15))
				<-r.Context().Done()
			}
		}
		subscribe(w, r, call)
		return
	}
	code, msg := http.StatusAccepted, ""
	if answer != nil {
		code, msg = answer(call)
	}
	if code == http.StatusAccepted {
		w.WriteHeader(code)
		return
	}
	http.Error(w, msg, code)
}

// requestCodec picks a codec by Content-Type.
func requestCodec(ct string) (encoding.Codec, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return encoding.Codec{}, false
	}
	c, ok := codecs.ByMediaType[encoding.MediaType(mt)]
	return c, ok
}

// received returns the calls received so far and their headers.
func (f *fakeMaster) received() ([]*scheduler.Call, []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*scheduler.Call(nil), f.calls...), append([]http.Header(nil), f.headers...)
}

// waitCall waits until a call of type typ has been received at index from or
// later, and returns its index.
func (f *fakeMaster) waitCall(typ scheduler.Call_Type, from int) (int, *scheduler.Call, http.Header) {
	f.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		for i := from; i < len(f.calls); i++ {
			if f.calls[i].Type == typ {
				c, h := f.calls[i], f.headers[i]
				f.mu.Unlock()
				return i, c, h
			}
		}
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			f.t.Fatalf("timed out waiting for a %v call", typ)
		}
	}
}

// fakeStream writes events of a SUBSCRIBE answer.
type fakeStream struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	rc    *http.ResponseController
	enc   encoding.Encoder
	codec encoding.Codec
}

// openFakeStream answers 200 with the stream id and the codec the request
// asked for.
func openFakeStream(w http.ResponseWriter, r *http.Request, streamID string) *fakeStream {
	codec, _ := requestCodec(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", string(codec.Type))
	w.Header().Set(headerStreamID, streamID)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	rw := recordio.NewWriter(w)
	return &fakeStream{w: w, rc: rc, codec: codec, enc: codec.NewEncoder(func() framing.Writer { return rw })}
}

// send writes one event and flushes it.
func (s *fakeStream) send(ev *scheduler.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enc.Encode(ev); err != nil {
		return err
	}
	return s.rc.Flush()
}

// subscribedEvent is a SUBSCRIBED event.
func subscribedEvent(id string, heartbeatSeconds float64) *scheduler.Event {
	return &scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED,
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkID:              &mesos.FrameworkID{Value: id},
			HeartbeatIntervalSeconds: &heartbeatSeconds,
		},
	}
}

// updateEvent is an UPDATE event of a task on agent "agent-1" with a uuid.
func updateEvent(taskID string, state mesos.TaskState, uuid []byte) *scheduler.Event {
	return &scheduler.Event{
		Type: scheduler.Event_UPDATE,
		Update: &scheduler.Event_Update{Status: mesos.TaskStatus{
			TaskID:  mesos.TaskID{Value: taskID},
			State:   state.Enum(),
			AgentID: &mesos.AgentID{Value: "agent-1"},
			UUID:    uuid,
		}},
	}
}

// isErr reports whether a recorded error wraps target.
func isErr(target error) func(record) bool {
	return func(rec record) bool { return rec.kind == "Disconnected" && errors.Is(rec.err, target) }
}
