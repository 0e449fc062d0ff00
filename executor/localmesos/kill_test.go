package localmesos

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// grace is a KillPolicy with a grace period.
func grace(d time.Duration) *mesos.KillPolicy {
	return &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: d.Nanoseconds()}}
}

func TestKillEscalatesToSIGKILL(t *testing.T) {
	cases := map[string]struct {
		taskPolicy, callPolicy *mesos.KillPolicy
	}{
		"the task's kill policy":            {taskPolicy: grace(300 * time.Millisecond)},
		"the KILL call's policy wins":       {taskPolicy: grace(time.Hour), callPolicy: grace(300 * time.Millisecond)},
		"a zero grace period kills at once": {callPolicy: grace(0)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 1 })
			c := subscribe(t, m, jsonCodec, frameworkInfo(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
			o := c.offers()[0]
			ti := shellTask(o, "stubborn", "", 0.1, 32)
			ti.Command = helperCommand(t, "stubborn")
			ti.KillPolicy = tc.taskPolicy
			c.run(o, ti)
			sandbox := sandboxOf(t, m, "stubborn")
			child, err := strconv.Atoi(strings.TrimSpace(waitFile(t, filepath.Join(sandbox, "child.pid"))))
			if err != nil {
				t.Fatal(err)
			}
			c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: ti.TaskID, AgentID: &o.AgentID, KillPolicy: tc.callPolicy}})
			killing := c.expect(isTaskUpdate("stubborn"))
			c.ack(killing)
			if got := killing.Update.Status.GetState(); got != mesos.TASK_KILLING {
				t.Fatalf("first update after KILL: %v, want TASK_KILLING", got)
			}
			killed := c.expect(isTaskUpdate("stubborn"))
			c.ack(killed)
			st := killed.Update.Status
			// Both processes ignore SIGTERM: only the SIGKILL ends them.
			if st.GetState() != mesos.TASK_KILLED || st.GetMessage() != "Command terminated with signal Killed" {
				t.Fatalf("got %v %q, want TASK_KILLED by SIGKILL", st.GetState(), st.GetMessage())
			}
			eventually(t, "the child in the process group to die", func() bool { return !processAlive(child) })
		})
	}
}

func TestKillTerminates(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	c := subscribe(t, m, protoCodec, frameworkInfo()) // no TASK_KILLING_STATE
	o := c.offers()[0]
	ti := shellTask(o, "sleeper", "sleep 60", 0.1, 32)
	running := c.run(o, ti)
	pid := int(running.GetContainerStatus().GetExecutorPID())
	if pid == 0 || !processAlive(pid) {
		t.Fatalf("RUNNING names pid %d, which does not run", pid)
	}
	c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: ti.TaskID}})
	st := c.expect(isTaskUpdate("sleeper")).Update.Status
	if st.GetState() != mesos.TASK_KILLED || st.GetMessage() != "Command terminated with signal Terminated" {
		t.Fatalf("got %v %q, want TASK_KILLED by SIGTERM (and no TASK_KILLING)", st.GetState(), st.GetMessage())
	}
	eventually(t, "the process to be reaped", func() bool { return !processAlive(pid) })
}

func TestKillDuringFetch(t *testing.T) {
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never answers
	}))
	t.Cleanup(srv.Close)
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	o := c.offers()[0]
	ti := shellTask(o, "slow", "true", 0.1, 32)
	ti.Command.URIs = []mesos.CommandInfo_URI{{Value: srv.URL + "/big.tar.gz"}}
	c.launch([]mesos.OfferID{o.ID}, ti)
	select {
	case <-started:
	case <-time.After(waitTimeout):
		t.Fatal("the fetch did not start")
	}
	c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: ti.TaskID}})
	st := c.expect(isTaskUpdate("slow")).Update.Status
	if st.GetState() != mesos.TASK_KILLED || st.GetReason() != mesos.REASON_TASK_KILLED_DURING_LAUNCH {
		t.Fatalf("got %v (%v), want TASK_KILLED during launch", st.GetState(), st.GetReason())
	}
}

func TestKillUnknownTask(t *testing.T) {
	cases := map[string]struct {
		partitionAware bool
		agent          func(m *Master) *mesos.AgentID
		want           mesos.TaskState
	}{
		"not partition-aware":           {want: mesos.TASK_LOST},
		"partition-aware, no agent":     {partitionAware: true, want: mesos.TASK_UNKNOWN},
		"partition-aware, known agent":  {partitionAware: true, agent: func(m *Master) *mesos.AgentID { return &mesos.AgentID{Value: m.Agents()[0].ID} }, want: mesos.TASK_GONE},
		"partition-aware, lost agent":   {partitionAware: true, agent: lostAgent, want: mesos.TASK_UNREACHABLE},
		"not partition-aware, lost one": {agent: lostAgent, want: mesos.TASK_LOST},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, nil)
			var caps []mesos.FrameworkInfo_Capability_Type
			if tc.partitionAware {
				caps = append(caps, mesos.FrameworkInfo_Capability_PARTITION_AWARE)
			}
			c := subscribe(t, m, jsonCodec, frameworkInfo(caps...))
			var agent *mesos.AgentID
			if tc.agent != nil {
				agent = tc.agent(m)
			}
			c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "ghost"}, AgentID: agent}})
			st := c.expect(isTaskUpdate("ghost")).Update.Status
			if st.GetState() != tc.want || st.GetReason() != mesos.REASON_RECONCILIATION || st.UUID != nil || st.GetSource() != mesos.SOURCE_MASTER {
				t.Errorf("got %v (%v, source %v, uuid %x), want %v from the master", st.GetState(), st.GetReason(), st.GetSource(), st.UUID, tc.want)
			}
		})
	}
}

// lostAgent loses the last agent and returns its id.
func lostAgent(m *Master) *mesos.AgentID {
	agents := m.Agents()
	id := agents[len(agents)-1].ID
	if err := m.LoseAgent(id); err != nil {
		panic(err)
	}
	return &mesos.AgentID{Value: id}
}
