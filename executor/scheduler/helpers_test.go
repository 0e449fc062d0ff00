package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// scalar is an unreserved scalar resource.
func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

// portRange is an unreserved ports resource over [begin, end] pairs.
func portRange(be ...uint64) mesos.Resource {
	r := mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{}}
	for i := 0; i+1 < len(be); i += 2 {
		r.Ranges.Range = append(r.Ranges.Range, mesos.Value_Range{Begin: be[i], End: be[i+1]})
	}
	return r
}

// reserved reserves r (dynamically, refinement format) for role.
func reserved(role string, r mesos.Resource) mesos.Resource {
	r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: &role}}
	return r
}

// allocated marks every resource as allocated to role.
func allocated(role string, rs ...mesos.Resource) []mesos.Resource {
	out := make([]mesos.Resource, len(rs))
	for i, r := range rs {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: &role}
		out[i] = r
	}
	return out
}

// std is a typical agent's free resources: 4 cpus, 4096 mem, 10000 disk,
// ports 31000-31099.
func std() []mesos.Resource {
	return []mesos.Resource{scalar("cpus", 4), scalar("mem", 4096), scalar("disk", 10000), portRange(31000, 31099)}
}

// textAttrs turns "k=v" pairs into TEXT attributes.
func textAttrs(kvs ...string) []mesos.Attribute {
	var out []mesos.Attribute
	for _, s := range kvs {
		k, v, _ := strings.Cut(s, "=")
		out = append(out, mesos.Attribute{Name: k, Type: mesos.TEXT, Text: &mesos.Value_Text{Value: v}})
	}
	return out
}

// mkOffer makes offer "o-<agent>" from agent <agent> on host <agent>.
func mkOffer(agent string, res []mesos.Resource, attrs ...string) mesos.Offer {
	return mesos.Offer{
		ID:         mesos.OfferID{Value: "o-" + agent},
		AgentID:    mesos.AgentID{Value: agent},
		Hostname:   agent,
		Resources:  res,
		Attributes: textAttrs(attrs...),
	}
}

// mkApp returns an app with Marathon's defaults, changed by set, then
// normalised (one dynamic port by default).
func mkApp(set func(a *engine.App)) *engine.App {
	a := engine.NewApp("/web")
	a.Cpus, a.Mem = 1, 128
	if set != nil {
		set(a)
	}
	a.ApplyDefaults()
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

// hosts lists the hostnames of placements, in order.
func hosts(ps []Placement) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Hostname
	}
	return out
}

// running describes tasks on the given agents of offers (looked up by agent id).
func running(offers []mesos.Offer, agents ...string) []Running {
	var out []Running
	for _, a := range agents {
		i := slices.IndexFunc(offers, func(o mesos.Offer) bool { return o.AgentID.Value == a })
		if i < 0 {
			panic("no offer from agent " + a)
		}
		out = append(out, Running{AgentID: a, Hostname: offers[i].Hostname, Attributes: Attributes(offers[i].Attributes)})
	}
	return out
}

// render prints a Result deterministically, for golden files and diffs.
func render(res Result) string {
	var b strings.Builder
	for i, ps := range res.Placements {
		fmt.Fprintf(&b, "request %d:\n", i)
		for _, p := range ps {
			fmt.Fprintf(&b, "  %s on %s (%s) ports %v:", p.OfferID, p.Hostname, p.AgentID, p.Ports)
			for _, r := range p.Resources {
				b.WriteString(" " + resourceString(r))
			}
			b.WriteByte('\n')
		}
		if u := res.Unplaced[i]; u != nil {
			fmt.Fprintf(&b, "  unplaced: %s\n", u.Message)
		}
	}
	fmt.Fprintf(&b, "used: %v\nunused: %v\n", res.Used, res.Unused)
	return b.String()
}

func resourceString(r mesos.Resource) string {
	var v string
	if r.Ranges != nil {
		var parts []string
		for _, rg := range r.Ranges.Range {
			parts = append(parts, fmt.Sprintf("%d-%d", rg.Begin, rg.End))
		}
		v = "[" + strings.Join(parts, ",") + "]"
	} else {
		v = fmt.Sprint(r.Scalar.GetValue())
	}
	role := "*"
	if !r.IsUnreserved() {
		role = r.ReservationRole()
	}
	if r.AllocationInfo != nil {
		role += "@" + r.AllocationInfo.GetRole()
	}
	return fmt.Sprintf("%s(%s):%s", r.Name, role, v)
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
