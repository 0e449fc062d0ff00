package localmesos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// task is one task launched on an agent. Its status updates go to the
// framework one at a time, each retried until acknowledged, as an agent's
// status update manager does; a terminal task releases its resources at once
// but stays known until its terminal update is acknowledged.
type task struct {
	fw      *framework
	agent   *agent
	info    mesos.TaskInfo
	res     resourceSet
	sandbox string
	ctx     context.Context // cancelled when the task is done with: stops fetching and health checks
	cancel  context.CancelFunc

	state    mesos.TaskState   // the agent's view
	latest   *mesos.TaskStatus // the latest status generated (healthy, container status)
	sent     *mesos.TaskState  // the state of the latest update sent to the scheduler
	pending  []mesos.TaskStatus
	history  []mesos.TaskStatus // every status generated, for /master/state (bounded)
	retry    *time.Timer
	terminal bool // a terminal update was generated
	released bool // its resources went back to the agent
	gone     bool // agent lost or framework removed: no more updates

	pid           int // process group leader, 0 until started
	exited        bool
	killRequested bool
	killPolicy    *mesos.KillPolicy // of the KILL call, which wins over the TaskInfo's
	killTimer     *time.Timer
	killedByCheck bool // the kill came from failing health checks
	containerID   string
	health        healthState
	adopted       bool // recovered from an earlier run (recover.go): its process is not our child
	sandboxDone   bool // the sandbox is finished (see sandboxFinished)
}

func (t *task) id() string { return t.info.TaskID.Value }

// snapshot returns the exported view of t.
func (t *task) snapshot() TaskInfo {
	info := TaskInfo{
		ID:          t.id(),
		Name:        t.info.Name,
		FrameworkID: t.fw.id,
		AgentID:     t.agent.id,
		State:       t.state,
		PID:         t.pid,
		Sandbox:     t.sandbox,
		Pending:     len(t.pending),
		Recovered:   t.adopted,
	}
	if t.latest != nil && t.latest.Healthy != nil {
		info.Healthy = proto(*t.latest.Healthy)
	}
	return info
}

// isTerminal reports whether a task in state s will never run again.
func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// stopRetry stops the retry of the task's oldest unacknowledged update.
func (t *task) stopRetry() {
	if t.retry != nil {
		t.retry.Stop()
		t.retry = nil
	}
}

// killGrace returns the grace period between SIGTERM and SIGKILL: the KILL
// call's kill policy wins over the TaskInfo's; the default is 3s.
func (t *task) killGrace(call *mesos.KillPolicy) time.Duration {
	for _, kp := range []*mesos.KillPolicy{call, t.killPolicy, t.info.KillPolicy} {
		if kp != nil && kp.GracePeriod != nil {
			return time.Duration(kp.GracePeriod.Nanoseconds)
		}
	}
	return defaultKillGrace
}

// signal sends sig to the task's process group, if it has one that was not
// reaped yet.
func (t *task) signal(sig syscall.Signal) {
	if t.pid > 0 && !t.exited {
		_ = syscall.Kill(-t.pid, sig)
	}
}

// accept handles ACCEPT as a master does: the offers are validated as a whole
// (an invalid set turns every task into TASK_LOST, or TASK_DROPPED for
// PARTITION_AWARE frameworks, with REASON_INVALID_OFFERS), then each task is
// validated against what is left of the offers (TASK_ERROR with
// REASON_TASK_INVALID) and launched. What the tasks leave unused goes back to
// the agent, withheld from the framework for the accept's refuse_seconds.
// Called with m.mu held.
func (m *Master) accept(fw *framework, acc *scheduler.Call_Accept) {
	offers, err := m.validateOffers(fw, acc.OfferIDs)
	if err != nil {
		m.logf("framework %s: ACCEPT with invalid offers: %v", fw.id, err)
		for _, o := range offers {
			m.removeOffer(o, false)
		}
		state := mesos.TASK_LOST
		if fw.partitionAware() {
			state = mesos.TASK_DROPPED
		}
		for _, op := range acc.Operations {
			for _, ti := range launchedTasks(op) {
				m.masterUpdate(fw, masterStatus(ti.TaskID.Value, &ti.AgentID, state,
					mesos.REASON_INVALID_OFFERS, "Task launched with invalid offers: "+err.Error()))
			}
		}
		return
	}
	a, role := offers[0].agent, offers[0].role
	remaining := resourceSet{}
	for _, o := range offers {
		remaining.add(o.res)
		delete(m.offers, o.id)
		delete(fw.offers, o.id)
	}
	seen := map[string]bool{}
	for _, op := range acc.Operations {
		switch op.Type {
		case mesos.Offer_Operation_LAUNCH:
			for _, ti := range op.GetLaunch().TaskInfos {
				res, err := m.validateTask(fw, a, role, &ti, remaining, seen)
				if err != nil {
					m.masterUpdate(fw, masterStatus(ti.TaskID.Value, &ti.AgentID, mesos.TASK_ERROR, mesos.REASON_TASK_INVALID, err.Error()))
					continue
				}
				remaining.sub(res)
				m.launchTask(fw, a, ti, res)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			for _, ti := range launchedTasks(op) {
				m.masterUpdate(fw, masterStatus(ti.TaskID.Value, &ti.AgentID, mesos.TASK_ERROR, mesos.REASON_TASK_GROUP_INVALID,
					"LAUNCH_GROUP is not supported by the stand-in: it runs command tasks only"))
			}
		default:
			m.logf("framework %s: offer operation %v ignored (the stand-in supports LAUNCH only)", fw.id, op.Type)
		}
	}
	a.free.add(remaining)
	fw.addFilter(a, role, remaining, refuseDuration(acc.Filters))
}

// launchedTasks returns the tasks a LAUNCH or LAUNCH_GROUP operation carries.
func launchedTasks(op mesos.Offer_Operation) []mesos.TaskInfo {
	switch op.Type {
	case mesos.Offer_Operation_LAUNCH:
		return op.GetLaunch().TaskInfos
	case mesos.Offer_Operation_LAUNCH_GROUP:
		return op.GetLaunchGroup().GetTaskGroup().Tasks
	}
	return nil
}

// validateOffers checks the offers of an ACCEPT as Mesos does: at least one,
// no duplicates, all outstanding and the framework's, all of one agent and
// one role. It returns the valid offers it found, even on error.
func (m *Master) validateOffers(fw *framework, ids []mesos.OfferID) ([]*offer, error) {
	var (
		offers []*offer
		err    error
		seen   = map[string]bool{}
	)
	if len(ids) == 0 {
		return nil, errors.New("No offers specified")
	}
	for _, id := range ids {
		if seen[id.Value] {
			if err == nil {
				err = fmt.Errorf("Duplicate offer %s in offer list", id.Value)
			}
			continue
		}
		seen[id.Value] = true
		o := m.offers[id.Value]
		switch {
		case o == nil:
			if err == nil {
				err = fmt.Errorf("Offer %s is no longer valid", id.Value)
			}
			continue
		case o.fw != fw:
			if err == nil {
				err = fmt.Errorf("Offer %s has invalid framework %s while framework %s is expected", id.Value, o.fw.id, fw.id)
			}
			continue
		}
		offers = append(offers, o)
		if err == nil && o.agent != offers[0].agent {
			err = fmt.Errorf("Aggregated offers must belong to one single agent. Offer %s uses agent %s and agent %s", id.Value, o.agent.id, offers[0].agent.id)
		}
		if err == nil && o.role != offers[0].role {
			err = fmt.Errorf("Aggregated offers must be allocated to the same role. Offer %s uses role '%s' but another is using role '%s'", id.Value, o.role, offers[0].role)
		}
	}
	return offers, err
}

// validateTask checks a task of a LAUNCH against the agent and what is left of
// the accepted offers, in the spirit of Mesos' task validation, and returns
// the resources it uses.
func (m *Master) validateTask(fw *framework, a *agent, role string, ti *mesos.TaskInfo, remaining resourceSet, seen map[string]bool) (resourceSet, error) {
	id := ti.TaskID.Value
	if err := validateID(id); err != nil {
		return nil, fmt.Errorf("Task has an invalid TaskID: %v", err)
	}
	if ti.AgentID.Value != a.id {
		return nil, fmt.Errorf("Task uses invalid agent %s while agent %s is expected", ti.AgentID.Value, a.id)
	}
	if fw.tasks[id] != nil || seen[id] {
		return nil, fmt.Errorf("Task has duplicate ID: %s", id)
	}
	if fw.unreachable[id] != nil {
		return nil, fmt.Errorf("Task reuses the ID of an unreachable task: %s", id)
	}
	seen[id] = true
	if kp := ti.KillPolicy; kp != nil && kp.GracePeriod != nil && kp.GracePeriod.Nanoseconds < 0 {
		return nil, errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if ti.Executor != nil {
		return nil, errors.New("Task uses a custom executor, which the stand-in does not run (use 'command')")
	}
	if ti.Command == nil {
		return nil, errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if ti.Command.GetShell() && ti.Command.GetValue() == "" {
		return nil, errors.New("Task's `CommandInfo` is invalid: Command value must be set when 'shell' is true")
	}
	if !ti.Command.GetShell() && ti.Command.GetValue() == "" {
		return nil, errors.New("Task's `CommandInfo` is invalid: Command value must be set")
	}
	for _, v := range ti.Command.GetEnvironment().GetVariables() {
		if v.GetType() == mesos.Environment_Variable_SECRET {
			return nil, fmt.Errorf("Task's `CommandInfo` is invalid: environment variable '%s' is a secret, which the stand-in does not resolve", v.Name)
		}
	}
	if hc := ti.HealthCheck; hc != nil {
		if err := validateHealthCheck(hc); err != nil {
			return nil, fmt.Errorf("Task uses invalid health check: %v", err)
		}
	}
	if len(ti.Resources) == 0 {
		return nil, errors.New("Task uses no resources")
	}
	res, err := parseResources(ti.Resources)
	if err != nil {
		return nil, fmt.Errorf("Task uses invalid resources: %v", err)
	}
	if !remaining.contains(res) {
		return nil, fmt.Errorf("Total resources %s required by task and its executor is more than available %s",
			mesosString(ti.Resources, role), mesosString(remaining.mesosResources(role, fw.refinement()), role))
	}
	return res, nil
}

// masterStatus builds a status update the master generates itself: no uuid (it
// is not retried and must not be acknowledged), source SOURCE_MASTER.
func masterStatus(taskID string, agentID *mesos.AgentID, state mesos.TaskState, reason mesos.TaskStatus_Reason, message string) mesos.TaskStatus {
	st := mesos.TaskStatus{
		TaskID:    mesos.TaskID{Value: taskID},
		State:     state.Enum(),
		Source:    mesos.SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		Message:   proto(message),
		Timestamp: proto(nowSeconds()),
	}
	if agentID != nil && agentID.Value != "" {
		st.AgentID = &mesos.AgentID{Value: agentID.Value}
	}
	return st
}

// nowSeconds is a status timestamp: seconds since the epoch.
func nowSeconds() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// masterUpdate sends a master-generated update if the framework is connected
// (Mesos drops them otherwise; the scheduler learns by reconciling).
func (m *Master) masterUpdate(fw *framework, st mesos.TaskStatus) {
	if fw.stream == nil {
		return
	}
	fw.stream.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
}

// launchTask creates a task on agent a and starts launching it: the resources
// are held, and a goroutine prepares the sandbox, fetches URIs and starts the
// process. Called with m.mu held.
func (m *Master) launchTask(fw *framework, a *agent, ti mesos.TaskInfo, res resourceSet) {
	ctx, cancel := context.WithCancel(m.ctx)
	t := &task{
		fw:          fw,
		agent:       a,
		info:        ti,
		res:         res,
		sandbox:     filepath.Join(m.cfg.WorkDir, "agents", a.id, "frameworks", sandboxName(fw.id), "tasks", sandboxName(ti.TaskID.Value)),
		ctx:         ctx,
		cancel:      cancel,
		state:       mesos.TASK_STAGING,
		containerID: newMasterID(),
	}
	fw.tasks[t.id()] = t
	a.tasks[t] = struct{}{}
	a.used.add(res)
	// A finished sandbox at the same path (a task id used again) is replaced.
	m.unindexSandbox(t.sandbox)
	m.active[t.sandbox] = t
	m.logf("framework %s: launching task %s on agent %s (%s)", fw.id, t.id(), a.id, res)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.runTask(t)
	}()
}

// releaseResources gives a task's resources back to its agent (once).
func (m *Master) releaseResources(t *task) {
	if t.released {
		return
	}
	t.released = true
	t.cancel()
	delete(t.agent.tasks, t)
	if t.agent.lost {
		return
	}
	t.agent.used.sub(t.res)
	t.agent.free.add(t.res)
}

// executorStatus builds a status update from the agent or executor: a fresh
// uuid (it is retried until acknowledged), agent and executor ids.
func (t *task) executorStatus(state mesos.TaskState, source mesos.TaskStatus_Source, reason *mesos.TaskStatus_Reason, message string) mesos.TaskStatus {
	st := mesos.TaskStatus{
		TaskID:     mesos.TaskID{Value: t.id()},
		State:      state.Enum(),
		Source:     source.Enum(),
		Reason:     reason,
		AgentID:    &mesos.AgentID{Value: t.agent.id},
		ExecutorID: &mesos.ExecutorID{Value: t.id()},
		Timestamp:  proto(nowSeconds()),
		UUID:       newUUID(),
	}
	if message != "" {
		st.Message = proto(message)
	}
	if state != mesos.TASK_STAGING && t.pid > 0 {
		st.ContainerStatus = t.containerStatus()
	}
	return st
}

// containerStatus reports the agent's address as the task's IP, as Mesos does
// for tasks on the host network.
func (t *task) containerStatus() *mesos.ContainerStatus {
	cs := &mesos.ContainerStatus{
		ContainerID: &mesos.ContainerID{Value: t.containerID},
		NetworkInfos: []mesos.NetworkInfo{{
			IPAddresses: []mesos.NetworkInfo_IPAddress{{
				Protocol:  mesos.IPv4.Enum(),
				IPAddress: proto(t.agent.hostname),
			}},
		}},
	}
	if t.pid > 0 {
		cs.ExecutorPID = proto(uint32(t.pid))
	}
	return cs
}

// emit records a status update of the task and queues it for the framework:
// it is sent right away if no earlier update awaits acknowledgement. A
// terminal update releases the task's resources. Called with m.mu held.
func (m *Master) emit(t *task, st mesos.TaskStatus) {
	if t.gone || t.terminal {
		return
	}
	t.record(st)
	if isTerminal(t.state) {
		t.terminal = true
		m.releaseResources(t)
		m.logf("framework %s: task %s is %v: %s", t.fw.id, t.id(), t.state, st.GetMessage())
	}
	t.pending = append(t.pending, st)
	if len(t.pending) == 1 {
		m.sendHead(t)
	}
}

// record makes st the task's latest status.
func (t *task) record(st mesos.TaskStatus) {
	t.state = st.GetState()
	t.latest = &st
	t.history = append(t.history, st)
	if n := len(t.history); n > maxHistory {
		t.history = append([]mesos.TaskStatus(nil), t.history[n-maxHistory:]...)
	}
}

// maxHistory bounds the statuses /master/state shows per task.
const maxHistory = 20

// sendHead sends the oldest unacknowledged update of t (if the framework is
// connected) and arms its retry. Called with m.mu held.
func (m *Master) sendHead(t *task) {
	t.stopRetry()
	if len(t.pending) == 0 || t.fw.stream == nil || t.gone || t.agent.partitioned {
		return
	}
	st := t.pending[0]
	t.fw.stream.send(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: st}})
	t.sent = proto(st.GetState())
	uuid := st.UUID
	t.retry = time.AfterFunc(m.cfg.UpdateRetry, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed || len(t.pending) == 0 || !bytes.Equal(t.pending[0].UUID, uuid) {
			return
		}
		m.sendHead(t)
	})
}

// acknowledge handles ACKNOWLEDGE: if the uuid is that of the task's oldest
// unacknowledged update, the next one is sent; once a terminal update is
// acknowledged the task is forgotten. Other acknowledgements are ignored.
func (m *Master) acknowledge(fw *framework, ack *scheduler.Call_Acknowledge) {
	t := fw.tasks[ack.TaskID.Value]
	if t == nil || t.agent.id != ack.AgentID.Value || len(t.pending) == 0 || !bytes.Equal(t.pending[0].UUID, ack.UUID) {
		return
	}
	t.stopRetry()
	t.pending = t.pending[1:]
	if len(t.pending) > 0 {
		m.sendHead(t)
		return
	}
	t.pending = nil
	if t.terminal {
		delete(fw.tasks, t.id())
		fw.remember(t)
	}
}

// kill handles KILL. An unknown task is reconciled (the scheduler gets
// TASK_LOST, or TASK_UNKNOWN/TASK_GONE/TASK_UNREACHABLE when partition-aware),
// as Mesos does.
func (m *Master) kill(fw *framework, k *scheduler.Call_Kill) {
	t := fw.tasks[k.TaskID.Value]
	if t == nil || t.agent.partitioned {
		// A real master cannot reach the task: it answers as a reconciliation.
		m.reconcile(fw, []scheduler.Call_Reconcile_Task{{TaskID: k.TaskID, AgentID: k.AgentID}})
		return
	}
	if k.AgentID != nil && k.AgentID.Value != t.agent.id {
		m.logf("framework %s: KILL of task %s on agent %s ignored: it runs on %s", fw.id, t.id(), k.AgentID.Value, t.agent.id)
		return
	}
	if k.KillPolicy != nil {
		t.killPolicy = k.KillPolicy
	}
	m.killTask(t, t.killGrace(k.KillPolicy), false)
}

// killTask kills a task as the command executor does: TASK_KILLING first (if
// the framework can handle it), SIGTERM to the process group, SIGKILL after
// the grace period; the exit becomes TASK_KILLED. A task still launching is
// killed before its process starts. Called with m.mu held.
func (m *Master) killTask(t *task, grace time.Duration, byHealthCheck bool) {
	if t.terminal || t.killRequested {
		return
	}
	t.killRequested = true
	t.killedByCheck = byHealthCheck
	t.cancel() // stops fetching and health checks
	if t.pid == 0 {
		return // runTask notices before it starts the process
	}
	if !t.gone && t.fw.killingState() && (t.state == mesos.TASK_RUNNING || t.state == mesos.TASK_STARTING) {
		m.emit(t, t.executorStatus(mesos.TASK_KILLING, mesos.SOURCE_EXECUTOR, nil, ""))
	}
	m.signalKill(t, grace)
}

// signalKill sends SIGTERM to the task's process group and arms the SIGKILL.
func (m *Master) signalKill(t *task, grace time.Duration) {
	t.signal(syscall.SIGTERM)
	if grace <= 0 {
		t.signal(syscall.SIGKILL)
		return
	}
	t.killTimer = time.AfterFunc(grace, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !t.exited {
			m.logf("task %s did not terminate within %v: sending SIGKILL to its process group", t.id(), grace)
			t.signal(syscall.SIGKILL)
		}
	})
}

// reconcile handles RECONCILE. Implicit (no tasks): an update with the latest
// state of every task the master knows of the framework, unreachable ones
// left out (as a real master does). Explicit: one update per task named, the state of a known task, or
// what Mesos answers for an unknown one: TASK_LOST for frameworks that are not
// partition-aware, otherwise TASK_GONE (agent known), TASK_UNREACHABLE (agent
// lost or cut off) or TASK_UNKNOWN. Reconciliation updates carry
// REASON_RECONCILIATION and no uuid.
func (m *Master) reconcile(fw *framework, tasks []scheduler.Call_Reconcile_Task) {
	if len(tasks) == 0 {
		for _, t := range fw.sortedTasks() {
			if !t.agent.partitioned {
				m.masterUpdate(fw, t.reconcileStatus())
			}
		}
		return
	}
	for _, rt := range tasks {
		if t := fw.tasks[rt.TaskID.Value]; t != nil {
			m.masterUpdate(fw, t.reconcileStatus())
			continue
		}
		if t := fw.unreachable[rt.TaskID.Value]; t != nil {
			m.masterUpdate(fw, t.reconcileStatus())
			continue
		}
		var (
			state = mesos.TASK_UNKNOWN
			msg   = msgReconcileUnknown
			a     *agent
		)
		if rt.AgentID != nil {
			a = m.agentByID[rt.AgentID.Value]
		}
		switch {
		case a != nil && (a.lost || a.partitioned):
			state, msg = mesos.TASK_UNREACHABLE, msgReconcileUnreachable
		case a != nil:
			state, msg = mesos.TASK_GONE, msgReconcileGone
		}
		if !fw.partitionAware() {
			state = mesos.TASK_LOST
		}
		m.masterUpdate(fw, masterStatus(rt.TaskID.Value, rt.AgentID, state, mesos.REASON_RECONCILIATION, msg))
	}
}

// Messages of the updates the master generates, in a Mesos master's words.
const (
	msgReconcileLatest      = "Reconciliation: Latest task state"
	msgReconcileUnknown     = "Reconciliation: Task is unknown"
	msgReconcileGone        = "Reconciliation: Task is unknown to the agent"
	msgReconcileUnreachable = "Reconciliation: Task is unreachable"
	// msgAgentUnreachable is why a master gives up on a silent agent.
	msgAgentUnreachable = "health check timed out"
	// msgAgentReregistered comes with the state of a task whose unreachable
	// agent registered again (sic: Mesos' wording).
	msgAgentReregistered = "Unreachable agent re-reregistered"
)

// reconcileStatus is the answer to reconciling a known task: the state of the
// latest update sent to the scheduler (or the task's state if none was sent),
// with its health and container status; TASK_UNREACHABLE (TASK_LOST for
// frameworks that are not partition-aware) with the time the agent was lost
// while it is cut off.
func (t *task) reconcileStatus() mesos.TaskStatus {
	if a := t.agent; a.partitioned || a.lost {
		state := mesos.TASK_UNREACHABLE
		if !t.fw.partitionAware() {
			state = mesos.TASK_LOST
		}
		st := masterStatus(t.id(), &mesos.AgentID{Value: a.id}, state, mesos.REASON_RECONCILIATION, msgReconcileUnreachable)
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: a.unreachableSince.UnixNano()}
		return st
	}
	state := t.state
	if t.sent != nil {
		state = *t.sent
	}
	st := masterStatus(t.id(), &mesos.AgentID{Value: t.agent.id}, state, mesos.REASON_RECONCILIATION, msgReconcileLatest)
	if t.latest != nil {
		st.Healthy = t.latest.Healthy
		st.ContainerStatus = t.latest.ContainerStatus
	}
	return st
}

// partitionAgent implements PartitionAgent. Called with m.mu held.
func (m *Master) partitionAgent(a *agent) {
	m.logf("agent %s (%s) is cut off from the master", a.id, a.hostname)
	a.partitioned = true
	a.unreachableSince = time.Now()
	for _, o := range m.sortedOffers() {
		if o.agent == a {
			m.removeOffer(o, true)
		}
	}
	for _, t := range a.sortedTasks() {
		t.stopRetry()
		if t.terminal {
			continue
		}
		state := mesos.TASK_UNREACHABLE
		if !t.fw.partitionAware() {
			state = mesos.TASK_LOST
		}
		st := masterStatus(t.id(), &mesos.AgentID{Value: a.id}, state, mesos.REASON_AGENT_REMOVED, msgAgentUnreachable)
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: a.unreachableSince.UnixNano()}
		m.masterUpdate(t.fw, st)
	}
	m.sendFailure(a)
}

// healAgent implements HealAgent. Called with m.mu held.
func (m *Master) healAgent(a *agent) {
	m.logf("agent %s (%s) registered again", a.id, a.hostname)
	a.partitioned = false
	a.unreachableSince = time.Time{}
	tasks := a.sortedTasks()
	for _, t := range tasks {
		if t.terminal {
			continue
		}
		st := masterStatus(t.id(), &mesos.AgentID{Value: a.id}, t.state, mesos.REASON_AGENT_REREGISTERED, msgAgentReregistered)
		if t.latest != nil {
			st.Healthy = t.latest.Healthy
			st.ContainerStatus = t.latest.ContainerStatus
		}
		m.masterUpdate(t.fw, st)
	}
	// Then what the agent kept: every task of it with unacknowledged updates
	// (those that ended meanwhile are no longer among its running tasks).
	for _, id := range sortedKeys(m.frameworks) {
		for _, t := range m.frameworks[id].sortedTasks() {
			if t.agent == a && len(t.pending) > 0 {
				m.sendHead(t)
			}
		}
	}
}

// sortedTasks returns the tasks running or launching on the agent, by
// framework and task id.
func (a *agent) sortedTasks() []*task {
	out := make([]*task, 0, len(a.tasks))
	for t := range a.tasks {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].fw.id != out[j].fw.id {
			return out[i].fw.id < out[j].fw.id
		}
		return out[i].id() < out[j].id()
	})
	return out
}

// sendFailure tells every connected framework that an agent is gone.
func (m *Master) sendFailure(a *agent) {
	for _, id := range sortedKeys(m.frameworks) {
		fw := m.frameworks[id]
		if fw.stream != nil {
			fw.stream.send(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: a.id}}})
		}
	}
}

// loseAgent implements LoseAgent. Called with m.mu held.
func (m *Master) loseAgent(a *agent) {
	m.logf("agent %s (%s) is lost", a.id, a.hostname)
	wasCutOff := a.partitioned
	a.lost, a.partitioned = true, false
	if a.unreachableSince.IsZero() {
		a.unreachableSince = time.Now()
	}
	for _, t := range a.sortedTasks() {
		t.gone = true
		t.stopRetry()
		t.cancel()
		t.signal(syscall.SIGKILL)
		t.released = true
		delete(a.tasks, t)
		fw := t.fw
		state := mesos.TASK_LOST
		if fw.partitionAware() {
			state = mesos.TASK_UNREACHABLE
			fw.unreachable[t.id()] = t
		}
		delete(fw.tasks, t.id())
		fw.remember(t)
		st := masterStatus(t.id(), &mesos.AgentID{Value: a.id}, state, mesos.REASON_AGENT_REMOVED, msgAgentUnreachable)
		st.UnreachableTime = &mesos.TimeInfo{Nanoseconds: a.unreachableSince.UnixNano()}
		t.record(st)
		if !wasCutOff {
			// A cut-off agent's frameworks heard it already.
			m.masterUpdate(fw, st)
		}
	}
	// Tasks whose terminal update was not acknowledged yet are dropped too.
	for _, fw := range m.frameworks {
		for id, t := range fw.tasks {
			if t.agent == a {
				t.gone = true
				t.stopRetry()
				delete(fw.tasks, id)
				fw.remember(t)
			}
		}
	}
	for _, o := range m.sortedOffers() {
		if o.agent == a {
			m.removeOffer(o, true)
		}
	}
	if !wasCutOff {
		m.sendFailure(a)
	}
	a.free = resourceSet{}
	a.used = resourceSet{}
}

// sandboxName makes a path component of an id (task ids cannot hold slashes,
// but be safe).
func sandboxName(id string) string {
	return strings.NewReplacer("/", "_", "\x00", "_").Replace(id)
}

// ensureSandbox creates a fresh sandbox directory, and its parents, 0700 (a
// leftover one of an earlier task with the same id is replaced).
func ensureSandbox(dir string) error {
	err := os.Mkdir(dir, dirMode)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear sandbox: %w", err)
		}
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create sandbox: %w", err)
	}
	return nil
}
