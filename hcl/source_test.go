package hcl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// lineOf returns the 1-based line of the first line of src containing s (after
// the line `after`, when set).
func lineOf(t *testing.T, src, after, s string) int {
	t.Helper()
	start := 0
	lines := strings.Split(src, "\n")
	if after != "" {
		start = lineOf(t, src, "", after) - 1
	}
	for i := start; i < len(lines); i++ {
		if strings.Contains(lines[i], s) {
			return i + 1
		}
	}
	t.Fatalf("%q not found", s)
	return 0
}

func appByID(t *testing.T, spec *engine.Spec, id string) *engine.App {
	t.Helper()
	for _, a := range spec.Apps {
		if a.ID == id {
			return a
		}
	}
	t.Fatalf("no app %s", id)
	return nil
}

// TestLanguageExample spot-checks the Spec of LANGUAGE.md's example, and that
// Source points every JSON field at the HCL that set it.
func TestLanguageExample(t *testing.T) {
	path := filepath.Join(testdataDir, "valid", "language_example.hcl")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	cfg, diags := Load(path, Options{Vars: []string{"tag=2.0.0"}})
	if len(diags) > 0 {
		t.Fatal(DiagnosticLines(diags))
	}
	spec := cfg.Spec
	if spec.Scope != "/" {
		t.Errorf("scope %q", spec.Scope)
	}
	var ids []string
	for _, a := range spec.Apps {
		ids = append(ids, a.ID)
	}
	if want := []string{"/cassandra", "/infra/cache", "/shop/api", "/shop/db"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("apps %v, want %v", ids, want)
	}
	if len(spec.Groups) != 2 || spec.Groups[0].ID != "/infra" || spec.Groups[1].ID != "/shop" ||
		!reflect.DeepEqual(spec.Groups[1].Dependencies, []string{"/infra"}) {
		t.Errorf("groups %+v %+v", spec.Groups[0], spec.Groups[1])
	}

	api := appByID(t, spec, "/shop/api")
	checks := map[string]struct{ got, want any }{
		"instances":    {api.Instances, 3},
		"cpus":         {api.Cpus, 0.25},
		"env":          {api.Env, map[string]string{"LOG_LEVEL": "info", "DB": "db-shop.service.consul"}},
		"dependencies": {api.Dependencies, []string{"/infra", "/shop/db"}},
		"fetch":        {api.Fetch, []engine.Artifact{{URI: "https://artifacts.example.com/api-2.0.0.tgz", Extract: true}}},
		"ports":        {api.PortDefinitions, []engine.PortDefinition{{Port: 0, Protocol: "tcp", Name: "http"}}},
		"constraints":  {api.Constraints, []engine.Constraint{{Field: "hostname", Operator: "UNIQUE"}, {Field: "rack_id", Operator: "GROUP_BY", Value: "2"}}},
		"health path":  {api.HealthChecks[0].Path, "/health"},
		"health delay": {api.HealthChecks[0].DelaySeconds, engine.DefaultHealthDelaySeconds},
		"upgrade":      {api.UpgradeStrategy, engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.2}},
		"service":      {*api.Service, engine.Service{Name: "api", Tags: []string{"v1"}, Port: "http"}},
		"give up":      {api.GiveUpAfter, 5},
		"deadline":     {api.ProgressDeadlineSeconds, 300},
		"auto revert":  {api.AutoRevert, true},
		"db deps":      {appByID(t, spec, "/shop/db").Dependencies, []string{"/infra"}},
		"db port":      {appByID(t, spec, "/shop/db").PortDefinitions[0].Name, "db"},
		"cassandra":    {appByID(t, spec, "/cassandra").Container.Docker.Image, "mesosphere/cassandra:2.0.6"},
	}
	for name, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", name, c.got, c.want)
		}
	}

	// Each pointer maps to the line that set it (searched after `app "api"`).
	ranges := map[string]string{
		"/cmd":                                   `cmd        = "exec ./api`,
		"/env":                                   `env        = merge(`,
		"/labels/team":                           `labels     = { team`,
		"/fetch/0":                               `fetch {`,
		"/fetch/0/uri":                           `uri     = "https://artifacts`,
		"/portDefinitions/0":                     `port "http"`,
		"/portDefinitions/0/port":                `port "http" { number = 0 }`,
		"/constraints/1":                         `attribute = "rack_id"`,
		"/constraints/1/2":                       `value     = "2"`,
		"/healthChecks/0":                        `health_check {`,
		"/healthChecks/0/portIndex":              `port_index               = 0`,
		"/healthChecks/0/delaySeconds":           `health_check {`, // unset: the block
		"/upgradeStrategy/minimumHealthCapacity": `minimum_health_capacity = 0.5`,
		"/backoffFactor":                         `backoff_factor           = 1.15`,
		"/service/port":                          `port = "http"`,
		"/killSelection":                         `app "api"`, // unset: the declaration
	}
	for ptr, text := range ranges {
		want := lineOf(t, src, `app "api"`, text)
		if ptr == "/constraints/1" {
			want-- // the block header is the line above
		}
		r := api.Source.RangeFor(ptr)
		if r.Filename != path || r.Start.Line != want {
			t.Errorf("RangeFor(%s) = %s:%d, want line %d (%q)", ptr, r.Filename, r.Start.Line, want, text)
		}
	}
	if got, want := dep(api, "/infra").Start.Line, lineOf(t, src, "", `depends_on = ["/infra"]`); got != want {
		t.Errorf("/infra introduced at line %d, want %d (the group's depends_on)", got, want)
	}
	if got, want := dep(api, "/shop/db").Start.Line, lineOf(t, src, `app "api"`, `depends_on = ["db"]`); got != want {
		t.Errorf("/shop/db introduced at line %d, want %d", got, want)
	}
	if r := dep(api, "/shop/db"); string(b[r.Start.Byte:r.End.Byte]) != `"db"` {
		t.Errorf("dependency range covers %q, want the element", b[r.Start.Byte:r.End.Byte])
	}
	cass := appByID(t, spec, "/cassandra")
	if got, want := cass.Source.RangeFor("/container/docker/image").Start.Line, lineOf(t, src, `app "cassandra"`, `image   =`); got != want {
		t.Errorf("/container/docker/image at line %d, want %d", got, want)
	}
	if got, want := cass.Source.RangeFor("/container/volumes/0/mode").Start.Line, lineOf(t, src, `app "cassandra"`, `mode           = "RW"`); got != want {
		t.Errorf("/container/volumes/0/mode at line %d, want %d", got, want)
	}
	shop := spec.Groups[1]
	if got, want := shop.Source.DeclRange.Start.Line, lineOf(t, src, "", `group "shop"`); got != want {
		t.Errorf("group declared at %d, want %d", got, want)
	}
}

// TestScopeOption covers Options.Scope overriding stride { scope }.
func TestScopeOption(t *testing.T) {
	srcs := map[string]string{"main.hcl": `
stride {
  scope = "/shop"
}

group "shop" {
  app "api" {
    cmd = "exec ./api"
  }
}
`}
	if cfg := mustLoad(t, srcs, Options{}); cfg.Spec.Scope != "/shop" {
		t.Errorf("scope %q, want /shop", cfg.Spec.Scope)
	}
	if cfg := mustLoad(t, srcs, Options{Scope: "/"}); cfg.Spec.Scope != "/" {
		t.Errorf("scope %q, want / from the option", cfg.Spec.Scope)
	}
	got, _, _ := lines(srcs, Options{Scope: "/other"})
	want := []string{`main.hcl:6:1: Group outside the scope: The group "/shop" is not under the scope "/other" (set by -scope), nor on the way to it. Every group the files declare must lie under the scope.`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got, _, _ = lines(srcs, Options{Scope: "shop"})
	want = []string{`Invalid -scope option: The scope must be "/" or an absolute group id: id "shop" is not absolute (it must start with "/").`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// A dependency outside the scope belongs to another configuration: allowed.
	srcs["main.hcl"] = strings.Replace(srcs["main.hcl"], `cmd = "exec ./api"`, "cmd = \"exec ./api\"\n    depends_on = [\"/infra/cache\"]", 1)
	if cfg := mustLoad(t, srcs, Options{}); !reflect.DeepEqual(cfg.Spec.Apps[0].Dependencies, []string{"/infra/cache"}) {
		t.Errorf("dependencies %v", cfg.Spec.Apps[0].Dependencies)
	}
}

// TestLoadErrors covers reading problems: a missing path, an empty directory.
func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path string
		want string
	}{
		"missing": {filepath.Join(empty, "nope"), "Failed to read configuration: Cannot read"},
		"empty":   {empty, "No configuration files: The directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := Load(tc.path, Options{})
			if cfg == nil || cfg.Spec != nil || !diags.HasErrors() {
				t.Fatalf("cfg %+v, diags %v", cfg, diags)
			}
			if got := DiagnosticLines(diags); len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want prefix %q", got, tc.want)
			}
		})
	}
	// LoadSources of nothing is an error too, not an empty Spec that would destroy
	// everything in the scope.
	if cfg, diags := LoadSources(nil, Options{}); cfg.Spec != nil || !diags.HasErrors() {
		t.Error("empty configuration accepted")
	}
}

// TestLoadDirectory reads only *.hcl files, in name order, named as given.
func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"b.hcl":      "app \"b\" {\n  cmd = \"b\"\n}\n",
		"a.hcl":      "app \"a\" {\n  cmd = local.c\n}\n",
		"locals.hcl": "locals {\n  c = \"from-locals\"\n}\n",
		"skip.txt":   "not hcl",
		"vars.json":  "{}",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, Options{})
	if len(diags) > 0 {
		t.Fatal(DiagnosticLines(diags))
	}
	if len(cfg.Files) != 3 || cfg.Files[filepath.Join(dir, "a.hcl")] == nil {
		t.Errorf("files %v", sortedKeys(cfg.Files))
	}
	if a := cfg.Spec.Apps[0]; a.Cmd != "from-locals" || a.Source.DeclRange.Filename != filepath.Join(dir, "a.hcl") {
		t.Errorf("app %s cmd %q from %s", a.ID, a.Cmd, a.Source.DeclRange.Filename)
	}
}

// TestScopeAncestorGroups: groups on the way to the scope are allowed (they
// only hold the groups under it); groups beside it are not.
func TestScopeAncestorGroups(t *testing.T) {
	srcs := map[string]string{"main.hcl": `stride {
  scope = "/shop/eu"
}

group "shop" {
  group "eu" {
    app "api" {
      cmd = "exec ./api"
    }
  }
}
`}
	cfg := mustLoad(t, srcs, Options{})
	if len(cfg.Spec.Apps) != 1 || cfg.Spec.Apps[0].ID != "/shop/eu/api" {
		t.Fatalf("apps %+v", cfg.Spec.Apps)
	}
	got, _, _ := lines(srcs, Options{Scope: "/shop/us"})
	want := []string{`main.hcl:6:3: Group outside the scope: The group "/shop/eu" is not under the scope "/shop/us" (set by -scope), nor on the way to it. Every group the files declare must lie under the scope.`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// dep is the range of an app's dependency.
func dep(a *engine.App, id string) hcl2.Range {
	r, _ := a.Source.Dependencies.Get(id)
	return r
}
