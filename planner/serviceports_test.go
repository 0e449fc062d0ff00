package planner

import (
	"slices"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestServicePortZeroIsNoChange: a service port the files leave at 0 asks for
// one, and the deployed app has it (the write that stored it assigned it, see
// engine.AssignServicePorts): no change, so a plan right after an apply is
// empty. Any other difference in the ports is one.
func TestServicePortZeroIsNoChange(t *testing.T) {
	defs := func(ports ...int) func(*engine.App) {
		return func(a *engine.App) {
			a.PortDefinitions = nil
			for _, p := range ports {
				a.PortDefinitions = append(a.PortDefinitions, engine.PortDefinition{Port: p, Protocol: "tcp"})
			}
		}
	}
	mappings := func(legacy bool, ports ...int) func(*engine.App) {
		return func(a *engine.App) {
			var ms []engine.PortMapping
			for i, p := range ports {
				ms = append(ms, engine.PortMapping{ContainerPort: 8080 + i, ServicePort: p, Protocol: "tcp"})
			}
			a.PortDefinitions = nil
			a.Container = &engine.Container{Type: "DOCKER", Docker: &engine.Docker{Image: "nginx", Network: "BRIDGE"}}
			if legacy {
				a.Container.Docker.PortMappings = ms
			} else {
				a.Container.PortMappings = ms
			}
		}
	}
	cases := map[string]struct {
		deployed, files func(*engine.App)
		paths           []string // changed fields; none: an empty plan
	}{
		"port definitions left at 0":       {deployed: defs(10000, 10001), files: defs(0, 0)},
		"some given, some 0":               {deployed: defs(10000, 10001), files: defs(10000, 0)},
		"port mappings left at 0":          {deployed: mappings(false, 10002), files: mappings(false, 0)},
		"legacy docker mappings left at 0": {deployed: mappings(true, 10002, 10003), files: mappings(true, 0, 0)},
		"another port given":               {deployed: defs(10000), files: defs(10005), paths: []string{"portDefinitions[0].port"}},
		"a port added":                     {deployed: defs(10000), files: defs(0, 0), paths: []string{"portDefinitions[1]"}},
		"a port removed":                   {deployed: defs(10000, 10001), files: defs(0), paths: []string{"portDefinitions[1]"}},
		"a mapping's service port given":   {deployed: mappings(false, 10002), files: mappings(false, 9000), paths: []string{"container.portMappings[0].servicePort"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mk := func(f func(*engine.App)) *engine.App {
				a := engine.NewApp("/shop/api")
				a.Cmd = "serve"
				f(a)
				a.ApplyDefaults()
				return a
			}
			deployed := mk(tc.deployed)
			deployed.Version = "2024-03-02T12:00:00.000Z"
			plan, diags := Plan(&engine.Spec{Scope: "/shop", Apps: []*engine.App{mk(tc.files)}}, &engine.State{Apps: []*engine.App{deployed}}, Options{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			var got []string
			for _, c := range plan.Changes {
				for _, f := range c.Fields {
					got = append(got, f.Path)
				}
			}
			if len(tc.paths) == 0 && !plan.Empty() {
				t.Fatalf("planned %v, want no change", got)
			}
			if !slices.Equal(got, tc.paths) {
				t.Fatalf("changed %v, want %v", got, tc.paths)
			}
		})
	}
}
