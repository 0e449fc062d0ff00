// Package executor is Stride's long-running side: it carries out plans as
// deployments through Mesos resource offers and keeps the resulting tasks alive
// (health checks, exponential backoff, reconciliation).
//
// All runtime state is owned by one goroutine (the actor, Run): Mesos events, API
// commands, health results and timer ticks are posted to its mailbox and handled
// one at a time, so no lock guards the state. After each change the actor publishes
// an immutable View that the REST API reads without ever waiting on the actor.
//
// Every decision is written to the state store (compare-and-set) before it is acted
// on: a deployment and its target apps before any task is touched, a task record
// before its LAUNCH. A new leader loads the store, reconciles with Mesos and
// finishes whatever was under way.
package executor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/metrics"
	"github.com/stride-run/stride/executor/scheduler"
)

// Mesos is what the executor asks of the Mesos driver (executor/driver implements
// it over the v1 scheduler API).
type Mesos interface {
	Launch(ctx context.Context, offerIDs []string, tasks []mesos.TaskInfo, refuseSeconds float64) error
	Decline(ctx context.Context, offerIDs []string, refuseSeconds float64) error
	Suppress(ctx context.Context, roles ...string) error
	Revive(ctx context.Context, roles ...string) error
	Kill(ctx context.Context, taskID, agentID string, gracePeriod time.Duration) error
	Reconcile(ctx context.Context, tasks map[string]string) error
}

// Config configures an Executor.
type Config struct {
	Store engine.Store
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Logf receives progress lines (nil: silent).
	Logf func(format string, args ...any)
	// Bus receives events (a new one when nil).
	Bus *Bus
	// Roles the framework uses (default "*").
	Roles []string
	// DefaultKillGrace is the SIGTERM→SIGKILL grace when the app sets none (3 s).
	DefaultKillGrace time.Duration
	// RefuseSeconds is the decline filter for unused offers (5 s), and
	// IdleRefuseSeconds when nothing at all is pending (120 s).
	RefuseSeconds, IdleRefuseSeconds float64
	// ReconcileInterval is how often known tasks are reconciled (10 min).
	ReconcileInterval time.Duration
	// ReconcileRetry is how long to wait for Mesos to answer a reconciliation
	// before asking again for the tasks it has not answered (2 s, doubling
	// up to a minute): a master that has just restarted drops the questions
	// about tasks of agents that have not re-registered yet.
	ReconcileRetry time.Duration
	// StableAfter is how long a task without health checks must run before it
	// counts as deployed, and as having been healthy (which resets the backoff;
	// 5 s).
	StableAfter time.Duration
	// HealthKillRate and HealthKillWindow bound the kills Stride's health checks
	// cause: at most max(1, floor(instances × rate)) per app per window (0.1 per
	// minute). BreakerShare opens an app's circuit breaker — no health kills —
	// while at least that share of its running tasks (and at least 2) fail
	// their checks at once (0.5). ReplaceTimeout is how long a task condemned by
	// its checks waits for its replacement before it is killed anyway (2 min).
	// See killsafety.go.
	HealthKillRate   float64
	HealthKillWindow time.Duration
	BreakerShare     float64
	ReplaceTimeout   time.Duration
	// ProgressDeadline is the progress deadline of deployments whose apply and
	// apps set none (10 min; negative: none).
	ProgressDeadline time.Duration
	// KillRetry is how long to wait for a kill before asking again (10 s).
	KillRetry time.Duration
	// LaunchTimeout is how long a task may stay staging before it is killed and
	// replaced (Marathon's task_launch_timeout, 5 min).
	LaunchTimeout time.Duration
	// Tick is the housekeeping interval (100 ms).
	Tick time.Duration
	// Drain, when set, is called once per task before it is first asked to be
	// killed, so that traffic leaves it before it gets SIGTERM: the Consul
	// registry deregisters the task there. It runs on the actor, bounded by
	// DrainTimeout (2 s); the kill goes ahead whatever it returns.
	Drain        func(ctx context.Context, t engine.Task) error
	DrainTimeout time.Duration
	// Limits bound what apps may ask for (engine.DefaultLimits when zero). Apply
	// refuses apps outside them, and stored apps outside them are set aside
	// rather than acted on.
	Limits engine.Limits
	// MasterURL is the Mesos master, as the scheduler events name it.
	MasterURL string
	// Metrics, when set, counts what the executor does (offers, health checks,
	// launch latency, deployments, events).
	Metrics *metrics.Metrics
	// ServicePorts is the range service ports of 0 are assigned from
	// (engine.DefaultServicePortRange, 10000-20000, when zero; see
	// serviceports.go).
	ServicePorts engine.PortRange
}

// Executor carries out deployments and keeps tasks alive. Create it with New, run
// it with Run, attach the Mesos driver with SetMesos before offers flow.
type Executor struct {
	cfg   Config
	store engine.Store
	bus   *Bus
	mesos Mesos

	mailbox chan func()
	view    atomic.Pointer[View]

	// Everything below is owned by the actor goroutine.
	index       uint64
	serial      uint64
	frameworkID string
	apps        map[string]*engine.App
	// groups holds a record for every group that holds an app or was created
	// on its own (see Desired).
	groups      map[string]*engine.Group
	tasks       map[string]*taskState
	deployments map[string]*engine.Deployment
	recent      []*engine.Deployment
	delays      map[string]*launchDelay
	unplaced    map[string]*scheduler.Unplaced
	// pending counts, per app, the instances the last housekeeping tick wanted
	// launched (shown in the view).
	pending     map[string]int
	lastFailure map[string]*TaskFailure
	// quarantined holds the apps set aside with the reason (see poison.go).
	quarantined map[string]string
	// lastGood holds, per app, the last version that ran fully healthy (see
	// revert.go); gaveUp the apps that stopped relaunching, with the reason
	// (giveUpAfter); queued the queued deployments (see queue.go).
	lastGood map[string]string
	gaveUp   map[string]string
	queued   map[string]*engine.Deployment
	// safety holds the apps' kill-safety state (killsafety.go).
	safety map[string]*killSafety
	// waitFor holds what each app of a current step waits for among its
	// dependencies (deps.go), as of the last look at the deployments;
	// failedApps the apps whose deployment failed, with the reason, until they
	// run fully healthy again.
	waitFor    map[string]string
	failedApps map[string]string
	// subscribers are the event callback subscriptions by URL.
	subscribers map[string]*Subscriber
	agents      map[string]agentInfo
	suppressed  bool
	connected   bool
	lastRecon   time.Time
	// recon tracks the reconciliation under way (see reconcile.go).
	recon      reconcileState
	dirtyTasks map[string]bool
	viewDirty  bool
	lastView   time.Time
	health     *healthRunner
	// decideHook, when set (tests), runs first in decideApp: a way to make one
	// app's handling panic.
	decideHook func(appID string)
	// lastVersion is the newest version the executor gave a change: versions
	// are strictly increasing, even within one millisecond.
	lastVersion time.Time
	// offers holds each waiting app's offer statistics (see offers.go).
	offers map[string]*offerStats
	// ended is set when a write was refused because this server is no longer the
	// leader it was (a compare-and-set conflict: someone else wrote; or a fenced
	// store: the leader lock is gone). From then on the executor does nothing:
	// Mesos calls are dropped and Run returns ErrTermEnded.
	ended error
	// loadedAt is when this executor loaded the state (its term began).
	loadedAt time.Time
}

// ErrTermEnded is returned (wrapped, with the cause) by Run when the executor
// stopped because a write showed that it no longer leads: another writer changed
// the state since it loaded it (engine.ErrConflict), or the store refused the
// write because the leadership is lost (engine.ErrFenced). The executor's
// in-memory state is then worthless: the server drops it and campaigns again.
var ErrTermEnded = errors.New("leadership term ended")

// taskState is the executor's record of one task: the persisted engine.Task plus
// what is only kept in memory.
type taskState struct {
	engine.Task
	health     []healthStatus
	healthyAt  time.Time // first time all checks passed (zero: never)
	runningAt  time.Time
	killing    bool
	killSentAt time.Time
	killReason string
	// drained: Config.Drain was called for the task.
	drained  bool
	stagedAt time.Time
	// mesosHealthy is the last `healthy` Mesos reported (MESOS_* and COMMAND
	// checks); mesosHealthSeen says whether Mesos reported one at all.
	mesosHealthy, mesosHealthSeen bool
	// healthStarted: Stride's own checks of the task are running (they are
	// started on the first RUNNING update this executor sees, also after a
	// restart, when the task was loaded from the store).
	healthStarted bool
	// failedHealth: killed because its health checks failed (counts for backoff).
	failedHealth bool
	// condemned says why the task's health checks call for its kill (""
	// when they do not); doomedAt is when a replacement was started for it
	// (replace, then kill). See killsafety.go.
	condemned string
	doomedAt  time.Time
	// launchApp is the app definition the task was launched from.
	launchApp *engine.App
	// readiness holds the state of the app's readiness checks (readiness.go).
	readiness []readinessStatus
	// unreachableAt is when Mesos lost the task's agent (State is
	// TASK_UNREACHABLE); inactiveLogged: its replacement was announced.
	unreachableAt  time.Time
	inactiveLogged bool
}

// agentInfo is what the executor remembers of an agent from its offers: constraints
// of running tasks are evaluated against it.
type agentInfo struct {
	hostname   string
	attributes map[string]string
}

// launchDelay is an app's exponential backoff: after n failures the next launch
// waits backoffSeconds·factor^(n-1), at most maxLaunchDelaySeconds.
type launchDelay struct {
	failures int
	until    time.Time
}

// TaskFailure is Marathon's lastTaskFailure.
type TaskFailure struct {
	AppID     string `json:"appId"`
	Host      string `json:"host"`
	Message   string `json:"message"`
	State     string `json:"state"`
	TaskID    string `json:"taskId"`
	Timestamp string `json:"timestamp"`
	Version   string `json:"version"`
	SlaveID   string `json:"slaveId"`
}

// Errors returned by Apply.
var (
	// ErrStale: the plan was made against a state serial that has moved.
	ErrStale = errors.New("saved plan is stale: the deployed state changed since it was made")
	// ErrLocked: an app of the plan is being deployed and force was not given.
	ErrLocked = errors.New("app is locked by one or more deployments")
)

// New loads the store and returns an executor ready to Run.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Store == nil {
		return nil, errors.New("executor: no state store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Bus == nil {
		cfg.Bus = NewBus(DefaultBusEvents)
	}
	if cfg.Metrics != nil {
		cfg.Bus.SetObserver(cfg.Metrics.EventPublished)
	}
	if cfg.ServicePorts == (engine.PortRange{}) {
		cfg.ServicePorts = engine.DefaultServicePortRange
	}
	if err := cfg.ServicePorts.Check(); err != nil {
		return nil, fmt.Errorf("executor: service port range %s: %w", cfg.ServicePorts, err)
	}
	if len(cfg.Roles) == 0 {
		cfg.Roles = []string{"*"}
	}
	if cfg.DefaultKillGrace == 0 {
		cfg.DefaultKillGrace = 3 * time.Second
	}
	if cfg.RefuseSeconds == 0 {
		cfg.RefuseSeconds = 5
	}
	if cfg.IdleRefuseSeconds == 0 {
		cfg.IdleRefuseSeconds = 120
	}
	if cfg.ReconcileInterval == 0 {
		cfg.ReconcileInterval = 10 * time.Minute
	}
	if cfg.ReconcileRetry == 0 {
		cfg.ReconcileRetry = 2 * time.Second
	}
	if cfg.StableAfter == 0 {
		cfg.StableAfter = 5 * time.Second
	}
	if cfg.HealthKillRate <= 0 {
		cfg.HealthKillRate = 0.1
	}
	if cfg.HealthKillWindow <= 0 {
		cfg.HealthKillWindow = time.Minute
	}
	if cfg.BreakerShare <= 0 || cfg.BreakerShare > 1 {
		cfg.BreakerShare = 0.5
	}
	if cfg.ReplaceTimeout <= 0 {
		cfg.ReplaceTimeout = 2 * time.Minute
	}
	if cfg.ProgressDeadline == 0 {
		cfg.ProgressDeadline = 10 * time.Minute
	}
	if cfg.LaunchTimeout == 0 {
		cfg.LaunchTimeout = 5 * time.Minute
	}
	if cfg.KillRetry == 0 {
		cfg.KillRetry = 10 * time.Second
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Second
	}
	if cfg.Tick == 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	e := &Executor{
		cfg:         cfg,
		store:       cfg.Store,
		bus:         cfg.Bus,
		mailbox:     make(chan func(), 1024),
		delays:      map[string]*launchDelay{},
		unplaced:    map[string]*scheduler.Unplaced{},
		lastFailure: map[string]*TaskFailure{},
		quarantined: map[string]string{},
		gaveUp:      map[string]string{},
		safety:      map[string]*killSafety{},
		waitFor:     map[string]string{},
		failedApps:  map[string]string{},
		offers:      map[string]*offerStats{},
		agents:      map[string]agentInfo{},
		dirtyTasks:  map[string]bool{},
	}
	e.health = newHealthRunner(e)
	e.loadedAt = cfg.Now()
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	e.publish()
	return e, nil
}

// load (re)reads everything from the store; caches are dropped (leader fencing).
func (e *Executor) load(ctx context.Context) error {
	snap, err := e.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("executor: load state: %w", err)
	}
	e.index, e.serial, e.frameworkID = snap.Index, snap.Serial, snap.FrameworkID
	e.apps = snap.Apps
	if e.apps == nil {
		e.apps = map[string]*engine.App{}
	}
	e.groups = snap.Groups
	e.fillGroups()
	e.lastVersion = time.Time{}
	for _, a := range e.apps {
		e.noteVersion(a.Version)
	}
	for _, g := range e.groups {
		e.noteVersion(g.Version)
	}
	for _, d := range snap.Deployments {
		e.noteVersion(d.Version)
	}
	e.deployments = map[string]*engine.Deployment{}
	e.queued = map[string]*engine.Deployment{}
	for id, d := range snap.Deployments {
		switch d.Status {
		case engine.DeploymentRunning:
			e.deployments[id] = d
		case engine.DeploymentQueued:
			e.queued[id] = d
		}
	}
	e.loadLastGood(snap.Deployments)
	e.subscribers = make(map[string]*Subscriber, len(snap.Subscriptions))
	for url, s := range snap.Subscriptions {
		e.subscribers[url] = &Subscriber{Subscription: *s}
	}
	e.tasks = map[string]*taskState{}
	now := e.cfg.Now()
	for id, t := range snap.Tasks {
		ts := &taskState{Task: *t, stagedAt: parseTime(t.StagedAt, now)}
		if t.StartedAt != "" {
			ts.runningAt = parseTime(t.StartedAt, now)
		}
		if t.UnreachableSince != "" {
			ts.unreachableAt = parseTime(t.UnreachableSince, now)
		}
		e.tasks[id] = ts
	}
	e.quarantined = map[string]string{}
	return e.checkLoaded(ctx, snap.Unreadable)
}

func parseTime(s string, def time.Time) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return def
	}
	return t
}

// SetMesos attaches the driver; call it before the driver delivers events.
func (e *Executor) SetMesos(m Mesos) { e.mesos = m }

// Bus returns the executor's event bus.
func (e *Executor) Bus() *Bus { return e.bus }

// FrameworkID returns the persisted Mesos framework id ("" before the first
// subscription). Safe to call from any goroutine.
func (e *Executor) FrameworkID() string { return e.View().FrameworkID }

// Run is the actor loop; it returns when ctx is done.
func (e *Executor) Run(ctx context.Context) error {
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	defer e.health.stopAll()
	for {
		select {
		case <-ctx.Done():
			if e.ended == nil {
				e.flushTasks(context.Background())
			}
			return nil
		case fn := <-e.mailbox:
			_ = e.guard("a command", fn)
			// Drain what else is waiting before housekeeping, so bursts batch.
			for n := 0; n < 256; n++ {
				select {
				case fn := <-e.mailbox:
					_ = e.guard("a command", fn)
					continue
				default:
				}
				break
			}
		case <-tick.C:
			_ = e.guard("housekeeping", func() { e.housekeeping(ctx) })
		}
		if e.ended != nil {
			e.publish()
			return e.ended
		}
		if e.viewDirty && e.cfg.Now().Sub(e.lastView) >= 50*time.Millisecond {
			e.publish()
		}
	}
}

// do runs fn on the actor and waits for it (or ctx). A panic in fn is returned as
// an error; the actor carries on.
func (e *Executor) do(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	var perr error
	select {
	case e.mailbox <- func() {
		defer close(done)
		if err := e.guard("a request", fn); err != nil {
			perr = fmt.Errorf("executor: internal error: %w", err)
		}
	}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return perr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// post runs fn on the actor without waiting.
func (e *Executor) post(fn func()) {
	go func() { e.mailbox <- fn }()
}

// commit writes txn compare-and-set against the index the actor holds.
func (e *Executor) commit(ctx context.Context, txn engine.Txn) error {
	if e.ended != nil {
		return e.ended
	}
	idx, err := e.store.Commit(ctx, e.index, txn)
	if err != nil {
		if errors.Is(err, engine.ErrConflict) || errors.Is(err, engine.ErrFenced) {
			e.endTerm(err)
			return e.ended
		}
		return fmt.Errorf("executor: write state: %w", err)
	}
	e.index = idx
	if len(txn.PutApps) > 0 || len(txn.DeleteApps) > 0 {
		e.serial++
	}
	return nil
}

// endTerm stops the executor from acting at once: every later Mesos call is
// dropped (the decision that led to it was not recorded, and a later leader will
// make its own), and Run returns.
func (e *Executor) endTerm(cause error) {
	e.ended = fmt.Errorf("executor: %w: %w", ErrTermEnded, cause)
	e.logf("%v: stopping; the in-memory state is dropped", e.ended)
	e.mesos = endedMesos{err: e.ended}
	e.connected = false
	e.viewDirty = true
}

// Ended returns why the executor stopped leading (wrapping ErrTermEnded), or nil.
// Safe to call from any goroutine once Run has returned; before, it may lag.
func (e *Executor) Ended() error { return e.View().Ended }

// endedMesos is the Mesos of an executor whose term ended: it refuses everything.
type endedMesos struct{ err error }

func (m endedMesos) Launch(context.Context, []string, []mesos.TaskInfo, float64) error { return m.err }
func (m endedMesos) Decline(context.Context, []string, float64) error                  { return m.err }
func (m endedMesos) Suppress(context.Context, ...string) error                         { return m.err }
func (m endedMesos) Revive(context.Context, ...string) error                           { return m.err }
func (m endedMesos) Kill(context.Context, string, string, time.Duration) error         { return m.err }
func (m endedMesos) Reconcile(context.Context, map[string]string) error                { return m.err }

// flushTasks persists tasks whose non-essential fields (RUNNING, startedAt) changed.
func (e *Executor) flushTasks(ctx context.Context) {
	if len(e.dirtyTasks) == 0 {
		return
	}
	var txn engine.Txn
	for id := range e.dirtyTasks {
		if t, ok := e.tasks[id]; ok {
			cp := t.Task
			txn.PutTasks = append(txn.PutTasks, &cp)
		}
	}
	if err := e.commit(ctx, txn); err != nil {
		e.cfg.Logf("executor: %v", err)
		return
	}
	e.dirtyTasks = map[string]bool{}
}

func (e *Executor) logf(format string, args ...any) { e.cfg.Logf(format, args...) }

// launchDelayFor returns how long the app must still wait before launching.
func (e *Executor) launchDelayFor(id string, now time.Time) time.Duration {
	d := e.delays[id]
	if d == nil || !now.Before(d.until) {
		return 0
	}
	return d.until.Sub(now)
}

// recordFailure bumps the app's backoff after a task ended on its own.
func (e *Executor) recordFailure(app *engine.App, t *taskState, now time.Time) {
	d := e.delays[app.ID]
	if d == nil {
		d = &launchDelay{}
		e.delays[app.ID] = d
	}
	if e.wasHealthy(app, t, now) {
		d.failures = 0
	}
	d.failures++
	if app.GiveUpAfter > 0 && d.failures >= app.GiveUpAfter && e.gaveUp[app.ID] == "" {
		why := fmt.Sprintf(reasonGaveUp, app.ID, d.failures)
		if f := e.lastFailure[app.ID]; f != nil {
			why += fmt.Sprintf(reasonLastFailure, failureText(f))
		}
		e.gaveUp[app.ID] = why
		e.viewDirty = true
		e.logf("%s; no more launches until the app is applied again", why)
		e.bus.Publish(EventAppGaveUp, now, AppGaveUp{AppID: app.ID, Failures: d.failures, Reason: why})
	}
	delay := app.BackoffSeconds * math.Pow(app.BackoffFactor, float64(d.failures-1))
	if delay > app.MaxLaunchDelaySeconds {
		delay = app.MaxLaunchDelaySeconds
	}
	d.until = now.Add(time.Duration(delay * float64(time.Second)))
}

// wasHealthy reports whether the task had been healthy: all health checks passed
// once, or (without health checks) it ran for StableAfter.
func (e *Executor) wasHealthy(app *engine.App, t *taskState, now time.Time) bool {
	if !t.healthyAt.IsZero() {
		return true
	}
	if len(executorChecks(app)) == 0 && !t.runningAt.IsZero() && now.Sub(t.runningAt) >= e.cfg.StableAfter {
		return true
	}
	return false
}

// taskHealthy reports whether a task counts as healthy for deployments: running,
// and every health check (Stride's and Mesos') passing.
func (e *Executor) taskHealthy(app *engine.App, t *taskState) bool {
	if t.State != engine.TaskRunning || t.killing {
		return false
	}
	checks := executorChecks(app)
	if len(t.health) < len(checks) {
		return false
	}
	for _, h := range t.health {
		if !h.alive {
			return false
		}
	}
	if hasMesosCheck(app) && !t.mesosHealthy {
		return false
	}
	return true
}

// taskFailing reports whether a task is known not to serve: not running, or a
// health check has run and failed. A running task whose health is not known yet
// (just started, or just loaded by a new leader) is neither healthy nor failing:
// a rolling deployment does not count it as healthy capacity, and does not kill
// it as if it were broken either.
func (e *Executor) taskFailing(app *engine.App, t *taskState) bool {
	if t.State != engine.TaskRunning {
		return true
	}
	for _, h := range t.health {
		if h.ran && !h.alive {
			return true
		}
	}
	return hasMesosCheck(app) && t.mesosHealthSeen && !t.mesosHealthy
}

func hasMesosCheck(app *engine.App) bool {
	for _, hc := range app.HealthChecks {
		if hc.IsMesos() {
			return true
		}
	}
	return false
}

// tasksOf returns the live (non-terminal) tasks of an app, sorted by staging time.
func (e *Executor) tasksOf(appID string) []*taskState {
	var out []*taskState
	for _, t := range e.tasks {
		if t.AppID == appID && !engine.TerminalTaskState(t.State) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].stagedAt.Equal(out[j].stagedAt) {
			return out[i].stagedAt.Before(out[j].stagedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// killTask asks Mesos to kill a task (once per KillRetry). A task whose agent
// is unreachable cannot be killed: it is expunged instead (forgotten, and
// killed as an unknown task should it come back), as Marathon does.
func (e *Executor) killTask(ctx context.Context, t *taskState, reason string) {
	if t.State == engine.TaskUnreachable {
		e.expunge(ctx, t, reason)
		return
	}
	now := e.cfg.Now()
	if t.killing && now.Sub(t.killSentAt) < e.cfg.KillRetry {
		return
	}
	if !t.killing {
		e.logf("kill %s (%s)", t.ID, reason)
	}
	t.killing, t.killSentAt, t.killReason = true, now, reason
	e.viewDirty = true
	if e.cfg.Drain != nil && !t.drained && e.ended == nil {
		t.drained = true
		dctx, cancel := context.WithTimeout(ctx, e.cfg.DrainTimeout)
		err := e.cfg.Drain(dctx, t.Task)
		cancel()
		if err != nil {
			e.logf("drain %s before the kill: %v (killing it anyway)", t.ID, err)
		}
	}
	if e.mesos == nil || !e.connected {
		return
	}
	grace := e.cfg.DefaultKillGrace
	if app := e.apps[t.AppID]; app != nil && app.TaskKillGracePeriodSeconds > 0 {
		grace = time.Duration(app.TaskKillGracePeriodSeconds) * time.Second
	}
	if t.State == engine.TaskStaging && t.SlaveID == "" {
		return
	}
	if err := e.mesos.Kill(ctx, t.ID, t.SlaveID, grace); err != nil {
		e.logf("kill %s: %v", t.ID, err)
	}
}
