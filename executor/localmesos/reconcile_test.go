package localmesos

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestReconcile(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 2 })
	c := subscribe(t, m, jsonCodec, frameworkInfo(mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	offers := allOffers(c, 2)
	c.run(offers[0], shellTask(offers[0], "one", "sleep 60", 0.1, 32))
	c.run(offers[1], shellTask(offers[1], "two", "sleep 60", 0.1, 32))
	finished := shellTask(offers[0], "done", "true", 0.1, 32)
	c.launch([]mesos.OfferID{c.offerFrom(offers[0].AgentID.Value).ID}, finished)
	c.ackAll = true
	c.expect(isUpdate("done", mesos.TASK_FINISHED))
	eventually(t, "the finished task to be forgotten", func() bool { return taskState(m, "done") == "" })
	c.ackAll = false

	t.Run("implicit", func(t *testing.T) {
		c.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
		got := map[string]mesos.TaskStatus{}
		for len(got) < 2 {
			st := c.expect(func(ev *scheduler.Event) bool {
				return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.GetReason() == mesos.REASON_RECONCILIATION
			}).Update.Status
			got[st.TaskID.Value] = st
		}
		for _, id := range []string{"one", "two"} {
			st, ok := got[id]
			if !ok || st.GetState() != mesos.TASK_RUNNING || st.UUID != nil || st.GetSource() != mesos.SOURCE_MASTER {
				t.Errorf("%s: %+v", id, st)
			}
		}
		if _, ok := got["done"]; ok {
			t.Error("the acknowledged finished task was reported")
		}
	})

	m.LoseAgent(offers[1].AgentID.Value)
	c.expect(isUpdate("two", mesos.TASK_UNREACHABLE))

	cases := map[string]struct {
		task  scheduler.Call_Reconcile_Task
		want  mesos.TaskState
		wantM string
	}{
		"known task":                    {task: scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "one"}}, want: mesos.TASK_RUNNING, wantM: "Latest task state"},
		"known task with its agent":     {task: scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "one"}, AgentID: &offers[0].AgentID}, want: mesos.TASK_RUNNING},
		"unknown task":                  {task: scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "nope"}}, want: mesos.TASK_UNKNOWN, wantM: "Task is unknown"},
		"finished task on a live agent": {task: scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "done"}, AgentID: &offers[0].AgentID}, want: mesos.TASK_GONE},
		"task of a lost agent":          {task: scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "two"}, AgentID: &offers[1].AgentID}, want: mesos.TASK_UNREACHABLE},
	}
	for name, tc := range cases {
		t.Run("explicit/"+name, func(t *testing.T) {
			c.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{tc.task}}})
			st := c.expect(func(ev *scheduler.Event) bool {
				return ev.Type == scheduler.Event_UPDATE && ev.Update.Status.TaskID == tc.task.TaskID && ev.Update.Status.GetReason() == mesos.REASON_RECONCILIATION
			}).Update.Status
			if st.GetState() != tc.want || !strings.Contains(st.GetMessage(), tc.wantM) || st.UUID != nil {
				t.Errorf("got %v %q (uuid %x), want %v", st.GetState(), st.GetMessage(), st.UUID, tc.want)
			}
		})
	}
}

func TestReconcileNotPartitionAware(t *testing.T) {
	m := newMaster(t, nil)
	c := subscribe(t, m, protoCodec, frameworkInfo())
	c.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{
		{TaskID: mesos.TaskID{Value: "a"}},
		{TaskID: mesos.TaskID{Value: "b"}, AgentID: &mesos.AgentID{Value: m.Agents()[0].ID}},
	}}})
	for _, id := range []string{"a", "b"} {
		if st := c.expect(isTaskUpdate(id)).Update.Status; st.GetState() != mesos.TASK_LOST {
			t.Errorf("%s: %v, want TASK_LOST", id, st.GetState())
		}
	}
}

func TestFailover(t *testing.T) {
	t.Run("re-subscription within the timeout keeps the tasks", func(t *testing.T) {
		m := newMaster(t, func(c *Config) { c.Agents = 1 })
		c := subscribe(t, m, jsonCodec, info2("fw", 3600))
		o := c.offers()[0]
		ti := shellTask(o, "keep", "sleep 60", 0.1, 32)
		c.launch([]mesos.OfferID{o.ID}, ti)
		c.ack(c.expect(isUpdate("keep", mesos.TASK_STARTING)))
		running := c.expect(isUpdate("keep", mesos.TASK_RUNNING)).Update.Status // not acknowledged
		pid := m.Tasks()[0].PID
		c.close()
		eventually(t, "the framework to be disconnected", func() bool { return !m.state().Frameworks[0].Connected })
		if code, body := c.call(&scheduler.Call{Type: scheduler.Call_REVIVE}); code != http.StatusForbidden {
			t.Errorf("call while disconnected: %d %s", code, body)
		}
		info := info2("fw", 3600)
		info.ID = &mesos.FrameworkID{Value: c.fwID}
		again := subscribe(t, m, protoCodec, info)
		if again.fwID != c.fwID {
			t.Fatalf("framework id %s, want %s", again.fwID, c.fwID)
		}
		// The unacknowledged RUNNING is sent again on the new stream.
		resent := again.expect(isUpdate("keep", mesos.TASK_RUNNING)).Update.Status
		if string(resent.UUID) != string(running.UUID) {
			t.Errorf("resent RUNNING has uuid %x, want %x", resent.UUID, running.UUID)
		}
		again.ack(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: resent}})
		again.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
		if st := again.expect(isTaskUpdate("keep")).Update.Status; st.GetState() != mesos.TASK_RUNNING {
			t.Errorf("reconciled %v", st.GetState())
		}
		if ts := m.Tasks(); len(ts) != 1 || ts[0].PID != pid || !processAlive(pid) {
			t.Errorf("tasks after failover: %+v (pid was %d)", ts, pid)
		}
	})

	for name, timeout := range map[string]float64{"a short timeout": 0.2, "no timeout": 0} {
		t.Run("tasks are killed after "+name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 1 })
			c := subscribe(t, m, jsonCodec, info2("fw", timeout))
			o := c.offers()[0]
			c.run(o, shellTask(o, "doomed", "sleep 60", 0.1, 32))
			pid := m.Tasks()[0].PID
			c.close()
			eventually(t, "the framework's tasks to be killed", func() bool { return len(m.Tasks()) == 0 && !processAlive(pid) })
			info := info2("fw", 60)
			info.ID = &mesos.FrameworkID{Value: c.fwID}
			late := tryClient(t, m, jsonCodec, info)
			ev := late.expect(func(*scheduler.Event) bool { return true })
			if ev.Type != scheduler.Event_ERROR || ev.Error.Message != msgFrameworkRemoved {
				t.Fatalf("re-subscription got %v, want ERROR %q", ev, msgFrameworkRemoved)
			}
			if _, err := late.next(func(*scheduler.Event) bool { return false }, waitTimeout); err == nil || !strings.Contains(err.Error(), "ended") {
				t.Errorf("the stream did not end: %v", err)
			}
			if used := m.Agents()[0].Used; used.Cpus != 0 {
				t.Errorf("resources still used: %+v", used)
			}
		})
	}

	t.Run("TEARDOWN", func(t *testing.T) {
		m := newMaster(t, func(c *Config) { c.Agents = 1 })
		c := subscribe(t, m, jsonCodec, info2("fw", 3600))
		o := c.offers()[0]
		c.run(o, shellTask(o, "torn", "sleep 60", 0.1, 32))
		pid := m.Tasks()[0].PID
		c.mustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		// The stream just ends: no ERROR, as in Mesos.
		if ev, err := c.next(isType(scheduler.Event_ERROR), waitTimeout); err == nil || !strings.Contains(err.Error(), "ended") {
			t.Errorf("after TEARDOWN: %v %v", ev, err)
		}
		eventually(t, "the task to be killed", func() bool { return !processAlive(pid) })
		if st := m.state(); len(st.Frameworks) != 0 || len(st.CompletedFrameworks) != 1 {
			t.Errorf("frameworks %d, completed %d", len(st.Frameworks), len(st.CompletedFrameworks))
		}
	})
}

func TestLoseAgent(t *testing.T) {
	for name, pa := range map[string]bool{"not partition-aware": false, "partition-aware": true} {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 2 })
			var caps []mesos.FrameworkInfo_Capability_Type
			want := mesos.TASK_LOST
			if pa {
				caps, want = append(caps, mesos.FrameworkInfo_Capability_PARTITION_AWARE), mesos.TASK_UNREACHABLE
			}
			c := subscribe(t, m, jsonCodec, frameworkInfo(caps...))
			offers := allOffers(c, 2)
			victim := offers[0].AgentID.Value
			c.decline(offers[1].ID, 0)
			c.run(offers[0], shellTask(offers[0], "victim", "sleep 60", 0.1, 32))
			pid := m.Tasks()[0].PID
			held := c.offerFrom(victim) // the remainder, outstanding
			if pa {
				resp, err := http.Post(m.URL()+"/stride/agents/"+victim+"/lose", "", nil)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					t.Fatalf("POST lose: %v %v", resp, err)
				}
				resp.Body.Close()
			} else if err := m.LoseAgent(victim); err != nil {
				t.Fatal(err)
			}
			seen := map[scheduler.Event_Type]bool{}
			for len(seen) < 3 {
				ev := c.expect(func(ev *scheduler.Event) bool {
					return ev.Type == scheduler.Event_UPDATE || ev.Type == scheduler.Event_RESCIND || ev.Type == scheduler.Event_FAILURE ||
						ev.Type == scheduler.Event_OFFERS
				})
				if ev.Type != scheduler.Event_OFFERS {
					seen[ev.Type] = true
				}
				switch ev.Type {
				case scheduler.Event_OFFERS:
					for _, o := range ev.Offers.Offers {
						c.decline(o.ID, 0)
					}
				case scheduler.Event_UPDATE:
					st := ev.Update.Status
					if st.TaskID.Value != "victim" || st.GetState() != want || st.GetReason() != mesos.REASON_AGENT_REMOVED || st.UUID != nil {
						t.Errorf("update %v %v (%v)", st.TaskID.Value, st.GetState(), st.GetReason())
					}
				case scheduler.Event_RESCIND:
					if ev.Rescind.OfferID != held.ID {
						t.Errorf("rescinded %s, want %s", ev.Rescind.OfferID.Value, held.ID.Value)
					}
				case scheduler.Event_FAILURE:
					if ev.Failure.GetAgentID().GetValue() != victim {
						t.Errorf("FAILURE for %v", ev.Failure.GetAgentID())
					}
				}
			}
			eventually(t, "the lost agent's process to die", func() bool { return !processAlive(pid) })
			for i := 0; i < 5; i++ {
				for _, o := range c.offers() {
					if o.AgentID.Value == victim {
						t.Fatalf("the lost agent made an offer")
					}
					c.decline(o.ID, 0)
				}
			}
			if err := m.LoseAgent(victim); err == nil {
				t.Error("losing an agent twice succeeded")
			}
			resp, err := http.Post(m.URL()+"/stride/agents/nope/lose", "", nil)
			if err != nil || resp.StatusCode != http.StatusNotFound {
				t.Errorf("POST lose of an unknown agent: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}

func TestStaleProcessesKilled(t *testing.T) {
	dir := t.TempDir()
	sandbox := filepath.Join(dir, "agents", "a-S0", "frameworks", "f", "tasks", "old")
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, err := buildCommand(&mesos.CommandInfo{Value: proto("sleep 300 & sleep 300")}, sandbox, []string{"PATH=" + defaultPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	// The pid file of an older stand-in (no checkpoint).
	start0, err := processStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sandbox, pidFileName), fmt.Appendf(nil, "%d %d %d\n", cmd.Process.Pid, cmd.Process.Pid, start0), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pid file whose process has another start time (the pid was reused)
	// is left alone.
	other := filepath.Join(dir, "agents", "a-S0", "frameworks", "f", "tasks", "reused")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	bystander, err := buildCommand(&mesos.CommandInfo{Value: proto("sleep 300")}, other, []string{"PATH=" + defaultPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-bystander.Process.Pid, syscall.SIGKILL); _ = bystander.Wait() })
	start, err := processStartTime(bystander.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	reused := fmt.Sprintf("%d %d %d\n", bystander.Process.Pid, bystander.Process.Pid, start+1)
	if err := os.WriteFile(filepath.Join(other, pidFileName), []byte(reused), 0o644); err != nil {
		t.Fatal(err)
	}
	var logged []string
	m, err := New(Config{WorkDir: dir, Logf: func(f string, a ...any) { logged = append(logged, f) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	select {
	case <-exited:
	case <-time.After(waitTimeout):
		t.Fatal("the stale process group was not killed")
	}
	if len(logged) == 0 || !strings.Contains(strings.Join(logged, "\n"), "killed process group") {
		t.Errorf("nothing logged: %q", logged)
	}
	if !processAlive(bystander.Process.Pid) {
		t.Error("a process whose start time does not match was killed")
	}
	for _, d := range []string{sandbox, other} {
		if _, err := os.Stat(filepath.Join(d, pidFileName)); !os.IsNotExist(err) {
			t.Errorf("pid file in %s not removed: %v", d, err)
		}
	}
}

// TestPartitionAgent: while an agent is cut off its task keeps running, the
// updates it produces wait on the agent, no offer comes from it; once healed,
// the framework hears the task's state again, then the held updates.
func TestPartitionAgent(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 2 })
	c := subscribe(t, m, jsonCodec, frameworkInfo(mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	offers := allOffers(c, 2)
	c.decline(offers[1].ID, 0)
	victim := offers[0].AgentID.Value
	done := filepath.Join(t.TempDir(), "done")
	// The task runs until the test makes it finish, during the partition.
	c.run(offers[0], shellTask(offers[0], "p", "while [ ! -e "+done+" ]; do sleep 0.05; done", 0.1, 32))
	pid := m.Tasks()[0].PID

	resp, err := http.Post(m.URL()+"/stride/agents/"+victim+"/partition", "", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST partition: %v %v", resp, err)
	}
	resp.Body.Close()
	st := c.expect(isUpdate("p", mesos.TASK_UNREACHABLE)).Update.Status
	if st.GetReason() != mesos.REASON_AGENT_REMOVED || st.GetMessage() != msgAgentUnreachable || st.UnreachableTime == nil || st.UUID != nil {
		t.Errorf("unreachable update: %v %q unreachable_time %v uuid %x", st.GetReason(), st.GetMessage(), st.UnreachableTime, st.UUID)
	}
	c.expect(isType(scheduler.Event_FAILURE))
	if !processAlive(pid) {
		t.Fatal("the partition killed the task's process")
	}
	if err := m.PartitionAgent(victim); err == nil {
		t.Error("cutting an agent off twice succeeded")
	}
	if a := m.Agents()[0]; !a.Partitioned || a.Lost {
		t.Errorf("agent info %+v", a)
	}
	// The task finishes while cut off: nothing reaches the framework, the
	// master still answers unreachable, and the agent makes no offer.
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the task to finish on the agent", func() bool { return taskState(m, "p") == mesos.TASK_FINISHED.String() })
	c.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "p"}}}}})
	for i := 0; i < 3; i++ {
		ev := c.expect(func(ev *scheduler.Event) bool { return ev.Type == scheduler.Event_OFFERS || isTaskUpdate("p")(ev) })
		switch ev.Type {
		case scheduler.Event_OFFERS:
			for _, o := range ev.Offers.Offers {
				if o.AgentID.Value == victim {
					t.Fatal("an agent that is cut off made an offer")
				}
				c.decline(o.ID, 0)
			}
		default:
			if st := ev.Update.Status; st.GetState() != mesos.TASK_UNREACHABLE || st.GetReason() != mesos.REASON_RECONCILIATION {
				t.Fatalf("while cut off: %v %v", st.GetState(), st.GetReason())
			}
		}
	}

	resp, err = http.Post(m.URL()+"/stride/agents/"+victim+"/heal", "", nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST heal: %v %v", resp, err)
	}
	resp.Body.Close()
	ev := c.expect(isUpdate("p", mesos.TASK_FINISHED))
	if st := ev.Update.Status; st.GetSource() != mesos.SOURCE_EXECUTOR || st.UUID == nil {
		t.Errorf("the held update: %v uuid %x", st.GetSource(), st.UUID)
	}
	c.ack(ev)
	eventually(t, "the finished task to be forgotten", func() bool { return taskState(m, "p") == "" })
	if err := m.HealAgent(victim); err == nil {
		t.Error("healing an agent that is not cut off succeeded")
	}
	c.offerFrom(victim)
}
