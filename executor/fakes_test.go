package executor

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// memStore is an in-memory engine.Store that records every commit.
type memStore struct {
	mu      sync.Mutex
	snap    engine.Snapshot
	commits []engine.Txn
	// versions is the app history: id -> version -> app; groupVersions the
	// groups'.
	versions      map[string]map[string]*engine.App
	groupVersions map[string]map[string]*engine.GroupVersion
}

func newMemStore() *memStore {
	return &memStore{snap: engine.Snapshot{Apps: map[string]*engine.App{}, Tasks: map[string]*engine.Task{}, Deployments: map[string]*engine.Deployment{},
		Subscriptions: map[string]*engine.Subscription{}, Groups: map[string]*engine.Group{}}}
}

func (m *memStore) Load(ctx context.Context) (*engine.Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := engine.Snapshot{Index: m.snap.Index, Serial: m.snap.Serial, FrameworkID: m.snap.FrameworkID,
		Apps: map[string]*engine.App{}, Tasks: map[string]*engine.Task{}, Deployments: map[string]*engine.Deployment{},
		Subscriptions: map[string]*engine.Subscription{}, Groups: map[string]*engine.Group{},
		Unreadable: append([]engine.UnreadableRecord(nil), m.snap.Unreadable...)}
	for k, v := range m.snap.Subscriptions {
		cp := *v
		s.Subscriptions[k] = &cp
	}
	for k, v := range m.snap.Groups {
		s.Groups[k] = v.Clone()
	}
	for k, v := range m.snap.Apps {
		s.Apps[k] = v.Clone()
	}
	for k, v := range m.snap.Tasks {
		cp := *v
		s.Tasks[k] = &cp
	}
	for k, v := range m.snap.Deployments {
		cp := *v
		s.Deployments[k] = &cp
	}
	return &s, nil
}

func (m *memStore) Commit(ctx context.Context, expect uint64, txn engine.Txn) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if expect != m.snap.Index {
		return 0, engine.ErrConflict
	}
	for _, a := range txn.PutApps {
		if m.versions == nil {
			m.versions = map[string]map[string]*engine.App{}
		}
		if m.snap.Apps[a.ID] == nil {
			m.versions[a.ID] = map[string]*engine.App{}
		}
		if a.Version != "" {
			m.versions[a.ID][a.Version] = a.Clone()
		}
		m.snap.Apps[a.ID] = a.Clone()
	}
	for _, id := range txn.DeleteApps {
		delete(m.snap.Apps, id)
	}
	for _, t := range txn.PutTasks {
		cp := *t
		m.snap.Tasks[t.ID] = &cp
	}
	for _, id := range txn.DeleteTasks {
		delete(m.snap.Tasks, id)
	}
	for _, d := range txn.PutDeployments {
		cp := *d
		m.snap.Deployments[d.ID] = &cp
	}
	for _, s := range txn.PutSubscriptions {
		cp := *s
		m.snap.Subscriptions[s.CallbackURL] = &cp
	}
	for _, u := range txn.DeleteSubscriptions {
		delete(m.snap.Subscriptions, u)
	}
	for _, id := range txn.DeleteDeployments {
		delete(m.snap.Deployments, id)
	}
	if m.groupVersions == nil {
		m.groupVersions = map[string]map[string]*engine.GroupVersion{}
	}
	if m.snap.Groups == nil {
		m.snap.Groups = map[string]*engine.Group{}
	}
	for _, g := range txn.PutGroups {
		if m.snap.Groups[g.ID] == nil {
			delete(m.groupVersions, g.ID)
		}
		m.snap.Groups[g.ID] = g.Clone()
	}
	for _, id := range txn.DeleteGroups {
		delete(m.snap.Groups, id)
	}
	for _, gv := range txn.PutGroupVersions {
		if m.groupVersions[gv.Group.ID] == nil {
			m.groupVersions[gv.Group.ID] = map[string]*engine.GroupVersion{}
		}
		cp := *gv
		cp.Group = gv.Group.Clone()
		m.groupVersions[gv.Group.ID][gv.Group.Version] = &cp
	}
	if txn.FrameworkID != nil {
		m.snap.FrameworkID = *txn.FrameworkID
	}
	if len(txn.PutApps)+len(txn.DeleteApps) > 0 {
		m.snap.Serial++
	}
	m.snap.Index++
	m.commits = append(m.commits, txn)
	return m.snap.Index, nil
}

func (m *memStore) Close() error { return nil }

func (m *memStore) AppVersions(ctx context.Context, id string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{}
	for v := range m.versions[id] {
		out = append(out, v)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out, nil
}

func (m *memStore) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.versions[id][version]; a != nil {
		return a.Clone(), nil
	}
	return nil, fmt.Errorf("app %q version %q: %w", id, version, engine.ErrNotFound)
}

func (m *memStore) GroupVersions(ctx context.Context, id string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{}
	for v := range m.groupVersions[id] {
		out = append(out, v)
	}
	engine.SortVersionsNewestFirst(out)
	return out, nil
}

func (m *memStore) GroupVersion(ctx context.Context, id, version string) (*engine.GroupVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gv := m.groupVersions[id][version]; gv != nil {
		cp := *gv
		cp.Group = gv.Group.Clone()
		return &cp, nil
	}
	return nil, fmt.Errorf("group %q version %q: %w", id, version, engine.ErrNotFound)
}

// fakeMesos records what the executor asks of Mesos.
type fakeMesos struct {
	launched   []mesos.TaskInfo
	killed     []string
	declined   []string
	suppressed int
	revived    int
	reconciled []map[string]string
}

func (f *fakeMesos) Launch(ctx context.Context, offerIDs []string, tasks []mesos.TaskInfo, refuse float64) error {
	f.launched = append(f.launched, tasks...)
	return nil
}
func (f *fakeMesos) Decline(ctx context.Context, ids []string, refuse float64) error {
	f.declined = append(f.declined, ids...)
	return nil
}
func (f *fakeMesos) Suppress(ctx context.Context, roles ...string) error { f.suppressed++; return nil }
func (f *fakeMesos) Revive(ctx context.Context, roles ...string) error   { f.revived++; return nil }
func (f *fakeMesos) Kill(ctx context.Context, taskID, agentID string, grace time.Duration) error {
	f.killed = append(f.killed, taskID)
	return nil
}
func (f *fakeMesos) Reconcile(ctx context.Context, tasks map[string]string) error {
	f.reconciled = append(f.reconciled, tasks)
	return nil
}

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// harness drives an Executor synchronously: no Run loop, no goroutines.
type harness struct {
	t     testing.TB
	e     *Executor
	store *memStore
	mesos *fakeMesos
	clock *fakeClock
	ctx   context.Context
	nOff  int
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, store: newMemStore(), mesos: &fakeMesos{}, clock: &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, ctx: context.Background()}
	e, err := New(h.ctx, Config{Store: h.store, Now: h.clock.now, StableAfter: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.SetMesos(h.mesos)
	e.connected = true
	h.e = e
	t.Cleanup(e.health.stopAll)
	return h
}

// restart simulates a new leader on the same store.
func (h *harness) restart() {
	h.t.Helper()
	e, err := New(h.ctx, Config{Store: h.store, Now: h.clock.now, StableAfter: 10 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mesos = &fakeMesos{}
	e.SetMesos(h.mesos)
	e.connected = true
	h.e = e
	h.t.Cleanup(e.health.stopAll)
}

// offer sends one offer per agent (agents 1..n, each 8 cpus, 8 GiB), allocated
// to the "*" role as a multi-role master does.
func (h *harness) offer(agents int) {
	h.e.handleOffers(h.ctx, h.makeOffers(agents))
}

// makeOffers returns the offers offer sends.
func (h *harness) makeOffers(agents int) []mesos.Offer {
	role := "*"
	alloc := &mesos.Resource_AllocationInfo{Role: &role}
	var offers []mesos.Offer
	for i := 1; i <= agents; i++ {
		h.nOff++
		offers = append(offers, mesos.Offer{
			ID: mesos.OfferID{Value: fmt.Sprintf("o%d", h.nOff)}, AgentID: mesos.AgentID{Value: fmt.Sprintf("a%d", i)},
			Hostname: fmt.Sprintf("127.0.0.%d", i+1),
			Resources: []mesos.Resource{
				{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 8}, AllocationInfo: alloc},
				{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 8192}, AllocationInfo: alloc},
				{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: uint64(31000 + 1000*i), End: uint64(31999 + 1000*i)}}}, AllocationInfo: alloc},
			},
			Attributes: []mesos.Attribute{{Name: "rack_id", Type: mesos.TEXT, Text: &mesos.Value_Text{Value: fmt.Sprintf("rack-%d", i%2+1)}}},
		})
	}
	return offers
}

// status delivers a status update for a task.
func (h *harness) status(taskID string, state mesos.TaskState, msg string) {
	agent := ""
	if t := h.e.tasks[taskID]; t != nil {
		agent = t.SlaveID
	}
	h.e.handleUpdate(h.ctx, mesos.TaskStatus{TaskID: mesos.TaskID{Value: taskID}, State: state.Enum(), Message: &msg,
		AgentID: &mesos.AgentID{Value: agent}})
}

// runLaunched marks every staging task RUNNING.
func (h *harness) runLaunched() {
	for _, id := range h.ids(engine.TaskStaging) {
		h.status(id, mesos.TASK_RUNNING, "")
	}
}

// settle lets StableAfter pass: running tasks of apps without health checks
// then count as deployed.
func (h *harness) settle() { h.clock.advance(h.e.cfg.StableAfter) }

// finishKills reports every task being killed as TASK_KILLED.
func (h *harness) finishKills() {
	for _, id := range h.sortedTaskIDs() {
		if t := h.e.tasks[id]; t != nil && t.killing {
			h.status(id, mesos.TASK_KILLED, "killed")
		}
	}
}

func (h *harness) sortedTaskIDs() []string {
	var ids []string
	for id := range h.e.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func (h *harness) ids(state string) []string {
	var out []string
	for _, id := range h.sortedTaskIDs() {
		if h.e.tasks[id].State == state {
			out = append(out, id)
		}
	}
	return out
}

// count returns (live, running-and-not-killing) tasks of an app, and how many of
// them run the given config version or newer.
func (h *harness) count(appID string) (live, running int) {
	for _, t := range h.e.tasks {
		if t.AppID != appID || isGone(t.State) {
			continue
		}
		live++
		if t.State == engine.TaskRunning && !t.killing {
			running++
		}
	}
	return live, running
}

func (h *harness) apply(spec *engine.Spec) *engine.Deployment {
	h.t.Helper()
	res, err := h.e.apply(h.ctx, ApplyRequest{Spec: spec})
	if err != nil {
		h.t.Fatalf("apply: %v", err)
	}
	return res.Deployment
}

func (h *harness) tick() {
	h.e.housekeeping(h.ctx)
}

func testApp(id string, instances int, cmd string) *engine.App {
	a := engine.NewApp(id)
	a.Cmd = cmd
	a.Instances = instances
	a.Cpus = 0.1
	a.Mem = 32
	a.PortDefinitions = []engine.PortDefinition{{Port: 0, Protocol: "tcp", Name: "http"}}
	a.ApplyDefaults()
	return a
}

func spec(apps ...*engine.App) *engine.Spec {
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
	return &engine.Spec{Scope: "/", Apps: apps}
}

// applyReq is the actor's apply, in Apply's shape (plan, deployment, error).
func (h *harness) applyReq(req ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	res, err := h.e.apply(h.ctx, req)
	if err != nil || res == nil {
		return nil, nil, err
	}
	return res.Plan, res.Deployment, nil
}
