package hcl

import (
	"errors"
	"math/big"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// The budget reaches expressions by rewriting the syntax tree once, after
// parsing and before anything is decoded: hcl's expression types cannot be
// extended, but a struct embedding an hclsyntax.Expression is one. Each wrapper
// below embeds a TemplateWrapExpr holding the original expression, so that a
// walk of the tree (Variables, VisitAll) visits the original node as before;
// Value is the wrapper's own and evaluates the original.
//
// A syntax node is only ever evaluated by one goroutine at a time (locals are
// evaluated before the top-level blocks are decoded in parallel, and each block
// on one goroutine), which lets the for and template wrappers keep the state of
// the evaluation under way in the node (saved and restored around it, so that a
// nested evaluation of the same node would be safe too).

// instrumentFile rewrites the syntax tree of a parsed file (configuration or
// HCL variables file) in place. The type of a variable is syntax, read by
// typeexpr, and is left as it is but for the defaults of optional attributes,
// which typeexpr evaluates.
func (b *budget) instrumentFile(f *hcl2.File) {
	if f == nil {
		return
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		b.instrumentBody(body, true)
	}
}

func (b *budget) instrumentBody(body *hclsyntax.Body, top bool) {
	for _, attr := range body.Attributes {
		attr.Expr = b.instrumentRoot(attr.Expr)
	}
	for _, blk := range body.Blocks {
		if top && blk.Type == "variable" {
			for name, attr := range blk.Body.Attributes {
				if name == "type" {
					b.instrumentType(attr.Expr, 0)
				} else {
					attr.Expr = b.instrumentRoot(attr.Expr)
				}
			}
			for _, nested := range blk.Body.Blocks {
				b.instrumentBody(nested.Body, false)
			}
			continue
		}
		b.instrumentBody(blk.Body, false)
	}
}

// instrumentRoot instruments an attribute's expression. A static one (literals
// only) is left as it is, but for its numbers; tuple and object constructors at
// the root are not wrapped either, since decoding looks at their syntax
// (element and key ranges).
func (b *budget) instrumentRoot(expr hclsyntax.Expression) hclsyntax.Expression {
	if b.isStatic(expr, 0) {
		return expr
	}
	in := &instr{b: b}
	return in.instrument(expr, 0, true)
}

// instrumentType instruments the defaults in a type constraint:
// optional(type, default) calls, wherever they are.
func (b *budget) instrumentType(expr hclsyntax.Expression, depth int) {
	if depth > MaxNestingDepth {
		return
	}
	switch e := expr.(type) {
	case *hclsyntax.FunctionCallExpr:
		for i, a := range e.Args {
			if e.Name == "optional" && i == 1 {
				e.Args[i] = b.instrumentRoot(a)
				continue
			}
			b.instrumentType(a, depth+1)
		}
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			b.instrumentType(item.ValueExpr, depth+1)
		}
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			b.instrumentType(x, depth+1)
		}
	case *hclsyntax.ParenthesesExpr:
		b.instrumentType(e.Expression, depth+1)
	}
}

// instrumentExpr instruments an expression parsed on its own (a -var value).
func (b *budget) instrumentExpr(expr hclsyntax.Expression) hclsyntax.Expression {
	return b.instrumentRoot(expr)
}

func (b *budget) checkLiteral(lit *hclsyntax.LiteralValueExpr) {
	if lit.Val.Type() != cty.Number || !lit.Val.IsKnown() || lit.Val.IsNull() {
		return
	}
	if p := numberProblem(lit.Val); p != "" {
		b.report(lit.SrcRange, "This number is out of range: it %s.", trimHolds(p))
		lit.Val = cty.DynamicVal
	}
}

// trimHolds turns "holds a number beyond ..." into "is a number beyond ...".
func trimHolds(p string) string {
	if len(p) > 6 && p[:6] == "holds " {
		return "is " + p[6:]
	}
	return p
}

// instr instruments one attribute's expression.
type instr struct {
	b *budget
	// deep: the expression nests too deeply, and that has been reported.
	deep bool
}

var arithmetic = map[*hclsyntax.Operation]bool{
	hclsyntax.OpAdd: true, hclsyntax.OpSubtract: true, hclsyntax.OpMultiply: true,
	hclsyntax.OpDivide: true, hclsyntax.OpModulo: true,
}

// instrument rewrites expr's subtree and returns what replaces expr. root: expr
// is an attribute's whole expression.
func (in *instr) instrument(expr hclsyntax.Expression, depth int, root bool) hclsyntax.Expression {
	if depth > MaxNestingDepth {
		if !in.deep { // once per attribute
			in.deep = true
			in.b.report(expr.Range(), "This expression nests more than %d levels deep, the most an expression may nest.", MaxNestingDepth)
		}
		return newFailedExpr(expr.Range())
	}
	d := depth + 1
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		in.b.checkLiteral(e)
		return e
	case *hclsyntax.RelativeTraversalExpr:
		e.Source = in.instrument(e.Source, d, false)
		return e
	case *hclsyntax.FunctionCallExpr:
		for i, a := range e.Args {
			e.Args[i] = in.instrument(a, d, false)
			if t := argTarget(e.Name, i); t != cty.NilType && !(e.ExpandFinal && i == len(e.Args)-1) {
				e.Args[i] = &collectionArg{wrapped: in.b.wrap(e.Args[i]), target: t}
			}
		}
		return &callExpr{wrapped: in.b.wrap(e)}
	case *hclsyntax.ConditionalExpr:
		return in.instrumentConditional(e, d)
	case *hclsyntax.IndexExpr:
		e.Collection = in.instrument(e.Collection, d, false)
		e.Key = in.instrument(e.Key, d, false)
		return e
	case *hclsyntax.TupleConsExpr:
		for i, x := range e.Exprs {
			e.Exprs[i] = in.instrument(x, d, false)
		}
		if root {
			return e
		}
		return in.b.sized(e, 1)
	case *hclsyntax.ObjectConsExpr:
		for i := range e.Items {
			e.Items[i].KeyExpr = in.instrument(e.Items[i].KeyExpr, d, false)
			e.Items[i].ValueExpr = in.instrument(e.Items[i].ValueExpr, d, false)
		}
		if root {
			return e
		}
		return in.b.sized(e, 1)
	case *hclsyntax.ObjectConsKeyExpr:
		e.Wrapped = in.instrument(e.Wrapped, d, false)
		return e
	case *hclsyntax.ForExpr:
		return in.instrumentFor(e, d)
	case *hclsyntax.SplatExpr:
		e.Source = in.instrument(e.Source, d, false)
		e.Each = in.instrument(e.Each, d, false)
		return in.b.sized(e, 1)
	case *hclsyntax.BinaryOpExpr:
		e.LHS = in.instrument(e.LHS, d, false)
		e.RHS = in.instrument(e.RHS, d, false)
		switch {
		case e.Op == hclsyntax.OpEqual || e.Op == hclsyntax.OpNotEqual:
			// Comparing takes time in the size of both operands.
			e.LHS, e.RHS = in.b.sized(e.LHS, ComparisonWork), in.b.sized(e.RHS, ComparisonWork)
		case arithmetic[e.Op]:
			return &numberExpr{wrapped: in.b.wrap(e)}
		}
		return e
	case *hclsyntax.UnaryOpExpr:
		e.Val = in.instrument(e.Val, d, false)
		return e
	case *hclsyntax.TemplateExpr:
		return in.instrumentTemplate(e, d)
	case *hclsyntax.TemplateJoinExpr:
		e.Tuple = &joinExpr{wrapped: in.b.wrap(in.instrument(e.Tuple, d, false))}
		return e
	case *hclsyntax.TemplateWrapExpr:
		e.Wrapped = in.instrument(e.Wrapped, d, false)
		return e
	case *hclsyntax.ParenthesesExpr:
		e.Expression = in.instrument(e.Expression, d, false)
		return e
	}
	// ScopeTraversalExpr, AnonSymbolExpr, ExprSyntaxError: no work of their own.
	return expr
}

func (in *instr) instrumentFor(e *hclsyntax.ForExpr, d int) hclsyntax.Expression {
	f := &forExpr{wrapped: in.b.wrap(e), st: &forState{}}
	e.CollExpr = in.instrument(e.CollExpr, d, false)
	// One of the per-iteration expressions charges each iteration: the
	// condition is evaluated first and always, then the key, then the value.
	charged := false
	iter := func(x hclsyntax.Expression, role int) hclsyntax.Expression {
		if x == nil {
			return nil
		}
		it := &iterExpr{wrapped: in.b.wrap(in.instrument(x, d, false)), f: f, role: role, charge: !charged}
		charged = true
		return it
	}
	e.CondExpr = iter(e.CondExpr, roleCond)
	e.KeyExpr = iter(e.KeyExpr, roleKey)
	e.ValExpr = iter(e.ValExpr, roleVal)
	return f
}

func (in *instr) instrumentTemplate(e *hclsyntax.TemplateExpr, d int) hclsyntax.Expression {
	t := &templateExpr{wrapped: in.b.wrap(e)}
	for i, p := range e.Parts {
		if lit, ok := p.(*hclsyntax.LiteralValueExpr); ok {
			if lit.Val.Type() == cty.String && lit.Val.IsKnown() && !lit.Val.IsNull() {
				t.literal += int64(len(lit.Val.AsString()))
			}
			continue
		}
		e.Parts[i] = &partExpr{wrapped: in.b.wrap(in.instrument(p, d, false)), t: t}
	}
	return t
}

// wrapped is what every wrapper shares: the original expression, and the
// carrier that makes a walk visit it.
type wrapped struct {
	*hclsyntax.TemplateWrapExpr // SrcRange is the original's range
	orig                        hclsyntax.Expression
	b                           *budget
}

func (b *budget) wrap(orig hclsyntax.Expression) wrapped {
	return wrapped{
		TemplateWrapExpr: &hclsyntax.TemplateWrapExpr{Wrapped: orig, SrcRange: orig.Range()},
		orig:             orig,
		b:                b,
	}
}

func (w *wrapped) Range() hcl2.Range           { return w.SrcRange }
func (w *wrapped) StartRange() hcl2.Range      { return w.orig.StartRange() }
func (w *wrapped) Variables() []hcl2.Traversal { return w.orig.Variables() }

// sized wraps expr so that its value is measured: checked against the limits of
// one value and charged weight times its size.
func (b *budget) sized(expr hclsyntax.Expression, weight int64) hclsyntax.Expression {
	if s, ok := expr.(*sizedExpr); ok {
		s.weight = max(s.weight, weight)
		return s
	}
	return &sizedExpr{wrapped: b.wrap(expr), weight: weight}
}

// sizedExpr measures the value of the expression it wraps.
type sizedExpr struct {
	wrapped
	weight int64
}

func (e *sizedExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	v, diags := e.orig.Value(ctx)
	m := measureValue(v, false)
	e.b.charge(e.weight*m.units(), e.Range())
	if m.err != "" {
		return cty.DynamicVal, append(diags, e.b.report(e.Range(), "%s", limitDetail("The value of this expression", m.err)))
	}
	return v, diags
}

// callExpr is a function call. The functions themselves check and charge their
// arguments and results (see budgetFunctions); the call turns the errors they
// return for the budget into its diagnostics, at the call.
type callExpr struct{ wrapped }

func (e *callExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	v, diags := e.orig.Value(ctx)
	for i, d := range diags {
		extra, ok := hcl2.DiagnosticExtra[hclsyntax.FunctionCallDiagExtra](d)
		if !ok || extra.FunctionCallError() == nil {
			continue
		}
		err := extra.FunctionCallError()
		var be *budgetError
		var pe function.PanicError
		switch {
		case errors.As(err, &pe):
			// An evaluation stopped inside a function (try's alternatives).
			if _, stopped := pe.Value.(exhaustedPanic); stopped {
				e.b.exhaust(e.Range())
			}
		case errors.As(err, &be):
			switch {
			case be == errWorkExhausted:
				e.b.exhaust(e.Range())
			case be.silent:
				diags[i] = budgetFailed
			default:
				diags[i] = e.b.report(e.Range(), "%s", be.detail)
			}
		}
	}
	return v, diags
}

// forState is the size so far of the value a for expression is producing.
type forState struct {
	elems, bytes int64
	failed       bool
}

// forExpr is a for expression; its iterExprs count the iterations and the size
// of the result as it grows.
type forExpr struct {
	wrapped
	st *forState
}

func (e *forExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	saved := *e.st
	*e.st = forState{}
	defer func() { *e.st = saved }()
	v, diags := e.orig.Value(ctx)
	if e.st.failed {
		return cty.DynamicVal, diags
	}
	return v, diags
}

const (
	roleCond = iota
	roleKey
	roleVal
)

// iterExpr is the condition, key or value of a for expression.
type iterExpr struct {
	wrapped
	f      *forExpr
	role   int
	charge bool // this one charges the iteration
}

func (e *iterExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	b, rng, st := e.b, e.f.Range(), e.f.st
	if e.charge {
		b.charge(ForIterationWork, rng)
	} else {
		b.enter(rng)
	}
	if st.failed {
		// The result is already too large: the remaining iterations only run
		// through (hcl does not stop a for expression at an error).
		return cty.DynamicVal, nil
	}
	v, diags := e.orig.Value(ctx)
	if len(diags) > 0 {
		b.charge(int64(len(diags))*DiagnosticWork, rng)
	}
	if e.role == roleCond {
		return v, diags
	}
	m := measureValue(v, false)
	b.charge(m.units(), rng)
	problem := m.err
	if problem == "" {
		if e.role == roleVal {
			st.elems += 1 + m.elems
			if m.depth+1 > MaxNestingDepth {
				problem = depthProblem()
			}
		}
		st.bytes += m.bytes
		problem = firstNonEmpty(problem, sizeProblem(st.elems, st.bytes))
	}
	if problem != "" {
		st.failed = true
		return cty.DynamicVal, append(diags, b.report(rng, "%s", limitDetail("The result of this for expression", problem)))
	}
	return v, diags
}

// templateExpr is a string template; its parts count the bytes of the string
// as it grows, so that a template of many large parts stops at the limit
// rather than after building the whole string.
type templateExpr struct {
	wrapped
	literal int64 // bytes of the literal parts
	n       int64 // bytes so far in the evaluation under way
	over    bool  // the evaluation under way exceeded the limit
}

func (e *templateExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	savedN, savedOver := e.n, e.over
	e.n, e.over = e.literal, false
	defer func() { e.n, e.over = savedN, savedOver }()
	if e.n > MaxStringLength {
		return cty.UnknownVal(cty.String), hcl2.Diagnostics{e.tooLong()}
	}
	v, diags := e.orig.Value(ctx)
	if uv, _ := v.Unmark(); uv.IsKnown() && !uv.IsNull() && uv.Type() == cty.String {
		e.b.charge(1+int64(len(uv.AsString())/StringBytesPerWork), e.Range())
	}
	return v, diags
}

func (e *templateExpr) tooLong() *hcl2.Diagnostic {
	return e.b.report(e.Range(), "This string template produces more than %d bytes, the most one string may hold.", MaxStringLength)
}

// partExpr is an interpolated part of a template.
type partExpr struct {
	wrapped
	t *templateExpr
}

func (e *partExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	t := e.t
	t.b.enter(t.Range())
	if t.over {
		return cty.DynamicVal, nil
	}
	v, diags := e.orig.Value(ctx)
	n := templateLen(v)
	t.n += n
	work := 1 + n/StringBytesPerWork
	if v.Type() == cty.Number {
		work += NumberTextWork // converting a number to a string is costly
	}
	t.b.charge(work, t.Range())
	if t.n > MaxStringLength {
		t.over = true
		return cty.DynamicVal, append(diags, t.tooLong())
	}
	return v, diags
}

// templateLen is the length of v once interpolated into a template (0 for what
// cannot be).
func templateLen(v cty.Value) int64 {
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if !v.IsKnown() || v.IsNull() {
		return 0
	}
	switch v.Type() {
	case cty.String:
		return int64(len(v.AsString()))
	case cty.Bool:
		if v.True() {
			return 4
		}
		return 5
	case cty.Number:
		// Whole numbers, the usual case, without converting.
		if bf := v.AsBigFloat(); bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				n := int64(1)
				if i < 0 {
					n, i = 2, -i
				}
				for ; i >= 10; i /= 10 {
					n++
				}
				return n
			}
		}
		if s, err := convert.Convert(v, cty.String); err == nil {
			return int64(len(s.AsString()))
		}
	}
	return 0
}

// joinExpr is the loop of a template's for directive: the strings it produces
// are joined, so their total length is checked first.
type joinExpr struct{ wrapped }

func (e *joinExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	v, diags := e.orig.Value(ctx)
	if v.IsMarked() || !v.IsKnown() || v.IsNull() || !v.Type().IsTupleType() {
		return v, diags
	}
	var n, steps int64
	for it := v.ElementIterator(); it.Next(); {
		_, x := it.Element()
		n += templateLen(x)
		steps++
		if n > MaxStringLength {
			return cty.DynamicVal, append(diags, e.b.report(e.Range(),
				"This template directive produces more than %d bytes, the most one string may hold.", MaxStringLength))
		}
	}
	e.b.charge(steps, e.Range())
	return v, diags
}

// numberExpr is an arithmetic operation, whose result is range-checked: a huge
// number would be a huge string once converted.
type numberExpr struct{ wrapped }

func (e *numberExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	v, diags := e.orig.Value(ctx)
	if !v.IsMarked() && v.IsKnown() && !v.IsNull() && v.Type() == cty.Number {
		if p := numberProblem(v); p != "" {
			return cty.DynamicVal, append(diags, e.b.report(e.Range(), "The result of this operation is out of range: it %s.", trimHolds(p)))
		}
	}
	return v, diags
}

// failedExpr replaces an expression that cannot be evaluated (it nests too
// deeply); the reason has been reported. Its carrier holds a placeholder, so a
// walk stops there.
type failedExpr struct {
	*hclsyntax.TemplateWrapExpr
}

func newFailedExpr(rng hcl2.Range) *failedExpr {
	return &failedExpr{&hclsyntax.TemplateWrapExpr{
		Wrapped:  &hclsyntax.LiteralValueExpr{Val: cty.DynamicVal, SrcRange: rng},
		SrcRange: rng,
	}}
}

func (e *failedExpr) Value(*hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	return cty.DynamicVal, hcl2.Diagnostics{budgetFailed}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
