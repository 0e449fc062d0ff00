package executor

import (
	"github.com/stride-run/stride/engine"
)

// Service ports are given in the one write path, before the plan: both doors
// (`stride apply` and the Marathon API) hand planRequest the apps they want,
// and every port of 0 among them gets its port here (engine.AssignServicePorts:
// the deployed app's at the same index, else the lowest free one of
// Config.ServicePorts). The plan then compares the apps as they will be stored,
// so a port the files leave at 0 is no change once assigned, and the
// deployment's commit persists the ports with the apps.

// assignSpecPorts returns spec with its apps' service ports assigned, for an
// apply of the files' apps under scope (destroy: none). Deployed apps outside
// the scope keep theirs and hold them; those under it that the files do not
// declare are destroyed and hold none. spec itself is not modified.
func (e *Executor) assignSpecPorts(spec *engine.Spec, scope string, destroy bool) (*engine.Spec, error) {
	if destroy || len(spec.Apps) == 0 {
		return spec, nil
	}
	if scope == "" {
		scope = "/"
	}
	declared := make(map[string]bool, len(spec.Apps))
	for _, a := range spec.Apps {
		declared[a.ID] = true
	}
	others := make([]*engine.App, 0, len(e.apps))
	for id, a := range e.apps {
		if !declared[id] && !engine.InScope(id, scope) {
			others = append(others, a)
		}
	}
	apps, err := engine.AssignServicePorts(spec.Apps, others, e.deployedApp, e.cfg.ServicePorts)
	if err != nil {
		return nil, err
	}
	out := *spec
	out.Apps = apps
	return &out, nil
}

// assignEditPorts assigns the service ports of the apps an edit put, in spec
// (every desired app, from Desired.spec), in place of spec.Apps' elements.
func (e *Executor) assignEditPorts(d *Desired, spec *engine.Spec) error {
	ids := d.changedApps()
	puts := make([]*engine.App, 0, len(ids))
	put := make(map[string]bool, len(ids))
	for _, id := range ids {
		if a := d.apps[id]; a != nil {
			puts = append(puts, a)
			put[id] = true
		}
	}
	if len(puts) == 0 {
		return nil
	}
	others := make([]*engine.App, 0, len(spec.Apps))
	for _, a := range spec.Apps {
		if !put[a.ID] {
			others = append(others, a)
		}
	}
	apps, err := engine.AssignServicePorts(puts, others, e.deployedApp, e.cfg.ServicePorts)
	if err != nil {
		return err
	}
	byID := make(map[string]*engine.App, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
	}
	for i, a := range spec.Apps {
		if b := byID[a.ID]; b != nil {
			spec.Apps[i] = b
		}
	}
	return nil
}

// deployedApp returns the deployed app with that id, or nil.
func (e *Executor) deployedApp(id string) *engine.App { return e.apps[id] }

// assignRevertPorts assigns service ports to the apps a revert of d takes back
// (in desired, every app the state will hold): a version stored before ports
// were assigned has 0s, which keep the ports the apps hold now.
func (e *Executor) assignRevertPorts(d *engine.Deployment, desired map[string]*engine.App) error {
	var puts []*engine.App
	put := map[string]bool{}
	for _, c := range d.Plan.Changes {
		if a := desired[c.ID]; a != nil && a != e.apps[c.ID] && !put[c.ID] {
			puts = append(puts, a)
			put[c.ID] = true
		}
	}
	if len(puts) == 0 {
		return nil
	}
	others := make([]*engine.App, 0, len(desired))
	for id, a := range desired {
		if !put[id] {
			others = append(others, a)
		}
	}
	apps, err := engine.AssignServicePorts(puts, others, e.deployedApp, e.cfg.ServicePorts)
	if err != nil {
		return err
	}
	for _, a := range apps {
		desired[a.ID] = a
	}
	return nil
}
