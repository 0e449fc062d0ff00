// Package catalog registers the running tasks of Stride's apps in Consul's
// catalog, so that Consul DNS (api-shop.service.consul) answers with the healthy
// instances of an app and nothing else.
//
// Registrations go straight into the catalog, external-service style (as
// consul-esm does), not through Consul agents: the Mesos agents' hosts need not
// run a Consul agent, an agent's anti-entropy would fight Stride over entries it
// did not make, and one owner — the leader — can reconcile the whole set. Each
// Mesos agent host is an external node (node meta external-node=true,
// external-probe=false, stride-owner=<KV prefix>); each task is a service on it
// (ID = task id, address = the agent's host, port = the host port of the
// service's port) with one catalog check mirroring Stride's health of the task:
// passing when healthy, critical otherwise, so DNS leaves it out.
//
// The leader writes through Consul transactions whose first operation checks
// its session on the leader key: a deposed leader's writes are refused. It
// follows the executor's view incrementally, re-reads the catalog at the start
// of its term and every Resync (anti-entropy: stale entries removed, missing
// ones added, whoever left them), and deregisters a task before it is killed
// (Deregister, the executor's Drain hook), so traffic leaves first.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Node and service meta keys.
const (
	MetaOwner   = "stride-owner"
	MetaApp     = "stride-app"
	MetaVersion = "stride-version"
)

// maxOps is Consul's limit on the operations of one transaction (64), less the
// session check every write carries.
const maxOps = 63

// ErrFenced is returned once a write was refused because the session no longer
// holds the leader key: the registry stops.
var ErrFenced = errors.New("catalog: the leader lock is not held by this session")

// Config configures a Registry.
type Config struct {
	Client *api.Client
	// Owner marks the nodes the registry owns (node meta stride-owner); every
	// server of one Stride cluster uses the same (its KV prefix). Nodes of other
	// owners are never touched.
	Owner string
	// LockKey and Session fence every write (both empty: unfenced).
	LockKey, Session string
	// Resync is the anti-entropy interval (30 s).
	Resync time.Duration
	// FlapDamping is how long a task whose registration went critical must stay
	// healthy before it is passing again (5 s; negative: none). Going critical
	// is never delayed.
	FlapDamping time.Duration
	// RetryAfter is the pause after a failed write (1 s).
	RetryAfter time.Duration
	Now        func() time.Time
	Logf       func(format string, args ...any)
}

// Registry keeps Consul's catalog in line with the executor's tasks.
type Registry struct {
	cfg Config
	// sem serialises the writers (the sync loop and Deregister, which the
	// executor calls on its actor) and guards everything below.
	sem chan struct{}
	// reg mirrors the registrations in Consul (service id → entry) and nodes
	// the registry's nodes (name → address); valid while synced.
	reg    map[string]*Entry
	nodes  map[string]string
	synced bool
	// drained holds tasks deregistered ahead of their kill: never registered
	// again. flapAt holds the tasks damped after having gone critical: since
	// when they are healthy again (zero: still unhealthy).
	drained map[string]bool
	flapAt  map[string]time.Time
	fenced  error
	// The planner's bookkeeping: a generation per plan, when each node was
	// last wanted, and caches of node names and apps' services.
	gen       int
	nodeSeen  map[string]int
	hostNodes map[string]string
	apps      map[*engine.App]service
	// writes counts the transactions run (tests, benchmarks).
	writes int
}

// Entry is one task's registration.
type Entry struct {
	Node, NodeAddr string
	Service        api.AgentService
	// Status is api.HealthPassing or api.HealthCritical; Output says why.
	Status, Output string
	gen            int
}

// New returns a registry; run it with Run.
func New(cfg Config) *Registry {
	if cfg.Resync == 0 {
		cfg.Resync = 30 * time.Second
	}
	if cfg.FlapDamping == 0 {
		cfg.FlapDamping = 5 * time.Second
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return &Registry{
		cfg: cfg, sem: make(chan struct{}, 1),
		reg: map[string]*Entry{}, nodes: map[string]string{},
		drained: map[string]bool{}, flapAt: map[string]time.Time{},
		nodeSeen: map[string]int{}, hostNodes: map[string]string{},
	}
}

// Run follows the executor's views until ctx ends (nil) or the registry is
// fenced (ErrFenced). Registrations are left in place when it returns: the
// tasks run on, and the next leader takes the entries over.
func (r *Registry) Run(ctx context.Context, view func() *executor.View) error {
	resync := time.NewTicker(r.cfg.Resync)
	defer resync.Stop()
	for {
		v := view()
		var wake <-chan time.Time
		next, err := r.Sync(ctx, v)
		switch {
		case errors.Is(err, ErrFenced):
			return err
		case err != nil && ctx.Err() == nil:
			r.cfg.Logf("consul catalog: %v (retrying in %s)", err, r.cfg.RetryAfter)
			wake = time.After(r.cfg.RetryAfter)
		case !next.IsZero():
			wake = time.After(next.Sub(r.cfg.Now()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-v.Next():
		case <-resync.C:
			r.invalidate()
		case <-wake:
		}
	}
}

// invalidate makes the next Sync read the catalog again (anti-entropy).
func (r *Registry) invalidate() {
	r.sem <- struct{}{}
	r.synced = false
	<-r.sem
}

func (r *Registry) lock(ctx context.Context) error {
	select {
	case r.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sync brings the catalog in line with v: it reads the catalog first when the
// mirror is not known to be accurate, then writes the difference. It returns
// when a damped task is due to be passing again (zero: none).
func (r *Registry) Sync(ctx context.Context, v *executor.View) (time.Time, error) {
	if err := r.lock(ctx); err != nil {
		return time.Time{}, err
	}
	defer func() { <-r.sem }()
	if r.fenced != nil {
		return time.Time{}, r.fenced
	}
	if !r.synced {
		if err := r.read(ctx); err != nil {
			return time.Time{}, err
		}
	}
	units, next := r.plan(v)
	return next, r.write(ctx, units)
}

// Deregister removes a task's registration now, ahead of its kill. The task is
// not registered again.
func (r *Registry) Deregister(ctx context.Context, t engine.Task) error {
	if err := r.lock(ctx); err != nil {
		return fmt.Errorf("catalog: deregister %s: %w", t.ID, err)
	}
	defer func() { <-r.sem }()
	r.drained[t.ID] = true
	if r.fenced != nil {
		return r.fenced
	}
	if !r.synced {
		if err := r.read(ctx); err != nil {
			return fmt.Errorf("catalog: deregister %s: %w", t.ID, err)
		}
	}
	e := r.reg[t.ID]
	if e == nil {
		return nil // not registered: nothing to drain
	}
	err := r.write(ctx, []Unit{{Deregister: t.ID, ops: api.TxnOps{{Service: &api.ServiceTxnOp{
		Verb: api.ServiceDelete, Node: e.Node, Service: api.AgentService{ID: t.ID, Service: e.Service.Service},
	}}}}})
	if err != nil {
		return fmt.Errorf("catalog: deregister %s: %w", t.ID, err)
	}
	return nil
}

// Clear removes every registration of the owner (all its nodes): for a server
// whose tasks stop with it (stride dev -consul).
func (r *Registry) Clear(ctx context.Context) error {
	if err := r.lock(ctx); err != nil {
		return fmt.Errorf("catalog: clear: %w", err)
	}
	defer func() { <-r.sem }()
	if r.fenced != nil {
		return r.fenced
	}
	if err := r.read(ctx); err != nil {
		return fmt.Errorf("catalog: clear: %w", err)
	}
	var units []Unit
	for _, n := range slices.Sorted(maps.Keys(r.nodes)) {
		units = append(units, Unit{NodeDelete: n, ops: api.TxnOps{{Node: &api.NodeTxnOp{Verb: api.NodeDelete, Node: api.Node{Node: n}}}}})
	}
	if err := r.write(ctx, units); err != nil {
		return fmt.Errorf("catalog: clear: %w", err)
	}
	return nil
}

// Writes counts the transactions the registry ran.
func (r *Registry) Writes() int {
	r.sem <- struct{}{}
	defer func() { <-r.sem }()
	return r.writes
}

// read loads the registry's nodes, their services and Stride's checks.
func (r *Registry) read(ctx context.Context) error {
	cat, health := r.cfg.Client.Catalog(), r.cfg.Client.Health()
	q := func() *api.QueryOptions {
		return (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	}
	nodesQ := q()
	nodesQ.NodeMeta = map[string]string{MetaOwner: r.cfg.Owner}
	nodes, _, err := cat.Nodes(nodesQ)
	if err != nil {
		return fmt.Errorf("read the catalog: %w", err)
	}
	reg, addrs := map[string]*Entry{}, map[string]string{}
	for _, n := range nodes {
		addrs[n.Node] = n.Address
		list, _, err := cat.NodeServiceList(n.Node, q())
		if err != nil {
			return fmt.Errorf("read the catalog: node %s: %w", n.Node, err)
		}
		if list == nil {
			continue
		}
		checks, _, err := health.Node(n.Node, q())
		if err != nil {
			return fmt.Errorf("read the catalog: checks of node %s: %w", n.Node, err)
		}
		status := map[string]*api.HealthCheck{}
		for _, c := range checks {
			status[c.CheckID] = c
		}
		for _, s := range list.Services {
			e := &Entry{Node: n.Node, NodeAddr: n.Address, Service: kept(*s), Status: api.HealthCritical}
			if c := status[checkID(s.ID)]; c != nil {
				e.Status, e.Output = c.Status, c.Output
			} else {
				e.Status = "" // no check: rewritten with one
			}
			reg[s.ID] = e
		}
	}
	r.reg, r.nodes, r.synced = reg, addrs, true
	return nil
}

// kept keeps the fields of a service the registry sets.
func kept(s api.AgentService) api.AgentService {
	out := api.AgentService{ID: s.ID, Service: s.Service, Address: s.Address, Port: s.Port}
	if len(s.Tags) > 0 {
		out.Tags = slices.Clone(s.Tags)
	}
	if len(s.Meta) > 0 {
		out.Meta = make(map[string]string, len(s.Meta))
		for k, v := range s.Meta {
			out.Meta[k] = v
		}
	}
	return out
}

// service is what an app registers as: the name, tags and the index of the
// port among its tasks' ports (-1: no such port).
type service struct {
	name string
	tags []string
	port int
}

func serviceOf(app *engine.App) service {
	s := service{name: engine.DefaultServiceName(app.ID)}
	if as := app.Service; as != nil {
		if as.Name != "" {
			s.name = as.Name
		}
		s.tags = slices.Clone(as.Tags)
		if as.Port != "" {
			s.port = portIndex(app, as.Port)
		}
	}
	return s
}

// plan returns the units that bring the registrations in line with v (in a
// stable order), and when the next damped task becomes passing. It runs on
// every view, so an unchanged task costs a few comparisons and no allocation:
// only changes build entries and operations.
func (r *Registry) plan(v *executor.View) ([]Unit, time.Time) {
	now := r.cfg.Now()
	r.gen++
	gen := r.gen
	apps := make(map[string]service, len(v.Apps))
	cache := make(map[*engine.App]service, len(v.Apps))
	for _, st := range v.Apps {
		svc, ok := r.apps[st.App]
		if !ok {
			svc = serviceOf(st.App)
		}
		apps[st.App.ID], cache[st.App] = svc, svc
	}
	r.apps = cache // an app changed is a new pointer
	var units []Unit
	var next time.Time
	nodeSet := map[string]bool{}
	for _, t := range v.Tasks {
		svc, ok := apps[t.AppID]
		if !ok || t.State != engine.TaskRunning || t.Host == "" || svc.port < 0 || svc.port >= len(t.Ports) || r.drained[t.ID] {
			continue
		}
		node := r.nodeName(t.Host)
		port := t.Ports[svc.port]
		prev := r.reg[t.ID]
		status, output, due := r.health(v, t, prev, now)
		if !due.IsZero() && (next.IsZero() || due.Before(next)) {
			next = due
		}
		r.nodeSeen[node] = gen
		if prev != nil {
			prev.gen = gen
			if prev.Node == node && prev.Service.Service == svc.name && prev.Service.Address == t.Host &&
				prev.Service.Port == port && slices.Equal(prev.Service.Tags, svc.tags) && len(prev.Service.Meta) == 2 &&
				prev.Service.Meta[MetaApp] == t.AppID && prev.Service.Meta[MetaVersion] == t.Version && r.nodes[node] == t.Host {
				if prev.Status != status {
					e := *prev
					e.Status, e.Output = status, output
					units = append(units, Unit{Register: &e, ops: api.TxnOps{r.checkOp(&e)}})
				}
				continue
			}
		}
		e := &Entry{Node: node, NodeAddr: t.Host, Status: status, Output: output, Service: api.AgentService{
			ID: t.ID, Service: svc.name, Tags: svc.tags, Address: t.Host, Port: port,
			Meta: map[string]string{MetaApp: t.AppID, MetaVersion: t.Version},
		}}
		var ops api.TxnOps
		if r.nodes[node] != t.Host && !nodeSet[node] {
			nodeSet[node] = true
			ops = append(ops, &api.TxnOp{Node: &api.NodeTxnOp{Verb: api.NodeSet, Node: api.Node{
				Node: node, Address: t.Host,
				Meta: map[string]string{MetaOwner: r.cfg.Owner, "external-node": "true", "external-probe": "false"},
			}}})
		}
		ops = append(ops, &api.TxnOp{Service: &api.ServiceTxnOp{Verb: api.ServiceSet, Node: node, Service: e.Service}}, r.checkOp(e))
		units = append(units, Unit{Register: e, ops: ops})
	}
	// What the view no longer asks for: nodes left without services go whole,
	// other entries one by one.
	var gone []Unit
	for n := range r.nodes {
		if r.nodeSeen[n] != gen {
			gone = append(gone, Unit{NodeDelete: n, ops: api.TxnOps{{Node: &api.NodeTxnOp{Verb: api.NodeDelete, Node: api.Node{Node: n}}}}})
		}
	}
	for id, e := range r.reg {
		if e.gen != gen && r.nodeSeen[e.Node] == gen {
			gone = append(gone, Unit{Deregister: id, ops: api.TxnOps{{Service: &api.ServiceTxnOp{
				Verb: api.ServiceDelete, Node: e.Node, Service: api.AgentService{ID: id, Service: e.Service.Service},
			}}}})
		}
	}
	for n, g := range r.nodeSeen {
		if g != gen && r.nodes[n] == "" {
			delete(r.nodeSeen, n)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].key() < gone[j].key() })
	for id := range r.drained {
		if !inView(v, id) {
			delete(r.drained, id)
		}
	}
	for id := range r.flapAt {
		if !inView(v, id) {
			delete(r.flapAt, id)
		}
	}
	return append(gone, units...), next
}

// health is the status a task's registration should have, why, and when a
// damped task is due to be passing.
func (r *Registry) health(v *executor.View, t *engine.Task, prev *Entry, now time.Time) (status, output string, due time.Time) {
	since, damped := r.flapAt[t.ID]
	switch healthy := v.Healthy[t.ID]; {
	case !healthy:
		status = api.HealthCritical
		if prev != nil && prev.Status == status {
			output = prev.Output
		} else {
			output = "Stride: running, not healthy"
			if hc := failingCheck(t); hc != "" {
				output += ": " + hc
			}
		}
		if r.cfg.FlapDamping > 0 && (damped || (prev != nil && prev.Status == api.HealthPassing)) {
			r.flapAt[t.ID] = time.Time{} // still unhealthy: the healthy period starts later
		}
	case damped && (since.IsZero() || now.Sub(since) < r.cfg.FlapDamping):
		if since.IsZero() {
			since = now
			r.flapAt[t.ID] = now
		}
		due = since.Add(r.cfg.FlapDamping)
		status = api.HealthCritical
		output = fmt.Sprintf("Stride: healthy again, held out of DNS until %s (flap damping)", due.UTC().Format(time.RFC3339))
	default:
		delete(r.flapAt, t.ID)
		status, output = api.HealthPassing, "Stride: healthy"
	}
	return status, output, due
}

// inView says whether v has a task (v.Tasks is sorted by app id, then id).
func inView(v *executor.View, id string) bool {
	app := engine.AppIDFromTaskID(id)
	i := sort.Search(len(v.Tasks), func(i int) bool {
		t := v.Tasks[i]
		return t.AppID > app || (t.AppID == app && t.ID >= id)
	})
	return i < len(v.Tasks) && v.Tasks[i].ID == id
}

func (r *Registry) checkOp(e *Entry) *api.TxnOp {
	return &api.TxnOp{Check: &api.CheckTxnOp{Verb: api.CheckSet, Check: api.HealthCheck{
		Node: e.Node, CheckID: checkID(e.Service.ID), Name: "Stride health", Status: e.Status, Output: e.Output,
		Notes: "Stride's health of the task; DNS answers passing tasks only", ServiceID: e.Service.ID, ServiceName: e.Service.Service,
	}}}
}

// nodeName is NodeName, cached per host.
func (r *Registry) nodeName(host string) string {
	n, ok := r.hostNodes[host]
	if !ok {
		n = NodeName(r.cfg.Owner, host)
		r.hostNodes[host] = n
	}
	return n
}

func failingCheck(t *engine.Task) string {
	for _, h := range t.HealthCheckResults {
		if !h.Alive && h.LastFailureCause != nil {
			return *h.LastFailureCause
		}
	}
	return ""
}

// portIndex is the index of the named port among the app's ports (-1: none).
func portIndex(app *engine.App, name string) int {
	for i, pd := range app.PortDefinitions {
		if pd.Name == name {
			return i
		}
	}
	if c := app.Container; c != nil {
		pms := c.PortMappings
		if len(pms) == 0 && c.Docker != nil {
			pms = c.Docker.PortMappings
		}
		for i, pm := range pms {
			if pm.Name == name {
				return i
			}
		}
	}
	return -1
}

// NodeName is the catalog node of an agent host: the owner and the host,
// made a DNS label.
func NodeName(owner, host string) string {
	n := label(strings.Trim(owner, "/")) + "-" + label(host)
	if len(n) > 63 {
		h := fnv.New32a()
		h.Write([]byte(n))
		n = fmt.Sprintf("%s-%08x", n[:54], h.Sum32())
	}
	return n
}

func label(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '-'
		}
	}
	return string(b)
}

func checkID(serviceID string) string { return "stride:" + serviceID }

// Unit is a group of operations that must land in one transaction (a service
// and its check), with what it does to the mirror.
type Unit struct {
	Register   *Entry
	Deregister string
	NodeDelete string
	ops        api.TxnOps
}

func (u Unit) key() string {
	if u.NodeDelete != "" {
		return "0" + u.NodeDelete
	}
	return "1" + u.Deregister
}

// write runs the units in transactions of at most 64 operations (a unit is
// never split), each fenced, and updates the mirror as each commits. Any other
// failure makes the next Sync read the catalog again.
func (r *Registry) write(ctx context.Context, units []Unit) error {
	for len(units) > 0 {
		n, size := 0, 0
		for n < len(units) && size+len(units[n].ops) <= maxOps {
			size += len(units[n].ops)
			n++
		}
		batch := units[:n]
		units = units[n:]
		ops := make(api.TxnOps, 0, size+1)
		if r.cfg.Session != "" {
			ops = append(ops, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: r.cfg.LockKey, Session: r.cfg.Session}})
		}
		for _, u := range batch {
			for _, op := range u.ops {
				ops = append(ops, op)
			}
		}
		r.writes++
		ok, resp, _, err := r.cfg.Client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			r.synced = false
			return fmt.Errorf("write the catalog: %w", err)
		}
		if !ok {
			var msgs []string
			fenced := false
			for _, e := range resp.Errors {
				msgs = append(msgs, fmt.Sprintf("operation %d: %s", e.OpIndex, e.What))
				fenced = fenced || (r.cfg.Session != "" && e.OpIndex == 0)
			}
			if fenced {
				r.fenced = fmt.Errorf("%w (%s)", ErrFenced, strings.Join(msgs, "; "))
				return r.fenced
			}
			r.synced = false
			return fmt.Errorf("write the catalog: %s", strings.Join(msgs, "; "))
		}
		r.applied(batch)
	}
	return nil
}

// applied records committed units in the mirror.
func (r *Registry) applied(units []Unit) {
	for _, u := range units {
		switch {
		case u.NodeDelete != "":
			delete(r.nodes, u.NodeDelete)
			for id, e := range r.reg {
				if e.Node == u.NodeDelete {
					delete(r.reg, id)
				}
			}
		case u.Deregister != "":
			delete(r.reg, u.Deregister)
		case u.Register != nil:
			cp := *u.Register
			r.reg[cp.Service.ID] = &cp
			r.nodes[cp.Node] = cp.NodeAddr
		}
	}
}
