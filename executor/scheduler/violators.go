package scheduler

import (
	"slices"

	"github.com/stride-run/stride/engine"
)

// Violators returns the indices (ascending) of running tasks that break the app's
// constraints; a constraint-only restart replaces just those. The answer is
// deterministic in the order of running:
//
//   - UNIQUE, MAX_PER, CLUSTER, LIKE, UNLIKE and IS are read greedily: a task
//     violates when it could not have been placed after the tasks before it that
//     are kept. So for UNIQUE the second and later tasks on a value violate, for
//     MAX_PER n those after the first n on a value, for CLUSTER without a value
//     those not on the first task's value.
//   - GROUP_BY is read on the distribution of the tasks kept so far: with T tasks
//     over m values and the constraint expecting g groups, each value may keep
//     ceil(T / max(m, g)) tasks, the first ones in order; the rest violate, so
//     that their replacements even the groups out. {4,1,1} gives 2 violators.
//   - A task whose agent lacks the field violates every operator but UNLIKE.
//
// An app whose constraints do not compile has no violators (nothing to judge by).
func Violators(app *engine.App, running []Running) []int {
	cs, err := compile(app)
	if err != nil || len(cs.checks) == 0 {
		return nil
	}
	var out []int
	keep := make([]int, 0, len(running))
	for i := range running {
		v := runningView{&running[i]}
		if cs.firstStatic(v) >= 0 {
			out = append(out, i)
			continue
		}
		cs.count(v)
		keep = append(keep, i)
	}
	for ci := range cs.checks {
		g, ok := cs.checks[ci].Checker.(*GroupBy)
		if !ok {
			continue
		}
		f := &cs.fields[cs.checks[ci].field]
		counts := map[string]int{}
		total := 0
		for _, i := range keep {
			if v, ok := fieldValue(f, runningView{&running[i]}); ok {
				counts[v]++
				total++
			}
		}
		groups := max(len(counts), int(g.expect), 1)
		limit := (total + groups - 1) / groups
		seen := map[string]int{}
		next := keep[:0]
		for _, i := range keep {
			v, ok := fieldValue(f, runningView{&running[i]})
			if ok {
				seen[v]++
			}
			if !ok || seen[v] > limit {
				out = append(out, i)
				continue
			}
			next = append(next, i)
		}
		keep = next
	}
	slices.Sort(out)
	return out
}
