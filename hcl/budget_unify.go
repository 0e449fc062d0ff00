package hcl

import (
	"fmt"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// cty's type unification — converting a tuple to list(any), a conditional
// whose results differ in shape — compares every pair of the types involved:
// tolist of a 60,000-element tuple takes 40 seconds. So values are prepared
// for the conversions to collections of any type (function parameters,
// tolist, toset, tomap, variable types): a tuple (object) whose elements
// (attributes) are all of one type becomes the list, set (map) the conversion
// would produce, in linear time; the comparisons cty must still make for the
// others are charged, and refused beyond the budget. Conditionals are charged
// the comparisons their results' types take to unify.

// collectionArgs are the functions whose arguments are converted to a
// collection of any type, by hcl (list(any) and set(any) parameters) or by the
// function itself (tolist, toset, tomap; setproduct unifies the element types
// of tuples): the target of each argument (nil for all arguments alike: the
// last entry stands for the rest).
var collectionArgs = map[string][]cty.Type{
	"tolist":                 {cty.List(cty.DynamicPseudoType)},
	"toset":                  {cty.Set(cty.DynamicPseudoType)},
	"tomap":                  {cty.Map(cty.DynamicPseudoType)},
	"distinct":               {cty.List(cty.DynamicPseudoType)},
	"chunklist":              {cty.List(cty.DynamicPseudoType), cty.NilType},
	"setproduct":             {cty.List(cty.DynamicPseudoType)},
	"setunion":               {cty.Set(cty.DynamicPseudoType)},
	"setintersection":        {cty.Set(cty.DynamicPseudoType)},
	"setsubtract":            {cty.Set(cty.DynamicPseudoType)},
	"setsymmetricdifference": {cty.Set(cty.DynamicPseudoType)},
}

// argTarget is the collection target of argument i of function name, or
// NilType.
func argTarget(name string, i int) cty.Type {
	ts := collectionArgs[name]
	if len(ts) == 0 {
		return cty.NilType
	}
	return ts[min(i, len(ts)-1)]
}

// prepareUnify rewrites the parts of v that are to be converted to target
// (see above) and returns the comparisons of types the conversion will still
// make.
func prepareUnify(v cty.Value, target cty.Type) (cty.Value, int64) {
	if !target.HasDynamicTypes() || target == cty.DynamicPseudoType || v.IsMarked() || !v.IsWhollyKnown() {
		return v, 0
	}
	return prepare(v, target, 0)
}

func prepare(v cty.Value, target cty.Type, depth int) (cty.Value, int64) {
	if depth > MaxNestingDepth || v.IsNull() || !target.HasDynamicTypes() || target == cty.DynamicPseudoType {
		return v, 0
	}
	ty := v.Type()
	switch {
	case (target.IsListType() || target.IsSetType()) && ty.IsTupleType():
		n := ty.Length()
		if n == 0 {
			return v, 0
		}
		elems := make([]cty.Value, 0, n)
		var compares int64
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			e, c := prepare(e, target.ElementType(), depth+1)
			compares += c
			elems = append(elems, e)
		}
		if sameType(elems) {
			if target.IsListType() {
				return cty.ListVal(elems), compares
			}
			return cty.SetVal(elems), compares
		}
		return cty.TupleVal(elems), compares + pairs(int64(n))
	case target.IsMapType() && ty.IsObjectType():
		attrs := ty.AttributeTypes()
		if len(attrs) == 0 {
			return v, 0
		}
		m := make(map[string]cty.Value, len(attrs))
		var compares int64
		elems := make([]cty.Value, 0, len(attrs))
		for name := range attrs {
			e, c := prepare(v.GetAttr(name), target.ElementType(), depth+1)
			compares += c
			m[name] = e
			elems = append(elems, e)
		}
		if sameType(elems) {
			return cty.MapVal(m), compares
		}
		return cty.ObjectVal(m), compares + pairs(int64(len(attrs)))
	case target.IsObjectType() && ty.IsObjectType():
		attrs := ty.AttributeTypes()
		if len(attrs) == 0 {
			return v, 0
		}
		m := make(map[string]cty.Value, len(attrs))
		var compares int64
		for name := range attrs {
			e := v.GetAttr(name)
			if target.HasAttribute(name) {
				var c int64
				e, c = prepare(e, target.AttributeType(name), depth+1)
				compares += c
			}
			m[name] = e
		}
		return cty.ObjectVal(m), compares
	case target.IsTupleType() && ty.IsTupleType() && ty.Length() == target.Length() && ty.Length() > 0:
		elems := make([]cty.Value, 0, ty.Length())
		var compares int64
		for i, it := 0, v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			e, c := prepare(e, target.TupleElementType(i), depth+1)
			compares += c
			elems = append(elems, e)
		}
		return cty.TupleVal(elems), compares
	}
	return v, 0
}

// sameType says whether the values all have one type, free of dynamic parts
// (whose unification cty decides otherwise).
func sameType(vals []cty.Value) bool {
	t := vals[0].Type()
	if t.HasDynamicTypes() {
		return false
	}
	for _, v := range vals[1:] {
		if !v.Type().Equals(t) {
			return false
		}
	}
	return true
}

// pairs is the number of pairs of n things: what unifying n types compares.
func pairs(n int64) int64 { return n * (n - 1) / 2 }

// chargeCompares charges unifying work for the expression at rng; it returns
// the error to report when the comparisons exceed the whole budget, and stops
// the evaluation when they exceed what is left of it.
func (b *budget) chargeCompares(compares int64, rng hcl2.Range, what, why string) *hcl2.Diagnostic {
	work := compares / UnifyComparesPerWork
	if work > MaxWork {
		return b.report(rng, "%s would compare %d pairs of types to unify them (%s); the limit for all evaluation is %d units of %d comparisons.",
			what, compares, why, MaxWork, UnifyComparesPerWork)
	}
	b.charge(work, rng)
	return nil
}

// collectionArg is an argument converted to a collection of any type.
type collectionArg struct {
	wrapped
	target cty.Type
}

func (e *collectionArg) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	e.b.enter(e.Range())
	v, diags := e.orig.Value(ctx)
	if diags.HasErrors() {
		return v, diags
	}
	v, compares := prepareUnify(v, e.target)
	if d := e.b.chargeCompares(compares, e.Range(), fmt.Sprintf("Converting this value to %s", e.target.FriendlyNameForConstraint()),
		"its elements are of different types"); d != nil {
		return cty.DynamicVal, append(diags, d)
	}
	return v, diags
}

// conditional is the state of a conditional's evaluation under way: the type
// of its true result, for the false result to charge the unification.
type conditional struct {
	rng      hcl2.Range
	trueType cty.Type
}

// branchExpr is one result of a conditional.
type branchExpr struct {
	sizedExpr
	c    *conditional
	last bool // the false result, evaluated second
}

func (e *branchExpr) Value(ctx *hcl2.EvalContext) (cty.Value, hcl2.Diagnostics) {
	v, diags := e.sizedExpr.Value(ctx)
	if !e.last {
		e.c.trueType = v.Type()
		return v, diags
	}
	if d := e.b.chargeCompares(unifyCompares(e.c.trueType, v.Type(), 0), e.c.rng, "This conditional",
		"its results are tuples or objects of different shapes; tolist or tomap on them avoids this"); d != nil {
		return cty.DynamicVal, append(diags, d)
	}
	return v, diags
}

// unifyCompares estimates the comparisons of types cty makes to unify a and b:
// equal types and structures of one shape unify part by part; others have all
// their element types compared pairwise.
func unifyCompares(a, b cty.Type, depth int) int64 {
	if depth > MaxNestingDepth || a.Equals(b) || a == cty.DynamicPseudoType || b == cty.DynamicPseudoType {
		return 0
	}
	switch {
	case a.IsTupleType() && b.IsTupleType() && a.Length() == b.Length():
		var n int64
		for i := 0; i < a.Length(); i++ {
			n += unifyCompares(a.TupleElementType(i), b.TupleElementType(i), depth+1)
		}
		return n
	case a.IsObjectType() && b.IsObjectType() && sameAttributes(a, b):
		var n int64
		for name := range a.AttributeTypes() {
			n += unifyCompares(a.AttributeType(name), b.AttributeType(name), depth+1)
		}
		return n
	case a.IsCollectionType() && b.IsCollectionType():
		return unifyCompares(a.ElementType(), b.ElementType(), depth+1)
	}
	n := int64(elementTypes(a) + elementTypes(b))
	return pairs(n)
}

func sameAttributes(a, b cty.Type) bool {
	aa, ba := a.AttributeTypes(), b.AttributeTypes()
	if len(aa) != len(ba) {
		return false
	}
	for name := range aa {
		if _, ok := ba[name]; !ok {
			return false
		}
	}
	return true
}

// elementTypes is how many element types a structural type has (one for the
// others).
func elementTypes(t cty.Type) int {
	switch {
	case t.IsTupleType():
		return t.Length()
	case t.IsObjectType():
		return len(t.AttributeTypes())
	}
	return 1
}

// instrumentConditional charges a conditional's results: their size (both are
// evaluated) and the unification of their types.
func (in *instr) instrumentConditional(e *hclsyntax.ConditionalExpr, d int) hclsyntax.Expression {
	c := &conditional{rng: e.Range()}
	e.Condition = in.instrument(e.Condition, d, false)
	e.TrueResult = &branchExpr{sizedExpr: sizedExpr{wrapped: in.b.wrap(in.instrument(e.TrueResult, d, false)), weight: ConditionalWork}, c: c}
	e.FalseResult = &branchExpr{sizedExpr: sizedExpr{wrapped: in.b.wrap(in.instrument(e.FalseResult, d, false)), weight: ConditionalWork}, c: c, last: true}
	return e
}
