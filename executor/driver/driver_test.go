package driver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/executor/localmesos"
)

// TestSubscribe subscribes to the stand-in with each codec and checks what
// the master registered.
func TestSubscribe(t *testing.T) {
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			m := newMaster(t, nil)
			h := newRecorder(t)
			cfg := testConfig(t, m.URL())
			cfg.Codec = codec
			cfg.WebUIURL = "http://stride.example:8080"
			cfg.Hostname = "stride.example"
			d := start(t, cfg, h)

			_, rec := h.waitFor("Subscribed", 0, isKind("Subscribed"))
			if rec.frameworkID == "" || rec.reconnected {
				t.Fatalf("Subscribed(%q, reconnected %v): want a new framework id", rec.frameworkID, rec.reconnected)
			}
			if got := d.FrameworkID(); got != rec.frameworkID {
				t.Errorf("FrameworkID() = %q, want %q", got, rec.frameworkID)
			}
			if !d.Connected() {
				t.Error("Connected() = false after Subscribed")
			}
			if got := d.MasterURL(); got != m.URL() {
				t.Errorf("MasterURL() = %q, want %q", got, m.URL())
			}
			h.waitFor("offers", 0, isKind("Offers"))

			st := getState(t, m)
			if len(st.Frameworks) != 1 {
				t.Fatalf("the master has %d frameworks, want 1", len(st.Frameworks))
			}
			fw := st.Frameworks[0]
			caps := append([]string(nil), fw.Capabilities...)
			sort.Strings(caps)
			checks := map[string]struct{ got, want any }{
				"id":               {fw.ID, rec.frameworkID},
				"name":             {fw.Name, "stride"},
				"user":             {fw.User, "tester"},
				"webui_url":        {fw.WebuiURL, cfg.WebUIURL},
				"hostname":         {fw.Hostname, cfg.Hostname},
				"roles":            {strings.Join(fw.Roles, ","), "*"},
				"capabilities":     {strings.Join(caps, ","), "MULTI_ROLE,PARTITION_AWARE,TASK_KILLING_STATE"},
				"failover_timeout": {fw.FailoverTimeout, (7 * 24 * time.Hour).Seconds()},
				"checkpoint":       {fw.Checkpoint, true},
				"connected":        {fw.Connected, true},
			}
			for name, c := range checks {
				if c.got != c.want {
					t.Errorf("framework %s = %v, want %v", name, c.got, c.want)
				}
			}
		})
	}
}

// TestFrameworkInfoOptions checks the framework_info fields that Config
// sets, as a fake master receives them.
func TestFrameworkInfoOptions(t *testing.T) {
	no := false
	tests := map[string]struct {
		edit  func(*Config)
		check func(t *testing.T, info *mesos.FrameworkInfo, call *scheduler.Call)
	}{
		"defaults": {
			edit: func(*Config) {},
			check: func(t *testing.T, info *mesos.FrameworkInfo, call *scheduler.Call) {
				if info.ID != nil || call.FrameworkID != nil {
					t.Errorf("a new framework sent ids %v / %v", info.ID, call.FrameworkID)
				}
				if info.Role != nil {
					t.Errorf("role %q set next to MULTI_ROLE", info.GetRole())
				}
				if info.Hostname != nil || info.WebUiURL != nil {
					t.Errorf("hostname %v, webui_url %v: want unset", info.Hostname, info.WebUiURL)
				}
				if len(call.Subscribe.SuppressedRoles) != 0 {
					t.Errorf("suppressed roles %v", call.Subscribe.SuppressedRoles)
				}
			},
		},
		"framework id": {
			edit: func(c *Config) { c.FrameworkID = "fw-42" },
			check: func(t *testing.T, info *mesos.FrameworkInfo, call *scheduler.Call) {
				if info.GetID().GetValue() != "fw-42" || call.GetFrameworkID().GetValue() != "fw-42" {
					t.Errorf("ids %v / %v, want fw-42", info.ID, call.FrameworkID)
				}
			},
		},
		"roles, gpus, no checkpoint, failover": {
			edit: func(c *Config) {
				c.Roles = []string{"web", "batch"}
				c.GPUResources = true
				c.Checkpoint = &no
				c.FailoverTimeout = 90 * time.Second
				c.FrameworkName = "stride-test"
			},
			check: func(t *testing.T, info *mesos.FrameworkInfo, call *scheduler.Call) {
				if !slices.Equal(info.Roles, []string{"web", "batch"}) {
					t.Errorf("roles %v", info.Roles)
				}
				var caps []string
				for _, c := range info.Capabilities {
					caps = append(caps, c.Type.String())
				}
				if !slices.Contains(caps, "GPU_RESOURCES") || !slices.Contains(caps, "MULTI_ROLE") {
					t.Errorf("capabilities %v", caps)
				}
				if info.GetCheckpoint() || info.Checkpoint == nil {
					t.Errorf("checkpoint %v, want false", info.Checkpoint)
				}
				if info.GetFailoverTimeout() != 90 || info.Name != "stride-test" {
					t.Errorf("failover %v name %q", info.GetFailoverTimeout(), info.Name)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeMaster(t)
			cfg := testConfig(t, f.URL())
			tc.edit(&cfg)
			start(t, cfg, newRecorder(t))
			_, call, hdr := f.waitCall(scheduler.Call_SUBSCRIBE, 0)
			if hdr.Get(headerStreamID) != "" {
				t.Errorf("SUBSCRIBE sent %s %q", headerStreamID, hdr.Get(headerStreamID))
			}
			tc.check(t, call.Subscribe.FrameworkInfo, call)
		})
	}
}

// launchSleepers launches n "sleep" tasks from the first offer and waits for
// them to run and for the master to have had every update acknowledged.
func launchSleepers(t *testing.T, m *localmesos.Master, h *recorder, d *running, prefix string, n int) []string {
	t.Helper()
	_, rec := h.waitFor("offers", 0, isKind("Offers"))
	o := rec.offers[0]
	var ids []string
	var tasks []mesos.TaskInfo
	for i := 0; i < n; i++ {
		id := prefix + string(rune('a'+i))
		ids = append(ids, id)
		tasks = append(tasks, shellTask(o, id, "sleep 3600"))
	}
	if err := d.Launch(context.Background(), []string{o.ID.Value}, tasks, 0); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	for _, id := range ids {
		h.waitFor(id+" RUNNING", 0, isUpdate(id, mesos.TASK_RUNNING))
		eventually(t, id+" acknowledged", func() bool {
			ti, ok := taskInfo(m, id)
			return ok && ti.State == mesos.TASK_RUNNING && ti.Pending == 0
		})
	}
	return ids
}

// TestResubscribeAfterStreamBreak cuts the connection under the driver: it
// re-subscribes with its framework id and the tasks keep running.
func TestResubscribeAfterStreamBreak(t *testing.T) {
	m := newMaster(t, nil)
	p := newProxy(t, strings.TrimPrefix(m.URL(), "http://"))
	h := newRecorder(t)
	d := start(t, testConfig(t, p.URL()), h)
	_, first := h.waitFor("Subscribed", 0, isKind("Subscribed"))
	ids := launchSleepers(t, m, h, d, "survivor-", 2)
	pids := map[string]int{}
	for _, id := range ids {
		ti, _ := taskInfo(m, id)
		pids[id] = ti.PID
	}

	mark := len(h.snapshot())
	p.Cut()
	i, disc := h.waitFor("Disconnected", mark, isKind("Disconnected"))
	if disc.err == nil {
		t.Error("Disconnected with a nil error")
	}
	_, again := h.waitFor("re-Subscribed", i, isKind("Subscribed"))
	if again.frameworkID != first.frameworkID || !again.reconnected {
		t.Fatalf("re-subscribed as %q (reconnected %v), want %q reconnected", again.frameworkID, again.reconnected, first.frameworkID)
	}
	if !d.Connected() {
		t.Error("not Connected after re-subscribing")
	}
	for _, id := range ids {
		ti, ok := taskInfo(m, id)
		if !ok || ti.State != mesos.TASK_RUNNING || ti.PID != pids[id] {
			t.Errorf("task %s after the break: %+v, want the same process running", id, ti)
		}
	}
	// Calls go over the new subscription.
	mark = len(h.snapshot())
	if err := d.Reconcile(context.Background(), map[string]string{ids[0]: ""}); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	_, rec := h.waitFor("reconciled", mark, isUpdate(ids[0], mesos.TASK_RUNNING))
	if rec.status.GetReason() != mesos.REASON_RECONCILIATION {
		t.Errorf("reason %v", rec.status.GetReason())
	}
}

// TestHeartbeatsMissed freezes the connection (nothing arrives, nothing
// closes): after HeartbeatMisses intervals the driver gives up on it and
// re-subscribes.
func TestHeartbeatsMissed(t *testing.T) {
	m := newMaster(t, func(c *localmesos.Config) { c.HeartbeatInterval = 50 * time.Millisecond })
	p := newProxy(t, strings.TrimPrefix(m.URL(), "http://"))
	h := newRecorder(t)
	cfg := testConfig(t, p.URL())
	cfg.HeartbeatMisses = 3
	d := start(t, cfg, h)
	_, first := h.waitFor("Subscribed", 0, isKind("Subscribed"))

	mark := len(h.snapshot())
	p.Freeze()
	i, disc := h.waitFor("Disconnected", mark, isKind("Disconnected"))
	if !errors.Is(disc.err, ErrMissedHeartbeats) {
		t.Fatalf("Disconnected(%v), want ErrMissedHeartbeats", disc.err)
	}
	_, again := h.waitFor("re-Subscribed", i, isKind("Subscribed"))
	if again.frameworkID != first.frameworkID || !again.reconnected {
		t.Errorf("re-subscribed as %q (reconnected %v), want %q", again.frameworkID, again.reconnected, first.frameworkID)
	}
	if !d.Connected() {
		t.Error("not Connected after re-subscribing")
	}
}

// TestHeartbeatsKeepStreamAlive: a master that sends only heartbeats, for
// longer than HeartbeatMisses intervals, keeps the subscription.
func TestHeartbeatsKeepStreamAlive(t *testing.T) {
	f := newFakeMaster(t)
	// 100 heartbeats 25ms apart (2.5s) while the driver tolerates 1s of silence
	// (10 intervals of 100ms): a watchdog that never resets fires within the
	// stream's life, and only a stall of the machine longer than 1s could fail
	// a correct driver.
	const beats = 100
	sent := make(chan struct{})
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		s := openFakeStream(w, r, "stream-1")
		_ = s.send(subscribedEvent("fw-1", 0.1))
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < beats; i++ {
			<-tick.C
			_ = s.send(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
		}
		close(sent)
		<-r.Context().Done()
	}
	h := newRecorder(t)
	cfg := testConfig(t, f.URL())
	cfg.HeartbeatMisses = 10
	start(t, cfg, h)
	h.waitFor("Subscribed", 0, isKind("Subscribed"))
	select {
	case <-sent:
	case <-time.After(waitTimeout):
		t.Fatal("the fake did not send its heartbeats")
	}
	for _, rec := range h.snapshot() {
		if rec.kind == "Disconnected" {
			t.Fatalf("Disconnected(%v) while heartbeats arrived", rec.err)
		}
	}
}

// TestLeaderRedirect: the driver is given a non-leading master that answers
// 307 with the leader's Location, in each form Mesos (or its documentation)
// uses; it subscribes to the leader and sends its calls there.
func TestLeaderRedirect(t *testing.T) {
	m := newMaster(t, nil)
	leader, _ := url.Parse(m.URL())
	tests := map[string]string{
		"scheme-relative with path": "//" + leader.Host + "/api/v1/scheduler",
		"scheme-relative":           "//" + leader.Host,
		"bare host:port":            leader.Host,
		"absolute":                  m.URL() + "/api/v1/scheduler",
	}
	for name, location := range tests {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var hits []string
			nonLeader := newFakeMaster(t)
			nonLeader.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
				w.Header().Set("Location", location)
				w.WriteHeader(http.StatusTemporaryRedirect)
			}
			nonLeader.answer = func(call *scheduler.Call) (int, string) {
				mu.Lock()
				hits = append(hits, call.Type.String())
				mu.Unlock()
				return http.StatusTemporaryRedirect, ""
			}
			h := newRecorder(t)
			d := start(t, testConfig(t, nonLeader.URL()), h)
			h.waitFor("Subscribed", 0, isKind("Subscribed"))
			if got := d.MasterURL(); got != m.URL() {
				t.Errorf("MasterURL() = %q, want the leader %q", got, m.URL())
			}
			ids := launchSleepers(t, m, h, d, "led-"+strings.ReplaceAll(name, " ", "")+"-", 1)
			if _, ok := taskInfo(m, ids[0]); !ok {
				t.Error("the launch did not reach the leader")
			}
			calls, _ := nonLeader.received()
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != 1 || calls[0].Type != scheduler.Call_SUBSCRIBE || len(hits) != 0 {
				t.Errorf("the non-leader received %d calls (others: %v), want only the first SUBSCRIBE", len(calls), hits)
			}
		})
	}
}

// TestMastersTriedInTurn: the first master of the list is down; the driver
// moves on to the next.
func TestMastersTriedInTurn(t *testing.T) {
	m := newMaster(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	h := newRecorder(t)
	d := start(t, testConfig(t, dead+", "+m.URL()), h)
	h.waitFor("Subscribed", 0, isKind("Subscribed"))
	if got := d.MasterURL(); got != m.URL() {
		t.Errorf("MasterURL() = %q, want %q", got, m.URL())
	}
}

// TestSubscribeRefusedBacksOff: a master that refuses SUBSCRIBE with a 4xx is
// retried with exponential backoff (not in a busy loop), its message logged.
func TestSubscribeRefusedBacksOff(t *testing.T) {
	m := newMaster(t, nil)
	const refusals = 6
	var mu sync.Mutex
	attempts := 0
	f := newFakeMaster(t)
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n <= refusals {
			http.Error(w, "Framework is not authorized to subscribe", http.StatusForbidden)
			return
		}
		w.Header().Set("Location", strings.TrimPrefix(m.URL(), "http:"))
		w.WriteHeader(http.StatusTemporaryRedirect)
	}
	h := newRecorder(t)
	log := newSyncLog(t)
	cfg := testConfig(t, f.URL())
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	cfg.Logf = log.logf
	d := New(cfg, h)
	var waits []time.Duration
	var waitsMu sync.Mutex
	d.sleep = func(ctx context.Context, dur time.Duration) bool {
		waitsMu.Lock()
		waits = append(waits, dur)
		waitsMu.Unlock()
		return ctx.Err() == nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	h.waitFor("Subscribed", 0, isKind("Subscribed"))
	waitsMu.Lock()
	got := append([]time.Duration(nil), waits...)
	waitsMu.Unlock()
	want := []time.Duration{10, 20, 40, 50, 50, 50}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(got, want) {
		t.Errorf("backoff waits %v, want %v", got, want)
	}
	if !log.contains("403 Forbidden: Framework is not authorized to subscribe") {
		t.Error("the refusal's status and message were not logged")
	}
}

// TestBackoffResetAfterSubscription: after a subscribed stream breaks, the
// next attempt waits the minimum backoff.
func TestBackoffResetAfterSubscription(t *testing.T) {
	f := newFakeMaster(t)
	var mu sync.Mutex
	attempts := 0
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		switch {
		case n <= 3:
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		case n == 4:
			s := openFakeStream(w, r, "s")
			_ = s.send(subscribedEvent("fw-1", 15)) // then the stream ends
		default:
			s := openFakeStream(w, r, "s2")
			_ = s.send(subscribedEvent("fw-1", 15))
			<-r.Context().Done()
		}
	}
	h := newRecorder(t)
	cfg := testConfig(t, f.URL())
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, time.Second
	d := New(cfg, h)
	var waitsMu sync.Mutex
	var waits []time.Duration
	d.sleep = func(ctx context.Context, dur time.Duration) bool {
		waitsMu.Lock()
		waits = append(waits, dur)
		waitsMu.Unlock()
		return ctx.Err() == nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	i, _ := h.waitFor("Subscribed", 0, isKind("Subscribed"))
	h.waitFor("second Subscribed", i+1, isKind("Subscribed"))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitsMu.Lock()
	defer waitsMu.Unlock()
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 10 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Errorf("waits %v, want %v", waits, want)
	}
	recs := h.snapshot()
	if recs[i+1].kind != "Disconnected" || !strings.Contains(recs[i+1].err.Error(), "ended") {
		t.Errorf("after the first subscription: %v %v, want Disconnected (stream ended)", recs[i+1].kind, recs[i+1].err)
	}
}

// TestStreamIDOnEveryCall: every call but SUBSCRIBE carries the stream id
// and framework id of the subscription, in either codec.
func TestStreamIDOnEveryCall(t *testing.T) {
	for _, codec := range []string{"protobuf", "json"} {
		t.Run(codec, func(t *testing.T) {
			f := newFakeMaster(t)
			f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
				s := openFakeStream(w, r, "stream-77")
				_ = s.send(subscribedEvent("fw-77", 15))
				<-r.Context().Done()
			}
			h := newRecorder(t)
			cfg := testConfig(t, f.URL())
			cfg.Codec = codec
			d := start(t, cfg, h)
			h.waitFor("Subscribed", 0, isKind("Subscribed"))
			ctx := context.Background()
			for name, call := range map[string]func() error{
				"decline":   func() error { return d.Decline(ctx, []string{"o1"}, 1) },
				"suppress":  func() error { return d.Suppress(ctx) },
				"revive":    func() error { return d.Revive(ctx) },
				"kill":      func() error { return d.Kill(ctx, "t1", "", -1) },
				"reconcile": func() error { return d.Reconcile(ctx, nil) },
			} {
				if err := call(); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
			calls, headers := f.received()
			if len(calls) != 6 {
				t.Fatalf("%d calls received, want 6", len(calls))
			}
			for i, c := range calls[1:] {
				if got := headers[i+1].Get(headerStreamID); got != "stream-77" {
					t.Errorf("%v carried %s %q", c.Type, headerStreamID, got)
				}
				if got := c.GetFrameworkID().GetValue(); got != "fw-77" {
					t.Errorf("%v carried framework id %q", c.Type, got)
				}
				if ct := headers[i+1].Get("Content-Type"); ct != string(d.s.codec.Type) {
					t.Errorf("%v sent as %q", c.Type, ct)
				}
			}
		})
	}
}

// TestPrincipalAndSecret: the principal is in the FrameworkInfo, and every call
// authenticates as it (HTTP basic authentication); the secret is never logged.
func TestPrincipalAndSecret(t *testing.T) {
	const principal, secret = "stride-prod", "s3cret-never-logged"
	f := newFakeMaster(t)
	f.setAnswer(func(call *scheduler.Call) (int, string) {
		return http.StatusBadRequest, "refused for the test: " + call.Type.String()
	})
	h := newRecorder(t)
	log := newSyncLog(t)
	cfg := testConfig(t, f.URL())
	cfg.Principal, cfg.Secret, cfg.Logf = principal, secret, log.logf
	d := New(cfg, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	h.waitFor("Subscribed", 0, isKind("Subscribed"))
	if err := d.Revive(ctx); err == nil {
		t.Fatal("the refused REVIVE succeeded")
	}
	for _, typ := range []scheduler.Call_Type{scheduler.Call_SUBSCRIBE, scheduler.Call_REVIVE} {
		_, call, header := f.waitCall(typ, 0)
		req := &http.Request{Header: header}
		user, pass, ok := req.BasicAuth()
		if !ok || user != principal || pass != secret {
			t.Errorf("%v: Authorization %q, want basic %s:<secret>", typ, header.Get("Authorization"), principal)
		}
		if typ == scheduler.Call_SUBSCRIBE && call.Subscribe.FrameworkInfo.GetPrincipal() != principal {
			t.Errorf("framework_info.principal %q, want %q", call.Subscribe.FrameworkInfo.GetPrincipal(), principal)
		}
	}
	if log.contains(secret) {
		t.Error("the secret was logged")
	}
	if _, err := (Config{Master: "m:5050", Secret: "x"}).withDefaults(); err == nil || strings.Contains(err.Error(), "x\"") {
		t.Errorf("a secret without a principal: %v", err)
	}
}
