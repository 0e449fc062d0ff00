package planner

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
	stridehcl "github.com/stride-run/stride/hcl"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/planner")

// fixture is a golden test input: testdata/planner/NAME.json.
type fixture struct {
	Scope   string            `json:"scope"`
	Destroy bool              `json:"destroy"`
	Spec    []json.RawMessage `json:"spec"`
	State   json.RawMessage   `json:"state"`
}

// golden is what NAME.golden.json holds.
type golden struct {
	Diagnostics []string     `json:"diagnostics"`
	Plan        *engine.Plan `json:"plan"`
}

// TestGoldenPlans plans every fixture in testdata/planner and compares the plan
// JSON and diagnostics with NAME.golden.json (go test -update rewrites them).
func TestGoldenPlans(t *testing.T) {
	files, err := filepath.Glob("../testdata/planner/*.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			spec, state, opts := loadFixture(t, f)
			p, diags := Plan(spec, state, opts)
			g := golden{Diagnostics: []string{}, Plan: p}
			for _, d := range diags {
				g.Diagnostics = append(g.Diagnostics, strings.TrimSuffix(diagText(hcl.Diagnostics{d}), "\n"))
			}
			got, err := json.MarshalIndent(g, "", "  ")
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			got = append(got, '\n')
			path := strings.TrimSuffix(f, ".json") + ".golden.json"
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plan differs from %s (go test -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
			}
		})
	}
	if n < 3 {
		t.Fatalf("found only %d fixtures", n)
	}
}

func loadFixture(t *testing.T, path string) (*engine.Spec, *engine.State, Options) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fx); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	spec := &engine.Spec{Scope: fx.Scope}
	for i, raw := range fx.Spec {
		a, err := engine.DecodeApp(raw)
		if err != nil {
			t.Fatalf("%s: spec app %d: %v", path, i, err)
		}
		spec.Apps = append(spec.Apps, a)
	}
	sort.Slice(spec.Apps, func(i, j int) bool { return spec.Apps[i].ID < spec.Apps[j].ID })
	state, err := engine.DecodeState(fx.State)
	if err != nil {
		t.Fatalf("%s: state: %v", path, err)
	}
	return spec, state, Options{Destroy: fx.Destroy}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return "(no line differs)"
}

// TestExamplesRoundTripToEmptyPlan loads every example configuration with the HCL
// decoder, stores its apps as the deployed state through the JSON codec (what an
// apply writes), and plans again: the plan must be empty and the graph clean —
// both sides normalised, no phantom diffs.
func TestExamplesRoundTripToEmptyPlan(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Skip("no examples yet")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, diags := stridehcl.Load(dir, stridehcl.Options{Environ: []string{}})
			if diags.HasErrors() || cfg.Spec == nil {
				t.Skipf("example does not load (not the planner's concern here): %v", diags)
			}
			if d := CheckGraph(cfg.Spec); d.HasErrors() {
				t.Fatalf("CheckGraph: %v", d)
			}
			var buf bytes.Buffer
			buf.WriteString(`{"serial": 3, "apps": [`)
			for i, a := range cfg.Spec.Apps {
				b, err := a.MarshalJSON()
				if err != nil {
					t.Fatalf("marshal %s: %v", a.ID, err)
				}
				if i > 0 {
					buf.WriteByte(',')
				}
				buf.Write(b)
			}
			buf.WriteString("]}")
			state, err := engine.DecodeState(buf.Bytes())
			if err != nil {
				t.Fatalf("decode state: %v", err)
			}
			p, diags := Plan(cfg.Spec, state, Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !p.Empty() {
				b, _ := json.MarshalIndent(p.Changes, "", "  ")
				t.Errorf("plan after a round trip is not empty:\n%s", b)
			}
			// And from nothing, every app is created, dependencies first.
			p, diags = Plan(cfg.Spec, &engine.State{}, Options{})
			if diags.HasErrors() || p.Summary.Create != len(cfg.Spec.Apps) {
				t.Errorf("plan from empty state: %+v, %v", p, diags)
			}
		})
	}
}
