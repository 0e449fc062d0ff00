package api

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stride-run/stride/engine"
)

// randString returns a string mixing ASCII, control characters, characters JSON
// escapes, multi-byte UTF-8, U+2028/U+2029 and invalid UTF-8.
func randString(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"é", "日本", "\u2028", "\u2029", "😀", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "%", "{}"}
	var b strings.Builder
	for n := r.IntN(12); n > 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// TestAppendStringMatchesEncodingJSON: appendString is byte for byte what
// encoding/json writes (HTML escaping off), on edge cases and random strings.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", `q"uote`, `back\slash`, "\x00\x01\x1f", "<a>&b", "\u2028\u2029", "\xff\xfe", "日本語", "tab\there"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		cases = append(cases, randString(r))
	}
	for _, s := range cases {
		want, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := engine.AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("engine.AppendJSONString(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzAppendString checks the same property on fuzzed input.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := engine.AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("engine.AppendJSONString(%q) = %s, want %s", s, got, want)
		}
		if !utf8.Valid(engine.AppendJSONString(nil, s)) {
			t.Fatalf("engine.AppendJSONString(%q) is not valid UTF-8", s)
		}
	})
}

// randTask returns a task whose optional parts are randomly absent, nil or set.
func randTask(r *rand.Rand) *engine.Task {
	ints := func() []int {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []int{}
		}
		out := make([]int, 1+r.IntN(3))
		for i := range out {
			out[i] = r.IntN(70000) - 5
		}
		return out
	}
	opt := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		s := randString(r)
		return &s
	}
	str := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		return randString(r)
	}
	t := &engine.Task{
		ID: randString(r), AppID: str(), Host: str(), Ports: ints(), ServicePorts: ints(), SlaveID: str(),
		StagedAt: str(), StartedAt: str(), Version: str(), State: str(), Role: str(), Message: str(),
	}
	for n := r.IntN(3); n > 0; n-- {
		t.IPAddresses = append(t.IPAddresses, engine.IPAddr{IPAddress: str(), Protocol: str()})
	}
	if r.IntN(4) == 0 {
		t.IPAddresses = []engine.IPAddr{}
	}
	for n := r.IntN(3); n > 0; n-- {
		t.HealthCheckResults = append(t.HealthCheckResults, engine.HealthResult{
			Alive: r.IntN(2) == 0, ConsecutiveFailures: r.IntN(5), FirstSuccess: opt(), LastSuccess: opt(),
			LastFailure: opt(), LastFailureCause: opt(), TaskID: str(), InstanceID: str(),
		})
	}
	switch r.IntN(3) {
	case 0:
		t.LocalVolumes = []any{map[string]any{"containerPath": randString(r), "persistenceId": "p<1>"}}
	case 1:
		t.LocalVolumes = []any{}
	}
	return t
}

// normalized is the task appendTask describes: lists never nil, health results
// naming their task.
func normalized(t *engine.Task) *engine.Task {
	c := *t
	if c.Ports == nil {
		c.Ports = []int{}
	}
	if c.ServicePorts == nil {
		c.ServicePorts = []int{}
	}
	if c.IPAddresses == nil {
		c.IPAddresses = []engine.IPAddr{}
	}
	c.HealthCheckResults = append([]engine.HealthResult{}, t.HealthCheckResults...)
	for i := range c.HealthCheckResults {
		h := &c.HealthCheckResults[i]
		if h.TaskID == "" {
			h.TaskID = t.ID
		}
		if h.InstanceID == "" {
			h.InstanceID = h.TaskID
		}
	}
	if c.LocalVolumes == nil {
		c.LocalVolumes = []any{}
	}
	c.Message = "" // Stride's: not in Marathon's task JSON
	return &c
}

// TestAppendTaskMatchesEncodingJSON: the hand-written task encoder writes exactly
// what encoding/json writes for the normalized task.
func TestAppendTaskMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 3000; i++ {
		task := randTask(r)
		want, err := marshal(normalized(task))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTask(nil, task, nil); !bytes.Equal(got, want) {
			t.Fatalf("task %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestTaskServicePorts: a task without its own service ports gets the app's.
func TestTaskServicePorts(t *testing.T) {
	cases := map[string]struct {
		own, app []int
		want     string
	}{
		"app's":     {own: nil, app: []int{10000, 10001}, want: `"servicePorts":[10000,10001]`},
		"empty own": {own: []int{}, app: []int{5000}, want: `"servicePorts":[5000]`},
		"own wins":  {own: []int{9}, app: []int{5000}, want: `"servicePorts":[9]`},
		"none":      {own: nil, app: nil, want: `"servicePorts":[]`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := string(appendTask(nil, &engine.Task{ID: "x.1", ServicePorts: tc.own}, tc.app))
			if !strings.Contains(got, tc.want) {
				t.Errorf("%s does not contain %s", got, tc.want)
			}
		})
	}
}

// TestServicePortsOfApp: port definitions, else container port mappings (the
// container's, else Docker's legacy ones), else none.
func TestServicePortsOfApp(t *testing.T) {
	cases := map[string]struct {
		app  *engine.App
		want []int
	}{
		"port definitions": {&engine.App{PortDefinitions: []engine.PortDefinition{{Port: 0}, {Port: 10002}}}, []int{0, 10002}},
		"no ports":         {&engine.App{PortDefinitions: []engine.PortDefinition{}}, []int{}},
		"container mappings": {&engine.App{Container: &engine.Container{
			PortMappings: []engine.PortMapping{{ServicePort: 5000}, {ServicePort: 5001}},
			Docker:       &engine.Docker{PortMappings: []engine.PortMapping{{ServicePort: 1}}},
		}}, []int{5000, 5001}},
		"docker mappings": {&engine.App{Container: &engine.Container{
			Docker: &engine.Docker{PortMappings: []engine.PortMapping{{ServicePort: 7}}},
		}}, []int{7}},
		"container without mappings": {&engine.App{Container: &engine.Container{Docker: &engine.Docker{}}}, []int{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := servicePorts(tc.app)
			if len(got) != len(tc.want) || (len(got) > 0 && !bytes.Equal(appendInts(nil, got), appendInts(nil, tc.want))) {
				t.Errorf("servicePorts = %v, want %v", got, tc.want)
			}
		})
	}
}
