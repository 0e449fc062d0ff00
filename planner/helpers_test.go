package planner

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/engine"
)

// app returns a normalised app with a cmd, modified by the options.
func app(id string, opts ...func(*engine.App)) *engine.App {
	a := engine.NewApp(id)
	a.Cmd = "run " + id
	for _, o := range opts {
		o(a)
	}
	a.ApplyDefaults()
	return a
}

func deps(ids ...string) func(*engine.App) {
	return func(a *engine.App) { a.Dependencies = ids }
}

func instances(n int) func(*engine.App) {
	return func(a *engine.App) { a.Instances = n }
}

func cmd(c string) func(*engine.App) {
	return func(a *engine.App) { a.Cmd = c }
}

func labels(kv ...string) func(*engine.App) {
	return func(a *engine.App) {
		a.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			a.Labels[kv[i]] = kv[i+1]
		}
	}
}

// src gives the app a Source in file f at line l, with each dependency's
// depends_on element on the following lines (in Dependencies order).
func src(f string, l int) func(*engine.App) {
	return func(a *engine.App) {
		a.ApplyDefaults() // resolve dependencies first
		var deps []engine.KeyRange
		for i, d := range a.Dependencies {
			deps = append(deps, engine.KeyRange{Key: d, Range: rng(f, l+1+i, 17)})
		}
		a.Source = &engine.Source{DeclRange: rng(f, l, 1), Dependencies: engine.MakeRanges(deps)}
	}
}

func rng(f string, line, col int) hcl.Range {
	return hcl.Range{
		Filename: f,
		Start:    hcl.Pos{Line: line, Column: col, Byte: 0},
		End:      hcl.Pos{Line: line, Column: col + 4, Byte: 0},
	}
}

func spec(apps ...*engine.App) *engine.Spec {
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
	return &engine.Spec{Scope: "/", Apps: apps}
}

func state(apps ...*engine.App) *engine.State {
	return &engine.State{Serial: 7, Apps: apps}
}

// world is a generated spec/state pair.
type world struct {
	spec  *engine.Spec
	state *engine.State
	want  engine.Summary
}

// genApp builds app number i of group g deterministically (two calls give equal,
// independent apps). Apps of group g may depend on an app or on the whole of a
// lower-numbered group, so the graph is acyclic.
func genApp(g, i int) *engine.App {
	a := engine.NewApp(fmt.Sprintf("/g%03d/svc%04d", g, i))
	a.Cmd = fmt.Sprintf("exec ./svc --group %d --id %d --port $PORT0", g, i)
	a.Instances = 1 + (g*7+i)%5
	a.Cpus = 0.25
	a.Mem = 256
	a.Env = map[string]string{"LOG_LEVEL": "info", "GROUP": fmt.Sprint(g), "ID": fmt.Sprint(i)}
	a.Labels = map[string]string{"team": fmt.Sprintf("team-%d", g%10), "tier": "backend"}
	a.Fetch = []engine.Artifact{{URI: fmt.Sprintf("https://artifacts.example.com/svc-%d.tgz", i%50), Extract: true}}
	a.PortDefinitions = []engine.PortDefinition{{Port: 0, Name: "http"}}
	hc := engine.DefaultHealthCheck()
	hc.Path = "/health"
	a.HealthChecks = []engine.HealthCheck{hc}
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.2}
	if g > 0 {
		switch i % 10 {
		case 0:
			a.Dependencies = []string{fmt.Sprintf("/g%03d", (g*31)%g)}
		case 1, 2:
			a.Dependencies = []string{fmt.Sprintf("/g%03d/svc%04d", (g*17)%g, i%7)}
		}
	}
	a.ApplyDefaults()
	return a
}

// genWorld builds a state of n apps in groups of 50 and a spec with 10% of them
// changed: 2% each of restart (cmd), scale, update (labels), destroy (left out of
// the spec) and create (new apps). State.Apps is shuffled with the seed.
func genWorld(n int, seed uint64) world {
	r := rand.New(rand.NewPCG(seed, 1))
	const perGroup = 50
	var w world
	w.state = &engine.State{Serial: 42}
	w.spec = &engine.Spec{Scope: "/"}
	for k := 0; k < n; k++ {
		g, i := k/perGroup, k%perGroup
		w.state.Apps = append(w.state.Apps, genApp(g, i))
		desired := genApp(g, i)
		switch k % 50 {
		case 3:
			desired.Cmd += " --verbose"
			w.want.Restart++
		case 13:
			desired.Instances++
			w.want.Scale++
		case 23:
			desired.Labels["owner"] = "someone"
			w.want.Update++
		case 33:
			w.want.Destroy++
			continue
		}
		w.spec.Apps = append(w.spec.Apps, desired)
	}
	for k := 0; k < n/50; k++ {
		a := genApp(k%(n/perGroup+1), perGroup+k)
		w.spec.Apps = append(w.spec.Apps, a)
		w.want.Create++
	}
	sort.Slice(w.spec.Apps, func(i, j int) bool { return w.spec.Apps[i].ID < w.spec.Apps[j].ID })
	r.Shuffle(len(w.state.Apps), func(i, j int) { w.state.Apps[i], w.state.Apps[j] = w.state.Apps[j], w.state.Apps[i] })
	return w
}
