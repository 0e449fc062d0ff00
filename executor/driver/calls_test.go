package driver

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/executor/localmesos"
)

// TestLaunchAcknowledges launches several tasks from one offer: their
// STARTING and RUNNING updates reach the handler and are acknowledged, so the
// stand-in has nothing left to resend.
func TestLaunchAcknowledges(t *testing.T) {
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			m := newMaster(t, nil)
			h := newRecorder(t)
			cfg := testConfig(t, m.URL())
			cfg.Codec = codec
			d := start(t, cfg, h)
			ids := launchSleepers(t, m, h, d, "task-", 3)
			for _, id := range ids {
				for _, state := range []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING} {
					_, rec := h.waitFor(id+" "+state.String(), 0, isUpdate(id, state))
					if len(rec.status.UUID) != 16 {
						t.Errorf("%s %v: uuid of %d bytes", id, state, len(rec.status.UUID))
					}
				}
			}
			// launchSleepers waited for Pending == 0 on every task.
		})
	}
}

// TestAcknowledgeAfterUpdate: the ACKNOWLEDGE of an update is sent only once
// the handler's Update has returned.
func TestAcknowledgeAfterUpdate(t *testing.T) {
	f := newFakeMaster(t)
	uuid := []byte("0123456789abcdef")
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		s := openFakeStream(w, r, "s")
		_ = s.send(subscribedEvent("fw-1", 15))
		_ = s.send(updateEvent("t1", mesos.TASK_RUNNING, uuid))
		<-r.Context().Done()
	}
	h := newRecorder(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h.onUpdate = func(ctx context.Context, st mesos.TaskStatus) {
		close(entered)
		<-release
	}
	releaseOnce := sync.OnceFunc(func() { close(release) })
	start(t, testConfig(t, f.URL()), h)
	defer releaseOnce() // before the driver is stopped, even on failure
	select {
	case <-entered:
	case <-time.After(waitTimeout):
		t.Fatal("Update was not called")
	}
	calls, _ := f.received()
	for _, c := range calls {
		if c.Type == scheduler.Call_ACKNOWLEDGE {
			t.Fatal("ACKNOWLEDGE sent before Update returned")
		}
	}
	releaseOnce()
	_, ack, _ := f.waitCall(scheduler.Call_ACKNOWLEDGE, 0)
	a := ack.Acknowledge
	if a.TaskID.Value != "t1" || a.AgentID.Value != "agent-1" || string(a.UUID) != string(uuid) {
		t.Errorf("ACKNOWLEDGE %+v", a)
	}
}

// TestDeclineWithFilter declines one agent's offer for an hour and the other
// agent's with no filter: the second agent keeps being offered, the first
// never again.
func TestDeclineWithFilter(t *testing.T) {
	m := newMaster(t, func(c *localmesos.Config) { c.Agents = 2 })
	agents := m.Agents()
	filtered, other := agents[0].ID, agents[1].ID
	h := newRecorder(t)
	var d *running
	h.onOffers = func(ctx context.Context, offers []mesos.Offer) {
		for _, o := range offers {
			refuse := 0.0
			if o.AgentID.Value == filtered {
				refuse = 3600
			}
			if err := d.Decline(ctx, []string{o.ID.Value}, refuse); err != nil && ctx.Err() == nil {
				t.Errorf("Decline: %v", err)
			}
		}
	}
	d = start(t, testConfig(t, m.URL()), h)
	i, _ := h.waitFor("an offer of "+filtered, 0, func(rec record) bool {
		return rec.kind == "Offers" && offersAgent(rec.offers, filtered)
	})
	// The offers of the other agent are the clock: three more allocations.
	for n := 0; n < 3; n++ {
		i, _ = h.waitFor("an offer of "+other, i+1, func(rec record) bool {
			return rec.kind == "Offers" && offersAgent(rec.offers, other)
		})
	}
	seen := 0
	for _, rec := range h.snapshot() {
		if rec.kind == "Offers" && offersAgent(rec.offers, filtered) {
			seen++
		}
	}
	if seen != 1 {
		t.Errorf("%s was offered %d times, want once (then filtered for an hour)", filtered, seen)
	}
}

// offersAgent reports whether one of the offers is of agent id.
func offersAgent(offers []mesos.Offer, id string) bool {
	for _, o := range offers {
		if o.AgentID.Value == id {
			return true
		}
	}
	return false
}

// declineAll is an onOffers hook that declines every offer with no filter
// (errors once the test is over and Run's context is done are expected).
func declineAll(t *testing.T, d **running) func(ctx context.Context, offers []mesos.Offer) {
	return func(ctx context.Context, offers []mesos.Offer) {
		ids := make([]string, len(offers))
		for i, o := range offers {
			ids[i] = o.ID.Value
		}
		if err := (*d).Decline(ctx, ids, 0); err != nil && ctx.Err() == nil {
			t.Errorf("Decline: %v", err)
		}
	}
}

// TestSuppressRevive: a suppressed framework gets no offers while another
// framework (served after it in every allocation pass) gets the agent's
// resources pass after pass; revived, it gets offers again.
func TestSuppressRevive(t *testing.T) {
	m := newMaster(t, nil)
	ctx := context.Background()
	ha, hb := newRecorder(t), newRecorder(t)
	var a, b *running
	ha.onOffers = declineAll(t, &a)
	hb.onOffers = declineAll(t, &b)
	a = start(t, testConfig(t, m.URL()), ha)
	_, sub := ha.waitFor("a's Subscribed", 0, isKind("Subscribed"))
	ha.waitFor("a's first offers", 0, isKind("Offers"))
	if err := a.Suppress(ctx); err != nil {
		t.Fatalf("Suppress: %v", err)
	}
	if got := suppressedRoles(t, m, sub.frameworkID); !slices.Equal(got, []string{"*"}) {
		t.Errorf("suppressed roles %v, want [*]", got)
	}

	b = start(t, testConfig(t, m.URL()), hb)
	i, _ := hb.waitFor("b's first offers", 0, isKind("Offers"))
	mark := len(ha.snapshot())
	for n := 0; n < 3; n++ {
		i, _ = hb.waitFor("b's offers", i+1, isKind("Offers"))
	}
	for _, rec := range ha.snapshot()[mark:] {
		if rec.kind == "Offers" {
			t.Fatal("the suppressed framework got offers")
		}
	}

	if err := a.Revive(ctx); err != nil {
		t.Fatalf("Revive: %v", err)
	}
	ha.waitFor("offers after Revive", mark, isKind("Offers"))
	if got := suppressedRoles(t, m, sub.frameworkID); len(got) != 0 {
		t.Errorf("suppressed roles %v after Revive", got)
	}
}

// suppressedRoles returns what the stand-in holds as a framework's
// suppressed roles.
func suppressedRoles(t *testing.T, m *localmesos.Master, id string) []string {
	t.Helper()
	for _, fw := range getState(t, m).Frameworks {
		if fw.ID == id {
			return fw.SuppressedRoles
		}
	}
	t.Fatalf("framework %s not in /master/state", id)
	return nil
}

// TestKillWithGracePeriod kills a task that ignores SIGTERM and was launched
// with an hour's grace: the KILL's grace period is the one that applies.
func TestKillWithGracePeriod(t *testing.T) {
	m := newMaster(t, nil)
	h := newRecorder(t)
	d := start(t, testConfig(t, m.URL()), h)
	_, rec := h.waitFor("offers", 0, isKind("Offers"))
	o := rec.offers[0]
	task := shellTask(o, "stubborn", "trap '' TERM; sleep 3600")
	task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: time.Hour.Nanoseconds()}}
	ctx := context.Background()
	if err := d.Launch(ctx, []string{o.ID.Value}, []mesos.TaskInfo{task}, -1); err != nil {
		t.Fatal(err)
	}
	i, _ := h.waitFor("RUNNING", 0, isUpdate("stubborn", mesos.TASK_RUNNING))
	if err := d.Kill(ctx, "stubborn", o.AgentID.Value, 100*time.Millisecond); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	i, _ = h.waitFor("KILLING", i, isUpdate("stubborn", mesos.TASK_KILLING))
	h.waitFor("KILLED", i, isUpdate("stubborn", mesos.TASK_KILLED))
	eventually(t, "the KILLED update to be acknowledged", func() bool {
		_, known := taskInfo(m, "stubborn")
		return !known
	})
}

// TestReconcile asks for explicit (a known and an unknown task) and implicit
// reconciliation.
func TestReconcile(t *testing.T) {
	m := newMaster(t, nil)
	h := newRecorder(t)
	d := start(t, testConfig(t, m.URL()), h)
	ids := launchSleepers(t, m, h, d, "rec-", 1)
	agent := m.Agents()[0].ID
	ctx := context.Background()

	mark := len(h.snapshot())
	if err := d.Reconcile(ctx, map[string]string{ids[0]: agent, "ghost": agent}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	_, known := h.waitFor("the known task", mark, isUpdate(ids[0], mesos.TASK_RUNNING))
	_, ghost := h.waitFor("the unknown task", mark, isUpdate("ghost", mesos.TASK_GONE))
	for _, rec := range []record{known, ghost} {
		if rec.status.GetReason() != mesos.REASON_RECONCILIATION || len(rec.status.UUID) != 0 {
			t.Errorf("%s: reason %v, uuid %x", rec.status.TaskID.Value, rec.status.GetReason(), rec.status.UUID)
		}
	}

	mark = len(h.snapshot())
	if err := d.Reconcile(ctx, nil); err != nil {
		t.Fatalf("implicit Reconcile: %v", err)
	}
	_, rec := h.waitFor("implicit reconciliation", mark, isUpdate(ids[0], mesos.TASK_RUNNING))
	if rec.status.GetReason() != mesos.REASON_RECONCILIATION {
		t.Errorf("reason %v", rec.status.GetReason())
	}
}

// TestFailureAfterLoseAgent: a lost agent comes as a FAILURE (and, the
// framework being partition-aware, its task as TASK_UNREACHABLE).
func TestFailureAfterLoseAgent(t *testing.T) {
	m := newMaster(t, nil)
	h := newRecorder(t)
	d := start(t, testConfig(t, m.URL()), h)
	ids := launchSleepers(t, m, h, d, "lost-", 1)
	agent := m.Agents()[0].ID
	mark := len(h.snapshot())
	if err := m.LoseAgent(agent); err != nil {
		t.Fatal(err)
	}
	_, f := h.waitFor("Failure", mark, isKind("Failure"))
	if f.agentID != agent || f.executorID != "" || f.exitStatus != nil {
		t.Errorf("Failure(%q, %q, %v), want the agent alone", f.agentID, f.executorID, f.exitStatus)
	}
	h.waitFor("UNREACHABLE", mark, isUpdate(ids[0], mesos.TASK_UNREACHABLE))
}

// TestRemovedAfterFailoverTimeout keeps the driver away from the master for
// longer than its failover timeout: the master removes the framework, and on
// its return the driver reports Removed and subscribes as a new framework.
func TestRemovedAfterFailoverTimeout(t *testing.T) {
	m := newMaster(t, nil)
	p := newProxy(t, strings.TrimPrefix(m.URL(), "http://"))
	h := newRecorder(t)
	cfg := testConfig(t, p.URL())
	cfg.FailoverTimeout = 200 * time.Millisecond
	d := start(t, cfg, h)
	_, first := h.waitFor("Subscribed", 0, isKind("Subscribed"))
	ids := launchSleepers(t, m, h, d, "doomed-", 1)

	mark := len(h.snapshot())
	p.Refuse(true)
	p.Cut()
	h.waitFor("Disconnected", mark, isKind("Disconnected"))
	eventually(t, "the master to remove the framework", func() bool {
		for _, fw := range getState(t, m).CompletedFrameworks {
			if fw.ID == first.frameworkID {
				return true
			}
		}
		return false
	})
	p.Refuse(false)
	i, removed := h.waitFor("Removed", mark, isKind("Removed"))
	if removed.message != "Framework has been removed" {
		t.Errorf("Removed(%q)", removed.message)
	}
	_, again := h.waitFor("Subscribed afresh", i, isKind("Subscribed"))
	if again.frameworkID == first.frameworkID || again.reconnected {
		t.Errorf("Subscribed(%q, reconnected %v), want a new framework", again.frameworkID, again.reconnected)
	}
	if got := d.FrameworkID(); got != again.frameworkID {
		t.Errorf("FrameworkID() = %q, want %q", got, again.frameworkID)
	}
	eventually(t, "the old framework's task to be gone", func() bool {
		_, ok := taskInfo(m, ids[0])
		return !ok
	})
}

// TestFailedOver: a second scheduler subscribes with the framework id; the
// first one's Run returns ErrFailedOver instead of fighting over it.
func TestFailedOver(t *testing.T) {
	m := newMaster(t, nil)
	ha := newRecorder(t)
	a := New(testConfig(t, m.URL()), ha)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	_, sub := ha.waitFor("a's Subscribed", 0, isKind("Subscribed"))

	hb := newRecorder(t)
	cfg := testConfig(t, m.URL())
	cfg.FrameworkID = sub.frameworkID
	start(t, cfg, hb)
	_, bsub := hb.waitFor("b's Subscribed", 0, isKind("Subscribed"))
	if bsub.frameworkID != sub.frameworkID || !bsub.reconnected {
		t.Errorf("b: Subscribed(%q, %v)", bsub.frameworkID, bsub.reconnected)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrFailedOver) {
			t.Errorf("a's Run returned %v, want ErrFailedOver", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("a's Run did not return")
	}
	ha.waitFor("a's Disconnected", 0, isErr(ErrFailedOver))
	for _, rec := range ha.snapshot() {
		if rec.kind == "Removed" {
			t.Error("a was told Removed")
		}
	}
	if a.FrameworkID() != sub.frameworkID {
		t.Errorf("a forgot its framework id: %q", a.FrameworkID())
	}
}

// TestTeardown tears the framework down: Run returns nil, the id is
// forgotten, the master has removed the framework and killed its task.
func TestTeardown(t *testing.T) {
	m := newMaster(t, nil)
	h := newRecorder(t)
	d := start(t, testConfig(t, m.URL()), h)
	_, sub := h.waitFor("Subscribed", 0, isKind("Subscribed"))
	ids := launchSleepers(t, m, h, d, "torn-", 1)
	if err := d.Teardown(context.Background()); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	select {
	case err := <-d.done:
		close(d.done)
		if err != nil {
			t.Errorf("Run returned %v after Teardown", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return after Teardown")
	}
	h.waitFor("Disconnected", 0, isErr(ErrTornDown))
	if d.FrameworkID() != "" || d.Connected() {
		t.Errorf("after Teardown: FrameworkID %q, Connected %v", d.FrameworkID(), d.Connected())
	}
	for _, rec := range h.snapshot() {
		if rec.kind == "Removed" {
			t.Error("Removed after the driver's own Teardown")
		}
	}
	completed := getState(t, m).CompletedFrameworks
	if len(completed) != 1 || completed[0].ID != sub.frameworkID {
		t.Errorf("completed frameworks %+v, want %s", completed, sub.frameworkID)
	}
	eventually(t, "the task to be killed", func() bool {
		_, ok := taskInfo(m, ids[0])
		return !ok
	})
}

// TestCallsWhileDisconnected: every call fails fast, and says why, when the
// driver holds no subscription.
func TestCallsWhileDisconnected(t *testing.T) {
	d := New(testConfig(t, "http://127.0.0.1:1"), newRecorder(t))
	ctx := context.Background()
	task := []mesos.TaskInfo{{TaskID: mesos.TaskID{Value: "t"}}}
	calls := map[string]func() error{
		"Launch":    func() error { return d.Launch(ctx, []string{"o"}, task, 1) },
		"Decline":   func() error { return d.Decline(ctx, []string{"o"}, 1) },
		"Suppress":  func() error { return d.Suppress(ctx) },
		"Revive":    func() error { return d.Revive(ctx, "*") },
		"Kill":      func() error { return d.Kill(ctx, "t", "a", time.Second) },
		"Reconcile": func() error { return d.Reconcile(ctx, nil) },
		"Teardown":  func() error { return d.Teardown(ctx) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if !errors.Is(err, ErrNotConnected) {
				t.Errorf("%s: %v, want ErrNotConnected", name, err)
			}
		})
	}
	if d.Connected() || d.MasterURL() != "" {
		t.Errorf("Connected %v, MasterURL %q", d.Connected(), d.MasterURL())
	}
}

// TestCallEncoding checks what each call puts on the wire, in both codecs.
func TestCallEncoding(t *testing.T) {
	tasks := []mesos.TaskInfo{
		{Name: "a", TaskID: mesos.TaskID{Value: "a"}, AgentID: mesos.AgentID{Value: "ag"}},
		{Name: "b", TaskID: mesos.TaskID{Value: "b"}, AgentID: mesos.AgentID{Value: "ag"}},
	}
	refuse := func(c *scheduler.Call) *float64 {
		switch {
		case c.Accept != nil && c.Accept.Filters != nil:
			return c.Accept.Filters.RefuseSeconds
		case c.Decline != nil && c.Decline.Filters != nil:
			return c.Decline.Filters.RefuseSeconds
		}
		return nil
	}
	tests := map[string]struct {
		call  func(ctx context.Context, d *Driver) error
		check func(t *testing.T, c *scheduler.Call)
	}{
		"launch: one ACCEPT, one LAUNCH, offers in order without duplicates": {
			call: func(ctx context.Context, d *Driver) error {
				return d.Launch(ctx, []string{"o2", "o1", "o2"}, tasks, 0)
			},
			check: func(t *testing.T, c *scheduler.Call) {
				var ids []string
				for _, id := range c.Accept.OfferIDs {
					ids = append(ids, id.Value)
				}
				if !slices.Equal(ids, []string{"o2", "o1"}) {
					t.Errorf("offer ids %v", ids)
				}
				ops := c.Accept.Operations
				if len(ops) != 1 || ops[0].GetType() != mesos.Offer_Operation_LAUNCH || len(ops[0].Launch.TaskInfos) != 2 {
					t.Fatalf("operations %+v", ops)
				}
				if r := refuse(c); r == nil || *r != 0 {
					t.Errorf("refuse_seconds %v, want 0", r)
				}
			},
		},
		"launch with the master's default filter": {
			call: func(ctx context.Context, d *Driver) error { return d.Launch(ctx, []string{"o1"}, tasks[:1], -1) },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Accept.Filters != nil {
					t.Errorf("filters %+v, want none", c.Accept.Filters)
				}
			},
		},
		"decline with a filter": {
			call: func(ctx context.Context, d *Driver) error { return d.Decline(ctx, []string{"o1", "o3"}, 7.5) },
			check: func(t *testing.T, c *scheduler.Call) {
				if len(c.Decline.OfferIDs) != 2 {
					t.Errorf("offer ids %v", c.Decline.OfferIDs)
				}
				if r := refuse(c); r == nil || *r != 7.5 {
					t.Errorf("refuse_seconds %v, want 7.5", r)
				}
			},
		},
		"kill with a grace period": {
			call: func(ctx context.Context, d *Driver) error { return d.Kill(ctx, "t1", "ag", 1500*time.Millisecond) },
			check: func(t *testing.T, c *scheduler.Call) {
				k := c.Kill
				if k.TaskID.Value != "t1" || k.GetAgentID().GetValue() != "ag" {
					t.Errorf("kill %+v", k)
				}
				if g := k.GetKillPolicy().GetGracePeriod(); g == nil || g.Nanoseconds != 1.5e9 {
					t.Errorf("grace period %v, want 1.5s", g)
				}
			},
		},
		"kill at once, agent unknown": {
			call: func(ctx context.Context, d *Driver) error { return d.Kill(ctx, "t1", "", 0) },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Kill.AgentID != nil {
					t.Errorf("agent id %v, want none", c.Kill.AgentID)
				}
				if g := c.Kill.GetKillPolicy().GetGracePeriod(); g == nil || g.Nanoseconds != 0 {
					t.Errorf("grace period %v, want 0", g)
				}
			},
		},
		"kill with the task's own policy": {
			call: func(ctx context.Context, d *Driver) error { return d.Kill(ctx, "t1", "ag", -1) },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Kill.KillPolicy != nil {
					t.Errorf("kill policy %+v, want none", c.Kill.KillPolicy)
				}
			},
		},
		"explicit reconcile, sorted": {
			call: func(ctx context.Context, d *Driver) error {
				return d.Reconcile(ctx, map[string]string{"t2": "", "t1": "ag"})
			},
			check: func(t *testing.T, c *scheduler.Call) {
				ts := c.Reconcile.Tasks
				if len(ts) != 2 || ts[0].TaskID.Value != "t1" || ts[0].GetAgentID().GetValue() != "ag" ||
					ts[1].TaskID.Value != "t2" || ts[1].AgentID != nil {
					t.Errorf("tasks %+v", ts)
				}
			},
		},
		"implicit reconcile": {
			call: func(ctx context.Context, d *Driver) error { return d.Reconcile(ctx, map[string]string{}) },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Reconcile == nil || len(c.Reconcile.Tasks) != 0 {
					t.Errorf("reconcile %+v, want no tasks", c.Reconcile)
				}
			},
		},
		"suppress a role": {
			call: func(ctx context.Context, d *Driver) error { return d.Suppress(ctx, "web") },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Type != scheduler.Call_SUPPRESS || !slices.Equal(c.Suppress.GetRoles(), []string{"web"}) {
					t.Errorf("%v %+v", c.Type, c.Suppress)
				}
			},
		},
		"revive every role": {
			call: func(ctx context.Context, d *Driver) error { return d.Revive(ctx) },
			check: func(t *testing.T, c *scheduler.Call) {
				if c.Type != scheduler.Call_REVIVE || len(c.Revive.GetRoles()) != 0 {
					t.Errorf("%v %+v", c.Type, c.Revive)
				}
			},
		},
	}
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			f := newFakeMaster(t)
			h := newRecorder(t)
			cfg := testConfig(t, f.URL())
			cfg.Codec = codec
			d := start(t, cfg, h)
			h.waitFor("Subscribed", 0, isKind("Subscribed"))
			for name, tc := range tests {
				t.Run(name, func(t *testing.T) {
					before, _ := f.received()
					if err := tc.call(context.Background(), d.Driver); err != nil {
						t.Fatal(err)
					}
					after, _ := f.received()
					if len(after) != len(before)+1 {
						t.Fatalf("%d calls sent, want 1", len(after)-len(before))
					}
					tc.check(t, after[len(before)])
				})
			}
		})
	}
}

// TestCallArgumentsRefused: calls that cannot be right are refused before
// anything is sent; declining nothing sends nothing.
func TestCallArgumentsRefused(t *testing.T) {
	f := newFakeMaster(t)
	h := newRecorder(t)
	d := start(t, testConfig(t, f.URL()), h)
	h.waitFor("Subscribed", 0, isKind("Subscribed"))
	ctx := context.Background()
	task := []mesos.TaskInfo{{TaskID: mesos.TaskID{Value: "t"}}}
	tests := map[string]struct {
		call    func() error
		wantErr bool
	}{
		"launch without offers":   {func() error { return d.Launch(ctx, nil, task, 1) }, true},
		"launch without tasks":    {func() error { return d.Launch(ctx, []string{"o"}, nil, 1) }, true},
		"launch refusing NaN":     {func() error { return d.Launch(ctx, []string{"o"}, task, math.NaN()) }, true},
		"decline refusing +Inf":   {func() error { return d.Decline(ctx, []string{"o"}, math.Inf(1)) }, true},
		"kill without a task":     {func() error { return d.Kill(ctx, "", "a", 0) }, true},
		"reconcile an empty id":   {func() error { return d.Reconcile(ctx, map[string]string{"": "a"}) }, true},
		"decline nothing, a noop": {func() error { return d.Decline(ctx, nil, 1) }, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before, _ := f.received()
			err := tc.call()
			if (err != nil) != tc.wantErr {
				t.Errorf("error %v, want error: %v", err, tc.wantErr)
			}
			if after, _ := f.received(); len(after) != len(before) {
				t.Errorf("%d calls sent, want none", len(after)-len(before))
			}
		})
	}
}

// TestCallRefused: a refusal comes back as a *CallError with the master's
// status and message. A 403 (not subscribed, as far as the master knows)
// also makes the driver re-subscribe; a 400 does not.
func TestCallRefused(t *testing.T) {
	tests := map[string]struct {
		code        int
		message     string
		resubscribe bool
	}{
		"400": {http.StatusBadRequest, "Framework cannot be found", false},
		"403": {http.StatusForbidden, "Framework is not subscribed", true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeMaster(t)
			f.setAnswer(func(call *scheduler.Call) (int, string) { return tc.code, tc.message })
			h := newRecorder(t)
			d := start(t, testConfig(t, f.URL()), h)
			h.waitFor("Subscribed", 0, isKind("Subscribed"))
			err := d.Kill(context.Background(), "t1", "", -1)
			var ce *CallError
			if !errors.As(err, &ce) {
				t.Fatalf("Kill: %v, want a *CallError", err)
			}
			if ce.Call != "KILL" || ce.StatusCode != tc.code || ce.Message != tc.message || ce.Master != f.URL() {
				t.Errorf("%+v", ce)
			}
			if !strings.Contains(err.Error(), tc.message) || !strings.Contains(err.Error(), http.StatusText(tc.code)) {
				t.Errorf("the message %q lacks the status or the master's text", err)
			}
			if tc.resubscribe {
				i, _ := h.waitFor("Disconnected", 0, isKind("Disconnected"))
				h.waitFor("Subscribed again", i, isKind("Subscribed"))
				return
			}
			// A 400 leaves the subscription alone: the next call goes over it.
			f.setAnswer(nil)
			if err := d.Revive(context.Background()); err != nil {
				t.Errorf("Revive after a 400: %v", err)
			}
			for _, rec := range h.snapshot() {
				if rec.kind == "Disconnected" {
					t.Errorf("Disconnected(%v) after a 400", rec.err)
				}
			}
		})
	}
}
