package hcl

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The evaluation budget (see the package documentation). Every value produced
// while evaluating a configuration — by an expression, a function, a variable
// value from outside — is measured against the per-value limits, and all the
// work of one Load is counted against MaxWork.
const (
	// MaxValueElements is the number of elements one value may hold, counting
	// the elements of nested collections too: a list of 100 lists of 1,000
	// numbers holds 100,100.
	MaxValueElements = 100_000
	// MaxStringLength is the length in bytes of one string.
	MaxStringLength = 1 << 20
	// MaxValueBytes is the total length of the strings held by one value
	// (map keys and object attribute names included).
	MaxValueBytes = 16 << 20
	// MaxWork is the evaluation work of one Load, in units: one per element
	// produced, checked or passed to a function, one per StringBytesPerWork
	// bytes of string, and the weights below. At about 100 ns and 100 bytes
	// allocated a unit, it is a second or so, and well under 1 GB.
	MaxWork = 4_000_000
	// MaxNestingDepth is how deeply the source (brackets, braces, blocks,
	// templates, unary operators and conditionals), an expression tree and a
	// value may nest.
	MaxNestingDepth = 256
	// MaxNumberExponent bounds numbers: a number must be smaller than about
	// 10^MaxNumberExponent in magnitude and, unless it is zero, larger than
	// about 10^-MaxNumberExponent (its decimal form has at most about
	// MaxNumberExponent digits).
	MaxNumberExponent = 1000

	// ForIterationWork is the work of one iteration of a for expression.
	ForIterationWork = 10
	// StringBytesPerWork is how many bytes of string make one unit of work.
	StringBytesPerWork = 64
	// DiagnosticWork is the work of one error produced inside a for expression.
	DiagnosticWork = 100
	// ComparisonWork is the work per unit of size of each operand of == and
	// != (cty walks values several times to compare them).
	ComparisonWork = 4
	// ConditionalWork is the work per unit of size of each result of a
	// conditional (both are evaluated, and their types unified).
	ConditionalWork = 2
	// NumberTextWork is the work of writing a number into a string template.
	NumberTextWork = 16
	// RegexStepsPerWork is how many steps of regular-expression matching
	// (input length times program size) make one unit of work; compiling
	// costs a unit per instruction.
	RegexStepsPerWork = 16
	// UnifyComparesPerWork is how many comparisons of types, made to unify
	// them (see budget_unify.go), make one unit of work.
	UnifyComparesPerWork = 8
)

// maxBinaryExponent is MaxNumberExponent in powers of two.
var maxBinaryExponent = int(math.Ceil(MaxNumberExponent * math.Log2(10)))

// budgetSummary is the summary of every budget diagnostic.
const budgetSummary = "Evaluation budget exceeded"

// budgetExtra marks a diagnostic as one of the budget's: the loader drops those
// that reach it through hcl (they may arrive several times, or be swallowed by
// try) and reports the budget's own list instead.
type budgetExtra struct{}

func isBudgetDiag(d *hcl2.Diagnostic) bool {
	_, ok := d.Extra.(budgetExtra)
	return ok
}

// budgetFailed is returned (as an error) by an evaluation cut short by the
// budget; the diagnostic that explains it has been recorded.
var budgetFailed = &hcl2.Diagnostic{Severity: hcl2.DiagError, Summary: budgetSummary, Extra: budgetExtra{}}

// exhaustedPanic is the panic value that stops an evaluation once the work
// budget is spent: hcl keeps iterating a for expression after an error, so
// returning an error would not stop a nested loop; unwinding does.
// loader.evalBudgeted and loader.budgeted recover it.
type exhaustedPanic struct{}

// budgetError is a function's error when a limit stops it; the call expression
// reports it at the call.
type budgetError struct {
	detail string
	// silent: the cause has been reported already (try found a budget error in
	// an alternative).
	silent bool
}

func (e *budgetError) Error() string { return e.detail }

// errWorkExhausted is a function's error once the work budget is spent.
var errWorkExhausted = &budgetError{detail: "the evaluation work budget is spent"}

// budget is the evaluation budget of one Load, shared by the goroutines that
// decode top-level blocks.
type budget struct {
	work atomic.Int64
	over atomic.Bool

	mu           sync.Mutex
	diags        hcl2.Diagnostics
	subjects     map[hcl2.Range]bool
	reportedWork bool // the work limit has been reported
}

func newBudget() *budget {
	return &budget{subjects: map[hcl2.Range]bool{}}
}

// rootAllowance is the work of measuring an attribute's value that is not
// charged: most values are small, and a literal's size is that of the source.
const rootAllowance = 64

// evalBudgeted evaluates expr in ctx within the budget and checks its value
// against the limits of one value (what names it in the message), charging the
// check beyond rootAllowance. When the budget stops the evaluation, the
// diagnostics hold budgetFailed (the budget has recorded why).
func (l *loader) evalBudgeted(expr hcl2.Expression, ctx *hcl2.EvalContext, what string) (v cty.Value, diags hcl2.Diagnostics) {
	b := l.budget
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exhaustedPanic); !ok {
				panic(r)
			}
			v, diags = cty.DynamicVal, hcl2.Diagnostics{budgetFailed}
		}
	}()
	if lit, ok := literalValue(expr); ok {
		v = lit
	} else {
		v, diags = expr.Value(ctx)
	}
	if diags.HasErrors() {
		return v, diags
	}
	m := measureValue(v, false)
	b.charge(m.units()-rootAllowance, expr.Range())
	if m.err != "" {
		return cty.DynamicVal, append(diags, b.report(expr.Range(), "%s", limitDetail(what, m.err)))
	}
	return v, diags
}

// literalValue is the value of a literal expression (a literal, or a quoted
// string without interpolations) without hcl's evaluation machinery: most
// attributes of a large configuration are literals, and evaluating a template
// allocates a buffer, a set of marks and the string again. The value is what
// Value gives: a template of string literals is the string of their
// concatenation (cty.StringVal normalises it the same way). ok is false for
// anything else, which is evaluated as usual.
func literalValue(expr hcl2.Expression) (cty.Value, bool) {
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		return e.Val, true
	case *hclsyntax.TemplateExpr:
		if len(e.Parts) == 1 {
			if p, ok := e.Parts[0].(*hclsyntax.LiteralValueExpr); ok && isPlainString(p.Val) {
				return p.Val, true // the parser's cty.StringVal: normalised already
			}
			return cty.NilVal, false
		}
		var sb strings.Builder
		for _, part := range e.Parts {
			p, ok := part.(*hclsyntax.LiteralValueExpr)
			if !ok || !isPlainString(p.Val) {
				return cty.NilVal, false
			}
			sb.WriteString(p.Val.AsString())
		}
		return cty.StringVal(sb.String()), true
	}
	return cty.NilVal, false
}

// isPlainString says whether v is a known, non-null, unmarked string.
func isPlainString(v cty.Value) bool {
	return v.Type() == cty.String && v.IsKnown() && !v.IsNull() && !v.IsMarked()
}

// budgeted runs f, which evaluates instrumented expressions, and says whether
// the budget let it finish.
func (l *loader) budgeted(f func()) (finished bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exhaustedPanic); !ok {
				panic(r)
			}
			finished = false
		}
	}()
	f()
	return true
}

// finish adds the budget's diagnostics to diags.
func (b *budget) finish(diags hcl2.Diagnostics) hcl2.Diagnostics {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(diags, b.diags...)
}

// spend charges n units of work and says whether the budget still holds.
func (b *budget) spend(n int64) bool {
	if n <= 0 {
		return !b.over.Load()
	}
	if b.work.Add(n) > MaxWork {
		b.over.Store(true)
		return false
	}
	return !b.over.Load()
}

// exceeded says whether the work budget is spent.
func (b *budget) exceeded() bool { return b.over.Load() }

// report records a budget diagnostic (the first for its subject) and returns it.
func (b *budget) report(rng hcl2.Range, format string, args ...any) *hcl2.Diagnostic {
	d := &hcl2.Diagnostic{
		Severity: hcl2.DiagError,
		Summary:  budgetSummary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
		Extra:    budgetExtra{},
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.subjects[rng] {
		b.subjects[rng] = true
		b.diags = append(b.diags, d)
	}
	return d
}

// exhaust records that the work budget ran out while evaluating rng (only the
// first such report is kept) and stops the evaluation.
func (b *budget) exhaust(rng hcl2.Range) {
	b.over.Store(true)
	b.mu.Lock()
	first := !b.reportedWork
	b.reportedWork = true
	b.mu.Unlock()
	if first {
		b.report(rng, "Evaluating the configuration takes more than %d units of work (one per element produced or checked, %d per iteration of a for expression, one per %d bytes of string); the limit was reached in this expression.",
			MaxWork, ForIterationWork, StringBytesPerWork)
	}
	panic(exhaustedPanic{})
}

// enter is called as an instrumented expression starts: once the budget is
// spent, nothing more is evaluated.
func (b *budget) enter(rng hcl2.Range) {
	if b.over.Load() {
		b.exhaust(rng)
	}
}

// charge spends n units for the expression at rng, stopping the evaluation when
// the budget runs out.
func (b *budget) charge(n int64, rng hcl2.Range) {
	if n > 0 && !b.spend(n) {
		b.exhaust(rng)
	}
}

// measure is the size of a value: its elements (nested collections included),
// the bytes of its strings and its depth, and the work the measuring took. err
// is the first limit it exceeds, as a phrase ("holds more than ...").
type measure struct {
	elems, bytes, steps int64
	depth               int
	numbers             bool // check the range of numbers too
	err                 string
}

// units is the work a value of this size stands for.
func (m *measure) units() int64 { return m.steps }

// measureValue measures v, stopping at the first limit exceeded.
func measureValue(v cty.Value, numbers bool) measure {
	m := measure{numbers: numbers}
	m.walk(v, 1)
	return m
}

func (m *measure) walk(v cty.Value, depth int) {
	if m.err != "" {
		return
	}
	m.steps++
	if depth > m.depth {
		m.depth = depth
		if depth > MaxNestingDepth {
			m.err = depthProblem()
			return
		}
	}
	if v.IsMarked() {
		v, _ = v.Unmark()
	}
	if !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		m.addBytes(len(v.AsString()))
	case ty == cty.Number:
		if m.numbers {
			if msg := numberProblem(v); msg != "" {
				m.err = msg
			}
		}
	case ty.IsObjectType():
		attrs := ty.AttributeTypes()
		if !m.addElems(len(attrs)) {
			return
		}
		for name := range attrs {
			m.addBytes(len(name))
			m.walk(v.GetAttr(name), depth+1)
			if m.err != "" {
				return
			}
		}
	case ty.IsListType(), ty.IsSetType(), ty.IsMapType(), ty.IsTupleType():
		n := v.LengthInt()
		if !m.addElems(n) {
			return
		}
		if n == 0 {
			return
		}
		if !ty.IsTupleType() && !ty.IsMapType() {
			// Elements of a simple type need no visit unless they are strings,
			// or numbers to range-check.
			et := ty.ElementType()
			if et == cty.Bool || (et == cty.Number && !m.numbers) {
				m.steps += int64(n)
				if depth+1 > m.depth {
					m.depth = depth + 1
				}
				return
			}
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if ty.IsMapType() {
				m.addBytes(len(k.AsString()))
			}
			m.walk(e, depth+1)
			if m.err != "" {
				return
			}
		}
	}
}

func (m *measure) addElems(n int) bool {
	m.elems += int64(n)
	if m.elems > MaxValueElements {
		m.err = elemsProblem()
		return false
	}
	return true
}

func (m *measure) addBytes(n int) {
	if n > MaxStringLength {
		m.err = stringProblem()
		return
	}
	m.bytes += int64(n)
	m.steps += int64(n / StringBytesPerWork)
	if m.bytes > MaxValueBytes {
		m.err = bytesProblem()
	}
}

// The problems a measure reports, as phrases completing "The value of x ...".
func elemsProblem() string {
	return fmt.Sprintf("holds more than %d elements, the most one value may hold", MaxValueElements)
}

func stringProblem() string {
	return fmt.Sprintf("holds a string longer than %d bytes, the most one string may hold", MaxStringLength)
}

func bytesProblem() string {
	return fmt.Sprintf("holds more than %d bytes of strings, the most one value may hold", MaxValueBytes)
}

func depthProblem() string {
	return fmt.Sprintf("nests more than %d levels deep, the most a value may nest", MaxNestingDepth)
}

// sizeProblem phrases the first limit a value of this size exceeds, or "".
func sizeProblem(elems, bytes int64) string {
	switch {
	case elems > MaxValueElements:
		return elemsProblem()
	case bytes > MaxValueBytes:
		return bytesProblem()
	}
	return ""
}

// numberProblem says, as a phrase, what is wrong with a number out of range,
// or "".
func numberProblem(v cty.Value) string {
	bf := v.AsBigFloat()
	if bf.IsInf() || bf.Sign() == 0 {
		return ""
	}
	if exp := bf.MantExp(nil); exp > maxBinaryExponent || exp < -maxBinaryExponent {
		return fmt.Sprintf("holds a number beyond 1e%d or below 1e-%d in magnitude, the range numbers may take", MaxNumberExponent, MaxNumberExponent)
	}
	return ""
}

// limitDetail is the detail of a value that exceeds a limit: what names the
// value ("The result of setproduct"), problem is a measure's error.
func limitDetail(what, problem string) string {
	return what + " " + problem + "."
}

// checkValue measures a value from outside the configuration (a variable's)
// and reports it (returning the diagnostic) when it exceeds a limit, numbers
// included. Its size is that of its source: it is not charged.
func (b *budget) checkValue(v cty.Value, rng hcl2.Range, what string) *hcl2.Diagnostic {
	m := measureValue(v, true)
	if m.err != "" {
		return b.report(rng, "%s", limitDetail(what, m.err))
	}
	return nil
}

// isStatic says whether expr is made of literals only: literal values, string
// templates without interpolations, tuples and objects of those. It checks
// the number literals on the way (an expression that is not static has them
// checked by instrument).
func (b *budget) isStatic(expr hclsyntax.Expression, depth int) bool {
	if depth > MaxNestingDepth {
		return false
	}
	switch e := expr.(type) {
	case *hclsyntax.LiteralValueExpr:
		b.checkLiteral(e)
		return true
	case *hclsyntax.TemplateExpr:
		return literalTemplate(e)
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			if !b.isStatic(x, depth+1) {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsExpr:
		for _, item := range e.Items {
			if !b.isStatic(item.KeyExpr, depth+1) || !b.isStatic(item.ValueExpr, depth+1) {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsKeyExpr:
		if t, ok := e.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok {
			return !e.ForceNonLiteral && len(t.Traversal) == 1
		}
		return b.isStatic(e.Wrapped, depth+1)
	case *hclsyntax.ParenthesesExpr:
		return b.isStatic(e.Expression, depth+1)
	case *hclsyntax.UnaryOpExpr:
		return b.isStatic(e.Val, depth+1)
	case *hclsyntax.TemplateWrapExpr:
		return b.isStatic(e.Wrapped, depth+1)
	}
	return false
}
