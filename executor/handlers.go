package executor

import (
	"context"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/scheduler"
)

// The methods below implement the Mesos driver's event handler. The driver calls
// them from its own goroutine; each hands the event to the actor and, where the
// driver must not proceed before the executor has recorded it (the framework id,
// a status update it will acknowledge), waits for the actor.

// Subscribed persists the framework id, then reconciles every known task.
func (e *Executor) Subscribed(ctx context.Context, frameworkID string, reconnected bool) {
	_ = e.do(ctx, func() { e.onSubscribed(ctx, frameworkID, reconnected) })
}

func (e *Executor) onSubscribed(ctx context.Context, frameworkID string, reconnected bool) {
	if frameworkID != e.frameworkID {
		id := frameworkID
		if err := e.commit(ctx, engine.Txn{FrameworkID: &id}); err != nil {
			e.logf("executor: persist framework id: %v", err)
			return
		}
		e.frameworkID = frameworkID
	}
	e.connected, e.suppressed = true, false
	e.logf("subscribed to Mesos as framework %s", frameworkID)
	if reconnected {
		e.bus.Publish(EventSchedulerReregistered, e.cfg.Now(), SchedulerReregistered{Master: e.cfg.MasterURL})
	} else {
		e.bus.Publish(EventSchedulerRegistered, e.cfg.Now(), SchedulerRegistered{FrameworkID: frameworkID, Master: e.cfg.MasterURL})
	}
	e.reconcile(ctx)
	e.viewDirty = true
}

// Disconnected notes that the Mesos connection is gone.
func (e *Executor) Disconnected(ctx context.Context, err error) {
	e.post(func() {
		e.connected = false
		e.viewDirty = true
		e.bus.Publish(EventSchedulerDisconnected, e.cfg.Now(), SchedulerDisconnected{Message: errString(err)})
	})
}

// publishTaskState publishes a task's new state: Marathon's status_update_event
// and instance_changed_event.
func (e *Executor) publishTaskState(t *taskState, now time.Time) {
	ips, ports := t.IPAddresses, t.Ports
	if ips == nil {
		ips = []engine.IPAddr{}
	}
	if ports == nil {
		ports = []int{}
	}
	e.bus.Publish(EventStatusUpdate, now, StatusUpdate{
		SlaveID: t.SlaveID, TaskID: t.ID, InstanceID: t.ID, TaskStatus: t.State, Message: t.Message,
		AppID: t.AppID, Host: t.Host, IPAddresses: ips, Ports: ports, Version: t.Version,
	})
	e.bus.Publish(EventInstanceChanged, now, InstanceChanged{
		InstanceID: t.ID, TaskID: t.ID, Condition: Condition(t.State), RunSpecID: t.AppID,
		AgentID: t.SlaveID, Host: t.Host, RunSpecVersion: t.Version,
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Removed: the master removed the framework (its failover timeout passed while
// Stride was away). Its tasks are gone with it; the framework id is forgotten so the
// driver subscribes afresh, and reconciliation of the new framework reports the old
// tasks lost, which replaces them.
func (e *Executor) Removed(ctx context.Context, message string) {
	_ = e.do(ctx, func() {
		e.logf("Mesos removed framework %s: %s", e.frameworkID, message)
		empty := ""
		if err := e.commit(ctx, engine.Txn{FrameworkID: &empty}); err != nil {
			e.logf("executor: forget framework id: %v", err)
		}
		e.frameworkID = ""
		e.connected = false
		e.viewDirty = true
	})
}

// Offers places pending instances on the offers and declines the rest.
func (e *Executor) Offers(ctx context.Context, offers []mesos.Offer) {
	_ = e.do(ctx, func() { e.handleOffers(ctx, offers) })
}

// Rescind forgets an offer; nothing to do, since offers are used at once.
func (e *Executor) Rescind(ctx context.Context, offerID string) {}

// Failure notes a lost agent; its tasks' LOST/UNREACHABLE updates follow.
func (e *Executor) Failure(ctx context.Context, agentID string, executorID string, status *int32) {
	e.post(func() {
		if executorID == "" {
			e.logf("agent %s lost", agentID)
			delete(e.agents, agentID)
		}
	})
}

// Update records a task status update; the driver acknowledges it after Update
// returns.
func (e *Executor) Update(ctx context.Context, st mesos.TaskStatus) {
	_ = e.do(ctx, func() { e.handleUpdate(ctx, st) })
}

func (e *Executor) handleUpdate(ctx context.Context, st mesos.TaskStatus) {
	now := e.cfg.Now()
	id := st.TaskID.Value
	state := st.GetState().String()
	agentID := st.GetAgentID().GetValue()
	e.recon.answered(id)
	t := e.tasks[id]
	if t == nil {
		// A task we do not know: launched by a previous incarnation whose record was
		// never written, or one we already gave up on (expunged). Nothing must run
		// twice: it is killed once it is reachable (a KILL of an unreachable task
		// is only answered with TASK_UNREACHABLE again).
		if !engine.TerminalTaskState(state) && state != engine.TaskUnknown && state != engine.TaskUnreachable && e.mesos != nil {
			e.logf("killing unknown task %s on %s", id, agentID)
			if err := e.mesos.Kill(ctx, id, agentID, e.cfg.DefaultKillGrace); err != nil {
				e.logf("kill unknown task %s: %v", id, err)
			}
		}
		return
	}
	if agentID != "" {
		t.SlaveID = agentID
	}
	t.Message = st.GetMessage()
	if st.Healthy != nil {
		healthy := *st.Healthy
		if healthy != t.mesosHealthy {
			e.bus.Publish(EventHealthStatusChanged, now, HealthStatusChanged{
				AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID, Version: t.Version, Alive: healthy,
			})
		}
		e.cfg.Metrics.HealthCheck("MESOS", healthy)
		t.mesosHealthy, t.mesosHealthSeen = healthy, true
		if healthy && t.healthyAt.IsZero() {
			t.healthyAt = now
			e.resetDelay(t.AppID)
		}
	}
	prev := t.State
	if state == engine.TaskUnreachable && prev != engine.TaskUnreachable {
		e.taskUnreachable(ctx, t, st, now)
		return
	}
	t.State = state
	e.viewDirty = true
	if prev == engine.TaskUnreachable && state != engine.TaskUnreachable {
		e.taskReachable(ctx, t, now)
	}
	if prev != state {
		e.publishTaskState(t, now)
	}
	switch {
	case state == engine.TaskRunning:
		if t.runningAt.IsZero() {
			if t.launchApp != nil {
				// Launched by this executor: stagedAt is when it was placed on an
				// offer and launched.
				e.cfg.Metrics.TaskLaunched(now.Sub(t.stagedAt))
			}
			t.runningAt = now
			t.StartedAt = FormatTime(now)
			e.dirtyTasks[id] = true
			if prev != state {
				e.logf("%s running on %s (%s)", t.ID, t.Host, strings.Join(portStrings(t.Ports), ","))
			}
		}
		if !t.healthStarted && !t.killing {
			t.healthStarted = true
			e.health.start(t)
		}
	case isGone(state):
		e.taskGone(ctx, t, state, now)
	}
}

// isGone reports whether the task is over for Stride: terminal, or unknown to
// Mesos (replaced at once; killed should it come back). An unreachable task is
// not gone: the app's unreachable strategy decides (see unreachable.go).
func isGone(state string) bool {
	return engine.TerminalTaskState(state) || state == engine.TaskUnknown
}

func (e *Executor) taskGone(ctx context.Context, t *taskState, state string, now time.Time) {
	e.health.stop(t.ID)
	delete(e.tasks, t.ID)
	delete(e.dirtyTasks, t.ID)
	if err := e.commit(ctx, engine.Txn{DeleteTasks: []string{t.ID}}); err != nil {
		e.logf("executor: %v", err)
	}
	app := e.apps[t.AppID]
	if t.killing && !t.failedHealth {
		e.logf("%s %s (%s)", t.ID, strings.ToLower(strings.TrimPrefix(state, "TASK_")), t.killReason)
		return
	}
	e.logf("%s %s: %s", t.ID, strings.ToLower(strings.TrimPrefix(state, "TASK_")), t.Message)
	e.lastFailure[t.AppID] = &TaskFailure{
		AppID: t.AppID, Host: t.Host, Message: t.Message, State: state, TaskID: t.ID,
		Timestamp: FormatTime(now), Version: t.Version, SlaveID: t.SlaveID,
	}
	if app == nil {
		app = t.launchApp
	}
	if app != nil && countsForBackoff(state, t) {
		e.recordFailure(app, t, now)
	}
}

// countsForBackoff reports whether a task's end delays the next launch: it failed
// or exited on its own, or was killed for failing its health checks. Tasks lost
// with their agent, dropped by the master or unknown to it after a failover are
// replaced at once: the app did nothing wrong.
func countsForBackoff(state string, t *taskState) bool {
	switch state {
	case engine.TaskFailed, engine.TaskFinished, engine.TaskError:
		return true
	case engine.TaskKilled:
		return t.failedHealth
	}
	return false
}

func (e *Executor) resetDelay(appID string) {
	delete(e.delays, appID)
}

func portStrings(ports []int) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = strconv.Itoa(p)
	}
	return out
}

// handleOffers matches pending instances against the offers.
func (e *Executor) handleOffers(ctx context.Context, offers []mesos.Offer) {
	now := e.cfg.Now()
	e.cfg.Metrics.OffersProcessed(len(offers))
	for _, o := range offers {
		e.agents[o.AgentID.Value] = agentInfo{hostname: o.Hostname, attributes: scheduler.Attributes(o.Attributes)}
	}
	reqs, launchApps, seed := e.pendingRequests()
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID.Value
	}
	if len(reqs) == 0 {
		e.decline(ctx, ids, e.cfg.IdleRefuseSeconds)
		e.setSuppressed(ctx, true)
		return
	}
	res := scheduler.Match(offers, reqs, scheduler.Options{Seed: seed, Roles: e.cfg.Roles})

	byOffer := map[string][]mesos.TaskInfo{}
	var txn engine.Txn
	var order []string
	for ri, r := range reqs {
		app := launchApps[r.App.ID]
		for _, p := range res.Placements[ri] {
			taskID := NewTaskID(app.ID)
			ti := BuildTaskInfo(app, taskID, p, e.cfg.DefaultKillGrace)
			ports := make([]int, len(p.Ports))
			for i, x := range p.Ports {
				ports[i] = int(x)
			}
			role := "*"
			for _, r := range p.Resources {
				if r.AllocationInfo != nil && r.AllocationInfo.GetRole() != "" {
					role = r.AllocationInfo.GetRole()
					break
				}
			}
			t := &taskState{
				Task: engine.Task{
					ID: taskID, AppID: app.ID, Host: p.Hostname, Ports: ports, ServicePorts: []int{},
					SlaveID: p.AgentID, StagedAt: FormatTime(now), Version: app.Version,
					State: engine.TaskStaging, IPAddresses: []engine.IPAddr{{IPAddress: p.Hostname, Protocol: "IPv4"}},
					HealthCheckResults: []engine.HealthResult{}, LocalVolumes: []any{}, Role: role,
				},
				stagedAt:  now,
				launchApp: app,
			}
			e.tasks[taskID] = t
			cp := t.Task
			txn.PutTasks = append(txn.PutTasks, &cp)
			if _, ok := byOffer[p.OfferID]; !ok {
				order = append(order, p.OfferID)
			}
			byOffer[p.OfferID] = append(byOffer[p.OfferID], ti)
		}
		e.noteOffers(r.App.ID, offers, res.Placements[ri], res.Unplaced[ri], now)
		if un := res.Unplaced[ri]; un != nil {
			if prev := e.unplaced[r.App.ID]; prev == nil || prev.Message != un.Message {
				e.logf("%s: %s", r.App.ID, un.Message)
				// Stride's own event type; Marathon clients drop types they do not know.
				e.bus.Publish(EventInstancesUnplaced, now, InstancesUnplaced{
					AppID: r.App.ID, Count: un.Count, AgentsConsidered: un.AgentsConsidered, Reason: un.Message,
				})
			}
			e.unplaced[r.App.ID] = un
		} else {
			delete(e.unplaced, r.App.ID)
		}
	}
	if len(txn.PutTasks) > 0 {
		// Intent first: the task records exist before Mesos hears of them.
		if err := e.commit(ctx, txn); err != nil {
			e.logf("executor: %v", err)
			for _, t := range txn.PutTasks {
				delete(e.tasks, t.ID)
			}
			e.decline(ctx, ids, e.cfg.RefuseSeconds)
			return
		}
	}
	for _, offerID := range order {
		if err := e.mesos.Launch(ctx, []string{offerID}, byOffer[offerID], e.cfg.RefuseSeconds); err != nil {
			// The master may or may not have taken the launch: ask it now rather
			// than at the next periodic reconciliation. Tasks it does not know come
			// back lost and are replaced; tasks it does know keep running.
			e.logf("launch on offer %s: %v", offerID, err)
			known := map[string]string{}
			for _, ti := range byOffer[offerID] {
				known[ti.TaskID.Value] = ti.AgentID.Value
			}
			if err := e.mesos.Reconcile(ctx, known); err != nil {
				e.logf("reconcile after failed launch: %v", err)
			}
		}
	}
	if len(res.Unused) > 0 {
		e.decline(ctx, res.Unused, e.cfg.RefuseSeconds)
	}
	e.viewDirty = true
}

func (e *Executor) decline(ctx context.Context, ids []string, refuse float64) {
	if len(ids) == 0 || e.mesos == nil {
		return
	}
	e.cfg.Metrics.OffersDeclined(len(ids))
	if err := e.mesos.Decline(ctx, ids, refuse); err != nil {
		e.logf("decline: %v", err)
	}
}

func (e *Executor) setSuppressed(ctx context.Context, suppress bool) {
	if e.mesos == nil || !e.connected || e.suppressed == suppress {
		return
	}
	var err error
	if suppress {
		err = e.mesos.Suppress(ctx, e.cfg.Roles...)
	} else {
		err = e.mesos.Revive(ctx, e.cfg.Roles...)
	}
	if err != nil {
		e.logf("suppress=%v: %v", suppress, err)
		return
	}
	e.suppressed = suppress
}
