package planner

import (
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// Options tune a plan.
type Options struct {
	// Scope overrides spec.Scope when non-empty ("/" = everything).
	Scope string
	// Destroy plans the destruction of everything deployed under the scope; the
	// spec is then ignored except for its scope.
	Destroy bool
	// Restart lists deployed apps to replace (rolling, by their upgrade
	// strategy) even when nothing else changed: Marathon's
	// POST /v2/apps/{id}/restart. An app with other changes is restarted too.
	Restart []string
	// DanglingDependencies makes a dependency that names neither a declared
	// nor a deployed app or group a warning (it orders nothing) instead of an
	// error: Marathon accepts such dependencies, and so does its API.
	DanglingDependencies bool
	// RuntimeEdit says the desired apps are edits made at runtime (the REST
	// API: a scale, a PUT), not the files: the fields an app leaves to runtime
	// (lifecycle.ignore_changes) take the desired value instead of keeping the
	// deployed one.
	RuntimeEdit bool
}

// Diagnostic wording (summaries are stable; tests compare them).
const (
	summaryInvalidScope    = "Invalid scope"
	summaryOutsideScope    = "App outside the scope"
	summaryUnknownDep      = "Unknown dependency"
	summaryDestroyedDep    = "Dependency on a destroyed app"
	summaryDuplicateState  = "Duplicate app in the state"
	detailDestroyedCycle   = "These apps depend on each other in a cycle; they are destroyed in the same step."
	detailOutsideCycle     = "These deployed apps outside the scope depend on each other in a cycle; this plan does not touch them."
	maxListedInDiagnostics = 5
)

// Plan compares the desired spec with the deployed state and returns the plan
// that makes the state match, or diagnostics. It is pure and deterministic: no
// clock, no I/O, no randomness, and the same input (State.Apps in any order) gives
// the same plan, byte for byte. Neither input is modified; Change.Before and
// Change.After point at the input apps, so callers must not mutate those while
// they use the plan. The plan is nil exactly when the diagnostics hold an error;
// warnings (a destroyed app that a remaining app depends on, cycles among deployed
// apps) come with a plan.
//
// Inputs are normalised apps (ApplyDefaults has run): spec.Apps sorted by id
// (sorted here otherwise), State.Apps in any order. Large plans diff their apps on
// several goroutines; each app's result lands in its own slot, so this changes
// nothing observable.
//
// Classification (see Diff): the scope is opts.Scope, else spec.Scope, else "/".
// A spec app not deployed is created; a deployed app under the scope that the spec
// does not declare is destroyed (with opts.Destroy: every deployed app under the
// scope); apps deployed outside the scope are never touched nor listed. A spec app
// outside the scope is an error.
//
// Ordering: every destroy comes first, dependents before their dependencies
// (ordered by the deployed apps' own Dependencies); then every other change, each
// in a later step than the changes of everything it depends on, transitively
// through unchanged apps (ordered by the desired apps — the spec plus the deployed
// apps outside the scope). A dependency on a group stands for every app under it.
// Each change goes in the earliest step allowed. Cycles among desired apps are
// errors naming every member; a dependency that names neither a declared nor a
// deployed app or group is an error at its depends_on element.
func Plan(spec *engine.Spec, state *engine.State, opts Options) (*engine.Plan, hcl.Diagnostics) {
	if spec == nil {
		spec = &engine.Spec{}
	}
	if state == nil {
		state = &engine.State{}
	}
	scope, diags := resolveScope(spec.Scope, opts.Scope)
	if diags.HasErrors() {
		return nil, diags
	}
	p := &planning{spec: spec, scope: scope, destroyAll: opts.Destroy, dangling: opts.DanglingDependencies, runtimeEdit: opts.RuntimeEdit}
	if len(opts.Restart) > 0 {
		p.restart = make(map[string]bool, len(opts.Restart))
		for _, id := range opts.Restart {
			p.restart[id] = true
		}
	}
	p.diags = diags
	p.scratch = getScratch()
	defer p.scratch.release()
	p.match(state)
	p.orderChanges()
	p.orderDestroys()
	if p.diags.HasErrors() {
		return nil, p.diags
	}
	return p.assemble(state.Serial), p.diags
}

// planning is the working state of one Plan call.
type planning struct {
	spec       *engine.Spec
	scope      string
	scratch    *scratch // working memory
	destroyAll bool
	dangling   bool
	// runtimeEdit: Options.RuntimeEdit.
	runtimeEdit bool
	restart     map[string]bool
	diags       hcl.Diagnostics

	// desired are the spec apps (none with destroyAll), sorted by id.
	desired []*engine.App
	// desiredChange[i] is the change of desired[i], or nil.
	desiredChange []*engine.Change
	// runtime lists the fields of the desired apps kept as deployed
	// (lifecycle.ignore_changes) that the files set otherwise, one part per
	// diffed range, in the order of desired.
	runtime [][]engine.RuntimeField
	// kept are the deployed counterparts of the desired apps, in the same order
	// (nil for creates).
	kept []*engine.App
	// destroyed and outside are deployed apps, sorted by id: under the scope and
	// destroyed, or outside the scope (never touched).
	destroyed []*engine.App
	outside   []*engine.App
	// destroyChange[i] is the change of destroyed[i].
	destroyChange []*engine.Change

	// Levels from the graphs: changeLevel[i] of desiredChange[i],
	// destroyLevel[i] of destroyChange[i].
	changeLevel  []int32
	destroyLevel []int32

	specGroups map[string]bool // lazily built
}

// resolveScope picks and canonicalises the scope.
func resolveScope(specScope, override string) (string, hcl.Diagnostics) {
	s := override
	if s == "" {
		s = specScope
	}
	if s == "" || s == "/" {
		return "/", nil
	}
	c := engine.CanonicalID(s)
	if err := engine.CheckID(c, true); err != nil {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summaryInvalidScope,
			Detail:   "The scope " + strconv.Quote(s) + " is not a valid group id: " + err.Error() + ".",
		}}
	}
	return c, nil
}

// match pairs the desired apps with the deployed ones and diffs each pair.
func (p *planning) match(state *engine.State) {
	if !p.destroyAll {
		apps, d := sortedUnique(p.spec.Apps)
		p.diags = append(p.diags, d...)
		for _, a := range apps {
			if !engine.InScope(a.ID, p.scope) {
				p.diags = append(p.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  summaryOutsideScope,
					Detail:   "The app " + a.ID + " is not under the scope " + p.scope + ": a configuration may only declare apps under its scope.",
					Subject:  declRange(a),
				})
			}
		}
		p.desired = apps
	}

	workers := 1
	if max(len(p.desired), len(state.Apps)) >= parallelDiffMin {
		workers = min(runtime.GOMAXPROCS(0), maxDiffWorkers)
	}
	// One hash per deployed app to index it (on the workers) and one per desired
	// app to find its counterpart: cheaper than sorting 100,000 ids (see
	// BenchmarkPlan).
	index := newIDIndex(state.Apps, workers, p.scratch)
	dups := index.dups.Load()
	var byID map[string]int32
	if dups {
		byID = index.useMap()
		p.reportStateDuplicates(state, byID)
	}
	matched := p.scratch.bools.take(len(state.Apps))

	p.desiredChange = p.scratch.changes.take(len(p.desired))
	p.kept = p.scratch.apps.take(len(p.desired))
	// Diffing is most of a plan's work and independent per app: large plans
	// split it into contiguous ranges, one goroutine each. Every app writes only
	// its own slots (desiredChange[i], kept[i], matched[j]; ids are unique) and
	// every range its own part of runtime, so the result does not depend on the
	// scheduling.
	if workers <= 1 || len(p.desired) < parallelDiffMin {
		p.runtime = make([][]engine.RuntimeField, 1)
		p.diffRange(0, len(p.desired), state, index, matched, &p.runtime[0])
	} else {
		var wg sync.WaitGroup
		chunk := (len(p.desired) + workers - 1) / workers
		p.runtime = make([][]engine.RuntimeField, (len(p.desired)+chunk-1)/chunk)
		for k := range p.runtime {
			lo, hi := k*chunk, min((k+1)*chunk, len(p.desired))
			wg.Go(func() { p.diffRange(lo, hi, state, index, matched, &p.runtime[k]) })
		}
		wg.Wait()
	}

	reason := ReasonDestroy
	if p.destroyAll {
		reason = ReasonDestroyAll
	}
	everything := p.scope == "/"
	for j, a := range state.Apps {
		switch {
		case dups && byID[a.ID] != int32(j):
			// a duplicate, reported above
		case everything && matched[j]:
			// declared: neither outside nor destroyed (and its id, a cache
			// miss per app, is not read)
		case !engine.InScope(a.ID, p.scope):
			p.outside = append(p.outside, a)
		case !matched[j]:
			p.destroyed = append(p.destroyed, a)
		}
	}
	sortByID(p.outside)
	sortByID(p.destroyed)
	p.destroyChange = make([]*engine.Change, len(p.destroyed))
	for i, a := range p.destroyed {
		p.destroyChange[i] = &engine.Change{
			ID: a.ID, Action: engine.ActionDestroy, Before: a, Fields: []engine.FieldChange{},
			Reason:  reason,
			Rolling: newRolling(engine.ActionDestroy, a.Instances, 0, a.UpgradeStrategy),
		}
	}
}

// Parallel diffing: plans of at least parallelDiffMin desired apps are diffed by
// up to maxDiffWorkers goroutines. Diffing an app costs about 0.4 µs, starting a
// goroutine 1–2 µs: below a few hundred apps it does not pay.
// (A variable so that tests can compare the parallel and sequential paths.)
var parallelDiffMin = 512

const maxDiffWorkers = 8

// diffRange matches and diffs p.desired[lo:hi] against the deployed apps, and
// appends their fields left to runtime to rt.
func (p *planning) diffRange(lo, hi int, state *engine.State, index *idIndex, matched []bool, rt *[]engine.RuntimeField) {
	var d differ
	for blo := lo; blo < hi; blo += matchBlock {
		bhi := min(blo+matchBlock, hi)
		// Match a block before diffing it: the lookups are independent, so the
		// processor overlaps their cache misses (a plan of 100,000 apps is
		// bound by memory), which the diff of each app would keep apart.
		for i := blo; i < bhi; i++ {
			if j, ok := index.find(p.desired[i].ID); ok {
				matched[j] = true
				p.kept[i] = state.Apps[j]
			}
		}
		p.diffBlock(&d, blo, bhi, rt)
	}
}

// matchBlock is how many desired apps diffRange matches at a time.
const matchBlock = 64

// diffBlock diffs p.desired[lo:hi], matched already (p.kept), and appends their
// fields left to runtime to rt.
func (p *planning) diffBlock(d *differ, lo, hi int, rt *[]engine.RuntimeField) {
	for i := lo; i < hi; i++ {
		a, before := p.desired[i], p.kept[i]
		if before == nil {
			p.desiredChange[i] = &engine.Change{
				ID: a.ID, Action: engine.ActionCreate, After: a, Fields: []engine.FieldChange{},
				Reason:  ReasonCreate,
				Rolling: newRolling(engine.ActionCreate, 0, a.Instances, a.UpgradeStrategy),
			}
			continue
		}
		if kept := engine.KeepIgnored(a, before); kept != a && !p.runtimeEdit {
			// Fields left to runtime keep their deployed value; the plan says
			// where the files would have changed it.
			d.fields = d.fields[:0]
			d.apps(kept, a)
			slices.SortFunc(d.fields, func(x, y fieldDiff) int { return comparePaths(x.Path, y.Path) })
			for k := range d.fields {
				f := &d.fields[k].FieldChange
				*rt = append(*rt, engine.RuntimeField{
					ID: a.ID, Path: f.Path, Deployed: f.Before, Configured: f.After,
					Sensitive: before.IsSensitive(f.Path) || a.IsSensitive(f.Path),
				})
			}
			a = kept
		}
		d.fields = d.fields[:0]
		d.apps(before, a)
		restart := p.restart[a.ID]
		if len(d.fields) == 0 && !restart {
			continue
		}
		action, reason, onlyViolating := engine.ActionRestart, ReasonRestart, false
		if len(d.fields) > 0 {
			action, reason, onlyViolating = d.classify(before, a)
		}
		if restart && action != engine.ActionRestart {
			action, reason, onlyViolating = engine.ActionRestart, ReasonRestart, false
		}
		p.desiredChange[i] = &engine.Change{
			ID: a.ID, Action: action, Before: before, After: a, Fields: d.fieldChanges(),
			Reason: reason, OnlyViolating: onlyViolating,
			Rolling: newRolling(action, before.Instances, a.Instances, a.UpgradeStrategy),
		}
	}
}

// reportStateDuplicates reports every id the state holds more than once (byID
// keeps the last of them).
func (p *planning) reportStateDuplicates(state *engine.State, byID map[string]int32) {
	var ids []string
	for i, a := range state.Apps {
		if byID[a.ID] != int32(i) {
			ids = append(ids, a.ID)
		}
	}
	sort.Strings(ids)
	for i, id := range ids {
		if i > 0 && id == ids[i-1] {
			continue
		}
		p.diags = append(p.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summaryDuplicateState,
			Detail:   "The deployed state holds the app " + id + " more than once.",
		})
	}
}

// sortByID sorts apps by id unless they already are.
func sortByID(apps []*engine.App) {
	for i := 1; i < len(apps); i++ {
		if apps[i-1].ID > apps[i].ID {
			sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
			return
		}
	}
}

// merge merges two lists sorted by id (with no id in both) and returns, for every
// merged position, whether it came from a (true) or b.
func merge(a, b []*engine.App) ([]*engine.App, []bool) {
	if len(b) == 0 {
		fromA := make([]bool, len(a))
		for i := range fromA {
			fromA[i] = true
		}
		return a, fromA
	}
	out := make([]*engine.App, 0, len(a)+len(b))
	fromA := make([]bool, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || i < len(a) && a[i].ID < b[j].ID {
			out = append(out, a[i])
			fromA = append(fromA, true)
			i++
		} else {
			out = append(out, b[j])
			fromA = append(fromA, false)
			j++
		}
	}
	return out, fromA
}

// orderChanges builds the graph of the desired apps (the spec apps and the
// deployed apps outside the scope), reports its cycles and unresolvable
// dependencies, and levels the changes.
func (p *planning) orderChanges() {
	nodes, fromSpec := merge(p.desired, p.outside)
	// specIndex[node] = index into p.desired, or -1 for an outside app.
	specIndex := p.scratch.ints.take(len(nodes))
	changed := p.scratch.bools.take(len(nodes))
	k := int32(0)
	for n, isSpec := range fromSpec {
		if !isSpec {
			specIndex[n] = -1
			continue
		}
		specIndex[n] = k
		changed[n] = p.desiredChange[k] != nil
		k++
	}

	dw := newDestroyedWarnings(p.destroyed)
	g := buildGraph(nodes, p.scratch, func(n, dep int) {
		a := nodes[n]
		id := a.Dependencies[dep]
		switch {
		case dw.note(a, id):
			// a remaining app depends on destroyed ones: warned below
		case !fromSpec[n], p.isSpecGroup(id):
			// an outside app's stale dependency is not ours to report; a
			// declared group without apps orders nothing
		default:
			sev := hcl.DiagError
			if p.dangling {
				sev = hcl.DiagWarning
			}
			p.diags = append(p.diags, &hcl.Diagnostic{
				Severity: sev,
				Summary:  summaryUnknownDep,
				Detail:   a.ID + " depends on " + id + ", which is neither declared nor deployed.",
				Subject:  depRangeOf(a, id),
			})
		}
	})
	p.diags = append(p.diags, dw.diagnostics()...)
	s := g.tarjan()
	p.diags = append(p.diags, g.cycleDiagnostics(s, func(members []int32) (hcl.DiagnosticSeverity, string, bool) {
		for _, v := range members {
			if int(v) < len(nodes) && fromSpec[v] {
				return hcl.DiagError, detailCycle, true
			}
		}
		return hcl.DiagWarning, detailOutsideCycle, true
	}, func(v int32) string {
		if !fromSpec[v] {
			return "deployed, outside the scope"
		}
		return ""
	})...)
	lvl := g.levels(s, changed, false)
	p.changeLevel = p.scratch.ints.take(len(p.desired))
	for n, i := range specIndex {
		if i >= 0 {
			p.changeLevel[i] = lvl[n]
		}
	}
}

// isSpecGroup reports whether the spec declares a group with this id.
func (p *planning) isSpecGroup(id string) bool {
	if p.specGroups == nil {
		p.specGroups = make(map[string]bool, len(p.spec.Groups))
		for _, g := range p.spec.Groups {
			p.specGroups[g.ID] = true
		}
	}
	return p.specGroups[id]
}

// orderDestroys levels the destroys over the graph of the deployed apps, with
// their own dependencies: dependents first, transitively through apps that stay.
// Only the apps reachable from a destroyed app along those dependencies can lie
// on a path between two destroyed apps (or on a cycle through one), so the graph
// is built over that closure rather than over every deployed app.
func (p *planning) orderDestroys() {
	if len(p.destroyed) == 0 {
		return
	}
	kept := p.scratch.apps.take(len(p.kept))[:0]
	for _, a := range p.kept {
		if a != nil {
			kept = append(kept, a) // in desired order: sorted by id
		}
	}
	lists := [...][]*engine.App{p.destroyed, kept, p.outside}
	inSet := make(map[*engine.App]bool, len(p.destroyed))
	var nodes []*engine.App
	add := func(a *engine.App) {
		if !inSet[a] {
			inSet[a] = true
			nodes = append(nodes, a)
		}
	}
	for _, a := range p.destroyed {
		add(a)
	}
	expanded := map[string]bool{}
	for i := 0; i < len(nodes); i++ {
		for _, dep := range nodes[i].Dependencies {
			if expanded[dep] {
				continue
			}
			expanded[dep] = true
			for _, l := range lists {
				exact, lo, hi := depRange(l, dep)
				if exact >= 0 {
					add(l[exact])
				}
				for _, a := range l[lo:hi] {
					add(a)
				}
			}
		}
	}
	isDestroyedApp := make(map[*engine.App]bool, len(p.destroyed))
	for _, a := range p.destroyed {
		isDestroyedApp[a] = true
	}
	sortByID(nodes)
	isDestroyed := make([]bool, len(nodes))
	for n, a := range nodes {
		isDestroyed[n] = isDestroyedApp[a]
	}
	g := buildGraph(nodes, p.scratch, nil)
	s := g.tarjan()
	p.diags = append(p.diags, g.cycleDiagnostics(s, func(members []int32) (hcl.DiagnosticSeverity, string, bool) {
		for _, v := range members {
			if int(v) < len(nodes) && isDestroyed[v] {
				return hcl.DiagWarning, detailDestroyedCycle, true
			}
		}
		return 0, "", false // reported by orderChanges when it matters
	}, nil)...)
	lvl := g.levels(s, isDestroyed, true)
	p.destroyLevel = make([]int32, len(p.destroyed))
	k := 0
	for n, d := range isDestroyed {
		if d {
			p.destroyLevel[k] = lvl[n] // nodes and destroyed are both in id order
			k++
		}
	}
}

// assemble builds the plan: steps numbered from 0 with destroys first, no empty
// step, changes sorted by (step, id).
func (p *planning) assemble(serial uint64) *engine.Plan {
	type placed struct {
		c   *engine.Change
		raw int32
	}
	n := len(p.destroyChange)
	for _, c := range p.desiredChange {
		if c != nil {
			n++
		}
	}
	all := make([]placed, 0, n)
	maxDestroy := int32(-1)
	for i, c := range p.destroyChange {
		all = append(all, placed{c, p.destroyLevel[i]})
		maxDestroy = max(maxDestroy, p.destroyLevel[i])
	}
	for i, c := range p.desiredChange {
		if c != nil {
			all = append(all, placed{c, maxDestroy + 1 + p.changeLevel[i]})
		}
	}
	// Renumber the raw levels densely (they are dense already unless a cycle
	// merged levels; this keeps "no empty step" unconditional).
	maxRaw := int32(-1)
	for _, pc := range all {
		maxRaw = max(maxRaw, pc.raw)
	}
	step := make([]int32, maxRaw+1)
	for _, pc := range all {
		step[pc.raw] = 1
	}
	nSteps := int32(0)
	for r := range step {
		if step[r] != 0 {
			step[r] = nSteps
			nSteps++
		}
	}
	// Counting sort by step; within a step the order of `all` (by id: destroys
	// and desired changes are each in id order, never in the same step) is kept.
	count := make([]int, nSteps+1)
	for i := range all {
		s := step[all[i].raw]
		all[i].c.Step = int(s)
		count[s+1]++
	}
	for s := int32(1); s <= nSteps; s++ {
		count[s] += count[s-1]
	}
	changes := make([]*engine.Change, len(all))
	pos := make([]int, nSteps)
	copy(pos, count[:nSteps])
	for _, pc := range all {
		s := pc.c.Step
		changes[pos[s]] = pc.c
		pos[s]++
	}
	plan := &engine.Plan{
		FormatVersion: engine.PlanFormatVersion,
		StateSerial:   serial,
		Scope:         p.scope,
		Changes:       changes,
		Steps:         make([]engine.Step, nSteps),
	}
	for _, rf := range p.runtime {
		plan.RuntimeManaged = append(plan.RuntimeManaged, rf...)
	}
	for s := range plan.Steps {
		cs := changes[count[s]:count[s+1]]
		actions := make([]engine.StepAction, len(cs))
		for i, c := range cs {
			actions[i] = engine.StepAction{ID: c.ID, Action: c.Action}
		}
		plan.Steps[s].Actions = actions
	}
	for _, c := range changes {
		switch c.Action {
		case engine.ActionCreate:
			plan.Summary.Create++
		case engine.ActionDestroy:
			plan.Summary.Destroy++
		case engine.ActionScale:
			plan.Summary.Scale++
		case engine.ActionRestart:
			plan.Summary.Restart++
		case engine.ActionUpdate:
			plan.Summary.Update++
		}
	}
	return plan
}

// destroyedWarnings collects the remaining apps that depend on destroyed ones.
type destroyedWarnings struct {
	destroyed []*engine.App
	// byDep maps a dependency id to its destroyed targets and its dependents.
	byDep map[string]*destroyedDep
}

type destroyedDep struct {
	targets    []*engine.App
	dependents []*engine.App
}

func newDestroyedWarnings(destroyed []*engine.App) *destroyedWarnings {
	return &destroyedWarnings{destroyed: destroyed, byDep: map[string]*destroyedDep{}}
}

// note records that app a, which remains, depends on id, and reports whether id
// names destroyed apps.
func (w *destroyedWarnings) note(a *engine.App, id string) bool {
	if len(w.destroyed) == 0 {
		return false
	}
	d, ok := w.byDep[id]
	if !ok {
		exact, lo, hi := depRange(w.destroyed, id)
		if exact < 0 && lo == hi {
			w.byDep[id] = nil
			return false
		}
		d = &destroyedDep{}
		if exact >= 0 {
			d.targets = append(d.targets, w.destroyed[exact])
		}
		d.targets = append(d.targets, w.destroyed[lo:hi]...)
		w.byDep[id] = d
	}
	if d == nil {
		return false
	}
	d.dependents = append(d.dependents, a)
	return true
}

// diagnostics returns one warning per destroyed dependency, sorted by its id.
func (w *destroyedWarnings) diagnostics() hcl.Diagnostics {
	ids := make([]string, 0, len(w.byDep))
	for id, d := range w.byDep {
		if d != nil && len(d.dependents) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var diags hcl.Diagnostics
	for _, id := range ids {
		d := w.byDep[id]
		sort.Slice(d.dependents, func(i, j int) bool { return d.dependents[i].ID < d.dependents[j].ID })
		var subject *hcl.Range
		for _, a := range d.dependents {
			if subject = depRangeOf(a, id); subject != nil {
				break
			}
		}
		targets := make([]string, len(d.targets))
		for i, t := range d.targets {
			targets[i] = t.ID
		}
		dependents := make([]string, len(d.dependents))
		for i, a := range d.dependents {
			dependents[i] = a.ID
		}
		verb := " still depend on "
		if len(dependents) == 1 {
			verb = " still depends on "
		}
		detail := "This plan destroys " + listIDs(targets)
		if len(targets) != 1 || targets[0] != id {
			detail += " (under " + id + ")"
		}
		detail += ", but " + listIDs(dependents) + verb + id + "."
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  summaryDestroyedDep,
			Detail:   detail,
			Subject:  subject,
		})
	}
	return diags
}

// listIDs joins ids ("/a, /b and /c"), eliding past maxListedInDiagnostics.
func listIDs(ids []string) string {
	if len(ids) > maxListedInDiagnostics {
		more := len(ids) - maxListedInDiagnostics + 1
		return strings.Join(ids[:maxListedInDiagnostics-1], ", ") + " and " + strconv.Itoa(more) + " more"
	}
	if len(ids) <= 1 {
		return strings.Join(ids, "")
	}
	return strings.Join(ids[:len(ids)-1], ", ") + " and " + ids[len(ids)-1]
}
