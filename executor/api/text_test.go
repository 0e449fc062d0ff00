package api

import (
	"net/http"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestEndpointsText pins Marathon's text/plain task list byte for byte (§4.5).
func TestEndpointsText(t *testing.T) {
	twoPorts := &engine.App{ID: "/shop/api", PortDefinitions: []engine.PortDefinition{{Port: 10000}, {Port: 10001}}}
	noPorts := &engine.App{ID: "/shop/worker", PortDefinitions: []engine.PortDefinition{}}
	docker := &engine.App{ID: "/tools/docker/registry", Container: &engine.Container{
		Type: "DOCKER", Docker: &engine.Docker{Image: "registry:2", PortMappings: []engine.PortMapping{{ContainerPort: 5000, ServicePort: 5000}}},
	}}
	task := func(id, host, state string, ports ...int) *engine.Task {
		return &engine.Task{ID: id, Host: host, State: state, Ports: ports}
	}
	cases := map[string]struct {
		app   *engine.App
		tasks []*engine.Task
		want  string
	}{
		"two ports": {
			app: twoPorts,
			tasks: []*engine.Task{
				task("shop_api.1", "srv2", engine.TaskRunning, 31002, 31003),
				task("shop_api.2", "srv1", engine.TaskRunning, 31000, 31001),
			},
			want: "shop_api\t10000\tsrv1:31000\tsrv2:31002\t\n" +
				"shop_api\t10001\tsrv1:31001\tsrv2:31003\t\n",
		},
		"only running tasks": {
			app: twoPorts,
			tasks: []*engine.Task{
				task("shop_api.1", "srv1", engine.TaskStaging, 31000, 31001),
				task("shop_api.2", "srv2", engine.TaskKilling, 31002, 31003),
				task("shop_api.3", "srv3", engine.TaskRunning, 31004, 31005),
			},
			want: "shop_api\t10000\tsrv3:31004\t\nshop_api\t10001\tsrv3:31005\t\n",
		},
		"missing host port is 0": {
			app:   twoPorts,
			tasks: []*engine.Task{task("shop_api.1", "srv1", engine.TaskRunning, 31000)},
			want:  "shop_api\t10000\tsrv1:31000\t\nshop_api\t10001\tsrv1:0\t\n",
		},
		"no running task": {
			app:   twoPorts,
			tasks: nil,
			want:  "shop_api\t10000\t\nshop_api\t10001\t\n",
		},
		"no ports: hosts only": {
			app: noPorts,
			tasks: []*engine.Task{
				task("shop_worker.1", "srv2", engine.TaskRunning),
				task("shop_worker.2", "srv1", engine.TaskRunning),
				task("shop_worker.3", "srv3", engine.TaskStarting),
			},
			want: "shop_worker\t \tsrv1\tsrv2\t\n",
		},
		"no ports, no tasks": {
			app:  noPorts,
			want: "shop_worker\t \t\n",
		},
		"docker port mappings": {
			app:   docker,
			tasks: []*engine.Task{task("tools_docker_registry.1", "srv4", engine.TaskRunning, 31721)},
			want:  "tools_docker_registry\t5000\tsrv4:31721\t\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := appendEndpoints(nil, tc.app, tc.tasks, nil)
			if string(got) != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestTasksTextEndpoint checks GET /v2/tasks with Accept: text/plain over the
// fixture: every app in id order, /old's task (no app) left out.
func TestTasksTextEndpoint(t *testing.T) {
	s, _ := newTestServer()
	w := do(t, s, request{path: "/v2/tasks", header: map[string]string{"Accept": "text/plain"}})
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	want := "shop_api\t10000\tagent-1:31000\tagent-2:31002\t\n" +
		"shop_api\t10001\tagent-1:31001\tagent-2:31003\t\n" +
		"shop_worker\t \tagent-1\tagent-2\t\n" +
		"tools_registry\t5000\tagent-3:31721\t\n"
	if got := w.Body.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// The same View answers from the cache: byte-identical.
	if again := do(t, s, request{path: "/v2/tasks", header: map[string]string{"Accept": "text/plain"}}); again.Body.String() != want {
		t.Errorf("second answer differs: %q", again.Body.String())
	}
}

// TestWantsText: JSON unless text/plain is preferred strictly.
func TestWantsText(t *testing.T) {
	cases := map[string]struct {
		accept string
		text   bool
	}{
		"none":                 {"", false},
		"any":                  {"*/*", false},
		"json":                 {"application/json", false},
		"text":                 {"text/plain", true},
		"text with charset":    {"text/plain; charset=utf-8", true},
		"text/*":               {"text/*", true},
		"both":                 {"text/plain, application/json", false},
		"both, text first":     {"application/json;q=0.5, text/plain", true},
		"json preferred":       {"text/plain;q=0.5, application/json", false},
		"text and any":         {"text/plain, */*;q=0.1", true},
		"neither":              {"image/png", false},
		"text refused":         {"text/plain;q=0, */*", false},
		"upper case":           {"TEXT/PLAIN", true},
		"malformed q ignored":  {"text/plain;q=x", true},
		"exact beats wildcard": {"text/*;q=0.1, text/plain;q=0.9, application/json;q=0.5", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := wantsText(tc.accept); got != tc.text {
				t.Errorf("wantsText(%q) = %v, want %v", tc.accept, got, tc.text)
			}
		})
	}
}

// TestSnapshotCache: encodings are shared while the View stays, rebuilt when the
// backend publishes a new one.
func TestSnapshotCache(t *testing.T) {
	s, f := newTestServer()
	first := do(t, s, request{path: "/v2/tasks"}).Body.String()
	sn := s.cache.cur.Load()
	if do(t, s, request{path: "/v2/tasks"}).Body.String() != first || s.cache.cur.Load() != sn {
		t.Fatal("same View: the snapshot was not reused")
	}
	v := fixtureView()
	v.Tasks = v.Tasks[:1]
	f.view.Store(v)
	second := do(t, s, request{path: "/v2/tasks"}).Body.String()
	if second == first || s.cache.cur.Load() == sn {
		t.Fatal("new View: the old encoding was served")
	}
	var body struct{ Tasks []engine.Task }
	decode(t, do(t, s, request{path: "/v2/tasks"}), &body)
	if len(body.Tasks) != 1 {
		t.Errorf("%d tasks, want 1", len(body.Tasks))
	}
}
