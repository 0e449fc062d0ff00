package hcl

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/stride-run/stride/engine"
)

// Sensitive values (Terraform's semantics). A variable declared with
// sensitive = true has its value marked with sensitiveMark; go-cty carries the
// mark through every expression and function that derives a value from it. When
// an app's field is decoded, the paths of the marked parts become the app's
// Sensitive field paths (engine/path.go spelling), which plan output, errors
// and logs show as engine.SensitiveValue. The values themselves stay real: the
// tasks get them.

// markKind is the type of the loader's cty marks.
type markKind string

// sensitiveMark marks a value derived from a sensitive variable.
const sensitiveMark = markKind("sensitive")

// secretSet collects the strings that must not appear in diagnostics: the
// string parts of every sensitive variable and of every field decoded from a
// marked value. Shared by a loader and its forks.
type secretSet struct {
	mu sync.Mutex
	m  map[string]bool
}

// add records the string leaves of v (unmarked).
func (s *secretSet) add(v cty.Value) {
	var leaves []string
	collectStrings(v, &leaves)
	if len(leaves) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	for _, x := range leaves {
		s.m[x] = true
	}
}

// collectStrings appends the non-empty string leaves of v, and the text of its
// numbers (a sensitive port is as secret as a password).
func collectStrings(v cty.Value, out *[]string) {
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		return
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		if s := v.AsString(); s != "" {
			*out = append(*out, s)
		}
	case ty == cty.Number:
		*out = append(*out, v.AsBigFloat().Text('f', -1))
	case ty.IsObjectType() || ty.IsMapType() || ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			collectStrings(e, out)
		}
	}
}

// redact replaces every collected string in the summaries and details of diags
// by engine.SensitiveValue, longest first (a value may contain a shorter one),
// in its plain and its quoted (%q) spelling. Diagnostics are copied, never
// changed in place.
func (s *secretSet) redact(diags hcl2.Diagnostics) hcl2.Diagnostics {
	s.mu.Lock()
	secrets := make([]string, 0, len(s.m))
	for x := range s.m {
		secrets = append(secrets, x)
	}
	s.mu.Unlock()
	if len(secrets) == 0 {
		return diags
	}
	sort.Slice(secrets, func(i, j int) bool {
		if len(secrets[i]) != len(secrets[j]) {
			return len(secrets[i]) > len(secrets[j])
		}
		return secrets[i] < secrets[j]
	})
	pairs := make([]string, 0, 4*len(secrets))
	for _, x := range secrets {
		if q := strconv.Quote(x); q[1:len(q)-1] != x {
			pairs = append(pairs, q[1:len(q)-1], engine.SensitiveValue)
		}
		pairs = append(pairs, x, engine.SensitiveValue)
	}
	r := strings.NewReplacer(pairs...)
	out := make(hcl2.Diagnostics, len(diags))
	for i, d := range diags {
		sum, det := r.Replace(d.Summary), r.Replace(d.Detail)
		if sum == d.Summary && det == d.Detail && d.Expression == nil && d.EvalContext == nil {
			out[i] = d
			continue
		}
		c := *d
		c.Summary, c.Detail = sum, det
		// Stride renders neither, but hcl's own writer would print the values
		// an expression read.
		c.Expression, c.EvalContext = nil, nil
		out[i] = &c
	}
	return out
}

// unmarkField unmarks v, recording as sensitive (in f) the pointer ptr extended
// by at most depth steps of the path of each marked part, and its strings in the
// loader's secrets. depth is how deep the app JSON follows the value's shape:
// 0 for a scalar field, 1 for a list or map of scalars (args, env, labels).
func (f *fields) unmarkField(v cty.Value, ptr string, depth int) cty.Value {
	if !v.ContainsMarked() {
		return v
	}
	uv, pvms := v.UnmarkDeepWithPaths()
	for _, pvm := range pvms {
		if !pvm.Marks.Has(sensitiveMark) {
			continue
		}
		p := ptr
		for i, step := range pvm.Path {
			if i >= depth {
				break
			}
			p += "/" + escapePointer(stepToken(step))
		}
		f.markSensitive(p)
		if part, err := pvm.Path.Apply(uv); err == nil {
			f.l.secrets.add(part)
		}
	}
	return uv
}

// markSensitive records the field at ptr as sensitive.
func (f *fields) markSensitive(ptr string) {
	if f.sensitive == nil {
		f.sensitive = map[string]bool{}
	}
	f.sensitive[ptr] = true
}

// stepToken is the JSON pointer token of one cty path step.
func stepToken(step cty.PathStep) string {
	switch s := step.(type) {
	case cty.GetAttrStep:
		return s.Name
	case cty.IndexStep:
		switch {
		case s.Key.Type() == cty.String:
			return s.Key.AsString()
		case s.Key.Type() == cty.Number:
			return s.Key.AsBigFloat().Text('f', -1)
		}
	}
	return "-"
}

// sensitivePaths returns the field paths recorded as sensitive, sorted.
func (f *fields) sensitivePaths() []string {
	if len(f.sensitive) == 0 {
		return nil
	}
	out := make([]string, 0, len(f.sensitive))
	for p := range f.sensitive {
		out = append(out, engine.PointerToFieldPath(p))
	}
	sort.Strings(out)
	return out
}

// anyValueParam is the one parameter of sensitive and nonsensitive: any value,
// marks included.
var anyValueParam = []function.Parameter{{
	Name:             "value",
	Type:             cty.DynamicPseudoType,
	AllowNull:        true,
	AllowUnknown:     true,
	AllowDynamicType: true,
	AllowMarked:      true,
}}

// sensitiveFunc is Terraform's sensitive(value): the value, marked sensitive.
var sensitiveFunc = function.New(&function.Spec{
	Description: "Returns its argument marked as sensitive: plans, errors and logs show it as (sensitive value).",
	Params:      anyValueParam,
	Type:        func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return args[0].Mark(sensitiveMark), nil
	},
})

// nonsensitiveFunc is Terraform's nonsensitive(value): the value without its
// sensitive mark, for a value derived from a secret that reveals nothing of it
// (a length, a hash). Like Terraform, it refuses a value that is not sensitive.
var nonsensitiveFunc = function.New(&function.Spec{
	Description: "Returns its sensitive argument without the sensitive mark, so that plans show it.",
	Params:      anyValueParam,
	Type:        func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, marks := args[0].Unmark()
		if !marks.Has(sensitiveMark) && args[0].IsKnown() {
			return cty.NilVal, function.NewArgErrorf(0, "the value is not sensitive, so nonsensitive has nothing to remove")
		}
		delete(marks, sensitiveMark)
		return v.WithMarks(marks), nil
	},
})
