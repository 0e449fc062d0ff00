// Package storetest is the conformance suite every engine.Store implementation must
// pass: Run checks what engine/store.go promises (compare-and-set on Index, Serial
// moving only with apps, atomic commits, consistent loads, faithful records), and
// Reopen checks that a commit survives closing and reopening the store.
//
// An implementation's test calls them with a function that opens its store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) engine.Store {
//			s, err := bolt.Open(t.Context(), t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite never puts more than MaxRecordsPerCommit records in one commit, so a
// store whose backend bounds the size of a transaction (Consul's KV transactions
// hold at most 64 operations) can pass it.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/stride-run/stride/engine"
)

// MaxRecordsPerCommit is the largest number of records (puts plus deletes) the
// suite writes in one Commit.
const MaxRecordsPerCommit = 50

// Run runs the conformance suite, one subtest per property. open must return a new,
// empty store on every call; Run closes each store it opened when its subtest ends.
func Run(t *testing.T, open func(t *testing.T) engine.Store) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s engine.Store)
	}{
		{"EmptyLoad", testEmptyLoad},
		{"IndexIncrementsPerCommit", testIndexIncrements},
		{"ConflictWritesNothing", testConflictWritesNothing},
		{"SerialMovesOnlyWithApps", testSerial},
		{"PutReplaceDelete", testPutReplaceDelete},
		{"FrameworkID", testFrameworkID},
		{"RoundTrip", testRoundTrip},
		{"RecordsAreCopied", testRecordsAreCopied},
		{"ManyRecords", testManyRecords},
		{"ConcurrentCommitsOneWins", testConcurrentCommits},
		{"LoadIsConsistentDuringCommits", testConsistentLoad},
		{"MatchesModel", testModel},
		{"Groups", testGroups},
		{"GroupVersions", testGroupVersions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.test(t, s)
		})
	}
}

// Reopen checks durability. open is called several times and must open the same
// backing state every time (the caller fixes the location, e.g. one directory);
// Reopen closes each store before opening the next. The state must start empty.
func Reopen(t *testing.T, open func(t *testing.T) engine.Store) {
	ctx := context.Background()
	s := open(t)
	want := emptyModel()
	fw := "framework-1"
	a1, a2 := App("/shop/api", 1), App("/shop/web", 2)
	txns := []engine.Txn{
		{PutApps: []*engine.App{a1, a2}, FrameworkID: &fw},
		{PutTasks: []*engine.Task{Task("/shop/api", 1), Task("/shop/api", 2), Task("/shop/web", 3)}},
		{PutDeployments: []*engine.Deployment{Deployment("d-1", a1, a2)}, DeleteTasks: []string{Task("/shop/api", 2).ID}},
		{PutApps: []*engine.App{App("/shop/api", 3)}, PutSubscriptions: []*engine.Subscription{
			Subscription("http://127.0.0.1:10001/event", 1), Subscription("https://hooks.example.com/stride?token=a%2Fb&x=1", 2),
		}},
	}
	for _, txn := range txns {
		mustCommit(t, s, want.Index, txn)
		want.apply(txn)
	}
	closeStore(t, s)

	s = open(t)
	checkLoad(t, s, want, "after reopening")
	if _, err := s.Commit(ctx, want.Index-1, engine.Txn{}); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("Commit with the index before the reopen: got %v, want ErrConflict", err)
	}
	txn := engine.Txn{DeleteApps: []string{"/shop/web"}, DeleteDeployments: []string{"d-1"}, DeleteSubscriptions: []string{"http://127.0.0.1:10001/event"}}
	mustCommit(t, s, want.Index, txn)
	want.apply(txn)
	closeStore(t, s)

	s = open(t)
	checkLoad(t, s, want, "after the second reopen")
	closeStore(t, s)
}

func closeStore(t *testing.T, s engine.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// model is what a store must hold: a snapshot updated by the Txn semantics.
type model struct{ engine.Snapshot }

func emptyModel() *model {
	return &model{engine.Snapshot{
		Apps:          map[string]*engine.App{},
		Tasks:         map[string]*engine.Task{},
		Deployments:   map[string]*engine.Deployment{},
		Subscriptions: map[string]*engine.Subscription{},
		Groups:        map[string]*engine.Group{},
	}}
}

// apply applies txn as a successful commit does. The suite never puts and deletes
// the same id in one txn (the contract does not order them).
func (m *model) apply(txn engine.Txn) {
	m.Index++
	if len(txn.PutApps) > 0 || len(txn.DeleteApps) > 0 {
		m.Serial++
	}
	for _, a := range txn.PutApps {
		m.Apps[a.ID] = a
	}
	for _, id := range txn.DeleteApps {
		delete(m.Apps, id)
	}
	for _, x := range txn.PutTasks {
		m.Tasks[x.ID] = x
	}
	for _, id := range txn.DeleteTasks {
		delete(m.Tasks, id)
	}
	for _, d := range txn.PutDeployments {
		m.Deployments[d.ID] = d
	}
	for _, id := range txn.DeleteDeployments {
		delete(m.Deployments, id)
	}
	for _, s := range txn.PutSubscriptions {
		m.Subscriptions[s.CallbackURL] = s
	}
	for _, u := range txn.DeleteSubscriptions {
		delete(m.Subscriptions, u)
	}
	for _, g := range txn.PutGroups {
		m.Groups[g.ID] = g
	}
	for _, id := range txn.DeleteGroups {
		delete(m.Groups, id)
	}
	if txn.FrameworkID != nil {
		m.FrameworkID = *txn.FrameworkID
	}
}

func mustLoad(t *testing.T, s engine.Store) *engine.Snapshot {
	t.Helper()
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if snap == nil {
		t.Fatal("Load returned a nil snapshot and no error")
	}
	return snap
}

func mustCommit(t *testing.T, s engine.Store, expect uint64, txn engine.Txn) uint64 {
	t.Helper()
	got, err := s.Commit(context.Background(), expect, txn)
	if err != nil {
		t.Fatalf("Commit(expect %d): %v", expect, err)
	}
	if got != expect+1 {
		t.Fatalf("Commit(expect %d) returned index %d, want %d", expect, got, expect+1)
	}
	return got
}

// checkLoad loads the store and reports any difference from want.
func checkLoad(t *testing.T, s engine.Store, want *model, when string) {
	t.Helper()
	if d := Diff(mustLoad(t, s), &want.Snapshot); d != "" {
		t.Fatalf("Load %s differs from what was committed:\n%s", when, d)
	}
}

func testEmptyLoad(t *testing.T, s engine.Store) {
	checkLoad(t, s, emptyModel(), "of a new store")
}

func testIndexIncrements(t *testing.T, s engine.Store) {
	want := emptyModel()
	for i, txn := range []engine.Txn{
		{},
		{PutTasks: []*engine.Task{Task("/a", 1)}},
		{},
		{DeleteTasks: []string{"no-such-task"}},
	} {
		mustCommit(t, s, want.Index, txn)
		want.apply(txn)
		checkLoad(t, s, want, fmt.Sprintf("after commit %d", i))
	}
}

func testConflictWritesNothing(t *testing.T, s engine.Store) {
	ctx := context.Background()
	fw := "fw-1"
	a := App("/shop/api", 1)
	first := engine.Txn{PutApps: []*engine.App{a}, PutTasks: []*engine.Task{Task("/shop/api", 1)},
		PutDeployments: []*engine.Deployment{Deployment("d-1", a)}, FrameworkID: &fw}
	mustCommit(t, s, 0, first)
	mustCommit(t, s, 1, engine.Txn{})
	before := mustLoad(t, s)

	other := "fw-2"
	b := App("/shop/web", 2)
	txn := engine.Txn{
		PutApps: []*engine.App{b, App("/shop/api", 3)}, DeleteApps: []string{"/shop/api"},
		PutTasks: []*engine.Task{Task("/shop/web", 2)}, DeleteTasks: []string{Task("/shop/api", 1).ID},
		PutDeployments: []*engine.Deployment{Deployment("d-2", b)}, DeleteDeployments: []string{"d-1"},
		FrameworkID: &other,
	}
	for _, expect := range []uint64{0, 1, 3, 100} {
		t.Run(fmt.Sprintf("expect%d", expect), func(t *testing.T) {
			if _, err := s.Commit(ctx, expect, txn); !errors.Is(err, engine.ErrConflict) {
				t.Fatalf("Commit(expect %d) at index 2: got %v, want ErrConflict", expect, err)
			}
			if d := Diff(mustLoad(t, s), before); d != "" {
				t.Fatalf("a failed Commit changed the store:\n%s", d)
			}
		})
	}
}

func testSerial(t *testing.T, s engine.Store) {
	fw := "fw"
	// The cases run in order on one store; each says by how much Serial moves.
	for _, tc := range []struct {
		name  string
		txn   engine.Txn
		delta uint64
	}{
		{"put app", engine.Txn{PutApps: []*engine.App{App("/a", 1), App("/b", 2)}}, 1},
		{"replace app", engine.Txn{PutApps: []*engine.App{App("/a", 3)}}, 1},
		{"put task", engine.Txn{PutTasks: []*engine.Task{Task("/a", 1)}}, 0},
		{"delete task", engine.Txn{DeleteTasks: []string{Task("/a", 1).ID}}, 0},
		{"put deployment", engine.Txn{PutDeployments: []*engine.Deployment{Deployment("d", App("/a", 3))}}, 0},
		{"delete deployment", engine.Txn{DeleteDeployments: []string{"d"}}, 0},
		{"framework id", engine.Txn{FrameworkID: &fw}, 0},
		{"put subscription", engine.Txn{PutSubscriptions: []*engine.Subscription{Subscription("http://127.0.0.1:1/e", 1)}}, 0},
		{"delete subscription", engine.Txn{DeleteSubscriptions: []string{"http://127.0.0.1:1/e"}}, 0},
		{"empty", engine.Txn{}, 0},
		{"delete app", engine.Txn{DeleteApps: []string{"/b"}}, 1},
		{"app and tasks", engine.Txn{PutApps: []*engine.App{App("/c", 4)}, PutTasks: []*engine.Task{Task("/c", 2)}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := mustLoad(t, s)
			mustCommit(t, s, before.Index, tc.txn)
			after := mustLoad(t, s)
			if after.Serial != before.Serial+tc.delta {
				t.Errorf("Serial went from %d to %d, want +%d", before.Serial, after.Serial, tc.delta)
			}
		})
	}
}

// kind abstracts over the three record types for tests that treat them alike.
type kind struct {
	name string
	// make returns record id's n-th value.
	make func(id string, n int) any
	put  func(recs ...any) engine.Txn
	del  func(ids ...string) engine.Txn
}

var kinds = []kind{
	{
		name: "apps",
		make: func(id string, n int) any { return App(id, n) },
		put: func(recs ...any) engine.Txn {
			var txn engine.Txn
			for _, r := range recs {
				txn.PutApps = append(txn.PutApps, r.(*engine.App))
			}
			return txn
		},
		del: func(ids ...string) engine.Txn { return engine.Txn{DeleteApps: ids} },
	},
	{
		name: "tasks",
		make: func(id string, n int) any {
			t := Task("/app", n)
			t.ID = id
			return t
		},
		put: func(recs ...any) engine.Txn {
			var txn engine.Txn
			for _, r := range recs {
				txn.PutTasks = append(txn.PutTasks, r.(*engine.Task))
			}
			return txn
		},
		del: func(ids ...string) engine.Txn { return engine.Txn{DeleteTasks: ids} },
	},
	{
		name: "groups",
		make: func(id string, n int) any { return Group(id, n) },
		put: func(recs ...any) engine.Txn {
			var txn engine.Txn
			for _, r := range recs {
				txn.PutGroups = append(txn.PutGroups, r.(*engine.Group))
			}
			return txn
		},
		del: func(ids ...string) engine.Txn { return engine.Txn{DeleteGroups: ids} },
	},
	{
		name: "deployments",
		make: func(id string, n int) any { return Deployment(id, App(fmt.Sprintf("/app%d", n), n)) },
		put: func(recs ...any) engine.Txn {
			var txn engine.Txn
			for _, r := range recs {
				txn.PutDeployments = append(txn.PutDeployments, r.(*engine.Deployment))
			}
			return txn
		},
		del: func(ids ...string) engine.Txn { return engine.Txn{DeleteDeployments: ids} },
	},
	{
		name: "subscriptions",
		make: func(id string, n int) any { return Subscription(id, n) },
		put: func(recs ...any) engine.Txn {
			var txn engine.Txn
			for _, r := range recs {
				txn.PutSubscriptions = append(txn.PutSubscriptions, r.(*engine.Subscription))
			}
			return txn
		},
		del: func(ids ...string) engine.Txn { return engine.Txn{DeleteSubscriptions: ids} },
	},
}

func testPutReplaceDelete(t *testing.T, s engine.Store) {
	want := emptyModel()
	step := func(t *testing.T, what string, txn engine.Txn) {
		t.Helper()
		mustCommit(t, s, want.Index, txn)
		want.apply(txn)
		checkLoad(t, s, want, "after "+what)
	}
	// All kinds share one store, so each also checks that the others are untouched.
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			id := func(i int) string { return fmt.Sprintf("/%s/r%d", k.name, i) }
			step(t, "putting three", k.put(k.make(id(1), 1), k.make(id(2), 2), k.make(id(3), 3)))
			step(t, "replacing one", k.put(k.make(id(2), 20)))
			step(t, "deleting one", k.del(id(1)))
			step(t, "deleting an unknown id", k.del(id(99)))
			step(t, "putting a deleted id again", k.put(k.make(id(1), 10)))
			step(t, "deleting all", k.del(id(1), id(2), id(3)))
			step(t, "putting one", k.put(k.make(id(4), 4)))
		})
	}
}

func testFrameworkID(t *testing.T, s engine.Store) {
	want := emptyModel()
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		txn  engine.Txn
	}{
		{"set", engine.Txn{FrameworkID: str("5ed4c0c5-9ff8-4a6f-a0cd-f57f59a34b43-0001")}},
		{"nil keeps it", engine.Txn{PutTasks: []*engine.Task{Task("/a", 1)}}},
		{"replace", engine.Txn{FrameworkID: str("other-0002")}},
		{"clear", engine.Txn{FrameworkID: str("")}},
		{"set with apps", engine.Txn{FrameworkID: str("third"), PutApps: []*engine.App{App("/a", 1)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustCommit(t, s, want.Index, tc.txn)
			want.apply(tc.txn)
			checkLoad(t, s, want, "")
		})
	}
}

func testRoundTrip(t *testing.T, s engine.Store) {
	want := emptyModel()
	minimal := engine.NewApp("/minimal")
	minimal.Cmd = "sleep 1000"
	minimal.ApplyDefaults()
	noPorts := engine.NewApp("/no-ports")
	noPorts.Cmd = "sleep 1000"
	noPorts.PortDefinitions = []engine.PortDefinition{}
	noPorts.UnreachableStrategy = &engine.UnreachableStrategy{Disabled: true}
	noPorts.Instances = 0
	noPorts.ApplyDefaults()
	docker, command := App("/shop/docker", 2), App("/shop/command", 3)
	bare := &engine.Task{ID: "bare.1", AppID: "/bare", State: engine.TaskStaging}
	emptyPlan := &engine.Deployment{ID: "empty-plan", Plan: &engine.Plan{}, Status: engine.DeploymentSucceeded}

	txn := engine.Txn{
		PutApps:        []*engine.App{minimal, noPorts, docker, command},
		PutTasks:       []*engine.Task{Task("/shop/docker", 1), Task("/shop/command", 2), bare},
		PutDeployments: []*engine.Deployment{Deployment("full", docker, command, minimal), emptyPlan},
		PutSubscriptions: []*engine.Subscription{
			Subscription("http://user:pass@127.0.0.1:10001/event?token=a%2Fb&x=1", 1),
			Subscription("https://[::1]:8443/ü/hook", 2),
			{CallbackURL: "http://bare.example/"},
		},
	}
	mustCommit(t, s, 0, txn)
	want.apply(txn)
	checkLoad(t, s, want, "")
}

func testRecordsAreCopied(t *testing.T, s engine.Store) {
	a, task, d := App("/shop/api", 1), Task("/shop/api", 1), Deployment("d", App("/shop/api", 1))
	mustCommit(t, s, 0, engine.Txn{PutApps: []*engine.App{a}, PutTasks: []*engine.Task{task}, PutDeployments: []*engine.Deployment{d}})

	// Changing what was committed must not change what is stored...
	a.Cmd, a.Labels["team"], a.Instances = "changed", "changed", 99
	task.Ports[0], task.State = 1, engine.TaskFailed
	d.Plan.Changes[0].After.Mem, d.CurrentStep = 1, 9
	want := emptyModel()
	want.apply(engine.Txn{
		PutApps:        []*engine.App{App("/shop/api", 1)},
		PutTasks:       []*engine.Task{Task("/shop/api", 1)},
		PutDeployments: []*engine.Deployment{Deployment("d", App("/shop/api", 1))},
	})
	checkLoad(t, s, want, "after changing the committed values")

	// ...nor must changing what was loaded.
	snap := mustLoad(t, s)
	snap.Apps["/shop/api"].Env["N"] = "changed"
	snap.Tasks[task.ID].Host = "changed"
	snap.Deployments["d"].Plan.Steps = nil
	delete(snap.Apps, "/shop/api")
	checkLoad(t, s, want, "after changing a loaded snapshot")
}

func testManyRecords(t *testing.T, s engine.Store) {
	const apps, tasksPerApp, deployments = 400, 3, 60
	want := emptyModel()
	var batch engine.Txn
	size := 0
	flush := func() {
		if size == 0 {
			return
		}
		mustCommit(t, s, want.Index, batch)
		want.apply(batch)
		batch, size = engine.Txn{}, 0
	}
	add := func(f func(txn *engine.Txn)) {
		f(&batch)
		if size++; size == MaxRecordsPerCommit {
			flush()
		}
	}
	for i := 0; i < apps; i++ {
		id := fmt.Sprintf("/group%d/app%d", i%10, i)
		add(func(txn *engine.Txn) { txn.PutApps = append(txn.PutApps, App(id, i)) })
		for j := 0; j < tasksPerApp; j++ {
			add(func(txn *engine.Txn) { txn.PutTasks = append(txn.PutTasks, Task(id, i*tasksPerApp+j)) })
		}
	}
	for i := 0; i < deployments; i++ {
		id := fmt.Sprintf("deployment-%d", i)
		add(func(txn *engine.Txn) {
			txn.PutDeployments = append(txn.PutDeployments, Deployment(id, App(fmt.Sprintf("/group0/app%d", i), i)))
		})
	}
	flush()
	checkLoad(t, s, want, "")
	if len(want.Apps) != apps || len(want.Tasks) != apps*tasksPerApp || len(want.Deployments) != deployments {
		t.Fatalf("the test built %d apps, %d tasks, %d deployments", len(want.Apps), len(want.Tasks), len(want.Deployments))
	}
}

func testConcurrentCommits(t *testing.T, s engine.Store) {
	const writers = 8
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		base := mustLoad(t, s)
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  = make([]error, writers)
			idx   = make([]uint64, writers)
		)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				txn := engine.Txn{
					PutTasks: []*engine.Task{Task("/race", round*writers+w)},
					PutApps:  []*engine.App{App(fmt.Sprintf("/race/w%d", w), round)},
				}
				idx[w], errs[w] = s.Commit(ctx, base.Index, txn)
			}()
		}
		close(start)
		wg.Wait()

		winner := -1
		for w, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: writers %d and %d both committed at index %d", round, winner, w, base.Index)
				}
				winner = w
				if idx[w] != base.Index+1 {
					t.Errorf("round %d: winner got index %d, want %d", round, idx[w], base.Index+1)
				}
			case !errors.Is(err, engine.ErrConflict):
				t.Fatalf("round %d: writer %d: got %v, want nil or ErrConflict", round, w, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no writer committed", round)
		}
		want := &model{*base}
		want.apply(engine.Txn{
			PutTasks: []*engine.Task{Task("/race", round*writers+winner)},
			PutApps:  []*engine.App{App(fmt.Sprintf("/race/w%d", winner), round)},
		})
		checkLoad(t, s, want, fmt.Sprintf("after round %d (writer %d won)", round, winner))
	}
}

// testConsistentLoad loads while commits run: every snapshot must show some number
// k of whole commits, never part of one.
func testConsistentLoad(t *testing.T, s engine.Store) {
	const commits = 40
	ctx := context.Background()
	// Commit i puts task i, and app i when i%3 == 0: k whole commits hold k tasks
	// and (k+2)/3 apps, and Serial has moved by (k+2)/3.
	txn := func(i int) engine.Txn {
		txn := engine.Txn{PutTasks: []*engine.Task{Task("/c", i)}}
		if i%3 == 0 {
			txn.PutApps = []*engine.App{App(fmt.Sprintf("/c/app%d", i), i)}
		}
		return txn
	}
	done := make(chan error, 1)
	go func() {
		for i := 0; i < commits; i++ {
			if _, err := s.Commit(ctx, uint64(i), txn(i)); err != nil {
				done <- fmt.Errorf("commit %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	check := func(snap *engine.Snapshot) {
		t.Helper()
		k := int(snap.Index)
		apps := (k + 2) / 3
		if len(snap.Tasks) != k || len(snap.Apps) != apps || snap.Serial != uint64(apps) {
			t.Fatalf("inconsistent snapshot at index %d: %d tasks (want %d), %d apps (want %d), serial %d (want %d)",
				k, len(snap.Tasks), k, len(snap.Apps), apps, snap.Serial, apps)
		}
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			snap := mustLoad(t, s)
			if snap.Index != commits {
				t.Fatalf("Index %d after %d commits", snap.Index, commits)
			}
			check(snap)
			return
		default:
			check(mustLoad(t, s))
		}
	}
}

// testModel drives the store with random transactions (seeded, so a failure
// replays) and checks after every commit that it holds exactly what a map model
// holds; one commit in six uses a stale index and must change nothing.
func testModel(t *testing.T, s engine.Store) {
	const steps = 120
	rng := rand.New(rand.NewPCG(20260102, 1))
	ctx := context.Background()
	want := emptyModel()
	// pick returns up to max distinct ids from pool, skipping those in taken.
	pick := func(pool, max int, prefix string, taken map[string]bool) []string {
		var ids []string
		for n := rng.IntN(max + 1); n > 0; n-- {
			id := fmt.Sprintf("%s%d", prefix, rng.IntN(pool))
			if !taken[id] {
				taken[id] = true
				ids = append(ids, id)
			}
		}
		return ids
	}
	for step := 0; step < steps; step++ {
		var txn engine.Txn
		taken := map[string]bool{}
		for _, id := range pick(6, 3, "/m/app", taken) {
			txn.PutApps = append(txn.PutApps, App(id, rng.IntN(1000)))
		}
		txn.DeleteApps = pick(6, 2, "/m/app", taken)
		for _, id := range pick(12, 4, "task.", taken) {
			task := Task("/m/app0", rng.IntN(1000))
			task.ID = id
			txn.PutTasks = append(txn.PutTasks, task)
		}
		txn.DeleteTasks = pick(12, 3, "task.", taken)
		for _, id := range pick(4, 2, "deployment-", taken) {
			txn.PutDeployments = append(txn.PutDeployments, Deployment(id, App("/m/app1", rng.IntN(1000))))
		}
		txn.DeleteDeployments = pick(4, 1, "deployment-", taken)
		for _, id := range pick(4, 2, "/m/g", taken) {
			txn.PutGroups = append(txn.PutGroups, Group(id, rng.IntN(1000)))
		}
		txn.DeleteGroups = pick(4, 1, "/m/g", taken)
		if rng.IntN(5) == 0 {
			fw := fmt.Sprintf("fw-%d", step)
			txn.FrameworkID = &fw
		}
		for _, id := range pick(4, 1, "http://127.0.0.1:10001/s", taken) {
			txn.PutSubscriptions = append(txn.PutSubscriptions, Subscription(id, rng.IntN(1000)))
		}
		txn.DeleteSubscriptions = pick(4, 1, "http://127.0.0.1:10001/s", taken)

		if rng.IntN(6) == 0 {
			stale := want.Index + 1 + uint64(rng.IntN(3))
			if want.Index > 0 && rng.IntN(2) == 0 {
				stale = uint64(rng.IntN(int(want.Index)))
			}
			if _, err := s.Commit(ctx, stale, txn); !errors.Is(err, engine.ErrConflict) {
				t.Fatalf("step %d: Commit(expect %d) at index %d: got %v, want ErrConflict", step, stale, want.Index, err)
			}
		} else {
			mustCommit(t, s, want.Index, txn)
			want.apply(txn)
		}
		checkLoad(t, s, want, fmt.Sprintf("after step %d", step))
	}
}

// testGroups: group records are stored, replaced and deleted like the others,
// and never move Serial.
func testGroups(t *testing.T, s engine.Store) {
	want := emptyModel()
	for i, txn := range []engine.Txn{
		{PutGroups: []*engine.Group{Group("/", 1), Group("/shop", 2), Group("/shop/eu", 3)}},
		{PutGroups: []*engine.Group{{ID: "/bare"}}},
		{PutGroups: []*engine.Group{Group("/shop", 4)}, DeleteGroups: []string{"/shop/eu"}},
		{PutApps: []*engine.App{App("/shop/api", 1)}, PutGroups: []*engine.Group{Group("/shop", 5)}},
	} {
		mustCommit(t, s, want.Index, txn)
		want.apply(txn)
		checkLoad(t, s, want, fmt.Sprintf("after commit %d", i))
	}
	if want.Serial != 1 {
		t.Fatalf("the model's serial is %d", want.Serial)
	}
}

// testGroupVersions checks the history rules of engine.Store for groups:
// records come back as committed, newest first; the newest MaxGroupVersions
// are kept; a deleted group keeps its history; a group put anew loses the old
// one (before the same commit records new versions); unknown ids and versions
// are ErrNotFound or empty.
func testGroupVersions(t *testing.T, s engine.Store) {
	ctx := context.Background()
	idx := uint64(0)
	commit := func(txn engine.Txn) {
		t.Helper()
		idx = mustCommit(t, s, idx, txn)
	}
	versions := func(id string) []string {
		t.Helper()
		vs, err := s.GroupVersions(ctx, id)
		if err != nil {
			t.Fatalf("GroupVersions(%q): %v", id, err)
		}
		return vs
	}
	if vs := versions("/none"); vs == nil || len(vs) != 0 {
		t.Fatalf("GroupVersions of an unknown id: %#v, want an empty list", vs)
	}
	if _, err := s.GroupVersion(ctx, "/none", Version(1)); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("GroupVersion of an unknown id: %v, want ErrNotFound", err)
	}

	// One record per commit; the newest MaxGroupVersions kept, several per commit
	// at the end (under MaxRecordsPerCommit).
	first := GroupVersion("/shop", 1)
	commit(engine.Txn{PutGroups: []*engine.Group{first.Group}, PutGroupVersions: []*engine.GroupVersion{first}})
	for n := 2; n <= engine.MaxGroupVersions; n++ {
		gv := GroupVersion("/shop", n)
		commit(engine.Txn{PutGroups: []*engine.Group{gv.Group}, PutGroupVersions: []*engine.GroupVersion{gv}})
	}
	got, err := s.GroupVersion(ctx, "/shop", Version(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffAny("GroupVersion", got, first); d != "" {
		t.Fatalf("GroupVersion(/shop, v1) differs from what was committed:\n%s", d)
	}
	batch := engine.Txn{PutGroups: []*engine.Group{Group("/shop", 99)}}
	for n := engine.MaxGroupVersions + 1; n <= engine.MaxGroupVersions+3; n++ {
		batch.PutGroupVersions = append(batch.PutGroupVersions, GroupVersion("/shop", n))
	}
	commit(batch)
	vs := versions("/shop")
	if len(vs) != engine.MaxGroupVersions || vs[0] != Version(engine.MaxGroupVersions+3) || vs[len(vs)-1] != Version(4) {
		t.Fatalf("after %d versions: %d kept, %s .. %s; want the newest %d", engine.MaxGroupVersions+3, len(vs), vs[0], vs[len(vs)-1], engine.MaxGroupVersions)
	}
	if _, err := s.GroupVersion(ctx, "/shop", Version(3)); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a pruned version: %v, want ErrNotFound", err)
	}

	// Deleting keeps the history; putting the id anew drops it first, and the
	// same commit's versions are kept.
	other := GroupVersion("/other", 1)
	commit(engine.Txn{PutGroups: []*engine.Group{other.Group}, PutGroupVersions: []*engine.GroupVersion{other}})
	commit(engine.Txn{DeleteGroups: []string{"/other"}})
	if vs := versions("/other"); len(vs) != 1 {
		t.Fatalf("a deleted group's history: %v", vs)
	}
	again := GroupVersion("/other", 7)
	commit(engine.Txn{PutGroups: []*engine.Group{again.Group}, PutGroupVersions: []*engine.GroupVersion{again}})
	if vs := versions("/other"); len(vs) != 1 || vs[0] != Version(7) {
		t.Fatalf("a group put anew: history %v, want only %s", vs, Version(7))
	}
	if vs := versions("/shop"); len(vs) != engine.MaxGroupVersions {
		t.Fatalf("another group's history changed: %d versions", len(vs))
	}
}

// diffAny compares two values of one type as Diff compares records.
func diffAny(name string, got, want any) string {
	var d differ
	diffValue(&d, name, reflect.ValueOf(got), reflect.ValueOf(want))
	return d.String()
}
