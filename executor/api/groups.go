package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// Marathon's groups (/v2/groups, §4.6). A group is a namespace of apps and
// groups; its dependencies are folded into every app under it (the state holds
// an app's effective dependencies, as the HCL files give them), and shown on
// the group, not on its apps. Writes go the way of every write (see
// appwrite.go): a group update is one Edit, deployed at once or not at all.

// groupEmbed says what a group response carries.
type groupEmbed struct {
	groups, apps bool
	app          embedSet
}

// parseGroupEmbed reads ?embed=: group.groups, group.apps and the app parts
// group.apps.tasks, .counts, .deployments, .readiness, .lastTaskFailure,
// .failures, .taskStats (which imply group.apps). Without any, groups and apps
// (Marathon's default). Unknown values are ignored.
func parseGroupEmbed(vals []string) groupEmbed {
	var e groupEmbed
	var appParts []string
	seen := false
	for _, v := range vals {
		for _, one := range strings.Split(v, ",") {
			one = strings.TrimSpace(one)
			switch {
			case one == "group.groups":
				e.groups, seen = true, true
			case one == "group.apps":
				e.apps, seen = true, true
			case strings.HasPrefix(one, "group.apps."):
				e.apps, seen = true, true
				appParts = append(appParts, one)
			}
		}
	}
	if !seen {
		e.groups, e.apps = true, true
	}
	e.app = parseEmbed(appParts, embedSet{})
	return e
}

// groupIndex lists, per group id, the positions of its direct child groups
// (in view.Groups) and apps (in view.Apps).
type groupIndex struct {
	groups map[string][]int
	apps   map[string][]int
}

// groupTree indexes the view's groups once per snapshot.
func (sn *snapshot) groupTree() *groupIndex {
	sn.groupOnce.Do(func() {
		ix := &groupIndex{groups: map[string][]int{}, apps: map[string][]int{}}
		for i, g := range sn.view.Groups {
			if g.ID != "/" {
				p := engine.ParentID(g.ID)
				ix.groups[p] = append(ix.groups[p], i)
			}
		}
		for i, st := range sn.view.Apps {
			p := engine.ParentID(st.App.ID)
			ix.apps[p] = append(ix.apps[p], i)
		}
		sn.groups = ix
	})
	return sn.groups
}

// appendGroup appends Marathon's GroupInfo of view.Groups[gi] and, as embedded,
// its groups (recursively) and apps.
func (sn *snapshot) appendGroup(b []byte, gi int, e groupEmbed) []byte {
	g := sn.view.Groups[gi]
	ix := sn.groupTree()
	b = append(b, `{"id":`...)
	b = engine.AppendJSONString(b, g.ID)
	if e.apps {
		b = append(b, `,"apps":[`...)
		for j, ai := range ix.apps[g.ID] {
			if j > 0 {
				b = append(b, ',')
			}
			b = sn.appendAppInfo(b, ai, e.app)
		}
		b = append(b, ']')
	}
	if e.groups {
		b = append(b, `,"groups":[`...)
		for j, ci := range ix.groups[g.ID] {
			if j > 0 {
				b = append(b, ',')
			}
			b = sn.appendGroup(b, ci, e)
		}
		b = append(b, ']')
	}
	return appendGroupTail(b, g)
}

// appendGroupTail appends a group's own members and closes it.
func appendGroupTail(b []byte, g *engine.Group) []byte {
	b = append(b, `,"pods":[],"dependencies":[`...)
	for j, d := range g.Dependencies {
		if j > 0 {
			b = append(b, ',')
		}
		b = engine.AppendJSONString(b, d)
	}
	b = append(b, `],"version":`...)
	b = engine.AppendJSONString(b, g.Version)
	b = append(b, `,"enforceRole":`...)
	b = strconv.AppendBool(b, g.EnforceRole)
	return append(b, '}')
}

// groupPos returns the position of a group in view.Groups, or -1.
func (sn *snapshot) groupPos(id string) int {
	gs := sn.view.Groups
	lo, hi := 0, len(gs)
	for lo < hi {
		m := (lo + hi) / 2
		if gs[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(gs) && gs[lo].ID == id {
		return lo
	}
	return -1
}

// groups routes /v2/groups and everything under it: {id}, {id}/versions,
// {id}/versions/{version}. An id that names an existing group is that group
// even when it ends like a sub-resource.
func (s *Server) groups(w http.ResponseWriter, r *http.Request, rest string) {
	id := canonicalPath(strings.Trim(rest, "/"))
	sn := s.snap()
	if sn.groupPos(id) < 0 {
		parent, last := engine.ParentID(id), id[strings.LastIndexByte(id, '/')+1:]
		grand, mid := engine.ParentID(parent), parent[strings.LastIndexByte(parent, '/')+1:]
		switch {
		case last == "versions" && sn.groupPos(parent) >= 0:
			s.groupVersions(w, r, parent)
			return
		case mid == "versions" && sn.groupPos(grand) >= 0:
			s.groupVersionGet(w, r, grand, last)
			return
		}
	}
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.groupCreate(w, r, id)
	case http.MethodPut:
		s.groupPut(w, r, id)
	case http.MethodPatch:
		s.groupPatch(w, r, id)
	case http.MethodDelete:
		s.groupDelete(w, r, id)
	default:
		s.groupGet(w, r, sn, id)
	}
}

func (s *Server) groupGet(w http.ResponseWriter, r *http.Request, sn *snapshot, id string) {
	gi := sn.groupPos(id)
	if gi < 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgGroupNotFound, id))
		return
	}
	sn.encodeApps()
	if sn.appErr != nil {
		writeError(w, http.StatusInternalServerError, "encode apps: "+sn.appErr.Error())
		return
	}
	e := parseGroupEmbed(r.URL.Query()["embed"])
	b := make([]byte, 0, sn.appsCap(e.app.tasks))
	b = sn.appendGroup(b, gi, e)
	writeRaw(w, http.StatusOK, append(b, '\n'))
}

// groupVersions is GET /v2/groups/{id}/versions: a bare array, newest first.
func (s *Server) groupVersions(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	vs, err := s.b.GroupVersions(ctx, id)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	if vs == nil {
		vs = []string{}
	}
	writeJSON(w, http.StatusOK, vs)
}

// groupAt rebuilds a group at a version, answering 404s itself.
func (s *Server) groupAt(w http.ResponseWriter, r *http.Request, id, version string) (*executor.GroupState, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	st, err := s.b.GroupAt(ctx, id, version)
	switch {
	case errors.Is(err, executor.ErrNoGroup):
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgGroupNotFound, id))
	case errors.Is(err, engine.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf(msgGroupVersion, id, version))
	case errors.Is(err, executor.ErrVersionGone):
		writeError(w, http.StatusNotFound, fmt.Sprintf("Group '%s' cannot be rebuilt at version %s: %v", id, version, err))
	case err != nil:
		s.writeBackendError(w, err)
	default:
		return st, true
	}
	return nil, false
}

// groupVersionGet is GET /v2/groups/{id}/versions/{version}: the group as it
// was (apps as their definitions; embed selects groups and apps).
func (s *Server) groupVersionGet(w http.ResponseWriter, r *http.Request, id, version string) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	st, ok := s.groupAt(w, r, id, version)
	if !ok {
		return
	}
	e := parseGroupEmbed(r.URL.Query()["embed"])
	v := s.b.View()
	var appendTree func(b []byte, g *engine.Group) ([]byte, error)
	appendTree = func(b []byte, g *engine.Group) ([]byte, error) {
		b = append(b, `{"id":`...)
		b = engine.AppendJSONString(b, g.ID)
		if e.apps {
			b = append(b, `,"apps":[`...)
			n := 0
			for _, a := range st.Apps {
				if engine.ParentID(a.ID) != g.ID {
					continue
				}
				raw, err := marathonAppIn(v, st.Groups, a)
				if err != nil {
					return nil, err
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				b = append(b, raw...)
			}
			b = append(b, ']')
		}
		if e.groups {
			b = append(b, `,"groups":[`...)
			n := 0
			for _, c := range st.Groups {
				if c.ID == "/" || c.ID == g.ID || engine.ParentID(c.ID) != g.ID {
					continue
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				var err error
				if b, err = appendTree(b, c); err != nil {
					return nil, err
				}
			}
			b = append(b, ']')
		}
		return appendGroupTail(b, g), nil
	}
	for _, g := range st.Groups {
		if g.ID == id {
			b, err := appendTree(nil, g)
			if err != nil {
				writeError(w, http.StatusInternalServerError, "encode group: "+err.Error())
				return
			}
			writeRaw(w, http.StatusOK, append(b, '\n'))
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf(msgGroupVersion, id, version))
}

// marathonAppIn is marathonApp with the dependencies of the given groups (a
// group at a version) taken off rather than the current ones.
func marathonAppIn(v *executor.View, groups []*engine.Group, a *engine.App) ([]byte, error) {
	inherited := map[string]bool{}
	for _, g := range groups {
		if engine.InScope(a.ID, g.ID) {
			for _, d := range g.Dependencies {
				inherited[d] = true
			}
		}
	}
	if len(inherited) > 0 && len(a.Dependencies) > 0 {
		cp := *a
		cp.Dependencies = slices.DeleteFunc(slices.Clone(a.Dependencies), func(d string) bool { return inherited[d] })
		a = &cp
	}
	return a.MarshalMarathonJSON()
}

// readGroup reads a group update body (strict, with its paths).
func (s *Server) readGroup(w http.ResponseWriter, r *http.Request) (*engine.GroupUpdate, bool) {
	raw, ok := readBody(w, r, maxListBody)
	if !ok {
		return nil, false
	}
	u, err := engine.DecodeGroupUpdate(raw, s.decodeOptions(r))
	if err != nil {
		s.writeBackendError(w, decodeError(raw, err, ""))
		return nil, false
	}
	return u, true
}

// groupCreate is POST /v2/groups (the body's id, relative to the root) and POST
// /v2/groups/{id} (the body's id relative to that group, or the group itself):
// 201, Location, Marathon-Deployment-Id and a DeploymentResult; 409 when the
// group exists.
func (s *Server) groupCreate(w http.ResponseWriter, r *http.Request, base string) {
	u, ok := s.readGroup(w, r)
	if !ok {
		return
	}
	id := base
	if u.ID != "" {
		var err error
		if id, err = engine.ResolveID(base, u.ID); err != nil {
			s.writeBackendError(w, invalidAt("/id", "%v", err))
			return
		}
	}
	if err := engine.CheckID(id, true); err != nil || id == "/" {
		if err == nil {
			err = errors.New("the root group exists: use PUT /v2/groups to change it")
		}
		s.writeBackendError(w, invalidAt("/id", "%v", err))
		return
	}
	opts := s.decodeOptions(r)
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		if d.Group(id) != nil {
			return conflict(msgGroupExists, id)
		}
		if d.App(id) != nil {
			return conflict(msgAppExists, id)
		}
		return s.updateGroup(d, id, u, "", opts)
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	w.Header().Set("Location", pathGroups+id)
	s.result(w, http.StatusCreated, res, "")
}

// groupPut is PUT /v2/groups/{id}: {"version": v} alone (an id beside it
// allowed) rolls the group back to that version; {"scaleBy": f} scales every
// app under it (instances rounded up; nothing else of the body applies, as in
// Marathon); any other body updates the group, creating it when it does not
// exist: members it gives replace the group's (apps and groups not listed are
// removed), members it does not give are kept. A version beside a definition
// is the definition's, as GET shows it, and ignored: a group read, changed and
// put back is an update. ?dryRun=true answers the plan's steps instead.
func (s *Server) groupPut(w http.ResponseWriter, r *http.Request, id string) {
	if err := engine.CheckID(id, true); err != nil {
		s.writeBackendError(w, invalidAt("/id", "%v", err))
		return
	}
	u, ok := s.readGroup(w, r)
	if !ok {
		return
	}
	opts := s.decodeOptions(r)
	var edit func(d *executor.Desired) error
	rollback := u.Version != "" && !u.HasApps && !u.HasGroups && !u.HasDependencies && u.EnforceRole == nil
	switch {
	case rollback:
		st, ok := s.groupAt(w, r, id, u.Version)
		if !ok {
			return
		}
		edit = func(d *executor.Desired) error {
			removeTree(d, id, false)
			for _, g := range st.Groups {
				d.PutGroup(g)
			}
			for _, a := range st.Apps {
				d.PutApp(a)
			}
			return nil
		}
	case u.ScaleBy != nil:
		by := *u.ScaleBy
		if by < 0 || math.IsNaN(by) || math.IsInf(by, 0) {
			s.writeBackendError(w, invalidAt("/scaleBy", "must be a number of at least 0"))
			return
		}
		edit = func(d *executor.Desired) error {
			if d.Group(id) == nil {
				return notFound(msgGroupNotFound, id)
			}
			for _, a := range d.AppsUnder(id) {
				n := math.Ceil(float64(a.Instances) * by)
				if n > float64(s.info.Limits.MaxInstances) {
					return invalidAt("/scaleBy", "%s would have %.0f instances (at most %d)", a.ID, n, s.info.Limits.MaxInstances)
				}
				if int(n) != a.Instances {
					cp := a.Clone()
					cp.Instances = int(n)
					d.PutApp(cp)
				}
			}
			return nil
		}
	default:
		edit = func(d *executor.Desired) error {
			if d.Group(id) == nil && d.App(id) != nil {
				return conflict(msgAppExists, id)
			}
			return s.updateGroup(d, id, u, "", opts)
		}
	}
	if queryBool(r, "dryRun") {
		ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
		defer cancel()
		plan, err := s.b.Plan(ctx, executor.ApplyRequest{Edit: edit})
		if err != nil {
			s.writeBackendError(w, err)
			return
		}
		steps := make([]DeploymentStep, len(plan.Steps))
		for i, st := range plan.Steps {
			steps[i] = DeploymentStep{Actions: make([]DeploymentAction, len(st.Actions))}
			for j, a := range st.Actions {
				steps[i].Actions[j] = DeploymentAction{Action: executor.MarathonAction(a.Action), App: a.ID}
			}
		}
		writeJSON(w, http.StatusOK, map[string][]DeploymentStep{"steps": steps})
		return
	}
	res, err := s.write(r, nil, edit)
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, "")
}

// groupPatch is PATCH /v2/groups/{id} {"enforceRole": bool}: a top-level
// group's settings, without touching its apps.
func (s *Server) groupPatch(w http.ResponseWriter, r *http.Request, id string) {
	u, ok := s.readGroup(w, r)
	if !ok {
		return
	}
	if id == "/" || engine.ParentID(id) != "/" {
		s.writeBackendError(w, invalidAt("/", "only top-level groups can be patched"))
		return
	}
	if u.EnforceRole == nil || u.HasApps || u.HasGroups || u.HasDependencies || u.ScaleBy != nil || u.Version != "" {
		s.writeBackendError(w, invalidAt("/", "a patch sets enforceRole and nothing else"))
		return
	}
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		g := d.Group(id)
		if g == nil {
			return notFound(msgGroupNotFound, id)
		}
		cp := g.Clone()
		cp.EnforceRole = *u.EnforceRole
		d.PutGroup(cp)
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, "")
}

// groupDelete is DELETE /v2/groups/{id}: the group, every group under it and
// every app under it are removed (the root group itself stays).
func (s *Server) groupDelete(w http.ResponseWriter, r *http.Request, id string) {
	res, err := s.write(r, nil, func(d *executor.Desired) error {
		if d.Group(id) == nil {
			return notFound(msgGroupNotFound, id)
		}
		removeTree(d, id, true)
		return nil
	})
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	s.result(w, http.StatusOK, res, "")
}

// removeTree removes every app and group under id, and the group itself when
// self is set (never the root).
func removeTree(d *executor.Desired, id string, self bool) {
	for _, a := range d.AppsUnder(id) {
		d.DeleteApp(a.ID)
	}
	for _, g := range d.GroupsUnder(id) {
		if (g.ID != id || self) && g.ID != "/" {
			d.DeleteGroup(g.ID)
		}
	}
}

// childID resolves the id of an app or group written inside group parent:
// relative ids are relative to it; an absolute one must lie under it
// (Marathon's "Hint: use relative paths").
func childID(parent, raw, path string) (string, error) {
	if raw == "" {
		return "", invalidAt(path, engine.ErrPathMissing)
	}
	id, err := engine.ResolveID(parent, raw)
	if err != nil {
		return "", invalidAt(path, "%v", err)
	}
	if id == parent || !engine.InScope(id, parent) {
		return "", invalidAt(path, msgNotChild, id, parent)
	}
	return id, nil
}

// updateGroup applies a group update to the group id in d: its declaration
// (dependencies, relative to the group, and enforceRole, when given), then the
// groups it holds (when given: those listed are updated or created, the others
// removed with everything under them) and its apps (likewise; each app is
// given its groups' dependencies). prefix locates errors in the body.
func (s *Server) updateGroup(d *executor.Desired, id string, u *engine.GroupUpdate, prefix string, opts engine.DecodeOptions) error {
	g := &engine.Group{ID: id}
	var oldDeps []string
	if cur := d.Group(id); cur != nil {
		g = cur.Clone()
		oldDeps = cur.Dependencies
	}
	if u.HasDependencies {
		deps := make([]string, 0, len(u.Dependencies))
		for i, dep := range u.Dependencies {
			abs, err := engine.ResolveID(id, dep)
			if err == nil {
				err = engine.CheckID(abs, true)
			}
			if err != nil {
				return invalidAt(prefix+"/dependencies/"+strconv.Itoa(i), "%v", err)
			}
			deps = append(deps, abs)
		}
		slices.Sort(deps)
		g.Dependencies = slices.Compact(deps)
		if len(g.Dependencies) == 0 {
			g.Dependencies = nil
		}
	}
	if u.EnforceRole != nil {
		g.EnforceRole = *u.EnforceRole
	}
	d.PutGroup(g)
	put := map[string]bool{}
	if u.HasGroups {
		want := map[string]bool{}
		for i, sub := range u.Groups {
			p := prefix + "/groups/" + strconv.Itoa(i)
			sid, err := childID(id, sub.ID, p+"/id")
			if err != nil {
				return err
			}
			if want[sid] {
				return invalidAt(p+"/id", "group %s is given twice", sid)
			}
			want[sid] = true
			if d.App(sid) != nil {
				return conflict(msgAppExists, sid)
			}
			if err := s.updateGroup(d, sid, sub, p, opts); err != nil {
				return err
			}
			for _, a := range d.AppsUnder(sid) {
				put[a.ID] = true
			}
		}
		for _, sg := range d.GroupsUnder(id) {
			if engine.ParentID(sg.ID) == id && sg.ID != id && !want[sg.ID] {
				removeTree(d, sg.ID, true)
			}
		}
	}
	if u.HasApps {
		want := map[string]bool{}
		for i, a := range u.Apps {
			p := prefix + "/apps/" + strconv.Itoa(i)
			aid, err := childID(id, a.ID, p+"/id")
			if err != nil {
				return err
			}
			if want[aid] {
				return invalidAt(p+"/id", "app %s is given twice", aid)
			}
			want[aid] = true
			if d.Group(aid) != nil {
				return conflict("A group with id [%s] already exists.", aid)
			}
			app := a
			if cur := d.App(aid); cur != nil {
				obj, err := members(u.AppJSON[i])
				if err != nil {
					return decodeError(u.AppJSON[i], err, p)
				}
				kept, err := withStrideFields(obj, cur)
				if err != nil {
					return err
				}
				if app, err = decodeMembers(kept, opts, p); err != nil {
					return err
				}
			}
			if err := s.finishApp(d, app, aid, p); err != nil {
				return err
			}
			d.PutApp(app)
			put[aid] = true
		}
		for _, cur := range d.AppsUnder(id) {
			if engine.ParentID(cur.ID) == id && !want[cur.ID] {
				d.DeleteApp(cur.ID)
			}
		}
	}
	if !slices.Equal(oldDeps, g.Dependencies) {
		refold(d, id, oldDeps, put)
	}
	return nil
}

// refold gives the apps under a group whose dependencies changed their new
// effective dependencies: those they declare themselves (what no group above
// them declares) plus their groups' (skip: apps the update wrote itself).
func refold(d *executor.Desired, id string, oldDeps []string, skip map[string]bool) {
	for _, a := range d.AppsUnder(id) {
		if skip[a.ID] {
			continue
		}
		inherited := map[string]bool{}
		for _, dep := range oldDeps {
			inherited[dep] = true
		}
		for p := engine.ParentID(a.ID); ; p = engine.ParentID(p) {
			if g := d.Group(p); g != nil && p != id {
				for _, dep := range g.Dependencies {
					inherited[dep] = true
				}
			}
			if p == "/" {
				break
			}
		}
		cp := a.Clone()
		cp.Dependencies = slices.DeleteFunc(cp.Dependencies, func(dep string) bool { return inherited[dep] })
		foldGroupDependencies(d, cp)
		if !slices.Equal(cp.Dependencies, a.Dependencies) {
			d.PutApp(cp)
		}
	}
}
