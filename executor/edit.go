package executor

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Desired is the deployed state as a write through the Marathon API changes it.
// An ApplyRequest's Edit gets one on the actor, holding the apps and groups as
// they are now; it replaces, adds and removes apps and groups, asks for restarts
// and kills, and the executor then plans the result against the deployed state
// and deploys it exactly as `stride apply` would (one deployment path). Reading
// and editing on the actor makes a read-modify-write — a partial update, a
// scale, a group update — atomic with respect to every other write.
//
// Apps and groups handed out belong to the executor: an edit replaces them
// (PutApp of a changed Clone), it never changes them in place.
type Desired struct {
	baseApps   map[string]*engine.App
	baseGroups map[string]*engine.Group
	tasks      map[string]*taskState
	// apps and groups overlay the base: a nil value is a removal.
	apps    map[string]*engine.App
	groups  map[string]*engine.Group
	restart map[string]bool
	kill    []string
}

func newDesired(e *Executor) *Desired {
	return &Desired{
		baseApps: e.apps, baseGroups: e.groups, tasks: e.tasks,
		apps: map[string]*engine.App{}, groups: map[string]*engine.Group{}, restart: map[string]bool{},
	}
}

// NewDesired returns a Desired over the given apps, groups and tasks, for
// backends that are not an Executor (tests of the API).
func NewDesired(apps map[string]*engine.App, groups map[string]*engine.Group, tasks []*engine.Task) *Desired {
	ts := make(map[string]*taskState, len(tasks))
	for _, t := range tasks {
		ts[t.ID] = &taskState{Task: *t}
	}
	return &Desired{baseApps: apps, baseGroups: groups, tasks: ts, apps: map[string]*engine.App{}, groups: map[string]*engine.Group{}, restart: map[string]bool{}}
}

// App returns the app with that id, or nil.
func (d *Desired) App(id string) *engine.App {
	if a, ok := d.apps[id]; ok {
		return a
	}
	return d.baseApps[id]
}

// Group returns the group record with that id, or nil. Every group that holds
// an app has one.
func (d *Desired) Group(id string) *engine.Group {
	if g, ok := d.groups[id]; ok {
		return g
	}
	return d.baseGroups[id]
}

// AppsUnder returns the apps at or under id ("/": every app), sorted by id.
func (d *Desired) AppsUnder(id string) []*engine.App {
	return under(d.baseApps, d.apps, id, func(a *engine.App) string { return a.ID })
}

// GroupsUnder returns the group records at or under id, sorted by id.
func (d *Desired) GroupsUnder(id string) []*engine.Group {
	return under(d.baseGroups, d.groups, id, func(g *engine.Group) string { return g.ID })
}

// under returns the records at or under id of base overlaid with over (where a
// nil record in over deletes), sorted by their ids.
func under[T any](base, over map[string]*T, id string, idOf func(*T) string) []*T {
	var out []*T
	for k, v := range base {
		if _, replaced := over[k]; !replaced && engine.InScope(k, id) {
			out = append(out, v)
		}
	}
	for k, v := range over {
		if v != nil && engine.InScope(k, id) {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return idOf(out[i]) < idOf(out[j]) })
	return out
}

// PutApp makes a the desired definition of its id (created or replaced). Its
// groups are created as needed.
func (d *Desired) PutApp(a *engine.App) { d.apps[a.ID] = a }

// DeleteApp removes the app (its tasks are killed by the deployment).
func (d *Desired) DeleteApp(id string) { d.apps[id] = nil }

// PutGroup makes g the record of its group (created or replaced).
func (d *Desired) PutGroup(g *engine.Group) { d.groups[g.ID] = g }

// DeleteGroup removes the group record (not what it holds: remove that too).
func (d *Desired) DeleteGroup(id string) { d.groups[id] = nil }

// Restart asks for every task of the app to be replaced even when its
// definition does not change (Marathon's restart).
func (d *Desired) Restart(id string) { d.restart[id] = true }

// KillTasks asks for these tasks to be killed once the change is recorded
// (Marathon's kill with scale=true: the app's instances go down with them, so
// they are not replaced).
func (d *Desired) KillTasks(ids ...string) { d.kill = append(d.kill, ids...) }

// Tasks returns copies of the app's live tasks, sorted by id.
func (d *Desired) Tasks(appID string) []engine.Task {
	var out []engine.Task
	for _, t := range d.tasks {
		if t.AppID == appID && !isGone(t.State) {
			out = append(out, t.Task)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Task returns a copy of a live task, or false.
func (d *Desired) Task(id string) (engine.Task, bool) {
	t, ok := d.tasks[id]
	if !ok || isGone(t.State) {
		return engine.Task{}, false
	}
	return t.Task, true
}

// String describes the edit, one change after the other in id order: "put app
// /a (3 instances); delete app /b; put group /g; restart /a; kill t1".
func (d *Desired) String() string {
	var parts []string
	for _, id := range d.changedApps() {
		if a := d.apps[id]; a != nil {
			parts = append(parts, fmt.Sprintf("put app %s (%d instances)", id, a.Instances))
		} else {
			parts = append(parts, "delete app "+id)
		}
	}
	gids := make([]string, 0, len(d.groups))
	for id := range d.groups {
		gids = append(gids, id)
	}
	sort.Strings(gids)
	for _, id := range gids {
		if g := d.groups[id]; g != nil {
			parts = append(parts, fmt.Sprintf("put group %s %v", id, g.Dependencies))
		} else {
			parts = append(parts, "delete group "+id)
		}
	}
	rs := make([]string, 0, len(d.restart))
	for id := range d.restart {
		rs = append(rs, id)
	}
	sort.Strings(rs)
	for _, id := range rs {
		parts = append(parts, "restart "+id)
	}
	for _, id := range d.kill {
		parts = append(parts, "kill "+id)
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

// changedApps returns the ids the edit put or deleted, sorted.
func (d *Desired) changedApps() []string {
	ids := make([]string, 0, len(d.apps))
	for id := range d.apps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// spec returns every desired app as a Spec of scope "/" and the desired groups.
func (d *Desired) spec() (*engine.Spec, map[string]*engine.Group) {
	spec := &engine.Spec{Scope: "/", Apps: d.AppsUnder("/")}
	groups := make(map[string]*engine.Group, len(d.baseGroups)+len(d.groups))
	for id, g := range d.baseGroups {
		groups[id] = g
	}
	for id, g := range d.groups {
		if g == nil {
			delete(groups, id)
		} else {
			groups[id] = g
		}
	}
	for _, g := range groups {
		spec.Groups = append(spec.Groups, g)
	}
	sort.Slice(spec.Groups, func(i, j int) bool { return spec.Groups[i].ID < spec.Groups[j].ID })
	return spec, groups
}

// checkTree reports apps whose id is also a group's or lies under another app,
// among the apps the edit put: Marathon's ids name either an app or a group.
func (d *Desired) checkTree(groups map[string]*engine.Group) engine.FieldErrors {
	var fe engine.FieldErrors
	for _, id := range d.changedApps() {
		if d.apps[id] == nil {
			continue
		}
		if _, isGroup := groups[id]; isGroup {
			fe = append(fe, engine.FieldError{Path: "/id", Errors: []string{fmt.Sprintf("%s is a group: an app cannot have a group's id", id)}})
			continue
		}
		for p := engine.ParentID(id); p != "/"; p = engine.ParentID(p) {
			if d.App(p) != nil {
				fe = append(fe, engine.FieldError{Path: "/id", Errors: []string{fmt.Sprintf("%s lies under the app %s: an app cannot hold apps", id, p)}})
				break
			}
		}
	}
	return fe
}

// withAncestors adds a record for every group on the way to each app and to
// each group already in groups that has none, the root included: groups exist
// wherever apps are.
func withAncestors(groups map[string]*engine.Group, apps []*engine.App) []string {
	var added []string
	add := func(id string) {
		for p := id; ; p = engine.ParentID(p) {
			if _, ok := groups[p]; !ok {
				groups[p] = &engine.Group{ID: p}
				added = append(added, p)
			}
			if p == "/" {
				return
			}
		}
	}
	add("/")
	for _, a := range apps {
		add(engine.ParentID(a.ID))
	}
	ids := make([]string, 0, len(groups))
	for id := range groups {
		ids = append(ids, id)
	}
	for _, id := range ids {
		add(id)
	}
	return added
}

// specGroups returns the desired groups of a Spec apply: the deployed groups
// outside the scope as they are; under it, the groups the files declare and
// those that hold the files' apps (with Destroy: none), so a group the files
// no longer hold goes with its apps.
func (e *Executor) specGroups(spec *engine.Spec, scope string, destroy bool) map[string]*engine.Group {
	if scope == "" {
		scope = "/"
	}
	groups := make(map[string]*engine.Group, len(e.groups))
	for id, g := range e.groups {
		if !engine.InScope(id, scope) || (id == scope && id == "/") {
			groups[id] = g
		}
	}
	if !destroy {
		for _, g := range spec.Groups {
			if !engine.InScope(g.ID, scope) {
				continue
			}
			cp := g.Clone()
			cp.Source, cp.Version = nil, ""
			if old := e.groups[g.ID]; old != nil {
				cp.EnforceRole = old.EnforceRole
			}
			groups[g.ID] = cp
		}
	}
	for _, a := range e.apps {
		if !engine.InScope(a.ID, scope) {
			withAncestors(groups, []*engine.App{a})
		}
	}
	if !destroy {
		withAncestors(groups, spec.Apps)
	}
	withAncestors(groups, nil)
	return groups
}

// sameGroupDecl reports whether two group records declare the same (their
// versions aside).
func sameGroupDecl(a, b *engine.Group) bool {
	return a.ID == b.ID && slices.Equal(a.Dependencies, b.Dependencies) && a.EnforceRole == b.EnforceRole &&
		maps.Equal(a.Labels, b.Labels)
}

// groupsDiffer reports whether the desired group records declare anything else
// than the current ones.
func groupsDiffer(cur, desired map[string]*engine.Group) bool {
	if len(cur) != len(desired) {
		return true
	}
	for id, g := range desired {
		if old := cur[id]; old == nil || !sameGroupDecl(old, g) {
			return true
		}
	}
	return false
}

// groupChanges computes what a commit writes for groups: the records of every
// group whose declaration changed or that holds a changed app or group (each
// gets the new version), the groups deleted, and one GroupVersion per
// re-versioned group listing the changes at or under it.
func groupChanges(cur, desired map[string]*engine.Group, appChanges []engine.VersionChange, version string) (puts []*engine.Group, deletes []string, versions []*engine.GroupVersion) {
	var groupChanges []engine.VersionChange
	touched := map[string]bool{}
	touch := func(id string) {
		for p := id; ; p = engine.ParentID(p) {
			if _, ok := desired[p]; ok {
				touched[p] = true
			}
			if p == "/" {
				return
			}
		}
	}
	for id, g := range desired {
		if old := cur[id]; old == nil || !sameGroupDecl(old, g) {
			touch(id)
		}
	}
	for id := range cur {
		if _, ok := desired[id]; !ok {
			deletes = append(deletes, id)
			groupChanges = append(groupChanges, engine.VersionChange{ID: id, Before: cur[id].Version})
			touch(engine.ParentID(id))
		}
	}
	for _, c := range appChanges {
		touch(engine.ParentID(c.ID))
	}
	if len(touched) == 0 && len(deletes) == 0 {
		return nil, nil, nil
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	sort.Strings(deletes)
	for _, id := range ids {
		g := desired[id].Clone()
		g.Version = version
		puts = append(puts, g)
		before := ""
		if old := cur[id]; old != nil {
			before = old.Version
		}
		groupChanges = append(groupChanges, engine.VersionChange{ID: id, Before: before, After: version})
	}
	sort.Slice(groupChanges, func(i, j int) bool { return groupChanges[i].ID < groupChanges[j].ID })
	for _, g := range puts {
		gv := &engine.GroupVersion{Group: g}
		for _, c := range appChanges {
			if engine.InScope(c.ID, g.ID) {
				gv.Apps = append(gv.Apps, c)
			}
		}
		for _, c := range groupChanges {
			if engine.InScope(c.ID, g.ID) {
				gv.Groups = append(gv.Groups, c)
			}
		}
		versions = append(versions, gv)
	}
	return puts, deletes, versions
}

// fillGroups gives the executor a record for every group that holds an app
// (state written before groups were stored has none): in memory only, versioned
// by the newest app under it, written with the next change under it.
func (e *Executor) fillGroups() {
	if e.groups == nil {
		e.groups = map[string]*engine.Group{}
	}
	apps := make([]*engine.App, 0, len(e.apps))
	for _, a := range e.apps {
		apps = append(apps, a)
	}
	added := map[string]bool{}
	for _, id := range withAncestors(e.groups, apps) {
		added[id] = true
	}
	if len(added) == 0 {
		return
	}
	for _, a := range apps {
		for p := engine.ParentID(a.ID); ; p = engine.ParentID(p) {
			if g := e.groups[p]; added[p] && newerOrEqual(a.Version, g.Version) {
				g.Version = a.Version
			}
			if p == "/" {
				break
			}
		}
	}
}

// newerOrEqual compares two versions as times (engine.SortVersionsNewestFirst's
// order): whether a is at least as new as b.
func newerOrEqual(a, b string) bool {
	if a == b || b == "" {
		return true
	}
	vs := []string{a, b}
	engine.SortVersionsNewestFirst(vs)
	return vs[0] == a
}
