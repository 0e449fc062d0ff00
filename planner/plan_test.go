package planner

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// stepsOf renders a plan's steps as "action id" lists, one per step.
func stepsOf(p *engine.Plan) [][]string {
	var out [][]string
	for _, s := range p.Steps {
		var step []string
		for _, a := range s.Actions {
			step = append(step, string(a.Action)+" "+a.ID)
		}
		out = append(out, step)
	}
	return out
}

func TestPlanOrdering(t *testing.T) {
	changed := cmd("changed")
	cases := map[string]struct {
		spec   *engine.Spec
		state  *engine.State
		opts   Options
		want   [][]string
		warned []string // summaries of warnings
	}{
		"nothing to do": {
			spec:  spec(app("/a"), app("/b", deps("/a"))),
			state: state(app("/a"), app("/b", deps("/a"))),
		},
		"chain of creates": {
			spec: spec(app("/c", deps("/b")), app("/b", deps("/a")), app("/a")),
			want: [][]string{{"create /a"}, {"create /b"}, {"create /c"}},
		},
		"diamond": {
			spec: spec(app("/top", deps("/l", "/r")), app("/l", deps("/base")), app("/r", deps("/base")), app("/base")),
			want: [][]string{{"create /base"}, {"create /l", "create /r"}, {"create /top"}},
		},
		"independent apps share a step": {
			spec: spec(app("/b"), app("/a"), app("/c")),
			want: [][]string{{"create /a", "create /b", "create /c"}},
		},
		"group dependency waits for every app under the group": {
			spec: spec(app("/web", deps("/infra")), app("/infra/db"), app("/infra/cache", deps("/infra/db")), app("/infrastructure")),
			want: [][]string{{"create /infra/db", "create /infrastructure"}, {"create /infra/cache"}, {"create /web"}},
		},
		"relative dependency resolved by ApplyDefaults": {
			spec: spec(app("/shop/api", deps("db")), app("/shop/db")),
			want: [][]string{{"create /shop/db"}, {"create /shop/api"}},
		},
		"unchanged app passes the order through": {
			spec:  spec(app("/a", deps("/b"), changed), app("/b", deps("/c")), app("/c", changed)),
			state: state(app("/a", deps("/b")), app("/b", deps("/c")), app("/c")),
			want:  [][]string{{"restart /c"}, {"restart /a"}},
		},
		"unchanged dependency does not delay": {
			spec:  spec(app("/a", deps("/b"), changed), app("/b")),
			state: state(app("/a", deps("/b")), app("/b")),
			want:  [][]string{{"restart /a"}},
		},
		"mixed actions in dependency order": {
			spec: spec(app("/db", instances(3)), app("/api", deps("/db"), labels("v", "2")), app("/web", deps("/api"), changed)),
			state: state(app("/db"), app("/api", deps("/db")), app("/web", deps("/api")),
				app("/old")),
			want: [][]string{{"destroy /old"}, {"scale /db"}, {"update /api"}, {"restart /web"}},
		},
		"destroys first, dependents before dependencies": {
			spec:  spec(app("/keep", changed)),
			state: state(app("/keep"), app("/db"), app("/api", deps("/db")), app("/web", deps("/api"))),
			want:  [][]string{{"destroy /web"}, {"destroy /api"}, {"destroy /db"}, {"restart /keep"}},
		},
		"destroy order passes through an app that stays": {
			spec:  spec(app("/mid")),
			state: state(app("/top", deps("/mid")), app("/mid", deps("/bottom")), app("/bottom")),
			want:  [][]string{{"destroy /top"}, {"destroy /bottom"}, {"update /mid"}},
		},
		"destroy of a group dependency": {
			spec:  spec(),
			state: state(app("/web", deps("/infra")), app("/infra/db"), app("/infra/cache")),
			want:  [][]string{{"destroy /web"}, {"destroy /infra/cache", "destroy /infra/db"}},
		},
		"scope keeps outside apps untouched and unlisted": {
			spec:  &engine.Spec{Scope: "/shop", Apps: []*engine.App{app("/shop/api", deps("/infra/db"), changed)}},
			state: state(app("/shop/api", deps("/infra/db")), app("/shop/old"), app("/infra/db"), app("/other")),
			want:  [][]string{{"destroy /shop/old"}, {"restart /shop/api"}},
		},
		"outside app passes the order through": {
			spec: &engine.Spec{Scope: "/shop", Apps: []*engine.App{
				app("/shop/api", deps("/infra/proxy"), changed), app("/shop/db", changed)}},
			state: state(app("/shop/api", deps("/infra/proxy")), app("/shop/db"), app("/infra/proxy", deps("/shop/db"))),
			want:  [][]string{{"restart /shop/db"}, {"restart /shop/api"}},
		},
		"options scope overrides the spec": {
			spec:  &engine.Spec{Scope: "/", Apps: []*engine.App{app("/shop/api")}},
			state: state(app("/shop/api"), app("/other")),
			opts:  Options{Scope: "/shop"},
		},
		"destroy everything under the scope": {
			spec:   &engine.Spec{Scope: "/shop", Apps: []*engine.App{app("/shop/api")}},
			state:  state(app("/shop/api", deps("/shop/db")), app("/shop/db"), app("/other", deps("/shop/db"))),
			opts:   Options{Destroy: true},
			want:   [][]string{{"destroy /shop/api"}, {"destroy /shop/db"}},
			warned: []string{summaryDestroyedDep},
		},
		"destroyed cycle is destroyed in one step": {
			spec:   spec(),
			state:  state(app("/a", deps("/b")), app("/b", deps("/a")), app("/c", deps("/a"))),
			want:   [][]string{{"destroy /c"}, {"destroy /a", "destroy /b"}},
			warned: []string{summaryCycle},
		},
		"remaining app depends on a destroyed one": {
			spec:   spec(app("/api", deps("/db"))),
			state:  state(app("/api", deps("/db")), app("/db")),
			want:   [][]string{{"destroy /db"}},
			warned: []string{summaryDestroyedDep},
		},
		"declared group without apps is a valid dependency": {
			spec: &engine.Spec{Scope: "/", Apps: []*engine.App{app("/a", deps("/empty"))}, Groups: []*engine.Group{{ID: "/empty"}}},
			want: [][]string{{"create /a"}},
		},
		"unsorted spec apps are sorted": {
			spec: &engine.Spec{Scope: "/", Apps: []*engine.App{app("/b"), app("/a")}},
			want: [][]string{{"create /a", "create /b"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.state == nil {
				tc.state = state()
			}
			p, diags := Plan(tc.spec, tc.state, tc.opts)
			if diags.HasErrors() {
				t.Fatalf("errors: %v", diags)
			}
			if got := stepsOf(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("steps = %q\nwant    %q", got, tc.want)
			}
			var warned []string
			for _, d := range diags {
				warned = append(warned, d.Summary)
			}
			if !reflect.DeepEqual(warned, tc.warned) {
				t.Errorf("warnings = %q, want %q (%v)", warned, tc.warned, diags)
			}
			checkPlanShape(t, p)
		})
	}
}

// checkPlanShape checks the structural invariants of a plan: changes sorted by
// (step, id) and matching the steps, no empty step, summary counts.
func checkPlanShape(t *testing.T, p *engine.Plan) {
	t.Helper()
	if p.FormatVersion != engine.PlanFormatVersion {
		t.Errorf("format version %q", p.FormatVersion)
	}
	var sum engine.Summary
	k := 0
	for s, step := range p.Steps {
		if len(step.Actions) == 0 {
			t.Errorf("step %d is empty", s)
		}
		for i, a := range step.Actions {
			if k >= len(p.Changes) {
				t.Fatalf("steps list more actions than there are changes")
			}
			c := p.Changes[k]
			k++
			if c.ID != a.ID || c.Action != a.Action || c.Step != s {
				t.Errorf("change %d (%s %s step %d) does not match step %d action %d (%s %s)", k-1, c.Action, c.ID, c.Step, s, i, a.Action, a.ID)
			}
			if i > 0 && step.Actions[i-1].ID >= a.ID {
				t.Errorf("step %d not sorted by id", s)
			}
			if c.Rolling == nil || c.Reason == "" || c.Fields == nil {
				t.Errorf("change %s: missing rolling, reason or fields: %+v", c.ID, c)
			}
			switch c.Action {
			case engine.ActionCreate:
				sum.Create++
			case engine.ActionDestroy:
				sum.Destroy++
			case engine.ActionScale:
				sum.Scale++
			case engine.ActionRestart:
				sum.Restart++
			case engine.ActionUpdate:
				sum.Update++
			}
		}
	}
	if k != len(p.Changes) {
		t.Errorf("%d changes, %d step actions", len(p.Changes), k)
	}
	if sum != p.Summary {
		t.Errorf("summary %+v, counted %+v", p.Summary, sum)
	}
}

func TestPlanFields(t *testing.T) {
	before := app("/a", instances(2))
	after := app("/a", instances(4), cmd("v2"))
	p, diags := Plan(spec(after), state(before), Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c := p.Changes[0]
	want := &engine.Change{
		ID: "/a", Action: engine.ActionRestart, Before: before, After: after,
		Fields: []engine.FieldChange{
			{Path: "cmd", Before: "run /a", After: "v2", ForcesRestart: true},
			{Path: "instances", Before: 2.0, After: 4.0},
		},
		Reason: `cmd: "run /a" -> "v2"`,
		Rolling: &engine.Rolling{From: 2, To: 4, MinHealthy: 4, MaxRunning: 8,
			Waves: []engine.Wave{{Start: 4, Kill: 0, Old: 2, New: 4}, {Start: 0, Kill: 2, Old: 0, New: 4}}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("change = %+v\nwant     %+v", c, want)
	}
	if c.Before != before || c.After != after {
		t.Error("Before/After should point at the input apps")
	}
	if p.StateSerial != 7 || p.Scope != "/" {
		t.Errorf("serial %d scope %q", p.StateSerial, p.Scope)
	}
}

// diagText renders diagnostics as severity, summary, subject and detail.
func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		b.WriteString(sev + ": " + d.Summary)
		if d.Subject != nil {
			b.WriteString(" @ " + d.Subject.Filename + ":" + strconv.Itoa(d.Subject.Start.Line) + ":" + strconv.Itoa(d.Subject.Start.Column))
		}
		b.WriteString("\n" + d.Detail + "\n")
	}
	return b.String()
}

func TestCycles(t *testing.T) {
	cases := map[string]struct {
		apps []*engine.App
		want string
	}{
		"three apps": {
			apps: []*engine.App{
				app("/c", deps("/a"), src("c.hcl", 20)),
				app("/a", deps("/b"), src("a.hcl", 1)),
				app("/b", deps("/c"), src("b.hcl", 10)),
			},
			want: `error: Dependency cycle @ a.hcl:2:17
/a -> /b -> /c -> /a
  /a (a.hcl:1) depends on /b (a.hcl:2)
  /b (b.hcl:10) depends on /c (b.hcl:11)
  /c (c.hcl:20) depends on /a (c.hcl:21)
` + detailCycle + "\n",
		},
		"self dependency": {
			apps: []*engine.App{app("/a", deps("/a"), src("a.hcl", 5))},
			want: `error: Dependency cycle @ a.hcl:6:17
/a -> /a
  /a (a.hcl:5) depends on /a (a.hcl:6)
` + detailCycle + "\n",
		},
		"app depends on its own group": {
			apps: []*engine.App{app("/shop/api", deps("/shop"), src("shop.hcl", 3)), app("/shop/db")},
			want: `error: Dependency cycle @ shop.hcl:4:17
/shop/api -> /shop/api
  /shop/api (shop.hcl:3) depends on /shop, which holds /shop/api (shop.hcl:4)
` + detailCycle + "\n",
		},
		"cycle through groups, two components in order": {
			apps: []*engine.App{
				app("/x/b", deps("/x/a")),
				app("/x/a", deps("/x/b")),
				app("/web/api", deps("/infra"), src("web.hcl", 1)),
				app("/infra/cache", deps("/web"), src("infra.hcl", 7)),
				app("/infra/db"),
			},
			want: `error: Dependency cycle @ infra.hcl:8:17
/infra/cache -> /web/api -> /infra/cache
  /infra/cache (infra.hcl:7) depends on /web, which holds /web/api (infra.hcl:8)
  /web/api (web.hcl:1) depends on /infra, which holds /infra/cache (web.hcl:2)
` + detailCycle + `
error: Dependency cycle
/x/a -> /x/b -> /x/a
  /x/a depends on /x/b
  /x/b depends on /x/a
` + detailCycle + "\n",
		},
		"strongly connected, not a simple cycle": {
			apps: []*engine.App{
				app("/a", deps("/c")), app("/b", deps("/a")), app("/c", deps("/a", "/b")),
			},
			want: `error: Dependency cycle
/a -> /c -> /b -> /a
  /a depends on /c
  /c depends on /b
  /b depends on /a
` + detailCycle + "\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := spec(tc.apps...)
			if got := diagText(CheckGraph(s)); got != tc.want {
				t.Errorf("CheckGraph:\n%s\nwant:\n%s", got, tc.want)
			}
			p, diags := Plan(s, state(), Options{})
			if p != nil {
				t.Error("Plan returned a plan despite a cycle")
			}
			if got := diagText(diags); got != tc.want {
				t.Errorf("Plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPlanCycleThroughOutsideApp(t *testing.T) {
	s := &engine.Spec{Scope: "/shop", Apps: []*engine.App{app("/shop/api", deps("/infra/proxy"), src("shop.hcl", 1))}}
	st := state(app("/infra/proxy", deps("/shop/api")))
	_, diags := Plan(s, st, Options{})
	want := `error: Dependency cycle @ shop.hcl:2:17
/infra/proxy -> /shop/api -> /infra/proxy
  /infra/proxy (deployed, outside the scope) depends on /shop/api
  /shop/api (shop.hcl:1) depends on /infra/proxy (shop.hcl:2)
` + detailCycle + "\n"
	if got := diagText(diags); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestPlanErrors(t *testing.T) {
	cases := map[string]struct {
		spec  *engine.Spec
		state *engine.State
		opts  Options
		want  string
	}{
		"unknown dependency": {
			spec: spec(app("/api", deps("/db", "/x"), src("api.hcl", 1)), app("/db")),
			want: "error: Unknown dependency @ api.hcl:3:17\n/api depends on /x, which is neither declared nor deployed.\n",
		},
		"dependency on a deployed app outside the scope is fine, unknown is not": {
			spec:  &engine.Spec{Scope: "/shop", Apps: []*engine.App{app("/shop/api", deps("/infra/db", "/infra/nope"))}},
			state: state(app("/infra/db")),
			want:  "error: Unknown dependency\n/shop/api depends on /infra/nope, which is neither declared nor deployed.\n",
		},
		"app outside the scope": {
			spec: &engine.Spec{Scope: "/shop", Apps: []*engine.App{app("/other", src("o.hcl", 4)), app("/shop/a")}},
			want: "error: App outside the scope @ o.hcl:4:1\nThe app /other is not under the scope /shop: a configuration may only declare apps under its scope.\n",
		},
		"invalid scope": {
			spec: spec(), opts: Options{Scope: "/Shop"},
			want: "error: Invalid scope\nThe scope \"/Shop\" is not a valid group id: id \"/Shop\": segment \"Shop\" " + engine.SegmentRule + ".\n",
		},
		"duplicate spec app": {
			spec: &engine.Spec{Scope: "/", Apps: []*engine.App{app("/a"), app("/a", src("a.hcl", 9))}},
			want: "error: Duplicate app id @ a.hcl:9:1\nThe app /a is declared more than once.\n",
		},
		"duplicate deployed app": {
			spec:  spec(),
			state: state(app("/a"), app("/b"), app("/a")),
			want:  "error: Duplicate app in the state\nThe deployed state holds the app /a more than once.\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if tc.state == nil {
				tc.state = state()
			}
			p, diags := Plan(tc.spec, tc.state, tc.opts)
			if p != nil {
				t.Error("plan despite errors")
			}
			if got := diagText(diags); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestDestroyedDependencyWarning(t *testing.T) {
	s := &engine.Spec{Scope: "/infra", Apps: []*engine.App{}}
	st := state(app("/infra/db"), app("/infra/cache"), app("/a", deps("/infra")), app("/b", deps("/infra/db")))
	p, diags := Plan(s, st, Options{})
	if p == nil {
		t.Fatal(diags)
	}
	want := `warning: Dependency on a destroyed app
This plan destroys /infra/cache and /infra/db (under /infra), but /a still depends on /infra.
warning: Dependency on a destroyed app
This plan destroys /infra/db, but /b still depends on /infra/db.
`
	if got := diagText(diags); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestListIDs(t *testing.T) {
	cases := map[string]struct {
		ids  []string
		want string
	}{
		"one":   {[]string{"/a"}, "/a"},
		"two":   {[]string{"/a", "/b"}, "/a and /b"},
		"five":  {[]string{"/a", "/b", "/c", "/d", "/e"}, "/a, /b, /c, /d and /e"},
		"seven": {[]string{"/a", "/b", "/c", "/d", "/e", "/f", "/g"}, "/a, /b, /c, /d and 3 more"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := listIDs(tc.ids); got != tc.want {
				t.Errorf("listIDs = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestIgnoreChangesKeepsDeployedValues: fields a lifecycle leaves to runtime keep
// their deployed value (nothing to scale, and the change carries the deployed
// value to apply), and the plan lists where the files differ.
func TestIgnoreChangesKeepsDeployedValues(t *testing.T) {
	deployed := engine.NewApp("/web")
	deployed.Cmd = "serve"
	deployed.Instances = 7
	deployed.Labels = map[string]string{"team": "a"}
	deployed.ApplyDefaults()
	cases := map[string]struct {
		edit       func(a *engine.App)
		ignore     []string
		action     engine.Action
		instances  int
		runtimeLen int
	}{
		"scaled at runtime, nothing else": {
			edit: func(a *engine.App) { a.Instances = 3 }, ignore: []string{"instances"}, runtimeLen: 1,
		},
		"scaled at runtime, cmd changed": {
			edit: func(a *engine.App) { a.Instances = 3; a.Cmd = "serve --v2" }, ignore: []string{"instances"},
			action: engine.ActionRestart, instances: 7, runtimeLen: 1,
		},
		"same value: nothing to say": {
			edit: func(a *engine.App) {}, ignore: []string{"instances"},
		},
		"not ignored: scale": {
			edit: func(a *engine.App) { a.Instances = 3 }, action: engine.ActionScale, instances: 3,
		},
		"labels left to runtime": {
			edit: func(a *engine.App) { a.Labels = map[string]string{"team": "b", "tier": "web"} }, ignore: []string{"labels"}, runtimeLen: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			want := deployed.Clone()
			tc.edit(want)
			if tc.ignore != nil {
				want.Lifecycle = &engine.Lifecycle{IgnoreChanges: tc.ignore}
			}
			want.ApplyDefaults()
			in := want.Clone()
			p, diags := Plan(&engine.Spec{Apps: []*engine.App{want}}, &engine.State{Apps: []*engine.App{deployed}}, Options{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if len(p.RuntimeManaged) != tc.runtimeLen {
				t.Fatalf("runtime managed %+v, want %d", p.RuntimeManaged, tc.runtimeLen)
			}
			if tc.runtimeLen > 0 && p.RuntimeManaged[0].Path == "instances" && (p.RuntimeManaged[0].Deployed != 7.0 || p.RuntimeManaged[0].Configured != 3.0) {
				t.Errorf("runtime managed %+v, want instances 7 deployed, 3 configured", p.RuntimeManaged[0])
			}
			if tc.action == "" {
				if !p.Empty() {
					t.Fatalf("plan %+v, want no change", p.Changes[0])
				}
			} else {
				if len(p.Changes) != 1 || p.Changes[0].Action != tc.action || p.Changes[0].After.Instances != tc.instances {
					t.Fatalf("changes %+v, want one %s to %d instances", p.Changes, tc.action, tc.instances)
				}
			}
			if !reflect.DeepEqual(in, want) {
				t.Error("Plan modified the spec app")
			}
		})
	}
}

// TestIgnoreChangesRuntimeEdit: an edit made at runtime (the API's scale) is
// what ignore_changes leaves the field to, so it sets the field; the sensitive
// flag of a runtime-managed field follows the apps.
func TestIgnoreChangesRuntimeEdit(t *testing.T) {
	deployed := engine.NewApp("/web")
	deployed.Cmd = "serve"
	deployed.Instances = 2
	deployed.Lifecycle = &engine.Lifecycle{IgnoreChanges: []string{"cmd", "instances"}}
	deployed.ApplyDefaults()
	scaled := deployed.Clone()
	scaled.Instances = 5
	p, diags := Plan(&engine.Spec{Scope: "/", Apps: []*engine.App{scaled}}, &engine.State{Apps: []*engine.App{deployed}}, Options{RuntimeEdit: true})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Changes) != 1 || p.Changes[0].Action != engine.ActionScale || p.Changes[0].After.Instances != 5 || len(p.RuntimeManaged) != 0 {
		t.Fatalf("runtime edit: changes %+v, runtime %+v; want a scale to 5", p.Changes, p.RuntimeManaged)
	}

	files := deployed.Clone()
	files.Cmd, files.Sensitive = "serve --token=s3cret", []string{"cmd"}
	p, diags = Plan(&engine.Spec{Scope: "/", Apps: []*engine.App{files}}, &engine.State{Apps: []*engine.App{deployed}}, Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if !p.Empty() || len(p.RuntimeManaged) != 1 || !p.RuntimeManaged[0].Sensitive {
		t.Fatalf("files: changes %+v, runtime %+v; want no change and a sensitive runtime-managed cmd", p.Changes, p.RuntimeManaged)
	}
}

// Options.Restart replaces an unchanged app's tasks (and turns a scale or an
// in-place update of it into a restart); apps not named are left alone.
func TestPlanRestartRequested(t *testing.T) {
	state := &engine.State{Apps: []*engine.App{app("/a", instances(3)), app("/b", instances(2)), app("/c")}}
	spec := &engine.Spec{Scope: "/", Apps: []*engine.App{app("/a", instances(3)), app("/b", instances(4)), app("/c")}}
	plan, diags := Plan(spec, state, Options{Restart: []string{"/a", "/b"}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(plan.Changes) != 2 {
		t.Fatalf("%d changes, want /a and /b", len(plan.Changes))
	}
	for _, c := range plan.Changes {
		if c.Action != engine.ActionRestart || c.Reason != ReasonRestart || c.Rolling == nil {
			t.Errorf("%s: %s (%q), want a rolling restart requested", c.ID, c.Action, c.Reason)
		}
	}
	if plan.Changes[1].Rolling.To != 4 {
		t.Errorf("/b restarts to %d instances, want 4", plan.Changes[1].Rolling.To)
	}
	plan, _ = Plan(spec, state, Options{})
	if len(plan.Changes) != 1 || plan.Changes[0].Action != engine.ActionScale {
		t.Fatalf("without Restart: %+v", plan.Changes)
	}
}

// With DanglingDependencies (the Marathon API's writes) a dependency on nothing
// is a warning and orders nothing; the plan is made.
func TestPlanDanglingDependencies(t *testing.T) {
	s := spec(app("/api", deps("/db", "/x"), src("api.hcl", 1)), app("/db"))
	p, diags := Plan(s, state(), Options{DanglingDependencies: true})
	if p == nil || diags.HasErrors() {
		t.Fatalf("no plan: %s", diagText(diags))
	}
	if want := "warning: Unknown dependency @ api.hcl:3:17\n/api depends on /x, which is neither declared nor deployed.\n"; diagText(diags) != want {
		t.Errorf("got:\n%s\nwant:\n%s", diagText(diags), want)
	}
	if len(p.Steps) != 2 || p.Steps[0].Actions[0].ID != "/db" {
		t.Errorf("steps: %+v", p.Steps)
	}
}
