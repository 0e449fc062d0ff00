package api

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// *executor.Executor is a Backend.
var _ Backend = (*executor.Executor)(nil)

// fakeBackend is a recording Backend over a hand-built View.
type fakeBackend struct {
	view atomic.Pointer[executor.View]
	bus  *executor.Bus

	mu    sync.Mutex
	calls []string // "Apply", "Plan", "Cancel <id>", "KillTasks <ids>"
	// lastApply is the request of the last Apply or Plan; lastEdit what the
	// last Write's edit made of the view.
	lastApply executor.ApplyRequest
	lastEdit  *executor.Desired

	// Results of the write methods (zero values: success with nothing).
	applyPlan *engine.Plan
	applyDep  *engine.Deployment
	applyErr  error
	cancelErr error
	killErr   error
	revertDep *engine.Deployment
	revertErr error
	subErr    error
}

func newFake(v *executor.View) *fakeBackend {
	f := &fakeBackend{bus: executor.NewBus(100)}
	f.view.Store(v)
	return f
}

func (f *fakeBackend) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// Calls returns the write calls so far.
func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) View() *executor.View { return f.view.Load() }

// AppVersions and AppVersion serve the current version of the view's apps.
func (f *fakeBackend) AppVersions(ctx context.Context, id string) ([]string, error) {
	for _, st := range f.View().Apps {
		if st.App.ID == id && st.App.Version != "" {
			return []string{st.App.Version}, nil
		}
	}
	return nil, nil
}

func (f *fakeBackend) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	for _, st := range f.View().Apps {
		if st.App.ID == id && st.App.Version == version {
			return st.App, nil
		}
	}
	return nil, engine.ErrNotFound
}
func (f *fakeBackend) Bus() *executor.Bus { return f.bus }

func (f *fakeBackend) Apply(ctx context.Context, req executor.ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	f.record("Apply")
	f.mu.Lock()
	f.lastApply = req
	f.mu.Unlock()
	if f.applyErr != nil {
		return nil, nil, f.applyErr
	}
	p := f.applyPlan
	if p == nil {
		p = &engine.Plan{FormatVersion: engine.PlanFormatVersion, Changes: []*engine.Change{}, Steps: []engine.Step{}}
	}
	return p, f.applyDep, nil
}

func (f *fakeBackend) Plan(ctx context.Context, req executor.ApplyRequest) (*engine.Plan, error) {
	f.record("Plan")
	f.mu.Lock()
	f.lastApply = req
	f.mu.Unlock()
	if f.applyErr != nil {
		return nil, f.applyErr
	}
	p := f.applyPlan
	if p == nil {
		p = &engine.Plan{FormatVersion: engine.PlanFormatVersion, Changes: []*engine.Change{}, Steps: []engine.Step{}}
	}
	return p, nil
}

func (f *fakeBackend) Subscribe(ctx context.Context, sub engine.Subscription) (bool, error) {
	f.record("Subscribe " + sub.CallbackURL)
	if f.subErr != nil {
		return false, f.subErr
	}
	return true, nil
}

func (f *fakeBackend) Unsubscribe(ctx context.Context, url, clientIP string) (bool, error) {
	f.record("Unsubscribe " + url)
	return true, nil
}

// Write runs the edit on the view's apps and groups and records what it did
// ("Write: put app /a (3 instances)"), or its error.
func (f *fakeBackend) Write(ctx context.Context, req executor.ApplyRequest) (*executor.WriteResult, error) {
	v := f.View()
	apps := map[string]*engine.App{}
	for _, st := range v.Apps {
		apps[st.App.ID] = st.App
	}
	groups := map[string]*engine.Group{}
	for _, g := range v.Groups {
		groups[g.ID] = g
	}
	d := executor.NewDesired(apps, groups, v.Tasks)
	if err := req.Edit(d); err != nil {
		f.record("Write: " + err.Error())
		return nil, err
	}
	call := "Write: " + d.String()
	if req.Force {
		call += " (force)"
	}
	f.record(call)
	f.mu.Lock()
	f.lastApply, f.lastEdit = req, d
	f.mu.Unlock()
	if f.applyErr != nil {
		return nil, f.applyErr
	}
	p := f.applyPlan
	if p == nil {
		p = &engine.Plan{FormatVersion: engine.PlanFormatVersion, Changes: []*engine.Change{}, Steps: []engine.Step{}}
	}
	res := &executor.WriteResult{Plan: p, Deployment: f.applyDep}
	if f.applyDep != nil {
		res.Version = f.applyDep.Version
	}
	return res, nil
}

func (f *fakeBackend) GroupVersions(ctx context.Context, id string) ([]string, error) {
	if g := f.View().Group(id); g != nil && g.Version != "" {
		return []string{g.Version}, nil
	}
	return []string{}, nil
}

// GroupAt serves the view's group at its current version.
func (f *fakeBackend) GroupAt(ctx context.Context, id, version string) (*executor.GroupState, error) {
	v := f.View()
	g := v.Group(id)
	if g == nil {
		return nil, executor.ErrNoGroup
	}
	if g.Version != version {
		return nil, engine.ErrNotFound
	}
	st := &executor.GroupState{}
	for _, x := range v.Groups {
		if engine.InScope(x.ID, id) {
			st.Groups = append(st.Groups, x)
		}
	}
	for _, a := range v.Apps {
		if engine.InScope(a.App.ID, id) {
			st.Apps = append(st.Apps, a.App)
		}
	}
	return st, nil
}

func (f *fakeBackend) ResetDelay(ctx context.Context, id string) (bool, error) {
	f.record("ResetDelay " + id)
	if st := f.View().App(id); st != nil && st.Delay > 0 {
		return true, nil
	}
	return false, nil
}

func (f *fakeBackend) Cancel(ctx context.Context, id string) error {
	f.record("Cancel " + id)
	return f.cancelErr
}

func (f *fakeBackend) KillTasks(ctx context.Context, ids []string) ([]engine.Task, error) {
	f.record("KillTasks " + strings.Join(ids, ","))
	if f.killErr != nil {
		return nil, f.killErr
	}
	var out []engine.Task
	for _, id := range ids {
		for _, t := range f.View().Tasks {
			if t.ID == id {
				cp := *t
				cp.State = engine.TaskKilling
				out = append(out, cp)
			}
		}
	}
	return out, nil
}

// Fixture times.
const (
	v1 = "2024-03-01T10:00:00.000Z"
	v2 = "2024-03-02T11:30:00.000Z"
	t0 = "2024-03-02T11:30:05.120Z"
	t1 = "2024-03-02T11:30:09.450Z"
)

func strp(s string) *string { return &s }

// fixtureView is a small cluster:
//
//   - /shop/api: 3 instances, two ports (10000 http, 10001 admin), an HTTP health
//     check, labels team=shop tier=backend, being deployed by dep-1 (step 2 of 2);
//     tasks: a (running, healthy), b (running, check failing), c (staging);
//   - /shop/worker: 3 instances, no ports, labels team=shop tier=jobs; tasks on agent-2 and
//     agent-1 (listed out of id order in its AppStatus), 1 more wanted but
//     unplaceable;
//   - /tools/registry: a Docker app with a port mapping (service port 5000),
//     backing off after a failure (12.5 s left), 1 running of 2;
//   - a task of /old, destroyed, still running.
//
// Recent holds dep-0, which succeeded.
func fixtureView() *executor.View {
	api := engine.NewApp("/shop/api")
	api.Cmd = "python3 -m http.server $PORT0"
	api.Instances = 3
	api.Cpus, api.Mem = 0.25, 64
	api.PortDefinitions = []engine.PortDefinition{{Port: 10000, Protocol: "tcp", Name: "http"}, {Port: 10001, Protocol: "tcp", Name: "admin"}}
	hc := engine.DefaultHealthCheck()
	hc.Path = "/health"
	api.HealthChecks = []engine.HealthCheck{hc}
	api.Labels = map[string]string{"team": "shop", "tier": "backend"}
	api.Dependencies = []string{"/tools"} // /shop's, folded in: shown on the group only
	api.ApplyDefaults()
	api.Version = v2
	api.VersionInfo = &engine.VersionInfo{LastScalingAt: v2, LastConfigChangeAt: v2}

	worker := engine.NewApp("/shop/worker")
	worker.Cmd = "./worker --queue jobs"
	worker.Instances = 3
	worker.PortDefinitions = []engine.PortDefinition{}
	worker.Labels = map[string]string{"team": "shop", "tier": "jobs"}
	worker.ApplyDefaults()
	worker.Version = v1
	worker.VersionInfo = &engine.VersionInfo{LastScalingAt: v1, LastConfigChangeAt: v1}

	reg := engine.NewApp("/tools/registry")
	reg.Instances = 2
	reg.Container = &engine.Container{
		Type:         "DOCKER",
		Docker:       &engine.Docker{Image: "registry:2", Network: "BRIDGE"},
		PortMappings: []engine.PortMapping{{ContainerPort: 5000, HostPort: 0, ServicePort: 5000, Protocol: "tcp"}},
	}
	reg.ApplyDefaults()
	reg.Version = v1

	ip := func(h string) []engine.IPAddr { return []engine.IPAddr{{IPAddress: h, Protocol: "IPv4"}} }
	task := func(app *engine.App, uuid, host, state string, ports ...int) *engine.Task {
		t := &engine.Task{
			ID: engine.SafeID(app.ID) + "." + uuid, AppID: app.ID, Host: host, Ports: ports, ServicePorts: []int{},
			SlaveID: "agent-" + host[len(host)-1:], StagedAt: t0, Version: app.Version, State: state,
			IPAddresses: ip(host), HealthCheckResults: []engine.HealthResult{}, LocalVolumes: []any{},
		}
		if state == engine.TaskRunning {
			t.StartedAt = t1
		}
		return t
	}
	apiA := task(api, "0a", "agent-1", engine.TaskRunning, 31000, 31001)
	apiA.HealthCheckResults = []engine.HealthResult{{Alive: true, FirstSuccess: strp(t1), LastSuccess: strp(t1), TaskID: apiA.ID, InstanceID: apiA.ID}}
	apiB := task(api, "0b", "agent-2", engine.TaskRunning, 31002, 31003)
	apiB.HealthCheckResults = []engine.HealthResult{{Alive: false, ConsecutiveFailures: 2, LastFailure: strp(t1), LastFailureCause: strp("503 Service Unavailable")}}
	apiC := task(api, "0c", "agent-3", engine.TaskStaging, 31004, 31005)
	wA := task(worker, "1a", "agent-2", engine.TaskRunning)
	wB := task(worker, "1b", "agent-1", engine.TaskRunning)
	regA := task(reg, "2a", "agent-3", engine.TaskRunning, 31721)
	regA.Message = "Container started"
	old := task(&engine.App{ID: "/old", Version: v1}, "3a", "agent-1", engine.TaskKilling, 31999)

	dep1 := &engine.Deployment{
		ID: "dep-1", Version: v2, Status: engine.DeploymentRunning, CreatedAt: v2, CurrentStep: 1,
		Plan: &engine.Plan{
			FormatVersion: engine.PlanFormatVersion, StateSerial: 6, Scope: "/",
			Changes: []*engine.Change{
				{ID: "/shop/worker", Action: engine.ActionScale, Step: 0},
				{ID: "/shop/api", Action: engine.ActionRestart, Step: 1, Reason: `cmd: "a" -> "b"`},
			},
			Steps: []engine.Step{
				{Actions: []engine.StepAction{{ID: "/shop/worker", Action: engine.ActionScale}}},
				{Actions: []engine.StepAction{{ID: "/shop/api", Action: engine.ActionRestart}}},
			},
			Summary: engine.Summary{Scale: 1, Restart: 1},
		},
	}
	dep0 := &engine.Deployment{
		ID: "dep-0", Version: v1, Status: engine.DeploymentSucceeded, CreatedAt: v1, FinishedAt: v1, CurrentStep: 1,
		Plan: &engine.Plan{
			FormatVersion: engine.PlanFormatVersion, StateSerial: 5, Scope: "/",
			Changes: []*engine.Change{{ID: "/old", Action: engine.ActionDestroy}},
			Steps:   []engine.Step{{Actions: []engine.StepAction{{ID: "/old", Action: engine.ActionDestroy}}}},
			Summary: engine.Summary{Destroy: 1},
		},
	}
	return &executor.View{
		Serial: 7, FrameworkID: "fw-0001", Connected: true,
		Groups: []*engine.Group{
			{ID: "/", Version: v2},
			{ID: "/shop", Version: v2, Dependencies: []string{"/tools"}},
			{ID: "/tools", Version: v1},
		},
		Apps: []*executor.AppStatus{
			{
				App: api, TasksStaged: 1, TasksRunning: 2, TasksHealthy: 1, TasksUnhealthy: 1,
				Deployments: []string{"dep-1"}, Tasks: []*engine.Task{apiA, apiB, apiC},
			},
			{
				App: worker, TasksRunning: 2, TasksHealthy: 2, Deployments: []string{},
				Tasks: []*engine.Task{wB, wA}, Pending: 1,
				Waiting: "1 of 1 instances unplaced: 3 agents considered; 3 excluded by InsufficientMemory",
				Offers:  workerOffers(),
			},
			{
				App: reg, TasksRunning: 1, TasksHealthy: 1, Deployments: []string{}, Tasks: []*engine.Task{regA},
				Delay:      12500 * time.Millisecond,
				GaveUp:     "/tools/registry: gave up after 5 failed launches in a row; last failure: Container exited with status 1 (failed)",
				KillSafety: "health-check kills paused: 2 of 2 tasks that were healthy fail their checks at once (the checker or the network may be sick)",
				LastTaskFailure: &executor.TaskFailure{
					AppID: reg.ID, Host: "agent-2", Message: "Container exited with status 1", State: engine.TaskFailed,
					TaskID: "tools_registry.2z", Timestamp: t0, Version: v1, SlaveID: "agent-2",
				},
			},
		},
		Tasks:       []*engine.Task{old, apiA, apiB, apiC, wA, wB, regA},
		Deployments: []*executor.DeploymentStatus{{Deployment: dep1, Progress: []executor.AppProgress{{ID: "/shop/api", Action: engine.ActionRestart, Placed: 2, Running: 2, Healthy: 1, Old: 1, Target: 3, Deadline: "1m3s of 10m"}}}},
		Recent:      []*engine.Deployment{dep0},
	}
}

// workerOffers is /shop/worker's launch attempt: six offers of three agents,
// all short of memory.
func workerOffers() *executor.OfferSummary {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	cpus, mem := 8.0, 64.0
	role := "*"
	return &executor.OfferSummary{
		Since: at(t0), Processed: 6, Unused: 6, LastUnusedAt: at(t1),
		Attempt: map[string]int{"InsufficientMemory": 6}, LastOffers: map[string]int{"InsufficientMemory": 3}, LastOffersTotal: 3,
		LastUnused: []executor.UnusedOffer{{
			OfferID: "offer-9", AgentID: "agent-3", Hostname: "agent-3", At: at(t1), Reason: "InsufficientMemory",
			Resources: []mesos.Resource{
				{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: cpus}, AllocationInfo: &mesos.Resource_AllocationInfo{Role: &role}},
				{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: mem}},
				{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31000, End: 31999}}}},
			},
			Attributes: []mesos.Attribute{{Name: "rack_id", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: "r1"}}},
		}},
	}
}

// newTestServer returns an API over a fake backend holding the fixture view.
func newTestServer() (*Server, *fakeBackend) {
	f := newFake(fixtureView())
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", MesosURL: "http://127.0.0.1:5050", DataDir: "/var/lib/stride"})
	s.now = func() time.Time { return time.Date(2024, 3, 2, 12, 0, 0, 0, time.UTC) }
	return s, f
}

// request is one HTTP request of a test.
type request struct {
	method, path, body string
	header             map[string]string
}

// do serves req and returns the recorded response.
func do(t testing.TB, h http.Handler, req request) *httptest.ResponseRecorder {
	t.Helper()
	method := req.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r := httptest.NewRequest(method, req.path, body)
	// As a client on this machine sends it (httptest's default is example.com,
	// which the browser-safety guard refuses).
	r.Host = "127.0.0.1:8080"
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// render is the golden form of a response: the status, the headers clients rely
// on, and the body (JSON indented).
func render(t testing.TB, w *httptest.ResponseRecorder) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d %s\n", w.Code, http.StatusText(w.Code))
	var keys []string
	for k := range w.Header() {
		switch k {
		case "Content-Type", "Allow", "Location", "Marathon-Deployment-Id", "Cache-Control":
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, uuidRE.ReplaceAllString(w.Header().Get(k), "<uuid>"))
	}
	b.WriteString("\n")
	// Deployment ids a backend did not choose are random: shown as <uuid>.
	body := uuidRE.ReplaceAll(w.Body.Bytes(), []byte("<uuid>"))
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && len(body) > 0 {
		if !json.Valid(body) {
			t.Fatalf("response is not valid JSON: %s", body)
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, body, "", "  "); err != nil {
			t.Fatalf("indent: %v", err)
		}
		b.Write(bytes.TrimRight(ind.Bytes(), "\n"))
		b.WriteString("\n")
		return b.Bytes()
	}
	b.Write(body)
	return b.Bytes()
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// checkGolden compares got with testdata/<name>.golden (rewritten with -update).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// decode unmarshals a JSON response body.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", w.Body.String(), err)
	}
}

// Revert returns revertDep (else applyDep) or revertErr (else applyErr).
func (f *fakeBackend) Revert(ctx context.Context, id string) (*executor.WriteResult, error) {
	f.record("Revert " + id)
	if f.revertErr != nil {
		return nil, f.revertErr
	}
	if f.applyErr != nil {
		return nil, f.applyErr
	}
	dep := f.revertDep
	if dep == nil {
		dep = f.applyDep
	}
	res := &executor.WriteResult{Deployment: dep}
	if dep != nil {
		res.Version = dep.Version
	}
	return res, nil
}
