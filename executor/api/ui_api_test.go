package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/ui"
	"github.com/stride-run/stride/internal/version"
)

// Versions of the history fixture.
const (
	hv1 = "2024-02-01T09:00:00.000Z"
	hv2 = "2024-02-15T09:00:00.000Z"
	hv3 = v2 // the deployed /shop/api of fixtureView
)

// fakeHistory is a recording AppHistory over hand-made versions.
type fakeHistory struct {
	mu       sync.Mutex
	versions map[string][]*engine.App // newest first
	err      error
	calls    []string
}

func (h *fakeHistory) record(c string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
}

func (h *fakeHistory) AppVersions(ctx context.Context, id string) ([]string, error) {
	h.record("AppVersions " + id)
	if h.err != nil {
		return nil, h.err
	}
	out := []string{}
	for _, a := range h.versions[id] {
		out = append(out, a.Version)
	}
	return out, nil
}

func (h *fakeHistory) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	h.record("AppVersion " + id + " " + version)
	if h.err != nil {
		return nil, h.err
	}
	for _, a := range h.versions[id] {
		if a.Version == version {
			return a, nil
		}
	}
	return nil, fmt.Errorf("app %s version %s: %w", id, version, engine.ErrNotFound)
}

// historyFixture: /shop/api was created with 2 instances (hv1), scaled to 3
// (hv2), then its cmd changed (hv3, the deployed version of fixtureView); /gone
// was destroyed after one version.
func historyFixture(view *executor.View) *fakeHistory {
	cur := view.App("/shop/api").App
	at := func(version string, instances int, cmd string) *engine.App {
		a := cur.Clone()
		a.Version, a.Instances, a.Cmd = version, instances, cmd
		a.VersionInfo = &engine.VersionInfo{LastScalingAt: version, LastConfigChangeAt: hv1}
		return a
	}
	gone := engine.NewApp("/gone")
	gone.Cmd = "sleep 1000"
	gone.ApplyDefaults()
	gone.Version = hv1
	return &fakeHistory{versions: map[string][]*engine.App{
		"/shop/api": {cur, at(hv2, 3, "python3 -m http.server 8000"), at(hv1, 2, "python3 -m http.server 8000")},
		"/gone":     {gone},
	}}
}

// newUIServer is newTestServer with the version history and the UI.
func newUIServer() (*Server, *fakeBackend, *fakeHistory) {
	f := newFake(fixtureView())
	h := historyFixture(f.View())
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", MesosURL: "http://127.0.0.1:1", History: h, UI: ui.Handler()})
	return s, f, h
}

func TestStrideQueueGolden(t *testing.T) {
	s, _, _ := newUIServer()
	checkGolden(t, "stride_queue", render(t, do(t, s, request{path: "/stride/v1/queue"})))
}

func TestAppHistoryGolden(t *testing.T) {
	s, _, _ := newUIServer()
	checkGolden(t, "stride_app_history", render(t, do(t, s, request{path: "/stride/v1/apps/shop/api/history"})))
}

func TestAppDiff(t *testing.T) {
	tests := map[string]struct {
		path   string
		code   int
		from   string
		to     string
		action engine.Action
		fields []string // paths; forcing a restart marked with "!"
		msg    string
	}{
		"default: the previous version to the deployed one": {
			path: "/stride/v1/apps/shop/api/diff", code: 200, from: hv2, to: hv3, action: engine.ActionRestart,
			fields: []string{"cmd!", "versionInfo?"},
		},
		"a scale": {
			path: "/stride/v1/apps/shop/api/diff?from=" + hv1 + "&to=" + hv2, code: 200, from: hv1, to: hv2,
			action: engine.ActionScale, fields: []string{"instances"},
		},
		"backwards: what a rollback would change": {
			path: "/stride/v1/apps/shop/api/diff?from=" + hv3 + "&to=" + hv1, code: 200, from: hv3, to: hv1,
			action: engine.ActionRestart, fields: []string{"cmd!", "instances"},
		},
		"to alone: from its previous version": {
			path: "/stride/v1/apps/shop/api/diff?to=" + hv2, code: 200, from: hv1, to: hv2, action: engine.ActionScale, fields: []string{"instances"},
		},
		"a version with itself": {
			path: "/stride/v1/apps/shop/api/diff?from=" + hv2 + "&to=" + hv2, code: 200, from: hv2, to: hv2,
		},
		"the oldest alone: nothing before it": {
			path: "/stride/v1/apps/shop/api/diff?to=" + hv1, code: 200, from: hv1, to: hv1,
		},
		"a destroyed app keeps its history": {
			path: "/stride/v1/apps/gone/diff", code: 200, from: hv1, to: hv1,
		},
		"an unknown version": {
			path: "/stride/v1/apps/shop/api/diff?from=2020-01-01T00:00:00.000Z", code: 404,
			msg: "App '/shop/api' does not exist in version 2020-01-01T00:00:00.000Z",
		},
		"a version too long to be one": {
			path: "/stride/v1/apps/shop/api/diff?to=" + strings.Repeat("9", 65), code: 400, msg: "Invalid version",
		},
		"an unknown app": {path: "/stride/v1/apps/nope/diff", code: 404, msg: "App '/nope' does not exist"},
		"no app":         {path: "/stride/v1/apps/diff", code: 404},
		"no such view":   {path: "/stride/v1/apps/shop/api/versions", code: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, _, _ := newUIServer()
			w := do(t, s, request{path: tc.path})
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.code != 200 {
				var e errorBody
				decode(t, w, &e)
				if tc.msg != "" && e.Message != tc.msg {
					t.Errorf("message %q, want %q", e.Message, tc.msg)
				}
				return
			}
			var d AppDiff
			decode(t, w, &d)
			if d.From != tc.from || d.To != tc.to || d.Action != tc.action {
				t.Errorf("from %s to %s: %s; want from %s to %s: %s", d.From, d.To, d.Action, tc.from, tc.to, tc.action)
			}
			var got []string
			for _, f := range d.Fields {
				p := f.Path
				if f.ForcesRestart {
					p += "!"
				}
				got = append(got, p)
			}
			var want []string
			for _, f := range tc.fields {
				if !strings.HasSuffix(f, "?") {
					want = append(want, f)
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("fields %v, want %v", got, want)
			}
			if d.Fields == nil {
				t.Errorf("fields is null, want []")
			}
		})
	}
}

func TestHistoryErrors(t *testing.T) {
	tests := map[string]struct {
		history AppHistory
		method  string
		code    int
		msg     string
	}{
		"no history on this server": {history: nil, code: 404, msg: msgNoHistory},
		"the store fails": {
			history: &fakeHistory{err: errors.New("consul: connection refused")}, code: 503,
			msg: "reading the version history of /shop/api: consul: connection refused",
		},
		"a write": {history: &fakeHistory{}, method: http.MethodPost, code: 405},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(newFake(fixtureView()), Info{HTTPAddr: "127.0.0.1:8080", History: tc.history})
			for _, p := range []string{"/stride/v1/apps/shop/api/history", "/stride/v1/apps/shop/api/diff"} {
				w := do(t, s, request{method: tc.method, path: p})
				if w.Code != tc.code {
					t.Fatalf("%s: status %d, want %d: %s", p, w.Code, tc.code, w.Body)
				}
				var e errorBody
				decode(t, w, &e)
				if tc.msg != "" && e.Message != tc.msg {
					t.Errorf("%s: message %q, want %q", p, e.Message, tc.msg)
				}
			}
		})
	}
}

// TestHistoryReadsTheStoreOnce: one read of the list and one per recorded
// version that is not the deployed one.
func TestHistoryReadsTheStoreOnce(t *testing.T) {
	s, _, h := newUIServer()
	if w := do(t, s, request{path: "/stride/v1/apps/shop/api/history"}); w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := []string{"AppVersions /shop/api", "AppVersion /shop/api " + hv2, "AppVersion /shop/api " + hv1}
	if strings.Join(h.calls, "; ") != strings.Join(want, "; ") {
		t.Errorf("store calls %v, want %v", h.calls, want)
	}
}

// deploymentFixture: fixtureView with dep-1 carrying its target apps and rolling
// bounds, and /shop/api's tasks split between the old configuration (v1) and the
// new one (v2).
func deploymentFixture() *executor.View {
	v := fixtureView()
	api := v.App("/shop/api")
	d := v.Deployments[0].Deployment
	for _, c := range d.Plan.Changes {
		switch c.ID {
		case "/shop/api":
			c.After = api.App
			c.Rolling = &engine.Rolling{From: 3, To: 3, MinHealthy: 2, MaxRunning: 4, Waves: []engine.Wave{{Start: 1, Kill: 1, Old: 2, New: 1}}}
		case "/shop/worker":
			c.After = v.App("/shop/worker").App
			c.Rolling = &engine.Rolling{From: 2, To: 3, MinHealthy: 3, MaxRunning: 6}
		}
	}
	// Task a runs the old configuration; b and c the new one.
	old := *api.Tasks[0]
	old.Version = v1
	api.Tasks[0] = &old
	for i, t := range v.Tasks {
		if t.ID == old.ID {
			v.Tasks[i] = &old
		}
	}
	v.Healthy = map[string]bool{old.ID: true, "shop_worker.1a": true, "shop_worker.1b": true, "tools_registry.2a": true}
	return v
}

func TestDeploymentsOverviewGolden(t *testing.T) {
	s := New(newFake(deploymentFixture()), Info{HTTPAddr: "127.0.0.1:8080"})
	checkGolden(t, "stride_deployments", render(t, do(t, s, request{path: "/stride/v1/deployments"})))
}

func TestDeploymentsOverviewLimit(t *testing.T) {
	tests := map[string]struct {
		query  string
		code   int
		recent int
	}{
		"default":         {query: "", code: 200, recent: 1},
		"none":            {query: "?limit=0", code: 200, recent: 0},
		"the most":        {query: "?limit=100", code: 200, recent: 1},
		"too many":        {query: "?limit=101", code: 400},
		"negative":        {query: "?limit=-1", code: 400},
		"not a number":    {query: "?limit=ten", code: 400},
		"a large integer": {query: "?limit=99999999999999999999", code: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(newFake(deploymentFixture()), Info{HTTPAddr: "127.0.0.1:8080"})
			w := do(t, s, request{path: "/stride/v1/deployments" + tc.query})
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.code != 200 {
				var e errorBody
				decode(t, w, &e)
				if len(e.Details) != 1 || e.Details[0].Path != "limit" {
					t.Errorf("details %+v", e.Details)
				}
				return
			}
			var o DeploymentsOverview
			decode(t, w, &o)
			if len(o.Recent) != tc.recent || len(o.Running) != 1 {
				t.Errorf("%d running, %d recent; want 1, %d", len(o.Running), len(o.Recent), tc.recent)
			}
		})
	}
}

// TestRollout: where an app stands in a rollout, by the executor's rule (a task
// of an older configuration than the app's is old).
func TestRollout(t *testing.T) {
	app := engine.NewApp("/a")
	app.Instances = 3
	app.Version = v2
	app.VersionInfo = &engine.VersionInfo{LastScalingAt: v2, LastConfigChangeAt: v2}
	task := func(id, version, state string) *engine.Task {
		return &engine.Task{ID: "a." + id, AppID: "/a", Version: version, State: state}
	}
	tests := map[string]struct {
		tasks   []*engine.Task
		healthy []string
		gone    bool // the app is destroyed
		action  engine.Action
		want    AppRollout
	}{
		"half way": {
			tasks:   []*engine.Task{task("1", v1, engine.TaskRunning), task("2", v1, engine.TaskKilling), task("3", v2, engine.TaskRunning), task("4", v2, engine.TaskStaging)},
			healthy: []string{"a.1", "a.3"}, action: engine.ActionRestart,
			want: AppRollout{Target: 3, New: 2, NewHealthy: 1, Old: 2, Staged: 1, Running: 2, Healthy: 2},
		},
		"done": {
			tasks:   []*engine.Task{task("1", v2, engine.TaskRunning), task("2", v2, engine.TaskRunning), task("3", v2, engine.TaskRunning)},
			healthy: []string{"a.1", "a.2", "a.3"}, action: engine.ActionRestart,
			want: AppRollout{Target: 3, New: 3, NewHealthy: 3, Running: 3, Healthy: 3, Done: true},
		},
		"a new task being killed counts for neither": {
			tasks:   []*engine.Task{task("1", v2, engine.TaskRunning), task("2", v2, engine.TaskRunning), task("3", v2, engine.TaskRunning), task("4", v2, engine.TaskKilling)},
			healthy: []string{"a.1", "a.2", "a.3"}, action: engine.ActionScale,
			want: AppRollout{Target: 3, New: 3, NewHealthy: 3, Running: 3, Healthy: 3, Done: true},
		},
		"all new but not healthy yet": {
			tasks:  []*engine.Task{task("1", v2, engine.TaskRunning), task("2", v2, engine.TaskRunning), task("3", v2, engine.TaskRunning)},
			action: engine.ActionRestart,
			want:   AppRollout{Target: 3, New: 3, Running: 3},
		},
		"destroyed: everything left is old": {
			tasks: []*engine.Task{task("1", v2, engine.TaskKilling)}, gone: true, action: engine.ActionDestroy,
			want: AppRollout{Old: 1},
		},
		"destroyed and gone": {gone: true, action: engine.ActionDestroy, want: AppRollout{Done: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v := &executor.View{Tasks: tc.tasks, Healthy: map[string]bool{}}
			for _, id := range tc.healthy {
				v.Healthy[id] = true
			}
			c := &engine.Change{ID: "/a", Action: tc.action}
			if !tc.gone {
				v.Apps = []*executor.AppStatus{{App: app, Tasks: tc.tasks}}
				c.After = app
			}
			sn := &snapshot{view: v}
			got := *sn.rollout("/a", c)
			if got != tc.want {
				t.Errorf("rollout %+v\nwant       %+v", got, tc.want)
			}
		})
	}
}

// TestUIMountedBehindTheGuard: the UI is served from the API's handler, after
// the browser-safety checks, so it is exactly as reachable as the API.
func TestUIMountedBehindTheGuard(t *testing.T) {
	s, _, _ := newUIServer()
	bare := New(newFake(fixtureView()), Info{HTTPAddr: "127.0.0.1:8080"})
	tests := map[string]struct {
		srv      http.Handler
		req      request
		code     int
		location string
	}{
		"the page":                       {srv: s, req: request{path: "/ui/"}, code: 200},
		"a module":                       {srv: s, req: request{path: "/ui/app.js"}, code: 200},
		"/ui":                            {srv: s, req: request{path: "/ui"}, code: 301, location: "/ui/"},
		"a rebinding page's host":        {srv: s, req: request{path: "/ui/", header: map[string]string{"Host": "evil.example:8080"}}, code: 403},
		"another site's page":            {srv: s, req: request{path: "/ui/app.js", header: map[string]string{"Origin": "https://evil.example"}}, code: 403},
		"a cross-site load":              {srv: s, req: request{path: "/ui/", header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, code: 403},
		"the page's own fetch":           {srv: s, req: request{path: "/ui/app.js", header: map[string]string{"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}}, code: 200},
		"a browser at /":                 {srv: s, req: request{path: "/", header: map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}}, code: 302, location: "/ui/"},
		"a client at /":                  {srv: s, req: request{path: "/", header: map[string]string{"Accept": "application/json"}}, code: 404},
		"a write at /":                   {srv: s, req: request{method: "POST", path: "/", body: "{}", header: map[string]string{"Accept": "text/html"}}, code: 404},
		"no UI configured":               {srv: bare, req: request{path: "/ui/"}, code: 404},
		"no UI configured: / is a 404":   {srv: bare, req: request{path: "/", header: map[string]string{"Accept": "text/html"}}, code: 404},
		"the API beside it is unchanged": {srv: s, req: request{path: "/v2/apps"}, code: 200},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := do(t, tc.srv, tc.req)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.location != "" && w.Header().Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", w.Header().Get("Location"), tc.location)
			}
		})
	}
}

// TestClusterCachesTheMaster: however many pages poll, the master is asked at
// most once per clusterCacheFor; its failure is reported, not raised.
func TestClusterCachesTheMaster(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	master := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.URL.Path != "/master/slaves" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"slaves":[{"id":"agent-1","hostname":"agent-1","active":true,"attributes":{"rack_id":"r1","weight":3},
			"resources":{"cpus":4,"mem":1024,"disk":100,"gpus":0,"ports":"[31000-31009, 31020-31029]"},
			"used_resources":{"cpus":0.35,"mem":192,"disk":0,"gpus":0,"ports":"[31000-31001]"},
			"reserved_resources":{"db":{"cpus":1,"mem":256,"disk":0,"gpus":0,"ports":"[31020-31029]"}}}],"recovered_slaves":[]}`)
	}))
	defer master.Close()
	s := New(newFake(fixtureView()), Info{HTTPAddr: "127.0.0.1:8080", MesosURL: master.URL + "/"})
	for range 5 {
		if w := do(t, s, request{path: "/stride/v1/cluster"}); w.Code != 200 {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	mu.Lock()
	if calls != 1 {
		t.Errorf("the master was asked %d times for 5 requests within %v", calls, clusterCacheFor)
	}
	mu.Unlock()
	var c ClusterResponse
	decode(t, do(t, s, request{path: "/stride/v1/cluster"}), &c)
	if len(c.Agents) != 1 || c.Agents[0].Placed != nil {
		t.Fatalf("agents %+v (placed tasks only with ?placed=true)", c.Agents)
	}
	decode(t, do(t, s, request{path: "/stride/v1/cluster?placed=true"}), &c)
	if len(c.Agents) != 1 {
		t.Fatalf("agents %+v", c.Agents)
	}
	a := c.Agents[0]
	want := ClusterAgent{
		ID: "agent-1", Hostname: "agent-1", Active: true, Attributes: map[string]any{"rack_id": "r1", "weight": float64(3)},
		AttributeValues: map[string]string{"rack_id": "r1", "weight": "3"},
		Reserved:        map[string]AgentResources{"db": {Cpus: 1, Mem: 256, Ports: "[31020-31029]", PortCount: 10}},
		Total:           AgentResources{Cpus: 4, Mem: 1024, Disk: 100, Ports: "[31000-31009, 31020-31029]", PortCount: 20},
		Used:            AgentResources{Cpus: 0.35, Mem: 192, Ports: "[31000-31001]", PortCount: 2},
		Free:            AgentResources{Cpus: 3.65, Mem: 832, Disk: 100, Ports: "[31002-31009,31020-31029]", PortCount: 18},
		Tasks:           3, Apps: []AgentApp{{ID: "/old", Tasks: 1}, {ID: "/shop/api", Tasks: 1}, {ID: "/shop/worker", Tasks: 1}},
		// Every live task with what it holds: the resources its app asks for
		// (none known for a destroyed app's task being killed) and its ports.
		Placed: []ClusterTask{
			{ID: "old.3a", AppID: "/old", Version: "2024-03-01T10:00:00.000Z", State: "TASK_KILLING", Ports: []int{31999}},
			{ID: "shop_api.0a", AppID: "/shop/api", Version: "2024-03-02T11:30:00.000Z", State: "TASK_RUNNING", Cpus: 0.25, Mem: 64, Ports: []int{31000, 31001}},
			{ID: "shop_worker.1b", AppID: "/shop/worker", Version: "2024-03-01T10:00:00.000Z", State: "TASK_RUNNING", Cpus: 1, Mem: 128, Ports: []int{}},
		},
	}
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", want) {
		t.Errorf("agent\n%+v\nwant\n%+v", a, want)
	}
	if c.Leader != "127.0.0.1:8080" || c.Version != version.Version || !c.Mesos.Connected || c.Mesos.FrameworkID != "fw-0001" || c.Mesos.Error != "" {
		t.Errorf("cluster %+v", c)
	}
}

func TestClusterMasterUnreachable(t *testing.T) {
	tests := map[string]struct {
		master  func() string
		wantErr string
	}{
		"nothing listens": {master: func() string {
			srv := httptest.NewServer(http.NotFoundHandler())
			srv.Close()
			return srv.URL
		}, wantErr: "mesos master: "},
		"not a master": {master: func() string {
			srv := httptest.NewServer(http.NotFoundHandler())
			t.Cleanup(srv.Close)
			return srv.URL
		}, wantErr: "404 Not Found"},
		"garbage": {master: func() string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }))
			t.Cleanup(srv.Close)
			return srv.URL
		}, wantErr: "decoding the agents"},
		"none configured": {master: func() string { return "" }, wantErr: "no Mesos master configured"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := New(newFake(fixtureView()), Info{HTTPAddr: "127.0.0.1:8080", MesosURL: tc.master()})
			w := do(t, s, request{path: "/stride/v1/cluster"})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var c ClusterResponse
			decode(t, w, &c)
			if !strings.Contains(c.Mesos.Error, tc.wantErr) || c.Agents == nil || len(c.Agents) != 0 {
				t.Errorf("mesos error %q (want it to say %q), agents %v", c.Mesos.Error, tc.wantErr, c.Agents)
			}
		})
	}
}

func TestCountPorts(t *testing.T) {
	tests := map[string]int{
		"": 0, "[]": 0, "[31000-31999]": 1000, "[31000-31000, 31005-31006]": 3, "[5-4]": 0, "[a-b, 1-2]": 2, "31000-31001": 2,
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			if got := countPorts(in); got != want {
				t.Errorf("countPorts(%q) = %d, want %d", in, got, want)
			}
		})
	}
}

// TestHistoryOfAnUnrecordedVersion: an app deployed before its versions were
// recorded (an older release's store) still has its deployed version listed,
// and diffed against what was recorded.
func TestHistoryOfAnUnrecordedVersion(t *testing.T) {
	tests := map[string]struct {
		recorded []string // of /shop/api, besides the deployed one (not recorded)
		want     []string // version:action, newest first
	}{
		"nothing recorded":        {want: []string{hv3 + ":"}},
		"older versions recorded": {recorded: []string{hv2, hv1}, want: []string{hv3 + ":restart", hv2 + ":scale", hv1 + ":create"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake(fixtureView())
			full := historyFixture(f.View())
			h := &fakeHistory{versions: map[string][]*engine.App{}}
			for _, a := range full.versions["/shop/api"] {
				if slices.Contains(tc.recorded, a.Version) {
					h.versions["/shop/api"] = append(h.versions["/shop/api"], a)
				}
			}
			s := New(f, Info{HTTPAddr: "127.0.0.1:8080", History: h})
			var r AppVersionsResponse
			decode(t, do(t, s, request{path: "/stride/v1/apps/shop/api/history"}), &r)
			var got []string
			for _, v := range r.Versions {
				got = append(got, v.Version+":"+string(v.Action))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") || r.Current != hv3 {
				t.Errorf("history %v (current %s), want %v", got, r.Current, tc.want)
			}
		})
	}
}
