package scheduler

import (
	"fmt"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

func TestFeasible(t *testing.T) {
	agent := func(id, rack string, res ...mesos.Resource) Agent {
		if res == nil {
			res = std()
		}
		a := Agent{ID: id, Hostname: id + ".example", Resources: res}
		if rack != "" {
			a.Attributes = map[string]string{"rack_id": rack}
		}
		return a
	}
	three := []Agent{agent("a1", "r1"), agent("a2", "r1"), agent("a3", "r2")}
	small := []mesos.Resource{scalar("cpus", 4), scalar("mem", 64), portRange(1, 10)}
	tests := map[string]struct {
		constraints []string
		set         func(a *engine.App)
		n           int
		agents      []Agent
		want        string // "" = feasible
	}{
		"fits":             {[]string{"hostname:UNIQUE"}, nil, 3, three, ""},
		"nothing to place": {[]string{"hostname:UNIQUE"}, nil, 0, nil, ""},
		"UNIQUE needs more agents": {[]string{"hostname:UNIQUE"}, nil, 4, three,
			"hostname:UNIQUE: 4 instances need 4 distinct values of hostname; the agents that can take the app have 3"},
		"UNIQUE counts only agents with room": {[]string{"hostname:UNIQUE"}, nil, 3,
			[]Agent{agent("a1", "r1"), agent("a2", "r1", small...), agent("a3", "r2")},
			"hostname:UNIQUE: 3 instances need 3 distinct values of hostname; the agents that can take the app have 2"},
		"UNIQUE counts only agents other constraints allow": {[]string{"hostname:UNIQUE", "rack_id:LIKE:r1"}, nil, 3, three,
			"hostname:UNIQUE: 3 instances need 3 distinct values of hostname; the agents that can take the app have 2"},
		"MAX_PER": {[]string{"rack_id:MAX_PER:1"}, nil, 3, three,
			"rack_id:MAX_PER:1: at most 2 instances fit on the 2 values of rack_id the agents that can take the app have; 3 needed"},
		"GROUP_BY expecting absent groups": {[]string{"rack_id:GROUP_BY:3"}, nil, 3, three,
			"rack_id:GROUP_BY:3: waits for 3 distinct values of rack_id but the agents that can take the app have 2, so at most 2 of 3 instances can be placed"},
		"GROUP_BY expecting absent groups, few instances": {[]string{"rack_id:GROUP_BY:3"}, nil, 2, three, ""},
		"resources run out": {nil, func(a *engine.App) { a.Cpus = 3 }, 4, three,
			"1 of 4 instances unplaced: 3 agents considered; 3 excluded by InsufficientCpus"},
		"no agent matches": {[]string{"rack_id:LIKE:x"}, nil, 1, three,
			"1 of 1 instance unplaced: 3 agents considered; 3 excluded by constraint rack_id:LIKE:x"},
		"invalid constraint": {[]string{"rack_id:MAX_PER:x"}, nil, 1, three,
			`constraint rack_id:MAX_PER:x: MAX_PER value "x" is not a positive integer`},
		"no agents": {nil, nil, 2, nil, "2 of 2 instances unplaced: 0 agents considered"},
		"CLUSTER tries the value with most agents": {[]string{"rack_id:CLUSTER"}, func(a *engine.App) { a.Cpus = 2 }, 4,
			[]Agent{agent("a0", "r2"), agent("a1", "r1"), agent("a2", "r1")}, ""},
		"CLUSTER tries every value": {[]string{"rack_id:CLUSTER"}, func(a *engine.App) { a.Cpus = 2 }, 5,
			[]Agent{agent("a0", "r2", scalar("cpus", 10), scalar("mem", 4096), portRange(1, 9)), agent("a1", "r1"), agent("a2", "r1")}, ""},
		"CLUSTER too small everywhere": {[]string{"rack_id:CLUSTER"}, func(a *engine.App) { a.Cpus = 2 }, 5, three,
			"1 of 5 instances unplaced: 3 agents considered; 2 excluded by InsufficientCpus, 1 by constraint rack_id:CLUSTER:r1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			app := mkApp(func(a *engine.App) {
				a.Constraints = cons(tc.constraints...)
				if tc.set != nil {
					tc.set(a)
				}
			})
			ok, why := Feasible(app, tc.n, tc.agents)
			if ok != (tc.want == "") {
				t.Fatalf("Feasible = %v (%q), want %v", ok, why, tc.want == "")
			}
			mustEqual(t, "why", why, tc.want)
		})
	}
}

func TestAttributeValue(t *testing.T) {
	tests := map[string]struct {
		attr mesos.Attribute
		want string
	}{
		"text":             {mesos.Attribute{Name: "a", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: "rack-1"}}, "rack-1"},
		"scalar integer":   {mesos.Attribute{Name: "a", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 8}}, "8"},
		"scalar large":     {mesos.Attribute{Name: "a", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 1234567}}, "1234567"},
		"scalar fraction":  {mesos.Attribute{Name: "a", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 2.5}}, "2.5"},
		"scalar 3 decimal": {mesos.Attribute{Name: "a", Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: 0.12345}}, "0.123"},
		"ranges sorted": {mesos.Attribute{Name: "a", Type: mesos.RANGES, Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 300, End: 400}, {Begin: 100, End: 200}}}},
			"[100-200,300-400]"},
		"set sorted": {mesos.Attribute{Name: "a", Type: mesos.SET, Set: &mesos.Value_Set{Item: []string{"c", "a", "b"}}}, "{a,b,c}"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mustEqual(t, "AttributeValue", AttributeValue(tc.attr), tc.want)
		})
	}
	m := Attributes(append(textAttrs("rack_id=r1", "zone=z1"), textAttrs("rack_id=r2")...))
	mustEqual(t, "Attributes", fmt.Sprint(m), "map[rack_id:r1 zone:z1]")
}
