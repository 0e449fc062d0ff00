package localmesos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// launchAll launches n `sleep 60` tasks through offers (as many per offer as
// fit, the remainder refused for no time) and waits until all are RUNNING,
// acknowledging every update. It returns the time from the first offer to the
// last RUNNING.
func launchAll(tb testing.TB, m *Master, c *client, n int) time.Duration {
	tb.Helper()
	const cpus, mem = 0.01, 8
	var (
		next    int
		running = map[string]bool{}
		start   time.Time
	)
	c.ackAll = true
	c.declineSkipped = false
	for len(running) < n {
		ev := c.expect(func(ev *scheduler.Event) bool {
			return ev.Type == scheduler.Event_OFFERS || ev.Type == scheduler.Event_UPDATE
		})
		switch ev.Type {
		case scheduler.Event_OFFERS:
			if start.IsZero() {
				start = time.Now()
			}
			for _, o := range ev.Offers.Offers {
				free := summarize(o)["*"]
				var tasks []mesos.TaskInfo
				for next < n && free.cpus >= cpus && free.mem >= mem {
					id := fmt.Sprintf("bench-%04d", next)
					tasks = append(tasks, mesos.TaskInfo{
						Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID,
						Resources: []mesos.Resource{scalar("cpus", cpus), scalar("mem", mem)},
						Command:   &mesos.CommandInfo{Shell: proto(false), Value: proto("sleep"), Arguments: []string{"sleep", "60"}},
					})
					free.cpus, free.mem = round3(free.cpus-cpus), free.mem-mem
					next++
				}
				if len(tasks) == 0 {
					c.decline(o.ID, 0)
					continue
				}
				c.launch([]mesos.OfferID{o.ID}, tasks...)
			}
		case scheduler.Event_UPDATE:
			st := ev.Update.Status
			switch st.GetState() {
			case mesos.TASK_RUNNING:
				running[st.TaskID.Value] = true
			case mesos.TASK_STARTING:
			default:
				tb.Fatalf("task %s: %v %q", st.TaskID.Value, st.GetState(), st.GetMessage())
			}
		}
	}
	return time.Since(start)
}

// benchMaster starts a master tuned for throughput: a 5ms allocation interval.
func benchMaster(tb testing.TB) (*Master, *client) {
	m := newMaster(tb, func(c *Config) {
		c.OfferInterval = 5 * time.Millisecond
		c.HeartbeatInterval = time.Minute
		c.UpdateRetry = time.Minute
		c.Logf = nil
	})
	return m, subscribe(tb, m, protoCodec, frameworkInfo())
}

// teardown kills every task of the framework and waits until the processes
// are reaped and the resources free.
func teardown(tb testing.TB, m *Master, c *client) {
	tb.Helper()
	c.mustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
	eventually(tb, "all tasks to be torn down", func() bool {
		for _, a := range m.Agents() {
			if a.Used.Cpus != 0 {
				return false
			}
		}
		return len(m.Tasks()) == 0
	})
}

// BenchmarkLaunch1000 launches 1000 processes through offers until all are
// RUNNING, then tears them down (untimed). tasks/s is the launch rate.
// BenchmarkForkExec measures what one process start costs on its own.
func BenchmarkLaunch1000(b *testing.B) {
	// Correctness first: a small batch runs, with live processes and exact
	// accounting.
	{
		m, c := benchMaster(b)
		launchAll(b, m, c, 20)
		tasks := m.Tasks()
		if len(tasks) != 20 {
			b.Fatalf("%d tasks, want 20", len(tasks))
		}
		for _, ti := range tasks {
			if ti.State != mesos.TASK_RUNNING || !processAlive(ti.PID) {
				b.Fatalf("task %s: %v, pid %d", ti.ID, ti.State, ti.PID)
			}
		}
		var used float64
		for _, a := range m.Agents() {
			used += a.Used.Cpus
		}
		if round3(used) != 0.2 {
			b.Fatalf("used cpus %v, want 0.2", used)
		}
		teardown(b, m, c)
	}
	const n = 1000
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		m, c := benchMaster(b)
		b.StartTimer()
		total += launchAll(b, m, c, n)
		b.StopTimer()
		if got := len(m.Tasks()); got != n {
			b.Fatalf("%d tasks, want %d", got, n)
		}
		teardown(b, m, c)
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "tasks/s")
}

// BenchmarkForkExec starts and kills `sleep 60` in its own process group, the
// floor of what launching a task costs.
func BenchmarkForkExec(b *testing.B) {
	start := func() *exec.Cmd {
		cmd := exec.Command("sleep", "60")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		return cmd
	}
	if cmd := start(); !processAlive(cmd.Process.Pid) {
		b.Fatal("sleep is not running")
	} else {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	// At most a batch of processes lives at a time; reaping is not timed.
	const batch = 100
	var cmds []*exec.Cmd
	reap := func() {
		for _, cmd := range cmds {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
		cmds = cmds[:0]
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmds = append(cmds, start())
		if len(cmds) == batch {
			b.StopTimer()
			reap()
			b.StartTimer()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "procs/s")
	reap()
}

// BenchmarkCheckpoint is what recovery costs each launch: the checkpoint of a
// Stride-like task (20 environment variables, a health check) created in its
// sandbox, and its pid line added. "pid file" is what a launch wrote before
// checkpoints, the pid file alone.
func BenchmarkCheckpoint(b *testing.B) {
	a := &agent{index: 0, id: "m-S0"}
	fw := &framework{id: "m-0000", info: *recoveringFramework(604800)}
	var env []mesos.Environment_Variable
	for i := 0; i < 20; i++ {
		env = append(env, mesos.Environment_Variable{Name: fmt.Sprintf("VARIABLE_%d", i), Value: proto(fmt.Sprintf("value-%d", i))})
	}
	info := mesos.TaskInfo{
		Name: "shop_web", TaskID: mesos.TaskID{Value: "shop_web.0"}, AgentID: mesos.AgentID{Value: a.id},
		Resources:   []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 64), ports(mesos.Value_Range{Begin: 31000, End: 31000})},
		Command:     &mesos.CommandInfo{Shell: proto(true), Value: proto("exec python3 -m http.server $PORT0"), Environment: &mesos.Environment{Variables: env}},
		HealthCheck: passingCheck(),
		KillPolicy:  grace(3 * time.Second),
	}
	sandboxes := func(b *testing.B) []string {
		dir := b.TempDir()
		out := make([]string, b.N)
		for i := range out {
			out[i] = filepath.Join(dir, strconv.Itoa(i))
			if err := os.Mkdir(out[i], dirMode); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	b.Run("checkpoint", func(b *testing.B) {
		dirs := sandboxes(b)
		t := &task{fw: fw, agent: a, info: info, containerID: newMasterID()}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			t.sandbox = dirs[i]
			f, err := writeCheckpoint(t, fw.info)
			if err != nil {
				b.Fatal(err)
			}
			if err := recordPid(f, os.Getpid()); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("pid file", func(b *testing.B) {
		dirs := sandboxes(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			start, _ := processStartTime(os.Getpid())
			line := fmt.Sprintf("%d %d %d\n", os.Getpid(), os.Getpid(), start)
			if err := os.WriteFile(filepath.Join(dirs[i], pidFileName), []byte(line), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	})
}
