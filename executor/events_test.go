package executor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/metrics"
)

// eventLog reads what the executor published since the last call.
type eventLog struct {
	t testing.TB
	r *Reader
}

func (h *harness) events() *eventLog { return &eventLog{t: h.t, r: h.e.bus.Tail()} }

// next returns the events published since the last call.
func (l *eventLog) next() []*Event {
	l.t.Helper()
	evs, missed := readAll(l.r)
	if missed > 0 {
		l.t.Fatalf("the test's reader missed %d events", missed)
	}
	return evs
}

func types(evs []*Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

// decodeAll decodes the events of one type.
func decodeAll[T any](t *testing.T, evs []*Event, typ string) []T {
	t.Helper()
	var out []T
	for _, ev := range evs {
		if ev.Type != typ {
			continue
		}
		var v T
		if err := ev.Decode(&v); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		out = append(out, v)
	}
	return out
}

// TestDeploymentEvents follows an app's life through the events Marathon clients
// rely on, with Marathon's payloads: taskId and instanceId both, conditions,
// steps, and app_terminated_event only once the destroyed app's tasks are gone.
func TestDeploymentEvents(t *testing.T) {
	h := newHarness(t)
	log := h.events()
	dep := h.apply(spec(testApp("/web", 2, "sleep 100")))
	if got := types(log.next()); !slices.Equal(got, []string{EventGroupChangeSuccess, EventDeploymentInfo}) {
		t.Fatalf("on apply: %v", got)
	}
	h.offer(1)
	h.runLaunched()
	evs := log.next()
	if got := types(evs); !slices.Equal(got, []string{EventStatusUpdate, EventInstanceChanged, EventStatusUpdate, EventInstanceChanged}) {
		t.Fatalf("on running: %v", got)
	}
	for _, su := range decodeAll[StatusUpdate](t, evs, EventStatusUpdate) {
		if su.TaskID == "" || su.InstanceID != su.TaskID || su.AppID != "/web" || su.TaskStatus != engine.TaskRunning ||
			su.Host == "" || len(su.Ports) != 1 || len(su.IPAddresses) != 1 || su.SlaveID == "" || su.Version != dep.Version {
			t.Errorf("status_update_event %+v", su)
		}
	}
	for _, ic := range decodeAll[InstanceChanged](t, evs, EventInstanceChanged) {
		if ic.InstanceID == "" || ic.TaskID != ic.InstanceID || ic.Condition != "Running" || ic.RunSpecID != "/web" || ic.AgentID == "" || ic.RunSpecVersion != dep.Version {
			t.Errorf("instance_changed_event %+v", ic)
		}
	}
	h.settle() // no health checks: deployed once they ran StableAfter
	h.tick()
	evs = log.next()
	if got := types(evs); !slices.Equal(got, []string{EventDeploymentStepSuccess, EventDeploymentSuccess}) {
		t.Fatalf("on success: %v", got)
	}
	step := decodeAll[DeploymentStepEvent](t, evs, EventDeploymentStepSuccess)[0]
	if step.Plan.ID != dep.ID || len(step.CurrentStep.Actions) != 1 || step.CurrentStep.Actions[0] != (MarathonStepAction{"StartApplication", "/web"}) {
		t.Errorf("deployment_step_success %+v", step)
	}
	if ok := decodeAll[DeploymentSuccess](t, evs, EventDeploymentSuccess)[0]; ok.ID != dep.ID || ok.Plan.Version != dep.Version {
		t.Errorf("deployment_success %+v", ok)
	}

	// Destroy: terminated only once both tasks are gone.
	h.clock.advance(1)
	destroy := h.apply(spec())
	if got := types(log.next()); slices.Contains(got, EventAppTerminated) {
		t.Fatalf("app_terminated_event before its tasks were killed: %v", got)
	}
	h.tick()
	h.finishKills()
	evs = log.next()
	for _, ic := range decodeAll[InstanceChanged](t, evs, EventInstanceChanged) {
		if ic.Condition != "Killed" {
			t.Errorf("instance_changed_event %+v, want Killed", ic)
		}
	}
	if slices.Contains(types(evs), EventAppTerminated) {
		t.Fatal("app_terminated_event before the step was seen done")
	}
	h.tick()
	evs = log.next()
	if got := types(evs); !slices.Equal(got, []string{EventAppTerminated, EventDeploymentStepSuccess, EventDeploymentSuccess}) {
		t.Fatalf("on destroy done: %v", got)
	}
	if at := decodeAll[AppTerminated](t, evs, EventAppTerminated)[0]; at.AppID != "/web" {
		t.Errorf("app_terminated_event %+v", at)
	}
	if s := decodeAll[DeploymentStepEvent](t, evs, EventDeploymentStepSuccess)[0]; s.CurrentStep.Actions[0].Action != "StopApplication" || s.Plan.ID != destroy.ID {
		t.Errorf("deployment_step_success %+v", s)
	}
}

func TestFailedAndCancelledDeploymentEvents(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.Metrics = metrics.New(h.clock.now)
	log := h.events()
	first := h.apply(spec(testApp("/a", 1, "v1")))
	log.next()
	// A new apply of the same app without force is refused: group_change_failed.
	h.clock.advance(1)
	v2 := testApp("/a", 1, "v2")
	if _, _, err := h.applyReq(ApplyRequest{Spec: spec(v2)}); !errors.Is(err, ErrLocked) {
		t.Fatalf("apply over a running deployment: %v", err)
	}
	evs := log.next()
	if got := decodeAll[GroupChange](t, evs, EventGroupChangeFailed); len(got) != 1 || got[0].GroupID != "/" || !strings.Contains(got[0].Reason, first.ID) {
		t.Fatalf("group_change_failed: %v %+v", types(evs), got)
	}
	// With force it supersedes the first: deployment_failed for that one.
	_, dep2, err := h.applyReq(ApplyRequest{Spec: spec(v2), Force: true})
	if err != nil {
		t.Fatal(err)
	}
	evs = log.next()
	if got := decodeAll[DeploymentFailed](t, evs, EventDeploymentFailed); len(got) != 1 || got[0].ID != first.ID || !strings.Contains(got[0].Reason, dep2.ID) {
		t.Fatalf("deployment_failed of the superseded one: %v %+v", types(evs), got)
	}
	// A deployment that cannot go on fails its step: deployment_step_failure
	// then deployment_failed.
	h.e.failDeployment(h.ctx, h.e.deployments[dep2.ID], "given up")
	evs = log.next()
	if got := types(evs); !slices.Equal(got, []string{EventDeploymentStepFailure, EventDeploymentFailed}) {
		t.Fatalf("on failure: %v", got)
	}
	if f := decodeAll[DeploymentFailed](t, evs, EventDeploymentFailed)[0]; f.ID != dep2.ID || f.Reason != "given up" {
		t.Errorf("deployment_failed %+v", f)
	}
	doc := h.e.cfg.Metrics.Document()
	for key, want := range map[string]int64{
		"stride.deployments.finished{outcome=cancelled}": 1,
		"stride.deployments.finished{outcome=failed}":    1,
	} {
		if got := doc.Counters[key].Count; got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
}

func TestHealthEventsCarryBothIDs(t *testing.T) {
	h := newHarness(t)
	app := testApp("/hc", 1, "sleep 100")
	app.HealthChecks = []engine.HealthCheck{{Protocol: engine.ProtoHTTP, Path: "/", PortIndex: ptr(0), IntervalSeconds: 60, TimeoutSeconds: 20, MaxConsecutiveFailures: 2}}
	h.apply(spec(app))
	h.offer(1)
	h.runLaunched()
	log := h.events()
	task := h.ids(engine.TaskRunning)[0]
	hc := app.HealthChecks[0]
	h.e.healthResult(task, 0, hc, "")
	h.e.healthResult(task, 0, hc, "500 Internal Server Error")
	h.e.healthResult(task, 0, hc, "500 Internal Server Error")
	h.tick() // the kill of a condemned task is decided by housekeeping (killsafety.go)
	evs := log.next()
	want := []string{EventHealthStatusChanged, EventFailedHealthCheck, EventHealthStatusChanged, EventFailedHealthCheck, EventUnhealthyInstanceKill}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	changed := decodeAll[HealthStatusChanged](t, evs, EventHealthStatusChanged)
	if changed[0].TaskID != task || changed[0].InstanceID != task || !changed[0].Alive || changed[1].Alive {
		t.Errorf("health_status_changed_event %+v", changed)
	}
	failed := decodeAll[FailedHealthCheck](t, evs, EventFailedHealthCheck)[0]
	if failed.TaskID != task || failed.InstanceID != task || failed.AppID != "/hc" || failed.HealthCheck.Path != "/" {
		t.Errorf("failed_health_check_event %+v", failed)
	}
	kill := decodeAll[UnhealthyInstanceKill](t, evs, EventUnhealthyInstanceKill)[0]
	if kill.TaskID != task || kill.InstanceID != task || kill.Reason != "500 Internal Server Error" || kill.Host == "" || kill.SlaveID == "" {
		t.Errorf("unhealthy_instance_kill_event %+v", kill)
	}
}

func TestSchedulerEvents(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.MasterURL = "http://master:5050"
	log := h.events()
	h.e.onSubscribed(h.ctx, "fw-1", false)
	h.e.onSubscribed(h.ctx, "fw-1", true)
	evs := log.next()
	if got := types(evs); !slices.Equal(got, []string{EventSchedulerRegistered, EventSchedulerReregistered}) {
		t.Fatalf("events %v", got)
	}
	if r := decodeAll[SchedulerRegistered](t, evs, EventSchedulerRegistered)[0]; r.FrameworkID != "fw-1" || r.Master != "http://master:5050" {
		t.Errorf("scheduler_registered_event %+v", r)
	}
}

func TestConditions(t *testing.T) {
	for state, want := range map[string]string{
		engine.TaskStaging: "Staging", engine.TaskStarting: "Starting", engine.TaskRunning: "Running",
		engine.TaskKilling: "Killing", engine.TaskKilled: "Killed", engine.TaskFailed: "Failed",
		engine.TaskFinished: "Finished", engine.TaskError: "Error", engine.TaskUnreachable: "Unreachable",
		"TASK_LOST": "Unreachable", "TASK_GONE": "Gone", "TASK_DROPPED": "Dropped", engine.TaskUnknown: "Unknown",
		"": "Unknown", "weird": "Unknown",
	} {
		if got := Condition(state); got != want {
			t.Errorf("Condition(%q) = %q, want %q", state, got, want)
		}
	}
}

func TestMaskEnv(t *testing.T) {
	a := testApp("/a", 1, "run")
	a.Env = map[string]string{"PASSWORD": "hunter2", "LEVEL": "info"}
	a.EnvSecrets = map[string]string{"DB": "db-secret"}
	m := MaskEnv(a)
	if m.Env["PASSWORD"] != MaskedValue || m.Env["LEVEL"] != MaskedValue || m.EnvSecrets["DB"] != "db-secret" {
		t.Errorf("masked env %v secrets %v", m.Env, m.EnvSecrets)
	}
	if a.Env["PASSWORD"] != "hunter2" {
		t.Error("MaskEnv changed the app it was given")
	}
}

// TestSubscriptionsArePersisted: subscriptions go to the store before the
// subscribe_event, survive a new leader, and are bounded and checked.
func TestSubscriptionsArePersisted(t *testing.T) {
	h := newHarness(t)
	log := h.events()
	url := "http://user:secret-pw@127.0.0.1:10001/event?token=tok"
	created, err := h.e.subscribe(h.ctx, engine.Subscription{CallbackURL: url, ClientIP: "127.0.0.1"})
	if err != nil || !created {
		t.Fatalf("subscribe: %v %v", created, err)
	}
	if h.store.snap.Subscriptions[url] == nil {
		t.Fatal("not in the store")
	}
	evs := log.next()
	sub := decodeAll[SubscriptionEvent](t, evs, EventSubscribe)
	if len(sub) != 1 || sub[0].ClientIP != "127.0.0.1" || strings.Contains(string(evs[0].JSON), "secret-pw") || strings.Contains(string(evs[0].JSON), "tok") {
		t.Fatalf("subscribe_event %s: want the URL without its password and query", evs[0].JSON)
	}
	if v := h.e.View(); len(v.Subscribers) != 1 || v.Subscribers[0].CallbackURL != url || v.Subscribers[0].After != evs[0].ID-1 {
		t.Fatalf("view subscribers %+v, want the URL as given, after event %d", v.Subscribers, evs[0].ID-1)
	}
	if created, err := h.e.subscribe(h.ctx, engine.Subscription{CallbackURL: url}); err != nil || created || len(log.next()) != 0 {
		t.Fatalf("subscribing again: created %v, err %v (want a no-op)", created, err)
	}

	h.restart()
	if v := h.e.View(); len(v.Subscribers) != 1 || v.Subscribers[0].CallbackURL != url || v.Subscribers[0].After != 0 {
		t.Fatalf("after a new leader: %+v", v.Subscribers)
	}
	log = h.events()
	removed, err := h.e.unsubscribe(h.ctx, url, "10.0.0.1")
	if err != nil || !removed || h.store.snap.Subscriptions[url] != nil {
		t.Fatalf("unsubscribe: %v %v, stored %v", removed, err, h.store.snap.Subscriptions)
	}
	if got := decodeAll[SubscriptionEvent](t, log.next(), EventUnsubscribe); len(got) != 1 || got[0].ClientIP != "10.0.0.1" {
		t.Fatalf("unsubscribe_event %+v", got)
	}
	if removed, err := h.e.unsubscribe(h.ctx, url, ""); err != nil || removed || len(log.next()) != 0 {
		t.Fatalf("unsubscribing an unknown URL: %v %v", removed, err)
	}

	for i := 0; i < engine.MaxSubscriptions; i++ {
		if _, err := h.e.subscribe(h.ctx, engine.Subscription{CallbackURL: fmt.Sprintf("http://127.0.0.1:%d/", 1000+i)}); err != nil {
			t.Fatal(err)
		}
	}
	commits := len(h.store.commits)
	var fe engine.FieldErrors
	if _, err := h.e.subscribe(h.ctx, engine.Subscription{CallbackURL: "http://127.0.0.1:1/one-too-many"}); !errors.As(err, &fe) || fe[0].Path != "/callbackUrl" {
		t.Fatalf("one subscription too many: %v", err)
	}
	if len(h.store.commits) != commits {
		t.Fatal("a refused subscription was written")
	}
}

// TestLaunchLatencyAndOffersAreCounted: the metrics the executor feeds.
func TestLaunchLatencyAndOffersAreCounted(t *testing.T) {
	h := newHarness(t)
	m := metrics.New(h.clock.now)
	h.e.cfg.Metrics = m
	h.apply(spec(testApp("/web", 2, "sleep 100")))
	h.offer(3) // 3 offers: those the 2 tasks went to are used, the others declined
	used := map[string]bool{}
	for _, ti := range h.mesos.launched {
		used[ti.AgentID.Value] = true
	}
	h.clock.advance(1500 * time.Millisecond)
	h.runLaunched()
	h.settle()
	h.tick()
	h.offer(2) // nothing to place: declined
	h.e.handleUpdate(h.ctx, mesos.TaskStatus{TaskID: mesos.TaskID{Value: h.ids(engine.TaskRunning)[0]}, State: mesos.TASK_RUNNING.Enum(), Healthy: ptr(true)})
	doc := m.Document()
	if got := doc.Meters["stride.offers.processed"].Count; got != 5 {
		t.Errorf("offers processed %d, want 5", got)
	}
	if got, want := doc.Meters["stride.offers.declined"].Count, int64(3-len(used)+2); got != want || got != int64(len(h.mesos.declined)) {
		t.Errorf("offers declined %d, want %d (declined: %v)", got, want, h.mesos.declined)
	}
	launch := doc.Timers["stride.task.launch.seconds"]
	if launch.Count != 2 || launch.Min != 1.5 || launch.Max != 1.5 {
		t.Errorf("launch latency %+v, want 2 launches of 1.5 s", launch)
	}
	if got := doc.Counters["stride.health.checks{protocol=MESOS,result=passed}"].Count; got != 1 {
		t.Errorf("Mesos health reports counted %d, want 1", got)
	}
	if got := doc.Counters["stride.deployments.finished{outcome=succeeded}"].Count; got != 1 {
		t.Errorf("deployments succeeded %d, want 1", got)
	}
}

func ptr[T any](v T) *T { return &v }
