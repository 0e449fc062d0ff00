package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// bigView returns a View of apps×perApp running tasks: apps alternate between one
// and two ports, every task has one health result.
func bigView(apps, perApp int) *executor.View {
	v := &executor.View{Serial: 1, Groups: []*engine.Group{{ID: "/", Version: v1}}}
	for g := 0; g < 20 && g < apps; g++ {
		v.Groups = append(v.Groups, &engine.Group{ID: fmt.Sprintf("/team-%02d", g), Version: v1, Dependencies: []string{"/infra"}})
	}
	for i := 0; i < apps; i++ {
		a := engine.NewApp(fmt.Sprintf("/team-%02d/svc-%04d", i%20, i))
		a.Cmd = "./serve --port $PORT0"
		a.PortDefinitions = []engine.PortDefinition{{Port: 10000 + 2*i, Protocol: "tcp", Name: "http"}}
		if i%2 == 1 {
			a.PortDefinitions = append(a.PortDefinitions, engine.PortDefinition{Port: 10001 + 2*i, Protocol: "tcp", Name: "admin"})
		}
		a.HealthChecks = []engine.HealthCheck{engine.DefaultHealthCheck()}
		a.Dependencies = []string{"/infra", "/infra/db"} // the group's, folded in, and its own
		a.ApplyDefaults()
		a.Version = v1
		st := &executor.AppStatus{App: a, Deployments: []string{}, TasksRunning: perApp, TasksHealthy: perApp}
		for j := 0; j < perApp; j++ {
			id := fmt.Sprintf("%s.%08x-5d1f-11e5-88f7-56b91e7a505b", engine.SafeID(a.ID), j)
			host := fmt.Sprintf("agent-%03d.example.com", (i*perApp+j)%300)
			ports := []int{31000 + j}
			if len(a.PortDefinitions) == 2 {
				ports = append(ports, 32000+j)
			}
			t := &engine.Task{
				ID: id, AppID: a.ID, Host: host, Ports: ports, ServicePorts: []int{}, SlaveID: "20150707-153709-201330860-5050-12052-S0",
				StagedAt: t0, StartedAt: t1, Version: v1, State: engine.TaskRunning,
				IPAddresses:        []engine.IPAddr{{IPAddress: "10.0.0.1", Protocol: "IPv4"}},
				HealthCheckResults: []engine.HealthResult{{Alive: true, FirstSuccess: strp(t1), LastSuccess: strp(t1), TaskID: id, InstanceID: id}},
				LocalVolumes:       []any{},
			}
			st.Tasks = append(st.Tasks, t)
			v.Tasks = append(v.Tasks, t)
		}
		v.Apps = append(v.Apps, st)
	}
	return v
}

// BenchmarkTasks10k measures GET /v2/tasks over 10,000 tasks, JSON and text:
// "cached" serves the same View again (the common case between two publishes),
// "cold" gets a new View every request, so everything is encoded again (a busy
// cluster where the executor publishes between every two reads). The target is
// at most 50 ms per request on 2 cores.
func BenchmarkTasks10k(b *testing.B) {
	base := bigView(1000, 10)
	const tasks = 10000
	for _, format := range []string{"json", "text"} {
		for _, mode := range []string{"cached", "cold"} {
			b.Run(format+"/"+mode, func(b *testing.B) {
				f := newFake(base)
				s := New(f, Info{})
				req := httptest.NewRequest(http.MethodGet, "/v2/tasks", nil)
				req.Host = "127.0.0.1:8080"
				if format == "text" {
					req.Header.Set("Accept", "text/plain")
				}
				// Check the answer before timing it.
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
				if format == "json" {
					var body struct{ Tasks []json.RawMessage }
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Tasks) != tasks {
						b.Fatalf("%d tasks, %v", len(body.Tasks), err)
					}
				} else if lines := bytes.Count(w.Body.Bytes(), []byte("\n")); lines != 1500 || bytes.Count(w.Body.Bytes(), []byte(":")) != 15000 {
					b.Fatalf("%d lines, want 1500 (1000 apps, half with two ports)", lines)
				}
				size := w.Body.Len()
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if mode == "cold" {
						nv := *base
						f.view.Store(&nv)
					}
					w := httptest.NewRecorder()
					w.Body = bytes.NewBuffer(make([]byte, 0, size))
					s.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(tasks)*float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
				b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/req")
			})
		}
	}
}

// BenchmarkApps1k measures GET /v2/apps?embed=apps.tasks over 1,000 apps with
// 10 tasks each, on a new View every request.
func BenchmarkApps1k(b *testing.B) {
	base := bigView(1000, 10)
	f := newFake(base)
	s := New(f, Info{})
	req := httptest.NewRequest(http.MethodGet, "/v2/apps?embed=apps.tasks", nil)
	req.Host = "127.0.0.1:8080"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var body struct {
		Apps []struct{ Tasks []json.RawMessage }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Apps) != 1000 || len(body.Apps[999].Tasks) != 10 {
		b.Fatalf("%d apps, %v", len(body.Apps), err)
	}
	if bytes.Contains(w.Body.Bytes(), []byte(`"/infra",`)) {
		b.Fatal("an app shows its group's dependency")
	}
	size := w.Body.Len()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		nv := *base
		f.view.Store(&nv)
		w := httptest.NewRecorder()
		w.Body = bytes.NewBuffer(make([]byte, 0, size))
		s.ServeHTTP(w, req)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/req")
}

// BenchmarkGroups1k measures GET /v2/groups (every group with its apps) over
// 1,000 apps in 20 groups, on a new View every request.
func BenchmarkGroups1k(b *testing.B) {
	base := bigView(1000, 10)
	f := newFake(base)
	s := New(f, Info{})
	req := httptest.NewRequest(http.MethodGet, "/v2/groups", nil)
	req.Host = "127.0.0.1:8080"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	var root struct {
		Groups []struct{ Apps []json.RawMessage }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &root); err != nil || len(root.Groups) != 20 || len(root.Groups[0].Apps) != 50 {
		b.Fatalf("%d groups, %v", len(root.Groups), err)
	}
	size := w.Body.Len()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		nv := *base
		f.view.Store(&nv)
		w := httptest.NewRecorder()
		w.Body = bytes.NewBuffer(make([]byte, 0, size))
		s.ServeHTTP(w, req)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/req")
}
