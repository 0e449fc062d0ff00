package engine

import "strings"

// FieldError is one problem with one field, in Marathon's error detail shape:
// Path is a JSON pointer into the app ("/healthChecks/0/portIndex"), Errors the
// messages. The REST API renders these as 422 details; the HCL decoder maps Path to
// a file:line:col through Source.RangeFor.
type FieldError struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// FieldErrors is a list of field problems; it is an error when non-empty.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	var b strings.Builder
	for i, e := range fe {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Path)
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Errors, ", "))
	}
	return b.String()
}

// Validate checks the app on its own (ids, resources, constraints, health-check
// ports, capacities, ...) and returns every problem found, or nil. It expects
// ApplyDefaults to have run.
//
// TODO(codec): filled in by the JSON codec work.
func (a *App) Validate() FieldErrors { return nil }
