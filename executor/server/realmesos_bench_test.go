package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/executor/mesostest"
	"github.com/stride-run/stride/internal/freeports"
)

// BenchmarkRealMesosRun100Instances measures the time from apply to 100 instances
// of a trivial app (sleep; 0.01 cpus, 8 MB) RUNNING, on three agents of 1 cpu and
// 1024 MB each: on the stand-in (its default offer interval, 200 ms), on a real
// Mesos 1.11.1 cluster with the master's default allocation interval (1 s), and
// on one allocating every 200 ms like the stand-in. One cluster and server per
// sub-benchmark; every iteration applies the app, waits for 100 running, then
// destroys it (untimed). The agents wait up to 10 minutes for an executor to
// register (the default, 1 minute, is too short for 100 unoptimised executors
// starting at once on two cores). The real sub-benchmarks need STRIDE_TEST_MESOS:
//
//	STRIDE_TEST_MESOS=$(scripts/mesos.sh) go test -run '^$' -bench RealMesos -benchtime 3x ./executor/server/
func BenchmarkRealMesosRun100Instances(b *testing.B) {
	const n = 100
	b.Run("standin", func(b *testing.B) {
		dir := b.TempDir()
		m, err := localmesos.New(localmesos.Config{
			WorkDir: filepath.Join(dir, "mesos"), Agents: 3, Cpus: 1, Mem: 1024, Disk: 1024, FirstPort: freeports.Range(b, 300), PortsPerAgent: 100,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = m.Close() })
		live := func() int {
			k := 0
			for _, tk := range m.Tasks() {
				if !engine.TerminalTaskState(tk.State.String()) {
					k++
				}
			}
			return k
		}
		benchRun(b, n, m.URL(), filepath.Join(dir, "stride"), live)
	})
	for _, alloc := range []time.Duration{0, 200 * time.Millisecond} {
		name := "mesos"
		if alloc > 0 {
			name = fmt.Sprintf("mesos-alloc%v", alloc)
		}
		b.Run(name, func(b *testing.B) {
			// 100 unoptimised mesos-executors starting at once on a small machine
			// take longer than the agent's default 1 minute to register.
			c := mesostest.Start(b, mesostest.Options{
				Agents: 3, AllocationInterval: alloc, AgentFlags: []string{"--executor_registration_timeout=10mins"},
			})
			live := func() int {
				tasks, err := c.Tasks(false)
				if err != nil {
					b.Fatal(err)
				}
				k := 0
				for _, tk := range tasks {
					if !engine.TerminalTaskState(tk.State) {
						k++
					}
				}
				return k
			}
			benchRun(b, n, c.MasterURL(), b.TempDir(), live)
		})
	}
}

// benchRun starts a Stride server against the master at url and, b.N times,
// applies an app of n instances, times it to all running, and destroys it; live
// counts the tasks the master still runs.
func benchRun(b *testing.B, n int, url, dataDir string, live func() int) {
	var logMu sync.Mutex
	var logs []string
	srv, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: dataDir, MesosURL: url,
		// Measure the launch path, not issue 11's stability wait: without health
		// checks a task counts as deployed once it has run for StableAfter (5 s by
		// default), which would add a constant 5 s to every figure.
		StableAfter: time.Millisecond,
		Logf: func(format string, args ...any) {
			logMu.Lock()
			defer logMu.Unlock()
			logs = append(logs, fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	client := api.NewClient(srv.URL())
	fail := func(format string, args ...any) {
		b.Helper()
		logMu.Lock()
		tail := strings.Join(logs[max(0, len(logs)-30):], "\n")
		logMu.Unlock()
		b.Fatalf(format+"\nStride's log tail:\n%s", append(args, tail)...)
	}
	waitUntil := func(what string, cond func() bool) {
		b.Helper()
		deadline := time.Now().Add(5 * time.Minute)
		for !cond() {
			st := srv.Executor().View().App("/bench")
			if st != nil && st.LastTaskFailure != nil {
				// A failed launch spoils the measurement (and backs off).
				fail("waiting for %s: a task failed: %+v", what, *st.LastTaskFailure)
			}
			if time.Now().After(deadline) {
				fail("timed out waiting for %s: %+v", what, st)
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	waitUntil("the subscription", func() bool { return srv.Executor().View().Connected })
	deployed := func(id string) func() bool {
		return func() bool {
			d, ok := srv.Executor().View().Deployment(id)
			return ok && d.Status == engine.DeploymentSucceeded
		}
	}
	a := engine.NewApp("/bench")
	a.Cmd = "exec sleep 600"
	a.Instances, a.Cpus, a.Mem = n, 0.01, 8
	a.PortDefinitions = []engine.PortDefinition{}
	a.ApplyDefaults()
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := client.Apply(context.Background(), api.ApplyRequest{Spec: &engine.Spec{Scope: "/", Apps: []*engine.App{a}}})
		if err != nil {
			b.Fatal(err)
		}
		waitUntil("100 running", deployed(resp.DeploymentID))
		elapsed := time.Since(start)
		b.StopTimer()
		total += elapsed
		if st := srv.Executor().View().App("/bench"); st.TasksRunning != n {
			b.Fatalf("%d running", st.TasksRunning)
		}
		b.Logf("%s: %d instances running %.2fs after the apply", b.Name(), n, elapsed.Seconds())
		resp, err = client.Apply(context.Background(), api.ApplyRequest{Spec: &engine.Spec{Scope: "/"}})
		if err != nil {
			b.Fatal(err)
		}
		waitUntil("the destroy", deployed(resp.DeploymentID))
		waitUntil("no task left on the master", func() bool { return live() == 0 })
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-running")
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "instances/s")
}
