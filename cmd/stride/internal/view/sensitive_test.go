package view

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// sensitivePlan is a plan restarting n apps whose password changed, each with
// a sensitive env entry, cmd and health check path.
func sensitivePlan(n int, sensitive bool) *engine.Plan {
	p := &engine.Plan{FormatVersion: engine.PlanFormatVersion, Scope: "/"}
	for i := range n {
		before := engine.NewApp(fmt.Sprintf("/app-%04d", i))
		before.Cmd = "exec ./app --password old-s3cret"
		before.Env = map[string]string{"DB_PASSWORD": "old-s3cret", "LOG": "info"}
		before.HealthChecks = []engine.HealthCheck{engine.DefaultHealthCheck()}
		before.HealthChecks[0].Path = "/health?token=old-s3cret"
		if sensitive {
			before.Sensitive = []string{"cmd", "env.DB_PASSWORD", "healthChecks[0].path"}
		}
		before.ApplyDefaults()
		after := before.Clone()
		after.Cmd = "exec ./app --password new-s3cret"
		after.Env["DB_PASSWORD"] = "new-s3cret"
		after.HealthChecks[0].Path = "/health?token=new-s3cret"
		p.Changes = append(p.Changes, &engine.Change{
			ID: before.ID, Action: engine.ActionRestart, Before: before, After: after,
			Fields: []engine.FieldChange{
				{Path: "cmd", Before: before.Cmd, After: after.Cmd, ForcesRestart: true},
				{Path: "env.DB_PASSWORD", Before: "old-s3cret", After: "new-s3cret", ForcesRestart: true},
				{Path: "healthChecks[0].path", Before: before.HealthChecks[0].Path, After: after.HealthChecks[0].Path},
			},
		})
	}
	return p
}

// TestPlanJSONMasksSensitive: no secret in the JSON, each sensitive field
// flagged, and the output is what PlanJSON writes for a plan without
// sensitive values but for the masks.
func TestPlanJSONMasksSensitive(t *testing.T) {
	var masked, plain bytes.Buffer
	if err := PlanJSON(&masked, sensitivePlan(2, true)); err != nil {
		t.Fatal(err)
	}
	if err := PlanJSON(&plain, sensitivePlan(2, false)); err != nil {
		t.Fatal(err)
	}
	out := masked.String()
	if strings.Contains(out, "s3cret") {
		t.Errorf("a secret is left:\n%s", out)
	}
	if n := strings.Count(out, `"sensitive":true`); n != 6 {
		t.Errorf("%d fields flagged sensitive, want 6:\n%s", n, out)
	}
	if !strings.Contains(out, `"LOG":"info"`) || !strings.HasSuffix(out, "}\n") {
		t.Errorf("plain values or the final newline lost:\n%s", out)
	}
	// Key order is the plan's: the first keys are the same.
	if masked.String()[:60] != plain.String()[:60] {
		t.Errorf("the masked plan starts differently:\n%s\n%s", masked.String()[:60], plain.String()[:60])
	}
}

// BenchmarkPlanJSONSensitive writes the JSON of a 1,000-app plan whose apps
// hold sensitive values (masked) — compare BenchmarkPlanJSONPlain.
func BenchmarkPlanJSONSensitive(b *testing.B) { benchPlanJSON(b, true) }

// BenchmarkPlanJSONPlain is the same plan without sensitive values.
func BenchmarkPlanJSONPlain(b *testing.B) { benchPlanJSON(b, false) }

func benchPlanJSON(b *testing.B, sensitive bool) {
	p := sensitivePlan(1000, sensitive)
	b.ReportAllocs()
	for b.Loop() {
		if err := PlanJSON(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanTextSensitive renders the same plan for people.
func BenchmarkPlanTextSensitive(b *testing.B) {
	p := sensitivePlan(1000, true)
	b.ReportAllocs()
	for b.Loop() {
		if err := PlanText(io.Discard, p, NewStyles(false)); err != nil {
			b.Fatal(err)
		}
	}
}
