package scheduler

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fleet is n agents "agent-000"... with racks r0..r3 and zones z0..z2, and 2 cpus.
func fleet(n int) []mesos.Offer {
	offers := make([]mesos.Offer, n)
	for i := range offers {
		id := fmt.Sprintf("agent-%03d", i)
		offers[i] = mkOffer(id, []mesos.Resource{scalar("cpus", 2), scalar("mem", 2048), portRange(31000, 31009)},
			fmt.Sprintf("rack_id=r%d", i%4), fmt.Sprintf("zone=z%d", i%3))
	}
	return offers
}

func mixedRequests() []Request {
	web := mkApp(func(a *engine.App) {
		a.ID = "/web"
		a.Cpus, a.Mem = 0.5, 256
		a.Constraints = cons("hostname:UNIQUE", "rack_id:GROUP_BY:4")
	})
	db := mkApp(func(a *engine.App) {
		a.ID = "/db"
		a.Cpus, a.Mem = 1.5, 1024
		a.RequirePorts = true
		a.PortDefinitions = []engine.PortDefinition{{Port: 31005}, {Port: 0}}
		a.Constraints = cons("zone:MAX_PER:2")
	})
	batch := mkApp(func(a *engine.App) { a.ID = "/batch"; a.Cpus, a.Mem = 1, 512 })
	return []Request{
		{App: web, Count: 6},
		{App: db, Count: 8},
		{App: batch, Count: 12},
	}
}

func TestMatchGolden(t *testing.T) {
	got := render(Match(fleet(10), mixedRequests(), Options{Seed: 42}))
	path := filepath.Join("testdata", "match.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Match output differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

func TestDeterminism(t *testing.T) {
	for seed := int64(0); seed < 20; seed++ {
		first := render(Match(fleet(20), mixedRequests(), Options{Seed: seed}))
		if again := render(Match(fleet(20), mixedRequests(), Options{Seed: seed})); again != first {
			t.Fatalf("seed %d: two runs differ:\n%s\n---\n%s", seed, first, again)
		}
		// The order of the offers does not change where instances go.
		shuffled := fleet(20)
		rand.New(rand.NewPCG(uint64(seed), 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		a := Match(fleet(20), mixedRequests(), Options{Seed: seed})
		b := Match(shuffled, mixedRequests(), Options{Seed: seed})
		a.Used, a.Unused, b.Used, b.Unused = nil, nil, nil, nil
		if render(a) != render(b) {
			t.Fatalf("seed %d: offer order changed the placements", seed)
		}
	}
	// And the seed does matter: ties are broken differently.
	differ := false
	base := render(Match(fleet(20), mixedRequests(), Options{Seed: 0}))
	for seed := int64(1); seed < 5 && !differ; seed++ {
		differ = render(Match(fleet(20), mixedRequests(), Options{Seed: seed})) != base
	}
	if !differ {
		t.Error("seeds 0..4 all give the same placements")
	}
}

func TestUsedUnused(t *testing.T) {
	offers := fleet(5)
	app := mkApp(func(a *engine.App) { a.Constraints = cons("rack_id:IS:r1") })
	res := Match(offers, []Request{{App: app, Count: 3}}, Options{Seed: 1})
	// Only agent-001 is on r1; it holds two 1-cpu instances.
	if !slices.Equal(res.Used, []string{"o-agent-001"}) {
		t.Errorf("Used = %v", res.Used)
	}
	if !slices.Equal(res.Unused, []string{"o-agent-000", "o-agent-002", "o-agent-003", "o-agent-004"}) {
		t.Errorf("Unused = %v", res.Unused)
	}
	mustEqual(t, "message", res.Unplaced[0].Message,
		"1 of 3 instances unplaced: 5 agents considered; 4 excluded by constraint rack_id:IS:r1, 1 by InsufficientCpus")
}

func TestUnplacedMessages(t *testing.T) {
	tests := map[string]struct {
		offers []mesos.Offer
		reqs   []Request
		want   []string // per request; "" = all placed
	}{
		"no offers": {
			reqs: []Request{{App: mkApp(nil), Count: 3}},
			want: []string{"3 of 3 instances unplaced: 0 agents considered"},
		},
		"invalid constraint": {
			offers: fleet(2),
			reqs:   []Request{{App: mkApp(func(a *engine.App) { a.Constraints = cons("rack_id:MAX_PER:x") }), Count: 2}},
			want:   []string{`2 of 2 instances unplaced: constraint rack_id:MAX_PER:x: MAX_PER value "x" is not a positive integer`},
		},
		"no app": {
			offers: fleet(1),
			reqs:   []Request{{Count: 1}},
			want:   []string{"1 of 1 instance unplaced: request without an app"},
		},
		"zero count is placed": {
			offers: fleet(1),
			reqs:   []Request{{App: mkApp(nil), Count: 0}},
			want:   []string{""},
		},
		"several reasons, most frequent first": {
			offers: []mesos.Offer{
				mkOffer("a1", []mesos.Resource{scalar("cpus", 4), scalar("mem", 64), portRange(1, 9)}),
				mkOffer("a2", []mesos.Resource{scalar("cpus", 4), scalar("mem", 64), portRange(1, 9)}),
				mkOffer("a3", []mesos.Resource{reserved("x", scalar("cpus", 4))}),
				mkOffer("a4", std()),
				mkOffer("a5", std()),
			},
			reqs: []Request{{App: mkApp(func(a *engine.App) { a.Cpus = 3; a.Constraints = cons("hostname:LIKE:a[1-4]") }), Count: 2}},
			want: []string{"1 of 2 instances unplaced: 5 agents considered; 2 excluded by InsufficientMemory, 1 by UnfulfilledRole, 1 by constraint hostname:LIKE:a[1-4], 1 by InsufficientCpus"},
		},
		"later requests see earlier placements of the same app": {
			offers: fleet(3),
			reqs: []Request{
				{App: mkApp(func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") }), Count: 2},
				{App: mkApp(func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE") }), Count: 2},
			},
			want: []string{"", "1 of 2 instances unplaced: 3 agents considered; 3 excluded by constraint hostname:UNIQUE"},
		},
		"later requests get what earlier ones left": {
			offers: fleet(2),
			reqs: []Request{
				{App: mkApp(func(a *engine.App) { a.ID = "/a"; a.Cpus = 1.5 }), Count: 2},
				{App: mkApp(func(a *engine.App) { a.ID = "/b"; a.Cpus = 1 }), Count: 1},
			},
			want: []string{"", "1 of 1 instance unplaced: 2 agents considered; 2 excluded by InsufficientCpus"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := Match(tc.offers, tc.reqs, Options{Seed: 7})
			for i, want := range tc.want {
				u := res.Unplaced[i]
				switch {
				case want == "" && u != nil:
					t.Errorf("request %d: unplaced: %s", i, u.Message)
				case want != "" && u == nil:
					t.Errorf("request %d: all placed, want %q", i, want)
				case u != nil:
					mustEqual(t, fmt.Sprintf("request %d message", i), u.Message, want)
				}
			}
		})
	}
}

func TestRejectionFields(t *testing.T) {
	offers := cluster5()
	app := mkApp(func(a *engine.App) { a.Mem = 5000; a.Constraints = cons("rack_id:LIKE:r[12]") })
	_, u := one(offers, app, 1, Options{})
	want := []Rejection{
		{Reason: ReasonInsufficientMemory, Agents: 3},
		{Reason: ReasonUnfulfilledConstraint, Constraint: "rack_id:LIKE:r[12]", Agents: 2},
	}
	if !slices.Equal(u.Rejections, want) {
		t.Errorf("Rejections = %+v, want %+v", u.Rejections, want)
	}
	// Each agent is named under its reason, as the tally counts it.
	count := map[string]int{}
	for _, r := range u.AgentReasons {
		count[r]++
	}
	if len(u.AgentReasons) != 5 || count[ReasonInsufficientMemory] != 3 || count[ReasonUnfulfilledConstraint] != 2 {
		t.Errorf("AgentReasons = %v", u.AgentReasons)
	}
}

// A request whose only feasible agents lie far beyond any sample is still
// placed: the walk does not give up after a bounded number of agents.
func TestSamplingFallsBackToFullScan(t *testing.T) {
	offers := fleet(500)
	app := mkApp(func(a *engine.App) { a.Constraints = cons("hostname:LIKE:agent-(123|456)") })
	for seed := int64(0); seed < 10; seed++ {
		ps, u := one(offers, app, 4, Options{Seed: seed})
		if u != nil {
			t.Fatalf("seed %d: %s", seed, u.Message)
		}
		got := hosts(ps)
		slices.Sort(got)
		if !slices.Equal(got, []string{"agent-123", "agent-123", "agent-456", "agent-456"}) {
			t.Fatalf("seed %d: placed on %v", seed, got)
		}
	}
}

func TestInvalidRequestRejections(t *testing.T) {
	res := Match(fleet(2), []Request{
		{App: mkApp(func(a *engine.App) { a.Constraints = cons("hostname:UNIQUE", "rack_id:LIKE:[") }), Count: 1},
		{Count: 1},
	}, Options{})
	want := []Rejection{{Reason: ReasonInvalidConstraint, Constraint: "rack_id:LIKE:[", Agents: 2}}
	if got := res.Unplaced[0].Rejections; !slices.Equal(got, want) {
		t.Errorf("bad constraint: Rejections = %+v, want %+v", got, want)
	}
	if got := res.Unplaced[0].AgentReasons; len(got) != 2 || got["agent-000"] != ReasonInvalidConstraint {
		t.Errorf("bad constraint: AgentReasons = %v", got)
	}
	if got := res.Unplaced[1].Rejections; got != nil {
		t.Errorf("no app: Rejections = %+v, want none", got)
	}
	if !slices.Equal(res.Unused, []string{"o-agent-000", "o-agent-001"}) || res.Used != nil {
		t.Errorf("Used %v, Unused %v", res.Used, res.Unused)
	}
}
