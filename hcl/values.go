package hcl

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/stride-run/stride/engine"
)

var (
	errWhole    = errors.New("a whole number is required")
	errTooLarge = errors.New("the number is out of range")
	errFinite   = errors.New("a finite number is required")
)

// value evaluates attr in the loader's context and converts it to ty. ok is false
// when the attribute is null (absent) or failed (the error is reported).
func (l *loader) value(attr *hcl2.Attribute, ty cty.Type) (cty.Value, bool) {
	v, ok := l.eval(attr.Expr, l.ctx)
	if !ok || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		l.typeError(attr, err)
		return cty.NilVal, false
	}
	return cv, true
}

// typeError reports that attr's value does not fit, at the value.
func (l *loader) typeError(attr *hcl2.Attribute, err error) {
	l.errorf(attr.Expr.Range().Ptr(), "Incorrect attribute value type",
		"Inappropriate value for attribute %q: %s.", attr.Name, errText(err))
}

// str decodes a string attribute.
func (l *loader) str(attr *hcl2.Attribute, dst *string) bool {
	v, ok := l.value(attr, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

// toInt converts a known, non-null number to an int.
func toInt(v cty.Value) (int, error) {
	bf := v.AsBigFloat()
	if bf.IsInf() {
		return 0, errFinite
	}
	if !bf.IsInt() {
		return 0, errWhole
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i > math.MaxInt32 || i < math.MinInt32 {
		return 0, errTooLarge
	}
	return int(i), nil
}

// toFloat converts a known, non-null number to a finite float64.
func toFloat(v cty.Value) (float64, error) {
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) {
		return 0, errFinite
	}
	return f, nil
}

// fields decodes the attributes of one app or group, recording for each Marathon
// JSON pointer it sets the range of the attribute that set it, and the pointers
// whose attribute failed (so that validation does not report them again).
type fields struct {
	l      *loader
	attrs  attrRanges
	failed map[string]bool
	// sensitive holds the pointers whose value derives from a sensitive
	// variable (nil when none do).
	sensitive map[string]bool
}

// newFields returns fields for about n attributes, with the loader's spare
// list of ranges when there is one (see ranges).
func newFields(l *loader, n int) *fields {
	list := l.spareAttrs
	l.spareAttrs = nil
	if list == nil {
		list = make([]engine.KeyRange, 0, n)
	}
	return &fields{l: l, attrs: attrRanges{list: list}, failed: map[string]bool{}}
}

// ranges returns the recorded ranges, for a Source, and hands the list back to
// the loader for the next declaration: f records no more.
func (f *fields) ranges() engine.Ranges {
	r := engine.MakeRanges(slices.Clone(f.attrs.list))
	clear(f.attrs.list)
	f.l.spareAttrs = f.attrs.list[:0]
	f.attrs = attrRanges{}
	return r
}

// attrRanges records where each JSON pointer of a declaration was set, in the
// order first set (the Source of a declaration is then the same from one load
// to the next). A few pointers are searched in order; past indexedAttrs a map
// indexes them.
type attrRanges struct {
	list  []engine.KeyRange
	index map[string]int
}

const indexedAttrs = 32

func (a *attrRanges) find(key string) int {
	if a.index != nil {
		if i, ok := a.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range a.list {
		if a.list[i].Key == key {
			return i
		}
	}
	return -1
}

func (a *attrRanges) get(key string) (hcl2.Range, bool) {
	if i := a.find(key); i >= 0 {
		return a.list[i].Range, true
	}
	return hcl2.Range{}, false
}

func (a *attrRanges) set(key string, r hcl2.Range) {
	if i := a.find(key); i >= 0 {
		a.list[i].Range = r
		return
	}
	a.list = append(a.list, engine.KeyRange{Key: key, Range: r})
	switch {
	case a.index != nil:
		a.index[key] = len(a.list) - 1
	case len(a.list) > indexedAttrs:
		a.index = make(map[string]int, 2*len(a.list))
		for i, kr := range a.list {
			a.index[kr.Key] = i
		}
	}
}

func (a *attrRanges) del(key string) {
	i := a.find(key)
	if i < 0 {
		return
	}
	a.list = slices.Delete(a.list, i, i+1)
	if a.index != nil {
		delete(a.index, key)
		for j := i; j < len(a.list); j++ {
			a.index[a.list[j].Key] = j
		}
	}
}

// get evaluates attr as ty; nil attr or null is absent. A failure (reported, or
// a value unknown because something it depends on failed) marks ptr.
func (f *fields) get(attr *hcl2.Attribute, ptr string, ty cty.Type) (cty.Value, bool) {
	if attr == nil {
		return cty.NilVal, false
	}
	v, ok := f.l.evalMarked(attr.Expr, f.l.ctx, "The value of this expression")
	if !ok {
		f.failed[ptr] = true
		return cty.NilVal, false
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		f.fail(attr, ptr, err)
		return cty.NilVal, false
	}
	depth := 0
	if ty.IsCollectionType() {
		depth = 1 // args[1], env.KEY, labels.team
	}
	f.attrs.set(ptr, attr.Range)
	return f.unmarkField(cv, ptr, depth), true
}

// fail reports a conversion error of attr and marks ptr failed.
func (f *fields) fail(attr *hcl2.Attribute, ptr string, err error) {
	f.l.typeError(attr, err)
	f.failed[ptr] = true
	f.attrs.del(ptr)
}

// limit reads a resource limit: a number, or the string "unlimited" (nil when
// absent).
func (f *fields) limit(attr *hcl2.Attribute, ptr string) any {
	if attr == nil {
		return nil
	}
	v, ok := f.l.eval(attr.Expr, f.l.ctx)
	if !ok {
		f.failed[ptr] = true
		return nil
	}
	if v.IsNull() {
		return nil
	}
	f.attrs.set(ptr, attr.Range)
	if v.Type() == cty.String {
		return v.AsString() // validation says what else than "unlimited" is
	}
	n, err := convert.Convert(v, cty.Number)
	if err != nil {
		f.fail(attr, ptr, fmt.Errorf("a number or \"unlimited\" is required"))
		return nil
	}
	x, err := toFloat(n)
	if err != nil {
		f.fail(attr, ptr, err)
		return nil
	}
	return x
}

func (f *fields) str(attr *hcl2.Attribute, ptr string, dst *string) bool {
	v, ok := f.get(attr, ptr, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (f *fields) bool(attr *hcl2.Attribute, ptr string, dst *bool) {
	if v, ok := f.get(attr, ptr, cty.Bool); ok {
		*dst = v.True()
	}
}

func (f *fields) int(attr *hcl2.Attribute, ptr string, dst *int) {
	if v, ok := f.get(attr, ptr, cty.Number); ok {
		n, err := toInt(v)
		if err != nil {
			f.fail(attr, ptr, err)
			return
		}
		*dst = n
	}
}

// seconds decodes a duration string ("90s", "5m", "1h30m", Go's
// time.ParseDuration syntax) into whole seconds, between 1s and max seconds.
func (f *fields) seconds(attr *hcl2.Attribute, ptr string, max int, dst *int) {
	v, ok := f.get(attr, ptr, cty.String)
	if !ok {
		return
	}
	bad := func(format string, args ...any) {
		f.l.errorf(attr.Expr.Range().Ptr(), "Invalid duration", "The value of %q %s.", attr.Name, fmt.Sprintf(format, args...))
		f.failed[ptr] = true
		f.attrs.del(ptr)
	}
	d, err := time.ParseDuration(v.AsString())
	switch {
	case err != nil:
		bad("is not a duration: %q (write it like \"90s\", \"5m\" or \"1h30m\")", v.AsString())
	case d < time.Second:
		bad("must be at least 1s, got %s", d)
	case d%time.Second != 0:
		bad("must be a whole number of seconds, got %s", d)
	case d > time.Duration(max)*time.Second:
		bad("must be at most %s, got %s", time.Duration(max)*time.Second, d)
	default:
		*dst = int(d / time.Second)
	}
}

func (f *fields) intPtr(attr *hcl2.Attribute, ptr string, dst **int) {
	if v, ok := f.get(attr, ptr, cty.Number); ok {
		n, err := toInt(v)
		if err != nil {
			f.fail(attr, ptr, err)
			return
		}
		*dst = &n
	}
}

func (f *fields) float(attr *hcl2.Attribute, ptr string, dst *float64) {
	if v, ok := f.get(attr, ptr, cty.Number); ok {
		x, err := toFloat(v)
		if err != nil {
			f.fail(attr, ptr, err)
			return
		}
		*dst = x
	}
}

// strList decodes a list of strings; elements get pointers ptr/i when the list is
// written out literally.
func (f *fields) strList(attr *hcl2.Attribute, ptr string, dst *[]string) bool {
	v, ok := f.get(attr, ptr, cty.List(cty.String))
	if !ok {
		return false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			f.fail(attr, ptr, fmt.Errorf("element %d: a string is required, not null", len(out)))
			return false
		}
		out = append(out, e.AsString())
	}
	f.elementRanges(attr, ptr)
	*dst = out
	return true
}

// intList decodes a list of whole numbers.
func (f *fields) intList(attr *hcl2.Attribute, ptr string, dst *[]int) bool {
	v, ok := f.get(attr, ptr, cty.List(cty.Number))
	if !ok {
		return false
	}
	out := make([]int, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			f.fail(attr, ptr, fmt.Errorf("element %d: a number is required, not null", len(out)))
			return false
		}
		n, err := toInt(e)
		if err != nil {
			f.fail(attr, ptr, fmt.Errorf("element %d: %w", len(out), err))
			return false
		}
		out = append(out, n)
	}
	f.elementRanges(attr, ptr)
	*dst = out
	return true
}

// strMap decodes a map of strings; entries get pointers ptr/key when the map is
// written out literally.
func (f *fields) strMap(attr *hcl2.Attribute, ptr string, dst *map[string]string) {
	v, ok := f.get(attr, ptr, cty.Map(cty.String))
	if !ok {
		return
	}
	out := make(map[string]string, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			f.fail(attr, ptr, fmt.Errorf("element %q: a string is required, not null", k.AsString()))
			return
		}
		out[k.AsString()] = e.AsString()
	}
	f.keyRanges(attr, ptr)
	*dst = out
}

// keyRanges records ptr/key for each entry of a literal map.
func (f *fields) keyRanges(attr *hcl2.Attribute, ptr string) {
	obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return
	}
	for _, item := range obj.Items {
		k, diags := f.l.evalBudgeted(item.KeyExpr, nil, "This key")
		if diags.HasErrors() || k.IsNull() || !k.IsKnown() {
			continue
		}
		if k, err := convert.Convert(k, cty.String); err == nil {
			f.attrs.set(ptr+"/"+escapePointer(k.AsString()), hcl2.RangeBetween(item.KeyExpr.Range(), item.ValueExpr.Range()))
		}
	}
}

// elementRanges records ptr/i for each element of a literal list.
func (f *fields) elementRanges(attr *hcl2.Attribute, ptr string) {
	if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
		for i, e := range tup.Exprs {
			f.attrs.set(ptr+"/"+strconv.Itoa(i), e.Range())
		}
	}
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
