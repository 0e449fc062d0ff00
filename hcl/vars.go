package hcl

import (
	"fmt"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvPrefix is the prefix of environment variables that set Stride variables:
// STRIDE_VAR_tag=1.4.2 sets var.tag.
const EnvPrefix = "STRIDE_VAR_"

var variableSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// variable is one declared input variable.
type variable struct {
	name     string
	decl     hcl2.Range
	typ      cty.Type
	defaults *typeexpr.Defaults
	// parseHCL: -var and STRIDE_VAR_ values are HCL expressions (complex types and
	// an explicit `any`), not raw strings (primitive types, or no type at all) —
	// Terraform's rule.
	parseHCL  bool
	def       *assigned // nil: required
	sensitive bool
	value     cty.Value
}

// assigned is a value given to a variable, with where it came from.
type assigned struct {
	val cty.Value
	rng hcl2.Range
}

// decodeVariables reads the variable blocks, then settles each value from (lowest
// to highest precedence) its default, STRIDE_VAR_ environment entries, -var-file
// files in order and -var flags in order.
func (l *loader) decodeVariables(blocks []*hcl2.Block) {
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			l.errorf(b.LabelRanges[0].Ptr(), "Invalid variable name",
				"%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name)
			continue
		}
		if prev := l.vars[name]; prev != nil {
			l.errorf(b.DefRange.Ptr(), "Duplicate variable",
				"The variable %q was already declared at %s.", name, pos(prev.decl))
			continue
		}
		v := &variable{name: name, decl: b.DefRange, typ: cty.DynamicPseudoType}
		l.vars[name] = v
		l.varNames = append(l.varNames, name)

		content, diags := b.Body.Content(variableSchema)
		l.add(diags)
		if attr := content.Attributes["type"]; attr != nil {
			var ty cty.Type
			var defaults *typeexpr.Defaults
			var diags hcl2.Diagnostics
			if !l.budgeted(func() { ty, defaults, diags = typeexpr.TypeConstraintWithDefaults(attr.Expr) }) {
				diags = hcl2.Diagnostics{budgetFailed}
			}
			l.add(diags)
			if !diags.HasErrors() {
				v.typ, v.defaults = ty, defaults
				v.parseHCL = !ty.IsPrimitiveType()
			}
		}
		if attr := content.Attributes["description"]; attr != nil {
			var s string
			l.literal(attr, cty.String, &s)
		}
		if attr := content.Attributes["sensitive"]; attr != nil {
			var sens bool
			if l.literal(attr, cty.Bool, &sens) {
				v.sensitive = sens
			}
		}
		if attr := content.Attributes["default"]; attr != nil {
			val, diags := l.evalBudgeted(attr.Expr, nil, fmt.Sprintf("The default of variable %q", name))
			l.add(diags)
			v.def = &assigned{val: cty.DynamicVal, rng: attr.Expr.Range()} // failed: no cascade
			if !diags.HasErrors() {
				val, ok := l.prepareValue(v, val, attr.Expr.Range())
				if !ok {
					continue
				}
				v.def = &assigned{val: val, rng: attr.Expr.Range()}
				if _, err := v.conv(val); err != nil {
					l.errorf(attr.Expr.Range().Ptr(), "Invalid default value for variable",
						"The default of variable %q does not match its type %s: %s.",
						name, typeexpr.TypeString(v.typ), errText(err))
					v.def = &assigned{val: cty.DynamicVal, rng: attr.Expr.Range()}
				}
			}
		}
	}

	given := map[string]*assigned{}
	before := l.errorCount()
	l.envValues(given)
	for _, path := range l.opts.VarFiles {
		l.varFileValues(path, given)
	}
	l.flagValues(given)
	// A value source that failed may have been meant to set any variable: do not
	// pile "required" errors on top.
	sourcesFailed := l.errorCount() > before

	for _, name := range l.varNames {
		v := l.vars[name]
		a := given[name]
		if a == nil {
			a = v.def
		}
		if a == nil && sourcesFailed {
			v.value = cty.DynamicVal
			continue
		}
		if a == nil {
			l.errorf(v.decl.Ptr(), "No value for required variable",
				"The variable %q has no default, so it must be set with -var, -var-file or %s%s.",
				name, EnvPrefix, name)
			v.value = cty.DynamicVal
			continue
		}
		val, ok := l.prepareValue(v, a.val, a.rng)
		if !ok {
			v.value = cty.DynamicVal
			continue
		}
		val, err := v.conv(val)
		if err != nil {
			l.errorf(a.rng.Ptr(), "Invalid value for variable",
				"The value of variable %q does not match its type %s: %s.",
				name, typeexpr.TypeString(v.typ), errText(err))
			val = cty.DynamicVal
		}
		// Values from outside get the limits of any value (and the conversion
		// may have turned a string into a number).
		if d := l.budget.checkValue(val, a.rng, fmt.Sprintf("The value of variable %q", name)); d != nil {
			val = cty.DynamicVal
		}
		if v.sensitive {
			// Every value derived from it carries the mark (sensitive.go).
			l.secrets.add(val)
			val = val.Mark(sensitiveMark)
		}
		v.value = val
	}
}

// prepareValue prepares a value for conversion to v's type (prepareUnify),
// reporting it when the conversion would take too long.
func (l *loader) prepareValue(v *variable, val cty.Value, rng hcl2.Range) (cty.Value, bool) {
	val, compares := prepareUnify(val, v.typ)
	if compares/UnifyComparesPerWork > MaxWork {
		l.budget.report(rng, "Converting the value of variable %q to %s would compare %d pairs of types to unify them (its elements are of different types); the limit for all evaluation is %d units of %d comparisons.",
			v.name, typeexpr.TypeString(v.typ), compares, MaxWork, UnifyComparesPerWork)
		return cty.DynamicVal, false
	}
	return val, true
}

// conv applies the type's optional-attribute defaults and converts val to it.
func (v *variable) conv(val cty.Value) (cty.Value, error) {
	if !val.IsWhollyKnown() {
		return cty.DynamicVal, nil
	}
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.typ)
}

// raw turns a -var or environment value into a cty value: the string itself for
// primitive types, or the HCL expression it holds for complex ones.
func (l *loader) raw(v *variable, s, filename string) (*assigned, bool) {
	rng := hcl2.Range{
		Filename: filename,
		Start:    hcl2.InitialPos,
		End:      hcl2.Pos{Line: 1, Column: len(s) + 1, Byte: len(s)},
	}
	// The value gets a file of its own so that diagnostics can show it; a
	// sensitive one is never shown ("source code not available").
	f := &hcl2.File{Body: hcl2.EmptyBody(), Bytes: []byte(s)}
	if v.sensitive {
		f.Bytes = nil
	}
	l.files[filename] = f
	if !v.parseHCL {
		return &assigned{val: cty.StringVal(s), rng: rng}, true
	}
	if d := nestingDiag([]byte(s), filename, false); d != nil {
		l.add(hcl2.Diagnostics{d})
		return nil, false
	}
	expr, diags := hclsyntax.ParseExpression([]byte(s), filename, hcl2.InitialPos)
	l.add(diags)
	if diags.HasErrors() {
		return nil, false
	}
	expr = l.budget.instrumentExpr(expr)
	val, diags := l.evalBudgeted(expr, nil, fmt.Sprintf("The value of variable %q", v.name))
	l.add(diags)
	if diags.HasErrors() {
		return nil, false
	}
	return &assigned{val: val, rng: expr.Range()}, true
}

// envValues reads STRIDE_VAR_<name>=value entries; undeclared names are ignored.
func (l *loader) envValues(given map[string]*assigned) {
	for _, kv := range l.opts.Environ {
		rest, ok := strings.CutPrefix(kv, EnvPrefix)
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, "=")
		v := l.vars[name]
		if !ok || v == nil {
			continue
		}
		if a, ok := l.raw(v, value, fmt.Sprintf("<value for var.%s from %s%s>", name, EnvPrefix, name)); ok {
			given[name] = a
		} else {
			given[name] = &assigned{val: cty.DynamicVal}
		}
	}
}

// flagValues reads the -var flags; a malformed flag or an undeclared name is an
// error.
func (l *loader) flagValues(given map[string]*assigned) {
	for _, kv := range l.opts.Vars {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			l.errorf(nil, "Invalid -var option",
				"The option -var %q is not of the form name=value, e.g. -var 'tag=1.4.2'.", kv)
			continue
		}
		v := l.vars[name]
		if v == nil {
			l.errorf(nil, "Value for undeclared variable",
				"-var sets %q, but no variable %q is declared.%s Declare it with a variable %q block.",
				name, name, didYouMean(suggest(name, l.varNames)), name)
			continue
		}
		if a, ok := l.raw(v, value, fmt.Sprintf("<value for var.%s>", name)); ok {
			given[name] = a
		} else {
			given[name] = &assigned{val: cty.DynamicVal}
		}
	}
}

// varFileValues reads one -var-file: `name = value` attributes of literal values.
// A name no variable has is a warning.
func (l *loader) varFileValues(path string, given map[string]*assigned) {
	src, ok := l.varFiles[path]
	if !ok {
		b, err := readBounded(path, "variables")
		if err != nil {
			l.errorf(nil, "Failed to read variables file", "Cannot read %q: %s.", path, err)
			return
		}
		src = b
	}
	var f *hcl2.File
	var diags hcl2.Diagnostics
	isJSON := strings.HasSuffix(path, ".json")
	switch d := nestingDiag(src, path, isJSON); {
	case d != nil:
		f, diags = &hcl2.File{Body: hcl2.EmptyBody(), Bytes: src}, hcl2.Diagnostics{d}
	case isJSON:
		f, diags = hcljson.Parse(src, path)
	default:
		f, diags = hclsyntax.ParseConfig(src, path, hcl2.InitialPos)
		l.budget.instrumentFile(f)
	}
	l.files[path] = f
	l.add(diags)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	l.add(diags)
	for _, attr := range sortedAttrs(attrs) {
		v := l.vars[attr.Name]
		if v == nil {
			l.warnf(attr.NameRange.Ptr(), "Value for undeclared variable",
				"The file sets %q, but no variable %q is declared; the value is ignored.%s",
				attr.Name, attr.Name, didYouMean(suggest(attr.Name, l.varNames)))
			continue
		}
		val, diags := l.evalBudgeted(attr.Expr, nil, fmt.Sprintf("The value of variable %q", attr.Name))
		l.add(diags)
		if diags.HasErrors() {
			given[attr.Name] = &assigned{val: cty.DynamicVal}
			continue
		}
		given[attr.Name] = &assigned{val: val, rng: attr.Expr.Range()}
	}
}

// varObject is the value of `var`: every declared variable.
func (l *loader) varObject() cty.Value {
	if len(l.vars) == 0 {
		return cty.EmptyObjectVal
	}
	m := make(map[string]cty.Value, len(l.vars))
	for name, v := range l.vars {
		m[name] = v.value
	}
	return cty.ObjectVal(m)
}

// literal evaluates attr without variables or functions and converts it to ty,
// storing it in dst (*string or *bool).
func (l *loader) literal(attr *hcl2.Attribute, ty cty.Type, dst any) bool {
	val, diags := l.evalBudgeted(attr.Expr, nil, "The value of "+attr.Name)
	l.add(diags)
	if diags.HasErrors() || val.IsNull() {
		return false
	}
	val, err := convert.Convert(val, ty)
	if err != nil {
		l.typeError(attr, err)
		return false
	}
	switch d := dst.(type) {
	case *string:
		*d = val.AsString()
	case *bool:
		*d = val.True()
	}
	return true
}

// errText renders a cty conversion error with the path it occurred at.
func errText(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", pathText(pe.Path), pe.Error())
	}
	return err.Error()
}

// pathText renders a cty path as HCL would write it: `[0].name`, `["key"]`.
func pathText(p cty.Path) string {
	var b strings.Builder
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			fmt.Fprintf(&b, ".%s", s.Name)
		case cty.IndexStep:
			switch {
			case s.Key.Type() == cty.String:
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			case s.Key.Type() == cty.Number:
				fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
			default:
				b.WriteString("[...]")
			}
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}
