package executor

import (
	"sort"
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
	// Deployments: the running ones, oldest first.
	Deployments []*DeploymentStatus
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
}

// DeploymentStatus is a running deployment with its progress per app.
type DeploymentStatus struct {
	*engine.Deployment
	Progress []AppProgress
}

// AppProgress is one app's progress in a deployment's current step.
type AppProgress struct {
	ID      string        `json:"id"`
	Action  engine.Action `json:"action"`
	Running int           `json:"running"`
	Healthy int           `json:"healthy"`
	Target  int           `json:"target"`
	Waiting string        `json:"waiting,omitempty"`
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

// Deployment returns a deployment by id, running or recently finished.
func (v *View) Deployment(id string) (*engine.Deployment, bool) {
	for _, d := range v.Deployments {
		if d.ID == id {
			return d.Deployment, true
		}
	}
	for _, d := range v.Recent {
		if d.ID == id {
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
	v := &View{Serial: e.serial, FrameworkID: e.frameworkID, Connected: e.connected, Ended: e.ended, appIndex: map[string]int{}, Healthy: map[string]bool{}, next: make(chan struct{}),
		Unreconciled: len(e.recon.unanswered), ReconcileRetries: e.recon.rounds}
	byApp := map[string][]*engine.Task{}
	healthyCount := map[string]int{}
	for _, t := range e.tasks {
		if isGone(t.State) {
			continue
		}
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
	sort.Slice(v.Tasks, func(i, j int) bool {
		if v.Tasks[i].AppID != v.Tasks[j].AppID {
			return v.Tasks[i].AppID < v.Tasks[j].AppID
		}
		return v.Tasks[i].ID < v.Tasks[j].ID
	})
	active := e.activeChanges()
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
		v.appIndex[id] = len(v.Apps)
		v.Apps = append(v.Apps, st)
	}
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
		ds := &DeploymentStatus{Deployment: &cp}
		for _, c := range dep.Plan.Changes {
			if c.Step != dep.CurrentStep {
				continue
			}
			p := AppProgress{ID: c.ID, Action: c.Action}
			if c.After != nil && c.Action != engine.ActionDestroy {
				p.Target = c.After.Instances
			}
			for _, t := range byApp[c.ID] {
				if t.State == engine.TaskRunning {
					p.Running++
				}
			}
			p.Healthy = healthyCount[c.ID]
			if un := e.unplaced[c.ID]; un != nil {
				p.Waiting = un.Message
			}
			ds.Progress = append(ds.Progress, p)
		}
		v.Deployments = append(v.Deployments, ds)
	}
	v.Recent = append([]*engine.Deployment(nil), e.recent...)
	if old := e.view.Swap(v); old != nil {
		close(old.next)
	}
	e.viewDirty = false
	e.lastView = now
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
