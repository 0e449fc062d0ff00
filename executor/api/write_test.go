package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stride-run/stride/engine"
)

// The app writes hand the backend one app under its own scope: a partial PUT
// keeps the fields the body leaves out, a full one (partialUpdate=false) does
// not, a rollback brings back the recorded version, a restart asks for one, a
// delete removes the app, ?force=true is passed on.
func TestAppWritesBecomeApplies(t *testing.T) {
	s, f := newTestServer()
	before := f.View().Apps[0].App // /shop/api in the fixture
	if before.ID != "/shop/api" {
		t.Fatalf("fixture: first app %s", before.ID)
	}

	w := do(t, s, request{method: "PUT", path: "/v2/apps/shop/api?force=true", body: `{"instances": 7, "id": "/ignored"}`})
	if w.Code != http.StatusOK || w.Header().Get("Marathon-Deployment-Id") == "" {
		t.Fatalf("partial PUT: %d %s", w.Code, w.Body)
	}
	req := f.lastApply
	if req.Scope != "/shop/api" || !req.Force || len(req.Spec.Apps) != 1 {
		t.Fatalf("partial PUT request: scope %q force %v apps %d", req.Scope, req.Force, len(req.Spec.Apps))
	}
	got := req.Spec.Apps[0]
	if got.ID != "/shop/api" || got.Instances != 7 || got.Cmd != before.Cmd || got.Mem != before.Mem {
		t.Fatalf("partial PUT: id %s instances %d cmd %q (want %q) mem %v", got.ID, got.Instances, got.Cmd, before.Cmd, got.Mem)
	}

	w = do(t, s, request{method: "PUT", path: "/v2/apps/shop/api?partialUpdate=false", body: `{"cmd": "./other"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("full PUT: %d %s", w.Code, w.Body)
	}
	got = f.lastApply.Spec.Apps[0]
	if got.Cmd != "./other" || got.Instances != 1 || len(got.HealthChecks) != 0 || f.lastApply.Force {
		t.Fatalf("full PUT kept old fields: instances %d, %d health checks", got.Instances, len(got.HealthChecks))
	}

	w = do(t, s, request{method: "PUT", path: "/v2/apps/shop/api", body: `{"version": "` + before.Version + `"}`})
	if w.Code != http.StatusOK || !appsEqual(f.lastApply.Spec.Apps[0], before) {
		t.Fatalf("rollback: %d %s", w.Code, w.Body)
	}

	w = do(t, s, request{method: "POST", path: "/v2/apps/shop/api/restart"})
	if w.Code != http.StatusOK || len(f.lastApply.Restart) != 1 || f.lastApply.Restart[0] != "/shop/api" {
		t.Fatalf("restart: %d %v", w.Code, f.lastApply.Restart)
	}

	w = do(t, s, request{method: "DELETE", path: "/v2/apps/shop/api"})
	if w.Code != http.StatusOK || f.lastApply.Scope != "/shop/api" || len(f.lastApply.Spec.Apps) != 0 {
		t.Fatalf("delete: %d scope %q apps %d", w.Code, f.lastApply.Scope, len(f.lastApply.Spec.Apps))
	}

	// PUT of an unknown id creates it: 201 and Location.
	w = do(t, s, request{method: "PUT", path: "/v2/apps/new/one", body: `{"cmd": "sleep 100", "instances": 2}`})
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/v2/apps/new/one" || f.lastApply.Spec.Apps[0].Instances != 2 {
		t.Fatalf("PUT create: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// POST /v2/apps answers 201 with the app as AppInfo, its deployment named (the
// Terraform provider waits on exactly that id), Location and the header.
func TestAppCreate(t *testing.T) {
	s, f := newTestServer()
	f.applyDep = &engine.Deployment{ID: "dep-new", Version: "2026-12-04T10:00:00.000Z"}
	w := do(t, s, request{method: "POST", path: "/v2/apps", body: `{"id": "tools/mirror", "cmd": "registry serve", "instances": 2, "cpus": 0.5, "mem": 128}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Location") != "/v2/apps/tools/mirror" || w.Header().Get("Marathon-Deployment-Id") != "dep-new" {
		t.Fatalf("headers: %v", w.Header())
	}
	var body struct {
		ID          string
		Instances   int
		Version     string
		TasksStaged *int
		Deployments []struct{ ID string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != "/tools/mirror" || body.Instances != 2 || body.Version != "2026-12-04T10:00:00.000Z" || body.TasksStaged == nil ||
		len(body.Deployments) != 1 || body.Deployments[0].ID != "dep-new" {
		t.Fatalf("body: %+v", body)
	}
	if a := f.lastApply.Spec.Apps[0]; f.lastApply.Scope != "/tools/mirror" || a.Cpus != 0.5 {
		t.Fatalf("apply: %+v", f.lastApply)
	}
	// Unknown fields: 422 naming them.
	w = do(t, s, request{method: "POST", path: "/v2/apps", body: `{"id": "/x", "cmd": "y", "instancs": 2}`})
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("unknown field: %d %s", w.Code, w.Body)
	}
}

func appsEqual(a, b *engine.App) bool {
	x, _ := a.MarshalJSON()
	y, _ := b.MarshalJSON()
	return string(x) == string(y)
}
