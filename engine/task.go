package engine

import "sort"

// Mesos task states, as Marathon reports them.
const (
	TaskStaging     = "TASK_STAGING"
	TaskStarting    = "TASK_STARTING"
	TaskRunning     = "TASK_RUNNING"
	TaskKilling     = "TASK_KILLING"
	TaskFinished    = "TASK_FINISHED"
	TaskFailed      = "TASK_FAILED"
	TaskKilled      = "TASK_KILLED"
	TaskError       = "TASK_ERROR"
	TaskLost        = "TASK_LOST"
	TaskDropped     = "TASK_DROPPED"
	TaskUnreachable = "TASK_UNREACHABLE"
	TaskGone        = "TASK_GONE"
	TaskGoneByOp    = "TASK_GONE_BY_OPERATOR"
	TaskUnknown     = "TASK_UNKNOWN"
)

// TerminalTaskState reports whether a task in state s will never run again.
func TerminalTaskState(s string) bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskError, TaskLost, TaskDropped, TaskGone, TaskGoneByOp:
		return true
	}
	return false
}

// Task is one running (or launching) instance of an app, in Marathon's task JSON.
// Task ids have Marathon's legacy form "<app id without the leading slash, / as _>.<uuid>".
type Task struct {
	ID           string   `json:"id"`
	AppID        string   `json:"appId"`
	Host         string   `json:"host"`
	Ports        []int    `json:"ports"`
	ServicePorts []int    `json:"servicePorts"`
	SlaveID      string   `json:"slaveId"`
	StagedAt     string   `json:"stagedAt,omitempty"`
	StartedAt    string   `json:"startedAt,omitempty"`
	Version      string   `json:"version"`
	State        string   `json:"state"`
	IPAddresses  []IPAddr `json:"ipAddresses"`
	// HealthCheckResults holds one entry per executor-side health check that has run.
	HealthCheckResults []HealthResult `json:"healthCheckResults"`
	Role               string         `json:"role,omitempty"`
	LocalVolumes       []any          `json:"localVolumes"`
	// Message is the last status message from Mesos (Stride extension).
	Message string `json:"message,omitempty"`
	// UnreachableSince is when Mesos lost the task's agent (RFC 3339), while the
	// task is TASK_UNREACHABLE: the app's unreachableStrategy counts from it.
	// It is persisted for the next leader; Marathon's task JSON (/v2) does not
	// show it.
	UnreachableSince string `json:"unreachableSince,omitempty"`
}

// IPAddr is one of a task's IP addresses.
type IPAddr struct {
	IPAddress string `json:"ipAddress"`
	Protocol  string `json:"protocol"`
}

// HealthResult is the state of one health check of one task (Marathon's Health).
type HealthResult struct {
	Alive               bool    `json:"alive"`
	ConsecutiveFailures int     `json:"consecutiveFailures"`
	FirstSuccess        *string `json:"firstSuccess"`
	LastSuccess         *string `json:"lastSuccess"`
	LastFailure         *string `json:"lastFailure"`
	LastFailureCause    *string `json:"lastFailureCause"`
	TaskID              string  `json:"taskId"`
	InstanceID          string  `json:"instanceId"`
}

// Deployment states.
const (
	DeploymentRunning   = "running"
	DeploymentSucceeded = "succeeded"
	DeploymentFailed    = "failed"
	DeploymentCancelled = "cancelled"
	// DeploymentQueued: waiting for the deployments that hold its apps to end
	// (stride apply -queue); it is planned and started then.
	DeploymentQueued = "queued"
)

// Deployment is one plan being carried out. It is persisted before any of its
// actions is taken, and its progress (CurrentStep) after each step, so that a new
// leader resumes it.
type Deployment struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// Plan is the plan being carried out; its Changes hold the target apps.
	Plan        *Plan  `json:"plan"`
	CurrentStep int    `json:"currentStep"` // 0-based index into Plan.Steps
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	CreatedAt   string `json:"createdAt"`
	FinishedAt  string `json:"finishedAt,omitempty"`

	// ProgressDeadlineSeconds is the progress deadline of the apps that set none
	// (App.ProgressDeadlineSeconds): the apply's, else the server's default; 0:
	// no deadline.
	ProgressDeadlineSeconds int `json:"progressDeadlineSeconds,omitempty"`
	// AutoRevert: when the deployment fails, every app it changed is rolled back
	// to the last version that ran fully healthy (apps with App.AutoRevert are
	// rolled back whatever this says).
	AutoRevert bool `json:"autoRevert,omitempty"`
	// Deadlines holds the progress bookkeeping of the changes of the current
	// step, persisted so that a new leader keeps the same deadlines.
	Deadlines []Deadline `json:"deadlines,omitempty"`
	// RevertOf is the id of the deployment this one reverts; RevertedBy the id of
	// the deployment that reverts this one.
	RevertOf   string `json:"revertOf,omitempty"`
	RevertedBy string `json:"revertedBy,omitempty"`
	// LastGood maps each app the deployment changes to the last version of it
	// that ran fully healthy before the deployment started (when known): what an
	// automatic revert goes back to.
	LastGood map[string]string `json:"lastGood,omitempty"`
	// Keep maps an app of a revert to the versions of its tasks that already run
	// the configuration reverted to: they count as new and are not replaced.
	Keep map[string][]string `json:"keep,omitempty"`
	// Queued holds what a queued deployment (Status "queued") will apply once
	// the deployments holding its apps are over; it is planned then.
	Queued *QueuedApply `json:"queued,omitempty"`
}

// Deadline is the progress of one change of a deployment's current step: the
// step fails when no progress is made for Seconds after Since.
type Deadline struct {
	// ID is the app.
	ID string `json:"id"`
	// Since is when the change last made progress (or its step began), RFC 3339.
	Since string `json:"since"`
	// Seconds is the progress deadline that applies (0: none).
	Seconds int `json:"seconds"`
	// Deployed is the most new tasks seen deployed (healthy and ready) at once,
	// Remaining the fewest tasks seen left to go (old ones, ones being killed,
	// new ones beyond the target); progress is beating either. Deployed < 0:
	// not counted yet.
	Deployed  int `json:"deployed"`
	Remaining int `json:"remaining"`
	// Started: the change's dependencies were up and it began (it is not held
	// for them again).
	Started bool `json:"started,omitempty"`
}

// QueuedApply is an apply waiting for the deployments that hold its apps.
type QueuedApply struct {
	Spec    *Spec  `json:"spec"`
	Scope   string `json:"scope,omitempty"`
	Destroy bool   `json:"destroy,omitempty"`
}

// AffectedApps lists the ids the deployment touches, sorted.
func (d *Deployment) AffectedApps() []string {
	ids := make([]string, 0, len(d.Plan.Changes))
	for _, c := range d.Plan.Changes {
		ids = append(ids, c.ID)
	}
	sort.Strings(ids)
	return ids
}
