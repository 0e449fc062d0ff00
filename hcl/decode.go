package hcl

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/stride-run/stride/engine"
)

var groupSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "depends_on"}, {Name: "labels"}},
	Blocks: []hcl2.BlockHeaderSchema{
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "app", LabelNames: []string{"name"}},
	},
}

// groupCtx is what the declarations inside a group inherit from it.
type groupCtx struct {
	id     string
	parent *groupCtx
	deps   []resolvedDep // the group's own depends_on, resolved
	// invalid: this group's or an enclosing group's name is invalid, so ids
	// below it are too (reported once, at the name).
	invalid bool
	// outside: this group or an enclosing one lies outside the scope (reported
	// once, at the outermost such group).
	outside bool
}

// resolvedDep is one absolute dependency and the depends_on element that named it.
type resolvedDep struct {
	id  string
	rng hcl2.Range
}

// depRef is a dependency inside the scope, checked against the declared ids once
// every file is read.
type depRef struct {
	ref string // as written
	id  string // resolved
	rng hcl2.Range
}

// childID is the id of name declared in parent (nil: the root group).
func childID(parent *groupCtx, name string) string {
	if parent == nil {
		return "/" + name
	}
	return parent.id + "/" + name
}

// register records the declaration of id, reporting a duplicate.
func (l *loader) register(id, kind string, rng hcl2.Range) {
	if l.forked {
		l.declared = append(l.declared, declared{id: id, kind: kind, rng: rng})
		return
	}
	prev, dup := l.decls[id]
	if !dup {
		l.decls[id] = decl{kind: kind, rng: rng}
		return
	}
	switch {
	case prev.kind != kind:
		l.errorf(rng.Ptr(), "Duplicate id",
			"The id %q is already taken by the %s declared at %s; apps and groups share one namespace.",
			id, prev.kind, pos(prev.rng))
	case kind == "group":
		l.errorf(rng.Ptr(), "Duplicate group",
			"The group %q is already declared at %s. A group is declared once: put everything it holds in that block.",
			id, pos(prev.rng))
	default:
		l.errorf(rng.Ptr(), "Duplicate app",
			"The app %q is already declared at %s.", id, pos(prev.rng))
	}
}

// decodeGroup reads a group block and everything inside it.
func (l *loader) decodeGroup(block *hcl2.Block, parent *groupCtx) {
	name := block.Labels[0]
	id := childID(parent, name)
	invalid := parent != nil && parent.invalid
	if !engine.ValidSegment(name) {
		l.errorf(block.LabelRanges[0].Ptr(), "Invalid group name",
			"The group name %q is not valid: it %s.", name, engine.SegmentRule)
		invalid = true
	}
	l.register(id, "group", block.DefRange)
	// A group is either under the scope or on the way to it (scope /a/b needs
	// group "a" to hold group "b"); anything else lies outside what the files own.
	outside := parent != nil && parent.outside
	if !invalid && !outside && !engine.InScope(id, l.scope) && !engine.InScope(l.scope, id) {
		outside = true
		l.errorf(block.DefRange.Ptr(), "Group outside the scope",
			"The group %q is not under %s, nor on the way to it. Every group the files declare must lie under the scope.",
			id, l.scopeOrigin())
	}

	content, diags := bodyContent(block.Body, groupSchema)
	l.add(diags)
	f := newFields(l, 4)
	g := &engine.Group{ID: id}
	f.strMap(content.Attributes["labels"], "/labels", &g.Labels)
	if len(g.Labels) == 0 {
		g.Labels = nil
	}
	gc := &groupCtx{id: id, parent: parent, invalid: invalid, outside: outside}
	parentID := "/"
	if parent != nil {
		parentID = parent.id
	}
	gc.deps = l.decodeDependsOn(content.Attributes["depends_on"], parentID, id, "group", f)
	g.Dependencies, g.Source = dependencies(gc.deps, nil), &engine.Source{
		DeclRange:    block.DefRange,
		Attrs:        f.ranges(),
		Dependencies: dependencyRanges(gc.deps, nil),
	}
	l.groups = append(l.groups, g)

	for _, b := range content.Blocks {
		if b.Type == "group" {
			l.decodeGroup(b, gc)
		} else {
			l.decodeApp(b, gc)
		}
	}
}

// dependencies lists the ids of own and then of every enclosing group's deps,
// sorted and unique (nil when there are none).
func dependencies(own []resolvedDep, parent *groupCtx) []string {
	seen := map[string]bool{}
	var out []string
	add := func(ds []resolvedDep) {
		for _, d := range ds {
			if !seen[d.id] {
				seen[d.id] = true
				out = append(out, d.id)
			}
		}
	}
	add(own)
	for g := parent; g != nil; g = g.parent {
		add(g.deps)
	}
	sort.Strings(out)
	return out
}

// dependencyRanges maps each dependency to the element that introduced it; the
// declaration's own depends_on wins over an enclosing group's.
func dependencyRanges(own []resolvedDep, parent *groupCtx) engine.Ranges {
	var r engine.Ranges
	add := func(ds []resolvedDep) {
		for _, d := range ds {
			r = append(r, engine.KeyRange{Key: d.id, Range: d.rng})
		}
	}
	add(own)
	for g := parent; g != nil; g = g.parent {
		add(g.deps)
	}
	// Sorted by id, the first of each id (stable: the declaration's own first).
	slices.SortStableFunc(r, func(a, b engine.KeyRange) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(r, func(a, b engine.KeyRange) bool { return a.Key == b.Key })
}

// decodeDependsOn reads the depends_on of the app or group owner (kind), whose
// relative references resolve against the group base. Each element keeps its own
// range when the list is written out literally.
func (l *loader) decodeDependsOn(attr *hcl2.Attribute, base, owner, kind string, f *fields) []resolvedDep {
	if attr == nil {
		return nil
	}
	type elem struct {
		ref string
		rng hcl2.Range
	}
	var elems []elem
	if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
		for i, e := range tup.Exprs {
			v, ok := l.eval(e, l.ctx)
			if !ok {
				f.failed["/dependencies"] = true
				continue
			}
			sv, err := convert.Convert(v, cty.String)
			if err == nil && sv.IsNull() {
				err = fmt.Errorf("a string is required, not null")
			}
			if err != nil {
				l.errorf(e.Range().Ptr(), "Incorrect attribute value type",
					"Inappropriate value for attribute %q: element %d: %s.", attr.Name, i, errText(err))
				f.failed["/dependencies"] = true
				continue
			}
			elems = append(elems, elem{ref: sv.AsString(), rng: e.Range()})
		}
		f.attrs.set("/dependencies", attr.Range)
	} else {
		var refs []string
		if !f.strList(attr, "/dependencies", &refs) {
			return nil
		}
		for _, r := range refs {
			elems = append(elems, elem{ref: r, rng: attr.Expr.Range()})
		}
	}

	var out []resolvedDep
	for _, e := range elems {
		rng := e.rng
		id, err := engine.ResolveID(base, e.ref)
		if err != nil {
			l.errorf(&rng, "Invalid dependency", "%q is not a valid dependency: %s.", e.ref, err)
			f.failed["/dependencies"] = true
			continue
		}
		what := describeRef(e.ref, id)
		article := "a " + kind
		if kind == "app" {
			article = "an app"
		}
		msg := ""
		switch {
		case engine.CheckID(id, true) != nil:
			msg = fmt.Sprintf("%s is not a valid id: %s.", what, engine.CheckID(id, true))
		case id == owner:
			msg = fmt.Sprintf("%s is the %s itself; %s cannot depend on itself.", what, kind, article)
		case engine.InScope(owner, id):
			msg = fmt.Sprintf("%s is a group that holds this %s; %s cannot depend on a group it belongs to.", what, kind, article)
		case kind == "group" && engine.InScope(id, owner):
			msg = fmt.Sprintf("%s lies inside this group; a group cannot depend on its own members (they would wait for themselves).", what)
		}
		if msg != "" {
			l.errorf(&rng, "Invalid dependency", "%s", msg)
			f.failed["/dependencies"] = true
			continue
		}
		if engine.InScope(id, l.scope) {
			l.deps = append(l.deps, depRef{ref: e.ref, id: id, rng: rng})
		}
		out = append(out, resolvedDep{id: id, rng: rng})
	}
	return out
}

// describeRef quotes a reference, with its resolution when that differs.
func describeRef(ref, id string) string {
	if ref == id {
		return fmt.Sprintf("%q", ref)
	}
	return fmt.Sprintf("%q (resolved to %s)", ref, id)
}

// checkDependencies reports every dependency inside the scope that names no app or
// group declared in the files, suggesting the closest declared id.
func (l *loader) checkDependencies() {
	var ids []string
	for _, d := range l.deps {
		if _, ok := l.decls[d.id]; ok {
			continue
		}
		if ids == nil {
			ids = sortedKeys(l.decls)
		}
		s := suggest(d.id, ids)
		if s != "" {
			s = relativeSuggestion(d.ref, d.id, s)
		}
		rng := d.rng
		l.errorf(&rng, "Invalid dependency",
			"%s names no app or group declared in the files.%s", describeRef(d.ref, d.id), didYouMean(s))
	}
}

// relativeSuggestion writes the suggested id the way the reference was written:
// a relative "dbx" that should be /shop/db is suggested as "db".
func relativeSuggestion(ref, id, sugg string) string {
	if engine.IsAbsolute(ref) || engine.ParentID(id) != engine.ParentID(sugg) {
		return sugg
	}
	last, slast := id[strings.LastIndexByte(id, '/')+1:], sugg[strings.LastIndexByte(sugg, '/')+1:]
	if len(ref) < len(last) || ref[len(ref)-len(last):] != last {
		return sugg
	}
	return ref[:len(ref)-len(last)] + slast
}
