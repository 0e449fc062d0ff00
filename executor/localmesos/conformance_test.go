package localmesos

// The protocol conformance suite: the same scheduler conversations held with the
// stand-in and with a real Apache Mesos 1.11.1 master (executor/mesostest), each
// recorded as a normalised trace of what the scheduler hears — status updates
// with their state, source, reason, message and fields, FAILURE and SUBSCRIBED
// events, offer and master shapes — and compared with a golden file under
// testdata/conformance/ that was recorded from the real master:
//
//	STRIDE_TEST_MESOS=$(scripts/mesos.sh) go test -run Conformance ./executor/localmesos/ -update-conformance
//
// rewrites the golden files from the real master (the stand-in never writes
// them). Without STRIDE_TEST_MESOS the real-master subtests skip, and the
// stand-in is still held to the traces the real master produced: a change that
// makes the stand-in answer differently from Mesos fails here.

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/internal/freeports"
)

var updateConformance = flag.Bool("update-conformance", false, "rewrite testdata/conformance/*.golden from the real Mesos master (needs STRIDE_TEST_MESOS)")

// confCluster is a master the conformance scenarios run against, with the few
// operations on agents and task processes that the scheduler API has no call for.
type confCluster interface {
	endpoint
	// taskPID returns the pid of a running task's process.
	taskPID(t *testing.T, taskID string) int
	// partition cuts an agent off from the master (its task processes keep
	// running) until heal.
	partition(t *testing.T, agentID string)
	heal(t *testing.T, agentID string)
	// timeout bounds every wait.
	timeout() time.Duration
}

// Agent resources shared by both backends, so that the messages that quote them
// agree: two agents of 1 cpu, 1024 MB of mem and disk, 200 ports each from
// confFirstPort (within freeports.FixedFirst-FixedLast, which no other test is
// handed; both backends claim it while they run).
const (
	confAgents    = 2
	confFirstPort = 63000
	confPorts     = 200
)

// standinCluster is a fresh stand-in per scenario.
type standinCluster struct{ *Master }

func (s standinCluster) taskPID(t *testing.T, id string) int {
	t.Helper()
	for _, ti := range s.Tasks() {
		if ti.ID == id && ti.PID > 0 {
			return ti.PID
		}
	}
	t.Fatalf("no process for task %s", id)
	return 0
}

func (s standinCluster) partition(t *testing.T, id string) {
	t.Helper()
	if err := s.PartitionAgent(id); err != nil {
		t.Fatal(err)
	}
}

func (s standinCluster) heal(t *testing.T, id string) {
	t.Helper()
	if err := s.HealAgent(id); err != nil {
		t.Fatal(err)
	}
}

func (s standinCluster) timeout() time.Duration { return waitTimeout }

// realCluster is one real cluster shared by the scenarios: each runs its own
// framework and tears it down at the end.
type realCluster struct {
	c *mesostest.Cluster
	// agents maps agent ids to the cluster's agents (the master stops listing
	// an agent it lost).
	agents map[string]int
}

func (r realCluster) URL() string { return r.c.MasterURL() }

func (r realCluster) taskPID(t *testing.T, id string) int {
	t.Helper()
	var pid int
	eventually(t, "the process of task "+id, func() bool {
		tp, ok := r.c.FindTask(id)
		pid = tp.PID
		return ok && pid > 0
	})
	return pid
}

// agentIndex maps an agent id to the cluster's agent by its hostname.
func (r realCluster) agentIndex(t *testing.T, id string) int {
	t.Helper()
	if i, ok := r.agents[id]; ok {
		return i
	}
	st, err := r.c.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Slaves {
		if s.ID != id {
			continue
		}
		for i, a := range r.c.Agents {
			if a.IP == s.Hostname {
				r.agents[id] = i
				return i
			}
		}
	}
	t.Fatalf("no agent %s", id)
	return 0
}

// partition kills the agent process (its tasks keep running, posix launcher):
// the master declares it unreachable after its ping timeouts.
func (r realCluster) partition(t *testing.T, id string) { r.c.KillAgent(r.agentIndex(t, id)) }

// heal starts the agent again on its work dir: it recovers its executors and
// re-registers.
func (r realCluster) heal(t *testing.T, id string) { r.c.StartAgent(r.agentIndex(t, id)) }

func (r realCluster) timeout() time.Duration { return 90 * time.Second }

// conformanceScenario is one conversation; it writes its trace through rec.
type conformanceScenario func(t *testing.T, cl confCluster, rec *recorder)

// conformanceScenarios are the conversations both masters are held to.
var conformanceScenarios = map[string]conformanceScenario{
	"launch-kill":          scenarioLaunchKill,
	"exit-status":          scenarioExitStatus,
	"killed-by-signal":     scenarioKilledBySignal,
	"kill-grace-period":    scenarioKillGrace,
	"kill-during-launch":   scenarioKillDuringLaunch,
	"fetch":                scenarioFetch,
	"fetch-failure":        scenarioFetchFailure,
	"command-not-found":    scenarioCommandNotFound,
	"health-command":       scenarioHealthCommand,
	"health-http":          scenarioHealthHTTP,
	"task-environment":     scenarioTaskEnvironment,
	"invalid-launches":     scenarioInvalidLaunches,
	"reconcile":            scenarioReconcile,
	"kill-unknown":         scenarioKillUnknown,
	"stale-framework-id":   scenarioStaleFrameworkID,
	"offer-and-master":     scenarioOfferAndMaster,
	"multi-role-offers":    scenarioMultiRoleOffers,
	"agent-partition":      scenarioAgentPartition,
	"agent-partition-lost": scenarioAgentPartitionNotAware,
}

func TestConformance(t *testing.T) {
	names := make([]string, 0, len(conformanceScenarios))
	for name := range conformanceScenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	t.Run("standin", func(t *testing.T) {
		if *updateConformance {
			t.Skip("-update-conformance records the real master only")
		}
		for _, name := range names {
			t.Run(name, func(t *testing.T) {
				// The ports of the real cluster's agents: no other test's tasks
				// may use them meanwhile.
				freeports.Claim(t, confFirstPort, confAgents*confPorts, time.Minute)
				m := newMaster(t, func(c *Config) {
					c.Agents, c.Cpus, c.Mem, c.Disk = confAgents, 1, 1024, 1024
					c.FirstPort, c.PortsPerAgent = confFirstPort, confPorts
					// Retries as a real agent's first ones: none within a scenario.
					c.UpdateRetry = 10 * time.Second
					c.HeartbeatInterval = time.Second
				})
				runScenario(t, name, standinCluster{m})
			})
		}
	})
	t.Run("mesos", func(t *testing.T) {
		c := mesostest.Start(t, mesostest.Options{
			Agents: confAgents, FirstPort: confFirstPort, PortsPerAgent: confPorts,
			// A silent agent is unreachable after 8 s (the partition scenarios),
			// late enough not to happen on a busy machine by accident.
			AgentPingTimeout: 2 * time.Second, MaxAgentPingTimeouts: 4,
		})
		for _, name := range names {
			t.Run(name, func(t *testing.T) { runScenario(t, name, realCluster{c: c, agents: map[string]int{}}) })
		}
	})
}

// runScenario runs one scenario and compares (or, for the real master with
// -update-conformance, writes) its golden trace.
func runScenario(t *testing.T, name string, cl confCluster) {
	rec := newRecorder(t, cl)
	conformanceScenarios[name](t, cl, rec)
	rec.teardown()
	got := rec.String()
	path := filepath.Join("testdata", "conformance", name+".golden")
	if _, real := cl.(realCluster); real && *updateConformance {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it from the real master with -update-conformance)", err)
	}
	if got != string(want) {
		t.Errorf("the trace differs from the real master's (%s):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows the lines of want and got that differ, side by side.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  mesos:   %s\n  standin: %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// recorder is a framework subscribed to the cluster that writes what it hears
// as trace lines, phase by phase.
type recorder struct {
	t       *testing.T
	cl      confCluster
	c       *client
	mu      sync.Mutex
	out     []string
	pending []traceLine // the current phase's lines
	names   map[string]string
}

// traceLine is one line of a phase, sorted by key (then order) at the phase's end:
// the updates of different tasks may come in any order, those of one task not.
type traceLine struct {
	key  string
	text string
}

// partitionAware are the capabilities of the recorder's framework: Stride's.
var strideCapabilities = []mesos.FrameworkInfo_Capability_Type{
	mesos.FrameworkInfo_Capability_MULTI_ROLE,
	mesos.FrameworkInfo_Capability_TASK_KILLING_STATE,
	mesos.FrameworkInfo_Capability_PARTITION_AWARE,
}

func newRecorder(t *testing.T, cl confCluster) *recorder {
	return newRecorderWith(t, cl, strideCapabilities, []string{"*"})
}

func newRecorderWith(t *testing.T, cl confCluster, caps []mesos.FrameworkInfo_Capability_Type, roles []string) *recorder {
	t.Helper()
	info := frameworkInfo(caps...)
	info.User = currentUserName(t)
	if hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		info.Roles = roles
	} else {
		info.Role = proto(roles[0])
	}
	info.FailoverTimeout = proto(3600.0)
	info.Checkpoint = proto(true)
	c := subscribe(t, cl, jsonCodec, info)
	c.declineSkipped = false
	return &recorder{t: t, cl: cl, c: c, names: map[string]string{}}
}

// currentUserName is the user tasks run as (the agents run as it too).
func currentUserName(t *testing.T) string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if os.Geteuid() == 0 {
		return "root"
	}
	t.Fatal("cannot tell the current user: set USER")
	return ""
}

// teardown removes the framework, killing its tasks (the real cluster is shared).
func (r *recorder) teardown() {
	r.c.call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
	r.c.close()
}

// String is the trace.
func (r *recorder) String() string {
	r.flush()
	return strings.Join(r.out, "\n") + "\n"
}

// phase ends the current phase and starts another.
func (r *recorder) phase(name string) {
	r.flush()
	r.out = append(r.out, "# "+name)
}

func (r *recorder) flush() {
	sort.SliceStable(r.pending, func(i, j int) bool { return r.pending[i].key < r.pending[j].key })
	for _, l := range r.pending {
		r.out = append(r.out, l.text)
	}
	r.pending = nil
}

// note adds a line of the scenario's own.
func (r *recorder) note(format string, args ...any) {
	r.pending = append(r.pending, traceLine{key: "~", text: r.normalise(fmt.Sprintf(format, args...))})
}

// alias makes a volatile value (an agent id, a framework id) appear as name.
func (r *recorder) alias(value, name string) { r.names[value] = name }

var (
	uuidPattern  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(-(O|S)?[0-9]+)?`)
	tmpPattern   = regexp.MustCompile(`/tmp/[^ '":]*`)
	hostPortPatt = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
	agentIPPatt  = regexp.MustCompile(`\b127\.0\.0\.([2-9]|[1-9][0-9]+)\b`)
)

// normalise replaces what differs from run to run: aliases, then ids (master,
// framework, offer, agent, container), temporary paths, the agents' addresses
// and the master's port.
func (r *recorder) normalise(s string) string {
	for v, name := range r.names {
		s = strings.ReplaceAll(s, v, name)
	}
	s = uuidPattern.ReplaceAllStringFunc(s, func(id string) string {
		switch {
		case strings.Contains(id, "-O"):
			return "<offer>"
		case strings.Contains(id, "-S"):
			return "<agent>"
		case len(id) > 36:
			return "<framework>"
		}
		return "<uuid>"
	})
	s = tmpPattern.ReplaceAllString(s, "<tmp>")
	s = agentIPPatt.ReplaceAllString(s, "<agent-ip>")
	return hostPortPatt.ReplaceAllString(s, "127.0.0.1:<port>")
}

// record turns an event into a trace line (offers and heartbeats are not traced:
// their timing is the allocator's and the clock's).
func (r *recorder) record(ev *scheduler.Event) {
	switch ev.Type {
	case scheduler.Event_UPDATE:
		st := ev.Update.Status
		var b strings.Builder
		fmt.Fprintf(&b, "%s %v source=%v", st.TaskID.Value, st.GetState(), st.GetSource())
		if st.Reason != nil {
			fmt.Fprintf(&b, " reason=%v", st.GetReason())
		}
		if st.Message != nil {
			fmt.Fprintf(&b, " message=%q", st.GetMessage())
		}
		if st.Healthy != nil {
			fmt.Fprintf(&b, " healthy=%v", st.GetHealthy())
		}
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"uuid", len(st.UUID) > 0}, {"agent_id", st.AgentID != nil}, {"executor_id", st.ExecutorID != nil},
			{"container_status", st.ContainerStatus != nil}, {"executor_pid", st.ContainerStatus != nil && st.ContainerStatus.ExecutorPID != nil},
			{"unreachable_time", st.UnreachableTime != nil}, {"timestamp", st.Timestamp != nil},
		} {
			if f.set {
				b.WriteString(" +" + f.name)
			}
		}
		if cs := st.ContainerStatus; cs != nil {
			for _, ni := range cs.NetworkInfos {
				for _, ip := range ni.IPAddresses {
					fmt.Fprintf(&b, " ip=%s", ip.GetIPAddress())
				}
			}
		}
		r.pending = append(r.pending, traceLine{key: st.TaskID.Value, text: r.normalise(b.String())})
	case scheduler.Event_FAILURE:
		f := ev.Failure
		line := fmt.Sprintf("FAILURE agent_id=%s", f.GetAgentID().GetValue())
		if f.ExecutorID != nil {
			line += fmt.Sprintf(" executor_id=%s status=%d", f.ExecutorID.Value, f.GetStatus())
		}
		r.pending = append(r.pending, traceLine{key: "~FAILURE", text: r.normalise(line)})
	case scheduler.Event_ERROR:
		r.pending = append(r.pending, traceLine{key: "~ERROR", text: r.normalise("ERROR " + ev.Error.Message)})
	case scheduler.Event_SUBSCRIBED:
		r.pending = append(r.pending, traceLine{key: "~SUBSCRIBED", text: r.normalise("SUBSCRIBED framework_id=" + ev.Subscribed.FrameworkID.Value)})
	}
}

// until records events (acknowledging updates, declining offers) until cond,
// which sees every event recorded, holds.
func (r *recorder) until(what string, cond func(ev *scheduler.Event) bool) {
	r.t.Helper()
	deadline := time.Now().Add(r.cl.timeout())
	for {
		ev, err := r.c.next(func(*scheduler.Event) bool { return true }, time.Until(deadline))
		if err != nil {
			r.t.Fatalf("waiting for %s: %v\ntrace so far:\n%s", what, err, r.String())
		}
		if r.handle(ev) {
			continue
		}
		if cond(ev) {
			return
		}
	}
}

// handle answers offers and heartbeats (reporting true: not for the trace) and
// records and acknowledges everything else.
func (r *recorder) handle(ev *scheduler.Event) bool {
	switch ev.Type {
	case scheduler.Event_OFFERS:
		for _, o := range ev.Offers.Offers {
			r.c.decline(o.ID, 1)
		}
		return true
	case scheduler.Event_HEARTBEAT, scheduler.Event_RESCIND:
		return true
	}
	r.record(ev)
	r.c.ack(ev)
	return false
}

// untilState records until task id has had an update in state.
func (r *recorder) untilState(id string, state mesos.TaskState) {
	r.t.Helper()
	r.until(id+" "+state.String(), isUpdate(id, state))
}

// untilAnswered records until every task named has had an update in the
// current phase.
func (r *recorder) untilAnswered(ids ...string) {
	r.t.Helper()
	answered := func() bool {
		seen := map[string]bool{}
		for _, l := range r.pending {
			seen[l.key] = true
		}
		for _, id := range ids {
			if !seen[id] {
				return false
			}
		}
		return true
	}
	if answered() {
		return
	}
	r.until("answers for "+strings.Join(ids, ", "), func(*scheduler.Event) bool { return answered() })
}

// untilUpdates records until n updates of task id have come.
func (r *recorder) untilUpdates(id string, n int) {
	r.t.Helper()
	seen := 0
	r.until(fmt.Sprintf("%d updates of %s", n, id), func(ev *scheduler.Event) bool {
		if isTaskUpdate(id)(ev) {
			seen++
		}
		return seen >= n
	})
}

// offer waits for an offer (of agent agentID when not empty), declining others;
// events that come meanwhile are recorded.
func (r *recorder) offer(agentID string) mesos.Offer {
	r.t.Helper()
	return r.offerWhere(func(o mesos.Offer) bool { return agentID == "" || o.AgentID.Value == agentID })
}

// offerWhere waits for an offer that ok accepts, declining others.
func (r *recorder) offerWhere(ok func(mesos.Offer) bool) mesos.Offer {
	r.t.Helper()
	deadline := time.Now().Add(r.cl.timeout())
	for {
		ev, err := r.c.next(func(*scheduler.Event) bool { return true }, time.Until(deadline))
		if err != nil {
			r.t.Fatalf("waiting for an offer: %v", err)
		}
		if ev.Type != scheduler.Event_OFFERS {
			r.handle(ev)
			continue
		}
		var found *mesos.Offer
		for i, o := range ev.Offers.Offers {
			if found == nil && ok(o) {
				found = &ev.Offers.Offers[i]
				continue
			}
			r.c.decline(o.ID, 0)
		}
		if found != nil {
			return *found
		}
	}
}

// launch accepts an offer with one task.
func (r *recorder) launch(o mesos.Offer, ti mesos.TaskInfo) {
	r.t.Helper()
	r.c.launch([]mesos.OfferID{o.ID}, ti)
}

// kill asks for a task to be killed.
func (r *recorder) kill(id string, agentID *mesos.AgentID) {
	r.t.Helper()
	r.c.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: id}, AgentID: agentID}})
}

// reconcile asks for the given tasks (none: implicit).
func (r *recorder) reconcile(tasks ...scheduler.Call_Reconcile_Task) {
	r.t.Helper()
	r.c.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: tasks}})
}

// runTask launches a shell task on a fresh offer and records it until RUNNING.
func (r *recorder) runTask(id, shell string) mesos.Offer {
	r.t.Helper()
	o := r.offer("")
	r.launch(o, shellTask(o, id, shell, 0.1, 32))
	r.untilState(id, mesos.TASK_RUNNING)
	return o
}

func scenarioLaunchKill(t *testing.T, cl confCluster, r *recorder) {
	r.phase("launch")
	o := r.runTask("sleeper", "sleep 1000")
	r.phase("kill")
	r.kill("sleeper", &o.AgentID)
	r.untilState("sleeper", mesos.TASK_KILLED)
}

func scenarioExitStatus(t *testing.T, cl confCluster, r *recorder) {
	r.phase("exit 3")
	o := r.offer("")
	r.launch(o, shellTask(o, "exiter", "exit 3", 0.1, 32))
	r.untilState("exiter", mesos.TASK_FAILED)
	r.phase("exit 0")
	o = r.offer("")
	r.launch(o, shellTask(o, "finisher", "true", 0.1, 32))
	r.untilState("finisher", mesos.TASK_FINISHED)
}

func scenarioKilledBySignal(t *testing.T, cl confCluster, r *recorder) {
	r.phase("launch")
	r.runTask("victim", "sleep 1000")
	r.phase("SIGKILL of the task's process")
	if err := syscall.Kill(cl.taskPID(t, "victim"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.untilState("victim", mesos.TASK_FAILED)
}

func scenarioKillGrace(t *testing.T, cl confCluster, r *recorder) {
	const grace = 2 * time.Second
	trapped := filepath.Join(t.TempDir(), "trapped")
	r.phase("launch a task that ignores SIGTERM, grace period 2s")
	o := r.offer("")
	ti := shellTask(o, "stubborn", "trap '' TERM; touch "+trapped+"; sleep 1000", 0.1, 32)
	ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: grace.Nanoseconds()}}
	r.launch(o, ti)
	r.untilState("stubborn", mesos.TASK_RUNNING)
	// RUNNING comes as the shell starts: wait until it ignores SIGTERM.
	eventually(t, "the task to trap SIGTERM", func() bool {
		_, err := os.Stat(trapped)
		return err == nil
	})
	r.phase("kill")
	start := time.Now()
	r.kill("stubborn", &o.AgentID)
	r.untilState("stubborn", mesos.TASK_KILLED)
	if took := time.Since(start); took < grace {
		t.Errorf("killed after %v, before the grace period of %v", took, grace)
	}
}

func scenarioKillDuringLaunch(t *testing.T, cl confCluster, r *recorder) {
	// A URI that is never served: the launch hangs in the fetcher.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	fetching := make(chan struct{}, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case fetching <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-req.Context().Done():
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })

	r.phase("launch, hanging in the fetch")
	o := r.offer("")
	ti := shellTask(o, "slow", "sleep 1000", 0.1, 32)
	ti.Command.URIs = []mesos.CommandInfo_URI{{Value: "http://" + ln.Addr().String() + "/never"}}
	r.launch(o, ti)
	select {
	case <-fetching:
	case <-time.After(cl.timeout()):
		t.Fatal("the agent never asked for the URI")
	}
	r.phase("kill")
	r.kill("slow", &o.AgentID)
	r.untilState("slow", mesos.TASK_KILLED)
}

func scenarioFetch(t *testing.T, cl confCluster, r *recorder) {
	src := t.TempDir()
	script := filepath.Join(src, "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntest \"$(cat data/hello.txt)\" = fetched || exit 7\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, filepath.Join(src, "bundle.tar.gz"), map[string]string{"data/hello.txt": "fetched\n"})
	r.phase("fetch an executable and an archive, run the one on the other")
	o := r.offer("")
	ti := shellTask(o, "fetcher", "./run.sh", 0.1, 32)
	ti.Command.URIs = []mesos.CommandInfo_URI{
		{Value: "file://" + script, Executable: proto(true)},
		{Value: "file://" + filepath.Join(src, "bundle.tar.gz"), Extract: proto(true)},
	}
	r.launch(o, ti)
	r.untilState("fetcher", mesos.TASK_FINISHED)
}

func scenarioFetchFailure(t *testing.T, cl confCluster, r *recorder) {
	r.phase("a file URI that does not exist")
	o := r.offer("")
	ti := shellTask(o, "nofile", "true", 0.1, 32)
	ti.Command.URIs = []mesos.CommandInfo_URI{{Value: "file:///nonexistent/bundle.tgz", Extract: proto(true)}}
	r.launch(o, ti)
	r.untilState("nofile", mesos.TASK_FAILED)
}

func scenarioCommandNotFound(t *testing.T, cl confCluster, r *recorder) {
	r.phase("exec form, no such executable")
	o := r.offer("")
	ti := shellTask(o, "nocmd", "", 0.1, 32)
	ti.Command = &mesos.CommandInfo{Shell: proto(false), Value: proto("/nonexistent/cmd"), Arguments: []string{"cmd"}}
	r.launch(o, ti)
	r.untilState("nocmd", mesos.TASK_FAILED)
}

// healthTask adds a health check (1 s apart, 2 failures kill, failures
// before the first success ignored for grace) and a 1 s kill grace period to a
// task.
func healthTask(ti mesos.TaskInfo, hc *mesos.HealthCheck, grace float64) mesos.TaskInfo {
	hc.DelaySeconds, hc.IntervalSeconds, hc.TimeoutSeconds = proto(0.0), proto(1.0), proto(2.0)
	hc.ConsecutiveFailures, hc.GracePeriodSeconds = proto(uint32(2)), proto(grace)
	ti.HealthCheck = hc
	ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(time.Second)}}
	return ti
}

func scenarioHealthCommand(t *testing.T, cl confCluster, r *recorder) {
	flagFile := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(flagFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.phase("a COMMAND check that passes")
	o := r.offer("")
	ti := healthTask(shellTask(o, "hc", "sleep 1000", 0.1, 32),
		&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: proto("test -e " + flagFile)}}, 0)
	r.launch(o, ti)
	r.until("healthy", func(ev *scheduler.Event) bool {
		return isTaskUpdate("hc")(ev) && ev.Update.Status.Healthy != nil && ev.Update.Status.GetHealthy()
	})
	r.phase("then fails: killed")
	if err := os.Remove(flagFile); err != nil {
		t.Fatal(err)
	}
	r.untilState("hc", mesos.TASK_KILLED)
}

// scenarioHealthHTTP: a MESOS_HTTP check goes to 127.0.0.1 on the task's port
// (a task on the host network), so it passes for a task listening on every
// address, and never for one listening on its agent's address only.
func scenarioHealthHTTP(t *testing.T, cl confCluster, r *recorder) {
	dir := t.TempDir()
	web := func(id, listen string) (mesos.Offer, mesos.TaskInfo) {
		o := r.offer("")
		port := offerPort(t, o)
		if listen == "" {
			listen = o.Hostname
		}
		ti := shellTask(o, id, "", 0.1, 32)
		ti.Resources = append(ti.Resources, ports(mesos.Value_Range{Begin: port, End: port}))
		ti.Command = helperCommand(t, "http",
			mesos.Environment_Variable{Name: "HOST", Value: proto(listen)},
			mesos.Environment_Variable{Name: "PORT0", Value: proto(fmt.Sprint(port))},
			mesos.Environment_Variable{Name: "HEALTHY_FILE", Value: proto(filepath.Join(dir, "healthy"))})
		return o, healthTask(ti, &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{
			Scheme: proto("http"), Port: uint32(port), Path: proto("/"),
		}}, 3) // the first checks may come before the server listens
	}
	if err := os.WriteFile(filepath.Join(dir, "healthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.phase("a MESOS_HTTP check of a task listening on 0.0.0.0 passes")
	o, ti := web("web", "0.0.0.0")
	r.launch(o, ti)
	r.until("healthy", func(ev *scheduler.Event) bool {
		return isTaskUpdate("web")(ev) && ev.Update.Status.Healthy != nil && ev.Update.Status.GetHealthy()
	})
	r.phase("then answers 503: killed")
	if err := os.Remove(filepath.Join(dir, "healthy")); err != nil {
		t.Fatal(err)
	}
	r.untilState("web", mesos.TASK_KILLED)
	if err := os.WriteFile(filepath.Join(dir, "healthy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.phase("a task listening on its agent's address only is never healthy")
	o, ti = web("agentonly", "")
	r.launch(o, ti)
	r.untilState("agentonly", mesos.TASK_KILLED)
}

// scenarioTaskEnvironment traces the names of the variables a command task gets
// from the agent (MESOS_*, LIBPROCESS_*, HOST and PORT*: the agent's own
// environment, which its executors inherit, is left out).
func scenarioTaskEnvironment(t *testing.T, cl confCluster, r *recorder) {
	out := filepath.Join(t.TempDir(), "env")
	r.phase("a task's environment")
	o := r.offer("")
	r.launch(o, shellTask(o, "env", "env > "+out, 0.1, 32))
	r.untilState("env", mesos.TASK_FINISHED)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		name, _, ok := strings.Cut(line, "=")
		if ok && (strings.HasPrefix(name, "MESOS_") || strings.HasPrefix(name, "LIBPROCESS_") || name == "HOST" || strings.HasPrefix(name, "PORT")) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	r.note("env %s", strings.Join(names, " "))
	if os.Getenv("CONF_DEBUG") != "" {
		t.Logf("environment:\n%s", b)
	}
}

func scenarioInvalidLaunches(t *testing.T, cl confCluster, r *recorder) {
	r.phase("a task asking for more than the offer holds")
	// The first agent's offer: the message quotes its port range.
	o := r.offerWhere(func(o mesos.Offer) bool { return o.Hostname == "127.0.0.2" })
	r.launch(o, shellTask(o, "toobig", "true", 100, 32))
	r.untilState("toobig", mesos.TASK_ERROR)
	r.phase("a launch on an offer already used")
	r.launch(o, shellTask(o, "dropped", "true", 0.1, 32))
	r.untilState("dropped", mesos.TASK_DROPPED)
	r.phase("a task id in use")
	o = r.runTask("dup", "sleep 1000")
	o2 := r.offer(o.AgentID.Value)
	r.launch(o2, shellTask(o2, "dup", "sleep 1000", 0.1, 32))
	r.untilState("dup", mesos.TASK_ERROR)
}

func scenarioReconcile(t *testing.T, cl confCluster, r *recorder) {
	r.phase("a running task and a finished one")
	o := r.runTask("running", "sleep 1000")
	o2 := r.offer(o.AgentID.Value)
	r.launch(o2, shellTask(o2, "finished", "true", 0.1, 32))
	r.untilState("finished", mesos.TASK_FINISHED)
	r.phase("explicit")
	r.reconcile(
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "running"}, AgentID: &o.AgentID},
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "running"}},
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "finished"}, AgentID: &o.AgentID},
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "unknown-known-agent"}, AgentID: &o.AgentID},
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "unknown-unknown-agent"}, AgentID: &mesos.AgentID{Value: "no-such-agent"}},
		scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "unknown-no-agent"}},
	)
	r.untilAnswered("running", "finished", "unknown-known-agent", "unknown-unknown-agent", "unknown-no-agent")
	r.phase("implicit")
	r.reconcile()
	r.untilUpdates("running", 1)
}

func scenarioKillUnknown(t *testing.T, cl confCluster, r *recorder) {
	r.phase("kill tasks the master does not know")
	o := r.offer("")
	r.c.decline(o.ID, 0)
	r.kill("unknown-known-agent", &o.AgentID)
	r.kill("unknown-no-agent", nil)
	r.untilUpdates("unknown-known-agent", 1)
	r.untilUpdates("unknown-no-agent", 1)
}

func scenarioStaleFrameworkID(t *testing.T, cl confCluster, r *recorder) {
	r.phase("subscribe with a framework id the master never saw")
	info := frameworkInfo(strideCapabilities...)
	info.User = currentUserName(t)
	info.Roles = []string{"*"}
	info.FailoverTimeout = proto(60.0)
	info.ID = &mesos.FrameworkID{Value: "11111111-2222-3333-4444-555555555555-0007"}
	c := tryClient(t, cl, jsonCodec, info)
	defer func() {
		c.call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		c.close()
	}()
	ev := c.expect(func(ev *scheduler.Event) bool {
		return ev.Type == scheduler.Event_SUBSCRIBED || ev.Type == scheduler.Event_ERROR
	})
	r.record(ev)
	if ev.Type == scheduler.Event_SUBSCRIBED {
		r.note("heartbeat_interval_set=%v", ev.Subscribed.HeartbeatIntervalSeconds != nil)
	}
}

// scenarioOfferAndMaster traces the shape of an offer and of the MasterInfo.
func scenarioOfferAndMaster(t *testing.T, cl confCluster, r *recorder) {
	r.phase("an offer")
	o := r.offer("")
	r.c.decline(o.ID, 0)
	r.note("offer id=%v framework_id=%v agent_id=%v hostname=%v url=%v allocation_info=%v executor_ids=%d",
		o.ID.Value != "", o.FrameworkID.Value != "", o.AgentID.Value != "", o.Hostname != "", o.URL != nil, o.GetAllocationInfo().GetRole(), len(o.ExecutorIDs))
	if u := o.URL; u != nil {
		r.note("offer url scheme=%s hostname_is_agent=%v ip_is_agent=%v port_set=%v path=%s",
			u.Scheme, u.Address.GetHostname() == o.Hostname, u.Address.GetIP() == o.Hostname, u.Address.Port > 0, u.GetPath())
	}
	for _, res := range o.Resources {
		r.note("resource %s type=%v role=%q allocation_role=%q reservations=%d", res.Name, res.GetType(), res.GetRole(), res.GetAllocationInfo().GetRole(), len(res.Reservations))
	}
	for _, a := range o.Attributes {
		r.note("attribute %s type=%v", a.Name, a.GetType())
	}
	r.phase("the master")
	info := frameworkInfo(strideCapabilities...)
	info.User = currentUserName(t)
	info.Roles = []string{"*"}
	c := tryClient(t, cl, jsonCodec, info)
	defer func() {
		c.call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		c.close()
	}()
	mi := c.expect(isType(scheduler.Event_SUBSCRIBED)).Subscribed.MasterInfo
	var caps []string
	for _, cp := range mi.Capabilities {
		// QUOTA_V2 is not in mesos-go's enum: JSON decodes it as UNKNOWN,
		// protobuf as its number.
		name := cp.Type.String()
		if _, known := mesos.MasterInfo_Capability_Type_value[name]; !known || cp.Type == mesos.MasterInfo_Capability_UNKNOWN {
			name = "(not in mesos-go)"
		}
		caps = append(caps, name)
	}
	r.note("master version=%s hostname=%s pid_set=%v address_set=%v capabilities=%s",
		mi.GetVersion(), mi.GetHostname(), mi.PID != nil, mi.Address != nil, strings.Join(caps, ","))
}

// scenarioMultiRoleOffers: a framework in two roles, neither with reservations,
// gets each agent's resources in one offer, allocated to one of its roles.
func scenarioMultiRoleOffers(t *testing.T, cl confCluster, r *recorder) {
	r.teardown()
	*r = *newRecorderWith(t, cl, strideCapabilities, []string{"*", "web"})
	r.phase("offers to a framework in roles * and web")
	seen := map[string]int{}
	deadline := time.Now().Add(cl.timeout())
	for len(seen) < confAgents && time.Now().Before(deadline) {
		ev, err := r.c.next(isType(scheduler.Event_OFFERS), time.Until(deadline))
		if err != nil {
			t.Fatal(err)
		}
		perAgent := map[string]int{}
		for _, o := range ev.Offers.Offers {
			perAgent[o.AgentID.Value]++
			seen[o.AgentID.Value]++
			role := o.GetAllocationInfo().GetRole()
			if role != "*" && role != "web" {
				t.Errorf("offer allocated to role %q", role)
			}
			for _, res := range o.Resources {
				if res.GetAllocationInfo().GetRole() != role {
					t.Errorf("resource %s allocated to %q in an offer to %q", res.Name, res.GetAllocationInfo().GetRole(), role)
				}
			}
		}
		for agent, n := range perAgent {
			if n != 1 {
				t.Errorf("agent %s in %d offers of one event", agent, n)
			}
		}
		// Keep them: an outstanding offer is not offered again.
	}
	r.note("agents offered %d", len(seen))
}

func scenarioAgentPartition(t *testing.T, cl confCluster, r *recorder) {
	r.phase("launch a task on each agent")
	o := r.runTask("victim", "sleep 1000")
	r.alias(o.AgentID.Value, "<victim-agent>")
	other := r.offerWhere(func(x mesos.Offer) bool { return x.AgentID != o.AgentID })
	r.launch(other, shellTask(other, "bystander", "sleep 1000", 0.1, 32))
	r.untilState("bystander", mesos.TASK_RUNNING)
	r.phase("the agent is cut off")
	cl.partition(t, o.AgentID.Value)
	r.until("FAILURE", isType(scheduler.Event_FAILURE))
	r.phase("reconciliation, explicit then implicit")
	r.reconcile(scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "victim"}, AgentID: &o.AgentID})
	r.untilUpdates("victim", 1)
	r.reconcile()
	r.untilUpdates("bystander", 1)
	r.phase("kill while unreachable")
	r.kill("victim", &o.AgentID)
	r.untilUpdates("victim", 1)
	r.phase("the agent comes back")
	cl.heal(t, o.AgentID.Value)
	r.untilState("victim", mesos.TASK_RUNNING)
	r.phase("kill")
	r.kill("victim", &o.AgentID)
	r.untilState("victim", mesos.TASK_KILLED)
}

// scenarioAgentPartitionNotAware is the partition for a framework that is not
// PARTITION_AWARE.
func scenarioAgentPartitionNotAware(t *testing.T, cl confCluster, r *recorder) {
	r.teardown()
	*r = *newRecorderWith(t, cl, []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}, []string{"*"})
	r.phase("launch")
	o := r.runTask("victim", "sleep 1000")
	r.alias(o.AgentID.Value, "<victim-agent>")
	r.phase("the agent is cut off")
	cl.partition(t, o.AgentID.Value)
	r.until("FAILURE", isType(scheduler.Event_FAILURE))
	r.phase("reconciliation")
	r.reconcile(scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "victim"}, AgentID: &o.AgentID})
	r.untilUpdates("victim", 1)
	r.phase("the agent comes back")
	cl.heal(t, o.AgentID.Value)
	r.reconcile(scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: "victim"}, AgentID: &o.AgentID})
	r.until("an answer other than LOST", func(ev *scheduler.Event) bool {
		return isTaskUpdate("victim")(ev) && ev.Update.Status.GetState() != mesos.TASK_LOST
	})
}
