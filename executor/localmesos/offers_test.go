package localmesos

import (
	"fmt"
	"sort"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// offerSummary is the part of an offer the tests compare.
type offerSummary struct {
	cpus, mem, disk float64
	ports           string
}

// summarize sums an offer's resources by reservation role ("*" unreserved).
func summarize(o mesos.Offer) map[string]offerSummary {
	out := map[string]offerSummary{}
	for i := range o.Resources {
		r := &o.Resources[i]
		role := reservationRole(r)
		s := out[role]
		switch r.Name {
		case "cpus":
			s.cpus += r.GetScalar().GetValue()
		case "mem":
			s.mem += r.GetScalar().GetValue()
		case "disk":
			s.disk += r.GetScalar().GetValue()
		case "ports":
			s.ports = formatRanges(r.GetRanges().GetRange())
		}
		out[role] = s
	}
	return out
}

// allOffers collects offers until one of every agent has arrived.
func allOffers(c *client, n int) []mesos.Offer {
	c.t.Helper()
	byAgent := map[string]mesos.Offer{}
	for len(byAgent) < n {
		for _, o := range c.offers() {
			byAgent[o.AgentID.Value] = o
		}
	}
	var out []mesos.Offer
	for _, o := range byAgent {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AgentID.Value < out[j].AgentID.Value })
	return out
}

func TestOffersDescribeAgents(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 3; c.Racks = 2; c.PortsPerAgent = 100 })
	c := subscribe(t, m, protoCodec, frameworkInfo())
	offers := allOffers(c, 3)
	for i, o := range offers {
		if want := fmt.Sprintf("%s-S%d", m.ID(), i); o.AgentID.Value != want {
			t.Errorf("offer %d: agent %s, want %s", i, o.AgentID.Value, want)
		}
		if want := fmt.Sprintf("127.0.0.%d", i+2); o.Hostname != want {
			t.Errorf("offer %d: hostname %s, want %s", i, o.Hostname, want)
		}
		if o.FrameworkID.Value != c.fwID || o.GetAllocationInfo().GetRole() != "*" {
			t.Errorf("offer %d: framework %s, allocation role %q", i, o.FrameworkID.Value, o.GetAllocationInfo().GetRole())
		}
		if len(o.Attributes) != 1 || o.Attributes[0].Name != "rack_id" || o.Attributes[0].GetText().GetValue() != fmt.Sprintf("rack-%d", i%2+1) {
			t.Errorf("offer %d: attributes %v", i, o.Attributes)
		}
		want := map[string]offerSummary{"*": {cpus: 8, mem: 16384, disk: 65536, ports: fmt.Sprintf("[%d-%d]", m.cfg.FirstPort+i*100, m.cfg.FirstPort+99+i*100)}}
		if got := summarize(o); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("offer %d: resources %v, want %v", i, got, want)
		}
		for _, r := range o.Resources {
			if r.GetAllocationInfo().GetRole() != "*" || r.GetRole() != "*" {
				t.Errorf("offer %d: resource %s allocated to %q, role %q", i, r.Name, r.GetAllocationInfo().GetRole(), r.GetRole())
			}
		}
	}
	agents := m.Agents()
	for i, a := range agents {
		if a.Hostname != offers[i].Hostname || a.Attributes["rack_id"] != fmt.Sprintf("rack-%d", i%2+1) || a.Offered.Cpus != 8 || a.Used.Cpus != 0 {
			t.Errorf("agent %d: %+v", i, a)
		}
	}
}

func TestLaunchSeveralTasksFromOneOffer(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	c.ackAll = true
	o := c.offers()[0]
	p := offerPort(t, o)
	var tasks []mesos.TaskInfo
	for i := 0; i < 3; i++ {
		ti := shellTask(o, fmt.Sprintf("t%d", i), "sleep 60", 1.5, 100)
		ti.Resources = append(ti.Resources, scalar("disk", 10), ports(mesos.Value_Range{Begin: p + uint64(i), End: p + uint64(i)}))
		tasks = append(tasks, ti)
	}
	c.launch([]mesos.OfferID{o.ID}, tasks...)
	c.updates(mesos.TASK_RUNNING, "t0", "t1", "t2")
	a := m.Agents()[0]
	wantUsed := Resources{Cpus: 4.5, Mem: 300, Disk: 30, Ports: []PortRange{{p, p + 2}}}
	if fmt.Sprint(a.Used) != fmt.Sprint(wantUsed) {
		t.Errorf("used %+v, want %+v", a.Used, wantUsed)
	}
	// The remainder comes back (the accept refused nothing).
	next := c.offers()[0]
	want := map[string]offerSummary{"*": {cpus: 3.5, mem: 16384 - 300, disk: 65536 - 30, ports: fmt.Sprintf("[%d-%d]", p+3, m.cfg.FirstPort+m.cfg.PortsPerAgent-1)}}
	if got := summarize(next); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("next offer %v, want %v", got, want)
	}
	c.decline(next.ID, 0)
	for _, ti := range tasks {
		c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: ti.TaskID}})
	}
	c.updates(mesos.TASK_KILLED, "t0", "t1", "t2")
	eventually(t, "resources to be released", func() bool {
		a := m.Agents()[0]
		return a.Used.Cpus == 0 && a.Used.Mem == 0 && len(a.Used.Ports) == 0
	})
	for {
		o := c.offers()[0]
		if s := summarize(o); s["*"].cpus == 8 {
			if s["*"].ports != fmt.Sprintf("[%d-%d]", m.cfg.FirstPort, m.cfg.FirstPort+m.cfg.PortsPerAgent-1) || s["*"].mem != 16384 {
				t.Errorf("full offer %v", s)
			}
			break
		}
		c.decline(o.ID, 0)
	}
}

func TestDeclineFilter(t *testing.T) {
	m := newMaster(t, nil)
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	offers := allOffers(c, 3)
	filtered := offers[0].AgentID.Value
	c.decline(offers[0].ID, 3600)
	for _, o := range offers[1:] {
		c.decline(o.ID, 0)
	}
	// The other agents are offered again and again; the filtered one is not.
	seen := map[string]int{}
	for seen[offers[1].AgentID.Value] < 5 || seen[offers[2].AgentID.Value] < 5 {
		for _, o := range c.offers() {
			if o.AgentID.Value == filtered {
				t.Fatalf("agent %s offered despite a 1h decline filter", filtered)
			}
			seen[o.AgentID.Value]++
			c.decline(o.ID, 0)
		}
	}
	// REVIVE clears the filter.
	c.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE})
	o := c.offerFrom(filtered)
	// A short filter delays the next offer by at least its length.
	const refuse = 0.3
	c.decline(o.ID, refuse)
	declined := time.Now()
	c.offerFrom(filtered)
	if waited := time.Since(declined); waited < time.Duration(refuse*float64(time.Second)) {
		t.Errorf("offered again after %v, before the %vs filter expired", waited, refuse)
	}
}

func TestSuppressRevive(t *testing.T) {
	m := newMaster(t, nil)
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	c.mustCall(&scheduler.Call{Type: scheduler.Call_SUPPRESS})
	// Offers sent before the SUPPRESS was processed may still arrive: decline
	// them until three heartbeats pass without one.
	for quietBeats := 0; quietBeats < 3; {
		ev := c.expect(func(ev *scheduler.Event) bool {
			return ev.Type == scheduler.Event_HEARTBEAT || ev.Type == scheduler.Event_OFFERS
		})
		if ev.Type == scheduler.Event_OFFERS {
			for _, o := range ev.Offers.Offers {
				c.decline(o.ID, 0)
			}
			quietBeats = 0
			continue
		}
		quietBeats++
	}
	c.quiet(5, isType(scheduler.Event_OFFERS))
	c.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE})
	if n := len(c.offers()); n == 0 {
		t.Fatal("empty OFFERS event")
	}
}

func TestMultiRoleOffers(t *testing.T) {
	// fullRange stands for the agent's whole port range (free ports, chosen per test).
	const fullRange = "full"
	roles := func(c *Config) { c.Agents = 1; c.Roles = map[string]float64{"web": 0.25} }
	cases := map[string]struct {
		info       *mesos.FrameworkInfo
		wantRole   string
		want       map[string]offerSummary
		refinement bool
	}{
		"default role gets unreserved resources only": {
			info:     frameworkInfo(),
			wantRole: "*",
			want:     map[string]offerSummary{"*": {cpus: 6, mem: 12288, disk: 49152, ports: fullRange}},
		},
		"MULTI_ROLE framework gets its reservation too": {
			info: func() *mesos.FrameworkInfo {
				i := frameworkInfo(mesos.FrameworkInfo_Capability_MULTI_ROLE)
				i.Roles = []string{"web"}
				return i
			}(),
			wantRole: "web",
			want: map[string]offerSummary{
				"*":   {cpus: 6, mem: 12288, disk: 49152, ports: fullRange},
				"web": {cpus: 2, mem: 4096, disk: 16384},
			},
		},
		"refinement format": {
			info: func() *mesos.FrameworkInfo {
				i := frameworkInfo(mesos.FrameworkInfo_Capability_MULTI_ROLE, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
				i.Roles = []string{"web"}
				return i
			}(),
			wantRole:   "web",
			refinement: true,
			want: map[string]offerSummary{
				"*":   {cpus: 6, mem: 12288, disk: 49152, ports: fullRange},
				"web": {cpus: 2, mem: 4096, disk: 16384},
			},
		},
		"legacy role framework": {
			info:     &mesos.FrameworkInfo{User: "u", Name: "n", Role: proto("web")},
			wantRole: "web",
			want: map[string]offerSummary{
				"*":   {cpus: 6, mem: 12288, disk: 49152, ports: fullRange},
				"web": {cpus: 2, mem: 4096, disk: 16384},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, roles)
			want := map[string]offerSummary{}
			for role, sum := range tc.want {
				if sum.ports == fullRange {
					sum.ports = fmt.Sprintf("[%d-%d]", m.cfg.FirstPort, m.cfg.FirstPort+m.cfg.PortsPerAgent-1)
				}
				want[role] = sum
			}
			c := subscribe(t, m, protoCodec, tc.info)
			o := c.offers()[0]
			if got := o.GetAllocationInfo().GetRole(); got != tc.wantRole {
				t.Errorf("offer allocated to %q, want %q", got, tc.wantRole)
			}
			if got := summarize(o); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("resources %v, want %v", got, want)
			}
			for _, r := range o.Resources {
				if got := r.GetAllocationInfo().GetRole(); got != tc.wantRole {
					t.Errorf("resource %s allocated to %q, want %q", r.Name, got, tc.wantRole)
				}
				if reservationRole(&r) == "web" {
					if tc.refinement != (len(r.Reservations) == 1 && r.Role == nil) {
						t.Errorf("reserved resource %s in the wrong format: role %v, reservations %v", r.Name, r.Role, r.Reservations)
					}
				}
			}
			// What the framework launches on reserved resources is accounted
			// against the reservation.
			if tc.wantRole == "*" {
				return
			}
			ti := shellTask(o, "r", "sleep 60", 1, 64)
			for _, r := range o.Resources {
				if r.Name == "cpus" && reservationRole(&r) == tc.wantRole {
					reserved := r
					reserved.Scalar = &mesos.Value_Scalar{Value: 1}
					ti.Resources[0] = reserved // in place of the unreserved cpu
				}
			}
			c.ackAll = true
			c.launch([]mesos.OfferID{o.ID}, ti)
			c.expect(isUpdate("r", mesos.TASK_RUNNING))
			next := c.offers()[0]
			if got := summarize(next)[tc.wantRole].cpus; got != 1 {
				t.Errorf("reserved cpus left %v, want 1", got)
			}
		})
	}
}

func TestOfferTimeoutRescinds(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1; c.OfferTimeout = 100 * time.Millisecond })
	c := subscribe(t, m, jsonCodec, frameworkInfo(mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	o := c.offers()[0]
	ev := c.expect(isType(scheduler.Event_RESCIND))
	if ev.Rescind.OfferID != o.ID {
		t.Fatalf("rescinded %s, want %s", ev.Rescind.OfferID.Value, o.ID.Value)
	}
	c.launch([]mesos.OfferID{o.ID}, shellTask(o, "late", "true", 0.1, 32))
	st := c.update("late", mesos.TASK_DROPPED)
	if st.GetReason() != mesos.REASON_INVALID_OFFERS {
		t.Errorf("reason %v", st.GetReason())
	}
}
