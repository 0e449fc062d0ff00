package scheduler

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// The property test draws random offers (split reservations, allocation roles,
// several offers per agent, scarce ports, missing attributes) and random apps
// (constraints, roles, fixed and dynamic ports, running tasks), runs Match, and
// checks the result against a naive restatement of the rules:
//
//   - no offer is over-committed: per (resource, allocation role, reservation
//     role) the placements take at most what was offered, and every host port is
//     offered and handed out once;
//   - every placement gets exactly the app's demand, from one allocation role and
//     from roles the app accepts, with the ports the app asked for;
//   - every placement satisfies every constraint given the running tasks and the
//     placements before it (of the same app id, across requests);
//   - when instances are left unplaced, no agent could take one more (sampling
//     never loses a feasible agent), and the counts add up.
func TestMatchProperties(t *testing.T) {
	for seed := uint64(0); seed < 1000; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		sc := randomScenario(rng)
		res := Match(sc.offers, sc.reqs, Options{Seed: int64(seed), Roles: sc.roles})
		if err := checkResult(sc, res); err != nil {
			t.Fatalf("seed %d: %v\nscenario: %s\nresult:\n%s", seed, err, sc, render(res))
		}
	}
}

type scenario struct {
	offers []mesos.Offer
	reqs   []Request
	roles  []string
}

func (sc scenario) String() string {
	s := fmt.Sprintf("roles %v; %d offers", sc.roles, len(sc.offers))
	for _, r := range sc.reqs {
		s += fmt.Sprintf("; app %s role %q accepted %v cpus %v mem %v disk %v gpus %d ports %+v require %v constraints %v count %d running %d",
			r.App.ID, r.App.Role, r.App.AcceptedResourceRoles, r.App.Cpus, r.App.Mem, r.App.Disk, r.App.Gpus,
			r.App.PortDefinitions, r.App.RequirePorts, r.App.Constraints, r.Count, len(r.Running))
	}
	return s
}

var constraintMenu = []string{
	"hostname:UNIQUE", "rack_id:UNIQUE", "rack_id:GROUP_BY", "rack_id:GROUP_BY:3", "zone:GROUP_BY:2",
	"zone:CLUSTER", "zone:CLUSTER:z1", "hostname:CLUSTER", "rack_id:LIKE:r[0-2]", "rack_id:UNLIKE:r1",
	"zone:MAX_PER:2", "hostname:MAX_PER:2", "zone:IS:z0", "rack_id:MAX_PER:3",
}

func randomScenario(rng *rand.Rand) scenario {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	sc := scenario{}
	switch rng.IntN(3) {
	case 0:
		sc.roles = nil
	case 1:
		sc.roles = []string{"web"}
	default:
		sc.roles = []string{"web", "db"}
	}
	multiRole := len(sc.roles) > 1 || (len(sc.roles) == 1 && rng.IntN(2) == 0)
	nAgents := 1 + rng.IntN(25)
	for a := 0; a < nAgents; a++ {
		id := fmt.Sprintf("ag%02d", a)
		var attrs []string
		if rng.IntN(8) > 0 {
			attrs = append(attrs, "rack_id=r"+strconv.Itoa(rng.IntN(4)))
		}
		if rng.IntN(8) > 0 {
			attrs = append(attrs, "zone=z"+strconv.Itoa(rng.IntN(3)))
		}
		nOffers := 1
		if rng.IntN(6) == 0 {
			nOffers = 2
		}
		for k := 0; k < nOffers; k++ {
			var res []mesos.Resource
			add := func(r mesos.Resource) {
				if rng.IntN(4) == 0 {
					r = reserved(pick("web", "db", "ops"), r)
				}
				if rng.IntN(25) == 0 {
					r.Revocable = &mesos.Resource_RevocableInfo{}
				}
				res = append(res, r)
			}
			for _, name := range []string{"cpus", "mem", "disk"} {
				scale := map[string]float64{"cpus": 0.2, "mem": 64, "disk": 100}[name]
				for n := rng.IntN(3); n >= 0; n-- {
					add(scalar(name, scale*float64(rng.IntN(30))))
				}
			}
			if rng.IntN(5) == 0 {
				add(scalar("gpus", float64(rng.IntN(3))))
			}
			for n := rng.IntN(3); n > 0; n-- { // disjoint, as Mesos offers them
				b := 31000 + 8*uint64(n) + uint64(rng.IntN(3))
				add(portRange(b, b+uint64(rng.IntN(4))))
			}
			if multiRole {
				res = allocated(sc.roles[rng.IntN(len(sc.roles))], res...)
			}
			o := mkOffer(id, res, attrs...)
			o.ID.Value = fmt.Sprintf("o-%s-%d", id, k)
			sc.offers = append(sc.offers, o)
		}
	}
	for n := 1 + rng.IntN(3); n > 0; n-- {
		app := mkApp(func(a *engine.App) {
			a.ID = pick("/a", "/b")
			a.Cpus = 0.1 * float64(1+rng.IntN(15))
			a.Mem = 32 * float64(rng.IntN(10))
			if rng.IntN(3) == 0 {
				a.Disk = 100 * float64(rng.IntN(5))
			}
			if rng.IntN(8) == 0 {
				a.Gpus = 1
			}
			a.PortDefinitions = []engine.PortDefinition{}
			for p := rng.IntN(4); p > 0; p-- {
				port := 0
				if rng.IntN(2) == 0 {
					port = 31000 + rng.IntN(24)
				}
				a.PortDefinitions = append(a.PortDefinitions, engine.PortDefinition{Port: port})
			}
			a.RequirePorts = rng.IntN(2) == 0
			for c := rng.IntN(4); c > 0; c-- {
				a.Constraints = append(a.Constraints, cons(constraintMenu[rng.IntN(len(constraintMenu))])...)
			}
			if len(sc.roles) > 0 && rng.IntN(2) == 0 {
				a.Role = sc.roles[rng.IntN(len(sc.roles))]
			}
			switch rng.IntN(5) {
			case 0:
				a.AcceptedResourceRoles = []string{"*"}
			case 1:
				a.AcceptedResourceRoles = []string{"web"}
			case 2:
				a.AcceptedResourceRoles = []string{"*", "web", "db"}
			}
		})
		req := Request{App: app, Count: rng.IntN(16)}
		for r := rng.IntN(5); r > 0 && len(sc.offers) > 0; r-- {
			o := sc.offers[rng.IntN(len(sc.offers))]
			req.Running = append(req.Running, Running{AgentID: o.AgentID.Value, Hostname: o.Hostname, Attributes: Attributes(o.Attributes)})
		}
		sc.reqs = append(sc.reqs, req)
	}
	return sc
}

// resKey identifies interchangeable resources of one offer.
type resKey struct{ name, alloc, res string }

func keyOf(r *mesos.Resource) resKey {
	k := resKey{name: r.Name, alloc: r.AllocationInfo.GetRole(), res: "*"}
	if !r.IsUnreserved() {
		k.res = r.ReservationRole()
	}
	return k
}

// left is what remains of one offer, by the oracle's own accounting.
type left struct {
	scalar map[resKey]int64
	ports  map[resKey]map[uint64]bool
}

func newLeft(o *mesos.Offer) *left {
	l := &left{scalar: map[resKey]int64{}, ports: map[resKey]map[uint64]bool{}}
	for i := range o.Resources {
		r := &o.Resources[i]
		if r.Revocable != nil {
			continue
		}
		k := keyOf(r)
		if r.Name == "ports" {
			if l.ports[k] == nil {
				l.ports[k] = map[uint64]bool{}
			}
			for _, rg := range r.Ranges.GetRange() {
				for p := rg.Begin; p <= rg.End; p++ {
					l.ports[k][p] = true
				}
			}
			continue
		}
		l.scalar[k] += milli(r.Scalar.GetValue())
	}
	return l
}

// roleOK restates the role rules: the allocation role must be the app's (or a
// framework role), the reservation role accepted.
func roleOK(app *engine.App, fw []string, alloc, res string) bool {
	if len(fw) == 0 {
		fw = []string{"*"}
	}
	task := alloc
	if alloc == "" {
		task = app.Role
		if task == "" {
			task = "*"
			if len(fw) == 1 {
				task = fw[0]
			}
		}
	} else if app.Role != "" && alloc != app.Role || app.Role == "" && !slices.Contains(fw, alloc) {
		return false
	}
	if len(app.AcceptedResourceRoles) > 0 {
		return slices.Contains(app.AcceptedResourceRoles, res)
	}
	return res == "*" || res == task
}

type placed struct {
	host  string
	attrs map[string]string
}

func valueOf(field string, p placed) (string, bool) {
	if field == "hostname" {
		return p.host, true
	}
	v, ok := p.attrs[field]
	return v, ok
}

// constraintOK restates Marathon's operators over the tasks placed before.
func constraintOK(c engine.Constraint, at placed, prior []placed) bool {
	v, ok := valueOf(c.Field, at)
	counts := map[string]int{}
	first, hasFirst := "", false
	for _, p := range prior {
		if pv, pok := valueOf(c.Field, p); pok {
			counts[pv]++
			if !hasFirst {
				first, hasFirst = pv, true
			}
		}
	}
	full := func(re string) bool { return regexp.MustCompile("^(?:" + re + ")$").MatchString(v) }
	n, _ := strconv.Atoi(c.Value)
	switch c.Operator {
	case engine.OpUnlike:
		return !ok || !full(c.Value)
	case engine.OpUnique:
		return ok && counts[v] == 0
	case engine.OpCluster:
		if c.Value != "" {
			return ok && v == c.Value
		}
		return ok && (!hasFirst || v == first)
	case engine.OpGroupBy:
		if !ok {
			return false
		}
		if counts[v] == 0 {
			return true
		}
		least := counts[v]
		for _, k := range counts {
			least = min(least, k)
		}
		return len(counts) >= n && counts[v] == least
	case engine.OpLike:
		return ok && full(c.Value)
	case engine.OpMaxPer:
		return ok && counts[v] < n
	case engine.OpIs:
		return ok && v == c.Value
	}
	return false
}

func checkResult(sc scenario, res Result) error {
	offerAt := map[string]int{}
	lefts := make([]*left, len(sc.offers))
	for i := range sc.offers {
		offerAt[sc.offers[i].ID.Value] = i
		lefts[i] = newLeft(&sc.offers[i])
	}
	// Used and Unused partition the offers, in offer order.
	usedSet := map[string]bool{}
	for _, ps := range res.Placements {
		for _, p := range ps {
			usedSet[p.OfferID] = true
		}
	}
	var wantUsed, wantUnused []string
	for _, o := range sc.offers {
		if usedSet[o.ID.Value] {
			wantUsed = append(wantUsed, o.ID.Value)
		} else {
			wantUnused = append(wantUnused, o.ID.Value)
		}
	}
	if !slices.Equal(res.Used, wantUsed) || !slices.Equal(res.Unused, wantUnused) {
		return fmt.Errorf("used %v unused %v, want %v and %v", res.Used, res.Unused, wantUsed, wantUnused)
	}
	history := map[string][]placed{} // app id → tasks placed in this Match
	for ri, req := range sc.reqs {
		app := req.App
		ps, u := res.Placements[ri], res.Unplaced[ri]
		if n := len(ps); (u == nil) != (n == req.Count) || u != nil && u.Count != req.Count-n {
			return fmt.Errorf("request %d: %d placed of %d, unplaced %+v", ri, n, req.Count, u)
		}
		prior := make([]placed, 0, len(req.Running))
		for _, r := range req.Running {
			prior = append(prior, placed{r.Hostname, r.Attributes})
		}
		prior = append(prior, history[app.ID]...)
		d := newDemand(app)
		for pi, p := range ps {
			oi, ok := offerAt[p.OfferID]
			if !ok {
				return fmt.Errorf("request %d placement %d: unknown offer %s", ri, pi, p.OfferID)
			}
			o := &sc.offers[oi]
			if p.AgentID != o.AgentID.Value || p.Hostname != o.Hostname {
				return fmt.Errorf("request %d placement %d: agent %s/%s, offer is from %s/%s", ri, pi, p.AgentID, p.Hostname, o.AgentID.Value, o.Hostname)
			}
			at := placed{o.Hostname, Attributes(o.Attributes)}
			for _, c := range app.Constraints {
				if !constraintOK(c, at, prior) {
					return fmt.Errorf("request %d placement %d on %s breaks %v", ri, pi, o.Hostname, c)
				}
			}
			if err := takeFrom(lefts[oi], app, sc.roles, d, p); err != nil {
				return fmt.Errorf("request %d placement %d on %s: %v", ri, pi, p.OfferID, err)
			}
			prior = append(prior, at)
			history[app.ID] = append(history[app.ID], at)
		}
		if u == nil {
			continue
		}
		for oi := range sc.offers {
			o := &sc.offers[oi]
			at := placed{o.Hostname, Attributes(o.Attributes)}
			fits := true
			for _, c := range app.Constraints {
				fits = fits && constraintOK(c, at, prior)
			}
			if fits && couldTake(lefts[oi], app, sc.roles, d) {
				return fmt.Errorf("request %d: %d unplaced (%s) but offer %s could take one more", ri, u.Count, u.Message, o.ID.Value)
			}
		}
		sum := 0
		for _, r := range u.Rejections {
			sum += r.Agents
		}
		if agents := len(distinctAgents(sc.offers)); sum != agents || u.AgentsConsidered != agents {
			return fmt.Errorf("request %d: rejections count %d agents, considered %d, want %d", ri, sum, u.AgentsConsidered, agents)
		}
	}
	return nil
}

func distinctAgents(offers []mesos.Offer) map[string]bool {
	m := map[string]bool{}
	for _, o := range offers {
		m[o.AgentID.Value] = true
	}
	return m
}

// takeFrom checks one placement against the offer's remains and subtracts it.
func takeFrom(l *left, app *engine.App, fw []string, d *demand, p Placement) error {
	var got [numScalars]int64
	alloc := map[string]bool{}
	var ports []uint64
	for i := range p.Resources {
		r := &p.Resources[i]
		k := keyOf(r)
		alloc[k.alloc] = true
		if !roleOK(app, fw, k.alloc, k.res) {
			return fmt.Errorf("resource %s not acceptable to the app", resourceString(*r))
		}
		if r.Name == "ports" {
			for _, rg := range r.Ranges.GetRange() {
				for port := rg.Begin; port <= rg.End; port++ {
					if !l.ports[k][port] {
						return fmt.Errorf("port %d (%+v) not offered or already taken", port, k)
					}
					for _, set := range l.ports {
						delete(set, port) // a port is one port, whichever resource lists it
					}
					ports = append(ports, port)
				}
			}
			continue
		}
		kd, _ := kindOf(r.Name)
		t := milli(r.Scalar.GetValue())
		if t <= 0 || l.scalar[k] < t {
			return fmt.Errorf("%s: takes %d milli, %d left (%+v)", r.Name, t, l.scalar[k], k)
		}
		l.scalar[k] -= t
		got[kd] += t
	}
	if got != d.scalar {
		return fmt.Errorf("took %v milli, demand %v", got, d.scalar)
	}
	if len(alloc) > 1 {
		return fmt.Errorf("mixes allocation roles %v", alloc)
	}
	if len(p.Ports) != len(d.ports) {
		return fmt.Errorf("ports %v for %d host ports", p.Ports, len(d.ports))
	}
	for j, want := range d.ports {
		if want != 0 && p.Ports[j] != want {
			return fmt.Errorf("port %d is %d, want %d", j, p.Ports[j], want)
		}
	}
	a, b := slices.Clone(ports), slices.Clone(p.Ports)
	slices.Sort(a)
	slices.Sort(b)
	if !slices.Equal(a, b) {
		return fmt.Errorf("ports %v, resources hold %v", p.Ports, a)
	}
	return nil
}

// couldTake reports whether the offer's remains hold one more instance in one
// allocation role.
func couldTake(l *left, app *engine.App, fw []string, d *demand) bool {
	roles := map[string]bool{}
	for k := range l.scalar {
		roles[k.alloc] = true
	}
	for k := range l.ports {
		roles[k.alloc] = true
	}
	for role := range roles {
		var sum [numScalars]int64
		free := map[uint64]bool{}
		for k, v := range l.scalar {
			if k.alloc == role && roleOK(app, fw, k.alloc, k.res) {
				kd, _ := kindOf(k.name)
				sum[kd] += v
			}
		}
		for k, ps := range l.ports {
			if k.alloc == role && roleOK(app, fw, k.alloc, k.res) {
				for p := range ps {
					free[p] = true
				}
			}
		}
		ok := true
		for kd := range sum {
			ok = ok && sum[kd] >= d.scalar[kd]
		}
		fixed := map[uint64]bool{}
		dynamic := 0
		for _, p := range d.ports {
			switch {
			case p == 0:
				dynamic++
			case fixed[p] || !free[p]:
				ok = false
			default:
				fixed[p] = true
			}
		}
		if ok && len(free)-len(fixed) >= dynamic {
			return true
		}
	}
	return false
}
