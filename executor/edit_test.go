package executor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// edit applies an Edit through the same path as every write.
func (h *harness) edit(fn func(d *Desired) error) *WriteResult {
	h.t.Helper()
	res, err := h.e.apply(h.ctx, ApplyRequest{Edit: fn})
	if err != nil {
		h.t.Fatalf("edit: %v", err)
	}
	return res
}

// settleDeployments runs offers, status updates and ticks (letting StableAfter
// pass) until no deployment runs.
func (h *harness) settleDeployments() {
	h.t.Helper()
	for round := 0; round < 20 && len(h.e.deployments) > 0; round++ {
		h.tick()
		h.offer(2)
		h.runLaunched()
		h.finishKills()
		h.settle()
		h.tick()
	}
	if len(h.e.deployments) != 0 {
		h.t.Fatalf("deployments still running: %d", len(h.e.deployments))
	}
}

func (h *harness) groupVersion(id, version string) *engine.GroupVersion {
	h.t.Helper()
	gv, err := h.store.GroupVersion(h.ctx, id, version)
	if err != nil {
		h.t.Fatal(err)
	}
	return gv
}

// An edit is planned and deployed like an apply; every group on the way to a
// changed app gets the change's version and a history record listing what
// changed under it.
func TestEditRecordsGroupsAndTheirVersions(t *testing.T) {
	h := newHarness(t)
	res := h.edit(func(d *Desired) error {
		d.PutApp(testApp("/shop/api", 1, "api"))
		d.PutApp(testApp("/shop/web", 1, "web"))
		d.PutGroup(&engine.Group{ID: "/shop", Dependencies: []string{"/infra"}})
		d.PutGroup(&engine.Group{ID: "/infra"})
		return nil
	})
	if res.Deployment == nil || res.Version == "" || res.Plan.Summary.Create != 2 {
		t.Fatalf("create: %+v", res)
	}
	v1 := res.Version
	for _, id := range []string{"/", "/shop", "/infra"} {
		if g := h.store.snap.Groups[id]; g == nil || g.Version != v1 {
			t.Fatalf("group %s stored as %+v, want version %s", id, g, v1)
		}
	}
	if deps := h.store.snap.Groups["/shop"].Dependencies; !slices.Equal(deps, []string{"/infra"}) {
		t.Fatalf("/shop dependencies %v", deps)
	}
	root := h.groupVersion("/", v1)
	if len(root.Apps) != 2 || root.Apps[0] != (engine.VersionChange{ID: "/shop/api", After: v1}) {
		t.Fatalf("root record apps: %+v", root.Apps)
	}
	if len(root.Groups) != 3 || root.Groups[0] != (engine.VersionChange{ID: "/", After: v1}) {
		t.Fatalf("root record groups: %+v", root.Groups)
	}
	h.settleDeployments()

	// A scale of one app: a new version for it and the groups above, not for
	// its sibling nor for /infra.
	res = h.edit(func(d *Desired) error {
		a := d.App("/shop/api").Clone()
		a.Instances = 3
		d.PutApp(a)
		return nil
	})
	v2 := res.Version
	if res.Plan.Summary.Scale != 1 || !newerOrEqual(v2, v1) || v2 == v1 {
		t.Fatalf("scale: %+v (v1 %s)", res, v1)
	}
	if h.store.snap.Groups["/shop"].Version != v2 || h.store.snap.Groups["/infra"].Version != v1 || h.store.snap.Apps["/shop/web"].Version != v1 {
		t.Fatalf("versions after the scale: /shop %s, /infra %s, web %s", h.store.snap.Groups["/shop"].Version, h.store.snap.Groups["/infra"].Version, h.store.snap.Apps["/shop/web"].Version)
	}
	if vi := h.store.snap.Apps["/shop/api"].VersionInfo; vi.LastScalingAt != v2 || vi.LastConfigChangeAt != v1 {
		t.Fatalf("versionInfo after a scale: %+v", vi)
	}
	shop := h.groupVersion("/shop", v2)
	if len(shop.Apps) != 1 || shop.Apps[0] != (engine.VersionChange{ID: "/shop/api", Before: v1, After: v2}) {
		t.Fatalf("/shop record: %+v", shop)
	}
	if vs, _ := h.store.GroupVersions(h.ctx, "/shop"); !slices.Equal(vs, []string{v2, v1}) {
		t.Fatalf("/shop versions %v", vs)
	}
	h.settleDeployments()

	// Deleting a group with its apps removes its record; the root's record
	// says so.
	res = h.edit(func(d *Desired) error {
		for _, a := range d.AppsUnder("/shop") {
			d.DeleteApp(a.ID)
		}
		d.DeleteGroup("/shop")
		return nil
	})
	v3 := res.Version
	if _, ok := h.store.snap.Groups["/shop"]; ok {
		t.Fatal("/shop is still stored")
	}
	root = h.groupVersion("/", v3)
	if !slices.Contains(root.Groups, engine.VersionChange{ID: "/shop", Before: v2}) || len(root.Apps) != 2 {
		t.Fatalf("root record of the delete: %+v", root)
	}
	h.settleDeployments()

	// The group as it was, rebuilt from the histories.
	h.e.publish()
	st, err := h.e.GroupAt(h.ctx, "/", v2)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range st.Apps {
		ids = append(ids, a.ID)
		if a.ID == "/shop/api" && a.Instances != 3 {
			t.Errorf("/shop/api at %s has %d instances", v2, a.Instances)
		}
	}
	if !slices.Equal(ids, []string{"/shop/api", "/shop/web"}) || len(st.Groups) != 3 || st.Groups[2].ID != "/shop" || st.Groups[2].Dependencies[0] != "/infra" {
		t.Fatalf("/ at %s: apps %v, groups %+v", v2, ids, st.Groups)
	}
	st, err = h.e.GroupAt(h.ctx, "/", v1)
	if err != nil || st.Apps[0].Instances != 1 {
		t.Fatalf("/ at %s: %+v %v", v1, st, err)
	}
	if _, err := h.e.GroupAt(h.ctx, "/", "2001-01-01T00:00:00.000Z"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("an unknown version: %v", err)
	}
	if _, err := h.e.GroupAt(h.ctx, "/shop", v1); !errors.Is(err, ErrNoGroup) {
		t.Fatalf("a deleted group: %v", err)
	}
}

// An app cannot take a group's id nor live under another app; the edit changes
// nothing.
func TestEditRejectsAppsOverlappingGroups(t *testing.T) {
	h := newHarness(t)
	h.edit(func(d *Desired) error {
		d.PutApp(testApp("/a", 1, "a"))
		d.PutApp(testApp("/g/b", 1, "b"))
		return nil
	})
	commits := len(h.store.commits)
	for name, a := range map[string]*engine.App{
		"under an app": testApp("/a/x", 1, "x"),
		"a group's id": testApp("/g", 1, "g"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.e.apply(h.ctx, ApplyRequest{Edit: func(d *Desired) error { d.PutApp(a); return nil }})
			var fe engine.FieldErrors
			if !errors.As(err, &fe) || fe[0].Path != "/id" {
				t.Fatalf("err = %v, want an /id error", err)
			}
		})
	}
	if len(h.store.commits) != commits {
		t.Fatal("a refused edit wrote")
	}
}

// An edit's error is returned as is and nothing is written.
func TestEditErrorChangesNothing(t *testing.T) {
	h := newHarness(t)
	boom := errors.New("boom")
	_, err := h.e.apply(h.ctx, ApplyRequest{Edit: func(d *Desired) error {
		d.PutApp(testApp("/a", 1, "a"))
		return boom
	}})
	if !errors.Is(err, boom) || len(h.store.commits) != 0 || len(h.e.apps) != 0 {
		t.Fatalf("err %v, %d commits", err, len(h.store.commits))
	}
}

// Kill-and-scale: the named task is killed and the app's instances go down
// with it, through a scale deployment that kills nothing else.
func TestKillAndScale(t *testing.T) {
	h := newHarness(t)
	h.apply(spec(testApp("/web", 3, "sleep 100")))
	h.settleDeployments()
	tasks := h.ids(engine.TaskRunning)
	victim := tasks[1]
	res := h.edit(func(d *Desired) error {
		a := d.App("/web").Clone()
		a.Instances--
		d.PutApp(a)
		d.KillTasks(victim)
		return nil
	})
	if res.Plan.Summary.Scale != 1 || h.e.apps["/web"].Instances != 2 {
		t.Fatalf("kill and scale: %+v", res.Plan.Summary)
	}
	if !slices.Equal(h.mesos.killed, []string{victim}) {
		t.Fatalf("killed %v, want only %s", h.mesos.killed, victim)
	}
	h.settleDeployments()
	if !slices.Equal(h.mesos.killed, []string{victim}) || len(h.ids(engine.TaskRunning)) != 2 {
		t.Fatalf("after the scale: killed %v, %d running", h.mesos.killed, len(h.ids(engine.TaskRunning)))
	}
}

// Versions increase strictly even when the clock does not move (the harness
// clock stands still).
func TestVersionsIncreaseWithinAMillisecond(t *testing.T) {
	h := newHarness(t)
	var last string
	for i := 1; i <= 3; i++ {
		res := h.edit(func(d *Desired) error { d.PutApp(testApp(fmt.Sprintf("/a%d", i), i, "a")); return nil })
		if res.Version == last || !newerOrEqual(res.Version, last) {
			t.Fatalf("version %d: %s after %s", i, res.Version, last)
		}
		last = res.Version
	}
	// A new leader continues after the stored versions.
	h.restart()
	res := h.edit(func(d *Desired) error { d.PutApp(testApp("/a9", 9, "a")); return nil })
	if !newerOrEqual(res.Version, last) || res.Version == last {
		t.Fatalf("after a restart: %s, last %s", res.Version, last)
	}
}

// The Spec path keeps the groups the files declare and drops, with their apps,
// those they no longer hold (under the scope only).
func TestSpecApplyKeepsDeclaredGroups(t *testing.T) {
	h := newHarness(t)
	h.edit(func(d *Desired) error { d.PutApp(testApp("/other/x", 1, "x")); return nil })
	s := spec(testApp("/shop/api", 1, "api"), testApp("/shop/old/y", 1, "y"))
	s.Scope = "/shop"
	s.Groups = []*engine.Group{{ID: "/shop", Dependencies: []string{"/other"}, Labels: map[string]string{"t": "1"}}, {ID: "/shop/empty"}}
	h.apply(s)
	for _, id := range []string{"/", "/other", "/shop", "/shop/empty", "/shop/old"} {
		if h.store.snap.Groups[id] == nil {
			t.Fatalf("group %s not stored", id)
		}
	}
	if g := h.store.snap.Groups["/shop"]; !slices.Equal(g.Dependencies, []string{"/other"}) || g.Labels["t"] != "1" {
		t.Fatalf("/shop: %+v", g)
	}
	h.settleDeployments()
	s = spec(testApp("/shop/api", 1, "api"))
	s.Scope = "/shop"
	h.apply(s)
	for id, want := range map[string]bool{"/shop/old": false, "/shop/empty": false, "/shop": true, "/other": true} {
		if got := h.store.snap.Groups[id] != nil; got != want {
			t.Errorf("group %s stored: %v, want %v", id, got, want)
		}
	}
}

// Groups of a state written before groups were stored are made up from the
// apps, versioned by their newest app, and written with the next change.
func TestGroupsOfOlderStateAreFilledIn(t *testing.T) {
	h := newHarness(t)
	a, b := testApp("/shop/a", 1, "a"), testApp("/shop/eu/b", 1, "b")
	a.Version, b.Version = "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"
	h.store.snap.Apps = map[string]*engine.App{a.ID: a, b.ID: b}
	h.restart()
	want := map[string]string{"/": b.Version, "/shop": b.Version, "/shop/eu": b.Version}
	if len(h.e.groups) != len(want) {
		t.Fatalf("groups %v", h.e.groups)
	}
	for id, v := range want {
		if g := h.e.groups[id]; g == nil || g.Version != v {
			t.Fatalf("group %s: %+v, want version %s", id, g, v)
		}
	}
	if len(h.store.snap.Groups) != 0 {
		t.Fatal("filling in wrote")
	}
}

// The launch delay of a failing app can be reset; resetting an app that does
// not back off says so.
func TestResetLaunchDelay(t *testing.T) {
	h := newHarness(t)
	app := testApp("/flaky", 1, "sleep 5")
	app.BackoffSeconds = 60
	h.apply(spec(app))
	h.offer(1)
	id := h.mesos.launched[0].TaskID.Value
	h.status(id, mesos.TASK_FAILED, "boom")
	if h.e.launchDelayFor("/flaky", h.clock.t) == 0 {
		t.Fatal("no delay after a failure")
	}
	if !h.e.resetLaunchDelay("/flaky") || h.e.launchDelayFor("/flaky", h.clock.t) != 0 {
		t.Fatal("the delay was not reset")
	}
	if h.e.resetLaunchDelay("/flaky") || h.e.resetLaunchDelay("/none") {
		t.Fatal("a reset without a delay reported one")
	}
	h.offer(1)
	if len(h.mesos.launched) != 2 {
		t.Fatalf("launched %d after the reset, want the replacement at once", len(h.mesos.launched))
	}
}

// Offers an app cannot use are counted under Marathon's reason names, per
// launch attempt and per agent's last offer, and forgotten once the app has
// nothing left to launch.
func TestOfferStatistics(t *testing.T) {
	h := newHarness(t)
	app := testApp("/big", 2, "x")
	app.Constraints = []engine.Constraint{{Field: "hostname", Operator: engine.OpUnique}}
	h.apply(spec(app))
	h.tick()
	h.offer(1) // one instance placed on agent 1
	h.clock.advance(time.Second)
	h.offer(1) // agent 1 again: UNIQUE excludes it
	h.e.publish()
	st := h.e.View().App("/big").Offers
	if st == nil {
		t.Fatal("no offer statistics")
	}
	if st.Processed != 2 || st.Unused != 1 || st.Attempt["UnfulfilledConstraint"] != 1 || st.LastOffers["UnfulfilledConstraint"] != 1 || st.LastOffersTotal != 1 {
		t.Fatalf("statistics: %+v", st)
	}
	if len(st.LastUnused) != 1 || st.LastUnused[0].Reason != "UnfulfilledConstraint" || st.LastUnused[0].AgentID != "a1" || st.LastUsedAt.IsZero() {
		t.Fatalf("last unused: %+v", st.LastUnused)
	}
	h.offer(2) // agent 2 takes the second
	h.runLaunched()
	h.tick()
	h.e.publish()
	if st := h.e.View().App("/big").Offers; st != nil {
		t.Fatalf("statistics kept after the launch attempt: %+v", st)
	}
	if !strings.HasPrefix(OfferReasons[0], "Unfulfilled") || len(OfferReasons) != 10 {
		t.Fatal("OfferReasons changed")
	}
}

// The executor validates what an edit puts (the last line, whoever calls it),
// and only that: a stored app outside the limits does not block other writes.
func TestEditValidatesWhatItPuts(t *testing.T) {
	h := newHarness(t)
	bad := testApp("/bad", 1, "x")
	bad.Cpus = -1
	_, err := h.e.apply(h.ctx, ApplyRequest{Edit: func(d *Desired) error { d.PutApp(bad); return nil }})
	var fe engine.FieldErrors
	if !errors.As(err, &fe) || fe[0].Path != "/cpus" || !strings.HasPrefix(fe[0].Errors[0], "app /bad: ") {
		t.Fatalf("err = %v", err)
	}
	stored := testApp("/stored", 1, "x")
	stored.Instances = 1 << 30 // over the limit, written by an older release
	h.store.snap.Apps = map[string]*engine.App{stored.ID: stored}
	h.restart()
	if res := h.edit(func(d *Desired) error { d.PutApp(testApp("/fine", 1, "x")); return nil }); res.Plan.Summary.Create != 1 {
		t.Fatalf("a write next to an app set aside: %+v", res.Plan.Summary)
	}
}
