package planner

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestDiffClassification(t *testing.T) {
	mesos := func(path string) func(*engine.App) {
		return func(a *engine.App) {
			h := engine.DefaultHealthCheck()
			h.Protocol = engine.ProtoMesosHTTP
			h.Path = path
			a.HealthChecks = append(a.HealthChecks, h)
		}
	}
	http := func(path string) func(*engine.App) {
		return func(a *engine.App) {
			h := engine.DefaultHealthCheck()
			h.Path = path
			a.HealthChecks = append(a.HealthChecks, h)
		}
	}
	constraint := func(op string) func(*engine.App) {
		return func(a *engine.App) {
			a.Constraints = append(a.Constraints, engine.Constraint{Field: "hostname", Operator: op})
		}
	}
	set := func(f func(*engine.App)) func(*engine.App) { return f }
	cases := map[string]struct {
		before, after []func(*engine.App)
		action        engine.Action
		only          bool
		reason        string
		restartPaths  []string // paths with ForcesRestart
		otherPaths    []string
	}{
		"equal": {},
		"cmd restarts": {
			after: []func(*engine.App){cmd("run v2")}, action: engine.ActionRestart,
			reason: `cmd: "run /a" -> "run v2"`, restartPaths: []string{"cmd"},
		},
		"env restarts": {
			before: []func(*engine.App){set(func(a *engine.App) { a.Env = map[string]string{"LOG_LEVEL": "info"} })},
			after:  []func(*engine.App){set(func(a *engine.App) { a.Env = map[string]string{"LOG_LEVEL": "debug"} })},
			action: engine.ActionRestart, reason: `env.LOG_LEVEL: "info" -> "debug"`, restartPaths: []string{"env.LOG_LEVEL"},
		},
		"env becomes a secret": {
			before: []func(*engine.App){set(func(a *engine.App) { a.Env = map[string]string{"PW": "x"} })},
			after:  []func(*engine.App){set(func(a *engine.App) { a.EnvSecrets = map[string]string{"PW": "pw"} })},
			// An env secret is never printed (nor what it replaces).
			action: engine.ActionRestart, reason: `env.PW: (sensitive value)`, restartPaths: []string{"env.PW"},
		},
		"sensitive cmd": {
			before: []func(*engine.App){set(func(a *engine.App) { a.Cmd = "run --pw=old" })},
			after: []func(*engine.App){set(func(a *engine.App) {
				a.Cmd, a.Sensitive = "run --pw=new", []string{"cmd"}
			})},
			action: engine.ActionRestart, reason: `cmd: (sensitive value)`, restartPaths: []string{"cmd"},
		},
		"cpus restarts": {
			after:  []func(*engine.App){set(func(a *engine.App) { a.Cpus = 2 })},
			action: engine.ActionRestart, reason: "cpus: 1 -> 2", restartPaths: []string{"cpus"},
		},
		"mesos health check added restarts": {
			after: []func(*engine.App){mesos("/h")}, action: engine.ActionRestart,
			reason:       `healthChecks[0]: null -> {"delaySeconds":15,"gracePeriodSeconds":300,"...`,
			restartPaths: []string{"healthChecks[0]"},
		},
		"http health check path is updated in place": {
			before: []func(*engine.App){http("/a")}, after: []func(*engine.App){http("/b")},
			action: engine.ActionUpdate, reason: `healthChecks[0].path: "/a" -> "/b"`,
			otherPaths: []string{"healthChecks[0].path"},
		},
		"http check becoming mesos restarts": {
			before: []func(*engine.App){http("/a")}, after: []func(*engine.App){mesos("/a")},
			action: engine.ActionRestart, reason: `healthChecks[0].protocol: "HTTP" -> "MESOS_HTTP"`,
			restartPaths: []string{"healthChecks[0].protocol"},
		},
		"reordering http around an unchanged mesos check is an update": {
			before: []func(*engine.App){http("/a"), mesos("/m")}, after: []func(*engine.App){mesos("/m"), http("/a")},
			action: engine.ActionUpdate, reason: `healthChecks[0].path: "/a" -> "/m"`,
			otherPaths: []string{"healthChecks[0].path", "healthChecks[0].protocol", "healthChecks[1].path", "healthChecks[1].protocol"},
		},
		"constraints restart only violating tasks": {
			after: []func(*engine.App){constraint(engine.OpUnique)}, action: engine.ActionRestart, only: true,
			reason: "constraints changed: only tasks violating them are replaced", restartPaths: []string{"constraints[0]"},
		},
		"accepted roles restart only violating tasks": {
			after:  []func(*engine.App){set(func(a *engine.App) { a.AcceptedResourceRoles = []string{"*"} })},
			action: engine.ActionRestart, only: true,
			reason: "acceptedResourceRoles changed: only tasks violating them are replaced", restartPaths: []string{"acceptedResourceRoles[0]"},
		},
		"constraints and roles": {
			after:  []func(*engine.App){constraint(engine.OpUnique), set(func(a *engine.App) { a.AcceptedResourceRoles = []string{"*"} })},
			action: engine.ActionRestart, only: true,
			reason:       "constraints and acceptedResourceRoles changed: only tasks violating them are replaced",
			restartPaths: []string{"acceptedResourceRoles[0]", "constraints[0]"},
		},
		"task field beats placement": {
			after:  []func(*engine.App){constraint(engine.OpUnique), cmd("run v2")},
			action: engine.ActionRestart, reason: `cmd: "run /a" -> "run v2"`,
			restartPaths: []string{"cmd", "constraints[0]"},
		},
		"placement beats scale and update": {
			after:  []func(*engine.App){constraint(engine.OpUnique), instances(4), labels("team", "b")},
			action: engine.ActionRestart, only: true, reason: "constraints changed: only tasks violating them are replaced",
			restartPaths: []string{"constraints[0]"}, otherPaths: []string{"instances", "labels.team"},
		},
		"instances scale": {
			before: []func(*engine.App){instances(3)}, after: []func(*engine.App){instances(5)},
			action: engine.ActionScale, reason: "instances: 3 -> 5", otherPaths: []string{"instances"},
		},
		"scale beats update": {
			before: []func(*engine.App){instances(3), labels("team", "a")}, after: []func(*engine.App){instances(5), labels("team", "b")},
			action: engine.ActionScale, reason: "instances: 3 -> 5", otherPaths: []string{"instances", "labels.team"},
		},
		"restart carries instances": {
			before: []func(*engine.App){instances(3)}, after: []func(*engine.App){instances(5), cmd("x")},
			action: engine.ActionRestart, reason: `cmd: "run /a" -> "x"`, restartPaths: []string{"cmd"}, otherPaths: []string{"instances"},
		},
		"labels update": {
			before: []func(*engine.App){labels("team", "a")}, after: []func(*engine.App){labels("team", "b")},
			action: engine.ActionUpdate, reason: `labels.team: "a" -> "b"`, otherPaths: []string{"labels.team"},
		},
		"upgrade strategy update": {
			after: []func(*engine.App){set(func(a *engine.App) {
				a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 1}
			})},
			action: engine.ActionUpdate, reason: "upgradeStrategy.minimumHealthCapacity: 1 -> 0.5",
			otherPaths: []string{"upgradeStrategy.minimumHealthCapacity"},
		},
		"backoff update": {
			after:  []func(*engine.App){set(func(a *engine.App) { a.BackoffFactor = 2; a.MaxLaunchDelaySeconds = 60 })},
			action: engine.ActionUpdate, reason: "backoffFactor: 1.15 -> 2",
			otherPaths: []string{"backoffFactor", "maxLaunchDelaySeconds"},
		},
		"dependencies update": {
			after:  []func(*engine.App){deps("/db")},
			action: engine.ActionUpdate, reason: `dependencies[0]: null -> "/db"`, otherPaths: []string{"dependencies[0]"},
		},
		"service update": {
			after:  []func(*engine.App){set(func(a *engine.App) { a.Service = &engine.Service{} })},
			action: engine.ActionUpdate, reason: `service: null -> {"name":"a"}`, otherPaths: []string{"service"},
		},
		"kill selection and grace period update": {
			after: []func(*engine.App){set(func(a *engine.App) {
				a.KillSelection = engine.KillOldestFirst
				a.TaskKillGracePeriodSeconds = 30
			})},
			action: engine.ActionUpdate, reason: `killSelection: "YOUNGEST_FIRST" -> "OLDEST_FIRST"`,
			otherPaths: []string{"killSelection", "taskKillGracePeriodSeconds"},
		},
		"unreachable disabled": {
			after:  []func(*engine.App){set(func(a *engine.App) { a.UnreachableStrategy = &engine.UnreachableStrategy{Disabled: true} })},
			action: engine.ActionUpdate, reason: `unreachableStrategy: {"expungeAfterSeconds":0,"inactiveAfterSecond... -> "disabled"`,
			otherPaths: []string{"unreachableStrategy"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := app("/a", tc.before...)
			after := app("/a", tc.after...)
			fields, action, reason, only := Diff(before, after)
			if action != tc.action || only != tc.only || reason != tc.reason {
				t.Errorf("Diff = %q, only %v, reason %q; want %q, only %v, reason %q", action, only, reason, tc.action, tc.only, tc.reason)
			}
			var restart, other []string
			for _, f := range fields {
				if f.ForcesRestart {
					restart = append(restart, f.Path)
				} else {
					other = append(other, f.Path)
				}
			}
			if !slices.Equal(restart, tc.restartPaths) || !slices.Equal(other, tc.otherPaths) {
				t.Errorf("paths: restart %q, other %q; want %q, %q", restart, other, tc.restartPaths, tc.otherPaths)
			}
		})
	}
}

func TestDiffFields(t *testing.T) {
	cases := map[string]struct {
		before, after func(*engine.App)
		want          []engine.FieldChange
	}{
		"list element added and removed at its index": {
			before: func(a *engine.App) { a.Args = []string{"a", "b", "c"}; a.Cmd = "" },
			after:  func(a *engine.App) { a.Args = []string{"a", "x"}; a.Cmd = "" },
			want: []engine.FieldChange{
				{Path: "args[1]", Before: "b", After: "x", ForcesRestart: true},
				{Path: "args[2]", Before: "c", After: nil, ForcesRestart: true},
			},
		},
		"map keys, plain and quoted": {
			before: func(a *engine.App) { a.Labels = map[string]string{"team": "a", "com.example/owner": "x"} },
			after:  func(a *engine.App) { a.Labels = map[string]string{"team": "a", "tier": "web"} },
			want: []engine.FieldChange{
				{Path: "labels.tier", Before: nil, After: "web"},
				{Path: `labels["com.example/owner"]`, Before: "x", After: nil},
			},
		},
		"nested container leaves": {
			before: func(a *engine.App) {
				a.Container = &engine.Container{Type: "DOCKER", Docker: &engine.Docker{Image: "nginx:1"}}
			},
			after: func(a *engine.App) {
				a.Container = &engine.Container{Type: "DOCKER", Docker: &engine.Docker{Image: "nginx:2", ForcePullImage: true},
					Volumes: []engine.Volume{{ContainerPath: "/d", Mode: "RO"}}}
			},
			want: []engine.FieldChange{
				{Path: "container.docker.forcePullImage", Before: false, After: true, ForcesRestart: true},
				{Path: "container.docker.image", Before: "nginx:1", After: "nginx:2", ForcesRestart: true},
				{Path: "container.volumes[0]", Before: nil, After: map[string]any{"containerPath": "/d", "mode": "RO"}, ForcesRestart: true},
			},
		},
		"indices sort as numbers": {
			before: func(a *engine.App) {
				for i := 0; i < 11; i++ {
					a.Constraints = append(a.Constraints, engine.Constraint{Field: "f", Operator: engine.OpUnique})
				}
			},
			after: func(a *engine.App) {
				for i := 0; i < 11; i++ {
					a.Constraints = append(a.Constraints, engine.Constraint{Field: "f", Operator: engine.OpUnique})
				}
				a.Constraints[2].Field = "g"
				a.Constraints[10] = engine.Constraint{Field: "rack", Operator: engine.OpGroupBy, Value: "3"}
			},
			want: []engine.FieldChange{
				{Path: "constraints[2]", Before: []any{"f", "UNIQUE"}, After: []any{"g", "UNIQUE"}, ForcesRestart: true},
				{Path: "constraints[10]", Before: []any{"f", "UNIQUE"}, After: []any{"rack", "GROUP_BY", "3"}, ForcesRestart: true},
			},
		},
		"port definition leaves": {
			before: func(a *engine.App) { a.PortDefinitions = []engine.PortDefinition{{Port: 80, Name: "http"}} },
			after: func(a *engine.App) {
				a.PortDefinitions = []engine.PortDefinition{{Port: 8080, Name: "http", Labels: map[string]string{"vip": "1"}}}
			},
			want: []engine.FieldChange{
				{Path: "portDefinitions[0].labels.vip", Before: nil, After: "1", ForcesRestart: true},
				{Path: "portDefinitions[0].port", Before: 80.0, After: 8080.0, ForcesRestart: true},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before, after := app("/a", tc.before), app("/a", tc.after)
			got, _, _, _ := Diff(before, after)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Diff fields:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestComparePaths(t *testing.T) {
	sorted := []string{
		"args[0]", "args[2]", "args[10]", "args[10].x", "args[11]", "cmd", "env.A", "env.A10", "env.A2",
		"healthChecks[1].path", "healthChecks[9].path", "healthChecks[10]", "labels.team", `labels["a.b"]`, "labels[\"z\"]",
	}
	for i := range sorted {
		for j := range sorted {
			got := comparePaths(sorted[i], sorted[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("comparePaths(%q, %q) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

func TestFormatValue(t *testing.T) {
	cases := map[string]struct {
		v    any
		want string
	}{
		"null":        {nil, "null"},
		"string":      {"a\"b\n", `"a\"b\n"`},
		"number":      {0.5, "0.5"},
		"integer":     {3.0, "3"},
		"large":       {1e21, "1e+21"},
		"bool":        {true, "true"},
		"list":        {[]any{"a", 1.0}, `["a",1]`},
		"object":      {map[string]any{"b": 1.0, "a": nil}, `{"a":null,"b":1}`},
		"long string": {strings.Repeat("x", 100), `"` + strings.Repeat("x", 44) + `..."`},
		"long object": {map[string]any{"k": strings.Repeat("y", 100)}, `{"k":"` + strings.Repeat("y", 39) + "..."},
		"utf8 cut":    {strings.Repeat("é", 40), `"` + strings.Repeat("é", 22) + `..."`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := formatValue(tc.v); got != tc.want {
				t.Errorf("formatValue = %s, want %s", got, tc.want)
			}
		})
	}
}
