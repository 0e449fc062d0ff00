package planner

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stride-run/stride/engine"
)

// The functions below turn parts of an App into the values encoding/json would
// decode from App.MarshalJSON (string, float64, bool, nil, []any, map[string]any),
// by hand: they run only for fields that differ, and follow the JSON tags of the
// engine types (omitempty fields are nil when zero). TestFieldValuesMatchCodec
// checks them against the codec.

// strOpt is the JSON value of an omitempty string: nil when empty.
func strOpt(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// intOpt is the JSON value of an omitempty int: nil when 0.
func intOpt(i int) any {
	if i == 0 {
		return nil
	}
	return float64(i)
}

// boolOpt is the JSON value of an omitempty bool: nil when false.
func boolOpt(b bool) any {
	if !b {
		return nil
	}
	return true
}

func stringsVal(ss []string) any {
	if ss == nil {
		return nil
	}
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func intsVal(is []int) any {
	if is == nil {
		return nil
	}
	out := make([]any, len(is))
	for i, n := range is {
		out[i] = float64(n)
	}
	return out
}

func stringMapVal(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// envVal is the JSON value of env variable k: a string, {"secret": name}, or nil.
// A name in both Env and EnvSecrets (which Validate rejects) reads as the secret.
func envVal(a *engine.App, k string) any {
	if s, ok := a.EnvSecrets[k]; ok {
		return map[string]any{"secret": s}
	}
	if v, ok := a.Env[k]; ok {
		return v
	}
	return nil
}

func secretVal(s engine.Secret) any { return map[string]any{"source": s.Source} }

func constraintVal(c engine.Constraint) any {
	if c.Value == "" {
		return []any{c.Field, c.Operator}
	}
	return []any{c.Field, c.Operator, c.Value}
}

func artifactVal(f engine.Artifact) any {
	m := map[string]any{"uri": f.URI, "extract": f.Extract, "executable": f.Executable, "cache": f.Cache}
	if f.DestPath != "" {
		m["destPath"] = f.DestPath
	}
	return m
}

func portDefinitionVal(p engine.PortDefinition) any {
	m := map[string]any{"port": float64(p.Port), "protocol": p.Protocol}
	if p.Name != "" {
		m["name"] = p.Name
	}
	if len(p.Labels) > 0 {
		m["labels"] = stringMapVal(p.Labels)
	}
	return m
}

func containerVal(c *engine.Container) any {
	if c == nil {
		return nil
	}
	m := map[string]any{"type": c.Type}
	if c.Docker != nil {
		m["docker"] = dockerVal(c.Docker)
	}
	if len(c.Volumes) > 0 {
		vs := make([]any, len(c.Volumes))
		for i, v := range c.Volumes {
			vs[i] = volumeVal(v)
		}
		m["volumes"] = vs
	}
	if len(c.PortMappings) > 0 {
		m["portMappings"] = portMappingsVal(c.PortMappings)
	}
	return m
}

func dockerVal(d *engine.Docker) any {
	if d == nil {
		return nil
	}
	m := map[string]any{"image": d.Image, "privileged": d.Privileged, "forcePullImage": d.ForcePullImage}
	if d.Network != "" {
		m["network"] = d.Network
	}
	if len(d.Parameters) > 0 {
		ps := make([]any, len(d.Parameters))
		for i, p := range d.Parameters {
			ps[i] = parameterVal(p)
		}
		m["parameters"] = ps
	}
	if len(d.PortMappings) > 0 {
		m["portMappings"] = portMappingsVal(d.PortMappings)
	}
	return m
}

func parameterVal(p engine.Parameter) any {
	return map[string]any{"key": p.Key, "value": p.Value}
}

func portMappingsVal(pms []engine.PortMapping) []any {
	out := make([]any, len(pms))
	for i, p := range pms {
		out[i] = portMappingVal(p)
	}
	return out
}

func portMappingVal(p engine.PortMapping) any {
	m := map[string]any{"containerPort": float64(p.ContainerPort), "hostPort": float64(p.HostPort), "protocol": p.Protocol}
	if p.ServicePort != 0 {
		m["servicePort"] = float64(p.ServicePort)
	}
	if p.Name != "" {
		m["name"] = p.Name
	}
	if len(p.Labels) > 0 {
		m["labels"] = stringMapVal(p.Labels)
	}
	return m
}

func volumeVal(v engine.Volume) any {
	m := map[string]any{"containerPath": v.ContainerPath, "mode": v.Mode}
	if v.HostPath != "" {
		m["hostPath"] = v.HostPath
	}
	return m
}

func networkVal(n engine.Network) any {
	m := map[string]any{"mode": n.Mode}
	if n.Name != "" {
		m["name"] = n.Name
	}
	if len(n.Labels) > 0 {
		m["labels"] = stringMapVal(n.Labels)
	}
	return m
}

func intPtrVal(p *int) any {
	if p == nil {
		return nil
	}
	return float64(*p)
}

func commandVal(c *engine.CheckCommand) any {
	if c == nil {
		return nil
	}
	return map[string]any{"value": c.Value}
}

func healthCheckVal(h engine.HealthCheck) any {
	m := map[string]any{
		"protocol":               h.Protocol,
		"gracePeriodSeconds":     float64(h.GracePeriodSeconds),
		"intervalSeconds":        float64(h.IntervalSeconds),
		"timeoutSeconds":         float64(h.TimeoutSeconds),
		"maxConsecutiveFailures": float64(h.MaxConsecutiveFailures),
		"ignoreHttp1xx":          h.IgnoreHTTP1xx,
		"delaySeconds":           float64(h.DelaySeconds),
	}
	if h.Path != "" {
		m["path"] = h.Path
	}
	if h.PortIndex != nil {
		m["portIndex"] = float64(*h.PortIndex)
	}
	if h.PortName != "" {
		m["portName"] = h.PortName
	}
	if h.Port != 0 {
		m["port"] = float64(h.Port)
	}
	if h.Command != nil {
		m["command"] = commandVal(h.Command)
	}
	return m
}

func readinessCheckVal(r engine.ReadinessCheck) any {
	return map[string]any{
		"name":                    r.Name,
		"protocol":                r.Protocol,
		"path":                    r.Path,
		"portName":                r.PortName,
		"intervalSeconds":         float64(r.IntervalSeconds),
		"timeoutSeconds":          float64(r.TimeoutSeconds),
		"httpStatusCodesForReady": intsVal(r.HTTPStatusCodesForReady),
		"preserveLastResponse":    r.PreserveLastResponse,
	}
}

func unreachableVal(u *engine.UnreachableStrategy) any {
	switch {
	case u == nil:
		return nil
	case u.Disabled:
		return "disabled"
	}
	return map[string]any{
		"inactiveAfterSeconds": float64(u.InactiveAfterSeconds),
		"expungeAfterSeconds":  float64(u.ExpungeAfterSeconds),
	}
}

// limitVal normalises a resource limit (a number or "unlimited", carried as given)
// to its JSON value: every Go number becomes float64.
func limitVal(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case int32:
		return float64(x)
	case uint:
		return float64(x)
	case uint64:
		return float64(x)
	case uint32:
		return float64(x)
	case interface{ Float64() (float64, error) }: // json.Number
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

// limitEqual compares two resource limits by their JSON value.
func limitEqual(a, b any) bool {
	x, y := limitVal(a), limitVal(b)
	switch xv := x.(type) {
	case nil:
		return y == nil
	case float64:
		yv, ok := y.(float64)
		return ok && xv == yv
	case string:
		yv, ok := y.(string)
		return ok && xv == yv
	case bool:
		yv, ok := y.(bool)
		return ok && xv == yv
	}
	return false // other dynamic types never compare equal: report them
}

func resourceLimitsVal(r *engine.ResourceLimits) any {
	if r == nil {
		return nil
	}
	m := map[string]any{}
	if r.Cpus != nil {
		m["cpus"] = limitVal(r.Cpus)
	}
	if r.Mem != nil {
		m["mem"] = limitVal(r.Mem)
	}
	return m
}

func serviceVal(s *engine.Service) any {
	if s == nil {
		return nil
	}
	m := map[string]any{"name": s.Name}
	if len(s.Tags) > 0 {
		m["tags"] = stringsVal(s.Tags)
	}
	if s.Port != "" {
		m["port"] = s.Port
	}
	return m
}

// Paths: one spelling everywhere (engine/path.go).
var (
	indexPath = engine.FieldPathIndex
	keyPath   = engine.FieldPathKey
)

// comparePaths orders field paths byte-wise, except that list indices compare as
// numbers: healthChecks[2] < healthChecks[10].
func comparePaths(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if i > 0 && j > 0 && a[i-1] == '[' && b[j-1] == '[' && isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := i, j
			for ei < len(a) && isDigit(a[ei]) {
				ei++
			}
			for ej < len(b) && isDigit(b[ej]) {
				ej++
			}
			// Equal-length digit runs compare byte-wise; a longer run (no
			// leading zeros in indices) is the larger number.
			if ei-i != ej-j {
				if ei-i < ej-j {
					return -1
				}
				return 1
			}
			if c := strings.Compare(a[i:ei], b[j:ej]); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			if a[i] < b[j] {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case len(a)-i < len(b)-j:
		return -1
	case len(a)-i > len(b)-j:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Rendering values into reason strings.

// maxValueLen bounds a value rendered into a reason; longer values are abbreviated
// with "...".
const maxValueLen = 48

// formatValue renders a JSON value as compact JSON (object keys sorted), for
// reason strings; long values are abbreviated.
func formatValue(v any) string {
	b := appendJSON(nil, v)
	if len(b) <= maxValueLen {
		return string(b)
	}
	cut := maxValueLen - 3
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	out := string(b[:cut]) + "..."
	if _, isString := v.(string); isString {
		out += `"`
	}
	return out
}

// appendJSON appends v (a JSON value as above) to b the way encoding/json would.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		return appendFloat(b, x)
	case string:
		return appendString(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	}
	return strconv.AppendQuote(b, "?")
}

// appendFloat formats like encoding/json: shortest representation, exponent only
// for very large or small magnitudes.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	return strconv.AppendFloat(b, f, fmtc, -1, 64)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string (without encoding/json's HTML escaping,
// which would only hurt readability here).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
