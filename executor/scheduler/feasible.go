package scheduler

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Feasible reports, without offers, whether n instances of app could be placed on
// the given agents (for plan-time warnings), with the reason if not. Agents lend
// their Resources; roles are read as for a framework with role "*" and the app's
// own Role. It first checks the bounds constraints put on any placement (UNIQUE
// needs n distinct values, MAX_PER k allows k per value, GROUP_BY g with fewer
// than g values stops at one task per value), then simulates Match on one fresh
// offer per agent, so resources and ports are accounted instance by instance.
// A CLUSTER without a value settles on whichever value the first instance gets;
// the simulation tries the likeliest values (those with the most agents, up to
// clusterTries of them) and succeeds if any holds all n.
func Feasible(app *engine.App, n int, agents []Agent) (ok bool, why string) {
	if n <= 0 {
		return true, ""
	}
	if app == nil {
		return false, "no app"
	}
	rd := newRoundFromAgents(agents)
	rq, err := rd.newRequest(app, nil)
	if err != nil {
		return false, err.Error()
	}
	eligible := rd.eligible(rq)
	if why := bounds(rq, eligible, n); why != "" {
		return false, why
	}
	for i, a := range clusterChoices(app, rq, eligible) {
		if i > 0 {
			rd = newRoundFromAgents(agents)
		}
		_, u := rd.run(Request{App: a, Count: n})
		if u == nil {
			return true, ""
		}
		if i == 0 {
			why = u.Message
		}
	}
	return false, why
}

// clusterTries bounds the values Feasible tries for a CLUSTER without a value.
const clusterTries = 8

// clusterChoices returns app itself, or, when it has a CLUSTER constraint without
// a value, copies of it with that constraint pinned to each of the values most
// eligible agents share (ties by value).
func clusterChoices(app *engine.App, rq *request, eligible []*agent) []*engine.App {
	ci := slices.IndexFunc(rq.cs.checks, func(c check) bool {
		cl, ok := c.Checker.(*Cluster)
		return ok && cl.value == ""
	})
	if ci < 0 || len(eligible) == 0 {
		return []*engine.App{app}
	}
	f := &rq.cs.fields[rq.cs.checks[ci].field]
	count := map[string]int{}
	for _, ag := range eligible {
		if v, ok := fieldValue(f, ag); ok {
			count[v]++
		}
	}
	values := make([]string, 0, len(count))
	for v := range count {
		values = append(values, v)
	}
	slices.SortFunc(values, func(a, b string) int {
		if d := count[b] - count[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	var out []*engine.App
	for _, v := range values[:min(len(values), clusterTries)] {
		cp := *app
		cp.Constraints = slices.Clone(app.Constraints)
		cp.Constraints[ci].Value = v
		out = append(out, &cp)
	}
	return out
}

// eligible lists the agents that could take one instance on their own:
// resources and roles, and no constraint that fails with nothing placed.
func (rd *round) eligible(rq *request) []*agent {
	var out []*agent
	for a := range rd.agents {
		ag := &rd.agents[a]
		if _, _, st := rd.fitAgent(ag, rq.d, rq.rf); st != stageFits {
			continue
		}
		if ci, _ := rq.cs.first(ag); ci >= 0 {
			continue
		}
		out = append(out, ag)
	}
	return out
}

// bounds checks the per-value limits of UNIQUE, MAX_PER and GROUP_BY against the
// eligible agents. It returns "" when no bound is exceeded or no agent is
// eligible (the simulation then says why).
func bounds(rq *request, eligible []*agent, n int) string {
	if len(eligible) == 0 {
		return ""
	}
	for ci := range rq.cs.checks {
		c := &rq.cs.checks[ci]
		f := &rq.cs.fields[c.field]
		distinct := map[string]bool{}
		for _, ag := range eligible {
			if v, ok := fieldValue(f, ag); ok {
				distinct[v] = true
			}
		}
		d := len(distinct)
		switch ch := c.Checker.(type) {
		case *Unique:
			if d < n {
				return fmt.Sprintf("%s: %d instances need %d distinct values of %s; the agents that can take the app have %d",
					ch, n, n, f.name, d)
			}
		case *MaxPer:
			if d*int(ch.max) < n {
				return fmt.Sprintf("%s: at most %d instances fit on the %d %s of %s the agents that can take the app have; %d needed",
					ch, d*int(ch.max), d, plural(d, "value"), f.name, n)
			}
		case *GroupBy:
			if d < int(ch.expect) && n > d {
				return fmt.Sprintf("%s: waits for %d distinct values of %s but the agents that can take the app have %d, so at most %d of %d instances can be placed",
					ch, ch.expect, f.name, d, d, n)
			}
		}
	}
	return ""
}
