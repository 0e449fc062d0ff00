package executor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
)

// View is an immutable snapshot of the executor for readers (the REST API, the
// CLI's status). The actor publishes a new one after changes; readers never wait
// on the actor.
type View struct {
	Serial      uint64
	FrameworkID string
	Connected   bool
	// Apps sorted by id.
	Apps []*AppStatus
	// Tasks sorted by app id then task id.
	Tasks []*engine.Task
	// Groups holds the group records, sorted by id (the root first).
	Groups []*engine.Group
	// Deployments: the running ones, oldest first.
	Deployments []*DeploymentStatus
	// Queued deployments (waiting for the deployments that hold their apps),
	// oldest first.
	Queued []*engine.Deployment
	// Recent finished deployments, newest last.
	Recent []*engine.Deployment
	// Ended is set once the executor stopped leading (see ErrTermEnded).
	Ended error
	// Unreconciled counts the tasks Mesos has not answered for since they
	// were last reconciled; ReconcileRetries counts the reconciliations sent
	// again for want of answers (see reconcile.go).
	Unreconciled     int
	ReconcileRetries uint64
	// Healthy holds the ids of the tasks that count as healthy: running, not
	// being killed, and passing every health check (Stride's and Mesos'). It is
	// what the Consul catalog registration mirrors.
	Healthy map[string]bool
	// Readiness holds, per app in a running deployment, the results of the
	// readiness checks of its tasks (Marathon's readinessCheckResults), sorted
	// by task id.
	Readiness map[string][]ReadinessResult
	// Subscribers are the event callback subscriptions, sorted by URL.
	Subscribers []Subscriber

	appIndex map[string]int
	// next is closed when a newer view is published.
	next chan struct{}
}

// Next is closed once a newer view than v is published (never after the
// executor stopped).
func (v *View) Next() <-chan struct{} { return v.next }

// AppStatus is one app with its counts, as Marathon's AppInfo shows it.
type AppStatus struct {
	App                                                     *engine.App
	TasksStaged, TasksRunning, TasksHealthy, TasksUnhealthy int
	// Deployments holds the ids of running deployments that touch the app.
	Deployments []string
	Tasks       []*engine.Task
	// LastTaskFailure is the last task that ended on its own (nil: none).
	LastTaskFailure *TaskFailure
	// Waiting is why pending instances cannot be placed ("" when they can).
	Waiting string
	// Delay is the remaining backoff before the next launch.
	Delay time.Duration
	// Pending counts instances waiting to be launched.
	Pending int
	// GaveUp says why Stride stopped relaunching the app (backoff's
	// giveUpAfter; "" when it did not).
	GaveUp string
	// KillSafety says when Stride holds kills its health checks call for: the
	// circuit breaker is open, or the rate limit makes kills wait ("" when
	// neither).
	KillSafety string
	// Offers are the offer statistics of the app's launch attempt (nil when it
	// has nothing to launch).
	Offers *OfferSummary
}

// DeploymentStatus is a running deployment with its progress per app.
type DeploymentStatus struct {
	*engine.Deployment
	Progress []AppProgress
}

// AppProgress is one app's progress in a deployment's current step, counting
// the tasks of the target version apart from the old ones they replace (Nomad's
// desired / placed / healthy / unhealthy): a rolling restart starts at healthy
// 0 of Target, whatever the old tasks do.
type AppProgress struct {
	ID     string        `json:"id"`
	Action engine.Action `json:"action"`
	// Target is the number of instances wanted (0 for a destroy).
	Target int `json:"target"`
	// Placed counts the live tasks of the target version (staging or running,
	// not being killed); Running those running; Healthy those deployed
	// (healthy and ready: what counts toward Target); NotReady those healthy
	// but not ready yet; Unhealthy those running and failing a health check.
	Placed    int `json:"placed"`
	Running   int `json:"running"`
	Healthy   int `json:"healthy"`
	NotReady  int `json:"notReady"`
	Unhealthy int `json:"unhealthy"`
	// Old counts the tasks still to be replaced (for a destroy: to be
	// stopped), Killing the tasks being killed.
	Old     int `json:"old"`
	Killing int `json:"killing"`
	// Waiting says what the app waits for, with the time waited against its
	// deadline: "waiting for /shop/db: 2/3 healthy, 4m12s of 10m", "waiting
	// for capacity: ...".
	Waiting string `json:"waiting,omitempty"`
	// WaitingFor is Waiting without the time, Waited the time alone ("4m12s
	// of 10m").
	WaitingFor string `json:"waitingFor,omitempty"`
	Waited     string `json:"waited,omitempty"`
	// Deadline is the time since the app last made progress, of its progress
	// deadline: "1m3s of 10m" ("" without a deadline).
	Deadline string `json:"deadline,omitempty"`
	// Done: this app's part of the step is complete.
	Done bool `json:"done"`
}

// App returns the status of one app, or nil.
func (v *View) App(id string) *AppStatus {
	if v.appIndex == nil {
		// A View built outside the executor (tests): Apps is sorted by id.
		i := sort.Search(len(v.Apps), func(i int) bool { return v.Apps[i].App.ID >= id })
		if i < len(v.Apps) && v.Apps[i].App.ID == id {
			return v.Apps[i]
		}
		return nil
	}
	if i, ok := v.appIndex[id]; ok {
		return v.Apps[i]
	}
	return nil
}

// Group returns the record of a group, or nil.
func (v *View) Group(id string) *engine.Group {
	i := sort.Search(len(v.Groups), func(i int) bool { return v.Groups[i].ID >= id })
	if i < len(v.Groups) && v.Groups[i].ID == id {
		return v.Groups[i]
	}
	return nil
}

// Deployment returns a deployment by id, running or recently finished.
func (v *View) Deployment(id string) (*engine.Deployment, bool) {
	for _, d := range v.Deployments {
		if d.ID == id {
			return d.Deployment, true
		}
	}
	for _, d := range v.Queued {
		if d.ID == id {
			return d, true
		}
	}
	for i := len(v.Recent) - 1; i >= 0; i-- {
		if d := v.Recent[i]; d.ID == id {
			return d, true
		}
	}
	return nil, false
}

// View returns the latest published snapshot.
func (e *Executor) View() *View { return e.view.Load() }

// publish builds and stores a new View (on the actor).
func (e *Executor) publish() {
	now := e.cfg.Now()
	v := &View{Serial: e.serial, FrameworkID: e.frameworkID, Connected: e.connected, Ended: e.ended, appIndex: map[string]int{}, Healthy: map[string]bool{}, Readiness: map[string][]ReadinessResult{}, next: make(chan struct{}),
		Unreconciled: len(e.recon.unanswered), ReconcileRetries: e.recon.rounds}
	byApp := map[string][]*engine.Task{}
	healthyCount := map[string]int{}
	live := map[string][]*taskState{}
	for _, t := range e.tasks {
		if isGone(t.State) {
			continue
		}
		live[t.AppID] = append(live[t.AppID], t)
		cp := t.Task
		cp.HealthCheckResults = healthResults(t)
		if t.killing && cp.State == engine.TaskRunning {
			cp.State = engine.TaskKilling
		}
		v.Tasks = append(v.Tasks, &cp)
		byApp[t.AppID] = append(byApp[t.AppID], &cp)
		app := e.apps[t.AppID]
		if app == nil {
			app = t.launchApp
		}
		if app != nil && e.taskHealthy(app, t) {
			healthyCount[t.AppID]++
			v.Healthy[t.ID] = true
		}
	}
	active := e.activeChanges()
	for _, t := range e.tasks {
		if ac, ok := active[t.AppID]; ok && ac.current && !isGone(t.State) {
			v.Readiness[t.AppID] = append(v.Readiness[t.AppID], readinessResults(t, e.apps[t.AppID])...)
		}
	}
	for _, rs := range v.Readiness {
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].TaskID != rs[j].TaskID {
				return rs[i].TaskID < rs[j].TaskID
			}
			return rs[i].Name < rs[j].Name
		})
	}
	sort.Slice(v.Tasks, func(i, j int) bool {
		if v.Tasks[i].AppID != v.Tasks[j].AppID {
			return v.Tasks[i].AppID < v.Tasks[j].AppID
		}
		return v.Tasks[i].ID < v.Tasks[j].ID
	})
	pending := e.pending
	ids := make([]string, 0, len(e.apps))
	for id := range e.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		app := e.apps[id]
		st := &AppStatus{App: app, Tasks: byApp[id], LastTaskFailure: e.lastFailure[id], Delay: e.launchDelayFor(id, now)}
		if st.Tasks == nil {
			st.Tasks = []*engine.Task{}
		}
		sort.Slice(st.Tasks, func(i, j int) bool { return st.Tasks[i].ID < st.Tasks[j].ID })
		for _, t := range st.Tasks {
			switch t.State {
			case engine.TaskStaging, engine.TaskStarting:
				st.TasksStaged++
			case engine.TaskRunning:
				st.TasksRunning++
			}
		}
		st.TasksHealthy = healthyCount[id]
		if len(app.HealthChecks) > 0 {
			st.TasksUnhealthy = st.TasksRunning - st.TasksHealthy
		}
		if ac, ok := active[id]; ok {
			st.Deployments = []string{ac.dep.ID}
		} else {
			st.Deployments = []string{}
		}
		st.Pending = pending[id]
		if un := e.unplaced[id]; un != nil && (st.Pending > 0 || st.TasksRunning+st.TasksStaged < app.Instances) {
			st.Waiting = un.Message
		}
		if why, aside := e.quarantined[id]; aside {
			st.Waiting = why
		}
		st.GaveUp = e.gaveUp[id]
		st.KillSafety = e.killSafetyNote(id)
		if os := e.offers[id]; os != nil {
			st.Offers = os.summary()
		}
		v.appIndex[id] = len(v.Apps)
		v.Apps = append(v.Apps, st)
	}
	v.Groups = make([]*engine.Group, 0, len(e.groups))
	for _, g := range e.groups {
		v.Groups = append(v.Groups, g)
	}
	sort.Slice(v.Groups, func(i, j int) bool { return v.Groups[i].ID < v.Groups[j].ID })
	deps := make([]*engine.Deployment, 0, len(e.deployments))
	for _, dep := range e.deployments {
		deps = append(deps, dep)
	}
	sort.Slice(deps, func(i, j int) bool {
		if deps[i].CreatedAt != deps[j].CreatedAt {
			return deps[i].CreatedAt < deps[j].CreatedAt
		}
		return deps[i].ID < deps[j].ID
	})
	for _, dep := range deps {
		cp := *dep
		cp.Deadlines = append([]engine.Deadline(nil), dep.Deadlines...)
		ds := &DeploymentStatus{Deployment: &cp}
		deadlines := make(map[string]*engine.Deadline, len(dep.Deadlines))
		for i := range dep.Deadlines {
			deadlines[dep.Deadlines[i].ID] = &dep.Deadlines[i]
		}
		for _, c := range dep.Plan.Changes {
			if c.Step == dep.CurrentStep {
				ts := live[c.ID]
				sortTasks(ts)
				ds.Progress = append(ds.Progress, e.appProgress(dep, c, ts, deadlines[c.ID], now))
			}
		}
		v.Deployments = append(v.Deployments, ds)
		// What a step waits for (a dependency, capacity) is the app's status too.
		for _, p := range ds.Progress {
			if st := v.App(p.ID); st != nil && p.Waiting != "" && st.Waiting == "" {
				st.Waiting = p.Waiting
			}
		}
	}
	for _, id := range e.queuedIDs() {
		cp := *e.queued[id]
		v.Queued = append(v.Queued, &cp)
	}
	v.Recent = append([]*engine.Deployment(nil), e.recent...)
	v.Subscribers = e.subscriberList()
	if old := e.view.Swap(v); old != nil {
		close(old.next)
	}
	e.viewDirty = false
	e.lastView = now
}

// appProgress is one change's progress (see AppProgress).
func (e *Executor) appProgress(dep *engine.Deployment, c *engine.Change, tasks []*taskState, dl *engine.Deadline, now time.Time) AppProgress {
	p := AppProgress{ID: c.ID, Action: c.Action}
	app := e.apps[c.ID]
	if c.Action == engine.ActionDestroy {
		app = c.Before
	}
	r := e.rollout(dep, c, app, tasks, now)
	p.Target, p.Old, p.Killing = r.fleet.Target, r.fleet.Old, r.fleet.Killing
	p.Placed, p.Healthy, p.NotReady = r.fleet.New, r.deployed, r.healthyNotReady
	for _, t := range r.fresh {
		if t.State == engine.TaskRunning {
			p.Running++
			if app != nil && e.taskFailing(app, t) {
				p.Unhealthy++
			}
		}
	}
	p.Done = r.move.Done && e.waitFor[c.ID] == ""
	why := e.waitFor[c.ID]
	if why == "" && !p.Done {
		if un := e.unplaced[c.ID]; un != nil {
			why = fmt.Sprintf(waitCapacity, un.Message)
		}
	}
	p.Waiting, p.WaitingFor = waitText(why, dl, now), why
	if p.Waiting != why {
		p.Waited = strings.TrimPrefix(p.Waiting, why+", ")
	}
	if dl != nil && dl.Seconds > 0 && !p.Done {
		p.Deadline = fmt.Sprintf("%s of %s", shortDuration(now.Sub(parseTime(dl.Since, now))), shortDuration(time.Duration(dl.Seconds)*time.Second))
	}
	return p
}

func healthResults(t *taskState) []engine.HealthResult {
	out := []engine.HealthResult{}
	for _, h := range t.health {
		if !h.ran {
			continue
		}
		r := engine.HealthResult{Alive: h.alive, ConsecutiveFailures: h.consecutiveFailures, TaskID: t.ID, InstanceID: t.ID}
		ts := func(x time.Time) *string {
			if x.IsZero() {
				return nil
			}
			s := FormatTime(x)
			return &s
		}
		r.FirstSuccess, r.LastSuccess, r.LastFailure = ts(h.firstSuccess), ts(h.lastSuccess), ts(h.lastFailure)
		if h.lastFailureCause != "" {
			c := h.lastFailureCause
			r.LastFailureCause = &c
		}
		out = append(out, r)
	}
	return out
}
