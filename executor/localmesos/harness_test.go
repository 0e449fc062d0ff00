package localmesos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/framing"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/internal/freeports"
)

// The tests talk real HTTP to a running Master and run real processes. They
// wait on events (with a deadline), never on fixed sleeps.

// waitTimeout bounds every wait in the tests: generous, for a loaded machine.
const waitTimeout = 20 * time.Second

var (
	jsonCodec  = codecs.ByMediaType[codecs.MediaTypeJSON]
	protoCodec = codecs.ByMediaType[codecs.MediaTypeProtobuf]
)

// helperEnv makes the test binary act as a task process (see TestMain).
const helperEnv = "LOCALMESOS_TEST_HELPER"

// TestMain lets the test binary double as task processes: with
// LOCALMESOS_TEST_HELPER set it runs the named helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper implements the helper processes:
//   - "http": serves HTTP on $HOST:$PORT0; GET / answers 200 while a file
//     $HEALTHY_FILE (default "healthy" in the working directory) exists, 503
//     otherwise.
//   - "stubborn": ignores SIGTERM, starts a child `sleep` that ignores it too,
//     writes the child's pid to child.pid, then waits forever.
//   - "master": a Master (see runMasterHelper), for the tests that crash one.
func runHelper(mode string) int {
	switch mode {
	case "master":
		return runMasterHelper()
	case "http":
		ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), os.Getenv("PORT0")))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("listening on", ln.Addr())
		healthy := os.Getenv("HEALTHY_FILE")
		if healthy == "" {
			healthy = "healthy"
		}
		err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := os.Stat(healthy); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}))
		fmt.Fprintln(os.Stderr, err)
		return 1
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		child, err := os.StartProcess("/bin/sleep", []string{"sleep", "300"}, &os.ProcAttr{Files: []*os.File{nil, os.Stdout, os.Stderr}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if err := os.WriteFile("child.pid", []byte(fmt.Sprint(child.Pid)), 0o644); err != nil {
			return 2
		}
		_, _ = child.Wait()
		select {}
	}
	fmt.Fprintln(os.Stderr, "unknown helper", mode)
	return 2
}

// helperCommand returns a CommandInfo that runs the test binary as helper mode.
func helperCommand(t testing.TB, mode string, env ...mesos.Environment_Variable) *mesos.CommandInfo {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, mesos.Environment_Variable{Name: helperEnv, Value: proto(mode)})
	return &mesos.CommandInfo{
		Shell:       proto(false),
		Value:       proto(exe),
		Arguments:   []string{exe, "-test.run=^$"},
		Environment: &mesos.Environment{Variables: env},
	}
}

// testLogger forwards the master's log to t.Logf until the test ends.
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLogger) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf(format, args...)
	}
}

// testPorts gives cfg agent ports of its own, free, unless it names some: the
// tasks of tests running in parallel (and of a stride dev on this machine) never
// fight over them. A WorkDir an earlier Master of the test ran on keeps that
// one's ports (its agents are recovered only with the same layout).
func testPorts(t testing.TB, cfg *Config) {
	t.Helper()
	if cfg.FirstPort != 0 {
		return
	}
	if cfg.WorkDir != "" {
		var rec clusterRecord
		if b, err := os.ReadFile(filepath.Join(cfg.WorkDir, clusterFileName)); err == nil && json.Unmarshal(b, &rec) == nil && rec.Layout.FirstPort != 0 {
			cfg.FirstPort, cfg.PortsPerAgent = rec.Layout.FirstPort, rec.Layout.PortsPerAgent
			return
		}
	}
	if cfg.PortsPerAgent == 0 {
		cfg.PortsPerAgent = 100
	}
	agents := cfg.Agents
	if agents == 0 {
		agents = defaultAgents
	}
	cfg.FirstPort = freeports.Range(t, agents*cfg.PortsPerAgent)
}

// newMaster starts a Master with short test timings; edit adjusts the config.
// Cleanup closes it, killing every process it started.
func newMaster(t testing.TB, edit func(*Config)) *Master {
	t.Helper()
	log := &testLogger{t: t}
	cfg := Config{
		WorkDir:           t.TempDir(),
		OfferInterval:     20 * time.Millisecond,
		HeartbeatInterval: 100 * time.Millisecond,
		UpdateRetry:       5 * time.Second, // tests of retries set it shorter
		Logf:              log.logf,
	}
	if edit != nil {
		edit(&cfg)
	}
	testPorts(t, &cfg)
	m, err := New(cfg)
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
		log.mu.Lock()
		log.done = true
		log.mu.Unlock()
	})
	return m
}

// endpoint is a master the test client talks to: a stand-in (*Master), or a
// real Mesos master (see conformance_test.go).
type endpoint interface{ URL() string }

// client is a minimal v1 scheduler written against the raw HTTP API: it
// records every event of its subscription stream.
type client struct {
	t        testing.TB
	m        endpoint
	codec    encoding.Codec
	resp     *http.Response
	cancel   context.CancelFunc
	streamID string
	fwID     string
	events   chan *scheduler.Event
	ended    chan struct{} // closed when the stream ends
	ackAll   bool          // acknowledge every update with a uuid on sight
	// declineSkipped declines (with no filter) the offers of OFFERS events
	// that expect skips, so that skipped offers do not stay outstanding.
	declineSkipped bool
}

// frameworkInfo returns a FrameworkInfo with the given capabilities.
func frameworkInfo(caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	info := &mesos.FrameworkInfo{User: "tester", Name: "test-framework"}
	for _, c := range caps {
		info.Capabilities = append(info.Capabilities, mesos.FrameworkInfo_Capability{Type: c})
	}
	return info
}

// encodeBody encodes a call with a codec.
func encodeBody(t testing.TB, codec encoding.Codec, call *scheduler.Call) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := codec.NewEncoder(encoding.SinkWriter(&buf)).Encode(call); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// post sends a raw request to the scheduler endpoint.
func post(t testing.TB, m endpoint, body []byte, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/scheduler", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// subscribe subscribes a framework and waits for SUBSCRIBED.
func subscribe(t testing.TB, m endpoint, codec encoding.Codec, info *mesos.FrameworkInfo) *client {
	t.Helper()
	c := tryClient(t, m, codec, info)
	ev := c.expect(func(ev *scheduler.Event) bool {
		return ev.Type == scheduler.Event_SUBSCRIBED || ev.Type == scheduler.Event_ERROR
	})
	if ev.Type != scheduler.Event_SUBSCRIBED {
		t.Fatalf("subscribe: got %v instead of SUBSCRIBED", ev)
	}
	c.fwID = ev.Subscribed.FrameworkID.Value
	return c
}

// tryClient opens a subscription stream without waiting for its first event.
func tryClient(t testing.TB, m endpoint, codec encoding.Codec, info *mesos.FrameworkInfo) *client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	call := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, FrameworkID: info.ID, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: info}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL()+"/api/v1/scheduler", bytes.NewReader(encodeBody(t, codec, call)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.Type.ContentType())
	req.Header.Set("Accept", codec.Type.ContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("subscribe: %s: %s", resp.Status, b)
	}
	c := &client{
		t: t, m: m, codec: codec, resp: resp, cancel: cancel,
		streamID:       resp.Header.Get(headerStreamID),
		events:         make(chan *scheduler.Event, 100000),
		ended:          make(chan struct{}),
		ackAll:         false,
		declineSkipped: true,
	}
	t.Cleanup(c.close)
	go c.read()
	return c
}

// read decodes the stream's events into c.events.
func (c *client) read() {
	defer close(c.ended)
	dec := c.codec.NewDecoder(func() framing.Reader { return recordio.NewReader(c.resp.Body) })
	for {
		var ev scheduler.Event
		if err := dec.Decode(&ev); err != nil {
			return
		}
		c.events <- &ev
	}
}

// close ends the subscription from the scheduler's side.
func (c *client) close() {
	c.cancel()
	c.resp.Body.Close()
}

// call sends a call on the client's subscription and returns the status code
// and body of the answer.
func (c *client) call(call *scheduler.Call) (int, string) {
	c.t.Helper()
	if call.FrameworkID == nil {
		call.FrameworkID = &mesos.FrameworkID{Value: c.fwID}
	}
	h := http.Header{}
	h.Set("Content-Type", c.codec.Type.ContentType())
	h.Set("Accept", c.codec.Type.ContentType())
	h.Set(headerStreamID, c.streamID)
	resp, body := post(c.t, c.m, encodeBody(c.t, c.codec, call), h)
	return resp.StatusCode, body
}

// mustCall sends a call and fails the test unless it is accepted.
func (c *client) mustCall(call *scheduler.Call) {
	c.t.Helper()
	code, body := c.call(call)
	if code != http.StatusAccepted && code != http.StatusOK {
		c.t.Fatalf("%v call: %d %s", call.Type, code, body)
	}
}

// expect returns the next event that satisfies pred, skipping others (and
// acknowledging updates if ackAll is set). It fails the test after waitTimeout.
func (c *client) expect(pred func(*scheduler.Event) bool) *scheduler.Event {
	c.t.Helper()
	ev, err := c.next(pred, waitTimeout)
	if err != nil {
		c.t.Fatal(err)
	}
	return ev
}

// next is expect returning an error instead of failing.
func (c *client) next(pred func(*scheduler.Event) bool, timeout time.Duration) (*scheduler.Event, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev := <-c.events:
			if ev.Type == scheduler.Event_SUBSCRIBED && c.fwID == "" {
				c.fwID = ev.Subscribed.FrameworkID.Value
			}
			if c.ackAll {
				c.ack(ev)
			}
			if pred(ev) {
				return ev, nil
			}
			if c.declineSkipped && ev.Type == scheduler.Event_OFFERS {
				for _, o := range ev.Offers.Offers {
					c.decline(o.ID, 0)
				}
			}
		case <-c.ended:
			select {
			case ev := <-c.events:
				if pred(ev) {
					return ev, nil
				}
				continue
			default:
			}
			return nil, errors.New("the event stream ended")
		case <-deadline.C:
			return nil, fmt.Errorf("no matching event within %v", timeout)
		}
	}
}

// ack acknowledges an UPDATE event if it carries a uuid.
func (c *client) ack(ev *scheduler.Event) {
	c.t.Helper()
	if ev.Type != scheduler.Event_UPDATE || ev.Update.Status.UUID == nil {
		return
	}
	st := ev.Update.Status
	c.mustCall(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID,
	}})
}

// offers waits for an OFFERS event and returns its offers.
func (c *client) offers() []mesos.Offer {
	c.t.Helper()
	return c.expect(isType(scheduler.Event_OFFERS)).Offers.Offers
}

// offerFrom waits for an offer of the given agent, declining (with no filter)
// offers of other agents so that they keep coming.
func (c *client) offerFrom(agentID string) mesos.Offer {
	c.t.Helper()
	for {
		var found *mesos.Offer
		for _, o := range c.offers() {
			if o.AgentID.Value == agentID && found == nil {
				found = &o
				continue
			}
			c.decline(o.ID, 0)
		}
		if found != nil {
			return *found
		}
	}
}

// decline declines an offer with a refuse_seconds filter.
func (c *client) decline(id mesos.OfferID, refuse float64) {
	c.t.Helper()
	c.mustCall(&scheduler.Call{Type: scheduler.Call_DECLINE, Decline: &scheduler.Call_Decline{
		OfferIDs: []mesos.OfferID{id}, Filters: &mesos.Filters{RefuseSeconds: &refuse},
	}})
}

// launch accepts an offer with tasks, refusing nothing of the remainder.
func (c *client) launch(offerIDs []mesos.OfferID, tasks ...mesos.TaskInfo) {
	c.t.Helper()
	refuse := 0.0
	c.mustCall(&scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{
		OfferIDs:   offerIDs,
		Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
		Filters:    &mesos.Filters{RefuseSeconds: &refuse},
	}})
}

// update waits for an update of a task in the given state.
func (c *client) update(taskID string, state mesos.TaskState) mesos.TaskStatus {
	c.t.Helper()
	return c.expect(isUpdate(taskID, state)).Update.Status
}

// run launches one task on an offer and waits until it is RUNNING,
// acknowledging STARTING and RUNNING.
func (c *client) run(o mesos.Offer, ti mesos.TaskInfo) mesos.TaskStatus {
	c.t.Helper()
	c.launch([]mesos.OfferID{o.ID}, ti)
	c.ack(c.expect(isUpdate(ti.TaskID.Value, mesos.TASK_STARTING)))
	ev := c.expect(isUpdate(ti.TaskID.Value, mesos.TASK_RUNNING))
	c.ack(ev)
	return ev.Update.Status
}

// updates waits for an update in state of each task, in any order, and
// returns them by task id.
func (c *client) updates(state mesos.TaskState, ids ...string) map[string]mesos.TaskStatus {
	c.t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	got := map[string]mesos.TaskStatus{}
	for len(got) < len(want) {
		ev := c.expect(func(ev *scheduler.Event) bool {
			return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.GetState() == state && want[ev.Update.Status.TaskID.Value]
		})
		got[ev.Update.Status.TaskID.Value] = ev.Update.Status
	}
	return got
}

// isType matches events of a type.
func isType(typ scheduler.Event_Type) func(*scheduler.Event) bool {
	return func(ev *scheduler.Event) bool { return ev.Type == typ }
}

// isUpdate matches an update of a task in a state.
func isUpdate(taskID string, state mesos.TaskState) func(*scheduler.Event) bool {
	return func(ev *scheduler.Event) bool {
		return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == taskID && ev.Update.Status.GetState() == state
	}
}

// isTaskUpdate matches any update of a task.
func isTaskUpdate(taskID string) func(*scheduler.Event) bool {
	return func(ev *scheduler.Event) bool {
		return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID.Value == taskID
	}
}

// quiet fails the test if an event matching pred arrives before n heartbeats
// have (which takes at least (n-1) heartbeat intervals). pred sees every
// event once.
func (c *client) quiet(n int, pred func(*scheduler.Event) bool) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		var bad *scheduler.Event
		c.expect(func(ev *scheduler.Event) bool {
			if pred(ev) {
				bad = ev
				return true
			}
			return ev.Type == scheduler.Event_HEARTBEAT
		})
		if bad != nil {
			c.t.Fatalf("unexpected event: %v", bad)
		}
	}
}

// shellTask builds a command task for an offer, using cpus/mem of it.
func shellTask(o mesos.Offer, id, shell string, cpus, mem float64) mesos.TaskInfo {
	return mesos.TaskInfo{
		Name:    id,
		TaskID:  mesos.TaskID{Value: id},
		AgentID: o.AgentID,
		Resources: []mesos.Resource{
			scalar("cpus", cpus), scalar("mem", mem),
		},
		Command: &mesos.CommandInfo{Value: proto(shell)},
	}
}

// scalar is an unreserved scalar resource.
func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

// ports is an unreserved ports resource.
func ports(rs ...mesos.Value_Range) mesos.Resource {
	return mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: rs}}
}

// firstPort returns the lowest port an offer holds.
func offerPort(t testing.TB, o mesos.Offer) uint64 {
	t.Helper()
	for _, r := range o.Resources {
		if r.Name == "ports" && len(r.GetRanges().GetRange()) > 0 {
			return r.GetRanges().GetRange()[0].Begin
		}
	}
	t.Fatalf("offer %s has no ports", o.ID.Value)
	return 0
}

// eventually polls cond until it holds, failing the test after waitTimeout.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// taskState returns the state the master has for a task, or "" if none.
func taskState(m *Master, id string) string {
	for _, ti := range m.Tasks() {
		if ti.ID == id {
			return ti.State.String()
		}
	}
	return ""
}

// sandboxOf returns the sandbox of a known task.
func sandboxOf(t testing.TB, m *Master, id string) string {
	t.Helper()
	for _, ti := range m.Tasks() {
		if ti.ID == id {
			return ti.Sandbox
		}
	}
	t.Fatalf("no task %s", id)
	return ""
}

// readFile reads a file, failing the test if it cannot.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFile waits until a file exists and returns its content.
func waitFile(t testing.TB, path string) string {
	t.Helper()
	var content string
	eventually(t, "file "+filepath.Base(path), func() bool {
		b, err := os.ReadFile(path)
		content = string(b)
		return err == nil && strings.TrimSpace(content) != ""
	})
	return content
}

// processAlive reports whether pid is a live (not zombie) process.
func processAlive(pid int) bool {
	_, err := processStartTime(pid)
	return err == nil || !errors.Is(err, errNoProcess) && syscall.Kill(pid, 0) == nil
}
