package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Marathon's app writes. Each becomes a desired-state change carried out by
// the same path as `stride apply`: the executor re-plans it against the
// deployed state (classification, rolling bounds, dependency order, one
// deployment per app: 409 with the locking deployments unless ?force=true) and
// starts a deployment. A write that changes nothing answers a deployment id
// that is already finished (Marathon clients wait until the id leaves
// /v2/deployments).

// maxAppBody bounds one app's JSON.
const maxAppBody = 4 << 20

// deploymentResult is Marathon's DeploymentResult.
type deploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// decodeApp decodes one app from raw (strictly: unknown fields are errors
// with their path), gives it its defaults and validates it. It answers 400 or
// 422 itself and returns nil then.
func (s *Server) decodeApp(w http.ResponseWriter, raw []byte, id string) *engine.App {
	a := new(engine.App)
	if err := a.UnmarshalJSON(raw); err != nil {
		var fe engine.FieldErrors
		if errors.As(err, &fe) {
			// Fields Stride does not know are an invalid object (422, beyond
			// Marathon, which dropped them); values of the wrong type are
			// invalid JSON (400), as in Marathon.
			code, msg := http.StatusUnprocessableEntity, msgInvalidObject
			for _, e := range fe {
				for _, m := range e.Errors {
					if m != engine.ErrUnknownField {
						code, msg = http.StatusBadRequest, msgInvalidJSON
					}
				}
			}
			writeJSON(w, code, errorBody{Message: msg, Details: trimPaths(fe)})
			return nil
		}
		writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{jsonErrorDetail(raw, err)}})
		return nil
	}
	if id != "" {
		a.ID = id
	}
	if a.ID == "" {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: msgInvalidObject, Details: []engine.FieldError{{Path: "/id", Errors: []string{"error.path.missing"}}}})
		return nil
	}
	// A relative id is relative to the root (Marathon's top-level rule).
	if err := engine.CheckID(engine.CanonicalID(a.ID), false); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: msgInvalidObject, Details: []engine.FieldError{{Path: "/id", Errors: []string{err.Error()}}}})
		return nil
	}
	a.ID = engine.CanonicalID(a.ID)
	a.ApplyDefaults()
	if fe := a.ValidateWithin(s.info.Limits); len(fe) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, errorBody{Message: msgInvalidObject, Details: trimPaths(fe)})
		return nil
	}
	return a
}

func trimPaths(fe []engine.FieldError) []engine.FieldError {
	out := make([]engine.FieldError, len(fe))
	for i, e := range fe {
		p := strings.TrimSuffix(e.Path, "/")
		if p == "" {
			p = "/"
		}
		out[i] = engine.FieldError{Path: p, Errors: e.Errors}
	}
	return out
}

// deploy hands one app's new definition (nil: its removal) to the backend.
func (s *Server) deploy(ctx context.Context, r *http.Request, id string, app *engine.App, restart bool) (*engine.Deployment, error) {
	req := executor.ApplyRequest{Spec: &engine.Spec{Scope: id}, Scope: id, Force: queryBool(r, "force")}
	if app != nil {
		req.Spec.Apps = []*engine.App{app}
	}
	if restart {
		req.Restart = []string{id}
	}
	_, dep, err := s.b.Apply(ctx, req)
	return dep, err
}

// result answers a deployable write: Marathon-Deployment-Id and the
// DeploymentResult (a finished id and the app's current version when nothing
// changed).
func (s *Server) result(w http.ResponseWriter, code int, dep *engine.Deployment, version string) {
	res := deploymentResult{Version: version}
	if dep != nil {
		res.DeploymentID, res.Version = dep.ID, dep.Version
	} else {
		res.DeploymentID = executor.NewUUID()
	}
	w.Header().Set("Marathon-Deployment-Id", res.DeploymentID)
	writeJSON(w, code, res)
}

// appCreate is POST /v2/apps: 201 with the app (AppInfo, its deployment named)
// and Location; 409 if the id exists.
func (s *Server) appCreate(w http.ResponseWriter, r *http.Request) {
	raw, ok := readBody(w, r, maxAppBody)
	if !ok {
		return
	}
	a := s.decodeApp(w, raw, "")
	if a == nil {
		return
	}
	if s.snap().appIndex(a.ID) >= 0 {
		writeError(w, http.StatusConflict, fmt.Sprintf("An app with id [%s] already exists.", a.ID))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	dep, err := s.deploy(ctx, r, a.ID, a, false)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	depID, version := executor.NewUUID(), a.Version
	if dep != nil {
		depID, version = dep.ID, dep.Version
	}
	created := a.Clone()
	created.Version = version
	body, err := created.MarshalJSON()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
		return
	}
	b := append(body[:len(body)-1:len(body)-1], `,"tasksStaged":0,"tasksRunning":0,"tasksHealthy":0,"tasksUnhealthy":0,"deployments":[{"id":`...)
	idJSON, _ := json.Marshal(depID)
	b = append(append(b, idJSON...), "}]}\n"...)
	w.Header().Set("Location", pathApps+a.ID)
	w.Header().Set("Marathon-Deployment-Id", depID)
	writeRaw(w, http.StatusCreated, b)
}

// appPut is PUT and PATCH /v2/apps/{id}: with partialUpdate (the default, and
// PATCH) the body's fields replace the deployed app's; {"version": v} alone
// rolls back to that version; {"instances": n} alone scales. It creates the
// app when it does not exist (201 with Location).
func (s *Server) appPut(w http.ResponseWriter, r *http.Request, id string) {
	raw, ok := readBody(w, r, maxAppBody)
	if !ok {
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{{Path: "/", Errors: []string{engine.ErrExpectedObject}}}})
		return
	}
	st := s.snap().appStatus(id)
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	var a *engine.App
	if v, only := onlyVersion(obj); only {
		if st == nil {
			writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
			return
		}
		old, err := s.b.AppVersion(ctx, id, v)
		if errors.Is(err, engine.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist in version %s", id, v))
			return
		}
		if err != nil {
			s.writeBackendError(w, err)
			return
		}
		a = old.Clone()
		a.ApplyDefaults()
	} else {
		partial := r.Method == http.MethodPatch || r.URL.Query().Get("partialUpdate") != "false"
		if partial && st != nil {
			base, err := st.App.MarshalJSON()
			if err != nil {
				writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
				return
			}
			var merged map[string]json.RawMessage
			if err := json.Unmarshal(base, &merged); err != nil {
				writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
				return
			}
			for k, v := range obj {
				merged[k] = v
			}
			delete(merged, "versionInfo")
			if raw, err = json.Marshal(merged); err != nil {
				writeError(w, http.StatusInternalServerError, "merge app: "+err.Error())
				return
			}
		}
		if a = s.decodeApp(w, raw, id); a == nil {
			return
		}
	}
	dep, err := s.deploy(ctx, r, id, a, false)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	code, version := http.StatusOK, ""
	if st == nil {
		code = http.StatusCreated
		w.Header().Set("Location", pathApps+id)
	} else {
		version = st.App.Version
	}
	s.result(w, code, dep, version)
}

// onlyVersion reports whether a body is a rollback: {"version": v} (an "id"
// beside it is allowed).
func onlyVersion(obj map[string]json.RawMessage) (string, bool) {
	raw, ok := obj["version"]
	if !ok || len(obj) > 2 || (len(obj) == 2 && obj["id"] == nil) {
		return "", false
	}
	var v string
	if json.Unmarshal(raw, &v) != nil || v == "" {
		return "", false
	}
	return v, true
}

// appDelete is DELETE /v2/apps/{id}: the app is destroyed (its tasks killed).
func (s *Server) appDelete(w http.ResponseWriter, r *http.Request, id string) {
	st := s.snap().appStatus(id)
	if st == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	dep, err := s.deploy(ctx, r, id, nil, false)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, dep, st.App.Version)
}

// appRestart is POST /v2/apps/{id}/restart: every task replaced, rolling.
func (s *Server) appRestart(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	st := s.snap().appStatus(id)
	if st == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgAppNotFound, id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	dep, err := s.deploy(ctx, r, id, st.App.Clone(), true)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, dep, st.App.Version)
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

// appVersionGet is GET /v2/apps/{id}/versions/{version}: the app as it was.
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
		writeError(w, http.StatusNotFound, fmt.Sprintf("App '%s' does not exist in version %s", id, version))
		return
	}
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	body, err := a.MarshalJSON()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode app: "+err.Error())
		return
	}
	writeRaw(w, http.StatusOK, append(body, '\n'))
}
