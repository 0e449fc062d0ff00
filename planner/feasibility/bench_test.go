package feasibility

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/planner"
)

// benchCluster is n agents on 10 racks, each running one task of each of
// the deployed apps' tasks assigned to it round-robin.
func benchCluster(agents int, deployed []*engine.App) *api.ClusterResponse {
	snap := &api.ClusterResponse{Agents: make([]api.ClusterAgent, agents)}
	for i := range snap.Agents {
		snap.Agents[i] = agent(i, fmt.Sprintf("r%d", i%10), 32, 65536, "[31000-31999]")
	}
	k := 0
	for _, a := range deployed {
		for j := range a.Instances {
			ag := &snap.Agents[k%agents]
			k++
			ag.Placed = append(ag.Placed, api.ClusterTask{ID: fmt.Sprintf("%s.%d", a.ID, j), AppID: a.ID, Cpus: a.Cpus, Mem: a.Mem, Ports: []int{31000 + len(ag.Placed)}})
			ag.Free.Cpus -= a.Cpus
			ag.Free.Mem -= a.Mem
		}
	}
	return snap
}

// BenchmarkCheck is plan-time feasibility of a 1k-app plan against 1k agents
// (target ≤ 100 ms): 700 creates (a third with UNIQUE hostname, some with
// rack constraints), 200 rolling restarts and 100 scale-ups of deployed apps,
// 3 instances each.
func BenchmarkCheck(b *testing.B) {
	p, snap := benchPlan(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Check(p, snap)
	}
	b.StopTimer()
	if n := len(Deadlocked(p)); n != 0 {
		b.Fatalf("%d deadlocks on a cluster with room for everything", n)
	}
}

// BenchmarkDecodeAndCheck is what feasibility adds to `stride plan` once the
// snapshot's bytes are in: decoding the 1k-agent snapshot (with its 900 apps'
// tasks) and the check.
func BenchmarkDecodeAndCheck(b *testing.B) {
	p, snap := benchPlan(b)
	data, err := json.Marshal(snap)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var s api.ClusterResponse
		if err := json.Unmarshal(data, &s); err != nil {
			b.Fatal(err)
		}
		Check(p, &s)
	}
}

// benchPlan is the plan and snapshot of the benchmarks.
func benchPlan(b *testing.B) (*engine.Plan, *api.ClusterResponse) {
	var desired, deployed []*engine.App
	for i := range 1000 {
		id := fmt.Sprintf("/bench/app-%04d", i)
		set := func(a *engine.App) {
			switch i % 3 {
			case 0:
				a.Constraints = cons("hostname:UNIQUE")
			case 1:
				a.Constraints = cons(fmt.Sprintf("rack:CLUSTER:r%d", i%10))
			}
		}
		d := mkApp(id, 3, set)
		switch {
		case i < 700:
		case i < 900:
			deployed = append(deployed, mkApp(id, 3, set))
			d.Cmd = "sleep 2000"
		default:
			deployed = append(deployed, mkApp(id, 3, set))
			d.Instances = 5
		}
		desired = append(desired, d)
	}
	p, diags := planner.Plan(&engine.Spec{Scope: "/", Apps: desired}, &engine.State{Apps: deployed}, planner.Options{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	return p, benchCluster(1000, deployed)
}
