package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/stride-run/stride/engine"
)

// Sensitive values in the plan JSON. Every value that derives from sensitive
// input is replaced by engine.SensitiveValue:
//
//   - changes[].before and changes[].after: each value at or under one of the
//     app's sensitive paths (its "sensitive" list, and env secrets);
//   - changes[].fields[]: before and after of a sensitive field, which also
//     gets "sensitive": true;
//   - runtime_managed[]: deployed and configured of an entry with
//     "sensitive": true.
//
// Only the changes that hold something sensitive are treated: each is encoded
// as usual with its apps left out, which are then masked (engine.MaskJSONAt)
// and put back in their place; key order and every field the plan may gain
// stay. Plans with nothing sensitive are written untouched.

// planSensitive reports whether anything in p is to be masked.
func planSensitive(p *engine.Plan) bool {
	for _, c := range p.Changes {
		if changeSensitive(c) {
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

func changeSensitive(c *engine.Change) bool { return hasSensitive(c.Before) || hasSensitive(c.After) }

func hasSensitive(a *engine.App) bool {
	return a != nil && (len(a.Sensitive) > 0 || len(a.EnvSecrets) > 0)
}

// maskedPlanJSON encodes p with its sensitive values masked (no final newline).
func maskedPlanJSON(p *engine.Plan) ([]byte, error) {
	cp := *p
	cp.Changes = nil
	cp.RuntimeManaged = slices.Clone(p.RuntimeManaged)
	for i, rf := range cp.RuntimeManaged {
		if rf.Sensitive {
			cp.RuntimeManaged[i].Deployed, cp.RuntimeManaged[i].Configured = maskAny(rf.Deployed), maskAny(rf.Configured)
		}
	}
	doc, err := marshalNoEscape(&cp)
	if err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	if p.Changes == nil {
		return doc, nil
	}
	const hole = `"changes":null`
	i := bytes.Index(doc, []byte(hole)) // the first: scope and ids hold no quote
	if i < 0 {
		return nil, fmt.Errorf("encode plan: no changes member")
	}
	out := make([]byte, 0, len(doc)+len(p.Changes)*2048)
	out = append(out, doc[:i]...)
	out = append(out, `"changes":[`...)
	for k, c := range p.Changes {
		if k > 0 {
			out = append(out, ',')
		}
		if out, err = appendChange(out, c); err != nil {
			return nil, err
		}
	}
	out = append(out, ']')
	return append(out, doc[i+len(hole):]...), nil
}

// fieldJSON is a field change as the masked plan JSON writes it.
type fieldJSON struct {
	engine.FieldChange
	Sensitive bool `json:"sensitive,omitempty"`
}

// appendChange appends the JSON of one change, masked.
func appendChange(out []byte, c *engine.Change) ([]byte, error) {
	if !changeSensitive(c) {
		raw, err := marshalNoEscape(c)
		if err != nil {
			return nil, fmt.Errorf("encode change %s: %w", c.ID, err)
		}
		return append(out, raw...), nil
	}
	fields := make([]fieldJSON, len(c.Fields))
	for i, f := range c.Fields {
		fields[i].FieldChange = f
		if c.Before.IsSensitive(f.Path) || c.After.IsSensitive(f.Path) {
			fields[i].Before, fields[i].After = maskAny(f.Before), maskAny(f.After)
			fields[i].Sensitive = true
		}
	}
	cc := *c
	cc.Before, cc.After, cc.Fields = nil, nil, nil
	raw, err := marshalNoEscape(&cc)
	if err != nil {
		return nil, fmt.Errorf("encode change %s: %w", c.ID, err)
	}
	// The apps and the fields go where they were left out, the first such
	// members: nothing before them (id, action) holds a quote.
	const apps, fieldsHole = `"before":null,"after":null`, `"fields":null`
	i := bytes.Index(raw, []byte(apps))
	j := bytes.Index(raw, []byte(fieldsHole))
	if i < 0 || j < i {
		return nil, fmt.Errorf("encode change %s: no before, after and fields members", c.ID)
	}
	out = append(out, raw[:i]...)
	out = append(out, `"before":`...)
	if out, err = appendMaskedApp(out, c.Before); err != nil {
		return nil, err
	}
	out = append(out, `,"after":`...)
	if out, err = appendMaskedApp(out, c.After); err != nil {
		return nil, err
	}
	out = append(out, raw[i+len(apps):j]...)
	out = append(out, `"fields":`...)
	if c.Fields == nil {
		out = append(out, "null"...)
	} else {
		fb, err := marshalNoEscape(fields)
		if err != nil {
			return nil, fmt.Errorf("encode change %s: %w", c.ID, err)
		}
		out = append(out, fb...)
	}
	return append(out, raw[j+len(fieldsHole):]...), nil
}

// appendMaskedApp appends a's JSON with its sensitive values masked (null for
// no app).
func appendMaskedApp(out []byte, a *engine.App) ([]byte, error) {
	if a == nil {
		return append(out, "null"...), nil
	}
	raw, err := marshalNoEscape(a)
	if err != nil {
		return nil, fmt.Errorf("encode app %s: %w", a.ID, err)
	}
	masked, err := engine.MaskJSONAt(raw, a.SensitivePaths())
	if err != nil {
		return nil, fmt.Errorf("mask app %s: %w", a.ID, err)
	}
	return append(out, masked...), nil
}

// maskAny masks a JSON value, leaving an absent one (nil) absent.
func maskAny(v any) any {
	if v == nil {
		return nil
	}
	return engine.SensitiveValue
}

// marshalNoEscape encodes v as PlanJSON does (no HTML escaping), without the
// final newline.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
