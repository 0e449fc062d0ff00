package hcl

import (
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// validate runs engine validation on a decoded app (ApplyDefaults has run) and
// reports each problem at the attribute that set the field, or the enclosing
// block. Problems with fields whose attribute already failed to decode are not
// reported twice.
func (l *loader) validate(app *engine.App, f *fields) {
	for _, fe := range app.ValidateWithin(l.opts.Limits) {
		if f.covers(fe.Path) {
			continue
		}
		rng := fieldRange(app, fe.Path)
		name := hclPath(fe.Path)
		for _, msg := range fe.Errors {
			if name == "app" {
				l.errorf(&rng, "Invalid app", "%s", sentence(capitalize(msg)))
				continue
			}
			l.errorf(&rng, "Invalid "+summaryName(fe.Path), "%s: %s", name, sentence(msg))
		}
	}
}

// covers reports whether a failed attribute explains a problem at path. Any
// failure explains the app-level (cross-field) problems at "/".
func (f *fields) covers(path string) bool {
	if path == "/" && len(f.failed) > 0 {
		return true
	}
	for p := range f.failed {
		if path == p || strings.HasPrefix(path, p+"/") || strings.HasPrefix(p, path+"/") {
			return true
		}
	}
	return false
}

// fieldRange maps a JSON pointer into the app to the HCL range that set it. A
// dependency's index is into the normalised Dependencies, so it is looked up by id.
func fieldRange(app *engine.App, path string) hcl2.Range {
	if rest, ok := strings.CutPrefix(path, "/dependencies/"); ok {
		idx, _, _ := strings.Cut(rest, "/")
		if i, err := strconv.Atoi(idx); err == nil && i >= 0 && i < len(app.Dependencies) {
			if r, ok := app.Source.Dependencies.Get(app.Dependencies[i]); ok {
				return r
			}
		}
	}
	return app.Source.RangeFor(path)
}

// hclNames maps Marathon JSON field names to the HCL names that set them, where
// they differ by more than case.
var hclNames = map[string]string{
	"dependencies":            "depends_on",
	"portDefinitions":         "port",
	"constraints":             "constraint",
	"healthChecks":            "health_check",
	"readinessChecks":         "readiness_check",
	"volumes":                 "volume",
	"portMappings":            "port_mapping",
	"backoffSeconds":          "backoff.backoff_seconds",
	"backoffFactor":           "backoff.backoff_factor",
	"maxLaunchDelaySeconds":   "backoff.max_launch_delay_seconds",
	"giveUpAfter":             "backoff.give_up_after",
	"progressDeadlineSeconds": "deployment.progress_deadline",
	"autoRevert":              "deployment.auto_revert",
	"ignoreHttp1xx":           "ignore_http1xx",
	"id":                      "name",
	"secrets":                 "secret",
}

// constraintParts names the elements of a constraint array.
var constraintParts = map[string]string{"0": "attribute", "1": "operator", "2": "value"}

// hclPath renders a JSON pointer as HCL names: "/healthChecks/0/portIndex" ->
// "health_check[0].port_index", "/env/LOG" -> `env["LOG"]`.
func hclPath(path string) string {
	var b strings.Builder
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	mapKeys := false
	for i, s := range segs {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
		switch {
		case mapKeys:
			b.WriteString(strconv.Quote(s))
			b.WriteString("]")
			mapKeys = false
			continue
		case i == 2 && segs[0] == "constraints" && constraintParts[s] != "":
			b.WriteString("." + constraintParts[s])
			continue
		case isIndex(s):
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		name := s
		if n, ok := hclNames[s]; ok {
			name = n
		} else {
			name = snake(s)
		}
		if s == "port" && i >= 2 && segs[i-2] == "portDefinitions" {
			name = "number"
		}
		b.WriteString(name)
		if (s == "env" || s == "labels" || s == "secrets") && i+1 < len(segs) {
			b.WriteString("[")
			mapKeys = true
		}
	}
	if path == "" || path == "/" {
		return "app"
	}
	return b.String()
}

// summaryName is the HCL name of the top-level field of path, for summaries:
// "/healthChecks/0/portIndex" -> "health_check".
func summaryName(path string) string {
	top, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if top == "" {
		return "app"
	}
	if n, ok := hclNames[top]; ok {
		n, _, _ = strings.Cut(n, ".") // backoff.backoff_seconds -> backoff
		return n
	}
	return snake(top)
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// snake converts camelCase to snake_case.
func snake(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// capitalize upper-cases the first letter of msg.
func capitalize(msg string) string {
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		return string(msg[0]-'a'+'A') + msg[1:]
	}
	return msg
}

// sentence ends msg with a full stop.
func sentence(msg string) string {
	if msg == "" || strings.HasSuffix(msg, ".") || strings.HasSuffix(msg, "?") || strings.HasSuffix(msg, "!") {
		return msg
	}
	return msg + "."
}
