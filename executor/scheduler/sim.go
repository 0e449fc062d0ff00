package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// Sim is a cluster that plan-time feasibility places tasks on and frees them
// from, one request after another, with the same matching code as Match: what
// one Place takes is gone for the next until Release gives it back. Agents
// lend their free Resources; Held are the resources of the tasks already on
// the agent, which a simulated kill may give back. A Sim is not safe for
// concurrent use.
type Sim struct {
	rd   *round
	byID map[string]int
}

// NewSim builds a simulation from the agents' free and held resources.
func NewSim(agents []Agent) *Sim {
	rd := newRound(0, nil)
	s := &Sim{rd: rd, byID: make(map[string]int, len(agents))}
	nres, nranges := 0, 0
	for i := range agents {
		for _, rs := range [2][]mesos.Resource{agents[i].Resources, agents[i].Held} {
			nres += len(rs)
			for j := range rs {
				nranges += len(rs[j].Ranges.GetRange())
			}
		}
	}
	b := newBuilder(nres, nranges, len(agents))
	owner := make([]int, 0, len(agents))
	for i := range agents {
		ag := &agents[i]
		all := ag.Resources
		if len(ag.Held) > 0 {
			all = append(slices.Clip(ag.Resources), ag.Held...)
		}
		p := b.pool(ag.ID, all)
		// Held pieces exist (so that a release has somewhere to go) but hold
		// nothing yet.
		for k := range p.pieces {
			pc := &p.pieces[k]
			if isHeld(pc.src, all, len(ag.Resources)) {
				pc.left, pc.ranges, pc.free = 0, nil, 0
			}
		}
		s.byID[ag.ID] = len(rd.agents)
		rd.agents = append(rd.agents, agent{id: ag.ID, hostname: ag.Hostname, attrs: attrMapList(ag.Attributes)})
		rd.pools = append(rd.pools, p)
		owner = append(owner, i)
	}
	rd.linkPools(owner)
	rd.shuffle()
	return s
}

// isHeld reports whether src is one of all[free:] (a held resource).
func isHeld(src *mesos.Resource, all []mesos.Resource, free int) bool {
	for i := free; i < len(all); i++ {
		if src == &all[i] {
			return true
		}
	}
	return false
}

// Place places req.Count new instances of req.App; req.Running must list
// every live task of the app (placements of earlier Place calls for the same
// app count only through it).
func (s *Sim) Place(req Request) ([]Placement, *Unplaced) {
	if req.App != nil {
		delete(s.rd.placed, req.App.ID)
	}
	return s.rd.run(req)
}

// Release gives resources held on an agent back: scalars to the first piece of
// the same kind and roles, ports to the ranges they came from. Resources of
// unknown agents or kinds are ignored.
func (s *Sim) Release(agentID string, resources []mesos.Resource) {
	a, ok := s.byID[agentID]
	if !ok {
		return
	}
	for i := range resources {
		r := &resources[i]
		k, ok := kindOf(r.Name)
		if !ok {
			continue
		}
		alloc, res := "", "*"
		if r.AllocationInfo != nil && r.AllocationInfo.Role != nil {
			alloc = *r.AllocationInfo.Role
		}
		if !r.IsUnreserved() {
			res = r.ReservationRole()
		}
		for _, pi := range s.rd.agents[a].pools {
			p := &s.rd.pools[pi]
			j := slices.IndexFunc(p.kind(k), func(pc piece) bool { return pc.allocRole == alloc && pc.resRole == res })
			if j < 0 {
				continue
			}
			pc := &p.kind(k)[j]
			if k == kindPorts {
				rs := append(slices.Clip(pc.ranges), r.Ranges.GetRange()...)
				pc.ranges = normRanges(rs)
				pc.free = 0
				for _, rg := range pc.ranges {
					pc.free += rg.End - rg.Begin + 1
				}
			} else {
				pc.left += milli(r.Scalar.GetValue())
			}
			break
		}
	}
}

// RunningOn describes a task on the agent for Request.Running; ok is false for
// an agent the simulation does not know.
func (s *Sim) RunningOn(agentID string) (Running, bool) {
	a, ok := s.byID[agentID]
	if !ok {
		return Running{}, false
	}
	ag := &s.rd.agents[a]
	attrs := make(map[string]string, len(ag.attrs))
	for _, kv := range ag.attrs {
		attrs[kv.name] = kv.value
	}
	return Running{AgentID: ag.id, Hostname: ag.hostname, Attributes: attrs}, true
}

// Diagnosis explains why instances cannot be placed, in numbers.
type Diagnosis struct {
	// Kind is one of the Kind* constants.
	Kind string
	// Constraint is the constraint at fault as written, "hostname:UNIQUE" (for
	// KindConstraint and KindAttribute).
	Constraint string
	// Message is the reason, e.g. `hostname:UNIQUE needs 4 agents with distinct
	// hostnames, 3 match`.
	Message string
}

// Diagnosis kinds.
const (
	// KindConstraint: a UNIQUE, MAX_PER or GROUP_BY bound cannot hold the
	// instances on the agents that match, or a constraint does not compile.
	KindConstraint = "constraint"
	// KindAttribute: a CLUSTER or IS constraint names a value no agent has.
	KindAttribute = "attribute"
	// KindResources: cpus, mem, disk or gpus are short.
	KindResources = "resources"
	// KindPorts: host ports are short.
	KindPorts = "ports"
	// KindRole: no agent offers resources the app's role may use.
	KindRole = "role"
	// KindUnplaced: anything else (the scheduler's own summary).
	KindUnplaced = "unplaced"
)

// Diagnose says why the instances u left of a Place of app could not be
// placed, running being the app's live tasks then and want the instances that
// must run together (running kept plus new). It reads the simulation as it is
// now; it changes nothing.
func (s *Sim) Diagnose(app *engine.App, want int, running []Running, u *Unplaced) Diagnosis {
	rd := s.rd
	cs, err := compile(app)
	if err != nil {
		text := ""
		var ce *constraintError
		if errors.As(err, &ce) {
			text = ce.text
		}
		return Diagnosis{Kind: KindConstraint, Constraint: text, Message: err.Error()}
	}
	// A CLUSTER or IS value no agent has.
	for ci := range cs.checks {
		c := &cs.checks[ci]
		var value string
		switch ch := c.Checker.(type) {
		case *Cluster:
			value = ch.value
		case *Is:
			value = ch.value
		default:
			continue
		}
		if value == "" {
			continue
		}
		f := &cs.fields[c.field]
		seen := map[string]bool{}
		for a := range rd.agents {
			if v, ok := fieldValue(f, &rd.agents[a]); ok {
				seen[v] = true
			}
		}
		if seen[value] {
			continue
		}
		msg := fmt.Sprintf("%s: no agent has %s=%s", c.Checker, f.name, value)
		if len(seen) == 0 {
			msg = fmt.Sprintf("%s: no agent has the attribute %s", c.Checker, f.name)
		} else {
			msg += " (values: " + listValues(seen, 10) + ")"
		}
		return Diagnosis{Kind: KindAttribute, Constraint: fmt.Sprint(c.Checker), Message: msg}
	}
	// Bounds, over the agents that could hold one instance: room now, or a
	// task of the app already there.
	rq := &request{cs: cs, d: newDemand(app), rf: newRoleFilter(app, rd.roles)}
	holds := map[string]bool{}
	for _, r := range running {
		holds[r.AgentID] = true
	}
	var eligible []*agent
	for a := range rd.agents {
		ag := &rd.agents[a]
		if _, _, st := rd.fitAgent(ag, rq.d, rq.rf); st != stageFits && !holds[ag.id] {
			continue
		}
		if ci := cs.firstStatic(ag); ci >= 0 {
			continue
		}
		eligible = append(eligible, ag)
	}
	if d := boundsDiagnosis(cs, eligible, want); d.Message != "" {
		return d
	}
	if u == nil || len(u.Rejections) == 0 {
		if u != nil {
			return Diagnosis{Kind: KindUnplaced, Message: u.Message}
		}
		return Diagnosis{}
	}
	top := u.Rejections[0]
	switch top.Reason {
	case ReasonUnfulfilledRole:
		role := app.Role
		if role == "" {
			role = "*"
		}
		return Diagnosis{Kind: KindRole, Message: fmt.Sprintf("no agent offers resources role %q may use (accepted roles %s)", role, acceptedRoles(app))}
	case ReasonInsufficientCpus, ReasonInsufficientMemory, ReasonInsufficientDisk, ReasonInsufficientGpus:
		k := map[string]kind{ReasonInsufficientCpus: kindCpus, ReasonInsufficientMemory: kindMem, ReasonInsufficientDisk: kindDisk, ReasonInsufficientGpus: kindGpus}[top.Reason]
		var largest, total int64
		for a := range rd.agents {
			free := s.freeScalar(&rd.agents[a], k, rq.rf)
			largest = max(largest, free)
			total += free
		}
		need := rq.d.scalar[k]
		if need > largest {
			return Diagnosis{Kind: KindResources, Message: fmt.Sprintf("needs %s per task, the largest agent has %s free",
				quantity(k, need), amount(k, largest))}
		}
		return Diagnosis{Kind: KindResources, Message: fmt.Sprintf("needs %s per task: %d %s left unplaced with %s free in all, in pieces too small",
			quantity(k, need), u.Count, plural(u.Count, "instance"), quantity(k, total))}
	case ReasonInsufficientPorts:
		var most uint64
		for a := range rd.agents {
			most = max(most, s.freePorts(&rd.agents[a], rq.rf))
		}
		n := len(rq.d.ports)
		var fixed []string
		for _, p := range rq.d.ports {
			if p != 0 {
				fixed = append(fixed, strconv.FormatUint(p, 10))
			}
		}
		if uint64(n) > most {
			return Diagnosis{Kind: KindPorts, Message: fmt.Sprintf("needs %d %s per task, no agent has %d free %s in its range (the most any has: %d)",
				n, plural(n, "port"), n, plural(n, "port"), most)}
		}
		if len(fixed) > 0 {
			return Diagnosis{Kind: KindPorts, Message: fmt.Sprintf("needs host %s %s per task (requirePorts), free on too few agents",
				plural(len(fixed), "port"), strings.Join(fixed, ", "))}
		}
		return Diagnosis{Kind: KindPorts, Message: fmt.Sprintf("needs %d %s per task: %d %s left unplaced", n, plural(n, "port"), u.Count, plural(u.Count, "instance"))}
	case ReasonUnfulfilledConstraint, ReasonInvalidConstraint:
		return Diagnosis{Kind: KindConstraint, Constraint: top.Constraint, Message: u.Message}
	}
	return Diagnosis{Kind: KindUnplaced, Message: u.Message}
}

// boundsDiagnosis is bounds with the numbers people read: how many agents (or
// values) the constraint needs and how many match.
func boundsDiagnosis(cs *constraintSet, eligible []*agent, n int) Diagnosis {
	for ci := range cs.checks {
		c := &cs.checks[ci]
		f := &cs.fields[c.field]
		distinct := map[string]bool{}
		for _, ag := range eligible {
			if v, ok := fieldValue(f, ag); ok {
				distinct[v] = true
			}
		}
		d := len(distinct)
		what := "values of " + f.name
		if f.hostname {
			what = "agents"
		}
		text := fmt.Sprint(c.Checker)
		switch ch := c.Checker.(type) {
		case *Unique:
			if d < n {
				return Diagnosis{Kind: KindConstraint, Constraint: text,
					Message: fmt.Sprintf("UNIQUE %s needs %d %s, %d match", f.name, n, what, d)}
			}
		case *MaxPer:
			if d*int(ch.max) < n {
				return Diagnosis{Kind: KindConstraint, Constraint: text,
					Message: fmt.Sprintf("MAX_PER %s %d holds at most %d instances on the %d %s that match, %d needed", f.name, ch.max, d*int(ch.max), d, what, n)}
			}
		case *GroupBy:
			if d < int(ch.expect) && n > d {
				return Diagnosis{Kind: KindConstraint, Constraint: text,
					Message: fmt.Sprintf("GROUP_BY %s %d waits for %d %s, %d match: at most %d of %d instances can run", f.name, ch.expect, ch.expect, what, d, d, n)}
			}
		}
	}
	return Diagnosis{}
}

// freeScalar sums what is left of one scalar kind on the agent that the role
// filter lets the app use.
func (s *Sim) freeScalar(ag *agent, k kind, rf *roleFilter) int64 {
	return bestRoleSum(s, ag, k, rf, func(pc *piece) int64 { return pc.left })
}

// freePorts counts the ports left on the agent that the app may use.
func (s *Sim) freePorts(ag *agent, rf *roleFilter) uint64 {
	return bestRoleSum(s, ag, kindPorts, rf, func(pc *piece) uint64 { return pc.free })
}

// bestRoleSum sums amount over the agent's pieces of kind k that the role
// filter lets the app use, per pool and allocation role (one task takes its
// resources under one role of one offer), and returns the largest sum.
func bestRoleSum[T int64 | uint64](s *Sim, ag *agent, k kind, rf *roleFilter, amount func(*piece) T) T {
	var best T
	for _, pi := range ag.pools {
		p := &s.rd.pools[pi]
		for _, role := range p.allocRoles {
			var sum T
			for _, pc := range p.kind(k) {
				if pc.allocRole == role && rf.ok(&pc) {
					sum += amount(&pc)
				}
			}
			best = max(best, sum)
		}
	}
	return best
}

// quantity renders an amount in milli units with its unit: "2.0 cpus",
// "512 MB mem", "1 gpus".
func quantity(k kind, m int64) string {
	v := float64(m) / 1000
	switch k {
	case kindCpus:
		if m%1000 == 0 {
			return strconv.FormatFloat(v, 'f', 1, 64) + " cpus"
		}
		return strconv.FormatFloat(v, 'f', -1, 64) + " cpus"
	case kindMem, kindDisk:
		return strconv.FormatFloat(v, 'f', -1, 64) + " MB " + kindNames[k]
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " " + kindNames[k]
}

// amount renders an amount in milli units without the resource's name: "1.5",
// "256 MB".
func amount(k kind, m int64) string {
	q := quantity(k, m)
	return strings.TrimSuffix(strings.TrimSuffix(q, kindNames[k]), " ")
}

// listValues lists up to max of the values, sorted, with "…" for the rest.
func listValues(set map[string]bool, limit int) string {
	vs := make([]string, 0, len(set))
	for v := range set {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	if len(vs) > limit {
		return strings.Join(vs[:limit], ", ") + fmt.Sprintf(", … %d more", len(vs)-limit)
	}
	return strings.Join(vs, ", ")
}

func acceptedRoles(app *engine.App) string {
	if len(app.AcceptedResourceRoles) == 0 {
		return "default"
	}
	return strings.Join(app.AcceptedResourceRoles, ", ")
}
