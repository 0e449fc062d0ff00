package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// embedSet says which optional parts of Marathon's AppInfo a response carries.
type embedSet struct {
	counts, deployments, tasks, lastTaskFailure, readiness, taskStats bool
}

// appsEmbed is what GET /v2/apps always embeds (counts and deployments), and
// singleAppEmbed what GET /v2/apps/{id} and /v2/apps/{group}/* always embed
// (Marathon keeps these for compatibility whatever ?embed= says).
var (
	appsEmbed      = embedSet{counts: true, deployments: true}
	singleAppEmbed = embedSet{counts: true, deployments: true, tasks: true, lastTaskFailure: true}
)

// parseEmbed reads ?embed= values: apps.tasks, app.tasks, tasks, apps.counts,
// apps.deployments, apps.lastTaskFailure, apps.failures (tasks and
// lastTaskFailure), apps.readiness, apps.taskStats. Unknown values are ignored, as
// Marathon does.
func parseEmbed(vals []string, base embedSet) embedSet {
	e := base
	for _, v := range vals {
		for _, one := range strings.Split(v, ",") {
			one = strings.TrimSpace(one)
			if i := strings.LastIndexByte(one, '.'); i >= 0 {
				one = one[i+1:]
			}
			switch one {
			case "counts", "count":
				e.counts = true
			case "deployments":
				e.deployments = true
			case "tasks":
				e.tasks = true
			case "lastTaskFailure":
				e.lastTaskFailure = true
			case "failures":
				e.tasks, e.lastTaskFailure = true, true
			case "readiness":
				e.readiness = true
			case "taskStats":
				e.taskStats = true
			}
		}
	}
	return e
}

// appendAppInfo appends Marathon's AppInfo of view.Apps[i]: the app's own JSON,
// then tasksStaged/Running/Healthy/Unhealthy, deployments, and the embedded parts.
// tasksHealthy and tasksUnhealthy only count tasks with health information, as
// Marathon's do: both are 0 for an app without health checks. (Why instances
// wait is Stride's: GET /stride/v1/apps.)
func (sn *snapshot) appendAppInfo(b []byte, i int, e embedSet) []byte {
	st := sn.view.Apps[i]
	raw := sn.appJSON[i]
	b = append(b, raw[:len(raw)-1]...) // the app's object without its closing brace
	healthy, unhealthy := st.TasksHealthy, st.TasksUnhealthy
	if len(st.App.HealthChecks) == 0 {
		healthy, unhealthy = 0, 0
	}
	if e.counts {
		b = append(b, `,"tasksStaged":`...)
		b = strconv.AppendInt(b, int64(st.TasksStaged), 10)
		b = append(b, `,"tasksRunning":`...)
		b = strconv.AppendInt(b, int64(st.TasksRunning), 10)
		b = append(b, `,"tasksHealthy":`...)
		b = strconv.AppendInt(b, int64(healthy), 10)
		b = append(b, `,"tasksUnhealthy":`...)
		b = strconv.AppendInt(b, int64(unhealthy), 10)
	}
	if e.deployments {
		b = append(b, `,"deployments":[`...)
		for j, id := range st.Deployments {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = engine.AppendJSONString(b, id)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if e.tasks {
		b = append(b, `,"tasks":`...)
		b = sn.appendTaskList(b, sn.appTasks[i])
	}
	if e.lastTaskFailure && st.LastTaskFailure != nil {
		if f, err := marshal(st.LastTaskFailure); err == nil {
			b = append(b, `,"lastTaskFailure":`...)
			b = append(b, f...)
		}
	}
	if e.readiness {
		b = append(b, `,"readinessCheckResults":`...)
		rs := sn.view.Readiness[st.App.ID]
		if raw, err := marshal(rs); err == nil && len(rs) > 0 {
			b = append(b, raw...)
		} else {
			b = append(b, `[]`...)
		}
	}
	if e.taskStats {
		b = append(b, `,"taskStats":{`...)
		if len(st.Tasks) > 0 {
			b = append(b, `"totalSummary":{"stats":{"counts":{"staged":`...)
			b = strconv.AppendInt(b, int64(st.TasksStaged), 10)
			b = append(b, `,"running":`...)
			b = strconv.AppendInt(b, int64(st.TasksRunning), 10)
			b = append(b, `,"healthy":`...)
			b = strconv.AppendInt(b, int64(healthy), 10)
			b = append(b, `,"unhealthy":`...)
			b = strconv.AppendInt(b, int64(unhealthy), 10)
			b = append(b, `}}}`...)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appFilter is the ?id=, ?cmd= and ?label= selection of GET /v2/apps.
type appFilter struct {
	id, cmd       string
	hasID, hasCmd bool
	labels        labelSelector
}

// matches applies Marathon's rules: id and cmd are case-insensitive substrings
// (an app without cmd never matches a cmd filter), labels a selector.
func (f *appFilter) matches(a *engine.App) bool {
	if f.hasID && !strings.Contains(strings.ToLower(a.ID), f.id) {
		return false
	}
	if f.hasCmd && (a.Cmd == "" || !strings.Contains(strings.ToLower(a.Cmd), f.cmd)) {
		return false
	}
	return f.labels.Matches(a.Labels)
}

func (s *Server) appsList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := appFilter{id: strings.ToLower(q.Get("id")), cmd: strings.ToLower(q.Get("cmd")), hasID: q.Has("id"), hasCmd: q.Has("cmd")}
	sel, err := parseLabelSelector(q.Get("label"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{
			Message: "Invalid label selector",
			Details: []engine.FieldError{{Path: "label", Errors: []string{err.Error()}}},
		})
		return
	}
	f.labels = sel
	sn := s.snap()
	sn.encodeApps()
	if sn.appErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.appErr.Error())
		return
	}
	e := parseEmbed(q["embed"], appsEmbed)
	b := make([]byte, 0, sn.appsCap(e.tasks))
	b = append(b, `{"apps":[`...)
	n := 0
	for i, st := range sn.view.Apps {
		if !f.matches(st.App) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = sn.appendAppInfo(b, i, e)
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

// appsSub routes everything under /v2/apps/: {id}, {group}/*, {id}/tasks,
// {id}/tasks/{taskId}, {id}/versions, {id}/versions/{version}, {id}/restart. An
// id that names an existing app is that app even when it ends like a
// sub-resource.
func (s *Server) appsSub(w http.ResponseWriter, r *http.Request, rest string) {
	id := canonicalPath(rest)
	if id == "/" {
		s.apps(w, r)
		return
	}
	sn := s.snap()
	if sn.appIndex(id) >= 0 {
		s.appMethods(w, r, sn, id)
		return
	}
	parent, last := engine.ParentID(id), id[strings.LastIndexByte(id, '/')+1:]
	grand, mid := engine.ParentID(parent), parent[strings.LastIndexByte(parent, '/')+1:]
	switch {
	case last == "*":
		s.groupApps(w, r, sn, parent)
	case last == "tasks" && parent != "/":
		s.appTasks(w, r, sn, parent)
	case mid == "tasks" && grand != "/":
		s.appTask(w, r, sn, grand, last)
	case last == "versions" && parent != "/":
		s.appVersionsList(w, r, sn, parent)
	case mid == "versions" && grand != "/":
		s.appVersionGet(w, r, sn, grand, last)
	case last == "restart" && parent != "/":
		s.appRestart(w, r, parent)
	default:
		s.appMethods(w, r, sn, id)
	}
}

// appMethods serves /v2/apps/{id}: GET, PUT and PATCH (update or create),
// DELETE.
func (s *Server) appMethods(w http.ResponseWriter, r *http.Request, sn *snapshot, id string) {
	if !allow(w, r, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPatch:
		s.appPut(w, r, id)
	case http.MethodDelete:
		s.appDelete(w, r, id)
	default:
		s.appGet(w, r, sn, id)
	}
}

// lookupApp returns the app's index, or answers 404.
func lookupApp(w http.ResponseWriter, sn *snapshot, id string) (int, bool) {
	i := sn.appIndex(id)
	if i < 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
		return -1, false
	}
	sn.encodeApps()
	if sn.appErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.appErr.Error())
		return -1, false
	}
	return i, true
}

func (s *Server) appGet(w http.ResponseWriter, r *http.Request, sn *snapshot, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	i, ok := lookupApp(w, sn, id)
	if !ok {
		return
	}
	b := append(make([]byte, 0, 2048), `{"app":`...)
	b = sn.appendAppInfo(b, i, parseEmbed(r.URL.Query()["embed"], singleAppEmbed))
	writeRaw(w, http.StatusOK, append(b, "}\n"...))
}

// groupApps is GET /v2/apps/{group}/*: every app at or under the group.
func (s *Server) groupApps(w http.ResponseWriter, r *http.Request, sn *snapshot, group string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	sn.encodeApps()
	if sn.appErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.appErr.Error())
		return
	}
	e := parseEmbed(r.URL.Query()["embed"], singleAppEmbed)
	b := append(make([]byte, 0, sn.appsCap(e.tasks)), `{"*":[`...)
	n := 0
	for i, st := range sn.view.Apps {
		if !engine.InScope(st.App.ID, group) || st.App.ID == group {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = sn.appendAppInfo(b, i, e)
	}
	if n == 0 && group != "/" {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgGroupNotFound, group))
		return
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

// appTasks is GET (JSON or text/plain) and DELETE /v2/apps/{id}/tasks.
func (s *Server) appTasks(w http.ResponseWriter, r *http.Request, sn *snapshot, id string) {
	if !allow(w, r, http.MethodGet, http.MethodDelete) {
		return
	}
	i, ok := lookupApp(w, sn, id)
	if !ok {
		return
	}
	tasks := sn.appTasks[i]
	if r.Method == http.MethodDelete {
		host := r.URL.Query().Get("host")
		if queryBool(r, "scale") {
			s.killAndScale(w, r, func(d *executor.Desired) ([]string, error) {
				var ids []string
				for _, t := range d.Tasks(id) {
					if host == "" || t.Host == host {
						ids = append(ids, t.ID)
					}
				}
				return ids, nil
			})
			return
		}
		var ids []string
		for _, t := range tasks {
			if host == "" || t.Host == host {
				ids = append(ids, t.ID)
			}
		}
		s.kill(w, r, ids, false)
		return
	}
	if wantsText(r.Header.Get("Accept")) {
		b := appendEndpoints(nil, sn.view.Apps[i].App, tasks, nil)
		writeText(w, b)
		return
	}
	b := append(make([]byte, 0, 1024), `{"tasks":`...)
	b = sn.appendTaskList(b, tasks)
	writeRaw(w, http.StatusOK, append(b, "}\n"...))
}

// appTask is DELETE /v2/apps/{id}/tasks/{taskId}.
func (s *Server) appTask(w http.ResponseWriter, r *http.Request, sn *snapshot, id, taskID string) {
	if !allow(w, r, http.MethodDelete) {
		return
	}
	i, ok := lookupApp(w, sn, id)
	if !ok {
		return
	}
	for _, t := range sn.appTasks[i] {
		if t.ID == taskID {
			s.kill(w, r, []string{taskID}, true)
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf(msgTaskNotFound, taskID))
}

func writeText(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// appStatus returns the status of an app of the snapshot's view, or nil.
func (sn *snapshot) appStatus(id string) *executor.AppStatus {
	if i := sn.appIndex(id); i >= 0 {
		return sn.view.Apps[i]
	}
	return nil
}
