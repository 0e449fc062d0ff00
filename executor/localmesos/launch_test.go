package localmesos

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// writeTarGz writes a .tar.gz holding files (name -> content).
func writeTarGz(t testing.TB, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range sortedKeys(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLaunchRealProcess(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "plain.txt"), []byte("fetched plain\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeTarGz(t, filepath.Join(src, "bundle.tar.gz"), map[string]string{"data/hello.txt": "fetched archive\n"})
	uris := []mesos.CommandInfo_URI{
		{Value: "file://" + filepath.Join(src, "plain.txt")},
		{Value: filepath.Join(src, "bundle.tar.gz")}, // a plain path; extract defaults to true
	}
	env := &mesos.Environment{Variables: []mesos.Environment_Variable{{Name: "GREETING", Value: proto("hello")}, {Name: "HOME", Value: proto("/custom/home")}}}
	cases := map[string]struct {
		command *mesos.CommandInfo
		check   func(t *testing.T, sandbox, agentHost string)
	}{
		"shell": {
			command: &mesos.CommandInfo{
				Value:       proto(`echo "$GREETING from $LIBPROCESS_IP in $MESOS_SANDBOX as $MESOS_EXECUTOR_ID home $HOME" > out.txt && cat plain.txt data/hello.txt >> out.txt`),
				URIs:        uris,
				Environment: env,
			},
			check: func(t *testing.T, sandbox, host string) {
				got := readFile(t, filepath.Join(sandbox, "out.txt"))
				want := "hello from " + host + " in " + sandbox + " as shell home /custom/home\nfetched plain\nfetched archive\n"
				if got != want {
					t.Errorf("out.txt = %q, want %q", got, want)
				}
			},
		},
		"exec": {
			command: &mesos.CommandInfo{
				Shell:       proto(false),
				Value:       proto("env"),
				Arguments:   []string{"env"},
				URIs:        uris,
				Environment: env,
			},
			check: func(t *testing.T, sandbox, host string) {
				out := readFile(t, filepath.Join(sandbox, "stdout"))
				for _, want := range []string{"GREETING=hello", "LIBPROCESS_IP=" + host, "MESOS_SANDBOX=" + sandbox, "MESOS_EXECUTOR_ID=exec", "HOME=/custom/home"} {
					if !strings.Contains(out, want+"\n") {
						t.Errorf("stdout lacks %q:\n%s", want, out)
					}
				}
				if got := readFile(t, filepath.Join(sandbox, "data", "hello.txt")); got != "fetched archive\n" {
					t.Errorf("extracted file = %q", got)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 1 })
			c := subscribe(t, m, jsonCodec, frameworkInfo())
			o := c.offers()[0]
			ti := shellTask(o, name, "", 0.5, 64)
			ti.Command = tc.command
			c.launch([]mesos.OfferID{o.ID}, ti)
			var (
				seen []mesos.TaskState
				last []byte // uuid of the previous update: a resend of it may cross the ack
			)
			for _, want := range []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED} {
				ev := c.expect(func(ev *scheduler.Event) bool {
					return isTaskUpdate(name)(ev) && !bytes.Equal(ev.Update.Status.UUID, last)
				})
				st := ev.Update.Status
				last = st.UUID
				seen = append(seen, st.GetState())
				if st.GetState() != want {
					t.Fatalf("updates %v, want STARTING, RUNNING, FINISHED (message %q)", seen, st.GetMessage())
				}
				if len(st.UUID) != 16 || st.GetSource() != mesos.SOURCE_EXECUTOR || st.GetAgentID().GetValue() != o.AgentID.Value || st.GetTimestamp() == 0 {
					t.Errorf("%v: uuid %x, source %v, agent %v, timestamp %v", want, st.UUID, st.GetSource(), st.GetAgentID(), st.GetTimestamp())
				}
				if want == mesos.TASK_RUNNING {
					ips := st.GetContainerStatus().GetNetworkInfos()
					if len(ips) != 1 || len(ips[0].IPAddresses) != 1 || ips[0].IPAddresses[0].GetIPAddress() != o.Hostname {
						t.Errorf("RUNNING container status %v, want the agent's IP %s", st.GetContainerStatus(), o.Hostname)
					}
				}
				if want == mesos.TASK_FINISHED && st.GetMessage() != "Command exited with status 0" {
					t.Errorf("FINISHED message %q", st.GetMessage())
				}
				sandbox := sandboxOf(t, m, name)
				c.ack(ev)
				if want == mesos.TASK_FINISHED {
					tc.check(t, sandbox, o.Hostname)
				}
			}
			eventually(t, "the finished task to be forgotten", func() bool { return taskState(m, name) == "" })
			if used := m.Agents()[0].Used; used.Cpus != 0 || used.Mem != 0 {
				t.Errorf("resources still used: %+v", used)
			}
		})
	}
}

func TestTaskFailures(t *testing.T) {
	cases := map[string]struct {
		command     *mesos.CommandInfo
		container   *mesos.ContainerInfo
		docker      error // what the Docker ping answers
		wantState   mesos.TaskState
		wantMessage string
		wantReason  mesos.TaskStatus_Reason
		wantSource  mesos.TaskStatus_Source
		running     bool // whether it got to RUNNING first
	}{
		"exit status": {
			command: &mesos.CommandInfo{Value: proto("exit 3")}, running: true,
			wantState: mesos.TASK_FAILED, wantMessage: "Command exited with status 3", wantSource: mesos.SOURCE_EXECUTOR,
		},
		"signal": {
			command: &mesos.CommandInfo{Value: proto("kill -KILL $$")}, running: true,
			wantState: mesos.TASK_FAILED, wantMessage: "Command terminated with signal Killed", wantSource: mesos.SOURCE_EXECUTOR,
		},
		"missing executable": {
			// As the Mesos command executor: the task runs, its exec fails.
			command: &mesos.CommandInfo{Shell: proto(false), Value: proto("no-such-program-here"), Arguments: []string{"x"}}, running: true,
			wantState: mesos.TASK_FAILED, wantMessage: "Command exited with status 1", wantSource: mesos.SOURCE_EXECUTOR,
		},
		"fetch failure": {
			command:   &mesos.CommandInfo{Value: proto("true"), URIs: []mesos.CommandInfo_URI{{Value: "file:///no/such/file.txt"}}},
			wantState: mesos.TASK_FAILED, wantMessage: "Failed to launch container: Failed to fetch all URIs for container", wantReason: mesos.REASON_CONTAINER_LAUNCH_FAILED, wantSource: mesos.SOURCE_AGENT,
		},
		"docker without an engine": {
			command:   &mesos.CommandInfo{Value: proto("true")},
			container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "nginx"}},
			docker:    errors.New("no engine"),
			wantState: mesos.TASK_FAILED, wantMessage: msgDockerNoEngine, wantReason: mesos.REASON_CONTAINER_LAUNCH_FAILED, wantSource: mesos.SOURCE_AGENT,
		},
		"docker with an engine": {
			command:   &mesos.CommandInfo{Value: proto("true")},
			container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: "nginx"}},
			wantState: mesos.TASK_FAILED, wantMessage: "not run by the stand-in", wantReason: mesos.REASON_CONTAINER_LAUNCH_FAILED, wantSource: mesos.SOURCE_AGENT,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 1 })
			m.mu.Lock()
			m.docker = func(context.Context) error { return tc.docker }
			m.mu.Unlock()
			c := subscribe(t, m, protoCodec, frameworkInfo())
			o := c.offers()[0]
			ti := shellTask(o, "f", "", 0.1, 32)
			ti.Command, ti.Container = tc.command, tc.container
			c.launch([]mesos.OfferID{o.ID}, ti)
			var states []mesos.TaskState
			for {
				ev := c.expect(isTaskUpdate("f"))
				c.ack(ev)
				st := ev.Update.Status
				states = append(states, st.GetState())
				if !isTerminal(st.GetState()) {
					continue
				}
				if st.GetState() != tc.wantState || !strings.Contains(st.GetMessage(), tc.wantMessage) || st.GetSource() != tc.wantSource {
					t.Errorf("terminal update %v %q from %v, want %v %q from %v", st.GetState(), st.GetMessage(), st.GetSource(), tc.wantState, tc.wantMessage, tc.wantSource)
				}
				if st.Reason != nil || tc.wantReason != 0 {
					if st.GetReason() != tc.wantReason {
						t.Errorf("reason %v, want %v", st.GetReason(), tc.wantReason)
					}
				}
				break
			}
			wantStates := 1
			if tc.running {
				wantStates = 3
			}
			if len(states) != wantStates {
				t.Errorf("updates %v", states)
			}
			eventually(t, "resources to be released", func() bool { return m.Agents()[0].Used.Cpus == 0 })
		})
	}
}

func TestUpdatesRetriedUntilAcknowledged(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1; c.UpdateRetry = 200 * time.Millisecond })
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	o := c.offers()[0]
	c.launch([]mesos.OfferID{o.ID}, shellTask(o, "r", "sleep 60", 0.1, 32))
	first := c.expect(isTaskUpdate("r")).Update.Status
	if first.GetState() != mesos.TASK_STARTING {
		t.Fatalf("first update %v", first.GetState())
	}
	// Unacknowledged, STARTING comes again (same uuid), and RUNNING waits.
	for i := 0; i < 2; i++ {
		again := c.expect(isTaskUpdate("r")).Update.Status
		if again.GetState() != mesos.TASK_STARTING || !bytes.Equal(again.UUID, first.UUID) {
			t.Fatalf("resent update %v %x, want STARTING %x", again.GetState(), again.UUID, first.UUID)
		}
	}
	c.ack(&scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: first}})
	// A resend of STARTING may have crossed the ack; then RUNNING comes.
	running := c.expect(func(ev *scheduler.Event) bool {
		return isTaskUpdate("r")(ev) && !bytes.Equal(ev.Update.Status.UUID, first.UUID)
	})
	if running.Update.Status.GetState() != mesos.TASK_RUNNING {
		t.Fatalf("after the ack: %v", running.Update.Status.GetState())
	}
	c.ack(running)
	// Acknowledged, nothing is resent: UpdateRetry is 200ms, heartbeats come
	// every 100ms, so 8 heartbeats span three retry periods. (One resend may
	// have crossed the ack on its way; a second one may not.)
	crossed := 0
	c.quiet(8, func(ev *scheduler.Event) bool {
		if !isTaskUpdate("r")(ev) {
			return false
		}
		if bytes.Equal(ev.Update.Status.UUID, running.Update.Status.UUID) && crossed == 0 {
			crossed++
			return false
		}
		return true
	})
	if ti := m.Tasks(); len(ti) != 1 || ti[0].Pending != 0 || ti[0].State != mesos.TASK_RUNNING {
		t.Errorf("tasks %+v", ti)
	}
}
