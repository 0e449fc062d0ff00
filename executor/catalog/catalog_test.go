package catalog

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/executor"
)

// world is a view under construction: apps, tasks and their health.
type world struct {
	apps  []*engine.App
	tasks []*engine.Task
	ok    map[string]bool
}

func newWorld(apps ...*engine.App) *world { return &world{apps: apps, ok: map[string]bool{}} }

func webApp(id string) *engine.App {
	a := engine.NewApp(id)
	a.Cmd = "serve"
	a.PortDefinitions = []engine.PortDefinition{{Name: "admin"}, {Name: "http"}}
	a.ApplyDefaults()
	return a
}

// run adds a running task of app on host with ports.
func (w *world) run(app, id, host string, healthy bool, ports ...int) *engine.Task {
	t := &engine.Task{ID: id, AppID: app, Host: host, Ports: ports, State: engine.TaskRunning, Version: "2026-12-04T00:00:00.000Z"}
	w.tasks = append(w.tasks, t)
	w.ok[id] = healthy
	return t
}

func (w *world) view() *executor.View {
	v := &executor.View{Healthy: map[string]bool{}}
	for _, a := range w.apps {
		v.Apps = append(v.Apps, &executor.AppStatus{App: a})
	}
	for _, t := range w.tasks {
		cp := *t
		v.Tasks = append(v.Tasks, &cp)
		if w.ok[t.ID] && t.State == engine.TaskRunning {
			v.Healthy[t.ID] = true
		}
	}
	return v
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newRegistry(t *testing.T, cl *api.Client, c *clock, mod func(*Config)) *Registry {
	cfg := Config{Client: cl, Owner: "stride-" + t.Name() + "/", Now: c.now, Logf: t.Logf}
	if mod != nil {
		mod(&cfg)
	}
	return New(cfg)
}

func mustSync(t *testing.T, r *Registry, v *executor.View) time.Time {
	t.Helper()
	next, err := r.Sync(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// passing returns "host:port" of the instances of a service Consul's health
// endpoint lists as passing, sorted.
func passing(t *testing.T, cl *api.Client, service string) []string {
	t.Helper()
	entries, _, err := cl.Health().Service(service, "", true, &api.QueryOptions{RequireConsistent: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, net.JoinHostPort(e.Service.Address, strconv.Itoa(e.Service.Port)))
	}
	sort.Strings(out)
	return out
}

// waitDNS waits until Consul DNS answers exactly want for service.
func waitDNS(t *testing.T, a *consultest.Agent, service string, want ...string) {
	t.Helper()
	sort.Strings(want)
	consultest.WaitFor(t, 20*time.Second, "DNS for "+service, func(ctx context.Context) error {
		got, err := consultest.LookupService(ctx, a, service)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("DNS answers %v, want %v", got, want)
		}
		return nil
	})
}

// Running tasks of apps with ports are registered under the app's service name,
// on a node per agent host, with the host port of the named port; DNS answers the
// healthy ones only, and follows health changes, new tasks, kills and removals.
func TestRegistrationFollowsTheTasks(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	c := &clock{t: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}
	r := newRegistry(t, cl, c, func(cfg *Config) { cfg.FlapDamping = -1 })

	api1 := webApp("/shop/api")
	web := webApp("/shop/web")
	web.Service = &engine.Service{Name: "storefront", Tags: []string{"v2", "public"}, Port: "http"}
	noPorts := engine.NewApp("/shop/worker")
	noPorts.ApplyDefaults()
	w := newWorld(api1, web, noPorts)
	w.run("/shop/api", "shop_api.1", "127.0.0.2", true, 31000, 31001)
	w.run("/shop/api", "shop_api.2", "127.0.0.3", false, 31000, 31001)
	w.run("/shop/web", "shop_web.1", "127.0.0.2", true, 31002, 31003)
	w.run("/shop/worker", "shop_worker.1", "127.0.0.2", true)
	mustSync(t, r, w.view())

	waitDNS(t, agent, "api-shop", "127.0.0.2:31000")
	waitDNS(t, agent, "storefront", "127.0.0.2:31003")
	if got := passing(t, cl, "api-shop"); !slices.Equal(got, []string{"127.0.0.2:31000"}) {
		t.Fatalf("passing api-shop: %v", got)
	}
	all, _, err := cl.Catalog().Service("api-shop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("the unhealthy task is not in the catalog as critical: %d entries", len(all))
	}
	sf, _, err := cl.Catalog().Service("storefront", "public", nil)
	if err != nil || len(sf) != 1 {
		t.Fatalf("storefront by tag: %v %v", sf, err)
	}
	e := sf[0]
	if e.ServiceID != "shop_web.1" || e.ServiceMeta[MetaApp] != "/shop/web" || e.NodeMeta[MetaOwner] != r.cfg.Owner ||
		e.NodeMeta["external-node"] != "true" || e.Node != NodeName(r.cfg.Owner, "127.0.0.2") || e.Address != "127.0.0.2" {
		t.Fatalf("storefront entry: %+v", e)
	}
	if svcs, _, _ := cl.Catalog().Services(nil); svcs["worker-shop"] != nil {
		t.Fatal("an app without ports was registered")
	}

	// The second task gets healthy, a third one starts; the first one is being
	// killed (the executor shows it as killing).
	w.ok["shop_api.2"] = true
	w.tasks[0].State = engine.TaskKilling
	w.run("/shop/api", "shop_api.3", "127.0.0.4", true, 31000, 31001)
	writes := r.Writes()
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api-shop", "127.0.0.3:31000", "127.0.0.4:31000")
	// An unchanged view writes nothing.
	mustSync(t, r, w.view())
	mustSync(t, r, w.view())
	if n := r.Writes() - writes; n != 1 {
		t.Fatalf("%d transactions for one change and two unchanged views, want 1", n)
	}

	// A health failure takes the task out of DNS; the app's removal takes
	// everything out, and the nodes left empty go.
	w.ok["shop_api.3"] = false
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api-shop", "127.0.0.3:31000")
	w.tasks = w.tasks[2:3] // only the web task is left
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api-shop")
	waitDNS(t, agent, "storefront", "127.0.0.2:31003")
	nodes, _, err := cl.Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{MetaOwner: r.cfg.Owner}})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 1 || nodes[0].Node != NodeName(r.cfg.Owner, "127.0.0.2") {
		t.Fatalf("nodes left: %v", nodes)
	}
}

// Deregister takes a task out of the catalog at once, before the executor
// kills it, and the task is not registered again while it still runs.
func TestDeregisterBeforeTheKill(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	r := newRegistry(t, cl, &clock{t: time.Now()}, nil)
	w := newWorld(webApp("/api"))
	a := w.run("/api", "api.1", "127.0.0.2", true, 31000, 31001)
	w.run("/api", "api.2", "127.0.0.3", true, 31000, 31001)
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api", "127.0.0.2:31000", "127.0.0.3:31000")

	if err := r.Deregister(context.Background(), *a); err != nil {
		t.Fatal(err)
	}
	// No wait: when Deregister returns, the catalog no longer has it.
	if got := passing(t, cl, "api"); !slices.Equal(got, []string{"127.0.0.3:31000"}) {
		t.Fatalf("after Deregister: %v", got)
	}
	mustSync(t, r, w.view()) // the view still says running
	if got := passing(t, cl, "api"); !slices.Equal(got, []string{"127.0.0.3:31000"}) {
		t.Fatalf("registered again: %v", got)
	}
	// A task never registered costs no transaction; nor does one of a fresh
	// registry that has not read the catalog yet fail.
	writes := r.Writes()
	if err := r.Deregister(context.Background(), engine.Task{ID: "api.9", Host: "127.0.0.9"}); err != nil || r.Writes() != writes {
		t.Fatalf("deregister of an unknown task: %v, %d writes", err, r.Writes()-writes)
	}
	fresh := newRegistry(t, cl, &clock{t: time.Now()}, nil)
	if err := fresh.Deregister(context.Background(), engine.Task{ID: "api.2", Host: "127.0.0.3"}); err != nil {
		t.Fatal(err)
	}
	if err := fresh.Deregister(context.Background(), engine.Task{ID: "api.8", Host: "127.0.0.8"}); err != nil {
		t.Fatalf("deregister on a node that does not exist: %v", err)
	}
	waitDNS(t, agent, "api")
}

// Anti-entropy: a registry reading the catalog again removes what nobody
// wants (entries left by a crashed leader), puts back what was removed behind
// its back, and leaves nodes of other owners alone.
func TestAntiEntropy(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	r := newRegistry(t, cl, &clock{t: time.Now()}, nil)
	w := newWorld(webApp("/api"))
	w.run("/api", "api.1", "127.0.0.2", true, 31000, 31001)
	mustSync(t, r, w.view())

	owned := NodeName(r.cfg.Owner, "127.0.0.2")
	reg := func(node, owner, id string, port int) {
		t.Helper()
		_, err := cl.Catalog().Register(&api.CatalogRegistration{
			Node: node, Address: "127.0.0.5", NodeMeta: map[string]string{MetaOwner: owner},
			Service: &api.AgentService{ID: id, Service: "api", Address: "127.0.0.5", Port: port},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	reg(owned, r.cfg.Owner, "api.stale", 32000)                            // on one of our nodes
	reg(NodeName(r.cfg.Owner, "127.0.0.5"), r.cfg.Owner, "api.old", 32001) // a node of ours nobody needs
	reg("someone-else", "another-cluster/", "api.theirs", 32002)           // not ours
	if _, err := cl.Catalog().Deregister(&api.CatalogDeregistration{Node: owned, ServiceID: "api.1"}, nil); err != nil {
		t.Fatal(err)
	}
	waitDNS(t, agent, "api", "127.0.0.5:32000", "127.0.0.5:32001", "127.0.0.5:32002")

	// The mirror believes all is well: no write until the catalog is read again.
	mustSync(t, r, w.view())
	r.invalidate()
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api", "127.0.0.2:31000", "127.0.0.5:32002")
	nodes, _, err := cl.Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{MetaOwner: r.cfg.Owner}})
	if err != nil || len(nodes) != 1 {
		t.Fatalf("our nodes: %v %v", nodes, err)
	}

	// A new leader's registry (a fresh one) takes the entries over unchanged.
	next := newRegistry(t, cl, &clock{t: time.Now()}, nil)
	mustSync(t, next, w.view())
	if next.Writes() != 0 {
		t.Fatalf("a new leader rewrote %d times an up-to-date catalog", next.Writes())
	}
}

// Every write is fenced by the leader's session: once it no longer holds the
// lock, the registry writes nothing and says so.
func TestFencedWritesAreRefused(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	lockKey := "stride-" + t.Name() + "/leader"
	session := func() string {
		id, _, err := cl.Session().Create(&api.SessionEntry{TTL: "30s", Behavior: api.SessionBehaviorDelete}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ours, theirs := session(), session()
	if ok, _, err := cl.KV().Acquire(&api.KVPair{Key: lockKey, Session: ours}, nil); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	r := newRegistry(t, cl, &clock{t: time.Now()}, func(c *Config) { c.LockKey, c.Session = lockKey, ours })
	w := newWorld(webApp("/api"))
	a := w.run("/api", "api.1", "127.0.0.2", true, 31000, 31001)
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api", "127.0.0.2:31000")

	// Deposed: the lock goes to another session.
	if ok, _, err := cl.KV().Release(&api.KVPair{Key: lockKey, Session: ours}, nil); err != nil || !ok {
		t.Fatalf("release: %v %v", ok, err)
	}
	if ok, _, err := cl.KV().Acquire(&api.KVPair{Key: lockKey, Session: theirs}, nil); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	w.run("/api", "api.2", "127.0.0.3", true, 31000, 31001)
	if _, err := r.Sync(context.Background(), w.view()); !errors.Is(err, ErrFenced) {
		t.Fatalf("sync by a deposed leader: %v", err)
	}
	if err := r.Deregister(context.Background(), *a); !errors.Is(err, ErrFenced) {
		t.Fatalf("deregister by a deposed leader: %v", err)
	}
	if got := passing(t, cl, "api"); !slices.Equal(got, []string{"127.0.0.2:31000"}) {
		t.Fatalf("a deposed leader changed the catalog: %v", got)
	}
	if err := r.Run(context.Background(), w.view); !errors.Is(err, ErrFenced) {
		t.Fatalf("Run of a fenced registry: %v", err)
	}
}

// A task that went critical is passing again only after it stayed healthy for
// the damping period; going critical is never delayed.
func TestFlapDamping(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	c := &clock{t: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)}
	r := newRegistry(t, cl, c, func(cfg *Config) { cfg.FlapDamping = 10 * time.Second })
	w := newWorld(webApp("/api"))
	w.run("/api", "api.1", "127.0.0.2", true, 31000, 31001)
	if next := mustSync(t, r, w.view()); !next.IsZero() {
		t.Fatalf("a first healthy task is damped until %v", next)
	}
	waitDNS(t, agent, "api", "127.0.0.2:31000")

	w.ok["api.1"] = false
	mustSync(t, r, w.view())
	waitDNS(t, agent, "api")
	c.t = c.t.Add(3 * time.Second)
	w.ok["api.1"] = true
	next := mustSync(t, r, w.view())
	if want := c.t.Add(10 * time.Second); !next.Equal(want) {
		t.Fatalf("due %v, want %v", next, want)
	}
	c.t = c.t.Add(9 * time.Second)
	mustSync(t, r, w.view())
	if got := passing(t, cl, "api"); len(got) != 0 {
		t.Fatalf("passing while damped: %v", got)
	}
	c.t = c.t.Add(time.Second)
	if next := mustSync(t, r, w.view()); !next.IsZero() {
		t.Fatalf("still damped until %v", next)
	}
	waitDNS(t, agent, "api", "127.0.0.2:31000")
}

// More registrations than one transaction can carry are split, with every
// service and its check in the same transaction.
func TestLargeSyncIsBatched(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	cl := agent.Client(t)
	r := newRegistry(t, cl, &clock{t: time.Now()}, nil)
	w := newWorld(webApp("/big"))
	var want []string
	for i := 0; i < 200; i++ {
		host := fmt.Sprintf("127.0.%d.%d", i/50, 2+i%50)
		w.run("/big", fmt.Sprintf("big.%03d", i), host, i%2 == 0, 31000+i, 32000+i)
		if i%2 == 0 {
			want = append(want, net.JoinHostPort(host, strconv.Itoa(31000+i)))
		}
	}
	mustSync(t, r, w.view())
	sort.Strings(want)
	if got := passing(t, cl, "big"); !slices.Equal(got, want) {
		t.Fatalf("passing: %d entries, want %d", len(got), len(want))
	}
	// 200 nodes + 200 services + 200 checks: at least 10 transactions of ≤63.
	if n := r.Writes(); n < 10 || n > 12 {
		t.Fatalf("%d transactions for 600 operations", n)
	}
	r.invalidate()
	before := r.Writes()
	mustSync(t, r, w.view())
	if r.Writes() != before {
		t.Fatal("a re-read of an up-to-date catalog led to writes")
	}
}

func TestNodeName(t *testing.T) {
	for _, c := range []struct{ owner, host, want string }{
		{"stride/", "10.0.0.7", "stride-10-0-0-7"},
		{"prod/stride/", "agent-1.example.com", "prod-stride-agent-1-example-com"},
	} {
		if got := NodeName(c.owner, c.host); got != c.want {
			t.Errorf("NodeName(%q, %q) = %q, want %q", c.owner, c.host, got, c.want)
		}
	}
	long := NodeName("stride/", "a-very-long-host-name-that-goes-on.and-on.rack-17.datacenter.example.com")
	if len(long) != 63 || long == NodeName("stride/", "a-very-long-host-name-that-goes-on.and-on.rack-17.datacenter.example.org") {
		t.Errorf("long names: %q (%d)", long, len(long))
	}
}
