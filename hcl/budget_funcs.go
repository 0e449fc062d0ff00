package hcl

import (
	"fmt"
	"math/big"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// budgetFunctions wraps each function of fs for the budget b, once per Load:
// before a function runs, its arguments are measured and charged and, where its
// result's size follows from them, that size is predicted and checked (so that
// setproduct(range(1000), range(1000), range(1000)) fails before it computes);
// after it ran, its result is measured, checked and charged.
//
// try and can evaluate expressions rather than values; they are left as they
// are (what they evaluate is instrumented).
func budgetFunctions(fs map[string]function.Function, b *budget) map[string]function.Function {
	out := make(map[string]function.Function, len(fs))
	for name, f := range fs {
		switch name {
		case "try", "can":
			out[name] = f
		default:
			out[name] = b.wrapFunc(name, f)
		}
	}
	return out
}

// argCharge says which part of a function's arguments is charged: most
// functions take time in the size of their arguments (and hcl converts them to
// the parameter types first), but lookup and element only index theirs.
type argCharge int

const (
	chargeArgs argCharge = iota
	chargeNone
	chargeStrings // length: a string is counted, a collection is not
)

var argCharges = map[string]argCharge{
	"lookup":  chargeNone,
	"element": chargeNone,
	"length":  chargeStrings,
}

// estimator predicts, from a function's arguments, whether its result would
// exceed a limit, and returns the error to report instead of calling it. args
// are the arguments as the function gets them (converted to the parameter
// types; possibly unknown).
type estimator func(b *budget, name string, args []cty.Value, sizes []measure) error

var estimators = map[string]estimator{
	"setproduct":             estimateSetproduct,
	"range":                  estimateRange,
	"concat":                 estimateSum(true),
	"merge":                  estimateSum(false),
	"setunion":               estimateSum(false),
	"setsymmetricdifference": estimateSum(false),
	"chunklist":              estimateChunklist,
	"format":                 estimateFormat,
	"formatlist":             estimateFormatlist,
	"join":                   estimateJoin,
	"indent":                 estimateIndent,
	"split":                  estimateSplit,
	"replace":                estimateReplace,
	"regex":                  estimateRegex(false),
	"regexall":               estimateRegex(true),
	"jsondecode":             estimateJSONDecode,
	"jsonencode":             estimateJSONEncode,
	"csvdecode":              estimateCSVDecode,
}

// slack is how far above a limit an inexact (upper-bound) prediction may go
// before the call is refused: below it, the function runs and its result is
// checked exactly.
const slack = 4

// The wrapper's result type is dynamic: the function's own Type runs (once)
// when it is called, and an unknown argument gives an unknown of any type
// rather than of the function's (no matter: the loader reports nothing that
// follows from an unknown value).
func (b *budget) wrapFunc(name string, f function.Function) function.Function {
	est := estimators[name]
	charge := argCharges[name]
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			if b.exceeded() {
				return cty.NilType, errWorkExhausted
			}
			var sizes []measure // kept for the estimator only
			if est != nil {
				sizes = make([]measure, len(args))
			}
			var work int64
			for i, a := range args {
				if charge == chargeNone || (charge == chargeStrings && a.Type() != cty.String) {
					continue
				}
				m := measureValue(a, false)
				work += m.units()
				if m.err != "" {
					return cty.NilType, &budgetError{detail: limitDetail(fmt.Sprintf("Argument %d of %s", i+1, name), m.err)}
				}
				if sizes != nil {
					sizes[i] = m
				}
			}
			if !b.spend(work) {
				return cty.NilType, errWorkExhausted
			}
			if est != nil {
				if err := est(b, name, args, sizes); err != nil {
					return cty.NilType, err
				}
			}
			// The function's own type check runs in f.Call: running it here
			// too would double the cost of every call.
			return cty.DynamicPseudoType, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			v, err := f.Call(args)
			if err != nil {
				return v, err
			}
			m := measureValue(v, true)
			if !b.spend(m.units()) {
				return cty.NilVal, errWorkExhausted
			}
			if m.err != "" {
				return cty.NilVal, &budgetError{detail: limitDetail("The result of "+name, m.err)}
			}
			return v, nil
		},
	})
}

// The predictions' errors: n is the predicted size, exact or an upper bound
// (then refused only beyond slack times the limit).
func tooManyElements(name string, n *big.Int, exact bool) error {
	limit := big.NewInt(MaxValueElements)
	if !exact {
		limit.Mul(limit, big.NewInt(slack))
	}
	if n.Cmp(limit) <= 0 {
		return nil
	}
	return &budgetError{detail: fmt.Sprintf("%s would produce %s%s elements; the limit for one value is %d.",
		name, upTo(exact), n, MaxValueElements)}
}

func tooLong(name string, n int64, exact bool) error {
	limit := int64(MaxStringLength)
	if !exact {
		limit *= slack
	}
	if n <= limit {
		return nil
	}
	return &budgetError{detail: fmt.Sprintf("%s would produce a string of %s%d bytes; the limit for one string is %d.",
		name, upTo(exact), n, MaxStringLength)}
}

func tooManyBytes(name string, n int64, exact bool) error {
	limit := int64(MaxValueBytes)
	if !exact {
		limit *= slack
	}
	if n <= limit {
		return nil
	}
	return &budgetError{detail: fmt.Sprintf("%s would produce %s%d bytes of strings; the limit for one value is %d.",
		name, upTo(exact), n, MaxValueBytes)}
}

func upTo(exact bool) string {
	if exact {
		return ""
	}
	return "up to "
}

func elems(n int64) *big.Int { return big.NewInt(n) }

// known says whether v can be inspected: known, not null, not marked.
func known(v cty.Value) (cty.Value, bool) {
	if v.IsMarked() {
		v, _ = v.UnmarkDeep()
	}
	return v, v.IsKnown() && !v.IsNull()
}

func knownString(v cty.Value) (string, bool) {
	v, ok := known(v)
	if !ok || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

func knownNumber(v cty.Value) (*big.Float, bool) {
	v, ok := known(v)
	if !ok {
		return nil, false
	}
	v, err := convert.Convert(v, cty.Number)
	if err != nil || v.IsNull() {
		return nil, false
	}
	return v.AsBigFloat(), true
}

func isSequence(ty cty.Type) bool {
	return ty.IsListType() || ty.IsSetType() || ty.IsTupleType()
}

// estimateSetproduct: the product of the lengths, each combination a tuple.
func estimateSetproduct(_ *budget, name string, args []cty.Value, _ []measure) error {
	combos := big.NewInt(1)
	for _, a := range args {
		a, ok := known(a)
		if !ok || !isSequence(a.Type()) {
			return nil
		}
		combos.Mul(combos, big.NewInt(int64(a.LengthInt())))
	}
	total := new(big.Int).Mul(combos, big.NewInt(int64(len(args)+1)))
	if total.Cmp(big.NewInt(MaxValueElements)) <= 0 {
		return nil
	}
	return &budgetError{detail: fmt.Sprintf("%s would produce %s combinations of %d elements, %s elements in all; the limit for one value is %d.",
		name, combos, len(args), total, MaxValueElements)}
}

// estimateRange counts the numbers range would produce.
func estimateRange(_ *budget, name string, args []cty.Value, _ []measure) error {
	nums := make([]*big.Float, len(args))
	for i, a := range args {
		n, ok := knownNumber(a)
		if !ok || n.IsInf() {
			return nil
		}
		nums[i] = n
	}
	start, step := new(big.Float), big.NewFloat(1)
	var limit *big.Float
	switch len(nums) {
	case 1:
		limit = nums[0]
	case 2:
		start, limit = nums[0], nums[1]
	case 3:
		start, limit, step = nums[0], nums[1], nums[2]
	default:
		return nil
	}
	if step.Sign() == 0 {
		return nil
	}
	span := new(big.Float).Sub(limit, start)
	if span.Sign() != step.Sign() {
		return nil
	}
	q := new(big.Float).Quo(span, step)
	count, acc := q.Int(nil)
	if acc == big.Below { // q was not whole: one more element
		count.Add(count, big.NewInt(1))
	}
	return tooManyElements(name, count, true)
}

// estimateSum: the result holds (at most) the elements of all the arguments.
func estimateSum(exact bool) estimator {
	return func(_ *budget, name string, _ []cty.Value, sizes []measure) error {
		var n int64
		for _, s := range sizes {
			n += s.elems
		}
		return tooManyElements(name, elems(n), exact)
	}
}

// estimateChunklist: the elements of the list plus one list per chunk.
func estimateChunklist(_ *budget, name string, args []cty.Value, sizes []measure) error {
	list, ok := known(args[0])
	if !ok {
		return nil
	}
	size, ok := knownNumber(args[1])
	if !ok || size.Sign() <= 0 {
		return nil
	}
	n := int64(list.LengthInt())
	chunks := n
	if s, acc := size.Int64(); acc == big.Exact && s > 0 {
		chunks = (n + s - 1) / s
	}
	return tooManyElements(name, elems(sizes[0].elems+chunks), true)
}

// estimateJoin: the strings and the separators between them.
func estimateJoin(_ *budget, name string, args []cty.Value, _ []measure) error {
	sep, ok := knownString(args[0])
	if !ok {
		return nil
	}
	var n, count int64
	for _, l := range args[1:] {
		l, ok := known(l)
		if !ok || !isSequence(l.Type()) {
			return nil
		}
		for it := l.ElementIterator(); it.Next(); {
			_, e := it.Element()
			s, _ := knownString(e)
			n += int64(len(s))
			count++
		}
	}
	if count > 1 {
		n += (count - 1) * int64(len(sep))
	}
	return tooLong(name, n, true)
}

// estimateIndent: indent makes its padding first, then inserts it after every
// newline.
func estimateIndent(_ *budget, name string, args []cty.Value, _ []measure) error {
	spaces, ok := knownNumber(args[0])
	str, ok2 := knownString(args[1])
	if !ok || !ok2 {
		return nil
	}
	if spaces.Cmp(big.NewFloat(MaxStringLength)) > 0 {
		return &budgetError{detail: fmt.Sprintf("%s would pad with %s spaces; the limit for one string is %d bytes.",
			name, spaces.Text('f', 0), MaxStringLength)}
	}
	n, _ := spaces.Int64()
	if n < 0 {
		return nil
	}
	return tooLong(name, int64(len(str))+n*int64(strings.Count(str, "\n")), true)
}

// estimateSplit: one element per separator, plus one.
func estimateSplit(_ *budget, name string, args []cty.Value, _ []measure) error {
	sep, ok := knownString(args[0])
	str, ok2 := knownString(args[1])
	if !ok || !ok2 {
		return nil
	}
	n := int64(strings.Count(str, sep)) + 1
	if sep == "" {
		n = int64(utf8.RuneCountInString(str)) // one per character
	}
	return tooManyElements(name, elems(n), true)
}

// compileCost compiles a pattern as regexp does and returns its program size;
// ok is false when it does not compile (the function reports that).
func compileCost(pattern string) (int64, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, false
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, false
	}
	return int64(len(prog.Inst)), true
}

// chargeRegex charges compiling pattern (a unit per instruction) and matching
// it over str (the worst case of Go's linear-time matcher: input length times
// program size).
func chargeRegex(b *budget, name, pattern, str string) (*regexp.Regexp, error) {
	insts, ok := compileCost(pattern)
	if !ok {
		return nil, nil
	}
	steps := (int64(len(str)) + 1) * insts
	work := steps/RegexStepsPerWork + insts
	if work > MaxWork {
		return nil, &budgetError{detail: fmt.Sprintf("%s would take up to %d steps matching a pattern of %d instructions against %d bytes; the limit for all evaluation is %d units of %d steps.",
			name, steps, insts, len(str), MaxWork, RegexStepsPerWork)}
	}
	if !b.spend(work) {
		return nil, errWorkExhausted
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, nil
	}
	return re, nil
}

// estimateRegex: regex returns one string per group; regexall one per group
// of every match (or one per match without groups).
func estimateRegex(all bool) estimator {
	return func(b *budget, name string, args []cty.Value, _ []measure) error {
		pattern, ok := knownString(args[0])
		str, ok2 := knownString(args[1])
		if !ok || !ok2 {
			return nil
		}
		re, err := chargeRegex(b, name, pattern, str)
		if re == nil {
			return err
		}
		per := int64(max(re.NumSubexp(), 1))
		if !all {
			return tooManyElements(name, elems(per), true)
		}
		perMatch := per + 1
		if (int64(len(str))+1)*perMatch <= MaxValueElements {
			return nil
		}
		// Count the matches (no more than could fit), matching once more.
		if err := chargeAgain(b, name, pattern, str); err != nil {
			return err
		}
		matches := int64(len(re.FindAllStringIndex(str, int(MaxValueElements/perMatch)+1)))
		if matches*perMatch <= MaxValueElements {
			return nil
		}
		return &budgetError{detail: fmt.Sprintf("%s would produce more than %d matches of %d elements each; the limit for one value is %d elements.",
			name, matches-1, perMatch, MaxValueElements)}
	}
}

func chargeAgain(b *budget, name, pattern, str string) error {
	_, err := chargeRegex(b, name, pattern, str)
	return err
}

// estimateReplace: a plain substring's result length follows from the number
// of occurrences; a regular expression's is bounded by a first pass over its
// matches.
func estimateReplace(b *budget, name string, args []cty.Value, _ []measure) error {
	str, ok := knownString(args[0])
	substr, ok2 := knownString(args[1])
	repl, ok3 := knownString(args[2])
	if !ok || !ok2 || !ok3 {
		return nil
	}
	if !(len(substr) > 1 && strings.HasPrefix(substr, "/") && strings.HasSuffix(substr, "/")) {
		count := int64(strings.Count(str, substr))
		return tooLong(name, int64(len(str))+count*(int64(len(repl))-int64(len(substr))), true)
	}
	pattern := substr[1 : len(substr)-1]
	re, err := chargeRegex(b, name, pattern, str)
	if re == nil {
		return err
	}
	refs := int64(strings.Count(repl, "$"))
	if int64(len(str))+(int64(len(str))+1)*(int64(len(repl))+refs*int64(len(str))) <= MaxStringLength {
		return nil
	}
	if err := chargeAgain(b, name, pattern, str); err != nil {
		return err
	}
	// Each match becomes the replacement, whose references expand to parts of
	// the match: at most len(repl) + refs*len(match) bytes.
	n := int64(len(str))
	over := false
	re.ReplaceAllStringFunc(str, func(m string) string {
		if over {
			return ""
		}
		n += int64(len(repl)) + refs*int64(len(m)) - int64(len(m))
		if n > slack*MaxStringLength {
			over = true
		}
		return ""
	})
	return tooLong(name, n, false)
}

// estimateJSONDecode bounds the elements and the depth of a JSON text by
// counting its separators and brackets outside strings.
func estimateJSONDecode(_ *budget, name string, args []cty.Value, _ []measure) error {
	s, ok := knownString(args[0])
	if !ok {
		return nil
	}
	n, depth := jsonShape(s)
	if depth > MaxNestingDepth {
		return &budgetError{detail: fmt.Sprintf("%s would produce a value nested %d levels deep; the limit is %d.", name, depth, MaxNestingDepth)}
	}
	return tooManyElements(name, elems(n), false)
}

// jsonShape counts the commas, colons and opening brackets of a JSON text
// outside its strings (a bound on the elements of the value), and its depth.
func jsonShape(s string) (elems int64, depth int) {
	inString, escaped, d := false, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',', ':':
			elems++
		case '[', '{':
			elems++
			d++
			depth = max(depth, d)
		case ']', '}':
			d--
		}
	}
	return elems, depth
}

// estimateCSVDecode bounds the fields of a CSV text by its separators.
func estimateCSVDecode(_ *budget, name string, args []cty.Value, _ []measure) error {
	s, ok := knownString(args[0])
	if !ok {
		return nil
	}
	fields := int64(strings.Count(s, ",")) + int64(strings.Count(s, "\n")) + 1
	return tooManyElements(name, elems(2*fields), false)
}

// estimateJSONEncode computes the length of the encoding (a bound: escapes are
// counted at their longest), stopping past the limit.
func estimateJSONEncode(_ *budget, name string, args []cty.Value, _ []measure) error {
	v, ok := known(args[0])
	if !ok || !v.IsWhollyKnown() {
		return nil
	}
	n := jsonLen(v, MaxStringLength+1)
	if n > MaxStringLength {
		return &budgetError{detail: fmt.Sprintf("%s would produce a string of more than %d bytes; the limit for one string is %d.",
			name, MaxStringLength, MaxStringLength)}
	}
	return nil
}

// jsonLen bounds the length of v's JSON encoding, stopping once past stop.
func jsonLen(v cty.Value, stop int64) int64 {
	var n int64
	var walk func(v cty.Value)
	walk = func(v cty.Value) {
		if n > stop {
			return
		}
		if v.IsMarked() {
			v, _ = v.Unmark()
		}
		if !v.IsKnown() || v.IsNull() {
			n += 4
			return
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			n += 2 + escapedLen(v.AsString())
		case ty == cty.Number:
			n += numberTextBound(v.AsBigFloat())
		case ty == cty.Bool:
			n += 5
		case ty.IsObjectType() || ty.IsMapType():
			n += 2
			for it := v.ElementIterator(); it.Next() && n <= stop; {
				k, e := it.Element()
				n += 4 + escapedLen(k.AsString())
				walk(e)
			}
		case isSequence(ty):
			n += 2
			for it := v.ElementIterator(); it.Next() && n <= stop; {
				_, e := it.Element()
				n++
				walk(e)
			}
		default:
			n += 16
		}
	}
	walk(v)
	return n
}

// escapedLen bounds the length of s as a JSON string body: control characters
// and <, >, & become \u00XX, quotes and backslashes are escaped, and U+2028
// and U+2029 (starting with 0xE2) become \u2028.
func escapedLen(s string) int64 {
	n := int64(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '<', c == '>', c == '&':
			n += 5
		case c == '"', c == '\\':
			n++
		case c == 0xE2:
			n += 3
		}
	}
	return n
}

// numberTextBound bounds the length of a number written out in full (as cty
// converts it to a string): its digits before and after the point, the point,
// the sign and the digits of its precision.
func numberTextBound(f *big.Float) int64 {
	if f.IsInf() || f.Sign() == 0 {
		return 4
	}
	exp := f.MantExp(nil)
	if exp < 0 {
		exp = -exp
	}
	return int64(float64(exp)*0.30103) + int64(f.Prec()/3) + 8
}

// estimateFormat bounds the length of the string format would produce.
func estimateFormat(_ *budget, name string, args []cty.Value, _ []measure) error {
	fmtStr, ok := knownString(args[0])
	if !ok {
		return nil
	}
	n, ok := formatBound(fmtStr, args[1:])
	if !ok {
		return nil
	}
	return tooLong(name, n, false)
}

// estimateFormatlist bounds formatlist's result: one string per element of
// the list arguments, each bounded like format's.
func estimateFormatlist(_ *budget, name string, args []cty.Value, _ []measure) error {
	fmtStr, ok := knownString(args[0])
	if !ok {
		return nil
	}
	// List arguments stand for one element at a time, the others for
	// themselves.
	count := -1
	lists := make([][]cty.Value, len(args)-1)
	for i, a := range args[1:] {
		a, ok := known(a)
		if !ok {
			return nil
		}
		if isSequence(a.Type()) {
			for it := a.ElementIterator(); it.Next(); {
				_, e := it.Element()
				lists[i] = append(lists[i], e)
			}
			count = len(lists[i])
		}
	}
	if count < 0 {
		n, ok := formatBound(fmtStr, args[1:])
		if !ok {
			return nil
		}
		return tooLong(name, n, false)
	}
	if err := tooManyElements(name, elems(int64(count)), true); err != nil {
		return err
	}
	var total int64
	row := make([]cty.Value, len(args)-1)
	for i := 0; i < count; i++ {
		for j, a := range args[1:] {
			row[j] = a
			if lists[j] != nil {
				if i >= len(lists[j]) {
					return nil // lengths differ: formatlist reports it
				}
				row[j] = lists[j][i]
			}
		}
		n, ok := formatBound(fmtStr, row)
		if !ok {
			return nil
		}
		if err := tooLong(name, n, false); err != nil {
			return err
		}
		total += n
		if err := tooManyBytes(name, total, false); err != nil {
			return err
		}
	}
	return nil
}

// formatBound bounds the length of format(f, args...): the text of the format,
// and for each verb its width and the longest its argument can be written. ok
// is false when the format or the arguments are not what format accepts (it
// reports that).
func formatBound(f string, args []cty.Value) (int64, bool) {
	var n int64
	next := 1
	for i := 0; i < len(f); {
		if f[i] != '%' {
			n++
			i++
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			n++
			i += 2
			continue
		}
		i++
		var sharp bool
		for i < len(f) && strings.IndexByte("0#-+ ", f[i]) >= 0 {
			sharp = sharp || f[i] == '#'
			i++
		}
		prec := int64(-1)
		var width int64
		width, i = formatNumber(f, i)
		if i < len(f) && f[i] == '.' {
			prec, i = formatNumber(f, i+1)
		}
		argNum := next
		if i < len(f) && f[i] == '[' {
			var idx int64
			idx, i = formatNumber(f, i+1)
			if i >= len(f) || f[i] != ']' || idx < 1 || idx > int64(len(args)) {
				return 0, false
			}
			argNum = int(idx)
			i++
		}
		if i >= len(f) || argNum > len(args) {
			return 0, false
		}
		mode := f[i]
		i++
		next = argNum + 1
		n += width + verbBound(mode, args[argNum-1], prec, sharp)
	}
	return n, true
}

// formatNumber reads the digits at f[i:] (saturating), returning the number and
// the index after them.
func formatNumber(f string, i int) (int64, int) {
	var n int64
	for i < len(f) && f[i] >= '0' && f[i] <= '9' {
		if n < 1<<40 {
			n = n*10 + int64(f[i]-'0')
		}
		i++
	}
	return n, i
}

// verbBound bounds the length of one formatted argument.
func verbBound(mode byte, arg cty.Value, prec int64, sharp bool) int64 {
	v, ok := known(arg)
	if !ok {
		return 4
	}
	p := max(prec, 0)
	switch mode {
	case 'v':
		switch {
		case !sharp && v.Type() == cty.String:
			return int64(len(v.AsString()))
		case !sharp && v.Type() == cty.Number:
			return numberTextBound(v.AsBigFloat())
		}
		if !v.IsWhollyKnown() {
			return 0
		}
		return jsonLen(v, 2*MaxValueBytes)
	case 't':
		return 5
	case 'b', 'd', 'o', 'x', 'X', 'e', 'E', 'f', 'g', 'G':
		num, ok := knownNumber(v)
		if !ok {
			return 0
		}
		bits := int64(4)
		if !num.IsInf() && num.Sign() != 0 {
			e := num.MantExp(nil)
			if e < 0 {
				e = -e
			}
			bits += int64(e)
		}
		if prec < 0 {
			p = 6
		}
		return bits + int64(num.Prec()) + p + 8
	case 's', 'q':
		s, err := convert.Convert(v, cty.String)
		if err != nil || s.IsNull() {
			return 0
		}
		l := int64(len(s.AsString()))
		if mode == 'q' {
			return 2 + escapedLen(s.AsString())
		}
		return l
	}
	return 0
}
