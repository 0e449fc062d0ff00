package plangen

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/hcl"
	"github.com/stride-run/stride/planner"
)

// TestGenerated: the configuration loads, and planning it against the state
// gives the summary Summary promises.
func TestGenerated(t *testing.T) {
	for _, n := range []int{400, 2000} {
		dir := t.TempDir()
		if err := WriteConfig(dir, n); err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(t.TempDir(), "state.json")
		if err := WriteState(dir, state); err != nil {
			t.Fatal(err)
		}
		cfg, diags := hcl.Load(dir, hcl.Options{})
		if diags.HasErrors() || len(cfg.Spec.Apps) != n {
			t.Fatalf("%d apps: %v", n, diags)
		}
		data, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		st, err := engine.DecodeState(data)
		if err != nil {
			t.Fatal(err)
		}
		p, pd := planner.Plan(cfg.Spec, st, planner.Options{})
		if pd.HasErrors() {
			t.Fatal(pd)
		}
		s := p.Summary
		if q := n / 40; s.Create != q || s.Update != q || s.Scale != q || s.Restart != q || s.Destroy != q {
			t.Fatalf("%d apps: summary %+v, want %d of each", n, s, q)
		}
	}
	if err := WriteConfig(t.TempDir(), 150); err == nil {
		t.Fatal("150 apps (not a multiple of 100) accepted")
	}
}
