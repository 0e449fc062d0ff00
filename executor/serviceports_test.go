package executor

import (
	"context"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestTaskEnvServicePorts: besides PORT0.. and PORT_<NAME>, Marathon names each
// host port after the port its definition asks for (PORT_<service port>), or
// after itself when that is 0 (EnvironmentHelper.portsEnv).
func TestTaskEnvServicePorts(t *testing.T) {
	app := engine.NewApp("/shop/api")
	app.PortDefinitions = []engine.PortDefinition{{Port: 10005, Name: "http"}, {Port: 0}}
	env := TaskEnv(app, "shop_api.1", "agent-1", []uint64{31002, 31007})
	for k, want := range map[string]string{
		"PORT0": "31002", "PORT1": "31007", "PORT": "31002", "PORTS": "31002,31007",
		"PORT_HTTP": "31002", "PORT_10005": "31002", "PORT_31007": "31007",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["PORT_0"]; ok {
		t.Error("PORT_0 set")
	}
}

// TestServicePortsInTheWritePath: both doors (a Spec apply and an API Edit)
// assign ports before the commit, keep them across updates, reverts (also to
// a version stored before ports were assigned) and a new leader, and refuse a
// port another app holds without changing anything.
func TestServicePortsInTheWritePath(t *testing.T) {
	h := newHarness(t)
	ports := func(id string) []int { return h.e.apps[id].ServicePorts() }

	h.deploy(testApp("/api", 1, "v1"))
	if got := ports("/api"); len(got) != 1 || got[0] != 10000 {
		t.Fatalf("created with %v, want [10000]", got)
	}
	if got := h.store.snap.Apps["/api"].ServicePorts(); got[0] != 10000 {
		t.Fatalf("stored with %v", got)
	}

	// A state written before ports were assigned: the next change assigns,
	// and a revert to the old version (port 0) keeps what was assigned.
	legacy := h.e.apps["/api"].Clone()
	legacy.PortDefinitions[0].Port = 0
	h.e.apps["/api"] = legacy
	v2 := testApp("/api", 1, "v2")
	dep := h.apply(spec(v2))
	if got := ports("/api"); got[0] != 10000 || v2.PortDefinitions[0].Port != 0 {
		t.Fatalf("after the update: %v (the request's app: %d)", got, v2.PortDefinitions[0].Port)
	}
	if before := dep.Plan.Changes[0].Before; before.PortDefinitions[0].Port != 0 {
		t.Fatalf("the change's before is not the legacy version: %v", before.ServicePorts())
	}
	rev, err := h.e.endDeployment(h.ctx, h.e.deployments[dep.ID], engine.DeploymentCancelled, "", revertToBefore)
	if err != nil || rev == nil || h.e.apps["/api"].Cmd != "v1" {
		t.Fatalf("revert %+v: %v", rev, err)
	}
	if got := ports("/api"); got[0] != 10000 {
		t.Fatalf("after the revert: %v", got)
	}

	// The API's door: a new app gets the next port; one naming /api's port
	// is refused and nothing changes.
	h.restart()
	if got := ports("/api"); got[0] != 10000 {
		t.Fatalf("after a new leader loaded the state: %v", got)
	}
	edit := func(a *engine.App) error {
		_, err := h.e.apply(h.ctx, ApplyRequest{Edit: func(d *Desired) error { d.PutApp(a); return nil }})
		return err
	}
	if err := edit(testApp("/web", 0, "web")); err != nil {
		t.Fatal(err)
	}
	if got := ports("/web"); got[0] != 10001 {
		t.Fatalf("/web got %v, want [10001]", got)
	}
	serial := h.e.serial
	clash := testApp("/clash", 0, "x")
	clash.PortDefinitions[0].Port = 10000
	err = edit(clash)
	es, ok := engine.AsServicePortErrors(err)
	if !ok || len(es) != 1 || es[0].Holder != "/api" || es[0].Path != "/portDefinitions/0/port" {
		t.Fatalf("clash: %v", err)
	}
	if _, ok := h.e.apps["/clash"]; ok || h.e.serial != serial {
		t.Fatal("a refused write changed the state")
	}
}

func TestNewRefusesABadServicePortRange(t *testing.T) {
	_, err := New(context.Background(), Config{Store: newMemStore(), ServicePorts: engine.PortRange{Min: 20000, Max: 10000}})
	if err == nil || !strings.Contains(err.Error(), "service port range 20000-10000") {
		t.Fatalf("got %v", err)
	}
}
