package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/executor/metrics"
	"github.com/stride-run/stride/internal/freeports"
)

// BenchmarkRun1000Instances measures, end to end on the stand-in, the time from
// apply to 1,000 instances of a trivial app (sleep) RUNNING: plan, intent
// written, offers matched, LAUNCHes, 1,000 processes started, 2,000 status
// updates acknowledged and recorded. It reports instances/s.
func BenchmarkRun1000Instances(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		m, err := localmesos.New(localmesos.Config{
			WorkDir: filepath.Join(dir, "mesos"), Agents: 3, Cpus: 64, Mem: 65536, PortsPerAgent: 1000, FirstPort: freeports.Range(b, 3000),
			OfferInterval: 50 * time.Millisecond, HeartbeatInterval: 5 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, MesosURL: m.URL()})
		if err != nil {
			b.Fatal(err)
		}
		for !srv.Executor().View().Connected {
			time.Sleep(10 * time.Millisecond)
		}
		a := engine.NewApp("/bench")
		a.Cmd = "exec sleep 600"
		a.Instances, a.Cpus, a.Mem = n, 0.01, 8
		a.PortDefinitions = []engine.PortDefinition{}
		a.ApplyDefaults()
		client := api.NewClient(srv.URL())
		b.StartTimer()
		start := time.Now()
		resp, err := client.Apply(context.Background(), api.ApplyRequest{Spec: &engine.Spec{Scope: "/", Apps: []*engine.App{a}}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			if d, ok := srv.Executor().View().Deployment(resp.DeploymentID); ok && d.Status == engine.DeploymentSucceeded {
				break
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("not all running after 2 minutes: %+v", srv.Executor().View().App("/bench"))
			}
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if st := srv.Executor().View().App("/bench"); st.TasksRunning != n {
			b.Fatalf("%d running", st.TasksRunning)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "instances/s")
		b.ReportMetric(elapsed.Seconds(), "s-to-running")
		_ = srv.Close()
		_ = m.Close()
	}
}

// BenchmarkInstrument: what timing a request by route costs every API call
// (the route template, the status recorder, the histogram and counters).
func BenchmarkInstrument(b *testing.B) {
	m := metrics.New(nil)
	h := instrument(m, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	reqs := []*http.Request{
		httptest.NewRequest("GET", "/v2/apps/shop/api/tasks", nil),
		httptest.NewRequest("GET", "/v2/tasks", nil),
		httptest.NewRequest("POST", "/stride/v1/apply", nil),
	}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.ServeHTTP(w, reqs[i%len(reqs)])
	}
	b.StopTimer()
	if n := m.Document().Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps/{id}/tasks}"].Count; n == 0 {
		b.Fatal("nothing recorded")
	}
}

// BenchmarkPostApps100 measures 100 POST /v2/apps one after another (each a
// new app of one instance: planned against the state, written with fsync,
// deployed) on a server over the stand-in, as a CI job creating apps with a
// Marathon client does. It reports the time for the 100 (target: 2 s).
func BenchmarkPostApps100(b *testing.B) {
	dir := b.TempDir()
	m, err := localmesos.New(localmesos.Config{
		WorkDir: filepath.Join(dir, "mesos"), Agents: 3, Cpus: 64, Mem: 65536, PortsPerAgent: 1000,
		OfferInterval: 50 * time.Millisecond, HeartbeatInterval: 5 * time.Second,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, MesosURL: m.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for !srv.Executor().View().Connected {
		time.Sleep(10 * time.Millisecond)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(id string) {
		body := `{"id":"` + id + `","cmd":"exec sleep 600","cpus":0.01,"mem":8,"portDefinitions":[]}`
		resp, err := client.Post(srv.URL()+"/v2/apps", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("POST %s: %d", id, resp.StatusCode)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < 100; j++ {
			post(fmt.Sprintf("/bench/r%d/app-%03d", i, j))
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/100-posts")
	if n := len(srv.Executor().View().Apps); n != 100*b.N {
		b.Fatalf("%d apps, want %d", n, 100*b.N)
	}
}
