package feasibility

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/planner"
)

// agent is a snapshot agent with the given free resources; rack "" means no
// rack attribute.
func agent(n int, rack string, cpus, mem float64, ports string) api.ClusterAgent {
	a := api.ClusterAgent{
		ID: fmt.Sprintf("agent-%d", n), Hostname: fmt.Sprintf("host-%d", n), Active: true,
		AttributeValues: map[string]string{},
		Free:            api.AgentResources{Cpus: cpus, Mem: mem, Disk: 1000, Ports: ports},
	}
	if rack != "" {
		a.AttributeValues["rack"] = rack
	}
	return a
}

// withTasks places n tasks of app (each 1 cpu, 128 MB, one port from 31000+)
// on the agent.
func withTasks(a api.ClusterAgent, app string, n int) api.ClusterAgent {
	for i := range n {
		a.Placed = append(a.Placed, api.ClusterTask{ID: fmt.Sprintf("%s.%s.%d", strings.Trim(app, "/"), a.ID, i), AppID: app,
			Cpus: 1, Mem: 128, Ports: []int{31000 + i}})
	}
	return a
}

func mkApp(id string, instances int, set func(a *engine.App)) *engine.App {
	a := engine.NewApp(id)
	a.Cmd = "sleep 1000"
	a.Instances = instances
	a.Cpus, a.Mem = 1, 128
	a.ApplyDefaults()
	a.PortDefinitions = []engine.PortDefinition{{Port: 0}}
	if set != nil {
		set(a)
	}
	return a
}

func cons(specs ...string) []engine.Constraint {
	var out []engine.Constraint
	for _, s := range specs {
		p := strings.SplitN(s, ":", 3)
		c := engine.Constraint{Field: p[0], Operator: p[1]}
		if len(p) == 3 {
			c.Value = p[2]
		}
		out = append(out, c)
	}
	return out
}

func three() []api.ClusterAgent {
	return []api.ClusterAgent{
		agent(1, "r1", 4, 4096, "[31000-31099]"),
		agent(2, "r1", 4, 4096, "[31000-31099]"),
		agent(3, "r2", 4, 4096, "[31000-31099]"),
	}
}

// plan makes the plan of the desired apps against the deployed ones.
func plan(t *testing.T, desired, deployed []*engine.App) *engine.Plan {
	t.Helper()
	p, diags := planner.Plan(&engine.Spec{Scope: "/", Apps: desired}, &engine.State{Apps: deployed}, planner.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func TestCheck(t *testing.T) {
	type want struct {
		id       string
		kind     string
		deadlock bool
		running  int
		message  string
	}
	deployed3 := func(set func(a *engine.App)) []*engine.App { return []*engine.App{mkApp("/web", 3, set)} }
	loaded := func() []api.ClusterAgent {
		ag := three()
		for i := range ag {
			ag[i] = withTasks(ag[i], "/web", 1)
			ag[i].Free.Cpus = 0 // each agent full with the web task
		}
		return ag
	}
	tests := map[string]struct {
		agents   []api.ClusterAgent
		desired  []*engine.App
		deployed []*engine.App
		want     []want
	}{
		"fits": {three(), []*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })}, nil, nil},
		"UNIQUE deadlock": {three(), []*engine.App{mkApp("/web", 4, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })}, nil,
			[]want{{"/web", "constraint", true, 3, "will deadlock: UNIQUE hostname needs 4 agents, 3 match; 3 of 4 instances will run"}}},
		"UNIQUE deadlock on agents with room for one each": {func() []api.ClusterAgent {
			ag := three()
			for i := range ag {
				ag[i].Free.Cpus = 1
			}
			return ag
		}(), []*engine.App{mkApp("/web", 4, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })}, nil,
			[]want{{"/web", "constraint", true, 3, "will deadlock: UNIQUE hostname needs 4 agents, 3 match; 3 of 4 instances will run"}}},
		"cpus": {three(), []*engine.App{mkApp("/big", 1, func(a *engine.App) { a.Cpus = 6 })}, nil,
			[]want{{"/big", "resources", true, 0, "will deadlock: needs 6.0 cpus per task, the largest agent has 4.0 free; 0 of 1 instance will run"}}},
		"mem adds up but not per agent": {three(), []*engine.App{mkApp("/mem", 4, func(a *engine.App) { a.Mem = 3000 })}, nil,
			[]want{{"/mem", "resources", true, 3, "will deadlock: needs 3000 MB mem per task, the largest agent has 1096 MB free; 3 of 4 instances will run"}}},
		"ports": {[]api.ClusterAgent{agent(1, "", 4, 4096, "[31000-31000]")},
			[]*engine.App{mkApp("/two", 1, func(a *engine.App) { a.PortDefinitions = []engine.PortDefinition{{}, {}} })}, nil,
			[]want{{"/two", "ports", true, 0, "will deadlock: needs 2 ports per task, no agent has 2 free ports in its range (the most any has: 1); 0 of 1 instance will run"}}},
		"ports range full": {[]api.ClusterAgent{agent(1, "", 4, 4096, "")},
			[]*engine.App{mkApp("/one", 1, nil)}, nil,
			[]want{{"/one", "ports", true, 0, "will deadlock: needs 1 port per task, no agent has 1 free port in its range (the most any has: 0); 0 of 1 instance will run"}}},
		"CLUSTER value nobody has": {three(), []*engine.App{mkApp("/r9", 1, func(a *engine.App) { a.Constraints = cons("rack:CLUSTER:r9") })}, nil,
			[]want{{"/r9", "attribute", true, 0, "will deadlock: rack:CLUSTER:r9: no agent has rack=r9 (values: r1, r2); 0 of 1 instance will run"}}},
		"IS attribute nobody has": {three(), []*engine.App{mkApp("/gpu", 1, func(a *engine.App) { a.Constraints = cons("gpu:IS:true") })}, nil,
			[]want{{"/gpu", "attribute", true, 0, "will deadlock: gpu:IS:true: no agent has the attribute gpu; 0 of 1 instance will run"}}},
		"restart kills first": {loaded(),
			[]*engine.App{mkApp("/web", 3, func(a *engine.App) {
				a.Cmd = "sleep 2000"
				a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.5}
			})},
			deployed3(nil),
			[]want{{"/web", "kill_first", false, 3, "rolling restart needs 1 spare slot for maximum_over_capacity = 0.5, none free: it will progress one at a time by killing first"}}},
		"restart with no room and full health deadlocks": {loaded(),
			[]*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Cmd = "sleep 2000" })},
			deployed3(nil),
			[]want{{"/web", "resources", true, 0, "will deadlock: the rolling restart cannot start a new task (needs 1.0 cpus per task, the largest agent has 0.0 free) and minimum_health_capacity = 1 keeps the 3 old tasks until they are replaced; 0 of 3 new instances will run"}}},
		"UNIQUE restart on every agent deadlocks": {func() []api.ClusterAgent {
			ag := three()
			for i := range ag {
				ag[i] = withTasks(ag[i], "/web", 1)
			}
			return ag
		}(),
			[]*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Cmd = "sleep 2000"; a.Constraints = cons("hostname:UNIQUE") })},
			deployed3(func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") }),
			[]want{{"/web", "constraint", true, 0, "will deadlock: the rolling restart cannot start a new task (UNIQUE hostname needs 4 agents, 3 match) and minimum_health_capacity = 1 keeps the 3 old tasks until they are replaced; 0 of 3 new instances will run"}}},
		"a constraint-only restart with nothing violating": {func() []api.ClusterAgent {
			ag := three()
			for i := range ag {
				ag[i] = withTasks(ag[i], "/web", 1)
			}
			return ag
		}(),
			[]*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })},
			deployed3(nil), nil},
		"a constraint-only restart whose violator has nowhere to go": {func() []api.ClusterAgent {
			ag := three()[:2]
			ag[0] = withTasks(ag[0], "/web", 2)
			ag[1] = withTasks(ag[1], "/web", 1)
			return ag
		}(),
			[]*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })},
			deployed3(nil),
			[]want{{"/web", "constraint", true, 2, "will deadlock: the rolling restart cannot start a new task (UNIQUE hostname needs 3 agents, 2 match) and minimum_health_capacity = 1 keeps the 1 old task until it is replaced; 2 of 3 new instances will run"}}},
		"a destroy frees room for a later create": {loaded(),
			[]*engine.App{mkApp("/api", 3, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })},
			deployed3(nil), nil},
		"a scale-down frees first": {loaded(),
			[]*engine.App{mkApp("/web", 1, nil), mkApp("/api", 2, nil)},
			deployed3(nil), nil},
		"a scale-up counts the running tasks": {func() []api.ClusterAgent {
			ag := three()
			for i := range ag {
				ag[i] = withTasks(ag[i], "/web", 1)
			}
			return ag
		}(),
			[]*engine.App{mkApp("/web", 4, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })},
			deployed3(func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") }),
			[]want{{"/web", "constraint", true, 3, "will deadlock: UNIQUE hostname needs 4 agents, 3 match; 3 of 4 instances will run"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := plan(t, tc.desired, tc.deployed)
			Check(p, &api.ClusterResponse{Agents: tc.agents})
			if p.Feasibility == nil || !p.Feasibility.Checked || p.Feasibility.Agents != len(tc.agents) {
				t.Fatalf("Feasibility = %+v", p.Feasibility)
			}
			var got []want
			for _, c := range p.Changes {
				for _, w := range c.Warnings {
					got = append(got, want{c.ID, w.Kind, w.Deadlock, w.Running, w.Message})
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("warnings\n got %+v\nwant %+v", got, tc.want)
			}
			var dl []string
			for _, w := range tc.want {
				if w.deadlock {
					dl = append(dl, w.id)
				}
			}
			if fmt.Sprint(Deadlocked(p)) != fmt.Sprint(dl) {
				t.Errorf("Deadlocked = %v, want %v", Deadlocked(p), dl)
			}
		})
	}
}

// TestCheckInactiveAgents: agents the master reports inactive take nothing.
func TestCheckInactiveAgents(t *testing.T) {
	ag := three()
	ag[2].Active = false
	p := plan(t, []*engine.App{mkApp("/web", 3, func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") })}, nil)
	Check(p, &api.ClusterResponse{Agents: ag})
	if len(p.Changes[0].Warnings) != 1 || p.Changes[0].Warnings[0].Running != 2 {
		t.Fatalf("warnings %+v", p.Changes[0].Warnings)
	}
}

// TestCheckDeterministic: the same plan and snapshot give the same warnings.
func TestCheckDeterministic(t *testing.T) {
	mk := func() string {
		var apps []*engine.App
		for i := range 20 {
			apps = append(apps, mkApp(fmt.Sprintf("/a%02d", i), 2, func(a *engine.App) { a.Cpus = 1.5 }))
		}
		p := plan(t, apps, nil)
		Check(p, &api.ClusterResponse{Agents: three()})
		return fmt.Sprint(p.Changes[len(p.Changes)-1].Warnings)
	}
	first := mk()
	if !strings.Contains(first, "deadlock") {
		t.Fatalf("expected the last app to find the cluster full: %s", first)
	}
	for range 5 {
		if got := mk(); got != first {
			t.Fatalf("warnings differ between runs:\n%s\n%s", got, first)
		}
	}
}
