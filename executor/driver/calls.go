package driver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// The calls below each return an error when the driver is not subscribed
// (wrapping ErrNotConnected, without sending anything), when the master could
// not be reached, or when it refused the call (a *CallError with the status
// and the master's message). A 202 means the master took the call for
// processing: its effects arrive as events.

// Launch accepts offers (of one agent) with one LAUNCH operation of tasks.
// refuseSeconds filters what the tasks leave unused: it is withheld from the
// framework for that long (0: offered again at the next allocation;
// negative: the master's default, 5 s).
func (d *Driver) Launch(ctx context.Context, offerIDs []string, tasks []mesos.TaskInfo, refuseSeconds float64) error {
	if len(offerIDs) == 0 {
		return errors.New("mesos driver: ACCEPT: no offer ids")
	}
	if len(tasks) == 0 {
		return errors.New("mesos driver: ACCEPT: no tasks to launch (use Decline)")
	}
	filters, err := refuseFilters(refuseSeconds)
	if err != nil {
		return fmt.Errorf("mesos driver: ACCEPT: %w", err)
	}
	return d.call(ctx, &scheduler.Call{
		Type: scheduler.Call_ACCEPT,
		Accept: &scheduler.Call_Accept{
			OfferIDs:   offerIDList(offerIDs),
			Operations: []mesos.Offer_Operation{calls.OpLaunch(tasks...)},
			Filters:    filters,
		},
	})
}

// Decline declines offers; their resources are withheld from the framework
// for refuseSeconds (negative: the master's default, 5 s). Declining no
// offers does nothing.
func (d *Driver) Decline(ctx context.Context, offerIDs []string, refuseSeconds float64) error {
	if len(offerIDs) == 0 {
		return nil
	}
	filters, err := refuseFilters(refuseSeconds)
	if err != nil {
		return fmt.Errorf("mesos driver: DECLINE: %w", err)
	}
	return d.call(ctx, &scheduler.Call{
		Type:    scheduler.Call_DECLINE,
		Decline: &scheduler.Call_Decline{OfferIDs: offerIDList(offerIDs), Filters: filters},
	})
}

// Suppress asks the master to stop sending offers for roles (all of the
// framework's roles when none are named) until Revive. Suppression does not
// outlive the subscription: every SUBSCRIBE starts with no role suppressed,
// so after Subscribed offers flow until Suppress is called again.
func (d *Driver) Suppress(ctx context.Context, roles ...string) error {
	return d.call(ctx, calls.SuppressWith(roles))
}

// Revive asks the master to offer resources for roles again (all of the
// framework's roles when none are named), clearing their decline filters.
func (d *Driver) Revive(ctx context.Context, roles ...string) error {
	return d.call(ctx, calls.ReviveWith(roles))
}

// Kill kills a task. gracePeriod, when not negative, is sent as the KILL's
// kill_policy: the time between SIGTERM and SIGKILL (0: SIGKILL at once); a
// negative one leaves the policy the task was launched with. agentID may be
// "" when unknown.
func (d *Driver) Kill(ctx context.Context, taskID, agentID string, gracePeriod time.Duration) error {
	if taskID == "" {
		return errors.New("mesos driver: KILL: no task id")
	}
	call := calls.Kill(taskID, agentID)
	if gracePeriod >= 0 {
		call.Kill.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: gracePeriod.Nanoseconds()}}
	}
	return d.call(ctx, call)
}

// Reconcile asks the master for the state of tasks (task id -> agent id, ""
// when unknown); the answers arrive as status updates without uuid. No tasks
// means implicit reconciliation: the master reports every task it knows of
// the framework.
func (d *Driver) Reconcile(ctx context.Context, tasks map[string]string) error {
	ids := make([]string, 0, len(tasks))
	for id := range tasks {
		if id == "" {
			return errors.New("mesos driver: RECONCILE: an empty task id")
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rec := &scheduler.Call_Reconcile{}
	for _, id := range ids {
		t := scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: id}}
		if agent := tasks[id]; agent != "" {
			t.AgentID = &mesos.AgentID{Value: agent}
		}
		rec.Tasks = append(rec.Tasks, t)
	}
	return d.call(ctx, &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: rec})
}

// Teardown removes the framework: the master kills all its tasks and forgets
// it. Once the master has taken the call, the subscription ends (Disconnected
// with ErrTornDown), the driver forgets the framework id, and Run returns nil.
func (d *Driver) Teardown(ctx context.Context) error {
	s := d.current()
	if s == nil {
		return fmt.Errorf("mesos driver: TEARDOWN: %w", ErrNotConnected)
	}
	td := &teardownCall{sess: s, done: make(chan struct{})}
	d.mu.Lock()
	d.teardown = td
	d.mu.Unlock()
	err := d.send(ctx, s, &scheduler.Call{Type: scheduler.Call_TEARDOWN})
	d.mu.Lock()
	if err == nil {
		td.ok = true
		d.frameworkID = ""
	} else if d.teardown == td {
		d.teardown = nil
	}
	d.mu.Unlock()
	close(td.done)
	if err != nil {
		return fmt.Errorf("mesos driver: %w", err)
	}
	s.cancel(ErrTornDown)
	return nil
}

// call sends a call on the current subscription.
func (d *Driver) call(ctx context.Context, call *scheduler.Call) error {
	if err := d.send(ctx, d.current(), call); err != nil {
		return fmt.Errorf("mesos driver: %w", err)
	}
	return nil
}

// offerIDList converts offer ids, in order, without duplicates.
func offerIDList(ids []string) []mesos.OfferID {
	out := make([]mesos.OfferID, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, mesos.OfferID{Value: id})
		}
	}
	return out
}
