package hcl

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// functions returns the functions available in Stride files, by name: the go-cty
// standard library under Terraform's names, plus the to* conversions and try/can.
// None of them touches the filesystem, reads the clock or draws random numbers, so a
// configuration evaluates to the same Spec every time. The map is fresh on every
// call; callers may add to it.
func functions() map[string]function.Function {
	return map[string]function.Function{
		// numbers
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// strings
		"chomp":      stdlib.ChompFunc,
		"format":     stdlib.FormatFunc,
		"formatlist": stdlib.FormatListFunc,
		"indent":     stdlib.IndentFunc,
		"join":       stdlib.JoinFunc,
		"lower":      stdlib.LowerFunc,
		"regex":      stdlib.RegexFunc,
		"regexall":   stdlib.RegexAllFunc,
		"replace":    replaceFunc,
		"split":      stdlib.SplitFunc,
		"strrev":     stdlib.ReverseFunc,
		"substr":     stdlib.SubstrFunc,
		"title":      stdlib.TitleFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"upper":      stdlib.UpperFunc,

		// collections
		"chunklist":              stdlib.ChunklistFunc,
		"coalesce":               stdlib.CoalesceFunc,
		"coalescelist":           stdlib.CoalesceListFunc,
		"compact":                stdlib.CompactFunc,
		"concat":                 stdlib.ConcatFunc,
		"contains":               stdlib.ContainsFunc,
		"distinct":               distinctFunc,
		"element":                stdlib.ElementFunc,
		"flatten":                stdlib.FlattenFunc,
		"keys":                   stdlib.KeysFunc,
		"length":                 lengthFunc,
		"lookup":                 stdlib.LookupFunc,
		"merge":                  stdlib.MergeFunc,
		"range":                  stdlib.RangeFunc,
		"reverse":                stdlib.ReverseListFunc,
		"setintersection":        stdlib.SetIntersectionFunc,
		"setproduct":             stdlib.SetProductFunc,
		"setsubtract":            stdlib.SetSubtractFunc,
		"setsymmetricdifference": stdlib.SetSymmetricDifferenceFunc,
		"setunion":               stdlib.SetUnionFunc,
		"slice":                  stdlib.SliceFunc,
		"sort":                   stdlib.SortFunc,
		"values":                 stdlib.ValuesFunc,
		"zipmap":                 stdlib.ZipmapFunc,

		// encodings
		"csvdecode":  stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,

		// date arithmetic on given timestamps (never the clock)
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,

		// conversions
		"tobool":   makeToFunc(cty.Bool),
		"tolist":   makeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    makeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": makeToFunc(cty.Number),
		"toset":    makeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": makeToFunc(cty.String),

		// error handling
		"try": tryFunc,

		// sensitive values (sensitive.go)
		"sensitive":    sensitiveFunc,
		"nonsensitive": nonsensitiveFunc,
		"can":          tryfunc.CanFunc,
	}
}

// tryFunc is hcl's try (the first of its expressions that evaluates without
// error), evaluating each expression once: tryfunc.TryFunc evaluates them a
// first time to find the result type and again for the result, so that try
// nested n deep evaluated its innermost expression 2^n times. An expression
// that failed for the evaluation budget does not count as failing: the budget's
// error is reported whatever try returns.
var tryFunc = function.New(&function.Spec{
	Description: "Returns the value of the first of its expressions that evaluates without error.",
	VarParam: &function.Parameter{
		Name: "expressions",
		Type: customdecode.ExpressionClosureType,
	},
	Type: function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) == 0 {
			return cty.NilVal, errors.New("at least one argument is required")
		}
		var diags hcl2.Diagnostics
		budget := false
		for _, arg := range args {
			v, moreDiags := customdecode.ExpressionClosureFromVal(arg).Value()
			diags = append(diags, moreDiags...)
			if moreDiags.HasErrors() {
				for _, d := range moreDiags {
					budget = budget || isBudgetDiag(d)
				}
				continue
			}
			if !v.IsWhollyKnown() {
				// An unknown value might still fail once known.
				return cty.DynamicVal, nil
			}
			return v, nil
		}
		if budget {
			return cty.NilVal, &budgetError{detail: "an alternative of try exceeded the evaluation budget", silent: true}
		}
		var buf strings.Builder
		buf.WriteString("no expression succeeded:\n")
		for _, d := range diags {
			if d.Subject != nil {
				fmt.Fprintf(&buf, "- %s (at %s)\n  %s\n", d.Summary, d.Subject, d.Detail)
			} else {
				fmt.Fprintf(&buf, "- %s\n  %s\n", d.Summary, d.Detail)
			}
		}
		buf.WriteString("\nAt least one expression must produce a successful result")
		return cty.NilVal, errors.New(buf.String())
	},
})

// distinctFunc is stdlib's distinct (the list without its repeated elements,
// in order) in linear time: stdlib compares each element with every one kept
// so far, 30 seconds for 60,000 elements. Elements are told apart by their
// JSON encoding (they share one type), equal exactly when the values are.
var distinctFunc = function.New(&function.Spec{
	Description: "Removes any duplicate values from the given list, preserving the order of remaining elements.",
	Params: []function.Parameter{{
		Name: "list",
		Type: cty.List(cty.DynamicPseudoType),
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		return args[0].Type(), nil
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		list := args[0]
		if !list.IsWhollyKnown() {
			return cty.UnknownVal(retType), nil
		}
		ety := retType.ElementType()
		seen := map[string]bool{}
		var out []cty.Value
		for it := list.ElementIterator(); it.Next(); {
			_, v := it.Element()
			key, err := ctyjson.Marshal(v, ety)
			if err != nil {
				return cty.NilVal, err
			}
			if !seen[string(key)] {
				seen[string(key)] = true
				out = append(out, v)
			}
		}
		if len(out) == 0 {
			return cty.ListValEmpty(ety), nil
		}
		return cty.ListVal(out), nil
	},
})

// lengthFunc is Terraform's length: the number of elements of a collection or
// structural value, or of characters (grapheme clusters) of a string.
var lengthFunc = function.New(&function.Spec{
	Description: "Returns the number of elements of a list, map, set, tuple or object, or the number of characters of a string.",
	Params: []function.Parameter{{
		Name:             "value",
		Type:             cty.DynamicPseudoType,
		AllowDynamicType: true,
		AllowMarked:      true,
	}},
	Type: func(args []cty.Value) (cty.Type, error) {
		ty := args[0].Type()
		switch {
		case ty == cty.String, ty == cty.DynamicPseudoType,
			ty.IsCollectionType(), ty.IsTupleType(), ty.IsObjectType():
			return cty.Number, nil
		}
		return cty.NilType, function.NewArgErrorf(0, "argument must be a string, a collection or a structural value")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		ty := v.Type()
		switch {
		case ty == cty.String:
			n, err := stdlib.Strlen(v)
			return n.WithMarks(marks), err
		case ty.IsObjectType():
			return cty.NumberIntVal(int64(len(ty.AttributeTypes()))).WithMarks(marks), nil
		}
		return v.Length().WithMarks(marks), nil
	},
})

// replaceFunc is Terraform's replace: a substring wrapped in slashes ("/a+/") is a
// regular expression whose matches are replaced (with $1-style references);
// otherwise every literal occurrence is.
var replaceFunc = function.New(&function.Spec{
	Description: `Replaces every occurrence of substr in str by replace; a substr of the form "/re/" is a regular expression.`,
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "substr", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		str, substr, repl := args[0].AsString(), args[1].AsString(), args[2].AsString()
		if len(substr) > 1 && strings.HasPrefix(substr, "/") && strings.HasSuffix(substr, "/") {
			re, err := regexp.Compile(substr[1 : len(substr)-1])
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(1, "invalid regular expression: %s", err)
			}
			return cty.StringVal(re.ReplaceAllString(str, repl)), nil
		}
		return cty.StringVal(strings.ReplaceAll(str, substr, repl)), nil
	},
})

// makeToFunc returns a function converting its argument to want (which may hold
// dynamic parts, as list(any)), with cty's conversion rules.
func makeToFunc(want cty.Type) function.Function {
	return function.New(&function.Spec{
		Description: "Converts its argument to " + want.FriendlyNameForConstraint() + ".",
		Params: []function.Parameter{{
			Name:             "v",
			Type:             cty.DynamicPseudoType,
			AllowNull:        true,
			AllowDynamicType: true,
			AllowMarked:      true,
		}},
		Type: func(args []cty.Value) (cty.Type, error) {
			v := args[0]
			if !v.IsWhollyKnown() {
				if want.HasDynamicTypes() {
					return cty.DynamicPseudoType, nil
				}
				return want, nil
			}
			out, err := convert.Convert(v, want)
			if err != nil {
				return cty.NilType, function.NewArgErrorf(0, "cannot convert %s to %s: %s",
					v.Type().FriendlyName(), want.FriendlyNameForConstraint(), err)
			}
			return out.Type(), nil
		},
		Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
			out, err := convert.Convert(args[0], retType)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return out, nil
		},
	})
}
