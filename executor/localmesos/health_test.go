package localmesos

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/stride-run/stride/internal/freeports"
)

// isHealth matches a health update of a task with the given healthy value.
func isHealth(taskID string, healthy bool) func(*scheduler.Event) bool {
	return func(ev *scheduler.Event) bool {
		if ev.Type != scheduler.Event_UPDATE {
			return false
		}
		st := ev.Update.Status
		return st.TaskID.Value == taskID && st.Healthy != nil && *st.Healthy == healthy && st.GetState() == mesos.TASK_RUNNING
	}
}

// quickCheck returns health check timings for tests: checks start at once and
// run every 50ms.
func quickCheck(hc mesos.HealthCheck, failures uint32, grace float64) *mesos.HealthCheck {
	hc.DelaySeconds = proto(0.0)
	hc.IntervalSeconds = proto(0.05)
	hc.TimeoutSeconds = proto(5.0)
	hc.ConsecutiveFailures = proto(failures)
	hc.GracePeriodSeconds = proto(grace)
	return &hc
}

func TestHealthChecks(t *testing.T) {
	cases := map[string]struct {
		check func(port uint64) mesos.HealthCheck
		// server: the task is the test binary serving HTTP on every address
		// (no $HOST), port $PORT0, answering 200 while the sandbox holds
		// "healthy"; otherwise the
		// task is `sleep` and the check looks for the file itself.
		server bool
	}{
		"HTTP": {
			server: true,
			check: func(port uint64) mesos.HealthCheck {
				return mesos.HealthCheck{Type: mesos.HealthCheck_HTTP, HTTP: &mesos.HealthCheck_HTTPCheckInfo{Port: uint32(port), Path: proto("/health")}}
			},
		},
		"COMMAND": {
			check: func(uint64) mesos.HealthCheck {
				return mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: proto("test -f healthy")}}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			first := freeports.Range(t, 1000)
			m := newMaster(t, func(c *Config) { c.Agents, c.FirstPort = 1, first })
			c := subscribe(t, m, jsonCodec, frameworkInfo())
			c.ackAll = true
			o := c.offers()[0]
			port := offerPort(t, o)
			src := filepath.Join(t.TempDir(), "healthy")
			if err := os.WriteFile(src, []byte("yes"), 0o644); err != nil {
				t.Fatal(err)
			}
			ti := shellTask(o, "checked", "sleep 60", 0.1, 32)
			if tc.server {
				ti.Command = helperCommand(t, "http", mesos.Environment_Variable{Name: "PORT0", Value: proto(fmt.Sprint(port))})
				ti.Resources = append(ti.Resources, ports(mesos.Value_Range{Begin: port, End: port}))
			}
			ti.Command.URIs = []mesos.CommandInfo_URI{{Value: "file://" + src}}
			ti.HealthCheck = quickCheck(tc.check(port), 3, 0)
			c.launch([]mesos.OfferID{o.ID}, ti)
			healthy := c.expect(isHealth("checked", true)).Update.Status
			if healthy.GetReason() != mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED || healthy.UUID == nil {
				t.Errorf("healthy update: reason %v, uuid %x", healthy.GetReason(), healthy.UUID)
			}
			if ti := m.Tasks(); len(ti) != 1 || ti[0].Healthy == nil || !*ti[0].Healthy {
				t.Errorf("Tasks() = %+v, want healthy", ti)
			}
			if err := os.Remove(filepath.Join(sandboxOf(t, m, "checked"), "healthy")); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				st := c.expect(func(ev *scheduler.Event) bool {
					return isHealth("checked", false)(ev) || isTaskUpdate("checked")(ev) && isTerminal(ev.Update.Status.GetState())
				}).Update.Status
				// As the Mesos command executor: no message (the stand-in logs why).
				if st.GetState() != mesos.TASK_RUNNING || st.Message != nil {
					t.Fatalf("failure %d: %v %q", i, st.GetState(), st.GetMessage())
				}
			}
			killed := c.expect(isTaskUpdate("checked")).Update.Status
			if killed.GetState() != mesos.TASK_KILLED || killed.Healthy == nil || *killed.Healthy {
				t.Errorf("after 3 failures: %v healthy=%v, want TASK_KILLED healthy=false", killed.GetState(), killed.Healthy)
			}
		})
	}
}

// TestHealthCheckTCP: network checks go to 127.0.0.1, as Mesos' do for a task
// on the host network: a task listening on every address or on loopback is
// healthy, one listening on its agent's address only never is.
func TestHealthCheckTCP(t *testing.T) {
	cases := map[string]struct {
		bind    string // $HOST of the task ("": every address)
		healthy bool
	}{
		"every address":      {bind: "", healthy: true},
		"loopback":           {bind: loopback, healthy: true},
		"agent address only": {bind: "agent", healthy: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			first := freeports.Range(t, 1000)
			m := newMaster(t, func(c *Config) { c.Agents, c.FirstPort = 1, first })
			c := subscribe(t, m, protoCodec, frameworkInfo())
			c.ackAll = true
			o := c.offers()[0]
			port := offerPort(t, o)
			ti := shellTask(o, "tcp", "", 0.1, 32)
			env := []mesos.Environment_Variable{{Name: "PORT0", Value: proto(fmt.Sprint(port))}}
			switch tc.bind {
			case "":
			case "agent":
				env = append(env, mesos.Environment_Variable{Name: "HOST", Value: proto(o.Hostname)})
			default:
				env = append(env, mesos.Environment_Variable{Name: "HOST", Value: proto(tc.bind)})
			}
			ti.Command = helperCommand(t, "http", env...)
			ti.Resources = append(ti.Resources, ports(mesos.Value_Range{Begin: port, End: port}))
			// The grace period covers the server's start: the first report
			// is a success, or a failure once it is over.
			ti.HealthCheck = quickCheck(mesos.HealthCheck{Type: mesos.HealthCheck_TCP, TCP: &mesos.HealthCheck_TCPCheckInfo{Port: uint32(port)}}, 3, 1)
			c.launch([]mesos.OfferID{o.ID}, ti)
			st := c.expect(func(ev *scheduler.Event) bool {
				return isHealth("tcp", true)(ev) || isHealth("tcp", false)(ev)
			}).Update.Status
			if st.GetHealthy() != tc.healthy {
				t.Errorf("first health report: healthy=%v, want %v", st.GetHealthy(), tc.healthy)
			}
		})
	}
}

func TestHealthCheckGracePeriod(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	c.ackAll = true
	o := c.offers()[0]
	ti := shellTask(o, "slow-starter", "sleep 60", 0.1, 32)
	ti.HealthCheck = quickCheck(mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND, Command: &mesos.CommandInfo{Value: proto("false")}}, 1, 3600)
	c.launch([]mesos.OfferID{o.ID}, ti)
	c.expect(isUpdate("slow-starter", mesos.TASK_RUNNING))
	// Checks run every 50ms and all fail, but within the grace period: no
	// update, no kill, for 8 heartbeats (700ms and more).
	c.quiet(8, isTaskUpdate("slow-starter"))
	if s := taskState(m, "slow-starter"); s != "TASK_RUNNING" {
		t.Errorf("state %s", s)
	}
}
