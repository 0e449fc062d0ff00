package planner

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// fullApp returns an app with every field set (every pointer non-nil, every
// slice and map non-empty), so that the reflection walk below reaches every leaf.
// Its first health check is executor-side (HTTP), its second MESOS_TCP.
func fullApp() *engine.App {
	zero, one := 0, 1
	return &engine.App{
		ID:                    "/shop/api",
		Cmd:                   "exec ./api",
		Args:                  []string{"--listen", ":8080"},
		User:                  "nobody",
		Env:                   map[string]string{"LOG_LEVEL": "info"},
		EnvSecrets:            map[string]string{"DB_PASSWORD": "db-pw"},
		Secrets:               map[string]engine.Secret{"db-pw": {Source: "/db/password"}},
		Instances:             3,
		Cpus:                  0.5,
		Mem:                   256,
		Disk:                  10,
		Gpus:                  1,
		Executor:              "//cmd",
		Constraints:           []engine.Constraint{{Field: "rack_id", Operator: engine.OpGroupBy, Value: "2"}},
		AcceptedResourceRoles: []string{"*"},
		Role:                  "prod",
		Fetch:                 []engine.Artifact{{URI: "https://a/x.tgz", Extract: true, Executable: true, Cache: true, DestPath: "x.tgz"}},
		PortDefinitions:       []engine.PortDefinition{{Port: 8080, Protocol: "tcp", Name: "http", Labels: map[string]string{"vip": "1"}}},
		RequirePorts:          true,
		Container: &engine.Container{
			Type: "DOCKER",
			Docker: &engine.Docker{
				Image: "nginx:1", Network: "BRIDGE", Privileged: true, ForcePullImage: true,
				Parameters:   []engine.Parameter{{Key: "name", Value: "kdc"}},
				PortMappings: []engine.PortMapping{{ContainerPort: 80, HostPort: 1, ServicePort: 2, Protocol: "tcp", Name: "d", Labels: map[string]string{"a": "b"}}},
			},
			Volumes:      []engine.Volume{{ContainerPath: "/data", HostPath: "/hdd", Mode: "RW"}},
			PortMappings: []engine.PortMapping{{ContainerPort: 81, HostPort: 3, ServicePort: 4, Protocol: "udp", Name: "c", Labels: map[string]string{"c": "d"}}},
		},
		Networks: []engine.Network{{Mode: "container", Name: "dcos", Labels: map[string]string{"n": "1"}}},
		HealthChecks: []engine.HealthCheck{
			{Protocol: engine.ProtoHTTP, Path: "/health", PortIndex: &zero, PortName: "http", Port: 8080,
				Command: &engine.CheckCommand{Value: "true"}, GracePeriodSeconds: 1, IntervalSeconds: 2,
				TimeoutSeconds: 3, MaxConsecutiveFailures: 4, IgnoreHTTP1xx: true, DelaySeconds: 5},
			{Protocol: engine.ProtoMesosTCP, Path: "/m", PortIndex: &one, PortName: "m", Port: 9090,
				Command: &engine.CheckCommand{Value: "m"}, GracePeriodSeconds: 6, IntervalSeconds: 7,
				TimeoutSeconds: 8, MaxConsecutiveFailures: 9, IgnoreHTTP1xx: true, DelaySeconds: 10},
		},
		ReadinessChecks: []engine.ReadinessCheck{{Name: "ready", Protocol: "HTTP", Path: "/ready", PortName: "http",
			IntervalSeconds: 30, TimeoutSeconds: 10, HTTPStatusCodesForReady: []int{200, 204}, PreserveLastResponse: true}},
		Dependencies:               []string{"/infra", "/shop/db"},
		UpgradeStrategy:            engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.2},
		BackoffSeconds:             1,
		BackoffFactor:              1.15,
		MaxLaunchDelaySeconds:      300,
		TaskKillGracePeriodSeconds: 30,
		GiveUpAfter:                5,
		ProgressDeadlineSeconds:    300,
		AutoRevert:                 true,
		KillSelection:              engine.KillYoungestFirst,
		UnreachableStrategy:        &engine.UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 120},
		Labels:                     map[string]string{"team": "payments"},
		Tty:                        true,
		ResourceLimits:             &engine.ResourceLimits{Cpus: 2.0, Mem: "unlimited"},
		Service:                    &engine.Service{Name: "api", Tags: []string{"v1"}, Port: "http"},
		Version:                    "2015-09-25T15:13:48.343Z",
		VersionInfo:                &engine.VersionInfo{LastScalingAt: "a", LastConfigChangeAt: "b"},
		Source:                     &engine.Source{},
	}
}

// notCompared are the App fields Diff ignores by design.
// Lifecycle and Sensitive are Stride's own: they change what the planner keeps
// and shows, not the app.
var notCompared = map[string]bool{"ID": true, "Version": true, "VersionInfo": true, "Source": true, "Lifecycle": true, "Sensitive": true}

// expectedAction says what a change of each App field calls for (LANGUAGE.md, "How
// the planner reads a change"). A field added to App must be added here — and to
// the planner.
var expectedAction = map[string]string{
	"Cmd": "restart", "Args": "restart", "User": "restart", "Env": "restart", "EnvSecrets": "restart",
	"Secrets": "restart", "Cpus": "restart", "Mem": "restart", "Disk": "restart", "Gpus": "restart",
	"Executor": "restart", "Fetch": "restart", "PortDefinitions": "restart", "RequirePorts": "restart",
	"Container": "restart", "Networks": "restart", "Role": "restart", "Tty": "restart", "ResourceLimits": "restart",
	"Constraints": "placement", "AcceptedResourceRoles": "placement",
	"Instances": "scale",
	"Labels":    "update", "ReadinessChecks": "update", "UpgradeStrategy": "update", "BackoffSeconds": "update",
	"BackoffFactor": "update", "MaxLaunchDelaySeconds": "update", "Service": "update", "Dependencies": "update",
	"KillSelection": "update", "TaskKillGracePeriodSeconds": "update", "UnreachableStrategy": "update",
	"GiveUpAfter": "update", "ProgressDeadlineSeconds": "update", "AutoRevert": "update",
	// HealthChecks: update for the HTTP check (index 0), restart for the MESOS_TCP one.
	"HealthChecks": "health",
}

// mutation changes one leaf of an app.
type mutation struct {
	name  string // Go path of the leaf and what was done
	top   string // the App field it lies under
	apply func(root reflect.Value)
}

// mutations enumerates a mutation for every leaf reachable from App: scalars are
// changed, pointers set to nil (or allocated when nil), slice elements appended
// and removed, map entries changed, added and removed.
func mutations(t *testing.T, base *engine.App) []mutation {
	t.Helper()
	var out []mutation
	root := reflect.ValueOf(base).Elem()
	typ := root.Type()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() || notCompared[f.Name] {
			continue
		}
		idx := i
		get := func(r reflect.Value) reflect.Value { return r.Field(idx) }
		walk(root.Field(i), f.Name, f.Name, get, &out)
	}
	return out
}

func walk(v reflect.Value, name, top string, get func(reflect.Value) reflect.Value, out *[]mutation) {
	add := func(what string, fn func(reflect.Value)) {
		*out = append(*out, mutation{name: name + " " + what, top: top, apply: func(r reflect.Value) { fn(get(r)) }})
	}
	switch v.Kind() {
	case reflect.String, reflect.Int, reflect.Float64, reflect.Bool, reflect.Interface:
		add("changed", changeScalar)
	case reflect.Pointer:
		if v.IsNil() {
			add("allocated", func(x reflect.Value) { x.Set(reflect.New(x.Type().Elem())) })
			return
		}
		add("set to nil", func(x reflect.Value) { x.Set(reflect.Zero(x.Type())) })
		walk(v.Elem(), name, top, func(r reflect.Value) reflect.Value { return get(r).Elem() }, out)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			idx := i
			walk(v.Field(i), name+"."+v.Type().Field(i).Name, top, func(r reflect.Value) reflect.Value { return get(r).Field(idx) }, out)
		}
	case reflect.Slice:
		add("element appended", func(x reflect.Value) {
			e := reflect.New(x.Type().Elem()).Elem()
			if x.Len() > 0 {
				e.Set(x.Index(x.Len() - 1))
			}
			n := reflect.MakeSlice(x.Type(), 0, x.Len()+1)
			x.Set(reflect.Append(reflect.AppendSlice(n, x), e))
		})
		if v.Len() == 0 {
			return
		}
		add("last element removed", func(x reflect.Value) { x.Set(x.Slice(0, x.Len()-1)) })
		for i := 0; i < v.Len(); i++ {
			k := i
			walk(v.Index(i), name+"["+strconv.Itoa(i)+"]", top, func(r reflect.Value) reflect.Value { return get(r).Index(k) }, out)
		}
	case reflect.Map:
		add("key added", func(x reflect.Value) {
			if x.IsNil() {
				x.Set(reflect.MakeMap(x.Type()))
			}
			x.SetMapIndex(reflect.ValueOf("zz-new"), reflect.Zero(x.Type().Elem()))
		})
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			key := k
			add("["+key.String()+"] removed", func(x reflect.Value) { x.SetMapIndex(key, reflect.Value{}) })
			elem := v.MapIndex(key)
			if elem.Kind() == reflect.Struct {
				for i := 0; i < elem.NumField(); i++ {
					fi := i
					add("["+key.String()+"]."+elem.Type().Field(i).Name+" changed", func(x reflect.Value) {
						e := reflect.New(elem.Type()).Elem()
						e.Set(x.MapIndex(key))
						changeScalar(e.Field(fi))
						x.SetMapIndex(key, e)
					})
				}
				continue
			}
			add("["+key.String()+"] changed", func(x reflect.Value) {
				e := reflect.New(x.Type().Elem()).Elem()
				e.Set(x.MapIndex(key))
				changeScalar(e)
				x.SetMapIndex(key, e)
			})
		}
	default:
		panic(fmt.Sprintf("walk: %s: unsupported kind %s: teach this test (and the planner) about it", name, v.Kind()))
	}
}

func changeScalar(x reflect.Value) {
	switch x.Kind() {
	case reflect.String:
		x.SetString(x.String() + "-x")
	case reflect.Int:
		x.SetInt(x.Int() + 1)
	case reflect.Float64:
		x.SetFloat(x.Float() + 0.5)
	case reflect.Bool:
		x.SetBool(!x.Bool())
	case reflect.Interface:
		if x.IsNil() {
			x.Set(reflect.ValueOf(3.0))
		} else {
			x.Set(reflect.ValueOf("changed"))
		}
	default:
		panic("changeScalar: " + x.Kind().String())
	}
}

// jsonName is the top-level Marathon JSON key of an App field.
func jsonName(t *testing.T, field string) string {
	f, ok := reflect.TypeOf(engine.App{}).FieldByName(field)
	if !ok {
		t.Fatalf("no field %s", field)
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || name == "" {
		return "env" // Env and EnvSecrets share Marathon's env object
	}
	return name
}

// TestDiffNoticesEveryField mutates every leaf of every compared App field (found
// by reflection, so a field added to App later is covered) and checks that Diff
// reports it, under the field's JSON name, with the action its group calls for.
func TestDiffNoticesEveryField(t *testing.T) {
	base := fullApp()
	seen := map[string]bool{}
	muts := mutations(t, base)
	for _, m := range muts {
		t.Run(m.name, func(t *testing.T) {
			seen[m.top] = true
			after := base.Clone()
			m.apply(reflect.ValueOf(after).Elem())
			fields, action, reason, onlyViolating := Diff(base, after)
			if len(fields) == 0 {
				t.Fatalf("Diff did not notice the mutation %s", m.name)
			}
			prefix := jsonName(t, m.top)
			for _, f := range fields {
				if !strings.HasPrefix(f.Path, prefix) {
					t.Errorf("path %q does not lie under %q", f.Path, prefix)
				}
			}
			want, ok := expectedAction[m.top]
			if !ok {
				t.Fatalf("App.%s has no expected action in this test: classify it in LANGUAGE.md, the planner and expectedAction", m.top)
			}
			if want == "health" {
				want = "update"
				if strings.Contains(m.name, "[1]") || strings.Contains(m.name, "element") {
					want = "restart" // the MESOS_TCP check changed, was added or removed
				}
			}
			got := string(action)
			if onlyViolating {
				got = "placement"
			}
			if got != want {
				t.Errorf("action = %s (reason %q), want %s", got, reason, want)
			}
			if reason == "" {
				t.Error("empty reason")
			}
		})
	}
	for name := range expectedAction {
		if !seen[name] {
			t.Errorf("expectedAction lists %s, which the walk never reached", name)
		}
	}
	if len(muts) < 150 {
		t.Errorf("only %d mutations: the walk lost fields", len(muts))
	}
}

// TestDiffEqualApps checks that an app equals its clone and itself.
func TestDiffEqualApps(t *testing.T) {
	a := fullApp()
	for name, b := range map[string]*engine.App{"itself": a, "clone": a.Clone()} {
		t.Run(name, func(t *testing.T) {
			fields, action, reason, only := Diff(a, b)
			if fields != nil || action != "" || reason != "" || only {
				t.Errorf("Diff = %v, %q, %q, %v; want nothing", fields, action, reason, only)
			}
		})
	}
	t.Run("ignored fields", func(t *testing.T) {
		b := a.Clone()
		b.Version = "2020-01-01T00:00:00.000Z"
		b.VersionInfo = nil
		b.Source = nil
		b.Lifecycle = &engine.Lifecycle{IgnoreChanges: []string{"instances"}}
		b.Sensitive = []string{"cmd"}
		if fields, _, _, _ := Diff(a, b); fields != nil {
			t.Errorf("Diff compared Version/VersionInfo/Source/Lifecycle/Sensitive: %v", fields)
		}
	})
}

// TestFieldValuesMatchCodec checks every FieldChange of every mutation against
// App.MarshalJSON: the value at the change's path in the decoded JSON of the
// before and after apps must equal Before and After.
func TestFieldValuesMatchCodec(t *testing.T) {
	base := fullApp()
	baseJSON := decodedJSON(t, base)
	for _, m := range mutations(t, base) {
		t.Run(m.name, func(t *testing.T) {
			after := base.Clone()
			m.apply(reflect.ValueOf(after).Elem())
			afterJSON := decodedJSON(t, after)
			fields, _, _, _ := Diff(base, after)
			for _, f := range fields {
				if got := lookupPath(t, baseJSON, f.Path); !reflect.DeepEqual(got, f.Before) {
					t.Errorf("%s: Before = %#v, codec has %#v", f.Path, f.Before, got)
				}
				if got := lookupPath(t, afterJSON, f.Path); !reflect.DeepEqual(got, f.After) {
					t.Errorf("%s: After = %#v, codec has %#v", f.Path, f.After, got)
				}
			}
		})
	}
}

func decodedJSON(t *testing.T, a *engine.App) any {
	t.Helper()
	b, err := a.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

// lookupPath resolves a FieldChange path (a.b[0]["k.x"].c) in a decoded JSON
// value; absent → nil.
func lookupPath(t *testing.T, v any, path string) any {
	t.Helper()
	for path != "" {
		var key string
		idx := -1
		switch {
		case path[0] == '.':
			path = path[1:]
			continue
		case strings.HasPrefix(path, `["`):
			end := strings.Index(path, `"]`)
			k, err := strconv.Unquote(path[1 : end+1])
			if err != nil {
				t.Fatalf("bad path %q: %v", path, err)
			}
			key, path = k, path[end+2:]
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			n, err := strconv.Atoi(path[1:end])
			if err != nil {
				t.Fatalf("bad path %q", path)
			}
			idx, path = n, path[end+1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			key, path = path[:end], path[end:]
		}
		if idx >= 0 {
			l, _ := v.([]any)
			if idx >= len(l) {
				return nil
			}
			v = l[idx]
			continue
		}
		m, _ := v.(map[string]any)
		v = m[key]
	}
	return v
}
