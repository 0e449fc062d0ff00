package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Stride's own endpoints, used by the CLI.

// StateResponse is GET /stride/v1/state: the state file format, apps sorted by id.
type StateResponse struct {
	Serial uint64        `json:"serial"`
	Apps   []*engine.App `json:"apps"`
}

// ApplyRequest is the body of POST /stride/v1/plan and /stride/v1/apply.
type ApplyRequest struct {
	// Spec is the desired configuration. It may only be absent with Destroy.
	Spec *engine.Spec `json:"spec"`
	// Scope is the group the spec owns ("" or "/": everything).
	Scope   string `json:"scope,omitempty"`
	Destroy bool   `json:"destroy,omitempty"`
	// StateSerial, when set, must equal the server's state serial (else 409 stale).
	StateSerial *uint64 `json:"state_serial,omitempty"`
	// Force cancels running deployments of the same apps instead of answering 409.
	Force bool `json:"force,omitempty"`
	// AutoRevert rolls every app of the deployment back to its last fully
	// healthy version should the deployment fail.
	AutoRevert bool `json:"auto_revert,omitempty"`
	// ProgressDeadlineSeconds is the progress deadline of the apps that set none
	// (0: the server's default; -1: none).
	ProgressDeadlineSeconds int `json:"progress_deadline_seconds,omitempty"`
	// Queue waits for the deployments that hold the apps instead of answering
	// 409: the apply is queued (a newer queued apply of the same apps replaces
	// it) and planned when they are over.
	Queue bool `json:"queue,omitempty"`
}

// ApplyResponse is the answer of POST /stride/v1/apply: 201 with the deployment,
// 202 with a queued one (Status "queued", Reason naming what it waits for), or
// 200 without one when there was nothing to do.
type ApplyResponse struct {
	DeploymentID string       `json:"deploymentId,omitempty"`
	Version      string       `json:"version,omitempty"`
	Status       string       `json:"status,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	Plan         *engine.Plan `json:"plan"`
}

// DeploymentResponse is GET /stride/v1/deployments/{id}.
type DeploymentResponse struct {
	*engine.Deployment
	// Progress of the apps of the current step (running deployments only).
	Progress []executor.AppProgress `json:"progress"`
	// Apps holds the current status of every app the deployment touches.
	Apps []AppSummary `json:"apps"`
}

// AppSummary is one app's counts, as `stride apply` shows them while it follows a
// deployment. Healthy counts running tasks of apps without health checks.
type AppSummary struct {
	ID          string  `json:"id"`
	Instances   int     `json:"instances"`
	Staged      int     `json:"staged"`
	Running     int     `json:"running"`
	Healthy     int     `json:"healthy"`
	Waiting     string  `json:"waiting,omitempty"`
	Delay       float64 `json:"delaySeconds,omitempty"`
	LastFailure string  `json:"lastFailure,omitempty"`
	// GaveUp says why Stride stopped relaunching the app; KillSafety why its
	// health-check kills are held.
	GaveUp     string `json:"gaveUp,omitempty"`
	KillSafety string `json:"killSafety,omitempty"`
}

// AppStatus is one element of GET /stride/v1/apps: what Stride knows of an app
// beyond Marathon's AppInfo — why instances wait, the backoff, whether it gave
// up relaunching, whether its health-check kills are held, the last failure.
type AppStatus struct {
	ID           string   `json:"id"`
	Instances    int      `json:"instances"`
	Staged       int      `json:"staged"`
	Running      int      `json:"running"`
	Healthy      int      `json:"healthy"`
	Deployments  []string `json:"deployments"`
	Pending      int      `json:"pending,omitempty"`
	Waiting      string   `json:"waiting,omitempty"`
	DelaySeconds float64  `json:"delaySeconds,omitempty"`
	// GaveUp says why Stride stopped relaunching the app (backoff's
	// give_up_after); a later apply resets it.
	GaveUp string `json:"gaveUp,omitempty"`
	// KillSafety says why health-check kills are held (the circuit breaker is
	// open, or the rate limit makes kills wait).
	KillSafety  string `json:"killSafety,omitempty"`
	LastFailure string `json:"lastFailure,omitempty"`
}

// appsStatus is GET /stride/v1/apps: every app's Stride status, sorted by id.
func (s *Server) appsStatus(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	out := make([]AppStatus, 0, len(v.Apps))
	for _, st := range v.Apps {
		out = append(out, appStatusOf(st))
	}
	writeJSON(w, http.StatusOK, map[string][]AppStatus{"apps": out})
}

// appStatusOf is an app's Stride status.
func appStatusOf(st *executor.AppStatus) AppStatus {
	a := AppStatus{
		ID: st.App.ID, Instances: st.App.Instances, Staged: st.TasksStaged, Running: st.TasksRunning,
		Healthy: st.TasksHealthy, Deployments: st.Deployments, Pending: st.Pending, Waiting: st.Waiting,
		DelaySeconds: st.Delay.Seconds(), GaveUp: st.GaveUp, KillSafety: st.KillSafety,
	}
	if a.Deployments == nil {
		a.Deployments = []string{}
	}
	if len(st.App.HealthChecks) == 0 {
		a.Healthy = st.TasksRunning
	}
	if f := st.LastTaskFailure; f != nil {
		a.LastFailure = f.State + ": " + f.Message
	}
	return a
}

// state is GET /stride/v1/state.
func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	sn := s.snap()
	sn.encodeFull()
	if sn.fullErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.fullErr.Error())
		return
	}
	b := make([]byte, 0, sn.fullSize+64)
	b = append(b, `{"serial":`...)
	b = strconv.AppendUint(b, sn.view.Serial, 10)
	b = append(b, `,"apps":[`...)
	for i, raw := range sn.fullJSON {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, raw...)
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

// decodeApply reads and checks an ApplyRequest: malformed JSON and fields of the
// wrong type are 400 "Invalid JSON", apps that fail validation 422 "Object is not
// valid"; both with JSON pointers into the request ("/spec/apps/2/cpus"). Apps get
// their defaults and are sorted by id.
func (s *Server) decodeApply(w http.ResponseWriter, r *http.Request) (*ApplyRequest, bool) {
	if !allow(w, r, http.MethodPost) {
		return nil, false
	}
	var req ApplyRequest
	raw, ok := readBody(w, r, maxSpecBody)
	if !ok {
		return nil, false
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		var fe engine.FieldErrors
		if errors.As(err, &fe) {
			writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: locateAppErrors(raw)})
			return nil, false
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{jsonErrorDetail(raw, err)}})
		return nil, false
	}
	if fe := unknownFields(raw, reflect.TypeFor[ApplyRequest]()); len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: fe})
		return nil, false
	}
	var details []engine.FieldError
	if req.Scope != "" {
		if err := engine.CheckID(req.Scope, true); err != nil {
			details = append(details, engine.FieldError{Path: "/scope", Errors: []string{err.Error()}})
		}
	}
	if req.ProgressDeadlineSeconds < -1 || req.ProgressDeadlineSeconds > engine.MaxProgressDeadlineSeconds {
		details = append(details, engine.FieldError{Path: "/progress_deadline_seconds", Errors: []string{
			fmt.Sprintf("must be between -1 (none) and %d, got %d", engine.MaxProgressDeadlineSeconds, req.ProgressDeadlineSeconds)}})
	}
	if req.Spec == nil && !req.Destroy {
		details = append(details, engine.FieldError{Path: "/spec", Errors: []string{"is required (only destroy may leave it out)"}})
	}
	if req.Spec != nil {
		for _, fe := range req.Spec.CheckSize(s.info.Limits) {
			details = append(details, engine.FieldError{Path: "/spec" + fe.Path, Errors: fe.Errors})
		}
	}
	if req.Spec != nil && len(details) == 0 {
		for i, a := range req.Spec.Apps {
			if a == nil {
				writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{{
					Path: fmt.Sprintf("/spec/apps/%d", i), Errors: []string{engine.ErrExpectedObject},
				}}})
				return nil, false
			}
			a.ApplyDefaults()
			for _, fe := range a.ValidateWithin(s.info.Limits) {
				details = append(details, engine.FieldError{Path: fmt.Sprintf("/spec/apps/%d%s", i, strings.TrimSuffix(fe.Path, "/")), Errors: fe.Errors})
			}
		}
		sort.SliceStable(req.Spec.Apps, func(i, j int) bool { return req.Spec.Apps[i].ID < req.Spec.Apps[j].ID })
	}
	if len(details) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: msgInvalidObject, Details: details})
		return nil, false
	}
	return &req, true
}

// readBody reads a JSON request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	var raw json.RawMessage
	ok := decodeBody(w, r, &raw, limit)
	return raw, ok
}

// locateAppErrors decodes each app of a request whose apps failed to decode and
// returns their errors with paths into the request ("/spec/apps/1/cpus").
func locateAppErrors(raw []byte) []engine.FieldError {
	var probe struct {
		Spec struct {
			Apps []json.RawMessage `json:"apps"`
		} `json:"spec"`
	}
	var out []engine.FieldError
	if err := json.Unmarshal(raw, &probe); err == nil {
		for i, a := range probe.Spec.Apps {
			var app engine.App
			err := app.UnmarshalJSON(a)
			var fe engine.FieldErrors
			if errors.As(err, &fe) {
				for _, e := range fe {
					out = append(out, engine.FieldError{Path: fmt.Sprintf("/spec/apps/%d%s", i, strings.TrimSuffix(e.Path, "/")), Errors: e.Errors})
				}
			}
		}
	}
	if len(out) == 0 {
		out = []engine.FieldError{{Path: "/spec/apps", Errors: []string{"invalid app"}}}
	}
	return out
}

func (req *ApplyRequest) executorRequest() executor.ApplyRequest {
	deadline := time.Duration(req.ProgressDeadlineSeconds) * time.Second
	if req.ProgressDeadlineSeconds < 0 {
		deadline = -1
	}
	return executor.ApplyRequest{
		Spec: req.Spec, Scope: req.Scope, Destroy: req.Destroy, ExpectSerial: req.StateSerial, Force: req.Force,
		AutoRevert: req.AutoRevert, ProgressDeadline: deadline, Queue: req.Queue,
	}
}

// plan is POST /stride/v1/plan: the plan an apply would carry out now.
func (s *Server) plan(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeApply(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	plan, err := s.b.Plan(ctx, req.executorRequest())
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}

// apply is POST /stride/v1/apply.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeApply(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	plan, dep, err := s.b.Apply(ctx, req.executorRequest())
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	if dep == nil {
		writeJSON(w, http.StatusOK, ApplyResponse{Plan: plan})
		return
	}
	for _, c := range plan.Changes {
		if c.Action != engine.ActionDestroy {
			s.postEvent(r, c.After)
		}
	}
	w.Header().Set("Marathon-Deployment-Id", dep.ID)
	w.Header().Set("Location", strideDeploy+"/"+dep.ID)
	code := http.StatusCreated
	if dep.Status == engine.DeploymentQueued {
		code = http.StatusAccepted
	}
	writeJSON(w, code, ApplyResponse{DeploymentID: dep.ID, Version: dep.Version, Status: dep.Status, Reason: dep.Reason, Plan: plan})
}

// deploymentGet is GET /stride/v1/deployments/{id}: a running or recently
// finished deployment with the current counts of its apps.
func (s *Server) deploymentGet(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	sn := s.snap()
	v := sn.view
	resp := DeploymentResponse{Progress: []executor.AppProgress{}, Apps: []AppSummary{}}
	for _, d := range v.Deployments {
		if d.ID == id {
			resp.Deployment = d.Deployment
			if d.Progress != nil {
				resp.Progress = d.Progress
			}
		}
	}
	if resp.Deployment == nil {
		d, ok := v.Deployment(id)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf(msgDeployNotFound, id))
			return
		}
		resp.Deployment = d
	}
	for _, c := range resp.Plan.Changes {
		sum := AppSummary{ID: c.ID}
		if st := sn.appStatus(c.ID); st != nil {
			sum.Instances, sum.Staged, sum.Running, sum.Healthy = st.App.Instances, st.TasksStaged, st.TasksRunning, st.TasksHealthy
			if len(st.App.HealthChecks) == 0 {
				sum.Healthy = st.TasksRunning
			}
			sum.Waiting, sum.Delay = st.Waiting, st.Delay.Seconds()
			sum.GaveUp, sum.KillSafety = st.GaveUp, st.KillSafety
			if f := st.LastTaskFailure; f != nil {
				sum.LastFailure = f.State + ": " + f.Message
			}
		} else {
			// A destroyed app: count what is still running.
			for _, t := range sn.tasksOfApp(c.ID) {
				switch t.State {
				case engine.TaskRunning, engine.TaskKilling:
					sum.Running++
				case engine.TaskStaging, engine.TaskStarting:
					sum.Staged++
				}
			}
		}
		resp.Apps = append(resp.Apps, sum)
	}
	resp.Deployment = maskDeployment(resp.Deployment)
	writeJSON(w, http.StatusOK, resp)
}

// maskDeployment returns d with the sensitive values of its plan's apps shown
// as engine.SensitiveValue (a copy; d itself is shared), or d when nothing in
// it is sensitive.
func maskDeployment(d *engine.Deployment) *engine.Deployment {
	if d == nil || d.Plan == nil {
		return d
	}
	var changes []*engine.Change
	for i, c := range d.Plan.Changes {
		before, after := c.Before.Masked(), c.After.Masked()
		if before == c.Before && after == c.After {
			continue
		}
		if changes == nil {
			changes = slices.Clone(d.Plan.Changes)
		}
		cp := *c
		cp.Before, cp.After = before, after
		cp.Fields = slices.Clone(c.Fields)
		for j, f := range cp.Fields {
			if c.Before.IsSensitive(f.Path) || c.After.IsSensitive(f.Path) {
				cp.Fields[j].Before, cp.Fields[j].After = engine.SensitiveValue, engine.SensitiveValue
			}
		}
		changes[i] = &cp
	}
	var runtime []engine.RuntimeField
	for i, rf := range d.Plan.RuntimeManaged {
		if rf.Sensitive {
			if runtime == nil {
				runtime = slices.Clone(d.Plan.RuntimeManaged)
			}
			runtime[i].Deployed, runtime[i].Configured = engine.SensitiveValue, engine.SensitiveValue
		}
	}
	if changes == nil && runtime == nil {
		return d
	}
	plan := *d.Plan
	if changes != nil {
		plan.Changes = changes
	}
	if runtime != nil {
		plan.RuntimeManaged = runtime
	}
	cp := *d
	cp.Plan = &plan
	return &cp
}

// AppExtras is the name the client uses for AppStatus: what Stride knows of an
// app beyond Marathon's AppInfo.
type AppExtras = AppStatus

// strideApp is GET /stride/v1/apps/{id}: {"app": AppStatus}.
func (s *Server) strideApp(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	st := s.b.View().App(id)
	if st == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]AppStatus{"app": appStatusOf(st)})
}
