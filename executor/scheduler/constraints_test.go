package scheduler

import (
	"slices"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// cluster5 is five agents: a1 r1/z1, a2 r1/z2, a3 r2/z1, a4 r3 (no zone),
// a5 (no rack, zone z2).
func cluster5() []mesos.Offer {
	return []mesos.Offer{
		mkOffer("a1", std(), "rack_id=r1", "zone=z1"),
		mkOffer("a2", std(), "rack_id=r1", "zone=z2"),
		mkOffer("a3", std(), "rack_id=r2", "zone=z1"),
		mkOffer("a4", std(), "rack_id=r3"),
		mkOffer("a5", std(), "zone=z2"),
	}
}

var rackOf = map[string]string{"a1": "r1", "a2": "r1", "a3": "r2", "a4": "r3"}

// perValue counts placements by a function of the host.
func perValue(ps []Placement, f func(host string) string) map[string]int {
	m := map[string]int{}
	for _, p := range ps {
		m[f(p.Hostname)]++
	}
	return m
}

func byHost(h string) string { return h }
func byRack(h string) string { return rackOf[h] }

func TestMatchConstraints(t *testing.T) {
	type check func(t *testing.T, ps []Placement, u *Unplaced)
	// only asserts every placement is on one of the hosts.
	only := func(allowed ...string) check {
		return func(t *testing.T, ps []Placement, _ *Unplaced) {
			for _, p := range ps {
				if !slices.Contains(allowed, p.Hostname) {
					t.Errorf("placed on %s, want only %v", p.Hostname, allowed)
				}
			}
		}
	}
	// counts asserts the placements per value of f.
	counts := func(f func(string) string, want map[string]int) check {
		return func(t *testing.T, ps []Placement, _ *Unplaced) {
			got := perValue(ps, f)
			if len(got) != len(want) {
				t.Errorf("per value = %v, want %v", got, want)
				return
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("per value = %v, want %v", got, want)
					return
				}
			}
		}
	}
	maxPer := func(f func(string) string, n int) check {
		return func(t *testing.T, ps []Placement, _ *Unplaced) {
			for k, v := range perValue(ps, f) {
				if v > n {
					t.Errorf("%d placements on %q, want at most %d", v, k, n)
				}
			}
		}
	}
	distinct := func(f func(string) string, n int) check {
		return func(t *testing.T, ps []Placement, _ *Unplaced) {
			if got := len(perValue(ps, f)); got != n {
				t.Errorf("%d distinct values (%v), want %d", got, perValue(ps, f), n)
			}
		}
	}
	unplaced := func(msg string) check {
		return func(t *testing.T, _ []Placement, u *Unplaced) {
			if u == nil {
				t.Fatalf("all placed, want unplaced %q", msg)
			}
			mustEqual(t, "message", u.Message, msg)
		}
	}
	allPlaced := func(t *testing.T, _ []Placement, u *Unplaced) {
		if u != nil {
			t.Errorf("unplaced: %s", u.Message)
		}
	}

	tests := map[string]struct {
		constraints []string
		running     []string // agents running a task already
		count       int
		placed      int
		checks      []check
	}{
		"UNIQUE hostname spreads": {
			constraints: []string{"hostname:UNIQUE"}, count: 5, placed: 5,
			checks: []check{allPlaced, distinct(byHost, 5)},
		},
		"@hostname is hostname": {
			constraints: []string{"@hostname:UNIQUE"}, running: []string{"a1"}, count: 5, placed: 4,
			checks: []check{only("a2", "a3", "a4", "a5"), distinct(byHost, 4)},
		},
		"UNIQUE hostname counts running tasks": {
			constraints: []string{"hostname:UNIQUE"}, running: []string{"a1", "a2"}, count: 3, placed: 3,
			checks: []check{only("a3", "a4", "a5"), distinct(byHost, 3)},
		},
		"UNIQUE hostname more instances than agents": {
			constraints: []string{"hostname:UNIQUE"}, count: 6, placed: 5,
			checks: []check{unplaced("1 of 6 instances unplaced: 5 agents considered; 5 excluded by constraint hostname:UNIQUE")},
		},
		"UNIQUE attribute; missing attribute excluded": {
			constraints: []string{"rack_id:UNIQUE"}, count: 4, placed: 3,
			checks: []check{distinct(byRack, 3), only("a1", "a2", "a3", "a4"),
				unplaced("1 of 4 instances unplaced: 5 agents considered; 5 excluded by constraint rack_id:UNIQUE")},
		},
		"CLUSTER with value": {
			constraints: []string{"rack_id:CLUSTER:r1"}, count: 4, placed: 4,
			checks: []check{only("a1", "a2"), counts(byHost, map[string]int{"a1": 2, "a2": 2})},
		},
		"CLUSTER without value follows the running task": {
			constraints: []string{"rack_id:CLUSTER"}, running: []string{"a3"}, count: 3, placed: 3,
			checks: []check{only("a3")},
		},
		"CLUSTER hostname without value gathers": {
			constraints: []string{"hostname:CLUSTER"}, count: 3, placed: 3,
			checks: []check{distinct(byHost, 1)},
		},
		"CLUSTER value nowhere": {
			constraints: []string{"rack_id:CLUSTER:r9"}, count: 2, placed: 0,
			checks: []check{unplaced("2 of 2 instances unplaced: 5 agents considered; 5 excluded by constraint rack_id:CLUSTER:r9")},
		},
		"GROUP_BY spreads evenly": {
			constraints: []string{"rack_id:GROUP_BY"}, count: 6, placed: 6,
			checks: []check{counts(byRack, map[string]int{"r1": 2, "r2": 2, "r3": 2}), only("a1", "a2", "a3", "a4")},
		},
		"GROUP_BY with expected groups fills new values first": {
			constraints: []string{"rack_id:GROUP_BY:3"}, running: []string{"a1", "a2"}, count: 2, placed: 2,
			checks: []check{only("a3", "a4"), distinct(byHost, 2)},
		},
		"GROUP_BY expecting more groups than exist stops": {
			constraints: []string{"rack_id:GROUP_BY:4"}, count: 4, placed: 3,
			checks: []check{distinct(byRack, 3),
				unplaced("1 of 4 instances unplaced: 5 agents considered; 5 excluded by constraint rack_id:GROUP_BY:4")},
		},
		"GROUP_BY waits for the least loaded value": {
			constraints: []string{"rack_id:GROUP_BY"}, running: []string{"a1", "a3", "a4", "a4"}, count: 2, placed: 2,
			checks: []check{counts(byRack, map[string]int{"r1": 1, "r2": 1})},
		},
		"LIKE": {
			constraints: []string{"rack_id:LIKE:r[12]"}, count: 6, placed: 6,
			checks: []check{only("a1", "a2", "a3"), counts(byHost, map[string]int{"a1": 2, "a2": 2, "a3": 2})},
		},
		"LIKE is a full match": {
			constraints: []string{"rack_id:LIKE:r"}, count: 1, placed: 0,
			checks: []check{unplaced("1 of 1 instance unplaced: 5 agents considered; 5 excluded by constraint rack_id:LIKE:r")},
		},
		"UNLIKE accepts a missing attribute": {
			constraints: []string{"rack_id:UNLIKE:r1"}, count: 3, placed: 3,
			checks: []check{only("a3", "a4", "a5"), distinct(byHost, 3)},
		},
		"MAX_PER": {
			constraints: []string{"zone:MAX_PER:2"}, count: 6, placed: 4,
			checks: []check{only("a1", "a2", "a3", "a5"), maxPer(func(h string) string {
				return map[string]string{"a1": "z1", "a2": "z2", "a3": "z1", "a5": "z2"}[h]
			}, 2), unplaced("2 of 6 instances unplaced: 5 agents considered; 5 excluded by constraint zone:MAX_PER:2")},
		},
		"MAX_PER counts running tasks": {
			constraints: []string{"rack_id:MAX_PER:1"}, running: []string{"a1"}, count: 3, placed: 2,
			checks: []check{only("a3", "a4")},
		},
		"IS": {
			constraints: []string{"zone:IS:z2"}, count: 2, placed: 2,
			checks: []check{only("a2", "a5"), distinct(byHost, 2)},
		},
		"UNIQUE hostname and GROUP_BY rack": {
			constraints: []string{"hostname:UNIQUE", "rack_id:GROUP_BY"}, count: 4, placed: 4,
			checks: []check{distinct(byHost, 4), counts(byRack, map[string]int{"r1": 2, "r2": 1, "r3": 1})},
		},
		"reasons in constraint order, most frequent first": {
			constraints: []string{"zone:LIKE:z1", "hostname:UNIQUE"}, running: []string{"a1"}, count: 2, placed: 1,
			checks: []check{only("a3"), unplaced("1 of 2 instances unplaced: 5 agents considered; 3 excluded by constraint zone:LIKE:z1, 2 by constraint hostname:UNIQUE")},
		},
		"no constraints spreads over hosts": {
			count: 10, placed: 10,
			checks: []check{allPlaced, counts(byHost, map[string]int{"a1": 2, "a2": 2, "a3": 2, "a4": 2, "a5": 2})},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for seed := int64(1); seed <= 5; seed++ {
				offers := cluster5()
				app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 0.1, 16; a.Constraints = cons(tc.constraints...) })
				res := Match(offers, []Request{{App: app, Count: tc.count, Running: running(offers, tc.running...)}}, Options{Seed: seed})
				ps, u := res.Placements[0], res.Unplaced[0]
				if len(ps) != tc.placed {
					t.Fatalf("seed %d: placed %d (%v), want %d; unplaced: %+v", seed, len(ps), hosts(ps), tc.placed, u)
				}
				if (u == nil) != (tc.placed == tc.count) {
					t.Fatalf("seed %d: unplaced = %+v with %d of %d placed", seed, u, len(ps), tc.count)
				}
				if u != nil {
					mustEqual(t, "Unplaced.Count", u.Count, tc.count-tc.placed)
					mustEqual(t, "AgentsConsidered", u.AgentsConsidered, 5)
				}
				for _, c := range tc.checks {
					c(t, ps, u)
				}
			}
		})
	}
}

func TestViolators(t *testing.T) {
	tests := map[string]struct {
		constraints []string
		running     []string
		want        []int
	}{
		"no constraints":                  {nil, []string{"a1", "a1"}, nil},
		"UNIQUE hostname: later ones":     {[]string{"hostname:UNIQUE"}, []string{"a1", "a1", "a2", "a1"}, []int{1, 3}},
		"UNIQUE attribute, missing":       {[]string{"rack_id:UNIQUE"}, []string{"a1", "a2", "a3", "a5"}, []int{1, 3}},
		"MAX_PER beyond the first n":      {[]string{"rack_id:MAX_PER:2"}, []string{"a1", "a2", "a1", "a3"}, []int{2}},
		"CLUSTER without value: first":    {[]string{"rack_id:CLUSTER"}, []string{"a3", "a1", "a3"}, []int{1}},
		"CLUSTER first lacks attribute":   {[]string{"rack_id:CLUSTER"}, []string{"a5", "a1", "a3", "a2"}, []int{0, 2}},
		"CLUSTER with value":              {[]string{"rack_id:CLUSTER:r1"}, []string{"a3", "a1", "a5"}, []int{0, 2}},
		"LIKE":                            {[]string{"rack_id:LIKE:r[12]"}, []string{"a4", "a1", "a5"}, []int{0, 2}},
		"UNLIKE keeps missing":            {[]string{"rack_id:UNLIKE:r1"}, []string{"a1", "a5", "a3"}, []int{0}},
		"IS":                              {[]string{"zone:IS:z1"}, []string{"a1", "a2", "a4"}, []int{1, 2}},
		"GROUP_BY uneven":                 {[]string{"rack_id:GROUP_BY"}, []string{"a1", "a1", "a1", "a1", "a3", "a4"}, []int{2, 3}},
		"GROUP_BY even":                   {[]string{"rack_id:GROUP_BY"}, []string{"a1", "a3", "a1", "a3"}, nil},
		"GROUP_BY expected groups":        {[]string{"rack_id:GROUP_BY:3"}, []string{"a1", "a1", "a1", "a3"}, []int{2}},
		"GROUP_BY all on one value":       {[]string{"rack_id:GROUP_BY"}, []string{"a1", "a2", "a1"}, nil},
		"GROUP_BY missing attribute":      {[]string{"rack_id:GROUP_BY"}, []string{"a5", "a1"}, []int{0}},
		"greedy: UNIQUE spares MAX_PER":   {[]string{"hostname:UNIQUE", "rack_id:MAX_PER:2"}, []string{"a1", "a1", "a2", "a3"}, []int{1}},
		"union over constraints":          {[]string{"hostname:UNIQUE", "zone:IS:z1"}, []string{"a1", "a1", "a2", "a3"}, []int{1, 2}},
		"invalid constraint judges none":  {[]string{"rack_id:MAX_PER:x"}, []string{"a1", "a1"}, nil},
		"GROUP_BY after UNIQUE survivors": {[]string{"hostname:UNIQUE", "rack_id:GROUP_BY"}, []string{"a1", "a1", "a2", "a3", "a2"}, []int{1, 4}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			offers := cluster5()
			app := mkApp(func(a *engine.App) { a.Constraints = cons(tc.constraints...) })
			got := Violators(app, running(offers, tc.running...))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Violators = %v, want %v", got, tc.want)
			}
		})
	}
}

// After replacing the violators, Match puts the replacements where the
// constraints want them: the two ends of the round trip agree.
func TestViolatorsThenMatch(t *testing.T) {
	offers := cluster5()
	app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 0.1, 16; a.Constraints = cons("rack_id:GROUP_BY") })
	run := running(offers, "a1", "a1", "a1", "a1", "a3", "a4")
	bad := Violators(app, run)
	var keep []Running
	for i, r := range run {
		if !slices.Contains(bad, i) {
			keep = append(keep, r)
		}
	}
	res := Match(offers, []Request{{App: app, Count: len(bad), Running: keep}}, Options{Seed: 3})
	if res.Unplaced[0] != nil {
		t.Fatal(res.Unplaced[0].Message)
	}
	got := perValue(res.Placements[0], byRack)
	if got["r2"] != 1 || got["r3"] != 1 {
		t.Errorf("replacements per rack = %v, want one on r2 and one on r3", got)
	}
	if v := Violators(app, append(keep, running(offers, hosts(res.Placements[0])...)...)); len(v) != 0 {
		t.Errorf("violators after the restart: %v", v)
	}
}

func TestNewChecker(t *testing.T) {
	tests := map[string]struct {
		c       string
		wantErr string
	}{
		"unknown operator":     {"rack_id:NEAR:x", `constraint rack_id:NEAR:x: unknown operator "NEAR"`},
		"MAX_PER not a number": {"rack_id:MAX_PER:x", `constraint rack_id:MAX_PER:x: MAX_PER value "x" is not a positive integer`},
		"MAX_PER zero":         {"rack_id:MAX_PER:0", `constraint rack_id:MAX_PER:0: MAX_PER value "0" is not a positive integer`},
		"GROUP_BY negative":    {"rack_id:GROUP_BY:-1", `constraint rack_id:GROUP_BY:-1: GROUP_BY value "-1" is not a non-negative integer`},
		"LIKE without value":   {"rack_id:LIKE", "constraint rack_id:LIKE: LIKE needs a regular expression"},
		"LIKE bad regexp":      {"rack_id:LIKE:(", "constraint rack_id:LIKE:(: error parsing regexp: missing closing ): `^(?:()$`"},
		"IS without value":     {"rack_id:IS", "constraint rack_id:IS: IS needs a value"},
		"UNIQUE":               {"hostname:UNIQUE", ""},
		"GROUP_BY no value":    {"rack_id:GROUP_BY", ""},
		"CLUSTER no value":     {"rack_id:CLUSTER", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := NewChecker(cons(tc.c)[0], NewTally())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				mustEqual(t, "String()", c.String(), tc.c)
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			mustEqual(t, "error", err.Error(), tc.wantErr)
		})
	}
}

// Statuses per operator against a tally holding r1 ×2, r2 ×1 and one task
// without the attribute.
func TestCheckerStatus(t *testing.T) {
	type probe struct {
		value string
		ok    bool
		want  Status
	}
	tests := map[string][]probe{
		"rack_id:UNIQUE":       {{"r1", true, NotHere}, {"r3", true, Fits}, {"", false, Never}},
		"rack_id:MAX_PER:2":    {{"r1", true, NotHere}, {"r2", true, Fits}, {"", false, Never}},
		"rack_id:CLUSTER":      {{"r1", true, Fits}, {"r2", true, NotHere}, {"", false, Never}},
		"rack_id:CLUSTER:r2":   {{"r2", true, Fits}, {"r1", true, Never}},
		"rack_id:GROUP_BY":     {{"r2", true, Fits}, {"r1", true, NotYet}, {"r3", true, Fits}, {"", false, Never}},
		"rack_id:GROUP_BY:3":   {{"r2", true, NotYet}, {"r3", true, Fits}},
		"rack_id:LIKE:r[1-2]":  {{"r1", true, Fits}, {"r3", true, Never}, {"xr1", true, Never}, {"", false, Never}},
		"rack_id:UNLIKE:r[12]": {{"r1", true, Never}, {"r3", true, Fits}, {"", false, Fits}},
		"rack_id:IS:r1":        {{"r1", true, Fits}, {"r10", true, Never}, {"", false, Never}},
	}
	for spec, probes := range tests {
		t.Run(spec, func(t *testing.T) {
			tl := NewTally()
			tl.Add("r1", true)
			tl.Add("r2", true)
			tl.Add("", false)
			tl.Add("r1", true)
			c, err := NewChecker(cons(spec)[0], tl)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range probes {
				if got := c.Check(p.value, p.ok); got != p.want {
					t.Errorf("Check(%q, %v) = %v, want %v", p.value, p.ok, got, p.want)
				}
			}
		})
	}
}

// The tally's incremental minimum agrees with a recount after every Add.
func TestTallyMin(t *testing.T) {
	tl := NewTally()
	seq := []string{"a", "a", "b", "c", "b", "c", "a", "c", "b", "d", "d", "d", "d"}
	seen := map[string]int{}
	for i, v := range seq {
		tl.Add(v, true)
		seen[v]++
		want := -1
		for _, c := range seen {
			if want < 0 || c < want {
				want = c
			}
		}
		if int(tl.min) != want || tl.Groups() != len(seen) {
			t.Fatalf("after %d adds: min %d groups %d, want %d and %d", i+1, tl.min, tl.Groups(), want, len(seen))
		}
	}
}
