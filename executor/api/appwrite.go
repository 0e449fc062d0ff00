package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Marathon's app writes. Each is an Edit of the deployed state that the
// executor plans and deploys as `stride apply` does (classification, rolling
// bounds, dependency order, one deployment per app: 409 with the locking
// deployments unless ?force=true). The Edit runs on the executor's actor, so a
// read-modify-write — a partial update, a scale, a kill that scales down — sees
// the app as it is and no other write in between. A write that changes nothing
// answers a deployment id no deployment has (Marathon's clients wait until the
// id is gone from /v2/deployments, which it is).

// Body limits: one app's JSON (a cmd and each arg may be 1 MiB), and lists of
// apps or groups.
const (
	maxAppBody  = 4 << 20
	maxListBody = maxSpecBody
)

// deploymentResult is Marathon's DeploymentResult.
type deploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// write hands an edit to the backend, bounded by the write timeout, and
// publishes Marathon's api_post_event for every app the write defined anew.
func (s *Server) write(r *http.Request, restart []string, edit func(d *executor.Desired) error) (*executor.WriteResult, error) {
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	res, err := s.b.Write(ctx, executor.ApplyRequest{Force: queryBool(r, "force"), Restart: restart, Edit: edit})
	if err == nil && res != nil && res.Plan != nil {
		for _, c := range res.Plan.Changes {
			if c.Action != engine.ActionDestroy {
				s.postEvent(r, c.After)
			}
		}
	}
	return res, err
}

// result answers a deployable write: Marathon-Deployment-Id and the
// DeploymentResult. A write that deployed nothing gets an id no deployment has
// and the version of the change (or, when nothing changed, fallback).
func (s *Server) result(w http.ResponseWriter, code int, res *executor.WriteResult, fallback string) {
	out := deploymentResult{Version: fallback}
	if res != nil && res.Version != "" {
		out.Version = res.Version
	}
	if res != nil && res.Deployment != nil {
		out.DeploymentID = res.Deployment.ID
	} else {
		out.DeploymentID = executor.NewUUID()
	}
	w.Header().Set("Marathon-Deployment-Id", out.DeploymentID)
	writeJSON(w, code, out)
}

// appID canonicalises an app id from a body or a URL and checks it.
func appID(raw, path string) (string, error) {
	if raw == "" {
		return "", invalidAt(path, engine.ErrPathMissing)
	}
	id := engine.CanonicalID(raw)
	if err := engine.CheckID(id, false); err != nil {
		return "", invalidAt(path, "%v", err)
	}
	return id, nil
}

// finishApp gives a decoded app its id, its groups' dependencies and its
// defaults, and validates it; errors are 422 with paths under prefix.
func (s *Server) finishApp(d *executor.Desired, a *engine.App, id, prefix string) error {
	a.ID = id
	a.ApplyDefaults()
	foldGroupDependencies(d, a)
	if fe := a.ValidateWithin(s.info.Limits); len(fe) > 0 {
		return invalid(prefixPaths(prefix, fe)...)
	}
	return nil
}

// foldGroupDependencies adds the dependencies of every group holding the app
// to its own: the state holds an app's effective dependencies, as the HCL
// decoder writes them, so that the files and the API describe one model.
func foldGroupDependencies(d *executor.Desired, a *engine.App) {
	n := len(a.Dependencies)
	for p := engine.ParentID(a.ID); ; p = engine.ParentID(p) {
		if g := d.Group(p); g != nil {
			a.Dependencies = append(a.Dependencies, g.Dependencies...)
		}
		if p == "/" {
			break
		}
	}
	if len(a.Dependencies) != n {
		a.ApplyDefaults() // sorted and unique again
	}
}

// withStrideFields adds to an app body (a JSON object) the members of cur's
// full encoding that Marathon's app JSON does not have and the body does not
// give: a Marathon client that replaces an app does not know them, and must
// not drop them (a Stride client that wants them gone uses `stride apply`).
func withStrideFields(body map[string]json.RawMessage, cur *engine.App) (map[string]json.RawMessage, error) {
	full, err := cur.MarshalJSON()
	if err != nil {
		return nil, err
	}
	have, err := members(full)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(body)+2)
	for k, v := range body {
		out[k] = v
	}
	for k, v := range have {
		if _, given := body[k]; !given && !engine.IsMarathonAppField(k) {
			out[k] = v
		}
	}
	return out, nil
}

// mergeApp is Marathon's partial update: the body's members replace the app's,
// members it does not give (or gives as null) keep their values. A member that
// supersedes another replaces both (ports and portDefinitions, uris and fetch,
// cmd and args).
func mergeApp(cur *engine.App, body map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	full, err := cur.MarshalJSON()
	if err != nil {
		return nil, err
	}
	base, err := members(full)
	if err != nil {
		return nil, err
	}
	delete(base, "version")
	delete(base, "versionInfo")
	given := func(k string) bool { v, ok := body[k]; return ok && string(v) != "null" }
	for _, pair := range [][2]string{{"ports", "portDefinitions"}, {"uris", "fetch"}, {"args", "cmd"}, {"cmd", "args"}, {"portDefinitions", "ports"}} {
		if given(pair[0]) && !given(pair[1]) {
			delete(base, pair[1])
		}
	}
	for k, v := range body {
		if string(v) != "null" {
			base[k] = v
		}
	}
	return base, nil
}

// decodeMembers decodes an app from its members (engine's strict decoder).
func decodeMembers(obj map[string]json.RawMessage, opts engine.DecodeOptions, prefix string) (*engine.App, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	a, err := engine.UnmarshalApp(raw, opts)
	if err != nil {
		return nil, decodeError(raw, err, prefix)
	}
	return a, nil
}

// readApp reads one app body: strictly decoded on its own (so that errors name
// the body's paths), and split into its members.
func (s *Server) readApp(w http.ResponseWriter, r *http.Request) (*engine.App, map[string]json.RawMessage, bool) {
	raw, ok := readBody(w, r, maxAppBody)
	if !ok {
		return nil, nil, false
	}
	a, err := engine.UnmarshalApp(raw, s.decodeOptions(r))
	if err != nil {
		s.writeBackendError(w, decodeError(raw, err, ""))
		return nil, nil, false
	}
	obj, err := members(raw)
	if err != nil {
		s.writeBackendError(w, decodeError(raw, err, ""))
		return nil, nil, false
	}
	return a, obj, true
}

// apps serves /v2/apps: GET (list), POST (create), PUT and PATCH (a list of
// apps).
func (s *Server) apps(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.appCreate(w, r)
	case http.MethodPut, http.MethodPatch:
		s.appsBulk(w, r)
	default:
		s.appsList(w, r)
	}
}

// appCreate is POST /v2/apps: 201 with the app (AppInfo, its deployment named),
// Location and Marathon-Deployment-Id; 409 if the id exists.
func (s *Server) appCreate(w http.ResponseWriter, r *http.Request) {
	a, _, ok := s.readApp(w, r)
	if !ok {
		return
	}
	id, err := appID(a.ID, "/id")
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		if d.App(id) != nil {
			return conflict(msgAppExists, id)
		}
		if d.Group(id) != nil {
			return conflict("A group with id [%s] already exists.", id)
		}
		if err := s.finishApp(d, a, id, ""); err != nil {
			return err
		}
		d.PutApp(a)
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	created := a
	for _, c := range res.Plan.Changes {
		if c.ID == id && c.After != nil {
			created = c.After
		}
	}
	body, err := marathonApp(s.b.View(), created)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
		return
	}
	depID := executor.NewUUID()
	if res.Deployment != nil {
		depID = res.Deployment.ID
	}
	b := append(body[:len(body)-1:len(body)-1], `,"tasksStaged":0,"tasksRunning":0,"tasksHealthy":0,"tasksUnhealthy":0,"deployments":[{"id":`...)
	b = engine.AppendJSONString(b, depID)
	b = append(b, "}]}\n"...)
	w.Header().Set("Location", pathApps+id)
	w.Header().Set("Marathon-Deployment-Id", depID)
	writeRaw(w, http.StatusCreated, b)
}

// appChange is one app of a PUT: its id, its body (decoded strictly and as
// members) and the path prefix of its errors.
type appChange struct {
	id     string
	app    *engine.App
	obj    map[string]json.RawMessage
	prefix string
}

// editApp applies one PUT or PATCH of an app to d and reports whether it
// created the app. Bodies: {"version": v} rolls back to a recorded version
// (rollback holds it, read beforehand); otherwise, with partial (PATCH, and
// PUT unless partialUpdate=false) the body's members replace the app's, else
// the body replaces the app — keeping the members only Stride has.
func (s *Server) editApp(d *executor.Desired, c appChange, partial bool, rollback *engine.App, opts engine.DecodeOptions) (bool, error) {
	cur := d.App(c.id)
	if rollback != nil {
		a := rollback.Clone()
		a.ApplyDefaults()
		d.PutApp(a)
		return cur == nil, nil
	}
	obj := maps(c.obj)
	delete(obj, "id")
	var (
		a   *engine.App
		err error
	)
	switch {
	case cur == nil:
		a = c.app
	case partial || only(c.obj, "instances", "id"):
		merged, err := mergeApp(cur, obj)
		if err != nil {
			return false, err
		}
		a, err = decodeMembers(merged, opts, c.prefix)
		if err != nil {
			return false, err
		}
	default:
		kept, err := withStrideFields(obj, cur)
		if err != nil {
			return false, err
		}
		a, err = decodeMembers(kept, opts, c.prefix)
		if err != nil {
			return false, err
		}
	}
	if d.Group(c.id) != nil && cur == nil {
		return false, conflict("A group with id [%s] already exists.", c.id)
	}
	if err = s.finishApp(d, a, c.id, c.prefix); err != nil {
		return false, err
	}
	d.PutApp(a)
	return cur == nil, nil
}

// maps copies a member map.
func maps(m map[string]json.RawMessage) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// rollbackVersion reads the version a {"version": v} body names, or nil when
// the body is something else. The app's history outlives the app: a deleted
// app can be brought back.
func (s *Server) rollbackVersion(r *http.Request, id string, obj map[string]json.RawMessage) (*engine.App, error) {
	if !only(obj, "version", "id") {
		return nil, nil
	}
	var v string
	if json.Unmarshal(obj["version"], &v) != nil || v == "" {
		return nil, invalidAt("/version", "a version to roll back to is required")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	a, err := s.b.AppVersion(ctx, id, v)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, notFound(msgAppVersionGone, id, v)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// appPut is PUT and PATCH /v2/apps/{id}: with partialUpdate (the default, and
// PATCH) the body's fields replace the deployed app's; {"version": v} alone
// rolls back to that version; {"instances": n} alone scales. It creates the
// app when it does not exist (201 with Location).
func (s *Server) appPut(w http.ResponseWriter, r *http.Request, id string) {
	if err := engine.CheckID(id, false); err != nil {
		s.writeBackendError(w, invalidAt("/id", "%v", err))
		return
	}
	a, obj, ok := s.readApp(w, r)
	if !ok {
		return
	}
	rollback, err := s.rollbackVersion(r, id, obj)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	partial := r.Method == http.MethodPatch || r.URL.Query().Get("partialUpdate") != "false"
	opts := s.decodeOptions(r)
	created, fallback := false, ""
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		if cur := d.App(id); cur != nil {
			fallback = cur.Version
		}
		var err error
		created, err = s.editApp(d, appChange{id: id, app: a, obj: obj}, partial, rollback, opts)
		return err
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		w.Header().Set("Location", pathApps+id)
	}
	s.result(w, code, res, fallback)
}

// appsBulk is PUT and PATCH /v2/apps: a list of apps, each updated as by PUT
// /v2/apps/{id} (partialUpdate=true by default; missing apps are created), all
// in one deployment or none: any error changes nothing.
func (s *Server) appsBulk(w http.ResponseWriter, r *http.Request) {
	raw, ok := readBody(w, r, maxListBody)
	if !ok {
		return
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		s.writeBackendError(w, &apiError{code: http.StatusBadRequest, body: errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{{Path: "/", Errors: []string{engine.ErrExpectedArray}}}}})
		return
	}
	if len(elems) > s.info.Limits.MaxApps {
		s.writeBackendError(w, invalidAt("/", "%d apps, at most %d", len(elems), s.info.Limits.MaxApps))
		return
	}
	opts := s.decodeOptions(r)
	changes := make([]appChange, len(elems))
	seen := map[string]int{}
	for i, el := range elems {
		prefix := "/" + strconv.Itoa(i)
		a, err := engine.UnmarshalApp(el, opts)
		if err != nil {
			s.writeBackendError(w, decodeError(el, err, prefix))
			return
		}
		obj, _ := members(el)
		id, err := appID(a.ID, prefix+"/id")
		if err != nil {
			s.writeBackendError(w, err)
			return
		}
		if j, dup := seen[id]; dup {
			s.writeBackendError(w, invalidAt(prefix+"/id", "duplicate app id %s (also /%d)", id, j))
			return
		}
		seen[id] = i
		changes[i] = appChange{id: id, app: a, obj: obj, prefix: prefix}
	}
	partial := r.Method == http.MethodPatch || r.URL.Query().Get("partialUpdate") != "false"
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		for _, c := range changes {
			if _, err := s.editApp(d, c, partial, nil, opts); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, "")
}

// appDelete is DELETE /v2/apps/{id}: the app is destroyed (its tasks killed).
func (s *Server) appDelete(w http.ResponseWriter, r *http.Request, id string) {
	s.appAction(w, r, id, (*executor.Desired).DeleteApp)
}

// appRestart is POST /v2/apps/{id}/restart: every task replaced, rolling.
func (s *Server) appRestart(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	s.appAction(w, r, id, (*executor.Desired).Restart)
}

// appAction applies act to the existing app id as one write and answers with
// its deployment (404 when there is no such app).
func (s *Server) appAction(w http.ResponseWriter, r *http.Request, id string, act func(*executor.Desired, string)) {
	fallback := ""
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		cur := d.App(id)
		if cur == nil {
			return notFound(msgAppNotFound, id)
		}
		fallback = cur.Version
		act(d, id)
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, fallback)
}

// appVersionsList is GET /v2/apps/{id}/versions: the recorded versions,
// newest first.
func (s *Server) appVersionsList(w http.ResponseWriter, r *http.Request, sn *snapshot, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if _, ok := lookupApp(w, sn, id); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	versions, err := s.b.AppVersions(ctx, id)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	if versions == nil {
		versions = []string{}
	}
	writeJSON(w, http.StatusOK, map[string][]string{"versions": versions})
}

// appVersionGet is GET /v2/apps/{id}/versions/{version}: the app as it was
// (not wrapped in {"app": ...}).
func (s *Server) appVersionGet(w http.ResponseWriter, r *http.Request, sn *snapshot, id, version string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if _, ok := lookupApp(w, sn, id); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	a, err := s.b.AppVersion(ctx, id, version)
	if errors.Is(err, engine.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppVersionGone, id, version))
		return
	}
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	body, err := marathonApp(sn.view, a)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
		return
	}
	writeRaw(w, http.StatusOK, append(body, '\n'))
}
