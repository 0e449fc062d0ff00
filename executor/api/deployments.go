package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// DeploymentInfo is one element of GET /v2/deployments (Marathon's
// DeploymentStepInfo, §4.7), Marathon's fields only: a deployment's status and
// progress per app are Stride's (GET /stride/v1/deployments/{id}).
type DeploymentInfo struct {
	ID           string   `json:"id"`
	Version      string   `json:"version"`
	AffectedApps []string `json:"affectedApps"`
	AffectedPods []string `json:"affectedPods"`
	// Steps in Marathon 1.x form: [{"actions": [{"action", "app"}]}].
	Steps          []DeploymentStep   `json:"steps"`
	CurrentActions []DeploymentAction `json:"currentActions"`
	// CurrentStep is 1-based, as in Marathon.
	CurrentStep int `json:"currentStep"`
	TotalSteps  int `json:"totalSteps"`
}

// DeploymentStep is one step of a deployment.
type DeploymentStep struct {
	Actions []DeploymentAction `json:"actions"`
}

// DeploymentAction is one app's action, with Marathon's action name
// (StartApplication, StopApplication, ScaleApplication, RestartApplication).
// ReadinessCheckResults is set on current actions only: the results of the
// readiness checks of the app's tasks.
type DeploymentAction struct {
	Action                string                      `json:"action"`
	App                   string                      `json:"app"`
	ReadinessCheckResults *[]executor.ReadinessResult `json:"readinessCheckResults,omitempty"`
}

// marathonDeployment renders a deployment as Marathon's DeploymentStepInfo.
func marathonDeployment(d *engine.Deployment, readiness map[string][]executor.ReadinessResult) DeploymentInfo {
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
			rs := append([]executor.ReadinessResult{}, readiness[a.App]...)
			a.ReadinessCheckResults = &rs
			current = append(current, a)
		}
	}
	apps := d.AffectedApps()
	slices.Sort(apps)
	return DeploymentInfo{
		ID: d.ID, Version: d.Version, AffectedApps: apps, AffectedPods: []string{},
		Steps: steps, CurrentActions: current, CurrentStep: cur + 1, TotalSteps: len(steps),
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
		out = append(out, marathonDeployment(d.Deployment, v.Readiness))
	}
	writeJSON(w, http.StatusOK, out)
}

// deploymentDelete is DELETE /v2/deployments/{id}. Without force it starts a
// deployment that reverts the running one's changes (200 DeploymentResult; the
// running one is superseded); with ?force=true it only cancels it where it is
// (202, no body): apps keep their new definitions, tasks stay as they are.
func (s *Server) deploymentDelete(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodDelete) {
		return
	}
	running, version := false, ""
	for _, d := range s.b.View().Deployments {
		if d.ID == id {
			running, version = true, d.Version
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
		if res == nil || res.Deployment == nil {
			// Nothing was left to undo: the deployment ended; its own id and
			// version answer (what a client waits on is gone).
			w.Header().Set("Marathon-Deployment-Id", id)
			writeJSON(w, http.StatusOK, deploymentResult{DeploymentID: id, Version: version})
			return
		}
		s.result(w, http.StatusOK, res, "")
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
