package hcl

import (
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// localValue is one attribute of a locals block.
type localValue struct {
	name  string
	attr  *hcl2.Attribute
	refs  []localRef // the locals its expression reads
	state int        // 0 new, 1 evaluating, 2 done
	// cyclic marks a member of a reference cycle: its value stays unknown.
	cyclic bool
	value  cty.Value
}

// localRef is one `local.x` reference inside a local's expression.
type localRef struct {
	name string
	rng  hcl2.Range
}

const (
	stateNew = iota
	stateEvaluating
	stateDone
)

// decodeLocals reads every locals block and evaluates the values in dependency
// order (they may reference variables and each other in any order). A cycle is an
// error naming its members, starting at the lexically first.
func (l *loader) decodeLocals(blocks []*hcl2.Block) {
	l.varVal = l.varObject()
	var order []*localValue
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		l.add(diags)
		for _, attr := range sortedAttrs(attrs) {
			if prev := l.locals[attr.Name]; prev != nil {
				l.errorf(attr.NameRange.Ptr(), "Duplicate local value",
					"The local value %q was already defined at %s.", attr.Name, pos(prev.attr.NameRange))
				continue
			}
			lv := &localValue{name: attr.Name, attr: attr}
			for _, t := range attr.Expr.Variables() {
				if t.RootName() != "local" {
					continue
				}
				if name, ok := refName(t); ok {
					lv.refs = append(lv.refs, localRef{name: name, rng: t.SourceRange()})
				}
			}
			l.locals[attr.Name] = lv
			order = append(order, lv)
		}
	}
	// Visit in name order so that cycle reports do not depend on file layout.
	sorted := append([]*localValue(nil), order...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].name < sorted[j].name })
	reported := map[string]bool{}
	for _, lv := range sorted {
		l.evalLocal(lv, nil, reported)
	}
}

// evalLocal evaluates lv after the locals it references (depth first). stack holds
// the locals being evaluated, to report a cycle when one comes round again.
func (l *loader) evalLocal(lv *localValue, stack []*localValue, reported map[string]bool) {
	switch lv.state {
	case stateDone:
		return
	case stateEvaluating:
		l.reportCycle(lv, stack, reported)
		return
	}
	lv.state = stateEvaluating
	stack = append(stack, lv)
	for _, r := range lv.refs {
		if dep := l.locals[r.name]; dep != nil {
			l.evalLocal(dep, stack, reported)
		}
	}
	lv.state = stateDone
	if lv.cyclic {
		lv.value = cty.DynamicVal
		return
	}
	// The context holds just the locals this one reads, all evaluated by now.
	readable := map[string]cty.Value{}
	for _, r := range lv.refs {
		if dep := l.locals[r.name]; dep != nil {
			readable[r.name] = dep.value
		}
	}
	ctx := &hcl2.EvalContext{
		Variables: map[string]cty.Value{"var": l.varVal, "local": cty.ObjectVal(readable)},
		Functions: l.funcs,
	}
	if len(readable) == 0 {
		ctx.Variables["local"] = cty.EmptyObjectVal
	}
	// Marks stay: a local derived from a sensitive variable is sensitive.
	val, ok := l.evalMarked(lv.attr.Expr, ctx, "The value of local."+lv.name)
	if !ok {
		val = cty.DynamicVal
	}
	lv.value = val
}

// reportCycle reports the cycle closing at lv (on the stack) once, and marks its
// members so that they evaluate to unknown.
func (l *loader) reportCycle(lv *localValue, stack []*localValue, reported map[string]bool) {
	start := 0
	for i, s := range stack {
		if s == lv {
			start = i
			break
		}
	}
	cycle := stack[start:]
	first := 0
	for i, c := range cycle {
		c.cyclic = true
		if c.name < cycle[first].name {
			first = i
		}
	}
	// Rotate to start at the lexically first member.
	cycle = append(append([]*localValue(nil), cycle[first:]...), cycle[:first]...)
	names := make([]string, 0, len(cycle)+1)
	for _, c := range cycle {
		names = append(names, "local."+c.name)
	}
	names = append(names, "local."+cycle[0].name)
	key := strings.Join(names, " -> ")
	if reported[key] {
		return
	}
	reported[key] = true
	// Point at the first member's reference to the next one.
	next := cycle[0].name
	if len(cycle) > 1 {
		next = cycle[1].name
	}
	subject := cycle[0].attr.NameRange
	for _, r := range cycle[0].refs {
		if r.name == next {
			subject = r.rng
			break
		}
	}
	l.errorf(subject.Ptr(), "Cycle in local values",
		"The local values refer to each other in a cycle: %s.", key)
}

// localObject is the value of `local`: every local value.
func (l *loader) localObject() cty.Value {
	if len(l.locals) == 0 {
		return cty.EmptyObjectVal
	}
	m := make(map[string]cty.Value, len(l.locals))
	for name, lv := range l.locals {
		m[name] = lv.value
	}
	return cty.ObjectVal(m)
}

// refName is the name a var.x or local.x traversal reads (also var["x"]).
func refName(t hcl2.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	switch s := t[1].(type) {
	case hcl2.TraverseAttr:
		return s.Name, true
	case hcl2.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// eval evaluates expr in ctx after checking that every var.x and local.x it reads
// is defined. ok is false when there were errors or the value is not wholly known
// (it depends on something that failed, already reported).
func (l *loader) eval(expr hcl2.Expression, ctx *hcl2.EvalContext) (cty.Value, bool) {
	return l.evalAs(expr, ctx, "The value of this expression")
}

// evalAs is eval, naming the value as what in budget diagnostics.
func (l *loader) evalAs(expr hcl2.Expression, ctx *hcl2.EvalContext, what string) (cty.Value, bool) {
	val, ok := l.evalMarked(expr, ctx, what)
	val, _ = val.UnmarkDeep()
	return val, ok
}

// evalMarked is evalAs keeping the value's marks (sensitive parts): for locals,
// and for fields that record them (fields.unmarkField).
func (l *loader) evalMarked(expr hcl2.Expression, ctx *hcl2.EvalContext, what string) (cty.Value, bool) {
	if !l.checkRefs(expr) {
		return cty.DynamicVal, false
	}
	val, diags := l.evalBudgeted(expr, ctx, what)
	l.add(diags)
	if diags.HasErrors() {
		return cty.DynamicVal, false
	}
	if !val.IsWhollyKnown() {
		return val, false
	}
	return val, true
}

// checkRefs reports every reference to an undeclared variable or local in expr,
// with a suggestion, and says whether there was none.
func (l *loader) checkRefs(expr hcl2.Expression) bool {
	if refFree(expr) {
		return true
	}
	ok := true
	for _, t := range expr.Variables() {
		root := t.RootName()
		if root != "var" && root != "local" {
			continue
		}
		name, named := refName(t)
		if !named {
			continue
		}
		rng := t.SourceRange()
		if root == "var" {
			if l.vars[name] != nil {
				continue
			}
			ok = false
			l.errorf(&rng, "Undefined variable",
				"No variable %q is declared.%s Declare it with a variable %q block.",
				name, didYouMean(suggestRef("var.", name, l.varNames)), name)
			continue
		}
		if l.locals[name] != nil {
			continue
		}
		ok = false
		names := make([]string, 0, len(l.locals))
		for n := range l.locals {
			names = append(names, n)
		}
		sort.Strings(names)
		l.errorf(&rng, "Undefined local",
			"No local value %q is defined.%s Define it in a locals block.",
			name, didYouMean(suggestRef("local.", name, names)))
	}
	return ok
}

// refFree says, without walking the expression (hcl's Variables allocates),
// whether expr is a literal or a quoted string without interpolations, which
// refer to nothing.
func refFree(expr hcl2.Expression) bool {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return true
	case *hclsyntax.TemplateExpr:
		return literalTemplate(e)
	}
	return false
}

// literalTemplate says whether a template is a quoted string without
// interpolations: literal parts only.
func literalTemplate(e *hclsyntax.TemplateExpr) bool {
	for _, p := range e.Parts {
		if _, ok := p.(*hclsyntax.LiteralValueExpr); !ok {
			return false
		}
	}
	return true
}

// suggestRef suggests prefix+name for the closest of names.
func suggestRef(prefix, name string, names []string) string {
	if s := suggest(name, names); s != "" {
		return prefix + s
	}
	return ""
}

// sortedAttrs returns the attributes in source order.
func sortedAttrs(attrs hcl2.Attributes) []*hcl2.Attribute {
	out := make([]*hcl2.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Range, out[j].Range
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return out
}
