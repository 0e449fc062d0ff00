package executor

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// unreachable reports a task TASK_UNREACHABLE as a master does, its agent lost
// at since.
func (h *harness) unreachable(taskID string, since time.Time) {
	t := h.e.tasks[taskID]
	agent := ""
	if t != nil {
		agent = t.SlaveID
	}
	msg := "health check timed out"
	h.e.handleUpdate(h.ctx, mesos.TaskStatus{
		TaskID: mesos.TaskID{Value: taskID}, State: mesos.TASK_UNREACHABLE.Enum(), Message: &msg,
		Source: mesos.SOURCE_MASTER.Enum(), Reason: mesos.REASON_AGENT_REMOVED.Enum(),
		AgentID: &mesos.AgentID{Value: agent}, UnreachableTime: &mesos.TimeInfo{Nanoseconds: since.UnixNano()},
	})
}

// running brings an app of n instances up, and returns its task ids.
func (h *harness) running(app *engine.App) []string {
	h.t.Helper()
	h.apply(spec(app))
	h.offer(3)
	h.runLaunched()
	h.settle()
	h.tick()
	if len(h.e.deployments) != 0 {
		h.t.Fatal("the deployment of the app did not finish")
	}
	ids := h.ids(engine.TaskRunning)
	if len(ids) != app.Instances {
		h.t.Fatalf("%d running, want %d", len(ids), app.Instances)
	}
	return ids
}

// counted returns how many of the app's tasks count as instances (a task being
// killed does not), and how many are listed (in the view).
func (h *harness) counted(appID string) (counted, listed int) {
	for _, t := range h.e.tasks {
		if t.AppID != appID {
			continue
		}
		if h.e.counts(t, h.clock.now()) && !t.killing {
			counted++
		}
	}
	h.e.publish()
	return counted, len(h.e.View().App(appID).Tasks)
}

func TestUnreachableStrategy(t *testing.T) {
	minute := time.Minute
	cases := map[string]struct {
		strategy *engine.UnreachableStrategy
		// inactive, expunge: the times the strategy allows.
		inactive, expunge time.Duration
	}{
		"default {0, 0}":     {strategy: &engine.UnreachableStrategy{}},
		"none (the default)": {strategy: nil},
		"inactive 60s, 10m":  {strategy: &engine.UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 600}, inactive: minute, expunge: 10 * minute},
		"inactive 0, 10m":    {strategy: &engine.UnreachableStrategy{InactiveAfterSeconds: 0, ExpungeAfterSeconds: 600}, expunge: 10 * minute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			app := testApp("/web", 3, "sleep 100")
			app.UnreachableStrategy = tc.strategy
			ids := h.running(app)
			victim := ids[0]
			lostAt := h.clock.now()
			h.clock.advance(time.Second) // the update comes a moment after the agent was lost
			h.unreachable(victim, lostAt)
			launched := len(h.mesos.launched)

			if tc.expunge == 0 {
				// Forgotten at once, replaced on the next offer.
				if _, ok := h.e.tasks[victim]; ok || h.store.snap.Tasks[victim] != nil {
					t.Fatal("the unreachable task is still held")
				}
				h.tick()
				h.offer(3)
				if n := len(h.mesos.launched) - launched; n != 1 {
					t.Fatalf("%d replacements launched, want 1", n)
				}
				// Should it come back, it is a task Stride does not know.
				h.status(victim, mesos.TASK_RUNNING, "")
				if len(h.mesos.killed) != 1 || h.mesos.killed[0] != victim {
					t.Fatalf("killed %v, want the task that came back", h.mesos.killed)
				}
				return
			}
			// Written down with the time its agent was lost, before anything else.
			rec := h.store.snap.Tasks[victim]
			if rec == nil || rec.State != engine.TaskUnreachable || rec.UnreachableSince != FormatTime(lostAt) {
				t.Fatalf("stored record %+v, want TASK_UNREACHABLE since %s", rec, FormatTime(lostAt))
			}
			if tc.inactive > 0 {
				// Still an instance: nothing is launched before inactiveAfterSeconds.
				h.clock.advance(tc.inactive - 2*time.Second)
				h.tick()
				h.offer(3)
				if n := len(h.mesos.launched) - launched; n != 0 {
					t.Fatalf("%d launched before the task went inactive", n)
				}
				if c, l := h.counted("/web"); c != 3 || l != 3 {
					t.Fatalf("while unreachable: %d counted, %d listed; want 3 and 3", c, l)
				}
				// A new leader keeps counting from the stored time.
				h.restart()
				h.offer(3)
				if n := len(h.mesos.launched); n != 0 {
					t.Fatalf("the new leader launched %d before the task went inactive", n)
				}
				launched = 0
				h.clock.advance(2 * time.Second)
			}
			// Inactive: replaced, still listed, never counted twice.
			h.tick()
			h.offer(3)
			if n := len(h.mesos.launched) - launched; n != 1 {
				t.Fatalf("%d replacements launched once inactive, want 1", n)
			}
			h.runLaunched()
			if c, l := h.counted("/web"); c != 3 || l != 4 {
				t.Fatalf("once replaced: %d counted, %d listed; want 3 and 4", c, l)
			}
			if st := h.e.View().App("/web"); st.TasksRunning != 3 {
				t.Fatalf("tasksRunning %d, want 3", st.TasksRunning)
			}
			// It comes back: stale, killed.
			h.status(victim, mesos.TASK_RUNNING, "")
			if len(h.mesos.killed) != 1 || h.mesos.killed[0] != victim {
				t.Fatalf("killed %v, want the stale task", h.mesos.killed)
			}
			if c, _ := h.counted("/web"); c != 3 {
				t.Fatalf("%d counted with the stale task back, want 3", c)
			}
			h.finishKills()
			if _, ok := h.e.tasks[victim]; ok {
				t.Fatal("the killed stale task is still held")
			}
		})
	}
}

// TestUnreachableStrategyDisabled: never replaced nor forgotten; back, it
// carries on.
func TestUnreachableStrategyDisabled(t *testing.T) {
	h := newHarness(t)
	app := testApp("/pinned", 2, "sleep 100")
	app.UnreachableStrategy = &engine.UnreachableStrategy{Disabled: true}
	victim := h.running(app)[0]
	h.unreachable(victim, h.clock.now())
	h.clock.advance(365 * 24 * time.Hour)
	h.tick()
	h.offer(3)
	if len(h.mesos.launched) != 2 || h.e.tasks[victim] == nil {
		t.Fatalf("after a year: %d launched, victim held %v; want no replacement, still held", len(h.mesos.launched), h.e.tasks[victim] != nil)
	}
	if c, _ := h.counted("/pinned"); c != 2 {
		t.Fatalf("%d counted, want 2", c)
	}
	h.status(victim, mesos.TASK_RUNNING, "")
	if len(h.mesos.killed) != 0 || h.e.tasks[victim].State != engine.TaskRunning {
		t.Fatalf("killed %v, state %s; want it carrying on", h.mesos.killed, h.e.tasks[victim].State)
	}
}

// TestUnreachableTaskBackInTime: back before inactiveAfterSeconds, the task
// carries on; nothing was launched for it, nothing is killed.
func TestUnreachableTaskBackInTime(t *testing.T) {
	h := newHarness(t)
	app := testApp("/web", 2, "sleep 100")
	app.UnreachableStrategy = &engine.UnreachableStrategy{InactiveAfterSeconds: 300, ExpungeAfterSeconds: 600}
	victim := h.running(app)[0]
	h.unreachable(victim, h.clock.now())
	h.clock.advance(time.Minute)
	h.tick()
	h.status(victim, mesos.TASK_RUNNING, "")
	h.tick()
	h.offer(3)
	if len(h.mesos.launched) != 2 || len(h.mesos.killed) != 0 {
		t.Fatalf("launched %d, killed %v; want the 2 first launches and no kill", len(h.mesos.launched), h.mesos.killed)
	}
	h.e.flushTasks(h.ctx)
	if rec := h.store.snap.Tasks[victim]; rec.State != engine.TaskRunning || rec.UnreachableSince != "" {
		t.Fatalf("stored %+v, want running with no unreachable time", rec)
	}
}

// TestUnreachableTaskExpunged: after expungeAfterSeconds the task is forgotten;
// one Stride decides to kill while unreachable (a scale down) is forgotten at once.
func TestUnreachableTaskExpunged(t *testing.T) {
	h := newHarness(t)
	app := testApp("/web", 3, "sleep 100")
	app.UnreachableStrategy = &engine.UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 120}
	ids := h.running(app)
	h.unreachable(ids[0], h.clock.now())
	h.clock.advance(119 * time.Second)
	h.tick()
	if h.e.tasks[ids[0]] == nil {
		t.Fatal("expunged before expungeAfterSeconds")
	}
	h.clock.advance(time.Second)
	h.tick()
	if h.e.tasks[ids[0]] != nil || h.store.snap.Tasks[ids[0]] != nil {
		t.Fatal("not expunged after expungeAfterSeconds")
	}
	if f := h.e.lastFailure["/web"]; f == nil || f.TaskID != ids[0] || f.State != engine.TaskUnreachable {
		t.Fatalf("lastTaskFailure %+v", f)
	}
	if h.e.delays["/web"] != nil {
		t.Fatal("an unreachable task counted for the backoff")
	}

	// Scale down to 1 while another is unreachable: it is the first to go.
	h.offer(3)
	h.runLaunched()
	h.unreachable(ids[1], h.clock.now())
	down := app.Clone()
	down.Instances = 1
	h.apply(spec(down))
	h.tick()
	if h.e.tasks[ids[1]] != nil {
		t.Fatal("the unreachable task survived the scale down")
	}
	for _, id := range h.mesos.killed {
		if id == ids[1] {
			t.Fatal("a kill was sent for an unreachable task")
		}
	}
}

// TestUnknownUnreachableTaskIsNotKilled: Mesos answers a KILL of an unreachable
// task with TASK_UNREACHABLE; killing again would loop.
func TestUnknownUnreachableTaskIsNotKilled(t *testing.T) {
	h := newHarness(t)
	h.unreachable("ghost.1234", h.clock.now())
	if len(h.mesos.killed) != 0 {
		t.Fatalf("killed %v", h.mesos.killed)
	}
}

// TestReconcileUntilAnswered: tasks Mesos does not answer for are asked about
// again, with a doubling pause, until it does.
func TestReconcileUntilAnswered(t *testing.T) {
	h := newHarness(t)
	ids := h.running(testApp("/web", 3, "sleep 100"))
	h.mesos.reconciled = nil
	h.e.reconcile(h.ctx)
	if len(h.mesos.reconciled) != 2 || len(h.mesos.reconciled[0]) != 3 || h.mesos.reconciled[1] != nil {
		t.Fatalf("reconciled %v, want the 3 tasks then implicitly", h.mesos.reconciled)
	}
	h.status(ids[0], mesos.TASK_RUNNING, "") // the only answer
	pauses := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second}
	for round, pause := range pauses {
		h.mesos.reconciled = nil
		h.clock.advance(pause - time.Millisecond)
		h.tick()
		if len(h.mesos.reconciled) != 0 {
			t.Fatalf("round %d: asked again before %v", round, pause)
		}
		h.clock.advance(time.Millisecond)
		h.tick()
		if len(h.mesos.reconciled) != 2 || len(h.mesos.reconciled[0]) != 2 || h.mesos.reconciled[0][ids[0]] != "" {
			t.Fatalf("round %d: reconciled %v, want the 2 unanswered tasks then implicitly", round, h.mesos.reconciled)
		}
	}
	h.e.publish()
	if v := h.e.View(); v.Unreconciled != 2 || v.ReconcileRetries != 3 {
		t.Fatalf("view: %d unreconciled, %d retries", v.Unreconciled, v.ReconcileRetries)
	}
	h.status(ids[1], mesos.TASK_RUNNING, "")
	h.status(ids[2], mesos.TASK_RUNNING, "")
	h.mesos.reconciled = nil
	h.clock.advance(time.Hour / 6)
	h.tick()
	// Answered: only the periodic reconciliation (every 10 minutes) is left.
	if len(h.mesos.reconciled) != 2 || len(h.mesos.reconciled[0]) != 3 {
		t.Fatalf("reconciled %v after every answer, want only the periodic one", h.mesos.reconciled)
	}
}
