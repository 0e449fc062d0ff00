package executor

import (
	"encoding/json"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Event types: Marathon's eventType names (core/event/Events.scala), and Stride's
// own, which Marathon clients drop as unknown.
const (
	EventAPIPost               = "api_post_event"
	EventStatusUpdate          = "status_update_event"
	EventSubscribe             = "subscribe_event"
	EventUnsubscribe           = "unsubscribe_event"
	EventStreamAttached        = "event_stream_attached"
	EventStreamDetached        = "event_stream_detached"
	EventFailedHealthCheck     = "failed_health_check_event"
	EventHealthStatusChanged   = "health_status_changed_event"
	EventUnhealthyInstanceKill = "unhealthy_instance_kill_event"
	EventGroupChangeSuccess    = "group_change_success"
	EventGroupChangeFailed     = "group_change_failed"
	EventDeploymentSuccess     = "deployment_success"
	EventDeploymentFailed      = "deployment_failed"
	EventDeploymentInfo        = "deployment_info"
	EventDeploymentStepSuccess = "deployment_step_success"
	EventDeploymentStepFailure = "deployment_step_failure"
	EventAppTerminated         = "app_terminated_event"
	EventInstanceChanged       = "instance_changed_event"
	EventSchedulerRegistered   = "scheduler_registered_event"
	EventSchedulerReregistered = "scheduler_reregistered_event"
	EventSchedulerDisconnected = "scheduler_disconnected_event"

	// EventAppGaveUp is Stride's: an app stopped relaunching after
	// backoff.give_up_after consecutive failed launches.
	EventAppGaveUp = "app_gave_up_event"
	// EventHealthKillBreakerOpen and EventHealthKillBreakerClosed are Stride's:
	// the circuit breaker holding an app's health-check kills opened or closed.
	EventHealthKillBreakerOpen   = "health_kill_breaker_open_event"
	EventHealthKillBreakerClosed = "health_kill_breaker_closed_event"

	// EventInstancesUnplaced is Stride's: instances of an app cannot be placed on
	// any offer, and why.
	EventInstancesUnplaced = "instances_unplaced_event"
	// EventStreamGap is Stride's, sent on an event stream only (never on the bus
	// or to callbacks): the events between the client's Last-Event-ID (or its
	// last frame) and the next frame are not all delivered. A client that keeps a
	// cache of the state must read it again.
	EventStreamGap = "stream_gap"
)

// The payloads below carry Marathon's fields (the bus adds eventType and
// timestamp). Where Marathon names a task or an instance, both taskId and
// instanceId are set: older clients read taskId, newer ones instanceId, and in
// Stride they are the same id.

// StatusUpdate is status_update_event: a task changed state.
type StatusUpdate struct {
	SlaveID     string          `json:"slaveId"`
	TaskID      string          `json:"taskId"`
	InstanceID  string          `json:"instanceId"`
	TaskStatus  string          `json:"taskStatus"`
	Message     string          `json:"message"`
	AppID       string          `json:"appId"`
	Host        string          `json:"host"`
	IPAddresses []engine.IPAddr `json:"ipAddresses"`
	Ports       []int           `json:"ports"`
	Version     string          `json:"version"`
}

// InstanceChanged is instance_changed_event: an instance's condition changed
// (Condition is Marathon's name for the state: Running, Killed, ...).
type InstanceChanged struct {
	InstanceID     string `json:"instanceId"`
	TaskID         string `json:"taskId"`
	Condition      string `json:"condition"`
	RunSpecID      string `json:"runSpecId"`
	AgentID        string `json:"agentId"`
	Host           string `json:"host"`
	RunSpecVersion string `json:"runSpecVersion"`
}

// HealthStatusChanged is health_status_changed_event.
type HealthStatusChanged struct {
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId"`
	InstanceID string `json:"instanceId"`
	Version    string `json:"version"`
	Alive      bool   `json:"alive"`
}

// FailedHealthCheck is failed_health_check_event: one probe failed.
type FailedHealthCheck struct {
	AppID       string             `json:"appId"`
	TaskID      string             `json:"taskId"`
	InstanceID  string             `json:"instanceId"`
	HealthCheck engine.HealthCheck `json:"healthCheck"`
}

// UnhealthyInstanceKill is unhealthy_instance_kill_event: a task is killed for
// failing its health checks.
type UnhealthyInstanceKill struct {
	AppID      string `json:"appId"`
	TaskID     string `json:"taskId"`
	InstanceID string `json:"instanceId"`
	Version    string `json:"version"`
	Reason     string `json:"reason"`
	Host       string `json:"host"`
	SlaveID    string `json:"slaveId"`
}

// DeploymentStepEvent is deployment_info (a step starts), deployment_step_success
// and deployment_step_failure.
type DeploymentStepEvent struct {
	Plan        MarathonPlan `json:"plan"`
	CurrentStep MarathonStep `json:"currentStep"`
}

// DeploymentSuccess is deployment_success.
type DeploymentSuccess struct {
	ID   string       `json:"id"`
	Plan MarathonPlan `json:"plan"`
}

// DeploymentFailed is deployment_failed (also sent for a cancelled or
// superseded deployment).
type DeploymentFailed struct {
	ID     string       `json:"id"`
	Plan   MarathonPlan `json:"plan"`
	Reason string       `json:"reason"`
}

// GroupChange is group_change_success, and group_change_failed (with Reason).
type GroupChange struct {
	GroupID string `json:"groupId"`
	Version string `json:"version"`
	Reason  string `json:"reason,omitempty"`
}

// AppTerminated is app_terminated_event: a destroyed app's tasks are all gone.
type AppTerminated struct {
	AppID string `json:"appId"`
}

// APIPost is api_post_event: an app definition was written through the API.
// AppDefinition is the app's JSON as the API returns it, with the values of
// plain environment variables masked (see MaskEnv).
type APIPost struct {
	ClientIP      string          `json:"clientIp"`
	URI           string          `json:"uri"`
	AppDefinition json.RawMessage `json:"appDefinition"`
}

// SubscriptionEvent is subscribe_event and unsubscribe_event. CallbackURL has
// its password, if any, masked.
type SubscriptionEvent struct {
	ClientIP    string `json:"clientIp"`
	CallbackURL string `json:"callbackUrl"`
}

// StreamEvent is event_stream_attached and event_stream_detached.
type StreamEvent struct {
	RemoteAddress string `json:"remoteAddress"`
}

// SchedulerRegistered is scheduler_registered_event.
type SchedulerRegistered struct {
	FrameworkID string `json:"frameworkId"`
	Master      string `json:"master"`
}

// SchedulerReregistered is scheduler_reregistered_event.
type SchedulerReregistered struct {
	Master string `json:"master"`
}

// SchedulerDisconnected is scheduler_disconnected_event.
type SchedulerDisconnected struct {
	Message string `json:"message"`
}

// InstancesUnplaced is Stride's instances_unplaced_event.
type InstancesUnplaced struct {
	AppID            string `json:"appId"`
	Count            int    `json:"count"`
	AgentsConsidered int    `json:"agentsConsidered"`
	Reason           string `json:"reason"`
}

// StreamGap is Stride's stream_gap (see EventStreamGap). Missed is the number of
// events lost when it is known.
type StreamGap struct {
	LastEventID string  `json:"lastEventId,omitempty"`
	Missed      *uint64 `json:"missed,omitempty"`
	Reason      string  `json:"reason"`
	Message     string  `json:"message"`
}

// MarathonPlan is the "plan" of Marathon's deployment events.
type MarathonPlan struct {
	ID      string         `json:"id"`
	Steps   []MarathonStep `json:"steps"`
	Version string         `json:"version"`
}

// MarathonStep is one step of a MarathonPlan.
type MarathonStep struct {
	Actions []MarathonStepAction `json:"actions"`
}

// MarathonStepAction is one app's action in a step (Marathon's action names,
// see MarathonAction).
type MarathonStepAction struct {
	Action string `json:"action"`
	App    string `json:"app"`
}

// marathonPlan renders a deployment as the "plan" of Marathon's deployment events.
func marathonPlan(d *engine.Deployment) MarathonPlan {
	steps := make([]MarathonStep, len(d.Plan.Steps))
	for i, s := range d.Plan.Steps {
		steps[i] = marathonStep(s)
	}
	return MarathonPlan{ID: d.ID, Steps: steps, Version: d.Version}
}

func marathonStep(s engine.Step) MarathonStep {
	actions := make([]MarathonStepAction, len(s.Actions))
	for i, a := range s.Actions {
		actions[i] = MarathonStepAction{Action: MarathonAction(a.Action), App: a.ID}
	}
	return MarathonStep{Actions: actions}
}

// Condition is Marathon's instance condition for a Mesos task state
// (instance_changed_event).
func Condition(state string) string {
	switch state {
	case engine.TaskUnreachable, "TASK_LOST":
		return "Unreachable"
	case "TASK_GONE", "TASK_GONE_BY_OPERATOR":
		return "Gone"
	}
	s := strings.TrimPrefix(state, "TASK_")
	if s == "" || s == state {
		return "Unknown"
	}
	return s[:1] + strings.ToLower(s[1:])
}

// MaskedValue replaces the values of plain environment variables in events.
const MaskedValue = "<masked>"

// MaskEnv returns a copy of app whose plain environment values are replaced by
// MaskedValue; secret references (names of secrets, not their values) are
// kept. Events reach every event stream and callback URL, which may not be
// trusted with what the variables hold (passwords set from sensitive
// variables); the API's reads carry the values.
func MaskEnv(app *engine.App) *engine.App {
	if app == nil || len(app.Env) == 0 {
		return app
	}
	cp := app.Clone()
	for k := range cp.Env {
		cp.Env[k] = MaskedValue
	}
	return cp
}

// AppGaveUp is app_gave_up_event (Stride's).
type AppGaveUp struct {
	AppID    string `json:"appId"`
	Failures int    `json:"failures"`
	Reason   string `json:"reason"`
}

// HealthKillBreaker is health_kill_breaker_open_event and
// health_kill_breaker_closed_event (Stride's): how many of the app's running
// tasks fail their checks at once, and (when it opens) why.
type HealthKillBreaker struct {
	AppID   string `json:"appId"`
	Failing int    `json:"failing"`
	Running int    `json:"running"`
	Reason  string `json:"reason,omitempty"`
}
