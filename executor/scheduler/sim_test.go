package scheduler

import (
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// TestSimPlaceRelease: what a Place takes is gone for the next until Release
// gives it back; held resources (tasks already there) come back on release too.
func TestSimPlaceRelease(t *testing.T) {
	app := mkApp(func(a *engine.App) {
		a.Cpus = 2
		a.PortDefinitions = []engine.PortDefinition{{}}
	})
	held := []mesos.Resource{scalar("cpus", 2), scalar("mem", 128), portRange(31000, 31000)}
	sim := NewSim([]Agent{
		{ID: "a1", Hostname: "h1", Resources: []mesos.Resource{scalar("cpus", 2), scalar("mem", 1024), portRange(31001, 31001)}, Held: held},
	})
	steps := []struct {
		name     string
		do       func() (int, *Unplaced)
		wantN    int
		wantLeft bool
	}{
		{"the free half fits one", func() (int, *Unplaced) { p, u := sim.Place(Request{App: app, Count: 2}); return len(p), u }, 1, true},
		{"full now", func() (int, *Unplaced) { p, u := sim.Place(Request{App: app, Count: 1}); return len(p), u }, 0, true},
		{"the held task's room comes back", func() (int, *Unplaced) {
			sim.Release("a1", held)
			p, u := sim.Place(Request{App: app, Count: 1})
			if len(p) == 1 && (len(p[0].Ports) != 1 || p[0].Ports[0] != 31000) {
				t.Errorf("ports %v, want the released 31000", p[0].Ports)
			}
			return len(p), u
		}, 1, false},
		{"unknown agents are ignored", func() (int, *Unplaced) {
			sim.Release("nope", held)
			p, u := sim.Place(Request{App: app, Count: 1})
			return len(p), u
		}, 0, true},
	}
	for _, st := range steps {
		n, u := st.do()
		if n != st.wantN || (u != nil) != st.wantLeft {
			t.Fatalf("%s: placed %d (unplaced %+v), want %d (left %v)", st.name, n, u, st.wantN, st.wantLeft)
		}
	}
}

// TestSimDiagnose: the reason for instances left, in numbers, per kind.
func TestSimDiagnose(t *testing.T) {
	agents := func() []Agent {
		return []Agent{
			{ID: "a1", Hostname: "h1", Attributes: map[string]string{"rack": "r1"}, Resources: std()},
			{ID: "a2", Hostname: "h2", Attributes: map[string]string{"rack": "r2"}, Resources: std()},
		}
	}
	tests := map[string]struct {
		set  func(a *engine.App)
		n    int
		want Diagnosis
	}{
		"UNIQUE hostname": {func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") }, 3,
			Diagnosis{KindConstraint, "hostname:UNIQUE", "UNIQUE hostname needs 3 agents, 2 match"}},
		"UNIQUE attribute": {func(a *engine.App) { a.Constraints = cons("rack:UNIQUE") }, 3,
			Diagnosis{KindConstraint, "rack:UNIQUE", "UNIQUE rack needs 3 values of rack, 2 match"}},
		"MAX_PER": {func(a *engine.App) { a.Constraints = cons("rack:MAX_PER:1") }, 3,
			Diagnosis{KindConstraint, "rack:MAX_PER:1", "MAX_PER rack 1 holds at most 2 instances on the 2 values of rack that match, 3 needed"}},
		"GROUP_BY": {func(a *engine.App) { a.Constraints = cons("rack:GROUP_BY:3") }, 3,
			Diagnosis{KindConstraint, "rack:GROUP_BY:3", "GROUP_BY rack 3 waits for 3 values of rack, 2 match: at most 2 of 3 instances can run"}},
		"CLUSTER": {func(a *engine.App) { a.Constraints = cons("rack:CLUSTER:r9") }, 1,
			Diagnosis{KindAttribute, "rack:CLUSTER:r9", "rack:CLUSTER:r9: no agent has rack=r9 (values: r1, r2)"}},
		"IS without the attribute": {func(a *engine.App) { a.Constraints = cons("zone:IS:z1") }, 1,
			Diagnosis{KindAttribute, "zone:IS:z1", "zone:IS:z1: no agent has the attribute zone"}},
		"cpus": {func(a *engine.App) { a.Cpus = 4.5 }, 1,
			Diagnosis{KindResources, "", "needs 4.5 cpus per task, the largest agent has 4.0 free"}},
		"gpus": {func(a *engine.App) { a.Gpus = 1 }, 1,
			Diagnosis{KindResources, "", "needs 1 gpus per task, the largest agent has 0 free"}},
		"fixed port": {func(a *engine.App) {
			a.RequirePorts = true
			a.PortDefinitions = []engine.PortDefinition{{Port: 80}}
		}, 1, Diagnosis{KindPorts, "", "needs host port 80 per task (requirePorts), free on too few agents"}},
		"role": {func(a *engine.App) { a.AcceptedResourceRoles = []string{"db"} }, 1,
			Diagnosis{KindRole, "", `no agent offers resources role "*" may use (accepted roles db)`}},
		"bad constraint": {func(a *engine.App) { a.Constraints = cons("rack:MAX_PER:x") }, 1,
			Diagnosis{KindConstraint, "rack:MAX_PER:x", `constraint rack:MAX_PER:x: MAX_PER value "x" is not a positive integer`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			app := mkApp(tc.set)
			sim := NewSim(agents())
			_, u := sim.Place(Request{App: app, Count: tc.n})
			if u == nil {
				t.Fatal("all placed")
			}
			got := sim.Diagnose(app, tc.n, nil, u)
			if got != tc.want {
				t.Errorf("Diagnose\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
