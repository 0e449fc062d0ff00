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

// benchGet serves path on s b.N times, a new View (a copy of base) each time
// when cold, after checking the first answer with check.
func benchGet(b *testing.B, s *Server, f *fakeBackend, base *executor.View, path string, cold bool, check func(body []byte) error) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1:8080"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if err := check(w.Body.Bytes()); err != nil {
		b.Fatal(err)
	}
	size := w.Body.Len()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if cold {
			nv := *base
			f.view.Store(&nv)
		}
		w := httptest.NewRecorder()
		w.Body = bytes.NewBuffer(make([]byte, 0, size))
		s.ServeHTTP(w, req)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/req")
}

// BenchmarkDeploymentsOverview measures GET /stride/v1/deployments, which the
// deployments page reloads on every event while a deployment runs (at most
// every 300 ms): one deployment restarting 1,000 apps of 10 tasks each, half
// of them replaced, on a new View every request.
func BenchmarkDeploymentsOverview(b *testing.B) {
	base := bigView(1000, 10)
	base.Healthy = map[string]bool{}
	dep := &engine.Deployment{ID: "dep-big", Version: v2, Status: engine.DeploymentRunning, CreatedAt: v2,
		Plan: &engine.Plan{FormatVersion: engine.PlanFormatVersion, Steps: []engine.Step{{}}}}
	for _, st := range base.Apps {
		st.App.Version, st.App.Instances = v2, 10
		c := &engine.Change{ID: st.App.ID, Action: engine.ActionRestart, After: st.App, Reason: `cmd: "a" -> "b"`,
			Rolling: &engine.Rolling{From: 10, To: 10, MinHealthy: 5, MaxRunning: 12}}
		dep.Plan.Changes = append(dep.Plan.Changes, c)
		dep.Plan.Steps[0].Actions = append(dep.Plan.Steps[0].Actions, engine.StepAction{ID: c.ID, Action: c.Action})
		for j, t := range st.Tasks {
			base.Healthy[t.ID] = true
			if j%2 == 0 {
				nt := *t
				nt.Version = v2
				st.Tasks[j] = &nt
			}
		}
	}
	base.Deployments = []*executor.DeploymentStatus{{Deployment: dep}}
	f := newFake(base)
	s := New(f, Info{})
	benchGet(b, s, f, base, "/stride/v1/deployments", true, func(body []byte) error {
		var o DeploymentsOverview
		if err := json.Unmarshal(body, &o); err != nil {
			return err
		}
		if len(o.Running) != 1 || len(o.Running[0].Steps[0].Actions) != 1000 {
			return fmt.Errorf("overview %d running", len(o.Running))
		}
		if l := o.Running[0].Steps[0].Actions[999].Live; l == nil || l.New != 5 || l.Old != 5 || l.NewHealthy != 5 || l.Target != 10 {
			return fmt.Errorf("live %+v", l)
		}
		return nil
	})
}

// BenchmarkStrideQueue measures GET /stride/v1/queue, which the apps page
// reloads with /v2/apps: 1,000 apps, one in ten waiting.
func BenchmarkStrideQueue(b *testing.B) {
	base := bigView(1000, 10)
	for i, st := range base.Apps {
		if i%10 == 0 {
			st.Pending, st.Waiting = 1, "1 of 1 instances unplaced: 3 agents considered; 3 excluded by InsufficientMemory"
		}
	}
	f := newFake(base)
	s := New(f, Info{})
	benchGet(b, s, f, base, "/stride/v1/queue", true, func(body []byte) error {
		var q struct{ Queue []WaitingApp }
		if err := json.Unmarshal(body, &q); err != nil || len(q.Queue) != 100 {
			return fmt.Errorf("%d waiting, %v", len(q.Queue), err)
		}
		return nil
	})
}

// BenchmarkAppHistory measures GET /stride/v1/apps/{id}/history over the most
// versions a store keeps (50), each diffed against the one before it (the
// store's reads are in memory here: this is the diffing).
func BenchmarkAppHistory(b *testing.B) {
	v := fixtureView()
	cur := v.App("/shop/api").App
	h := &fakeHistory{versions: map[string][]*engine.App{}}
	for i := range engine.MaxAppVersions {
		a := cur.Clone()
		if i > 0 {
			a.Version = fmt.Sprintf("2024-01-%02dT00:00:00.000Z", 50-i)
			a.Instances = 1 + i%5
			a.Env = map[string]string{"REV": fmt.Sprint(i / 3)}
		}
		h.versions["/shop/api"] = append(h.versions["/shop/api"], a)
	}
	f := newFake(v)
	s := New(f, Info{History: h})
	benchGet(b, s, f, v, "/stride/v1/apps/shop/api/history", false, func(body []byte) error {
		var r AppVersionsResponse
		if err := json.Unmarshal(body, &r); err != nil || len(r.Versions) != engine.MaxAppVersions {
			return fmt.Errorf("%d versions, %v", len(r.Versions), err)
		}
		return nil
	})
}
