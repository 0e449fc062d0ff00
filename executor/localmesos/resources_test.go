package localmesos

import (
	"fmt"
	"math/rand"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// randomPool returns a pool with scalars in thousandths and a few port ranges
// within [31000, 31999].
func randomPool(r *rand.Rand) pool {
	p := pool{
		cpus: float64(r.Intn(16000)) / 1000,
		mem:  float64(r.Intn(64000)) / 1000,
		disk: float64(r.Intn(8)),
	}
	for i := r.Intn(4); i > 0; i-- {
		b := uint64(31000 + r.Intn(1000))
		e := b + uint64(r.Intn(50))
		if e > 31999 {
			e = 31999
		}
		p.ports = append(p.ports, mesos.Value_Range{Begin: b, End: e})
	}
	p.ports = p.ports.Sort().Squash()
	return p
}

// randomPart returns a random part of p.
func randomPart(r *rand.Rand, p pool) pool {
	q := pool{
		cpus: round3(p.cpus * float64(r.Intn(1001)) / 1000),
		mem:  round3(p.mem * float64(r.Intn(1001)) / 1000),
		disk: round3(p.disk * float64(r.Intn(1001)) / 1000),
	}
	for _, rg := range p.ports {
		if r.Intn(2) == 0 {
			continue
		}
		b := rg.Begin + uint64(r.Intn(int(rg.End-rg.Begin+1)))
		e := b + uint64(r.Intn(int(rg.End-b+1)))
		q.ports = append(q.ports, mesos.Value_Range{Begin: b, End: e})
	}
	return q
}

// TestPoolProperties checks the accounting invariants on random pools: a part
// of a pool is contained in it, taking it out and putting it back restores
// the pool exactly, and what is taken out is no longer contained.
func TestPoolProperties(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		p := randomPool(r)
		q := randomPart(r, p)
		if !p.contains(q) {
			t.Fatalf("%v does not contain its part %v", p, q)
		}
		rest := p.minus(q)
		if back := rest.plus(q); fmt.Sprint(back) != fmt.Sprint(p) {
			t.Fatalf("(%v - %v) + %v = %v", p, q, q, back)
		}
		if !p.contains(rest) {
			t.Fatalf("%v does not contain %v - %v = %v", p, p, q, rest)
		}
		if len(q.ports) > 0 && rest.contains(pool{ports: q.ports}) {
			t.Fatalf("%v still holds the ports of %v", rest, q)
		}
		if more := q.plus(pool{cpus: 0.001}); p.cpus == q.cpus && p.contains(more) {
			t.Fatalf("%v contains %v, more cpus than it has", p, more)
		}
	}
}

func TestResourcesRoundTrip(t *testing.T) {
	set := resourceSet{
		unreserved: {cpus: 6, mem: 1024, disk: 10, ports: mesos.Ranges{{Begin: 31000, End: 31009}, {Begin: 31020, End: 31020}}},
		"web":      {cpus: 2, mem: 512},
	}
	for _, refinement := range []bool{false, true} {
		t.Run(fmt.Sprint("refinement=", refinement), func(t *testing.T) {
			rs := set.mesosResources("web", refinement)
			for _, r := range rs {
				if r.GetAllocationInfo().GetRole() != "web" {
					t.Errorf("%s allocated to %q", r.Name, r.GetAllocationInfo().GetRole())
				}
			}
			back, err := parseResources(rs)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(back) != fmt.Sprint(set) {
				t.Errorf("round trip: %v, want %v", back, set)
			}
		})
	}
}

func TestParseResourcesErrors(t *testing.T) {
	cases := map[string]mesos.Resource{
		"unknown name":    scalar("gpus", 1),
		"negative scalar": scalar("cpus", -1),
		"ports as scalar": scalar("ports", 1),
		"inverted range":  ports(mesos.Value_Range{Begin: 10, End: 5}),
		"port too large":  ports(mesos.Value_Range{Begin: 70000, End: 70001}),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parseResources([]mesos.Resource{r}); err == nil {
				t.Errorf("%v parsed", r)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	cases := map[string]Config{
		"too many agents":     {Agents: 1000},
		"ports do not fit":    {Agents: 10, PortsPerAgent: 5000},
		"shares above one":    {Roles: map[string]float64{"a": 0.6, "b": 0.6}},
		"negative share":      {Roles: map[string]float64{"a": -0.1}},
		"reserved star":       {Roles: map[string]float64{"*": 0.5}},
		"rack_id attribute":   {Attributes: map[string]string{"rack_id": "x"}},
		"negative interval":   {OfferInterval: -1},
		"bad range attribute": {Attributes: map[string]string{"r": "[5-1]"}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			cfg.WorkDir = t.TempDir()
			if m, err := New(cfg); err == nil {
				m.Close()
				t.Errorf("New(%+v) succeeded", cfg)
			}
		})
	}
}

func TestAgentLayout(t *testing.T) {
	cfg, err := Config{Agents: 4, Racks: 3, PortsPerAgent: 10, Roles: map[string]float64{"web": 0.5}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cfg.Agents; i++ {
		set := agentResources(cfg, i)
		if got, want := agentAddress(i), fmt.Sprintf("127.0.0.%d", i+2); got != want {
			t.Errorf("agent %d address %s, want %s", i, got, want)
		}
		want := fmt.Sprintf("[%d-%d]", 31000+10*i, 31009+10*i)
		if got := formatRanges(set[unreserved].ports); got != want {
			t.Errorf("agent %d ports %s, want %s", i, got, want)
		}
		if set["web"].cpus != 4 || set[unreserved].cpus != 4 || set.total().mem != 16384 {
			t.Errorf("agent %d resources %v", i, set)
		}
	}
}
