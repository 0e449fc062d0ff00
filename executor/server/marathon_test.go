package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

// marathonCall sends a Marathon API request and decodes a JSON answer into out.
func (e *testEnv) marathonCall(method, path string, body any, out any) (int, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %s: %v\n%s", method, path, resp.Status, err, raw)
		}
	}
	return resp.StatusCode, resp.Header
}

// waitMarathonDeployment waits as Marathon clients do: until the id is no
// longer among /v2/deployments.
func (e *testEnv) waitMarathonDeployment(id string) {
	e.t.Helper()
	e.waitFor(60*time.Second, "deployment "+id+" to leave /v2/deployments", func() (bool, string) {
		var deps []struct{ ID string }
		e.marathonCall(http.MethodGet, "/v2/deployments", nil, &deps)
		for _, d := range deps {
			if d.ID == id {
				return false, "running"
			}
		}
		return true, ""
	})
	d, err := e.client.Deployment(context.Background(), id)
	if err == nil && d.Status != engine.DeploymentSucceeded {
		e.t.Fatalf("deployment %s ended %s: %s", id, d.Status, d.Reason)
	}
}

func (e *testEnv) liveIDs(appID string) []string {
	var ids []string
	for _, tk := range e.liveTasks(appID) {
		ids = append(ids, tk.ID)
	}
	sort.Strings(ids)
	return ids
}

// An app's whole life through Marathon's API on the real executor and stand-in:
// create, scale, update (a restart), versions and rollback, restart, the API's
// change seen by a plan of the files, delete.
func TestMarathonAppLifecycle(t *testing.T) {
	e := newEnv(t, 3)
	a := testApp(t, "/shop/api", 2, nil)
	raw, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var create map[string]any
	_ = json.Unmarshal(raw, &create)
	delete(create, "version")

	var created struct {
		ID          string
		Deployments []struct{ ID string }
	}
	code, h := e.marathonCall(http.MethodPost, "/v2/apps", create, &created)
	if code != http.StatusCreated || len(created.Deployments) != 1 || h.Get("Marathon-Deployment-Id") != created.Deployments[0].ID {
		t.Fatalf("create: %d %+v %v", code, created, h)
	}
	e.waitMarathonDeployment(created.Deployments[0].ID)
	if n := len(e.liveIDs("/shop/api")); n != 2 {
		t.Fatalf("%d tasks after create", n)
	}
	if code, _ := e.marathonCall(http.MethodPost, "/v2/apps", create, nil); code != http.StatusConflict {
		t.Fatalf("second create: %d, want 409", code)
	}

	// Scale: nothing restarted.
	before := e.liveIDs("/shop/api")
	var res struct{ DeploymentID, Version string }
	if code, _ := e.marathonCall(http.MethodPut, "/v2/apps/shop/api", map[string]any{"instances": 3}, &res); code != http.StatusOK {
		t.Fatalf("scale: %d", code)
	}
	e.waitMarathonDeployment(res.DeploymentID)
	after := e.liveIDs("/shop/api")
	if len(after) != 3 || len(slices.DeleteFunc(slices.Clone(before), func(id string) bool { return slices.Contains(after, id) })) != 0 {
		t.Fatalf("scale replaced tasks: %v -> %v", before, after)
	}

	// The API's change is drift from the files: a plan of the files (2
	// instances) scales back.
	plan, err := e.client.Plan(context.Background(), api.ApplyRequest{Spec: specOf(a)})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Changes) != 1 || plan.Changes[0].Action != engine.ActionScale {
		t.Fatalf("plan after a scale through the API: %+v", plan.Changes)
	}

	// A partial update of env: every task replaced.
	env := map[string]string{"STRIDE_TESTAPP": "1", "COLOUR": "blue"}
	if code, _ := e.marathonCall(http.MethodPut, "/v2/apps/shop/api", map[string]any{"env": env}, &res); code != http.StatusOK {
		t.Fatalf("update: %d", code)
	}
	e.waitMarathonDeployment(res.DeploymentID)
	updated := e.liveIDs("/shop/api")
	if len(updated) != 3 || slices.ContainsFunc(updated, func(id string) bool { return slices.Contains(after, id) }) {
		t.Fatalf("update kept old tasks: %v -> %v", after, updated)
	}
	var app struct {
		App struct {
			Instances int
			Env       map[string]string
			Version   string
		}
	}
	e.marathonCall(http.MethodGet, "/v2/apps/shop/api", nil, &app)
	if app.App.Instances != 3 || app.App.Env["COLOUR"] != "blue" {
		t.Fatalf("after the update: %+v", app.App)
	}

	// Versions, newest first; roll back to the first.
	var versions struct{ Versions []string }
	e.marathonCall(http.MethodGet, "/v2/apps/shop/api/versions", nil, &versions)
	if len(versions.Versions) != 3 || versions.Versions[0] != app.App.Version {
		t.Fatalf("versions: %v (current %s)", versions.Versions, app.App.Version)
	}
	first := versions.Versions[2]
	var old struct {
		Instances int
		Env       map[string]string
	}
	if code, _ := e.marathonCall(http.MethodGet, "/v2/apps/shop/api/versions/"+first, nil, &old); code != http.StatusOK || old.Instances != 2 || old.Env["COLOUR"] != "" {
		t.Fatalf("version %s: %d %+v", first, code, old)
	}
	if code, _ := e.marathonCall(http.MethodPut, "/v2/apps/shop/api", map[string]any{"version": first}, &res); code != http.StatusOK {
		t.Fatalf("rollback: %d", code)
	}
	e.waitMarathonDeployment(res.DeploymentID)
	app.App.Env = nil // json.Unmarshal merges into a map it is given
	e.marathonCall(http.MethodGet, "/v2/apps/shop/api", nil, &app)
	if app.App.Instances != 2 || app.App.Env["COLOUR"] != "" || len(e.liveIDs("/shop/api")) != 2 {
		t.Fatalf("after the rollback: %+v, %d tasks", app.App, len(e.liveIDs("/shop/api")))
	}

	// Restart: new tasks, same definition.
	rolled := e.liveIDs("/shop/api")
	if code, _ := e.marathonCall(http.MethodPost, "/v2/apps/shop/api/restart", map[string]any{}, &res); code != http.StatusOK {
		t.Fatalf("restart: %d", code)
	}
	e.waitMarathonDeployment(res.DeploymentID)
	restarted := e.liveIDs("/shop/api")
	if len(restarted) != 2 || slices.ContainsFunc(restarted, func(id string) bool { return slices.Contains(rolled, id) }) {
		t.Fatalf("restart kept tasks: %v -> %v", rolled, restarted)
	}

	// Delete.
	if code, _ := e.marathonCall(http.MethodDelete, "/v2/apps/shop/api", nil, &res); code != http.StatusOK {
		t.Fatalf("delete: %d", code)
	}
	e.waitMarathonDeployment(res.DeploymentID)
	if code, _ := e.marathonCall(http.MethodGet, "/v2/apps/shop/api", nil, nil); code != http.StatusNotFound || len(e.liveIDs("/shop/api")) != 0 {
		t.Fatalf("after delete: %d, %d tasks", code, len(e.liveIDs("/shop/api")))
	}
}
