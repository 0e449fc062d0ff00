package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/stride-run/stride/engine"
)

// GroupState is a group and everything at or under it at one version: what
// GET /v2/groups/{id}/versions/{version} shows and what a rollback deploys.
type GroupState struct {
	// Groups holds the group itself and every group under it, sorted by id.
	Groups []*engine.Group
	// Apps holds every app under the group, sorted by id.
	Apps []*engine.App
}

// ErrNoGroup: no group has that id.
var ErrNoGroup = errors.New("no such group")

// ErrVersionGone: a version the rebuilt group needs is no longer recorded (an
// app deleted and created again since, whose history went with it).
var ErrVersionGone = errors.New("no longer recorded")

// GroupAt rebuilds group id as it was at version, from the published View and
// the store's histories (see engine.GroupVersion): the View's contents of the
// group, with the changes of every newer record undone. It does not wait on the
// actor. engine.ErrNotFound: the group has no such version; ErrNoGroup: no
// group has that id.
func (e *Executor) GroupAt(ctx context.Context, id, version string) (*GroupState, error) {
	return GroupAt(ctx, e.View(), e.store, id, version)
}

// VersionStore is the part of engine.Store GroupAt reads.
type VersionStore interface {
	AppVersion(ctx context.Context, id, version string) (*engine.App, error)
	GroupVersions(ctx context.Context, id string) ([]string, error)
	GroupVersion(ctx context.Context, id, version string) (*engine.GroupVersion, error)
}

// GroupAt is Executor.GroupAt over any View and store.
func GroupAt(ctx context.Context, v *View, store VersionStore, id, version string) (*GroupState, error) {
	cur := v.Group(id)
	if cur == nil {
		return nil, fmt.Errorf("group %s: %w", id, ErrNoGroup)
	}
	versions, err := store.GroupVersions(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("group %s versions: %w", id, err)
	}
	if !slices.Contains(versions, version) {
		return nil, fmt.Errorf("group %s version %s: %w", id, version, engine.ErrNotFound)
	}
	// What the group holds in the View, by version.
	apps := map[string]string{}
	current := map[string]*engine.App{}
	for _, st := range v.Apps {
		if engine.InScope(st.App.ID, id) {
			apps[st.App.ID] = st.App.Version
			current[st.App.ID] = st.App
		}
	}
	groups := map[string]string{}
	currentGroups := map[string]*engine.Group{}
	for _, g := range v.Groups {
		if engine.InScope(g.ID, id) {
			groups[g.ID] = g.Version
			currentGroups[g.ID] = g
		}
	}
	// Undo every change newer than version that the View has seen (records
	// newer than the View's group version were written after it).
	var target *engine.GroupVersion
	for _, w := range versions {
		if w != cur.Version && !newerOrEqual(cur.Version, w) {
			continue
		}
		rec, err := store.GroupVersion(ctx, id, w)
		if err != nil {
			return nil, fmt.Errorf("group %s version %s: %w", id, w, err)
		}
		if w == version {
			target = rec
			break
		}
		undo(apps, rec.Apps)
		undo(groups, rec.Groups)
	}
	if target == nil {
		return nil, fmt.Errorf("group %s version %s: %w", id, version, engine.ErrNotFound)
	}
	out := &GroupState{}
	for gid, gv := range groups {
		g := currentGroups[gid]
		switch {
		case gid == id:
			g = target.Group
		case g == nil || g.Version != gv:
			rec, err := store.GroupVersion(ctx, gid, gv)
			if errors.Is(err, engine.ErrNotFound) {
				return nil, fmt.Errorf("group %s at version %s: %w", gid, gv, ErrVersionGone)
			}
			if err != nil {
				return nil, fmt.Errorf("group %s version %s: %w", gid, gv, err)
			}
			g = rec.Group
		}
		out.Groups = append(out.Groups, g)
	}
	for aid, av := range apps {
		a := current[aid]
		if a == nil || a.Version != av {
			var err error
			a, err = store.AppVersion(ctx, aid, av)
			if errors.Is(err, engine.ErrNotFound) {
				return nil, fmt.Errorf("app %s at version %s: %w", aid, av, ErrVersionGone)
			}
			if err != nil {
				return nil, fmt.Errorf("app %s version %s: %w", aid, av, err)
			}
		}
		out.Apps = append(out.Apps, a)
	}
	sort.Slice(out.Groups, func(i, j int) bool { return out.Groups[i].ID < out.Groups[j].ID })
	sort.Slice(out.Apps, func(i, j int) bool { return out.Apps[i].ID < out.Apps[j].ID })
	return out, nil
}

// undo applies the changes of one record backwards to versions.
func undo(versions map[string]string, changes []engine.VersionChange) {
	for _, c := range changes {
		if c.Before == "" {
			delete(versions, c.ID)
		} else {
			versions[c.ID] = c.Before
		}
	}
}
