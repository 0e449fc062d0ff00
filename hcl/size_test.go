package hcl

import (
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestConfigurationSize: a configuration larger than MaxSourceBytes is refused
// before it is parsed, and one with more apps or groups than the limits allow is
// an error at the first declaration past the limit.
func TestConfigurationSize(t *testing.T) {
	big := []byte("# " + strings.Repeat("x", MaxSourceBytes) + "\n")
	_, diags := LoadSources(map[string][]byte{"big.hcl": big}, Options{})
	if !diags.HasErrors() || diags[0].Summary != "Configuration too large" {
		t.Fatalf("got %v", diags)
	}

	src := []byte(`
group "g1" {}
group "g2" {}
app "a" { cmd = "x" }
app "b" { cmd = "x" }
app "c" { cmd = "x" }
`)
	_, diags = LoadSources(map[string][]byte{"main.hcl": src}, Options{Limits: engine.Limits{MaxApps: 2, MaxGroups: 1}})
	var got []string
	for _, d := range diags {
		got = append(got, d.Subject.String()+": "+d.Summary+": "+d.Detail)
	}
	want := []string{
		"main.hcl:3,1-11: Too many groups: 2 groups is more than the limit of 1.",
		"main.hcl:6,1-8: Too many apps: 3 apps is more than the limit of 2.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, diags := LoadSources(map[string][]byte{"main.hcl": src}, Options{Limits: engine.Limits{MaxApps: 3, MaxGroups: 2}}); diags.HasErrors() {
		t.Fatalf("at the limits: %v", diags)
	}
}
