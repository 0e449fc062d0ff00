package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/planner"
)

// Stride's read endpoints behind the web UI, for any client that wants more than
// Marathon's resources carry (and never inside them: /v2 stays Marathon's):
//
//	GET /stride/v1/queue                            why instances wait, per app
//	GET /stride/v1/deployments                      running and recent deployments, each app's rollout
//	GET /stride/v1/apps/{id}/history                the recorded versions, each with what changed
//	GET /stride/v1/apps/{id}/diff?from=V1&to=V2     the field diff between two versions
//
// Like every read, they are served from the executor's published View; only the
// version history reads the state store.

// AppHistory reads the recorded versions of apps (engine.Store implements it).
type AppHistory interface {
	// AppVersions returns the recorded versions of app id, newest first.
	AppVersions(ctx context.Context, id string) ([]string, error)
	// AppVersion returns app id as recorded at version (an error wrapping
	// engine.ErrNotFound when there is no such version).
	AppVersion(ctx context.Context, id, version string) (*engine.App, error)
}

// Paths and limits of the UI's endpoints.
const (
	strideQueue = "/stride/v1/queue"
	// recentDefault and recentMax bound GET /stride/v1/deployments?limit=.
	recentDefault, recentMax = 20, 100
	// maxVersionLen bounds a version in a query (versions are ~24 bytes).
	maxVersionLen = 64
	// historyTimeout bounds the store reads of one history or diff request.
	historyTimeout = 10 * time.Second
)

// Messages of the UI's endpoints.
const (
	msgNoHistory      = "the version history is not available on this server"
	msgVersionMissing = "App '%s' does not exist in version %s"
	msgHistoryRead    = "reading the version history of %s: %v"
)

// WaitingApp is one element of GET /stride/v1/queue: an app with instances that
// are not running, and why.
type WaitingApp struct {
	ID        string `json:"id"`
	Instances int    `json:"instances"`
	// Pending counts the instances the executor wants to launch now.
	Pending int `json:"pending"`
	// Waiting is why they cannot be placed: which constraint or resource excluded
	// how many agents ("" when nothing stops them).
	Waiting string `json:"waiting,omitempty"`
	// DelaySeconds is the launch backoff left (0: none).
	DelaySeconds float64 `json:"delaySeconds"`
}

// strideQueueList is GET /stride/v1/queue: {"queue": [WaitingApp...]}, every app
// that waits (instances pending, unplaceable, or backing off), by id.
func (s *Server) strideQueueList(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	out := []WaitingApp{}
	for _, st := range v.Apps {
		if st.Waiting == "" && st.Delay <= 0 && st.Pending <= 0 {
			continue
		}
		out = append(out, WaitingApp{
			ID: st.App.ID, Instances: st.App.Instances, Pending: st.Pending,
			Waiting: st.Waiting, DelaySeconds: st.Delay.Seconds(),
		})
	}
	writeJSON(w, http.StatusOK, map[string][]WaitingApp{"queue": out})
}

// DeploymentsOverview is GET /stride/v1/deployments.
type DeploymentsOverview struct {
	// Running deployments, oldest first.
	Running []DeploymentOverview `json:"running"`
	// Recent finished deployments, newest first (at most ?limit=, default 20).
	Recent []DeploymentOverview `json:"recent"`
}

// DeploymentOverview is one deployment with its steps and, while it runs, the
// rollout of each app.
type DeploymentOverview struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	// Status is running, succeeded, failed or cancelled; Reason says why it
	// failed or was cancelled.
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
	CreatedAt  string `json:"createdAt"`
	FinishedAt string `json:"finishedAt,omitempty"`
	// CurrentStep is the 0-based index of the step being carried out (as in
	// the plan's "step"); TotalSteps the number of steps.
	CurrentStep int            `json:"currentStep"`
	TotalSteps  int            `json:"totalSteps"`
	Steps       []OverviewStep `json:"steps"`
	Summary     engine.Summary `json:"summary"`
}

// OverviewStep is one step of a deployment: its apps, in parallel.
type OverviewStep struct {
	Actions []*Rollout `json:"actions"`
}

// Rollout is one app's action in a deployment.
type Rollout struct {
	ID     string        `json:"id"`
	Action engine.Action `json:"action"`
	// Reason is the planner's: the first field that forces a restart, say.
	Reason        string `json:"reason,omitempty"`
	OnlyViolating bool   `json:"only_violating,omitempty"`
	// Bounds of the rollout (restarts and scales): at least MinHealthy healthy,
	// at most MaxRunning running, From old instances to To new ones.
	Bounds *RolloutBounds `json:"bounds,omitempty"`
	// Live is the app's progress now (running deployments only).
	Live *AppRollout `json:"live,omitempty"`
}

// RolloutBounds are a change's rolling bounds (engine.Rolling without the waves).
type RolloutBounds struct {
	From       int `json:"from"`
	To         int `json:"to"`
	MinHealthy int `json:"min_healthy"`
	MaxRunning int `json:"max_running"`
}

// AppRollout is where one app's rollout stands. Tasks of the app's current
// configuration are new, the others old (the executor's own rule: a task is old
// when it runs a configuration older than the app's last config change).
type AppRollout struct {
	// Target is the number of instances the action ends with.
	Target int `json:"target"`
	// New and NewHealthy count the tasks of the current configuration (not being
	// killed) and the healthy ones among them; Old the tasks left of older
	// configurations (being killed included).
	New        int `json:"new"`
	NewHealthy int `json:"newHealthy"`
	Old        int `json:"old"`
	// Staged, Running and Healthy count every task of the app.
	Staged  int `json:"staged"`
	Running int `json:"running"`
	Healthy int `json:"healthy"`
	// Waiting says why instances cannot be placed, DelaySeconds the launch
	// backoff left.
	Waiting      string  `json:"waiting,omitempty"`
	DelaySeconds float64 `json:"delaySeconds,omitempty"`
	// Done: the app has reached its target (every new task healthy, no old one
	// left).
	Done bool `json:"done"`
}

// deploymentsOverview is GET /stride/v1/deployments[?limit=N].
func (s *Server) deploymentsOverview(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	limit := recentDefault
	if q := r.URL.Query().Get("limit"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n > recentMax {
			writeJSON(w, http.StatusBadRequest, errorBody{Message: "Invalid limit", Details: []engine.FieldError{{
				Path: "limit", Errors: []string{fmt.Sprintf("must be a number from 0 to %d", recentMax)},
			}}})
			return
		}
		limit = n
	}
	sn := s.snap()
	v := sn.view
	out := DeploymentsOverview{Running: []DeploymentOverview{}, Recent: []DeploymentOverview{}}
	for _, d := range v.Deployments {
		out.Running = append(out.Running, overview(sn, d.Deployment, true))
	}
	for i := len(v.Recent) - 1; i >= 0 && len(out.Recent) < limit; i-- {
		out.Recent = append(out.Recent, overview(sn, v.Recent[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

// overview renders a deployment, with each app's live rollout when it runs.
func overview(sn *snapshot, d *engine.Deployment, live bool) DeploymentOverview {
	o := DeploymentOverview{
		ID: d.ID, Version: d.Version, Status: d.Status, Reason: d.Reason,
		CreatedAt: d.CreatedAt, FinishedAt: d.FinishedAt, CurrentStep: d.CurrentStep,
		Steps: []OverviewStep{},
	}
	if d.Plan == nil {
		return o
	}
	o.TotalSteps, o.Summary = len(d.Plan.Steps), d.Plan.Summary
	changes := make(map[string]*engine.Change, len(d.Plan.Changes))
	for _, c := range d.Plan.Changes {
		changes[c.ID] = c
	}
	for _, st := range d.Plan.Steps {
		step := OverviewStep{Actions: make([]*Rollout, 0, len(st.Actions))}
		for _, a := range st.Actions {
			ro := &Rollout{ID: a.ID, Action: a.Action}
			c := changes[a.ID]
			if c != nil {
				ro.Reason, ro.OnlyViolating = c.Reason, c.OnlyViolating
				if rb := c.Rolling; rb != nil && (c.Action == engine.ActionRestart || c.Action == engine.ActionScale) {
					ro.Bounds = &RolloutBounds{From: rb.From, To: rb.To, MinHealthy: rb.MinHealthy, MaxRunning: rb.MaxRunning}
				}
			}
			if live {
				ro.Live = sn.rollout(a.ID, c)
			}
			step.Actions = append(step.Actions, ro)
		}
		o.Steps = append(o.Steps, step)
	}
	return o
}

// rollout counts where app id stands against change c (nil: unknown change).
func (sn *snapshot) rollout(id string, c *engine.Change) *AppRollout {
	ro := &AppRollout{}
	if c != nil && c.After != nil && c.Action != engine.ActionDestroy {
		ro.Target = c.After.Instances
	}
	st := sn.appStatus(id)
	var tasks []*engine.Task
	cfg := ""
	if st != nil {
		tasks = st.Tasks
		cfg = st.App.Version
		if vi := st.App.VersionInfo; vi != nil && vi.LastConfigChangeAt != "" {
			cfg = vi.LastConfigChangeAt
		}
		ro.Waiting, ro.DelaySeconds = st.Waiting, st.Delay.Seconds()
	} else {
		// Destroyed: whatever is left is old.
		tasks = sn.tasksOfApp(id)
	}
	for _, t := range tasks {
		healthy := sn.view.Healthy[t.ID]
		switch t.State {
		case engine.TaskStaging, engine.TaskStarting:
			ro.Staged++
		case engine.TaskRunning:
			ro.Running++
		}
		if healthy {
			ro.Healthy++
		}
		if st == nil || t.Version < cfg {
			ro.Old++
			continue
		}
		if t.State == engine.TaskKilling {
			continue
		}
		ro.New++
		if healthy {
			ro.NewHealthy++
		}
	}
	ro.Done = ro.Old == 0 && ro.New == ro.Target && ro.NewHealthy >= ro.Target
	return ro
}

// AppVersionsResponse is GET /stride/v1/apps/{id}/history.
type AppVersionsResponse struct {
	ID string `json:"id"`
	// Current is the deployed version ("" when the app is not deployed any more).
	Current string `json:"current,omitempty"`
	// Versions are the recorded versions, newest first (at most
	// engine.MaxAppVersions).
	Versions []VersionSummary `json:"versions"`
}

// VersionSummary is one recorded version and what changed from the version
// before it, classified as `stride plan` would.
type VersionSummary struct {
	Version     string              `json:"version"`
	VersionInfo *engine.VersionInfo `json:"versionInfo,omitempty"`
	Instances   int                 `json:"instances"`
	// Action is the change from the previous recorded version: create (the
	// first), scale, update or restart; "" when the previous one is no longer
	// recorded (older versions were dropped) or nothing differs.
	Action engine.Action `json:"action,omitempty"`
	// Reason names the field that decided the action; Changed counts the fields
	// that differ.
	Reason  string `json:"reason,omitempty"`
	Changed int    `json:"changed"`
}

// AppDiff is GET /stride/v1/apps/{id}/diff: what changes going from one version
// to another, with the planner's field paths and classification (the change a
// rollback from From to To would make).
type AppDiff struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	// Action and Reason are the planner's ("" when nothing differs).
	Action        engine.Action        `json:"action,omitempty"`
	Reason        string               `json:"reason,omitempty"`
	OnlyViolating bool                 `json:"only_violating,omitempty"`
	Fields        []engine.FieldChange `json:"fields"`
}

// strideAppsSub routes /stride/v1/apps/{id}, /stride/v1/apps/{id}/history and
// /stride/v1/apps/{id}/diff.
func (s *Server) strideAppsSub(w http.ResponseWriter, r *http.Request, rest string) {
	id := canonicalPath(rest)
	if id == "/" {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	if s.b.View().App(id) != nil {
		s.strideApp(w, r, id)
		return
	}
	parent, last := engine.ParentID(id), id[strings.LastIndexByte(id, '/')+1:]
	switch {
	case parent != "/" && last == "history":
		s.appHistory(w, r, parent)
	case parent != "/" && last == "diff":
		s.appDiff(w, r, parent)
	default:
		s.strideApp(w, r, id)
	}
}

// history returns the app's recorded versions (newest first) and its deployed
// version, answering the request itself when it cannot. A deployed version the
// store never recorded is added to the list (added is then true).
func (s *Server) history(ctx context.Context, w http.ResponseWriter, id string) (versions []string, current *engine.App, added, ok bool) {
	if s.info.History == nil {
		writeError(w, http.StatusNotFound, msgNoHistory)
		return nil, nil, false, false
	}
	if st := s.b.View().App(id); st != nil {
		current = st.App
	}
	versions, err := s.info.History.AppVersions(ctx, id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(msgHistoryRead, id, err))
		return nil, nil, false, false
	}
	if len(versions) == 0 && current == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
		return nil, nil, false, false
	}
	if current != nil && !slices.Contains(versions, current.Version) {
		// Deployed before its versions were recorded (an older release's
		// store): the deployed one is still a version to compare with.
		versions = append([]string{current.Version}, versions...)
		engine.SortVersionsNewestFirst(versions)
		added = true
	}
	return versions, current, added, true
}

// appVersionAt returns app id at version: the deployed app when it is that
// version, else the recorded one.
func (s *Server) appVersionAt(ctx context.Context, id, version string, current *engine.App) (*engine.App, error) {
	if current != nil && current.Version == version {
		return current, nil
	}
	return s.info.History.AppVersion(ctx, id, version)
}

// appHistory is GET /stride/v1/apps/{id}/history.
func (s *Server) appHistory(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	versions, current, added, ok := s.history(ctx, w, id)
	if !ok {
		return
	}
	resp := AppVersionsResponse{ID: id, Versions: make([]VersionSummary, 0, len(versions))}
	if current != nil {
		resp.Current = current.Version
	}
	apps := make([]*engine.App, len(versions))
	for i, v := range versions {
		a, err := s.appVersionAt(ctx, id, v, current)
		if err != nil {
			s.writeHistoryError(w, id, v, err)
			return
		}
		apps[i] = a
	}
	for i, a := range apps {
		sum := VersionSummary{Version: versions[i], VersionInfo: a.VersionInfo, Instances: a.Instances}
		switch {
		case i+1 < len(apps):
			fields, action, reason, _ := planner.Diff(apps[i+1], a)
			sum.Action, sum.Reason, sum.Changed = action, reason, len(fields)
		case len(apps) < engine.MaxAppVersions && !(added && len(apps) == 1):
			// The first recorded version created the app (unless older ones
			// were dropped, or none was recorded at all).
			sum.Action = engine.ActionCreate
		}
		resp.Versions = append(resp.Versions, sum)
	}
	writeJSON(w, http.StatusOK, resp)
}

// appDiff is GET /stride/v1/apps/{id}/diff?from=V1&to=V2. to defaults to the
// deployed version (or the newest recorded one), from to the version recorded
// before to.
func (s *Server) appDiff(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	from, to := q.Get("from"), q.Get("to")
	var bad []engine.FieldError
	for name, v := range map[string]string{"from": from, "to": to} {
		if len(v) > maxVersionLen {
			bad = append(bad, engine.FieldError{Path: name, Errors: []string{fmt.Sprintf("is longer than %d bytes: not a version", maxVersionLen)}})
		}
	}
	if len(bad) > 0 {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "Invalid version", Details: bad})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	versions, current, _, ok := s.history(ctx, w, id)
	if !ok {
		return
	}
	if to == "" {
		switch {
		case current != nil:
			to = current.Version
		case len(versions) > 0:
			to = versions[0]
		}
	}
	if from == "" {
		from = to
		for i, v := range versions {
			if v == to && i+1 < len(versions) {
				from = versions[i+1]
				break
			}
		}
	}
	before, err := s.appVersionAt(ctx, id, from, current)
	if err != nil {
		s.writeHistoryError(w, id, from, err)
		return
	}
	after, err := s.appVersionAt(ctx, id, to, current)
	if err != nil {
		s.writeHistoryError(w, id, to, err)
		return
	}
	resp := AppDiff{ID: id, From: from, To: to, Fields: []engine.FieldChange{}}
	if fields, action, reason, only := planner.Diff(before, after); len(fields) > 0 {
		resp.Fields, resp.Action, resp.Reason, resp.OnlyViolating = fields, action, reason, only
	}
	// A rendering for people: sensitive values are shown as such.
	for i, f := range resp.Fields {
		if before.IsSensitive(f.Path) || after.IsSensitive(f.Path) {
			resp.Fields[i].Before, resp.Fields[i].After = engine.SensitiveValue, engine.SensitiveValue
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// writeHistoryError answers a failed version read: 404 for a version that is not
// recorded, 503 when the store could not be read.
func (s *Server) writeHistoryError(w http.ResponseWriter, id, version string, err error) {
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgVersionMissing, id, version))
		return
	}
	writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(msgHistoryRead, id, err))
}

// uiPath is where the web UI is served.
const uiPath = "/ui"

// serveUI serves the web UI (Info.UI) at /ui/: after the browser-safety guard,
// like every API call, and behind whatever wraps the API.
func (s *Server) serveUI(w http.ResponseWriter, r *http.Request) {
	if s.info.UI == nil {
		writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path+" (this server has no web UI)")
		return
	}
	s.info.UI.ServeHTTP(w, r)
}

// root is GET /: a browser (it asks for text/html) is sent to the UI; other
// clients get the 404 they always got.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	if s.info.UI != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && acceptsHTML(r.Header.Get("Accept")) {
		http.Redirect(w, r, uiPath+"/", http.StatusFound)
		return
	}
	writeError(w, http.StatusNotFound, "Not found: "+r.URL.Path)
}

// acceptsHTML reports whether an Accept header asks for text/html (browsers'
// navigations do; API clients ask for JSON or anything).
func acceptsHTML(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), "text/html") {
			return true
		}
	}
	return false
}
