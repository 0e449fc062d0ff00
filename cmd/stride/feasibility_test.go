package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// fakeServer answers /stride/v1/state from testdata/cli/feasible/state.json and,
// when cluster is set, /stride/v1/cluster with it (else 404, as a server from
// before the endpoint). It records the Authorization header of the cluster
// request.
func fakeServer(t *testing.T, cluster string, clusterStatus int) (*httptest.Server, *string) {
	t.Helper()
	state, err := os.ReadFile("../../testdata/cli/feasible/state.json")
	if err != nil {
		t.Fatal(err)
	}
	auth := new(string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/stride/v1/state":
			_, _ = w.Write(state)
		case "/stride/v1/cluster":
			*auth = r.Header.Get("Authorization")
			if cluster == "" {
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(`{"message":"not found"}`))
				return
			}
			w.WriteHeader(clusterStatus)
			_, _ = w.Write([]byte(cluster))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, auth
}

// feasibleFixture reads testdata/cli/feasible: the cluster snapshot, and the
// absolute path of the configuration planned against it.
func feasibleFixture(t *testing.T) (cluster []byte, config string) {
	t.Helper()
	cluster, err := os.ReadFile("../../testdata/cli/feasible/cluster.json")
	if err != nil {
		t.Fatal(err)
	}
	config, err = filepath.Abs("../../testdata/cli/feasible/config")
	if err != nil {
		t.Fatal(err)
	}
	return cluster, config
}

// TestPlanFeasibilityFromServer: plan asks the server for the snapshot with the
// CLI's credentials and shows the warnings; a server that cannot give one
// leaves a one-line note and the plan succeeds.
func TestPlanFeasibilityFromServer(t *testing.T) {
	cluster, config := feasibleFixture(t)
	tests := map[string]struct {
		cluster string
		status  int
		want    string
	}{
		"snapshot":     {string(cluster), 200, "Feasibility: checked against 3 agents: 6 warnings, 5 deadlocks"},
		"no endpoint":  {"", 0, "Feasibility: not checked (the server has no /stride/v1/cluster)."},
		"server error": {`{"message":"boom"}`, 500, "Feasibility: not checked (cluster snapshot: "},
		"master unreachable": {`{"mesos":{"error":"mesos master: connection refused"},"agents":[]}`, 200,
			"Feasibility: not checked (the server cannot read the agents: mesos master: connection refused)."},
		"no agents": {`{"mesos":{},"agents":[]}`, 200, "Feasibility: not checked (the Mesos master reports no agents)."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv, auth := fakeServer(t, tc.cluster, tc.status)
			stdout, stderr, code := runIn(t, t.TempDir(), map[string]string{"STRIDE_HTTP_TOKEN": "s3cret"},
				"plan", "-no-color", "-address", srv.URL, config)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout lacks %q:\n%s", tc.want, stdout)
			}
			if *auth != "Bearer s3cret" {
				t.Errorf("the snapshot was asked with Authorization %q", *auth)
			}
		})
	}
}

// TestSavedPlanKeepsWarnings: the warnings are saved with the plan, shown
// again when apply carries it out, and apply -strict refuses a saved plan that
// deadlocks before it asks the server anything.
func TestSavedPlanKeepsWarnings(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/cli/feasible")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shop.plan")
	if _, stderr, code := runIn(t, dir, nil, "plan", "-no-color", "-state", "state.json", "-cluster", "cluster.json", "-out", out, "config"); code != exitOK {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sp engine.SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		t.Fatal(err)
	}
	if sp.Plan.Feasibility == nil || !sp.Plan.Feasibility.Checked {
		t.Fatalf("feasibility not saved: %+v", sp.Plan.Feasibility)
	}
	warned := 0
	for _, c := range sp.Plan.Changes {
		warned += len(c.Warnings)
	}
	if warned != 6 {
		t.Fatalf("%d warnings saved, want 6", warned)
	}
	// Nothing listens at the address: -strict must refuse before asking.
	stdout, stderr, code := runIn(t, dir, nil, "apply", "-no-color", "-strict", "-address", "http://127.0.0.1:1", out)
	if code != exitError {
		t.Fatalf("apply -strict: exit %d", code)
	}
	for _, want := range []string{"Warnings recorded when the plan was made:", "  /shop/search\n    # warning: will deadlock: UNIQUE hostname needs 4 agents, 3 match; 3 of 4 instances will run"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("apply output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "-strict: the rollout of /shop/big, /shop/ports, /shop/rack, /shop/search, /shop/zone would deadlock") {
		t.Errorf("stderr %q", stderr)
	}
}

// TestApplyShowsWarningsBeforeAsking: apply shows the warnings on the plan it
// asks about; with -strict a deadlock refuses the apply before the question.
func TestApplyShowsWarningsBeforeAsking(t *testing.T) {
	cluster, config := feasibleFixture(t)
	srv, _ := fakeServer(t, string(cluster), 200)
	const warning = "# warning: will deadlock: UNIQUE hostname needs 4 agents, 3 match; 3 of 4 instances will run"
	stdout, _, code := runIn(t, t.TempDir(), nil, "apply", "-no-color", "-address", srv.URL, config)
	if code != exitError || !strings.Contains(stdout, "Apply cancelled.") {
		t.Fatalf("apply without an answer: exit %d:\n%s", code, stdout)
	}
	if w, q := strings.Index(stdout, warning), strings.Index(stdout, "Enter a value"); w < 0 || q < w {
		t.Errorf("the warning (at %d) does not come before the question (at %d):\n%s", w, q, stdout)
	}
	stdout, stderr, code := runIn(t, t.TempDir(), nil, "apply", "-no-color", "-strict", "-address", srv.URL, config)
	if code != exitError || strings.Contains(stdout, "Enter a value") || !strings.Contains(stdout, warning) ||
		!strings.Contains(stderr, "-strict: the rollout of /shop/big, /shop/ports, /shop/rack, /shop/search, /shop/zone would deadlock") {
		t.Errorf("apply -strict: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
