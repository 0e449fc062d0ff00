package view

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestWildIndices(t *testing.T) {
	cases := map[string]string{
		"cmd":                                 "cmd",
		"healthChecks[0].path":                "healthChecks[*].path",
		"container.docker.portMappings[12].x": "container.docker.portMappings[*].x",
		`labels["a[1]"]`:                      `labels["a[*]"]`,
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			if got := wildIndices(in); got != want {
				t.Errorf("wildIndices(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// TestCreateHidesDefaults checks that a create block shows what matters and what
// differs from Marathon's defaults, counts the rest, and spells map keys as the
// planner does.
func TestCreateHidesDefaults(t *testing.T) {
	a := engine.NewApp("/web")
	a.Cmd = "serve"
	a.Labels = map[string]string{"com.example/owner": "web-team"}
	a.HealthChecks = []engine.HealthCheck{engine.DefaultHealthCheck()}
	a.HealthChecks[0].IntervalSeconds = 5
	a.ApplyDefaults()
	p := &engine.Plan{Scope: "/", Changes: []*engine.Change{{ID: "/web", Action: engine.ActionCreate, After: a}},
		Steps: []engine.Step{{Actions: []engine.StepAction{{ID: "/web", Action: engine.ActionCreate}}}}, Summary: engine.Summary{Create: 1}}
	var b bytes.Buffer
	if err := PlanText(&b, p, NewStyles(false)); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"+ cmd ", "+ instances ", "+ cpus ", "+ mem ", "+ disk ", "+ gpus ", "+ portDefinitions[0].port ",
		"+ healthChecks[0].protocol ", "+ healthChecks[0].portIndex ", "+ healthChecks[0].intervalSeconds ",
		`+ labels["com.example/owner"]`, "# (17 defaults hidden)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("create block lacks %q:\n%s", want, out)
		}
	}
	for _, hidden := range []string{"backoffFactor", "killSelection", "gracePeriodSeconds", "requirePorts", "portDefinitions[0].name"} {
		if strings.Contains(out, hidden) {
			t.Errorf("create block shows the default %s:\n%s", hidden, out)
		}
	}
}
