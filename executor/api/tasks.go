package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// taskStatusFilter maps ?status= values to task states. Marathon knows running and
// staging; Stride also takes the other live states, by their short or full name.
// Unknown values are ignored (so a filter of unknown values lists every task), as
// in Marathon.
func taskStatusFilter(vals []string) map[string]bool {
	want := map[string]bool{}
	for _, v := range vals {
		for _, one := range strings.Split(v, ",") {
			s := strings.ToUpper(strings.TrimSpace(one))
			if !strings.HasPrefix(s, "TASK_") {
				s = "TASK_" + s
			}
			switch s {
			case engine.TaskStaging, engine.TaskStarting, engine.TaskRunning, engine.TaskKilling, engine.TaskUnreachable, engine.TaskUnknown:
				want[s] = true
			}
		}
	}
	return want
}

// tasksList is GET /v2/tasks: {"tasks": [...]} (optionally filtered by status), or
// Marathon's text/plain endpoint list (running tasks only, every app).
func (s *Server) tasksList(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	sn := s.snap()
	if wantsText(r.Header.Get("Accept")) {
		writeText(w, sn.text())
		return
	}
	q := r.URL.Query()
	want := taskStatusFilter(append(q["status"], q["status[]"]...))
	sn.encodeTasks()
	if len(want) == 0 {
		writeRaw(w, http.StatusOK, sn.tasksJSON)
		return
	}
	b := make([]byte, 0, len(sn.tasksJSON)/2+16)
	b = append(b, `{"tasks":[`...)
	n := 0
	for i, t := range sn.view.Tasks {
		if !want[t.State] {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		sp := sn.spans[i]
		b = append(b, sn.tasksJSON[sp.start:sp.end]...)
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

// killRequest is the body of POST /v2/tasks/delete.
type killRequest struct {
	IDs []string `json:"ids"`
}

// tasksDelete is POST /v2/tasks/delete {"ids": [...]}: kill the tasks. Unknown
// ids are a 400 and nothing is killed.
func (s *Server) tasksDelete(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var req killRequest
	if !decodeBody(w, r, &req, maxSmallBody) {
		return
	}
	sn := s.snap()
	for _, id := range req.IDs {
		if !sn.hasTask(id) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf(msgInvalidTask, id))
			return
		}
	}
	s.kill(w, r, req.IDs, false)
}

// hasTask reports whether the view holds a task with that id.
func (sn *snapshot) hasTask(id string) bool {
	for _, t := range sn.tasksOfApp(engine.AppIDFromTaskID(id)) {
		if t.ID == id {
			return true
		}
	}
	for _, t := range sn.view.Tasks {
		if t.ID == id {
			return true
		}
	}
	return false
}

// kill kills ids and answers {"tasks": [...]} ({"task": ...} when one is
// true): the tasks are replaced. With ?scale=true the apps' instances go down
// by the tasks killed, through a deployment, and the answer is its
// DeploymentResult. wipe=true is accepted: Stride keeps no reservation or
// local volume for a task, so a wiped task is simply killed (and, without
// scale, replaced anywhere).
func (s *Server) kill(w http.ResponseWriter, r *http.Request, ids []string, one bool) {
	if queryBool(r, "scale") {
		s.killAndScale(w, r, func(*executor.Desired) ([]string, error) { return ids, nil })
		return
	}
	var killed []engine.Task
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
		defer cancel()
		var err error
		killed, err = s.b.KillTasks(ctx, ids)
		if err != nil {
			s.writeBackendError(w, err)
			return
		}
	}
	sn := s.snap()
	var b []byte
	if one {
		b = append(b, `{"task":`...)
		if len(killed) > 0 {
			b = sn.appendLooseTask(b, &killed[0])
		} else {
			b = append(b, "null"...)
		}
		writeRaw(w, http.StatusOK, append(b, "}\n"...))
		return
	}
	b = append(b, `{"tasks":[`...)
	for i := range killed {
		if i > 0 {
			b = append(b, ',')
		}
		b = sn.appendLooseTask(b, &killed[i])
	}
	writeRaw(w, http.StatusOK, append(b, "]}\n"...))
}

// killAndScale kills the tasks pick chooses (on the actor, so that the choice
// and the scale-down see the same tasks) and lowers each app's instances by as
// many, in one deployment.
func (s *Server) killAndScale(w http.ResponseWriter, r *http.Request, pick func(d *executor.Desired) ([]string, error)) {
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		ids, err := pick(d)
		if err != nil {
			return err
		}
		perApp := map[string]int{}
		for _, id := range ids {
			t, ok := d.Task(id)
			if !ok {
				return &apiError{code: http.StatusBadRequest, body: errorBody{Message: fmt.Sprintf(msgInvalidTask, id)}}
			}
			perApp[t.AppID]++
		}
		for appID, n := range perApp {
			cur := d.App(appID)
			if cur == nil {
				continue // a task of a destroyed app: it is being killed anyway
			}
			a := cur.Clone()
			a.Instances = max(0, a.Instances-n)
			d.PutApp(a)
		}
		d.KillTasks(ids...)
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, "")
}

// appendLooseTask encodes a task that is not part of the view.
func (sn *snapshot) appendLooseTask(b []byte, t *engine.Task) []byte {
	var sps []int
	if st := sn.appStatus(t.AppID); st != nil {
		sps = servicePorts(st.App)
	}
	return appendTask(b, t, sps)
}

// writeBackendError answers an error of a write handed to the backend: the
// executor's typed errors get Marathon's client-error codes; a write that could
// not reach the executor in time is a 503 (Marathon clients retry elsewhere);
// anything else is the server's fault.
func (s *Server) writeBackendError(w http.ResponseWriter, err error) {
	var (
		ae     *apiError
		locked *executor.LockedError
		perr   *executor.PlanError
		spe    engine.ServicePortErrors
		fe     engine.FieldErrors
	)
	switch {
	case errors.As(err, &ae):
		writeJSON(w, ae.code, ae.body)
	case errors.As(err, &locked):
		deps := make([]deploymentRef, len(locked.Deployments))
		for i, id := range locked.Deployments {
			deps[i] = deploymentRef{ID: id}
		}
		first := ""
		if len(deps) > 0 {
			first = deps[0].ID
		}
		writeJSON(w, http.StatusConflict, errorBody{Message: fmt.Sprintf(msgLocked, first), Deployments: deps})
	case errors.Is(err, executor.ErrStale):
		writeError(w, http.StatusConflict, err.Error())
	case errors.As(err, &perr):
		writeError(w, http.StatusUnprocessableEntity, perr.Message)
	case errors.As(err, &spe):
		// A port another app holds, or none left: the write conflicts with
		// the state (409); a port listed twice is invalid (422).
		code, msg := http.StatusUnprocessableEntity, msgInvalidObject
		if spe.Conflict() {
			code, msg = http.StatusConflict, spe[0].Error()
		}
		writeJSON(w, code, errorBody{Message: msg, Details: spe.FieldErrors()})
	case errors.As(err, &fe):
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: msgInvalidObject, Details: fe})
	case errors.Is(err, executor.ErrNoTask):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, executor.ErrNoDeployment):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, executor.ErrCannotRevert):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(msgBusy, err))
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// Body limits per endpoint: a spec (plan, apply) of 10k apps is a few MB; every
// other body is small.
const (
	maxSpecBody  = 64 << 20
	maxSmallBody = 1 << 20
)

// decodeBody decodes a JSON request body of at most limit bytes into v, answering
// 413 when it is larger and 400 "Invalid JSON" (with the path of the offending
// field when known) when it does not decode.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(raw, v); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{jsonErrorDetail(raw, err)}})
		return false
	}
	return true
}

// jsonErrorDetail locates an encoding/json error: the JSON pointer of a field of
// the wrong type, or "/" with line and column for malformed JSON.
func jsonErrorDetail(raw []byte, err error) engine.FieldError {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case len(strings.TrimSpace(string(raw))) == 0:
		return engine.FieldError{Path: "/", Errors: []string{"empty request body"}}
	case errors.As(err, &syn):
		line, col := lineCol(raw, int(syn.Offset))
		return engine.FieldError{Path: "/", Errors: []string{fmt.Sprintf("line %d, column %d: %s", line, col, syn.Error())}}
	case errors.As(err, &typ):
		path := "/" + strings.ReplaceAll(typ.Field, ".", "/")
		msg := expectedFor(typ.Type.Kind().String())
		return engine.FieldError{Path: path, Errors: []string{msg}}
	default:
		return engine.FieldError{Path: "/", Errors: []string{err.Error()}}
	}
}

// expectedFor names a Go kind the way Marathon's (Play JSON) errors do.
func expectedFor(kind string) string {
	switch kind {
	case "string":
		return engine.ErrExpectedString
	case "bool":
		return engine.ErrExpectedBoolean
	case "slice", "array":
		return engine.ErrExpectedArray
	case "struct", "map", "ptr":
		return engine.ErrExpectedObject
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return engine.ErrExpectedInt
	case "float32", "float64":
		return engine.ErrExpectedNumber
	}
	return "invalid value"
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(raw []byte, off int) (int, int) {
	if off > len(raw) {
		off = len(raw)
	}
	line, col := 1, 1
	for _, c := range raw[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
