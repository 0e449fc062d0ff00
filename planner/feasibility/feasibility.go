// Package feasibility checks a plan against a snapshot of the cluster before it
// is applied: it walks the plan's changes in step order on a simulated cluster
// (scheduler.Sim, the executor's own matching code), placing each change's new
// tasks and freeing old ones only when the rollout would (planner.NextMove, the
// arithmetic the executor follows), and puts on each change what apply will
// meet: a rollout that can never finish (a deadlock) or one that only
// progresses by killing old tasks before their replacements run.
//
// It is pure: no I/O, no clock; the same plan and snapshot give the same
// warnings.
//
// What it cannot see: offers held by other frameworks or declined for a while,
// agents that come or go, tasks of other frameworks ending. Changes of one step
// run in parallel on the real cluster but are simulated one after the other (in
// the plan's order); a restart that only replaces the tasks violating new
// constraints replaces those scheduler.Violators names, as the executor does.
package feasibility

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/scheduler"
	"github.com/stride-run/stride/planner"
)

// KindKillFirst is the warning of a rollout that lacks the spare room its
// maximum_over_capacity asks for and progresses by killing old tasks first.
const KindKillFirst = "kill_first"

// task is one live task in the simulation.
type task struct {
	agent     string
	resources []mesos.Resource
}

// Check simulates p on the cluster snapshot and sets p.Feasibility and every
// change's Warnings. Inactive agents take nothing.
func Check(p *engine.Plan, snap *api.ClusterResponse) {
	agents, tasks := fromSnapshot(snap)
	sim := scheduler.NewSim(agents)
	c := &checker{sim: sim, tasks: tasks}
	// Step by step; within a step, the changes that only free (destroys,
	// scale-downs) go first: they run in parallel with the others, and their
	// kills do not wait for offers as launches do.
	for i := 0; i < len(p.Changes); {
		j := i
		for j < len(p.Changes) && p.Changes[j].Step == p.Changes[i].Step {
			j++
		}
		for _, ch := range p.Changes[i:j] {
			if c.onlyFrees(ch) {
				ch.Warnings = c.change(ch)
			}
		}
		for _, ch := range p.Changes[i:j] {
			if !c.onlyFrees(ch) {
				ch.Warnings = c.change(ch)
			}
		}
		i = j
	}
	p.Feasibility = &engine.Feasibility{Checked: true, Agents: len(agents)}
}

// Deadlocked lists the ids of the changes with a deadlock warning.
func Deadlocked(p *engine.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		if slices.ContainsFunc(c.Warnings, func(w engine.Warning) bool { return w.Deadlock }) {
			out = append(out, c.ID)
		}
	}
	return out
}

type checker struct {
	sim *scheduler.Sim
	// tasks holds the live tasks per app id, oldest placement first.
	tasks map[string][]task
}

// onlyFrees reports whether the change only kills tasks: a destroy, or a
// scale-down.
func (c *checker) onlyFrees(ch *engine.Change) bool {
	switch ch.Action {
	case engine.ActionDestroy:
		return true
	case engine.ActionScale:
		return ch.After != nil && ch.After.Instances <= len(c.tasks[ch.ID])
	}
	return false
}

// change simulates one change and returns its warnings.
func (c *checker) change(ch *engine.Change) []engine.Warning {
	switch ch.Action {
	case engine.ActionDestroy:
		c.release(ch.ID, len(c.tasks[ch.ID]))
		return nil
	case engine.ActionCreate, engine.ActionScale:
		return c.scale(ch)
	case engine.ActionRestart:
		return c.restart(ch)
	}
	return nil
}

// release frees the n most recently placed tasks of the app (Marathon's
// default kill selection, youngest first).
func (c *checker) release(id string, n int) {
	ts := c.tasks[id]
	n = min(n, len(ts))
	for _, t := range ts[len(ts)-n:] {
		c.sim.Release(t.agent, t.resources)
	}
	c.tasks[id] = ts[:len(ts)-n]
}

// place starts up to n new tasks of app, with running its live tasks, and
// returns how many it placed and why the rest were not.
func (c *checker) place(app *engine.App, n int, running []task) (int, *scheduler.Unplaced) {
	req := scheduler.Request{App: app, Count: n, Running: c.running(running)}
	ps, u := c.sim.Place(req)
	for _, pl := range ps {
		c.tasks[app.ID] = append(c.tasks[app.ID], task{agent: pl.AgentID, resources: pl.Resources})
	}
	return len(ps), u
}

func (c *checker) running(ts []task) []scheduler.Running {
	out := make([]scheduler.Running, 0, len(ts))
	for _, t := range ts {
		r, ok := c.sim.RunningOn(t.agent)
		if !ok {
			r = scheduler.Running{AgentID: t.agent}
		}
		out = append(out, r)
	}
	return out
}

// scale is a create or a scale: kill the surplus first, then start the
// missing instances all at once.
func (c *checker) scale(ch *engine.Change) []engine.Warning {
	app := ch.After
	if app == nil {
		return nil
	}
	have := len(c.tasks[ch.ID])
	if have >= app.Instances {
		c.release(ch.ID, have-app.Instances)
		return nil
	}
	want := app.Instances - have
	placed, u := c.place(app, want, slices.Clone(c.tasks[ch.ID]))
	if u == nil {
		return nil
	}
	d := c.sim.Diagnose(app, app.Instances, c.running(c.tasks[ch.ID]), u)
	running := have + placed
	return []engine.Warning{{
		Kind: d.Kind, Constraint: d.Constraint, Deadlock: true, Running: running, Target: app.Instances,
		Message: fmt.Sprintf("will deadlock: %s; %d of %d %s will run", d.Message, running, app.Instances, plural(app.Instances, "instance")),
	}}
}

// restart iterates NextMove on the simulated tasks: every started task that
// could be placed becomes healthy and ready, and every kill completes, before
// the next move.
func (c *checker) restart(ch *engine.Change) []engine.Warning {
	app := ch.After
	if app == nil {
		return nil
	}
	old := c.tasks[ch.ID]
	c.tasks[ch.ID] = nil
	var fresh []task
	if ch.OnlyViolating {
		// Only the tasks that break the new constraints are replaced (as the
		// executor decides, scheduler.Violators); the others count as new.
		bad := scheduler.Violators(app, c.running(old))
		var keep, replace []task
		for i, t := range old {
			if _, found := slices.BinarySearch(bad, i); found {
				replace = append(replace, t)
			} else {
				keep = append(keep, t)
			}
		}
		old, fresh = replace, keep
	}
	f := planner.Fleet{Action: engine.ActionRestart, Target: app.Instances, Old: len(old), OldHealthy: len(old),
		New: len(fresh), NewReady: len(fresh)}
	f.MinHealthy, f.MaxRunning = planner.Bounds(app.Instances, app.UpgradeStrategy)
	from := len(old) + len(fresh)
	var (
		short        bool // some start could not be placed
		firstStarted = -1 // tasks placed by the first move that started any
		maxKill      int
		lastU        *scheduler.Unplaced
	)
	for range 2*(from+app.Instances) + 2 {
		m := planner.NextMove(f)
		if m.Done {
			break
		}
		placed := 0
		if m.Start > 0 {
			var u *scheduler.Unplaced
			c.tasks[ch.ID] = fresh
			placed, u = c.place(app, m.Start, append(slices.Clone(old), fresh...))
			fresh = c.tasks[ch.ID]
			if firstStarted < 0 {
				firstStarted = placed
			}
			if u != nil {
				short, lastU = true, u
			}
			f.New += placed
			f.NewReady += placed
		}
		killOld := min(m.KillOld, len(old))
		for _, t := range old[len(old)-killOld:] {
			c.sim.Release(t.agent, t.resources)
		}
		old = old[:len(old)-killOld]
		f.Old, f.OldHealthy = len(old), len(old)
		killNew := min(m.KillNew, len(fresh))
		for _, t := range fresh[len(fresh)-killNew:] {
			c.sim.Release(t.agent, t.resources)
		}
		fresh = fresh[:len(fresh)-killNew]
		f.New, f.NewReady = len(fresh), len(fresh)
		if short {
			maxKill = max(maxKill, killOld)
		}
		if placed == 0 && killOld+killNew == 0 {
			break // stuck: nothing will move
		}
	}
	// The app's tasks after the rollout: what is left of the old, and the new.
	c.tasks[ch.ID] = append(slices.Clone(old), fresh...)
	s := app.UpgradeStrategy
	if len(old) > 0 || len(fresh) < app.Instances {
		// What the target alone cannot have (a bound, a value no agent has),
		// else what the next start lacks while the old tasks stay.
		running := c.running(c.tasks[ch.ID])
		d := c.sim.Diagnose(app, app.Instances, running, nil)
		if d.Message == "" {
			d = c.sim.Diagnose(app, len(old)+len(fresh)+1, running, lastU)
		}
		why := fmt.Sprintf("the rolling restart cannot start a new task (%s) and minimum_health_capacity = %s keeps the %d old %s until %s replaced",
			d.Message, num(s.MinimumHealthCapacity), len(old), plural(len(old), "task"), itThem(len(old)))
		if len(old) == 0 {
			why = d.Message
		}
		return []engine.Warning{{
			Kind: d.Kind, Constraint: d.Constraint, Deadlock: true, Running: len(fresh), Target: app.Instances,
			Message: fmt.Sprintf("will deadlock: %s; %d of %d new %s will run", why, len(fresh), app.Instances, plural(app.Instances, "instance")),
		}}
	}
	if !short {
		return nil
	}
	spare := max(f.MaxRunning-from, 0)
	free := "none free"
	if firstStarted > 0 {
		free = fmt.Sprintf("only %d free", firstStarted)
	}
	pace := "one at a time"
	if maxKill > 1 {
		pace = fmt.Sprintf("up to %d at a time", maxKill)
	}
	return []engine.Warning{{
		Kind: KindKillFirst, Running: len(fresh), Target: app.Instances,
		Message: fmt.Sprintf("rolling restart needs %d spare %s for maximum_over_capacity = %s, %s: it will progress %s by killing first",
			spare, plural(spare, "slot"), num(s.MaximumOverCapacity), free, pace),
	}}
}

// fromSnapshot turns the snapshot into the simulation's agents (free resources,
// and the tasks' resources as held ones) and the live tasks per app.
func fromSnapshot(snap *api.ClusterResponse) ([]scheduler.Agent, map[string][]task) {
	tasks := map[string][]task{}
	if snap == nil {
		return nil, tasks
	}
	agents := make([]scheduler.Agent, 0, len(snap.Agents))
	for i := range snap.Agents {
		sa := &snap.Agents[i]
		if !sa.Active {
			continue
		}
		a := scheduler.Agent{ID: sa.ID, Hostname: sa.Hostname, Attributes: sa.AttributeValues}
		a.Resources = agentResources(sa)
		for _, t := range sa.Placed {
			res := taskResources(t)
			a.Held = append(a.Held, res...)
			tasks[t.AppID] = append(tasks[t.AppID], task{agent: sa.ID, resources: res})
		}
		agents = append(agents, a)
	}
	return agents, tasks
}

// agentResources is what is free on the agent: reserved pieces per role (at
// most what is free), the rest unreserved.
func agentResources(sa *api.ClusterAgent) []mesos.Resource {
	free := sa.Free
	var out []mesos.Resource
	roles := make([]string, 0, len(sa.Reserved))
	for r := range sa.Reserved {
		roles = append(roles, r)
	}
	slices.Sort(roles)
	ports := parseRanges(free.Ports)
	for _, role := range roles {
		rv := sa.Reserved[role]
		res := func(r mesos.Resource) mesos.Resource {
			r.Reservations = []mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: strPtr(role)}}
			return r
		}
		take := func(have *float64, want float64) float64 {
			t := math.Min(*have, want)
			*have -= t
			return t
		}
		rp := intersect(ports, parseRanges(rv.Ports))
		for _, r := range resources(take(&free.Cpus, rv.Cpus), take(&free.Mem, rv.Mem), take(&free.Disk, rv.Disk), take(&free.Gpus, rv.Gpus), rp) {
			out = append(out, res(r))
		}
		if len(rp) > 0 {
			ports = subtract(ports, rp)
		}
	}
	return append(out, resources(free.Cpus, free.Mem, free.Disk, free.Gpus, ports)...)
}

// taskResources is what a placed task holds (unreserved).
func taskResources(t api.ClusterTask) []mesos.Resource {
	var ports []uint64
	for _, p := range t.Ports {
		if p > 0 {
			ports = append(ports, uint64(p))
		}
	}
	return resources(t.Cpus, t.Mem, t.Disk, t.Gpus, mesos.NewRanges(ports...))
}

// resources lists the scalars that are not zero and the port ranges, if any,
// as unreserved Mesos resources.
func resources(cpus, mem, disk, gpus float64, ports mesos.Ranges) []mesos.Resource {
	var out []mesos.Resource
	for _, s := range []struct {
		name string
		v    float64
	}{{"cpus", cpus}, {"mem", mem}, {"disk", disk}, {"gpus", gpus}} {
		if s.v > 0 {
			out = append(out, mesos.Resource{Name: s.name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: s.v}})
		}
	}
	if len(ports) > 0 {
		out = append(out, mesos.Resource{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: ports}})
	}
	return out
}

func strPtr(s string) *string { return &s }

// parseRanges reads a Mesos ranges text ("[31000-31999,32005-32005]"), sorted
// and merged; what does not parse is left out.
func parseRanges(s string) mesos.Ranges {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]")
	var out mesos.Ranges
	for _, r := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(strings.TrimSpace(r), "-")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		b, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
		if err1 != nil || err2 != nil || b < a {
			continue
		}
		out = append(out, mesos.Value_Range{Begin: a, End: b})
	}
	return out.Sort().Squash()
}

func intersect(a, b mesos.Ranges) mesos.Ranges {
	return subtract(a, subtract(a, b))
}

func subtract(a, b mesos.Ranges) mesos.Ranges {
	out := slices.Clone(a)
	for _, r := range b {
		out = out.Remove(r)
	}
	return out
}

// num renders a capacity as the files write it: 0, 0.5, 1.
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func itThem(n int) string {
	if n == 1 {
		return "it is"
	}
	return "they are"
}
