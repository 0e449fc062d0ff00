package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/stride-run/stride/engine"
)

// The app writes edit the deployed state: a partial PUT keeps the fields the
// body leaves out, a full one (partialUpdate=false) does not — except those
// only Stride has, which a Marathon client cannot know —, a rollback brings
// back the recorded version, a restart asks for one, a delete removes the app,
// ?force=true is passed on.
func TestAppWritesEditTheState(t *testing.T) {
	s, f := newTestServer()
	before := f.View().Apps[0].App // /shop/api in the fixture
	if before.ID != "/shop/api" {
		t.Fatalf("fixture: first app %s", before.ID)
	}
	after := func(id string) *engine.App {
		t.Helper()
		return f.lastEdit.App(id)
	}

	w := do(t, s, request{method: "PUT", path: "/v2/apps/shop/api?force=true", body: `{"instances": 7, "id": "/ignored"}`})
	if w.Code != http.StatusOK || w.Header().Get("Marathon-Deployment-Id") == "" {
		t.Fatalf("partial PUT: %d %s", w.Code, w.Body)
	}
	got := after("/shop/api")
	if !f.lastApply.Force || got.ID != "/shop/api" || got.Instances != 7 || got.Cmd != before.Cmd || got.Mem != before.Mem || after("/ignored") != nil {
		t.Fatalf("partial PUT: force %v id %s instances %d cmd %q (want %q) mem %v", f.lastApply.Force, got.ID, got.Instances, got.Cmd, before.Cmd, got.Mem)
	}
	// The group's dependencies stay folded in.
	if !slices.Equal(got.Dependencies, []string{"/tools"}) {
		t.Fatalf("partial PUT: dependencies %v", got.Dependencies)
	}

	// A partial update naming args replaces cmd (and portDefinitions ports).
	w = do(t, s, request{method: "PATCH", path: "/v2/apps/shop/api", body: `{"args": ["serve"], "ports": [0, 0, 0]}`})
	if got := after("/shop/api"); w.Code != http.StatusOK || got.Cmd != "" || len(got.Args) != 1 || len(got.PortDefinitions) != 3 {
		t.Fatalf("PATCH args: %d %s %+v", w.Code, w.Body, got)
	}

	// A full update: what the body leaves out takes its default; the Consul
	// registration (Stride's) is kept.
	withService := before.Clone()
	withService.Service = &engine.Service{Name: "api-shop", Tags: []string{"v1"}}
	v := f.View()
	v.Apps[0].App = withService
	w = do(t, s, request{method: "PUT", path: "/v2/apps/shop/api?partialUpdate=false", body: `{"cmd": "./other"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("full PUT: %d %s", w.Code, w.Body)
	}
	got = after("/shop/api")
	if got.Cmd != "./other" || got.Instances != 1 || len(got.HealthChecks) != 0 || f.lastApply.Force {
		t.Fatalf("full PUT kept old fields: instances %d, %d health checks", got.Instances, len(got.HealthChecks))
	}
	if got.Service == nil || got.Service.Tags[0] != "v1" {
		t.Fatalf("full PUT dropped Stride's service: %+v", got.Service)
	}
	v.Apps[0].App = before

	w = do(t, s, request{method: "PUT", path: "/v2/apps/shop/api", body: `{"version": "` + before.Version + `"}`})
	if w.Code != http.StatusOK || !appsEqual(after("/shop/api"), before) {
		t.Fatalf("rollback: %d %s", w.Code, w.Body)
	}

	w = do(t, s, request{method: "POST", path: "/v2/apps/shop/api/restart"})
	if w.Code != http.StatusOK || f.lastEdit.String() != "restart /shop/api" {
		t.Fatalf("restart: %d %s", w.Code, f.lastEdit)
	}

	w = do(t, s, request{method: "DELETE", path: "/v2/apps/shop/api"})
	if w.Code != http.StatusOK || f.lastEdit.String() != "delete app /shop/api" {
		t.Fatalf("delete: %d %s", w.Code, f.lastEdit)
	}

	// PUT of an unknown id creates it: 201 and Location.
	w = do(t, s, request{method: "PUT", path: "/v2/apps/new/one", body: `{"cmd": "sleep 100", "instances": 2}`})
	if w.Code != http.StatusCreated || w.Header().Get("Location") != "/v2/apps/new/one" || after("/new/one").Instances != 2 {
		t.Fatalf("PUT create: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// POST /v2/apps answers 201 with the app as AppInfo, its deployment named (the
// Terraform provider waits on exactly that id), Location and the header; an app
// created in a group with dependencies gets them.
func TestAppCreate(t *testing.T) {
	s, f := newTestServer()
	f.applyDep = &engine.Deployment{ID: "dep-new", Version: "2026-12-04T10:00:00.000Z"}
	w := do(t, s, request{method: "POST", path: "/v2/apps", body: `{"id": "shop/mirror", "cmd": "registry serve", "instances": 2, "cpus": 0.5, "mem": 128, "dependencies": ["/db"]}`})
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Location") != "/v2/apps/shop/mirror" || w.Header().Get("Marathon-Deployment-Id") != "dep-new" {
		t.Fatalf("headers: %v", w.Header())
	}
	var body struct {
		ID           string
		Instances    int
		Dependencies []string
		TasksStaged  *int
		Deployments  []struct{ ID string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != "/shop/mirror" || body.Instances != 2 || body.TasksStaged == nil ||
		len(body.Deployments) != 1 || body.Deployments[0].ID != "dep-new" || !slices.Equal(body.Dependencies, []string{"/db"}) {
		t.Fatalf("body: %+v", body)
	}
	if a := f.lastEdit.App("/shop/mirror"); a.Cpus != 0.5 || !slices.Equal(a.Dependencies, []string{"/db", "/tools"}) {
		t.Fatalf("created: %+v", a)
	}
	// Unknown fields: 422 naming them.
	w = do(t, s, request{method: "POST", path: "/v2/apps", body: `{"id": "/x", "cmd": "y", "instancs": 2}`})
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("unknown field: %d %s", w.Code, w.Body)
	}
}

// A group update replaces what it names: apps and groups it lists are put,
// the others under it removed; absent members keep the group's. Changing a
// group's dependencies changes those of every app under it.
func TestGroupUpdateSemantics(t *testing.T) {
	s, f := newTestServer()
	w := do(t, s, request{method: "PUT", path: "/v2/groups/shop", body: `{"dependencies": ["/db", "../tools"]}`})
	if w.Code != http.StatusOK {
		t.Fatalf("deps: %d %s", w.Code, w.Body)
	}
	if g := f.lastEdit.Group("/shop"); !slices.Equal(g.Dependencies, []string{"/db", "/tools"}) {
		t.Fatalf("group deps %v", g.Dependencies)
	}
	for _, id := range []string{"/shop/api", "/shop/worker"} {
		if a := f.lastEdit.App(id); !slices.Equal(a.Dependencies, []string{"/db", "/tools"}) {
			t.Fatalf("%s deps %v", id, a.Dependencies)
		}
	}
	w = do(t, s, request{method: "PUT", path: "/v2/groups/shop", body: `{"dependencies": []}`})
	if a := f.lastEdit.App("/shop/api"); w.Code != http.StatusOK || len(a.Dependencies) != 0 {
		t.Fatalf("deps removed: %d %v", w.Code, a.Dependencies)
	}
	w = do(t, s, request{method: "PUT", path: "/v2/groups/shop", body: `{"groups": [{"id": "eu", "apps": [{"id": "web", "cmd": "x"}]}]}`})
	if w.Code != http.StatusOK || f.lastEdit.App("/shop/eu/web") == nil || f.lastEdit.App("/shop/api") == nil {
		t.Fatalf("nested: %d %s", w.Code, f.lastEdit)
	}
	w = do(t, s, request{method: "PUT", path: "/v2/groups/new", body: `{"apps": [{"id": "a", "cmd": "x"}]}`})
	if w.Code != http.StatusOK || f.lastEdit.Group("/new") == nil || f.lastEdit.App("/new/a") == nil {
		t.Fatalf("PUT creates: %d %s", w.Code, f.lastEdit)
	}
	w = do(t, s, request{method: "POST", path: "/v2/groups", body: `{"id": "/shop/api"}`})
	if w.Code != http.StatusConflict {
		t.Fatalf("a group over an app: %d %s", w.Code, w.Body)
	}
}

func appsEqual(a, b *engine.App) bool {
	x, _ := a.MarshalJSON()
	y, _ := b.MarshalJSON()
	return string(x) == string(y)
}
