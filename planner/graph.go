package planner

import (
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// graph is the dependency graph over a list of apps sorted by id. Node i <
// len(apps) is apps[i]; an edge i → j means apps[i] waits for apps[j]. A dependency
// on a group becomes a virtual group node (node len(apps)+k) with an edge to every
// app under the group, so that n apps depending on a group of m apps cost n+m
// edges, not n*m. Apps under a group are contiguous in id order, so a group node
// stores a range.
type graph struct {
	apps []*engine.App
	// off, succ: the edges of app nodes in CSR form, apps[i]'s successors are
	// succ[off[i]:off[i+1]], in the order of apps[i].Dependencies; via[k] is the
	// index into apps[i].Dependencies of the dependency that made edge k.
	off  []int32
	succ []int32
	via  []int32
	// groups are the virtual nodes.
	groups []groupNode
	// scratch, when set, provides the graph's and its algorithms' arrays.
	scratch *scratch
}

// groupNode is a dependency on a group: its successors are the app with exactly
// the group's id (if any) and the apps in [lo, hi), those under id + "/".
type groupNode struct {
	id     string
	exact  int32
	lo, hi int32
}

// unresolved is the node of a dependency that names nothing in the graph.
const unresolved = -1

// depRange returns the app with exactly id (or -1) and the range of apps under
// id (ids starting with id + "/") in the sorted apps. id "/" holds every app.
func depRange(apps []*engine.App, id string) (exact, lo, hi int32) {
	n := len(apps)
	switch id {
	case "/":
		return -1, 0, int32(n)
	case "":
		return -1, 0, 0 // kept verbatim by ApplyDefaults: names nothing
	}
	i := sort.Search(n, func(i int) bool { return apps[i].ID >= id })
	exact = -1
	if i < n && apps[i].ID == id {
		exact = int32(i)
	}
	// Ids under id lie in [id+"/", id+"0"): '0' is the byte after '/'.
	slash := id + "/"
	l := i + sort.Search(n-i, func(k int) bool { return apps[i+k].ID >= slash })
	h := l
	for h < n && strings.HasPrefix(apps[h].ID, slash) && h-l < 8 {
		h++ // small groups: a linear scan is cheaper than a search
	}
	if h < n && strings.HasPrefix(apps[h].ID, slash) {
		next := id + "0"
		h += sort.Search(n-h, func(k int) bool { return apps[h+k].ID >= next })
	}
	return exact, int32(l), int32(h)
}

// buildGraph builds the dependency graph of apps (sorted by id, unique). For each
// dependency that names no app or group among them, onUnresolved(app, depIndex) is
// called (nil: ignore).
func buildGraph(apps []*engine.App, sc *scratch, onUnresolved func(app, dep int)) *graph {
	g := &graph{apps: apps, off: sc.takeInts(len(apps) + 1), scratch: sc}
	total := 0
	for _, a := range apps {
		total += len(a.Dependencies)
	}
	g.succ = make([]int32, 0, total)
	g.via = make([]int32, 0, total)
	cache := make(map[string]int32)
	for i, a := range apps {
		g.off[i] = int32(len(g.succ))
		for k, dep := range a.Dependencies {
			node, ok := cache[dep]
			if !ok {
				node = g.resolve(dep)
				cache[dep] = node
			}
			if node == unresolved {
				if onUnresolved != nil {
					onUnresolved(i, k)
				}
				continue
			}
			g.succ = append(g.succ, node)
			g.via = append(g.via, int32(k))
		}
	}
	g.off[len(apps)] = int32(len(g.succ))
	return g
}

// resolve returns the node a dependency id leads to: an app node when it names an
// app and no app lies under it, a new group node when apps lie under it, or
// unresolved.
func (g *graph) resolve(dep string) int32 {
	exact, lo, hi := depRange(g.apps, dep)
	switch {
	case lo < hi:
		g.groups = append(g.groups, groupNode{id: dep, exact: exact, lo: lo, hi: hi})
		return int32(len(g.apps) + len(g.groups) - 1)
	case exact >= 0:
		return exact
	}
	return unresolved
}

func (g *graph) numNodes() int { return len(g.apps) + len(g.groups) }

// degree returns the number of successors of node v.
func (g *graph) degree(v int32) int32 {
	if int(v) < len(g.apps) {
		return g.off[v+1] - g.off[v]
	}
	gn := &g.groups[int(v)-len(g.apps)]
	d := gn.hi - gn.lo
	if gn.exact >= 0 {
		d++
	}
	return d
}

// succAt returns the k-th successor of node v.
func (g *graph) succAt(v, k int32) int32 {
	if int(v) < len(g.apps) {
		return g.succ[g.off[v]+k]
	}
	gn := &g.groups[int(v)-len(g.apps)]
	if gn.exact >= 0 {
		if k == 0 {
			return gn.exact
		}
		k--
	}
	return gn.lo + k
}

// sccs holds the strongly connected components of a graph, in the order Tarjan's
// algorithm completes them: every component comes after the components it has
// edges to (dependencies first).
type sccs struct {
	order []int32 // nodes, component by component
	start []int32 // component c is order[start[c]:start[c+1]]
	comp  []int32 // node → component
}

func (s *sccs) count() int { return len(s.start) - 1 }

func (s *sccs) members(c int) []int32 { return s.order[s.start[c]:s.start[c+1]] }

// tarjan computes the strongly connected components of g, iteratively (no
// recursion, so a chain of 100,000 apps is fine), visiting roots and successors in
// node order so that the result is deterministic.
func (g *graph) tarjan() *sccs {
	n := g.numNodes()
	s := &sccs{order: g.scratch.takeInts(n)[:0], start: g.scratch.takeInts(n + 1)[:1], comp: g.scratch.takeInts(n)}
	index := g.scratch.takeInts(n) // 0 = not visited, else visit number
	low := g.scratch.takeInts(n)
	onStack := g.scratch.takeBools(n)
	stack := make([]int32, 0, 64)
	type frame struct{ v, pos int32 }
	frames := make([]frame, 0, 64)
	next := int32(1)
	visit := func(v int32) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		frames = append(frames, frame{v: v})
	}
	for root := int32(0); int(root) < n; root++ {
		if index[root] != 0 {
			continue
		}
		visit(root)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			v := f.v
			if f.pos < g.degree(v) {
				w := g.succAt(v, f.pos)
				f.pos++
				if index[w] == 0 {
					visit(w)
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
				continue
			}
			frames = frames[:len(frames)-1]
			if low[v] == index[v] {
				c := int32(s.count())
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					s.comp[w] = c
					s.order = append(s.order, w)
					if w == v {
						break
					}
				}
				s.start = append(s.start, int32(len(s.order)))
			}
			if len(frames) > 0 {
				if p := frames[len(frames)-1].v; low[v] < low[p] {
					low[p] = low[v]
				}
			}
		}
	}
	return s
}

// cyclic reports whether component c is a cycle: more than one node, or one app
// that depends on itself.
func (g *graph) cyclic(s *sccs, c int) bool {
	m := s.members(c)
	if len(m) > 1 {
		return true
	}
	v := m[0]
	for k := int32(0); k < g.degree(v); k++ {
		if g.succAt(v, k) == v {
			return true
		}
	}
	return false
}

// levels assigns every node a level such that a changed app comes after every
// changed app it depends on, transitively — unchanged apps and group nodes pass
// the order through (A → B unchanged → C: A's level is above C's) — and each
// changed app gets the lowest such level. Levels of changed apps run from 0 with
// no gaps; -1 means "nothing changed at or below". The members of a cycle share
// one level.
//
// With dependentsFirst the direction is reversed (for destroys): a changed app
// comes after every changed app that depends on it.
func (g *graph) levels(s *sccs, changed []bool, dependentsFirst bool) []int32 {
	lvl := g.scratch.takeInts(g.numNodes())
	isChanged := func(v int32) bool { return int(v) < len(changed) && changed[v] }
	if !dependentsFirst {
		for c := 0; c < s.count(); c++ {
			in, hit := int32(-1), false
			for _, v := range s.members(c) {
				hit = hit || isChanged(v)
				for k := int32(0); k < g.degree(v); k++ {
					if w := g.succAt(v, k); s.comp[w] != int32(c) && lvl[w] > in {
						in = lvl[w]
					}
				}
			}
			if hit {
				in++
			}
			for _, v := range s.members(c) {
				lvl[v] = in
			}
		}
		return lvl
	}
	for i := range lvl {
		lvl[i] = -1 // acc: the highest level of a changed dependent seen so far
	}
	for c := s.count() - 1; c >= 0; c-- {
		in, hit := int32(-1), false
		for _, v := range s.members(c) {
			hit = hit || isChanged(v)
			in = max(in, lvl[v])
		}
		if hit {
			in++
		}
		for _, v := range s.members(c) {
			lvl[v] = in
			for k := int32(0); k < g.degree(v); k++ {
				if w := g.succAt(v, k); s.comp[w] != int32(c) && lvl[w] < in {
					lvl[w] = in
				}
			}
		}
	}
	return lvl
}

// hop is one step of a cycle: app `from` depends on app `to` through its
// dependency `from.Dependencies[via]` (an app or group id).
type hop struct {
	from, to int32
	via      int32
}

// cycleWalk returns a closed walk through every app of the cyclic component c,
// as hops: it starts at the lexically first app and, following dependencies, goes
// each time to the nearest app not yet visited (ties: the first found in node
// order), then back to the start. For a simple cycle this is the cycle itself.
func (g *graph) cycleWalk(s *sccs, c int) []hop {
	members := s.members(c)
	start := int32(-1)
	apps := 0
	for _, v := range members {
		if int(v) < len(g.apps) {
			apps++
			if start < 0 || v < start {
				start = v
			}
		}
	}
	visited := map[int32]bool{start: true}
	var hops []hop
	cur := start
	for left := apps - 1; ; {
		done := left == 0
		path := g.bfs(s, int32(c), cur, func(v int32) bool {
			if done {
				return v == start
			}
			return int(v) < len(g.apps) && !visited[v]
		})
		if path == nil { // cannot happen inside a component; never loop
			break
		}
		hops = append(hops, path...)
		for _, h := range path {
			if !visited[h.to] {
				visited[h.to] = true
				left--
			}
		}
		cur = path[len(path)-1].to
		if done {
			break
		}
	}
	return hops
}

// bfs finds the shortest path inside component c from app `from` to the first
// app node satisfying target (at least one edge long), as app-to-app hops.
func (g *graph) bfs(s *sccs, c int32, from int32, target func(int32) bool) []hop {
	type pred struct {
		node int32
		edge int32 // position in node's successors
	}
	preds := map[int32]pred{}
	queue := []int32{from}
	// from may be reached again only when it is the target (closing the walk).
	seen := map[int32]bool{from: !target(from)}
	found := int32(-1)
	for len(queue) > 0 && found < 0 {
		v := queue[0]
		queue = queue[1:]
		for k := int32(0); k < g.degree(v); k++ {
			w := g.succAt(v, k)
			if s.comp[w] != c || seen[w] {
				continue
			}
			seen[w] = true
			preds[w] = pred{v, k}
			if int(w) < len(g.apps) && target(w) {
				found = w
				break
			}
			queue = append(queue, w)
		}
	}
	if found < 0 {
		return nil
	}
	// Walk back, collapsing group nodes: each app-to-app hop keeps the edge that
	// left the first app.
	var rev []hop
	to := found
	for v := found; ; {
		p := preds[v]
		if int(p.node) < len(g.apps) {
			rev = append(rev, hop{from: p.node, to: to, via: g.via[g.off[p.node]+p.edge]})
			to = p.node
		}
		v = p.node
		if v == from {
			break
		}
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}

// cycleDiagnostics reports the cyclic components of g, one diagnostic per
// component, ordered by the component's first app id. include decides per
// component whether to report it, with which severity and closing sentence (nil:
// every cycle is an error with detailCycle); describe adds a note to the line of
// an app that has no Source ("deployed, outside the scope").
func (g *graph) cycleDiagnostics(s *sccs, include func(members []int32) (sev hcl.DiagnosticSeverity, note string, ok bool), describe func(app int32) string) hcl.Diagnostics {
	type report struct {
		first int32
		diag  *hcl.Diagnostic
	}
	var reports []report
	for c := 0; c < s.count(); c++ {
		if !g.cyclic(s, c) {
			continue
		}
		sev, note := hcl.DiagError, detailCycle
		if include != nil {
			var ok bool
			if sev, note, ok = include(s.members(c)); !ok {
				continue
			}
		}
		hops := g.cycleWalk(s, c)
		if len(hops) == 0 {
			continue
		}
		reports = append(reports, report{hops[0].from, g.cycleDiagnostic(hops, sev, note, describe)})
	}
	if len(reports) == 0 {
		return nil
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].first < reports[j].first })
	diags := make(hcl.Diagnostics, len(reports))
	for i, r := range reports {
		diags[i] = r.diag
	}
	return diags
}

// Cycle report wording.
const (
	summaryCycle = "Dependency cycle"
	detailCycle  = "These apps wait for each other, so none of them can be deployed first. Remove one of the dependencies to break the cycle."
)

// cycleDiagnostic renders one cycle:
//
//	Summary: Dependency cycle
//	Detail:  /a -> /b -> /a
//	           /a (main.hcl:3) depends on /b (main.hcl:5)
//	           /b (main.hcl:9) depends on /shop, which holds /a (main.hcl:11)
//	         These apps wait for each other, ...
//
// Subject is the range of the first depends_on element in the walk that has one.
func (g *graph) cycleDiagnostic(hops []hop, sev hcl.DiagnosticSeverity, note string, describe func(int32) string) *hcl.Diagnostic {
	var b strings.Builder
	b.WriteString(g.apps[hops[0].from].ID)
	for _, h := range hops {
		b.WriteString(" -> ")
		b.WriteString(g.apps[h.to].ID)
	}
	b.WriteByte('\n')
	var subject *hcl.Range
	listed := map[int32]bool{}
	for _, h := range hops {
		a := g.apps[h.from]
		dep := a.Dependencies[h.via]
		depRange, hasRange := hcl.Range{}, false
		if a.Source != nil {
			depRange, hasRange = a.Source.Dependencies.Get(dep)
		}
		if hasRange && subject == nil {
			r := depRange
			subject = &r
		}
		if listed[h.from] {
			continue
		}
		listed[h.from] = true
		b.WriteString("  ")
		b.WriteString(a.ID)
		if a.Source != nil {
			b.WriteString(" (" + rangeText(a.Source.DeclRange) + ")")
		} else if describe != nil {
			if what := describe(h.from); what != "" {
				b.WriteString(" (" + what + ")")
			}
		}
		b.WriteString(" depends on ")
		b.WriteString(dep)
		if to := g.apps[h.to].ID; to != dep {
			b.WriteString(", which holds " + to)
		}
		if hasRange {
			b.WriteString(" (" + rangeText(depRange) + ")")
		}
		b.WriteByte('\n')
	}
	b.WriteString(note)
	if subject == nil {
		for _, h := range hops {
			if src := g.apps[h.from].Source; src != nil {
				r := src.DeclRange
				subject = &r
				break
			}
		}
	}
	return &hcl.Diagnostic{Severity: sev, Summary: summaryCycle, Detail: b.String(), Subject: subject}
}

// rangeText renders a range as file:line.
func rangeText(r hcl.Range) string {
	return r.Filename + ":" + strconv.Itoa(r.Start.Line)
}

// CheckGraph reports dependency cycles among the spec's apps and groups, one error
// per strongly connected component (see Plan). A group's depends_on is expected in
// the Dependencies of every app under it (the HCL decoder folds it in), and a
// dependency on a group stands for every app under the group, so a group that
// depends on one of its own apps, or an app on its own group, is a cycle too.
// Dependencies that name nothing are not reported here: without the deployed state
// they may name apps outside the scope; Plan reports them.
func CheckGraph(spec *engine.Spec) hcl.Diagnostics {
	if spec == nil || len(spec.Apps) == 0 {
		return nil
	}
	apps, diags := sortedUnique(spec.Apps)
	g := buildGraph(apps, nil, nil)
	return append(diags, g.cycleDiagnostics(g.tarjan(), nil, nil)...)
}

// sortedUnique returns apps sorted by id (the input itself when it already is)
// and an error for every duplicate id (the later duplicates are dropped).
func sortedUnique(apps []*engine.App) ([]*engine.App, hcl.Diagnostics) {
	sorted := true
	for i := 1; i < len(apps); i++ {
		if apps[i-1].ID >= apps[i].ID {
			sorted = false
			break
		}
	}
	if sorted {
		return apps, nil
	}
	out := make([]*engine.App, len(apps))
	copy(out, apps)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	var diags hcl.Diagnostics
	j := 0
	for i, a := range out {
		if i > 0 && a.ID == out[j-1].ID {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate app id",
				Detail:   "The app " + a.ID + " is declared more than once.",
				Subject:  declRange(a),
			})
			continue
		}
		out[j] = a
		j++
	}
	return out[:j], diags
}

// declRange returns a pointer to the app's declaration range, or nil.
func declRange(a *engine.App) *hcl.Range {
	if a.Source == nil {
		return nil
	}
	r := a.Source.DeclRange
	return &r
}

// depRangeOf returns a pointer to the range of the depends_on element that
// introduced dep into a, falling back to its declaration range, or nil.
func depRangeOf(a *engine.App, dep string) *hcl.Range {
	if a.Source == nil {
		return nil
	}
	if r, ok := a.Source.Dependencies.Get(dep); ok {
		return &r
	}
	r := a.Source.DeclRange
	return &r
}
