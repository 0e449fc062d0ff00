package localmesos

import (
	"fmt"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Minimum resources worth offering (Mesos' MIN_CPUS and MIN_MEM): an agent
// with less than both free is not offered.
const (
	minOfferCpus = 0.01
	minOfferMem  = 32
)

// offer is an outstanding offer: resources of one agent, allocated to one role
// of one framework, taken out of the agent's free pool until the framework
// answers, the offer times out or is rescinded.
type offer struct {
	id      string
	fw      *framework
	agent   *agent
	role    string
	res     resourceSet
	created time.Time
	seq     int // creation order
}

// allocatorLoop runs an allocation pass every OfferInterval until Close.
func (m *Master) allocatorLoop() {
	t := time.NewTicker(m.cfg.OfferInterval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case now := <-t.C:
			m.allocate(now)
		}
	}
}

// allocate is one allocation pass: offers that timed out are rescinded, then
// every connected framework (in id order), for each of its roles that is not
// suppressed, is offered the free resources of every live agent it holds no
// offer of, unless a filter withholds them. A role's offer carries the
// agent's unreserved resources (if another role has not just taken them) and
// the resources reserved for that role.
func (m *Master) allocate(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if m.cfg.OfferTimeout > 0 {
		for _, o := range m.sortedOffers() {
			if now.Sub(o.created) >= m.cfg.OfferTimeout {
				m.logf("rescinding offer %s of framework %s: unanswered for %v", o.id, o.fw.id, m.cfg.OfferTimeout)
				m.removeOffer(o, true)
			}
		}
	}
	for _, id := range sortedKeys(m.frameworks) {
		fw := m.frameworks[id]
		if fw.stream == nil {
			continue
		}
		fw.expireFilters(now)
		held := map[string]bool{} // agent id + role of the framework's outstanding offers
		for _, o := range fw.offers {
			held[o.agent.id+"\x00"+o.role] = true
		}
		var out []mesos.Offer
		for _, role := range fw.roles {
			if fw.suppressed[role] {
				continue
			}
			for _, a := range m.agents {
				if a.lost || a.partitioned || held[a.id+"\x00"+role] {
					continue
				}
				avail := resourceSet{}
				if p := a.free[unreserved]; !p.isEmpty() {
					avail[unreserved] = p.clone()
				}
				if p := a.free[role]; role != unreserved && !p.isEmpty() {
					avail[role] = p.clone()
				}
				if t := avail.total(); t.cpus < minOfferCpus && t.mem < minOfferMem {
					continue
				}
				if fw.filtered(a, role, avail, now) {
					continue
				}
				o := &offer{
					id:      fmt.Sprintf("%s-O%d", m.id, m.nextOffer),
					fw:      fw,
					agent:   a,
					role:    role,
					res:     avail,
					created: now,
					seq:     m.nextOffer,
				}
				m.nextOffer++
				a.free.sub(avail)
				m.offers[o.id] = o
				fw.offers[o.id] = o
				out = append(out, m.mesosOffer(o))
			}
		}
		if len(out) > 0 {
			fw.stream.send(&scheduler.Event{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: out}})
		}
	}
}

// mesosOffer renders an offer for the scheduler.
func (m *Master) mesosOffer(o *offer) mesos.Offer {
	return mesos.Offer{
		ID:             mesos.OfferID{Value: o.id},
		FrameworkID:    mesos.FrameworkID{Value: o.fw.id},
		AgentID:        mesos.AgentID{Value: o.agent.id},
		Hostname:       o.agent.hostname,
		Resources:      o.res.mesosResources(o.role, o.fw.refinement()),
		Attributes:     append([]mesos.Attribute(nil), o.agent.attributes...),
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto(o.role)},
		URL:            m.agentURL(o.agent),
	}
}

// agentURL is an offer's url: where a real agent serves its HTTP API. The
// stand-in's agents serve none; the address names the agent and the master's
// port (what MESOS_AGENT_ENDPOINT and MESOS_SLAVE_PID name too).
func (m *Master) agentURL(a *agent) *mesos.URL {
	return &mesos.URL{
		Scheme:  "http",
		Address: mesos.Address{Hostname: proto(a.hostname), IP: proto(a.hostname), Port: int32(m.port)},
		Path:    proto("/slave(1)"),
	}
}

// sortedOffers returns the outstanding offers in creation order.
func (m *Master) sortedOffers() []*offer {
	out := make([]*offer, 0, len(m.offers))
	for _, o := range m.offers {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// removeOffer withdraws an offer and gives its resources back to the agent
// (unless the agent is lost). With rescind, the framework is told with a
// RESCIND event. Called with m.mu held.
func (m *Master) removeOffer(o *offer, rescind bool) {
	delete(m.offers, o.id)
	delete(o.fw.offers, o.id)
	if !o.agent.lost {
		o.agent.free.add(o.res)
	}
	if rescind && o.fw.stream != nil {
		o.fw.stream.send(&scheduler.Event{
			Type:    scheduler.Event_RESCIND,
			Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: o.id}},
		})
	}
}

// refuseDuration is the filter duration of an ACCEPT or DECLINE: the Filters'
// refuse_seconds (default 5s; negative or absurd values mean the default).
func refuseDuration(f *mesos.Filters) time.Duration {
	secs := f.GetRefuseSeconds()
	if secs < 0 || secs != secs || secs > 365*24*3600 {
		return defaultRefuse
	}
	return time.Duration(secs * float64(time.Second))
}

// decline handles DECLINE: the offers' resources go back to their agents,
// withheld from the framework for the filter's refuse_seconds. Unknown offers
// are ignored, as Mesos does.
func (m *Master) decline(fw *framework, d *scheduler.Call_Decline) {
	refuse := refuseDuration(d.Filters)
	for _, id := range d.OfferIDs {
		o := fw.offers[id.Value]
		if o == nil {
			continue
		}
		m.removeOffer(o, false)
		fw.addFilter(o.agent, o.role, o.res, refuse)
	}
}

// revive handles REVIVE: the roles (all of the framework's when none are
// named) leave the suppressed set and lose their filters.
func (m *Master) revive(fw *framework, roles []string) {
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		delete(fw.suppressed, r)
		fw.clearFilters(r)
	}
}

// suppress handles SUPPRESS: the roles (all when none are named) get no more
// offers until REVIVE. Outstanding offers stay, as in Mesos.
func (m *Master) suppress(fw *framework, roles []string) {
	if len(roles) == 0 {
		roles = fw.roles
	}
	for _, r := range roles {
		if fw.hasRole(r) {
			fw.suppressed[r] = true
		}
	}
}
