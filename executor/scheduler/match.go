package scheduler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// sampleSize bounds the work per decision (STYLE.md §12): a placement scores at
// most this many feasible agents, walking the shuffled agents from where the
// previous placement stopped, and takes the least loaded. Infeasible agents do
// not count towards it, so a satisfiable request is never reported unplaced for
// want of a wider scan: the walk goes on, up to every agent, until it finds one.
const sampleSize = 8

// compactMin is the candidate-list length below which dead entries are not worth
// compacting away.
const compactMin = 64

// agent is one agent of the round, with the offers (pools) it sent.
type agent struct {
	id, hostname string
	attrs        []kv
	pools        []int
}

func (a *agent) host() string                    { return a.hostname }
func (a *agent) attr(name string) (string, bool) { return findAttr(a.attrs, name) }

// round is the state of one Match call (or a Sim): the agents, what is left
// of their offers, and the placements made so far.
type round struct {
	agents []agent
	// order is the seeded shuffle of agent indices (agents sorted by id first, so
	// the order of the offers does not matter).
	order []int32
	pools []pool
	rng   *rand.Rand
	roles []string
	// placed lists, per app id, the agents of instances placed in this round.
	placed map[string][]int
	// distinct caches distinctValues by field name.
	distinct map[string]int
}

func newRound(seed int64, roles []string) *round {
	return &round{
		rng:      rand.New(rand.NewPCG(uint64(seed), 0x5374726964652e73)),
		roles:    roles,
		placed:   make(map[string][]int),
		distinct: make(map[string]int),
	}
}

func newRoundFromOffers(offers []mesos.Offer, opts Options) *round {
	rd := newRound(opts.Seed, opts.Roles)
	byID := make(map[string]int, len(offers))
	nres, nranges, nattrs := 0, 0, 0
	for i := range offers {
		nres += len(offers[i].Resources)
		nattrs += len(offers[i].Attributes)
		for j := range offers[i].Resources {
			nranges += len(offers[i].Resources[j].Ranges.GetRange())
		}
	}
	b := newBuilder(nres, nranges, len(offers))
	kvs := make([]kv, 0, nattrs)
	rd.pools = make([]pool, 0, len(offers))
	owner := make([]int, len(offers))
	for i := range offers {
		o := &offers[i]
		a, ok := byID[o.AgentID.Value]
		if !ok {
			a = len(rd.agents)
			byID[o.AgentID.Value] = a
			at := len(kvs)
			kvs = appendAttrs(kvs, o.Attributes)
			rd.agents = append(rd.agents, agent{id: o.AgentID.Value, hostname: o.Hostname, attrs: kvs[at:len(kvs):len(kvs)]})
		}
		owner[i] = a
		rd.pools = append(rd.pools, b.pool(o.ID.Value, o.Resources))
	}
	rd.linkPools(owner)
	rd.shuffle()
	return rd
}

// linkPools gives every agent the indices of its pools, in offer order, from one
// shared backing array.
func (rd *round) linkPools(owner []int) {
	start := make([]int, len(rd.agents)+1)
	for _, a := range owner {
		start[a+1]++
	}
	for a := range rd.agents {
		start[a+1] += start[a]
	}
	all := make([]int, len(owner))
	next := slices.Clone(start[:len(rd.agents)])
	for i, a := range owner {
		all[next[a]] = i
		next[a]++
	}
	for a := range rd.agents {
		rd.agents[a].pools = all[start[a]:start[a+1]:start[a+1]]
	}
}

func (rd *round) shuffle() {
	rd.order = make([]int32, len(rd.agents))
	for i := range rd.order {
		rd.order[i] = int32(i)
	}
	slices.SortFunc(rd.order, func(a, b int32) int { return strings.Compare(rd.agents[a].id, rd.agents[b].id) })
	rd.rng.Shuffle(len(rd.order), func(i, j int) { rd.order[i], rd.order[j] = rd.order[j], rd.order[i] })
}

// constraintError is a constraint that does not compile.
type constraintError struct {
	text string
	err  error
}

func (e *constraintError) Error() string { return e.err.Error() }

// request is one Request being served.
type request struct {
	cs *constraintSet
	d  *demand
	rf *roleFilter
	// cands are the agents still worth visiting (-1: pruned), walked from cursor.
	cands  []int32
	cursor int
	dead   int
}

func (rd *round) newRequest(app *engine.App, running []Running) (*request, error) {
	cs, err := compile(app)
	if err != nil {
		return nil, err
	}
	for i := range running {
		cs.count(runningView{&running[i]})
	}
	for _, a := range rd.placed[app.ID] {
		cs.count(&rd.agents[a])
	}
	rq := &request{cs: cs, d: newDemand(app), rf: newRoleFilter(app, rd.roles)}
	rq.cands = slices.Clone(rd.order)
	if n := len(rq.cands); n > 0 {
		rq.cursor = rd.rng.IntN(n)
	}
	return rq, nil
}

// run serves one request.
func (rd *round) run(req Request) ([]Placement, *Unplaced) {
	if req.Count <= 0 {
		return nil, nil
	}
	if req.App == nil {
		return nil, rd.invalid(req.Count, "", "request without an app")
	}
	rq, err := rd.newRequest(req.App, req.Running)
	if err != nil {
		var ce *constraintError
		if !errors.As(err, &ce) {
			return nil, rd.invalid(req.Count, "", err.Error())
		}
		return nil, rd.invalid(req.Count, ce.text, err.Error())
	}
	// Count is what the app asks for, not what the offers can hold: it bounds the
	// loop, never an allocation (a poisoned count of 2e9 would otherwise be 2e9
	// placements allocated up front).
	out := make([]Placement, 0, min(req.Count, len(rd.pools)))
	for len(out) < req.Count {
		a, pi, role, ok := rd.pick(rq)
		if !ok {
			break
		}
		p := &rd.pools[pi]
		resources, ports := p.take(rq.d, rq.rf, role)
		p.used = true
		ag := &rd.agents[a]
		rq.cs.count(ag)
		rd.placed[req.App.ID] = append(rd.placed[req.App.ID], a)
		out = append(out, Placement{OfferID: p.id, AgentID: ag.id, Hostname: ag.hostname, Resources: resources, Ports: ports})
	}
	if len(out) == req.Count {
		return out, nil
	}
	return out, rd.unplaced(rq, req.Count, req.Count-len(out))
}

// fitAgent tries the agent's offers in order: the first that fits, or the
// furthest stage reached.
func (rd *round) fitAgent(ag *agent, d *demand, rf *roleFilter) (int, string, stage) {
	best := stageRole
	for _, pi := range ag.pools {
		role, st := rd.pools[pi].fit(d, rf)
		if st == stageFits {
			return pi, role, st
		}
		best = max(best, st)
	}
	return -1, "", best
}

// pick chooses the agent (and offer and allocation role) of the next instance:
// the least loaded of the first sampleSize feasible agents from the cursor.
// Agents that cannot take this request any more in this round (resources short,
// role, a constraint other than GROUP_BY's wait) are pruned from the walk.
func (rd *round) pick(rq *request) (agentIdx, poolIdx int, role string, ok bool) {
	rq.compact()
	n := len(rq.cands)
	var bestGroup, bestHost int32
	floorGroup, floorHost := rd.floor(rq.cs)
	found := 0
	for step := 0; step < n; step++ {
		pos := rq.cursor
		if rq.cursor++; rq.cursor == n {
			rq.cursor = 0
		}
		a := rq.cands[pos]
		if a < 0 {
			continue
		}
		ag := &rd.agents[a]
		if _, st := rq.cs.first(ag); st != Fits {
			if st != NotYet {
				rq.cands[pos], rq.dead = -1, rq.dead+1
			}
			continue
		}
		pi, r, st := rd.fitAgent(ag, rq.d, rq.rf)
		if st != stageFits {
			rq.cands[pos], rq.dead = -1, rq.dead+1
			continue
		}
		g, h := rq.cs.load(ag)
		if !ok || g < bestGroup || (g == bestGroup && h < bestHost) {
			agentIdx, poolIdx, role, ok = int(a), pi, r, true
			bestGroup, bestHost = g, h
		}
		if found++; found >= sampleSize || (g == floorGroup && h == floorHost) {
			break
		}
	}
	return agentIdx, poolIdx, role, ok
}

// floor is the least load any agent can have, so that a pick can stop at an
// agent that has it: per GROUP_BY field (and for the host), 0 while some value
// the agents have holds no task — fewer values hold tasks than the agents have
// — else the fewest tasks on any value.
func (rd *round) floor(cs *constraintSet) (group, host int32) {
	for i := range cs.checks {
		if c := &cs.checks[i]; c.groupBy {
			f := &cs.fields[c.field]
			if int(f.tally.groups) >= rd.distinctValues(f) {
				group += f.tally.min
			}
		}
	}
	if f := &cs.fields[cs.host]; int(f.tally.groups) >= rd.distinctValues(f) {
		host = f.tally.min
	}
	return group, host
}

// distinctValues counts the distinct values of a field among the round's agents
// (once per field and round).
func (rd *round) distinctValues(f *field) int {
	key := f.name
	if f.hostname {
		key = HostnameField
	}
	if n, ok := rd.distinct[key]; ok {
		return n
	}
	seen := make(map[string]struct{})
	for a := range rd.agents {
		if v, ok := fieldValue(f, &rd.agents[a]); ok {
			seen[v] = struct{}{}
		}
	}
	rd.distinct[key] = len(seen)
	return len(seen)
}

// compact drops pruned candidates once they are the majority, keeping the walk's
// order and position.
func (rq *request) compact() {
	if rq.dead*2 <= len(rq.cands) || len(rq.cands) < compactMin {
		return
	}
	j, cursor := 0, 0
	for i, a := range rq.cands {
		if i == rq.cursor {
			cursor = j
		}
		if a >= 0 {
			rq.cands[j] = a
			j++
		}
	}
	rq.cands = rq.cands[:j]
	if cursor >= j {
		cursor = 0
	}
	rq.cursor, rq.dead = cursor, 0
}

// unplaced explains a request that placed only some instances: every agent is
// counted under the first check it fails now.
func (rd *round) unplaced(rq *request, count, left int) *Unplaced {
	type key struct {
		st    stage
		check int
	}
	tally := map[key]int{}
	reasons := make(map[string]string, len(rd.agents))
	for a := range rd.agents {
		ag := &rd.agents[a]
		_, _, st := rd.fitAgent(ag, rq.d, rq.rf)
		if st == stageRole {
			tally[key{stageRole, -1}]++
			reasons[ag.id] = stageReasons[stageRole]
			continue
		}
		if ci, _ := rq.cs.first(ag); ci >= 0 {
			tally[key{stageConstraint, ci}]++
			reasons[ag.id] = stageReasons[stageConstraint]
			continue
		}
		if st != stageFits {
			tally[key{st, -1}]++
			reasons[ag.id] = stageReasons[st]
		}
	}
	keys := make([]key, 0, len(tally))
	for k := range tally {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y key) int {
		if d := tally[y] - tally[x]; d != 0 {
			return d
		}
		if x.st != y.st {
			return int(x.st) - int(y.st)
		}
		return x.check - y.check
	})
	u := &Unplaced{Count: left, AgentsConsidered: len(rd.agents), AgentReasons: reasons}
	for _, k := range keys {
		r := Rejection{Reason: stageReasons[k.st], Agents: tally[k]}
		if k.st == stageConstraint {
			r.Constraint = rq.cs.checks[k.check].String()
		}
		u.Rejections = append(u.Rejections, r)
	}
	u.Message = message(count, u)
	return u
}

// invalid is the Unplaced of a request that cannot be served at all; a bad
// constraint excludes every agent.
func (rd *round) invalid(count int, constraint, why string) *Unplaced {
	u := &Unplaced{Count: count, AgentsConsidered: len(rd.agents)}
	if constraint != "" && len(rd.agents) > 0 {
		u.Rejections = []Rejection{{Reason: ReasonInvalidConstraint, Constraint: constraint, Agents: len(rd.agents)}}
		u.AgentReasons = make(map[string]string, len(rd.agents))
		for a := range rd.agents {
			u.AgentReasons[rd.agents[a].id] = ReasonInvalidConstraint
		}
	}
	u.Message = fmt.Sprintf("%d of %d %s unplaced: %s", count, count, plural(count, "instance"), why)
	return u
}

// message renders an Unplaced in one line:
//
//	2 of 3 instances unplaced: 3 agents considered; 2 excluded by constraint hostname:UNIQUE, 1 by InsufficientMemory
func message(count int, u *Unplaced) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d %s unplaced: %d %s considered", u.Count, count, plural(count, "instance"),
		u.AgentsConsidered, plural(u.AgentsConsidered, "agent"))
	for i, r := range u.Rejections {
		if i == 0 {
			b.WriteString("; ")
			b.WriteString(strconv.Itoa(r.Agents))
			b.WriteString(" excluded by ")
		} else {
			b.WriteString(", ")
			b.WriteString(strconv.Itoa(r.Agents))
			b.WriteString(" by ")
		}
		if r.Constraint != "" {
			b.WriteString("constraint ")
			b.WriteString(r.Constraint)
		} else {
			b.WriteString(r.Reason)
		}
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
