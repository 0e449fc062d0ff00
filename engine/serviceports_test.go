package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// portApp is a host-networking app with port definitions of these ports.
func portApp(id string, ports ...int) *App {
	a := NewApp(id)
	a.PortDefinitions = make([]PortDefinition, len(ports))
	for i, p := range ports {
		a.PortDefinitions[i] = PortDefinition{Port: p, Protocol: DefaultPortProtocol}
	}
	return a
}

// mappingApp is a bridged docker app with port mappings of these service ports.
func mappingApp(id string, legacy bool, ports ...int) *App {
	a := NewApp(id)
	ms := make([]PortMapping, len(ports))
	for i, p := range ports {
		ms[i] = PortMapping{ContainerPort: 80 + i, ServicePort: p, Protocol: DefaultPortProtocol}
	}
	a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "nginx", Network: "BRIDGE"}}
	if legacy {
		a.Container.Docker.PortMappings = ms
	} else {
		a.Container.PortMappings = ms
	}
	return a
}

func TestAssignServicePorts(t *testing.T) {
	r := PortRange{Min: 10000, Max: 10009}
	cases := map[string]struct {
		puts, others, deployed []*App
		want                   map[string][]int
		err                    string
	}{
		"zeros get the lowest free ports, in order": {
			puts:   []*App{portApp("/a", 0, 0), portApp("/b", 0)},
			others: []*App{portApp("/x", 10001)},
			want:   map[string][]int{"/a": {10000, 10002}, "/b": {10003}},
		},
		"explicit ports are taken as given, even outside the range": {
			puts: []*App{portApp("/a", 0, 80, 10000)},
			want: map[string][]int{"/a": {10001, 80, 10000}},
		},
		"an update keeps the deployed ports by index": {
			puts:     []*App{portApp("/a", 0, 0)},
			deployed: []*App{portApp("/a", 10005, 10003)},
			others:   []*App{portApp("/x", 10000)},
			want:     map[string][]int{"/a": {10005, 10003}},
		},
		"a port gained gets a new one; the old ones stay": {
			puts:     []*App{portApp("/a", 0, 0, 0)},
			deployed: []*App{portApp("/a", 10000, 10001)},
			want:     map[string][]int{"/a": {10000, 10001, 10002}},
		},
		"an index now given explicitly hands its old port to a 0": {
			puts:     []*App{portApp("/a", 10001, 0)},
			deployed: []*App{portApp("/a", 10000, 10001)},
			want:     map[string][]int{"/a": {10001, 10000}},
		},
		"ports freed by the write are not reused by it": {
			puts:     []*App{portApp("/a", 20000), portApp("/b", 0)},
			deployed: []*App{portApp("/a", 10000)},
			want:     map[string][]int{"/a": {20000}, "/b": {10001}},
		},
		"container port mappings": {
			puts:     []*App{mappingApp("/m", false, 0, 0), mappingApp("/l", true, 0)},
			deployed: []*App{mappingApp("/m", false, 10004, 0)},
			want:     map[string][]int{"/l": {10001}, "/m": {10004, 10000}},
		},
		"an app without ports": {
			puts: []*App{portApp("/a")},
			want: map[string][]int{"/a": {}},
		},
		"a port another app holds": {
			puts:   []*App{portApp("/a", 0, 10002)},
			others: []*App{portApp("/x", 10002)},
			err:    "/a /portDefinitions/1/port: app /a: service port 10002 is already used by app /x",
		},
		"a port another app of the same write takes": {
			puts: []*App{portApp("/a", 10002), mappingApp("/b", false, 10002)},
			err:  "/b /container/portMappings/0/servicePort: app /b: service port 10002 is already used by app /a",
		},
		"a port moving from a deployed app to a new one keeps its holder": {
			puts:     []*App{portApp("/b", 10002), portApp("/a", 0)},
			deployed: []*App{portApp("/a", 10002)},
			err:      "/b /portDefinitions/0/port: app /b: service port 10002 is already used by app /a",
		},
		"a port listed twice": {
			puts: []*App{portApp("/a", 12345, 12345)},
			err:  "/a /portDefinitions/1/port: app /a: service port 12345 is listed twice",
		},
		"duplicates already in the state stay": {
			puts:     []*App{portApp("/a", 0)},
			deployed: []*App{portApp("/a", 10007)},
			others:   []*App{portApp("/x", 10007)},
			want:     map[string][]int{"/a": {10007}},
		},
		"the range exhausted": {
			puts:   []*App{portApp("/a", 0, 0, 0)},
			others: []*App{portApp("/x", 10000, 10001, 10002, 10003, 10004, 10005, 10006, 10008)},
			err:    "/a /portDefinitions/2/port: app /a: no free service port left in 10000-10009",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			deployed := map[string]*App{}
			for _, a := range tc.deployed {
				deployed[a.ID] = a
			}
			before := make([][]int, len(tc.puts))
			for i, a := range tc.puts {
				before[i] = a.ServicePorts()
			}
			lookup := func(id string) *App { return deployed[id] }
			got, err := AssignServicePorts(tc.puts, tc.others, lookup, r)
			// The plan's check agrees, but for the range.
			if cerr := CheckServicePorts(tc.puts, tc.others, lookup); (cerr != nil) != (err != nil && !strings.Contains(tc.err, "no free service port")) {
				t.Fatalf("CheckServicePorts: %v, AssignServicePorts: %v", cerr, err)
			}
			for i, a := range tc.puts {
				if !reflect.DeepEqual(a.ServicePorts(), before[i]) {
					t.Fatalf("input %s modified: %v -> %v", a.ID, before[i], a.ServicePorts())
				}
			}
			if tc.err != "" {
				es, ok := AsServicePortErrors(err)
				if !ok || got != nil {
					t.Fatalf("got %v, %v; want ServicePortErrors", got, err)
				}
				var lines []string
				for _, e := range es {
					lines = append(lines, e.AppID+" "+e.Path+": "+e.Error())
				}
				if g := strings.Join(lines, "\n"); !strings.HasPrefix(g, tc.err) {
					t.Fatalf("errors:\n%s\nwant:\n%s", g, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			out := map[string][]int{}
			for i, a := range got {
				if a.ID != tc.puts[i].ID {
					t.Fatalf("order changed: %s at %d", a.ID, i)
				}
				out[a.ID] = a.ServicePorts()
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Fatalf("got %v, want %v", out, tc.want)
			}
		})
	}
}

// TestAssignServicePortsUniqueAcrossManyApps: writes one after the other, each
// seeing the state the last one left, give every app its own ports, and a
// write that re-sends every app with 0s changes none.
func TestAssignServicePortsUniqueAcrossManyApps(t *testing.T) {
	state := map[string]*App{}
	lookup := func(id string) *App { return state[id] }
	others := func(skip string) []*App {
		var out []*App
		for id, a := range state {
			if id != skip {
				out = append(out, a)
			}
		}
		return out
	}
	for i := range 300 {
		id := fmt.Sprintf("/app-%03d", i)
		got, err := AssignServicePorts([]*App{portApp(id, 0, 0, 0)}, others(id), lookup, DefaultServicePortRange)
		if err != nil {
			t.Fatal(err)
		}
		state[id] = got[0]
	}
	seen := map[int]string{}
	for id, a := range state {
		for _, p := range a.ServicePorts() {
			if other, dup := seen[p]; dup || !DefaultServicePortRange.Contains(p) {
				t.Fatalf("port %d of %s: also %q, or out of range", p, id, other)
			}
			seen[p] = id
		}
	}
	if len(seen) != 900 || seen[10000] == "" || seen[10899] == "" {
		t.Fatalf("%d ports, want 10000..10899 exactly", len(seen))
	}
	var puts []*App
	for id := range state {
		puts = append(puts, portApp(id, 0, 0, 0))
	}
	got, err := AssignServicePorts(puts, nil, lookup, DefaultServicePortRange)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range got {
		if !reflect.DeepEqual(a.ServicePorts(), state[a.ID].ServicePorts()) {
			t.Fatalf("%s: %v, was %v", a.ID, a.ServicePorts(), state[a.ID].ServicePorts())
		}
	}
}

func TestParsePortRange(t *testing.T) {
	cases := map[string]struct {
		in   string
		want PortRange
		err  string
	}{
		"default":     {in: "10000-20000", want: PortRange{10000, 20000}},
		"one port":    {in: " 5000 - 5000 ", want: PortRange{5000, 5000}},
		"no dash":     {in: "10000", err: "want MIN-MAX"},
		"not a port":  {in: "a-20000", err: `"a" is not a port`},
		"reversed":    {in: "20000-10000", err: "the first port 20000 is above the last 10000"},
		"zero":        {in: "0-100", err: "between 1 and 65535"},
		"too high":    {in: "60000-70000", err: "between 1 and 65535"},
		"empty upper": {in: "1-", err: `"" is not a port`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var r PortRange
			err := r.Set(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				return
			}
			if err != nil || r != tc.want || r.String() != fmt.Sprintf("%d-%d", tc.want.Min, tc.want.Max) {
				t.Fatalf("got %v %v, want %v", r, err, tc.want)
			}
		})
	}
}

func TestServicePortErrorsKinds(t *testing.T) {
	twice := ServicePortErrors{{AppID: "/a", Path: "/portDefinitions/1/port", Port: 1}}
	held := ServicePortErrors{{AppID: "/a", Path: "/portDefinitions/0/port", Port: 1, Holder: "/b"}}
	if twice.Conflict() || !held.Conflict() {
		t.Fatal("a port listed twice is invalid, one held elsewhere a conflict")
	}
	wrapped := fmt.Errorf("apply: %w", held)
	if es, ok := AsServicePortErrors(wrapped); !ok || !errors.Is(wrapped, wrapped) || es[0].Holder != "/b" {
		t.Fatal("not found in the chain")
	}
	if fe := held.FieldErrors(); len(fe) != 1 || fe[0].Path != "/portDefinitions/0/port" || !strings.Contains(fe[0].Errors[0], "app /b") {
		t.Fatalf("field errors %+v", fe)
	}
}

// portWorld is n apps with two service ports each, deployed, and the same
// apps written again with the ports left at 0.
func portWorld(n int) (puts []*App, lookup func(string) *App) {
	state := make(map[string]*App, n)
	puts = make([]*App, n)
	for i := range n {
		id := fmt.Sprintf("/app-%05d", i)
		state[id] = portApp(id, 10000+2*i, 10001+2*i)
		puts[i] = portApp(id, 0, 0)
	}
	return puts, func(id string) *App { return state[id] }
}

func BenchmarkAssignServicePorts(b *testing.B) {
	// A write of 10,000 apps (two ports each) against a state holding them:
	// what every `stride apply` of a large configuration pays.
	puts, lookup := portWorld(10000)
	r := PortRange{Min: 10000, Max: 40000}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AssignServicePorts(puts, nil, lookup, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckServicePorts(b *testing.B) {
	// `stride plan` of 10,000 apps (two ports each, left at 0) against a
	// state holding them: the plan's check copies nothing.
	puts, lookup := portWorld(10000)
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckServicePorts(puts, nil, lookup); err != nil {
			b.Fatal(err)
		}
	}
}
