package hcl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// genConfig writes a random but valid configuration over several files: nested
// groups, apps, and depends_on (relative and absolute) pointing at earlier
// declarations. It returns the sources and, per app id, the dependencies the
// decoder must give it (its own plus its groups', absolute).
func genConfig(r *rand.Rand) (map[string]string, map[string][]string) {
	srcs := map[string]string{}
	want := map[string][]string{}
	var ids []string // declared so far
	var gen func(b *strings.Builder, parent string, inherited []string, depth int)
	gen = func(b *strings.Builder, parent string, inherited []string, depth int) {
		indent := strings.Repeat("  ", depth)
		n := 1 + r.IntN(4)
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("n%d", r.IntN(1000))
			id := strings.TrimSuffix(parent, "/") + "/" + name
			if slices.Contains(ids, id) {
				continue
			}
			// Dependencies on earlier declarations that neither enclose nor lie
			// inside this one.
			var deps, refs []string
			for _, d := range ids {
				if r.IntN(8) == 0 && !engine.InScope(id, d) && !engine.InScope(d, id) {
					deps = append(deps, d)
					ref := d
					if engine.ParentID(d) == parent && r.IntN(2) == 0 {
						ref = d[strings.LastIndexByte(d, '/')+1:]
					}
					refs = append(refs, fmt.Sprintf("%q", ref))
				}
			}
			dependsOn := ""
			if len(refs) > 0 {
				dependsOn = fmt.Sprintf("%s  depends_on = [%s]\n", indent, strings.Join(refs, ", "))
			}
			ids = append(ids, id)
			if depth < 3 && r.IntN(3) == 0 {
				fmt.Fprintf(b, "%sgroup %q {\n%s", indent, name, dependsOn)
				gen(b, id, append(slices.Clone(inherited), deps...), depth+1)
				fmt.Fprintf(b, "%s}\n", indent)
				continue
			}
			fmt.Fprintf(b, "%sapp %q {\n%s  cmd = \"run %s\"\n%s  instances = %d\n%s", indent, name, indent, id, indent, r.IntN(5), dependsOn)
			fmt.Fprintf(b, "%s}\n", indent)
			all := append(slices.Clone(inherited), deps...)
			slices.Sort(all)
			want[id] = slices.Compact(all)
		}
	}
	for f := 0; f < 1+r.IntN(3); f++ {
		var b strings.Builder
		gen(&b, "/", nil, 0)
		srcs[fmt.Sprintf("f%d.hcl", f)] = b.String()
	}
	return srcs, want
}

// TestGeneratedConfigs checks invariants on random valid configurations: every
// declared app appears once, sorted; its dependencies are its own plus its groups',
// absolute, sorted and unique, each with a source range; loading is deterministic.
func TestGeneratedConfigs(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		srcs, want := genConfig(r)
		cfg, diags := LoadSources(bytesOf(srcs), Options{})
		if len(diags) > 0 {
			t.Fatalf("seed %d: %q\n%v", seed, DiagnosticLines(diags), srcs)
		}
		got := map[string][]string{}
		for i, a := range cfg.Spec.Apps {
			if i > 0 && cfg.Spec.Apps[i-1].ID >= a.ID {
				t.Fatalf("seed %d: apps not sorted", seed)
			}
			got[a.ID] = a.Dependencies
			for _, d := range a.Dependencies {
				if _, ok := a.Source.Dependencies.Get(d); !ok {
					t.Errorf("seed %d: %s: no range for %s", seed, a.ID, d)
				}
			}
		}
		for id, deps := range want {
			if len(deps) == 0 {
				want[id] = nil
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: dependencies\n got %v\nwant %v", seed, got, want)
		}
		// Same input, same output, byte for byte.
		again, _ := LoadSources(bytesOf(srcs), Options{})
		if a, b := specJSON(t, cfg.Spec), specJSON(t, again.Spec); !bytes.Equal(a, b) {
			t.Fatalf("seed %d: not deterministic", seed)
		}
	}
}

func specJSON(t *testing.T, s *engine.Spec) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterministicDiagnostics loads a configuration with errors in many
// top-level blocks (decoded concurrently) repeatedly: the rendered output never
// changes.
func TestDeterministicDiagnostics(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "app \"a%d\" {\n  cmd = \"x\"\n  instances = \"many\"\n  colour = 1\n  depends_on = [\"b%d\"]\n}\n", i, i)
		fmt.Fprintf(&b, "group \"g%d\" {\n  app \"a%d\" {\n    cpus = -1\n    cmd = \"y\"\n  }\n}\napp \"a%d\" {\n  cmd = \"dup\"\n}\n", i, i, i)
	}
	srcs := map[string][]byte{"a.hcl": []byte(b.String())}
	var first string
	for i := 0; i < 5; i++ {
		cfg, diags := LoadSources(srcs, Options{})
		var out bytes.Buffer
		if err := WriteDiagnostics(&out, cfg.Files, diags, 0, false); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = out.String()
			if n := strings.Count(first, "Error: "); n != 50*5 {
				t.Fatalf("%d errors, want %d", n, 50*5)
			}
			continue
		}
		if out.String() != first {
			t.Fatal("output differs between runs")
		}
	}
}
