package importer

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/storetest"
	"github.com/stride-run/stride/hcl"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// load writes the files to a directory and loads them as a configuration.
func load(t *testing.T, files map[string][]byte) *engine.Spec {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := hcl.Load(dir, hcl.Options{})
	if diags.HasErrors() {
		var all bytes.Buffer
		for name, data := range files {
			fmt.Fprintf(&all, "--- %s\n%s", name, data)
		}
		t.Fatalf("the rendered files do not load: %s\n%s", diags.Error(), all.String())
	}
	return cfg.Spec
}

// effective returns the apps as the state holds them: each with its groups'
// dependencies folded in.
func effective(t Tree) map[string]*engine.App {
	deps := map[string][]string{}
	for _, g := range t.Groups {
		deps[g.ID] = g.Dependencies
	}
	out := map[string]*engine.App{}
	for _, a := range t.Apps {
		cp := a.Clone()
		for p := engine.ParentID(a.ID); ; p = engine.ParentID(p) {
			cp.Dependencies = append(cp.Dependencies, deps[p]...)
			if p == "/" {
				break
			}
		}
		cp.ApplyDefaults()
		cp.Version, cp.VersionInfo = "", nil
		out[a.ID] = cp
	}
	return out
}

// roundTrip renders t, loads the files and checks that every app comes back
// as the state holds it.
func roundTrip(t *testing.T, tree Tree, scope string) map[string][]byte {
	t.Helper()
	files, warnings, err := Render(tree, scope)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	spec := load(t, files)
	want := effective(tree)
	got := map[string]*engine.App{}
	for _, a := range spec.Apps {
		cp := a.Clone()
		cp.Source = nil
		got[a.ID] = cp
	}
	for id, w := range want {
		if !engine.InScope(id, scope) {
			continue
		}
		g := got[id]
		if g == nil {
			t.Errorf("%s is missing", id)
			continue
		}
		if !reflect.DeepEqual(g, w) {
			gj, _ := g.MarshalJSON()
			wj, _ := w.MarshalJSON()
			t.Errorf("%s loads differently:\n got  %s\n want %s", id, gj, wj)
		}
		delete(got, id)
	}
	for id := range got {
		t.Errorf("%s was not imported", id)
	}
	return files
}

// fixture apps from the Marathon examples and the store's conformance
// fixtures: every field HCL can write, in many combinations.
func fixtureTree(t *testing.T) Tree {
	t.Helper()
	var tree Tree
	for n := 0; n < 6; n++ {
		a := storetest.App(fmt.Sprintf("/store/app%d", n), n)
		a.Dependencies = nil
		if a.Validate() != nil {
			a.Service.Port = "" // the fixture's docker variant names a port mapping
		}
		// Stride's deployment settings (issue 11's fields) on some.
		if n%2 == 1 {
			a.GiveUpAfter, a.ProgressDeadlineSeconds, a.AutoRevert = 3+n, 90*n, n%4 == 1
		}
		if fe := a.Validate(); fe != nil {
			t.Fatalf("fixture %s is invalid: %v", a.ID, fe)
		}
		tree.Apps = append(tree.Apps, a)
	}
	for _, name := range []string{"apps_create.json", "group_apps.json", "bridge.json", "legacy.json", "no_ports.json", "app_list.json"} {
		data, err := os.ReadFile(filepath.Join("../../../../testdata/marathon", name))
		if err != nil {
			t.Fatal(err)
		}
		var docs []json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
			if err := json.Unmarshal(data, &docs); err != nil {
				t.Fatal(err)
			}
		} else {
			docs = []json.RawMessage{data}
		}
		for _, d := range docs {
			a, err := engine.DecodeApp(d)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			// A dependency on nothing is the files' error (TestRenderWarns...).
			a.Dependencies = slices.DeleteFunc(a.Dependencies, func(d string) bool { return strings.HasPrefix(d, "/other") })
			tree.Apps = append(tree.Apps, a)
		}
	}
	tree.Groups = []*engine.Group{
		{ID: "/store", Dependencies: []string{"/test"}, Labels: map[string]string{"team": "store"}},
		{ID: "/empty"},
	}
	sort.Slice(tree.Apps, func(i, j int) bool { return tree.Apps[i].ID < tree.Apps[j].ID })
	return tree
}

func TestRenderRoundTrips(t *testing.T) {
	tree := fixtureTree(t)
	if len(tree.Apps) < 12 {
		t.Fatalf("only %d fixture apps", len(tree.Apps))
	}
	files := roundTrip(t, tree, "/")
	if _, ok := files["empty.hcl"]; !ok {
		t.Errorf("the empty group has no file: %v", keys(files))
	}
	t.Run("scoped", func(t *testing.T) {
		files := roundTrip(t, tree, "/store")
		if !bytes.Contains(files[RootFile], []byte(`scope = "/store"`)) || len(files) != 2 {
			t.Fatalf("files %v:\n%s", keys(files), files[RootFile])
		}
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The files read as a person would write them (golden).
func TestRenderGolden(t *testing.T) {
	api := engine.NewApp("/shop/api")
	api.Cmd = "exec ./api --listen :$PORT0 ${HOME}"
	api.Instances = 3
	api.Cpus, api.Mem = 0.25, 64
	api.Env = map[string]string{"LOG_LEVEL": "info"}
	api.EnvSecrets = map[string]string{"DB_PASSWORD": "db"}
	api.Secrets = map[string]engine.Secret{"db": {Source: "/secrets/db"}}
	api.PortDefinitions = []engine.PortDefinition{{Name: "http"}}
	api.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	hc := engine.DefaultHealthCheck()
	hc.Path, hc.PortName, hc.IntervalSeconds = "/health", "http", 10
	api.HealthChecks = []engine.HealthCheck{hc}
	api.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.2}
	api.Dependencies = []string{"/infra/db"}
	api.ApplyDefaults()
	root := engine.NewApp("/tool")
	root.Args = []string{"run", "--once"}
	root.PortDefinitions = []engine.PortDefinition{}
	root.ApplyDefaults()
	tree := Tree{
		Groups: []*engine.Group{{ID: "/shop", Dependencies: []string{"/infra"}}},
		Apps:   []*engine.App{api, root},
	}
	files, _, err := Render(tree, "/")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, name := range keys(files) {
		fmt.Fprintf(&got, "### %s\n%s", name, files[name])
	}
	path := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("rendering differs from %s (go test -update rewrites it):\n%s", path, got.String())
	}
	// Formatted: stride fmt would change nothing.
	for name, data := range files {
		if out, _ := hcl.Format(data, name); !bytes.Equal(out, data) {
			t.Errorf("%s is not formatted", name)
		}
	}
	if !strings.Contains(string(files["shop.hcl"]), "$${HOME}") {
		t.Errorf("a template sequence in a string is not escaped:\n%s", files["shop.hcl"])
	}
}

// A dependency on nothing the files declare (the API accepts them, HCL does
// not) is written, and named.
func TestRenderWarnsOfDanglingDependencies(t *testing.T) {
	a := engine.NewApp("/g/x")
	a.Cmd, a.Dependencies = "run", []string{"/nowhere", "/g/y"}
	a.ApplyDefaults()
	b := engine.NewApp("/g/y")
	b.Cmd = "run"
	b.ApplyDefaults()
	files, warnings, err := Render(Tree{Apps: []*engine.App{a, b}, Groups: []*engine.Group{{ID: "/g", Dependencies: []string{"/gone"}}}}, "/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"the group /g depends on /gone, which does not exist: stride validate will reject it",
		"/g/x depends on /nowhere, which does not exist: stride validate will reject it",
	}
	if !slices.Equal(warnings, want) || !strings.Contains(string(files["g.hcl"]), `"/nowhere"`) {
		t.Fatalf("warnings %q\n%s", warnings, files["g.hcl"])
	}
}
