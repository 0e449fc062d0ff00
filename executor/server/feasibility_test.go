package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/planner"
	"github.com/stride-run/stride/planner/feasibility"
)

// TestFeasibilityPredictsTheBlock plans apps that plan-time feasibility warns
// about against a stand-in with three agents on two racks — as `stride plan`
// does: the server's state, the server's /stride/v1/cluster snapshot — applies
// them, and sees each block exactly as predicted: the deployment does not
// finish, the number of running instances is the one the warning gave, and
// the queue's reason names the same constraint.
func TestFeasibilityPredictsTheBlock(t *testing.T) {
	feasibilityPredictsTheBlock(t, newEnv(t, 3), 30*time.Second)
}

// TestRealMesosFeasibilityPredictsTheBlock is the same on a real Mesos 1.11.1
// with three agents: its /master/slaves is what the snapshot is made from.
func TestRealMesosFeasibilityPredictsTheBlock(t *testing.T) {
	c := mesostest.Start(t, mesostest.Options{Agents: 3})
	feasibilityPredictsTheBlock(t, newRealEnv(t, c), realTimeout)
}

func feasibilityPredictsTheBlock(t *testing.T, e *testEnv, timeout time.Duration) {
	ctx := context.Background()
	uniq := testApp(t, "/uniq", 4, nil)
	uniq.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	rack := testApp(t, "/rack", 1, nil)
	rack.Constraints = []engine.Constraint{{Field: "rack_id", Operator: "CLUSTER", Value: "rack-9"}}
	spec := specOf(uniq, rack)

	state, err := e.client.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := mustCluster(t, e, timeout)
	p, diags := planner.Plan(spec, state, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	feasibility.Check(p, snap)
	type prediction struct {
		running    int
		constraint string
	}
	want := map[string]prediction{}
	for _, c := range p.Changes {
		if len(c.Warnings) != 1 || !c.Warnings[0].Deadlock {
			t.Fatalf("%s: warnings %+v, want one deadlock", c.ID, c.Warnings)
		}
		w := c.Warnings[0]
		want[c.ID] = prediction{w.Running, w.Constraint}
		t.Logf("%s: %s", c.ID, w.Message)
	}
	if want["/uniq"] != (prediction{3, "hostname:UNIQUE"}) || want["/rack"] != (prediction{0, "rack_id:CLUSTER:rack-9"}) {
		t.Fatalf("predictions %+v", want)
	}

	resp := e.apply(spec)
	// The predicted number of instances runs, and the rest wait for the
	// predicted constraint.
	for id, pr := range want {
		e.waitFor(timeout, fmt.Sprintf("%s: %d running, the rest waiting on %s", id, pr.running, pr.constraint), func() (bool, string) {
			st := e.appStatus(id)
			if st == nil {
				return false, "no status"
			}
			return st.TasksRunning == pr.running && strings.Contains(st.Waiting, pr.constraint),
				fmt.Sprintf("running %d, waiting %q", st.TasksRunning, st.Waiting)
		})
	}
	// More offers come and go (the queue counts them) and nothing changes:
	// the deployment is blocked, not slow.
	before := processedOffers(t, e)
	e.waitFor(timeout, "more offers processed", func() (bool, string) {
		now := processedOffers(t, e)
		return now["/uniq"] >= before["/uniq"]+6 && now["/rack"] >= before["/rack"]+6, fmt.Sprint(now)
	})
	for id, pr := range want {
		if st := e.appStatus(id); st.TasksRunning != pr.running || len(st.Tasks) != pr.running {
			t.Errorf("%s: %d running of %d tasks after more offers, predicted %d", id, st.TasksRunning, len(st.Tasks), pr.running)
		}
	}
	d, err := e.client.Deployment(ctx, resp.DeploymentID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != engine.DeploymentRunning {
		t.Errorf("deployment %s, want it still running (blocked)", d.Status)
	}
	queue := queueCounts(t, e)
	if queue["/uniq"] != 1 || queue["/rack"] != 1 {
		t.Errorf("/v2/queue counts %v, want 1 waiting instance each", queue)
	}
}

// TestFeasibilityKillFirstFinishes: a restart that lacks the spare room its
// maximum_over_capacity asks for but may kill first (minimum_health_capacity
// below 1) is warned about as slow, not as a deadlock — and it does finish.
func TestFeasibilityKillFirstFinishes(t *testing.T) {
	e := newEnv(t, 3)
	ctx := context.Background()
	mk := func(colour string) *engine.App {
		a := testApp(t, "/wide", 3, map[string]string{"COLOUR": colour})
		// 5 of each agent's 8 cpus: one task per agent, no room for a fourth.
		a.Cpus = 5
		a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.34}
		return a
	}
	e.waitDeployment(e.apply(specOf(mk("blue"))).DeploymentID, 60*time.Second)

	spec := specOf(mk("green"))
	state, err := e.client.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap := mustCluster(t, e, 30*time.Second)
	p, diags := planner.Plan(spec, state, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	feasibility.Check(p, snap)
	if len(p.Changes) != 1 || p.Changes[0].Action != engine.ActionRestart {
		t.Fatalf("changes %+v", p.Changes)
	}
	ws := p.Changes[0].Warnings
	if len(ws) != 1 || ws[0].Kind != feasibility.KindKillFirst || ws[0].Deadlock || ws[0].Running != 3 {
		t.Fatalf("warnings %+v, want one kill_first that is no deadlock", ws)
	}
	t.Logf("/wide: %s", ws[0].Message)
	e.waitDeployment(e.apply(spec).DeploymentID, 90*time.Second)
	if st := e.appStatus("/wide"); st.TasksRunning != 3 {
		t.Errorf("%d running after the restart, want 3", st.TasksRunning)
	}
}

func mustCluster(t *testing.T, e *testEnv, timeout time.Duration) *api.ClusterResponse {
	t.Helper()
	var snap *api.ClusterResponse
	e.waitFor(timeout, "the cluster snapshot lists the 3 agents", func() (bool, string) {
		s, err := e.client.Cluster(context.Background())
		if err != nil {
			return false, err.Error()
		}
		snap = s
		return len(s.Agents) == 3, fmt.Sprintf("%d agents, error %q", len(s.Agents), s.Mesos.Error)
	})
	return snap
}

type queueEntry struct {
	App struct {
		ID string `json:"id"`
	} `json:"app"`
	Count   int `json:"count"`
	Summary struct {
		Processed int `json:"processedOffersCount"`
	} `json:"processedOffersSummary"`
}

func readQueue(t *testing.T, e *testEnv) []queueEntry {
	t.Helper()
	body, err := e.client.Get(context.Background(), "/v2/queue")
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Queue []queueEntry `json:"queue"`
	}
	if err := json.Unmarshal(body, &q); err != nil {
		t.Fatalf("/v2/queue: %v: %s", err, body)
	}
	return q.Queue
}

func processedOffers(t *testing.T, e *testEnv) map[string]int {
	out := map[string]int{}
	for _, q := range readQueue(t, e) {
		out[q.App.ID] = q.Summary.Processed
	}
	return out
}

func queueCounts(t *testing.T, e *testEnv) map[string]int {
	out := map[string]int{}
	for _, q := range readQueue(t, e) {
		out[q.App.ID] = q.Count
	}
	return out
}
