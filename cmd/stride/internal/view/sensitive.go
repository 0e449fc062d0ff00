package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/stride-run/stride/engine"
)

// Sensitive values in the plan JSON. The plan is encoded as usual, then every
// value that derives from sensitive input is replaced by engine.SensitiveValue:
//
//   - changes[].before and changes[].after: each value at or under one of the
//     app's sensitive paths (its "sensitive" list, and env secrets);
//   - changes[].fields[]: before and after of a sensitive field, which also
//     gets "sensitive": true;
//   - runtime_managed[]: deployed and configured of an entry with
//     "sensitive": true.
//
// Working on the encoded document keeps its key order and every field the
// plan may gain; plans with nothing sensitive are written untouched.

// planSensitive reports whether anything in p is to be masked.
func planSensitive(p *engine.Plan) bool {
	for _, c := range p.Changes {
		if hasSensitive(c.Before) || hasSensitive(c.After) {
			return true
		}
	}
	for _, rf := range p.RuntimeManaged {
		if rf.Sensitive {
			return true
		}
	}
	return false
}

func hasSensitive(a *engine.App) bool {
	return a != nil && (len(a.Sensitive) > 0 || len(a.EnvSecrets) > 0)
}

// maskPlanJSON returns the JSON document of p (as encoded, without the final
// newline) with its sensitive values masked.
func maskPlanJSON(p *engine.Plan, doc []byte) ([]byte, error) {
	v, err := decodeOrdered(json.NewDecoder(bytes.NewReader(doc)))
	if err != nil {
		return nil, fmt.Errorf("mask plan: %w", err)
	}
	root, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("mask plan: not an object")
	}
	if changes, ok := root.get("changes").([]any); ok && len(changes) == len(p.Changes) {
		for i, cv := range changes {
			co, ok := cv.(*object)
			if !ok {
				continue
			}
			maskChange(p.Changes[i], co)
		}
	}
	if rms, ok := root.get("runtime_managed").([]any); ok && len(rms) == len(p.RuntimeManaged) {
		for i, rv := range rms {
			ro, ok := rv.(*object)
			if !ok || !p.RuntimeManaged[i].Sensitive {
				continue
			}
			ro.maskKeys("deployed", "configured")
		}
	}
	out, err := marshalNoEscape(root)
	if err != nil {
		return nil, fmt.Errorf("mask plan: %w", err)
	}
	return out, nil
}

// maskChange masks the apps and the field changes of one change.
func maskChange(c *engine.Change, co *object) {
	if hasSensitive(c.Before) {
		co.set("before", maskApp(c.Before, "", co.get("before")))
	}
	if hasSensitive(c.After) {
		co.set("after", maskApp(c.After, "", co.get("after")))
	}
	fields, ok := co.get("fields").([]any)
	if !ok || len(fields) != len(c.Fields) {
		return
	}
	for i, fv := range fields {
		fo, ok := fv.(*object)
		path := c.Fields[i].Path
		if !ok || !(c.Before.IsSensitive(path) || c.After.IsSensitive(path)) {
			continue
		}
		fo.maskKeys("before", "after")
		fo.set("sensitive", true)
	}
}

// maskApp replaces every value of the app's JSON v (at field path path) that
// lies at or under one of the app's sensitive paths.
func maskApp(a *engine.App, path string, v any) any {
	if path != "" && underSensitive(a, path) {
		if v == nil {
			return nil
		}
		return engine.SensitiveValue
	}
	switch t := v.(type) {
	case *object:
		for i, k := range t.keys {
			t.vals[i] = maskApp(a, engine.FieldPathKey(path, k), t.vals[i])
		}
	case []any:
		for i, e := range t {
			t[i] = maskApp(a, engine.FieldPathIndex(path, i), e)
		}
	}
	return v
}

// underSensitive reports whether field path p lies at or under one of a's
// sensitive paths (not merely holds one, as the whole env does).
func underSensitive(a *engine.App, p string) bool {
	return slices.ContainsFunc(a.SensitivePaths(), func(sp string) bool { return engine.FieldPathWithin(p, sp) })
}

// get returns the value of key k, or nil.
func (o *object) get(k string) any {
	if i := slices.Index(o.keys, k); i >= 0 {
		return o.vals[i]
	}
	return nil
}

// set sets key k, appending it when absent.
func (o *object) set(k string, v any) {
	if i := slices.Index(o.keys, k); i >= 0 {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// maskKeys replaces the non-null values of keys by engine.SensitiveValue.
func (o *object) maskKeys(keys ...string) {
	for _, k := range keys {
		if o.get(k) != nil {
			o.set(k, engine.SensitiveValue)
		}
	}
}

// MarshalJSON writes the object with its keys in order.
func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := marshalNoEscape(k)
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		vb, err := marshalNoEscape(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape encodes v as PlanJSON does (no HTML escaping).
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
