package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// one runs a single request against offers and returns its outcome.
func one(offers []mesos.Offer, app *engine.App, count int, opts Options) ([]Placement, *Unplaced) {
	res := Match(offers, []Request{{App: app, Count: count}}, opts)
	return res.Placements[0], res.Unplaced[0]
}

func TestResourcesExhausted(t *testing.T) {
	tests := map[string]struct {
		set  func(a *engine.App)
		want string
	}{
		"cpus":  {func(a *engine.App) { a.Cpus = 4.001 }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus"},
		"mem":   {func(a *engine.App) { a.Mem = 4097 }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientMemory"},
		"disk":  {func(a *engine.App) { a.Disk = 10000.5 }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientDisk"},
		"gpus":  {func(a *engine.App) { a.Gpus = 1 }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientGpus"},
		"ports": {func(a *engine.App) { a.PortDefinitions = make([]engine.PortDefinition, 101) }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientPorts"},
		"required port outside the ranges": {func(a *engine.App) {
			a.RequirePorts = true
			a.PortDefinitions = []engine.PortDefinition{{Port: 8080}}
		}, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientPorts"},
		"cpus checked before mem": {func(a *engine.App) { a.Cpus, a.Mem = 5, 5000 }, "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus"},
		"exact fit": {func(a *engine.App) {
			a.Cpus, a.Mem, a.Disk = 4, 4096, 10000
			a.PortDefinitions = make([]engine.PortDefinition, 100)
		}, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ps, u := one([]mesos.Offer{mkOffer("a1", std())}, mkApp(tc.set), 1, Options{})
			if tc.want == "" {
				if u != nil || len(ps) != 1 {
					t.Fatalf("placed %d, unplaced %+v; want it placed", len(ps), u)
				}
				return
			}
			if u == nil {
				t.Fatalf("placed %v, want %q", ps, tc.want)
			}
			mustEqual(t, "message", u.Message, tc.want)
		})
	}
}

// Several instances share an offer; each takes its share and the lowest free
// ports, and the last one that does not fit says which resource ran out.
func TestSeveralInstancesPerOffer(t *testing.T) {
	app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 1, 1000 })
	ps, u := one([]mesos.Offer{mkOffer("a1", std())}, app, 5, Options{})
	if len(ps) != 4 {
		t.Fatalf("placed %d, want 4", len(ps))
	}
	for i, p := range ps {
		want := fmt.Sprintf("cpus(*):1 mem(*):1000 ports(*):[%d-%d]", 31000+i, 31000+i)
		var got []string
		for _, r := range p.Resources {
			got = append(got, resourceString(r))
		}
		mustEqual(t, fmt.Sprintf("instance %d resources", i), strings.Join(got, " "), want)
		if !slices.Equal(p.Ports, []uint64{uint64(31000 + i)}) {
			t.Errorf("instance %d ports = %v", i, p.Ports)
		}
		mustEqual(t, "offer", p.OfferID, "o-a1")
	}
	if u == nil {
		t.Fatal("5th instance placed")
	}
	mustEqual(t, "message", u.Message, "1 of 5 instances unplaced: 1 agent considered; 1 excluded by InsufficientCpus")
}

// Scalars are subtracted in Mesos' fixed point: ten 0.1 cpus fill one cpu
// exactly, an eleventh does not fit.
func TestScalarFixedPoint(t *testing.T) {
	app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 0.1, 1; a.PortDefinitions = []engine.PortDefinition{} })
	ps, u := one([]mesos.Offer{mkOffer("a1", []mesos.Resource{scalar("cpus", 1), scalar("mem", 100)})}, app, 11, Options{})
	if len(ps) != 10 || u == nil || u.Rejections[0].Reason != ReasonInsufficientCpus {
		t.Fatalf("placed %d, unplaced %+v; want 10 and InsufficientCpus", len(ps), u)
	}
}

func TestPorts(t *testing.T) {
	pd := func(ports ...int) []engine.PortDefinition {
		out := []engine.PortDefinition{}
		for _, p := range ports {
			out = append(out, engine.PortDefinition{Port: p})
		}
		return out
	}
	bridge := func(hostPorts ...int) *engine.Container {
		c := &engine.Container{Type: "DOCKER", Docker: &engine.Docker{Image: "nginx", Network: "BRIDGE"}}
		for _, hp := range hostPorts {
			c.Docker.PortMappings = append(c.Docker.PortMappings, engine.PortMapping{ContainerPort: 80, HostPort: hp})
		}
		return c
	}
	tests := map[string]struct {
		set      func(a *engine.App)
		ranges   []uint64
		count    int
		want     [][]uint64
		resource string // ports resource of the first instance
		unplaced string
	}{
		"dynamic, lowest first": {
			set: func(a *engine.App) { a.PortDefinitions = pd(0, 0) }, count: 2,
			want: [][]uint64{{31000, 31001}, {31002, 31003}}, resource: "ports(*):[31000-31001]",
		},
		"non-zero without requirePorts is any port": {
			set: func(a *engine.App) { a.PortDefinitions = pd(8080) }, count: 1,
			want: [][]uint64{{31000}},
		},
		"required exactly, taken before dynamic ones": {
			set: func(a *engine.App) { a.RequirePorts = true; a.PortDefinitions = pd(0, 31000) }, count: 1,
			want: [][]uint64{{31001, 31000}}, resource: "ports(*):[31000-31001]",
		},
		"required port taken by the first instance": {
			set: func(a *engine.App) { a.RequirePorts = true; a.PortDefinitions = pd(31050) }, count: 2,
			want:     [][]uint64{{31050}},
			unplaced: "1 of 2 instances unplaced: 1 agent considered; 1 excluded by InsufficientPorts",
		},
		"the same required port twice never fits": {
			set: func(a *engine.App) { a.RequirePorts = true; a.PortDefinitions = pd(31050, 31050) }, count: 1,
			unplaced: "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientPorts",
		},
		"ranges exhausted": {
			set: func(a *engine.App) { a.PortDefinitions = pd(0) }, ranges: []uint64{31000, 31001}, count: 3,
			want:     [][]uint64{{31000}, {31001}},
			unplaced: "1 of 3 instances unplaced: 1 agent considered; 1 excluded by InsufficientPorts",
		},
		"split ranges, required in the middle": {
			set: func(a *engine.App) { a.RequirePorts = true; a.PortDefinitions = pd(0, 20005, 0) }, ranges: []uint64{20010, 20010, 20000, 20009}, count: 1,
			want: [][]uint64{{20000, 20005, 20001}}, resource: "ports(*):[20000-20001,20005-20005]",
		},
		"no ports": {
			set: func(a *engine.App) { a.PortDefinitions = pd() }, ranges: []uint64{}, count: 2,
			want: [][]uint64{nil, nil},
		},
		"bridge port mappings": {
			set: func(a *engine.App) { a.Container = bridge(0, 31077) }, count: 1,
			want: [][]uint64{{31000, 31077}}, resource: "ports(*):[31000-31000,31077-31077]",
		},
		"container/bridge network": {
			set: func(a *engine.App) {
				a.Networks = []engine.Network{{Mode: "container/bridge"}}
				a.Container = &engine.Container{Type: "MESOS", PortMappings: []engine.PortMapping{{ContainerPort: 80}}}
			}, count: 1,
			want: [][]uint64{{31000}},
		},
		"user network needs named host ports only": {
			set: func(a *engine.App) {
				a.Networks = []engine.Network{{Mode: "container", Name: "overlay"}}
				a.Container = &engine.Container{Type: "MESOS", PortMappings: []engine.PortMapping{{ContainerPort: 80}, {ContainerPort: 81, HostPort: 31009}}}
			}, count: 1,
			want: [][]uint64{{31009}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := []mesos.Resource{scalar("cpus", 4), scalar("mem", 4096)}
			if tc.ranges == nil {
				res = append(res, portRange(31000, 31099))
			} else if len(tc.ranges) > 0 {
				res = append(res, portRange(tc.ranges...))
			}
			app := mkApp(func(a *engine.App) { a.Cpus, a.Mem = 0.1, 16; tc.set(a) })
			ps, u := one([]mesos.Offer{mkOffer("a1", res)}, app, tc.count, Options{})
			var got [][]uint64
			for _, p := range ps {
				got = append(got, p.Ports)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ports = %v, want %v", got, tc.want)
			}
			if tc.resource != "" && len(ps) > 0 {
				last := ps[0].Resources[len(ps[0].Resources)-1]
				mustEqual(t, "ports resource", resourceString(last), tc.resource)
			}
			switch {
			case tc.unplaced == "" && u != nil:
				t.Errorf("unplaced: %s", u.Message)
			case tc.unplaced != "" && u == nil:
				t.Errorf("all placed, want %q", tc.unplaced)
			case u != nil:
				mustEqual(t, "message", u.Message, tc.unplaced)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	web := func(r mesos.Resource) mesos.Resource { return reserved("web", r) }
	tests := map[string]struct {
		res      []mesos.Resource
		offers   []mesos.Offer // instead of res, when set
		app      func(a *engine.App)
		roles    []string
		want     string // resources of the placement, or the unplaced message
		unplaced bool
	}{
		"unreserved, default roles": {
			res:  []mesos.Resource{scalar("cpus", 4), scalar("mem", 4096)},
			want: "cpus(*):1 mem(*):128",
		},
		"reserved for another role is not used": {
			res:      []mesos.Resource{web(scalar("cpus", 4)), web(scalar("mem", 4096))},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by UnfulfilledRole",
			unplaced: true,
		},
		"reserved for the app's role first, then unreserved": {
			res:   allocated("web", web(scalar("cpus", 0.5)), scalar("cpus", 4), web(scalar("mem", 100)), scalar("mem", 4096)),
			app:   func(a *engine.App) { a.Role = "web" },
			roles: []string{"web"},
			want:  "cpus(web@web):0.5 cpus(*@web):0.5 mem(web@web):100 mem(*@web):28",
		},
		"accepted roles * means unreserved only": {
			res:      allocated("web", web(scalar("cpus", 4)), web(scalar("mem", 4096))),
			app:      func(a *engine.App) { a.Role = "web"; a.AcceptedResourceRoles = []string{"*"} },
			roles:    []string{"web"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by UnfulfilledRole",
			unplaced: true,
		},
		"accepted roles web means reserved only": {
			res:      allocated("web", web(scalar("cpus", 4)), scalar("mem", 4096)),
			app:      func(a *engine.App) { a.Role = "web"; a.AcceptedResourceRoles = []string{"web"} },
			roles:    []string{"web"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientMemory",
			unplaced: true,
		},
		"offer allocated to another role of the framework": {
			res:      allocated("web", scalar("cpus", 4), scalar("mem", 4096)),
			app:      func(a *engine.App) { a.Role = "db" },
			roles:    []string{"web", "db"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by UnfulfilledRole",
			unplaced: true,
		},
		"app without role takes any framework role": {
			res:   allocated("db", scalar("cpus", 4), scalar("mem", 4096)),
			roles: []string{"web", "db"},
			want:  "cpus(*@db):1 mem(*@db):128",
		},
		"allocation role the framework does not hold": {
			res:      allocated("ops", scalar("cpus", 4), scalar("mem", 4096)),
			roles:    []string{"web"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by UnfulfilledRole",
			unplaced: true,
		},
		"reservation of a parent role": {
			res:   allocated("eng/web", reserved("eng", scalar("cpus", 4)), scalar("mem", 4096)),
			app:   func(a *engine.App) { a.Role = "eng/web" },
			roles: []string{"eng/web"},
			want:  "cpus(eng@eng/web):1 mem(*@eng/web):128",
		},
		"single-role framework without allocation info": {
			res:   []mesos.Resource{web(scalar("cpus", 4)), scalar("mem", 4096)},
			roles: []string{"web"},
			want:  "cpus(web):1 mem(*):128",
		},
		"never mixes allocation roles across offers": {
			offers: []mesos.Offer{
				{ID: mesos.OfferID{Value: "o1"}, AgentID: mesos.AgentID{Value: "a1"}, Hostname: "a1", Resources: allocated("web", scalar("cpus", 0.5), scalar("mem", 4096))},
				{ID: mesos.OfferID{Value: "o2"}, AgentID: mesos.AgentID{Value: "a1"}, Hostname: "a1", Resources: allocated("db", scalar("cpus", 0.5), scalar("mem", 4096))},
			},
			roles:    []string{"web", "db"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus",
			unplaced: true,
		},
		"never mixes allocation roles within an offer": {
			res:      append(allocated("web", scalar("cpus", 0.5), scalar("mem", 4096)), allocated("db", scalar("cpus", 0.5))...),
			roles:    []string{"web", "db"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus",
			unplaced: true,
		},
		"persistent volumes are not used": {
			res: []mesos.Resource{scalar("cpus", 4), scalar("mem", 4096),
				func() mesos.Resource {
					r := reserved("web", scalar("disk", 1000))
					r.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{ID: "vol"}}
					return r
				}(), scalar("disk", 50)},
			app:      func(a *engine.App) { a.Role = "web"; a.Disk = 100 },
			roles:    []string{"web"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientDisk",
			unplaced: true,
		},
		"labelled reservations are not used": {
			res: []mesos.Resource{scalar("mem", 4096), func() mesos.Resource {
				r := reserved("web", scalar("cpus", 4))
				r.Reservations[0].Labels = &mesos.Labels{Labels: []mesos.Label{{Key: "owner"}}}
				return r
			}()},
			app:      func(a *engine.App) { a.Role = "web" },
			roles:    []string{"web"},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus",
			unplaced: true,
		},
		"reserved disk keeps its reservation": {
			res:   []mesos.Resource{scalar("cpus", 4), scalar("mem", 4096), reserved("web", scalar("disk", 60)), scalar("disk", 50)},
			app:   func(a *engine.App) { a.Role = "web"; a.Disk = 100 },
			roles: []string{"web"},
			want:  "cpus(*):1 mem(*):128 disk(web):60 disk(*):40",
		},
		"revocable and shared resources are not used": {
			res: []mesos.Resource{
				func() mesos.Resource { r := scalar("cpus", 4); r.Revocable = &mesos.Resource_RevocableInfo{}; return r }(),
				scalar("cpus", 0.5), scalar("mem", 4096)},
			want:     "1 of 1 instance unplaced: 1 agent considered; 1 excluded by InsufficientCpus",
			unplaced: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			offers := tc.offers
			if offers == nil {
				offers = []mesos.Offer{mkOffer("a1", tc.res)}
			}
			app := mkApp(func(a *engine.App) {
				a.PortDefinitions = []engine.PortDefinition{}
				if tc.app != nil {
					tc.app(a)
				}
			})
			ps, u := one(offers, app, 1, Options{Roles: tc.roles})
			if tc.unplaced {
				if u == nil {
					t.Fatalf("placed %v", ps)
				}
				mustEqual(t, "message", u.Message, tc.want)
				return
			}
			if u != nil {
				t.Fatalf("unplaced: %s", u.Message)
			}
			var got []string
			for _, r := range ps[0].Resources {
				got = append(got, resourceString(r))
			}
			mustEqual(t, "resources", strings.Join(got, " "), tc.want)
		})
	}
}

// The resources of a placement copy the offer's role metadata without sharing
// it, and Match never writes to its offers.
func TestResourcesDoNotAliasOffers(t *testing.T) {
	offers := []mesos.Offer{mkOffer("a1", allocated("web", reserved("web", scalar("cpus", 2)), scalar("mem", 4096), portRange(1, 10)))}
	before := fmt.Sprintf("%+v", offers)
	ps, u := one(offers, mkApp(func(a *engine.App) { a.Role = "web" }), 2, Options{Roles: []string{"web"}})
	if u != nil {
		t.Fatal(u.Message)
	}
	if after := fmt.Sprintf("%+v", offers); after != before {
		t.Fatalf("offers changed:\n%s\n%s", before, after)
	}
	*ps[0].Resources[0].AllocationInfo.Role = "changed"
	*ps[0].Resources[0].Reservations[0].Role = "changed"
	if offers[0].Resources[0].AllocationInfo.GetRole() != "web" || offers[0].Resources[0].ReservationRole() != "web" ||
		ps[1].Resources[0].AllocationInfo.GetRole() != "web" {
		t.Error("placement resources share role metadata with the offer or each other")
	}
}

func TestSubtractRanges(t *testing.T) {
	rs := func(be ...uint64) []mesos.Value_Range { return portRange(be...).Ranges.Range }
	tests := map[string]struct{ a, b, want []mesos.Value_Range }{
		"nothing to subtract":   {rs(1, 10), nil, rs(1, 10)},
		"hole in the middle":    {rs(1, 10), rs(3, 4), rs(1, 2, 5, 10)},
		"everything":            {rs(1, 10), rs(1, 10), nil},
		"several cuts":          {rs(1, 10), rs(0, 2, 5, 5, 9, 12), rs(3, 4, 6, 8)},
		"one cut over two":      {rs(1, 3, 7, 9), rs(2, 8), rs(1, 1, 9, 9)},
		"disjoint":              {rs(5, 6), rs(1, 2, 8, 9), rs(5, 6)},
		"spanning three ranges": {rs(1, 2, 4, 5, 7, 8), rs(2, 7), rs(1, 1, 8, 8)},
		"cut at the very end":   {rs(1, 5), rs(5, 5), rs(1, 4)},
		"cut at the very start": {rs(1, 5), rs(1, 1), rs(2, 5)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := subtractRanges(tc.a, tc.b); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("subtractRanges(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
	// Against a naive set difference on random ranges.
	rng := rand.New(rand.NewPCG(5, 5))
	randomRanges := func() []mesos.Value_Range {
		var be []uint64
		for p := uint64(rng.IntN(4)); p < 40; p += 2 + uint64(rng.IntN(6)) {
			end := p + uint64(rng.IntN(4))
			be = append(be, p, end)
			p = end
		}
		return normRanges(portRange(be...).Ranges.Range)
	}
	for i := 0; i < 500; i++ {
		a, b := randomRanges(), randomRanges()
		in := func(rs []mesos.Value_Range, p uint64) bool { return rangeIndex(rs, p) >= 0 }
		got := subtractRanges(a, b)
		for p := uint64(0); p < 60; p++ {
			if in(got, p) != (in(a, p) && !in(b, p)) {
				t.Fatalf("subtractRanges(%v, %v) = %v: wrong about port %d", a, b, got, p)
			}
		}
		for j := range got {
			if got[j].Begin > got[j].End || j > 0 && got[j-1].End >= got[j].Begin {
				t.Fatalf("subtractRanges(%v, %v) = %v: not sorted and disjoint", a, b, got)
			}
		}
	}
}
