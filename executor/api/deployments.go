package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// DeploymentInfo is one element of GET /v2/deployments (Marathon's
// DeploymentStepInfo, §4.7), plus Stride's status and per-app progress.
type DeploymentInfo struct {
	ID           string   `json:"id"`
	Version      string   `json:"version"`
	AffectedApps []string `json:"affectedApps"`
	AffectedPods []string `json:"affectedPods"`
	// Steps in Marathon 1.x form: [{"actions": [{"action", "app"}]}].
	Steps          []DeploymentStep   `json:"steps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
	// CurrentStep is 1-based, as in Marathon.
	CurrentStep int                 `json:"currentStep"`
	TotalSteps  int                 `json:"totalSteps"`
	Stride      *DeploymentProgress `json:"stride,omitempty"`
}

// DeploymentStep is one step of a deployment.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// DeploymentAction is one app's action, with Marathon's action name
// (StartApplication, StopApplication, ScaleApplication, RestartApplication).
// ReadinessCheckResults is set ([] for now) on current actions only.
type DeploymentAction struct {
	Action                string `json:"action"`
	App                   string `json:"app"`
	ReadinessCheckResults *[]any `json:"readinessCheckResults,omitempty"`
}

// DeploymentProgress is Stride's extension of a deployment: its status and the
// progress of the apps of its current step.
type DeploymentProgress struct {
	Status   string                 `json:"status"`
	Progress []executor.AppProgress `json:"progress"`
}

// marathonDeployment renders a deployment as Marathon's DeploymentStepInfo.
func marathonDeployment(d *engine.Deployment, progress []executor.AppProgress) DeploymentInfo {
	steps := make([]DeploymentStep, len(d.Plan.Steps))
	for i, st := range d.Plan.Steps {
		steps[i] = DeploymentStep{Actions: make([]DeploymentAction, len(st.Actions))}
		for j, a := range st.Actions {
			steps[i].Actions[j] = DeploymentAction{Action: executor.MarathonAction(a.Action), App: a.ID}
		}
	}
	current := []DeploymentAction{}
	cur := d.CurrentStep
	if cur >= len(steps) {
		cur = len(steps) - 1
	}
	if cur >= 0 && d.Status == engine.DeploymentRunning {
		for _, a := range steps[cur].Actions {
			a.ReadinessCheckResults = &[]any{}
			current = append(current, a)
		}
	}
	apps := d.AffectedApps()
	slices.Sort(apps)
	if progress == nil {
		progress = []executor.AppProgress{}
	}
	return DeploymentInfo{
		ID: d.ID, Version: d.Version, AffectedApps: apps, AffectedPods: []string{},
		Steps: steps, CurrentActions: current, CurrentStep: cur + 1, TotalSteps: len(steps),
		Stride: &DeploymentProgress{Status: d.Status, Progress: progress},
	}
}

// deploymentsList is GET /v2/deployments: the running deployments, oldest first.
func (s *Server) deploymentsList(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	out := make([]DeploymentInfo, 0, len(v.Deployments))
	for _, d := range v.Deployments {
		out = append(out, marathonDeployment(d.Deployment, d.Progress))
	}
	writeJSON(w, http.StatusOK, out)
}

// deploymentDelete is DELETE /v2/deployments/{id}. With ?force=true the deployment
// is cancelled where it is (202, no body). Without it Marathon would start a
// deployment that reverts the changes; Stride cannot yet, and says so with a 400
// rather than cancelling something the caller did not ask to cancel.
func (s *Server) deploymentDelete(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodDelete) {
		return
	}
	running := false
	for _, d := range s.b.View().Deployments {
		if d.ID == id {
			running = true
			break
		}
	}
	if !running {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgDeployNotFound, id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	if !queryBool(r, "force") {
		// Marathon's rollback: a new deployment that undoes this one.
		res, err := s.b.Revert(ctx, id)
		if errors.Is(err, executor.ErrNoDeployment) {
			writeError(w, http.StatusNotFound, fmt.Sprintf(msgDeployNotFound, id))
			return
		}
		if err != nil {
			s.writeBackendError(w, err)
			return
		}
		s.result(w, http.StatusOK, res.Deployment, res.Version)
		return
	}
	if err := s.b.Cancel(ctx, id); err != nil {
		if errors.Is(err, executor.ErrNoDeployment) {
			// Finished between the check and the cancel.
			writeError(w, http.StatusNotFound, fmt.Sprintf(msgDeployNotFound, id))
			return
		}
		s.writeBackendError(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// QueueItem is one element of GET /v2/queue: an app with instances waiting to be
// launched.
type QueueItem struct {
	// App is the app's Marathon JSON.
	App   *engine.App `json:"app"`
	Count int         `json:"count"`
	Role  string      `json:"role"`
	Delay QueueDelay  `json:"delay"`
	// Stride says why the instances wait: the scheduler's reason they cannot be
	// placed (which constraint or resource excluded how many agents), if any.
	Stride QueueReason `json:"stride"`
}

// QueueDelay is the app's launch backoff.
type QueueDelay struct {
	TimeLeftSeconds int  `json:"timeLeftSeconds"`
	Overdue         bool `json:"overdue"`
}

// QueueReason says why queued instances wait.
type QueueReason struct {
	Waiting      string  `json:"waiting,omitempty"`
	DelaySeconds float64 `json:"delaySeconds"`
}

// queue is GET /v2/queue: every app short of instances. Count is the number of
// instances the executor wants to launch (or, while the app backs off, the number
// missing); delay is the backoff left.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	out := []QueueItem{}
	for _, st := range v.Apps {
		count := st.Pending
		if missing := st.App.Instances - st.TasksRunning - st.TasksStaged; count == 0 && st.Delay > 0 && missing > 0 {
			count = missing
		}
		if count <= 0 {
			continue
		}
		role := st.App.Role
		if role == "" {
			role = "*"
		}
		left := int((st.Delay + time.Second - 1) / time.Second)
		out = append(out, QueueItem{
			App: st.App, Count: count, Role: role,
			Delay:  QueueDelay{TimeLeftSeconds: left, Overdue: st.Delay <= 0},
			Stride: QueueReason{Waiting: st.Waiting, DelaySeconds: st.Delay.Seconds()},
		})
	}
	writeJSON(w, http.StatusOK, map[string][]QueueItem{"queue": out})
}

// queueSub serves /v2/queue/{appId}/delay, which Stride does not support yet.
func (s *Server) queueSub(w http.ResponseWriter, r *http.Request, rest string) {
	id := canonicalPath(rest)
	if engine.ParentID(id) == "/" || !strings.HasSuffix(id, "/delay") {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	s.notYet(w, r, "resetting a launch delay")
}
