package consul

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/engine/store/storetest"
)

// bigApp is an app whose stored value is several times Consul's value limit:
// labels of random (incompressible) text.
func bigApp(id string, n int) *engine.App {
	a := storetest.App(id, n)
	a.Labels = map[string]string{}
	for i := 0; i < 12; i++ {
		b := make([]byte, 48<<10)
		_, _ = rand.Read(b)
		a.Labels["L"+string(rune('a'+i))] = base64.StdEncoding.EncodeToString(b)
	}
	return a
}

func keysUnder(t *testing.T, a *consultest.Agent, prefix string) []string {
	t.Helper()
	keys, _, err := a.Client(t).KV().Keys(prefix, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// A record larger than one Consul value is split into chunks written in the
// same commit, read back whole (Load, AppVersion, a deployment carrying it),
// and its chunks go with it when it is rewritten small or deleted. A missing
// chunk makes the record unreadable, not the store.
func TestLargeValuesAreChunked(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	ctx := context.Background()
	for _, maxOps := range []int{0, 8} { // in one transaction, and through the journal
		p := nextPrefix()
		s := open(t, a, p, maxOps)
		big := bigApp("/big", 1)
		big.Version = storetest.Version(1)
		dep := storetest.Deployment("d1", big)
		idx, err := s.Commit(ctx, 0, engine.Txn{PutApps: []*engine.App{big}, PutDeployments: []*engine.Deployment{dep}})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(keysUnder(t, a, p+"chunks/apps/")); n < 2 {
			t.Fatalf("%d chunks for a %d-label app", n, len(big.Labels))
		}
		snap, err := open(t, a, p, maxOps).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Unreadable) > 0 || !reflect.DeepEqual(snap.Apps["/big"], big) {
			t.Fatalf("the big app did not come back whole (unreadable: %v)", snap.Unreadable)
		}
		if got := snap.Deployments["d1"]; got == nil || !reflect.DeepEqual(got.Plan.Changes[0].After, big) {
			t.Fatal("the deployment does not carry the big app")
		}
		v, err := s.AppVersion(ctx, "/big", big.Version)
		if err != nil || !reflect.DeepEqual(v, big) {
			t.Fatalf("AppVersion of a chunked version: %v", err)
		}

		// Rewritten small: the app's chunks go (its version's stay).
		small := storetest.App("/big", 2)
		small.Version = storetest.Version(2)
		if idx, err = s.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{small}}); err != nil {
			t.Fatal(err)
		}
		if keys := keysUnder(t, a, p+"chunks/apps/"); len(keys) != 0 {
			t.Fatalf("chunks left after a small rewrite: %v", keys)
		}
		if keys := keysUnder(t, a, p+"chunks/versions/"); len(keys) < 2 {
			t.Fatal("the big version's chunks went with the app's")
		}

		// A lost chunk: that record is unreadable, the rest loads.
		big2 := bigApp("/other", 3)
		if idx, err = s.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{big2}}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Client(t).KV().Delete(p+"chunks/apps/"+esc("/other")+"/1", nil); err != nil {
			t.Fatal(err)
		}
		snap, err = open(t, a, p, maxOps).Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Unreadable) != 1 || snap.Unreadable[0].ID != "/other" || snap.Apps["/big"] == nil {
			t.Fatalf("unreadable %v, apps %d", snap.Unreadable, len(snap.Apps))
		}
		if _, err = s.Commit(ctx, idx, engine.Txn{DeleteApps: []string{"/other"}}); err != nil {
			t.Fatal(err)
		}
		if keys := keysUnder(t, a, p+"chunks/apps/"); len(keys) != 0 {
			t.Fatalf("chunks left after a delete: %v", keys)
		}
	}
}

// A deployment refers to the recorded app versions it carries instead of
// embedding them; Load resolves them; a referenced version outlives the
// history's pruning while the deployment is stored, and cannot be rewritten
// with other content.
func TestDeploymentsReferToAppVersions(t *testing.T) {
	a := consultest.Start(t, consultest.Options{})
	ctx := context.Background()
	p := nextPrefix()
	s := open(t, a, p, 0)
	v1 := storetest.App("/web", 1)
	v1.Version = storetest.Version(1)
	v1.Cmd = "./serve --marker-v1"
	idx, err := s.Commit(ctx, 0, engine.Txn{PutApps: []*engine.App{v1}, PutDeployments: []*engine.Deployment{storetest.Deployment("create", v1)}})
	if err != nil {
		t.Fatal(err)
	}
	v2 := v1.Clone()
	v2.Version, v2.Cmd = storetest.Version(2), "./serve --marker-v2"
	unrecorded := storetest.App("/ghost", 9)
	unrecorded.Version = storetest.Version(9)
	upd := &engine.Deployment{ID: "update", Version: v2.Version, Status: engine.DeploymentRunning, CreatedAt: v2.Version,
		Plan: &engine.Plan{FormatVersion: engine.PlanFormatVersion, Scope: "/", Changes: []*engine.Change{
			{ID: "/web", Action: engine.ActionRestart, Before: v1, After: v2, Fields: []engine.FieldChange{}},
			{ID: "/ghost", Action: engine.ActionDestroy, Before: unrecorded, Fields: []engine.FieldChange{}, Step: 1},
		}}}
	if idx, err = s.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{v2}, PutDeployments: []*engine.Deployment{upd}}); err != nil {
		t.Fatal(err)
	}
	kv, _, err := a.Client(t).KV().Get(p+"deployments/update", nil)
	if err != nil || kv == nil {
		t.Fatalf("read the record: %v", err)
	}
	raw, _ := unpack(kv.Value)
	if strings.Contains(string(raw), "marker-v1") || strings.Contains(string(raw), "marker-v2") || !strings.Contains(string(raw), `"app_refs"`) {
		t.Fatalf("the deployment embeds its recorded apps:\n%s", raw)
	}
	if !strings.Contains(string(raw), unrecorded.Cmd) {
		t.Fatal("an app without a recorded version was not embedded")
	}
	check := func(st *Store) {
		t.Helper()
		snap, err := st.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d := snap.Deployments["update"]
		if len(snap.Unreadable) > 0 || d == nil || !reflect.DeepEqual(d.Plan.Changes[0].Before, v1) ||
			!reflect.DeepEqual(d.Plan.Changes[0].After, v2) || !reflect.DeepEqual(d.Plan.Changes[1].Before, unrecorded) {
			t.Fatalf("the deployment did not come back whole (unreadable %v)", snap.Unreadable)
		}
	}
	check(s)

	// More versions than the history keeps: v1 stays while "update" refers to
	// it — also for a store that never loaded.
	fresh := open(t, a, p, 0)
	cur := v2
	for i := 3; i < 3+engine.MaxAppVersions+2; i++ {
		cur = cur.Clone()
		cur.Version, cur.Instances = storetest.Version(i), i
		if idx, err = fresh.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{cur}}); err != nil {
			t.Fatal(err)
		}
	}
	check(open(t, a, p, 0))
	if _, err := fresh.AppVersion(ctx, "/web", v1.Version); err != nil {
		t.Fatalf("a referenced version was pruned: %v", err)
	}
	// A referenced version is never rewritten with other content.
	clash := v1.Clone()
	clash.Cmd = "./something-else"
	if _, err := fresh.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{clash}}); err == nil || !strings.Contains(err.Error(), "other content") {
		t.Fatalf("rewriting a referenced version: %v", err)
	}
	// Once the deployments are gone, the next put prunes it.
	if idx, err = fresh.Commit(ctx, idx, engine.Txn{DeleteDeployments: []string{"update", "create"}}); err != nil {
		t.Fatal(err)
	}
	cur = cur.Clone()
	cur.Version = storetest.Version(100)
	if _, err = fresh.Commit(ctx, idx, engine.Txn{PutApps: []*engine.App{cur}}); err != nil {
		t.Fatal(err)
	}
	vs, err := fresh.AppVersions(ctx, "/web")
	if err != nil || len(vs) != engine.MaxAppVersions {
		t.Fatalf("%d versions kept (%v), want %d", len(vs), err, engine.MaxAppVersions)
	}
}
