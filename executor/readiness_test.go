package executor

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
)

func readyApp(id string, instances int, cmd string) *engine.App {
	a := testApp(id, instances, cmd)
	rc := engine.DefaultReadinessCheck()
	rc.PortName, rc.Path, rc.IntervalSeconds, rc.TimeoutSeconds = "http", "/ready", 2, 1
	rc.PreserveLastResponse = true
	a.ReadinessChecks = []engine.ReadinessCheck{rc}
	return a
}

// A task that runs (and, without health checks, has run StableAfter) but is not
// ready does not count: a create is done only once every task is ready, and a
// restart kills an old task only for a new one that is ready.
func TestReadinessGatesDeployments(t *testing.T) {
	h := newHarness(t)
	app := readyApp("/api", 2, "v1")
	dep := h.apply(spec(app))
	h.offer(1)
	h.runLaunched()
	h.e.health.stopAll() // the test feeds the results itself
	h.settle()
	h.tick()
	if storedDeployment(h, dep.ID).Status != engine.DeploymentRunning {
		t.Fatal("create succeeded before any task was ready")
	}
	rc := app.ReadinessChecks[0]
	ids := h.ids(engine.TaskRunning)
	h.e.readinessResult(ids[0], 0, rc, &ReadinessResponse{Status: 200}, true)
	h.e.readinessResult(ids[1], 0, rc, &ReadinessResponse{Status: 503, Body: "warming up"}, false)
	h.tick()
	if storedDeployment(h, dep.ID).Status != engine.DeploymentRunning {
		t.Fatal("create succeeded with one task not ready")
	}
	h.e.publish()
	res := h.e.View().Readiness["/api"]
	if len(res) != 2 || res[1].TaskID != ids[1] || res[1].Ready || res[1].LastResponse == nil || res[1].LastResponse.Body != "warming up" {
		t.Fatalf("readiness results %+v", res)
	}
	h.e.readinessResult(ids[1], 0, rc, &ReadinessResponse{Status: 200}, true)
	h.tick()
	if st := storedDeployment(h, dep.ID).Status; st != engine.DeploymentSucceeded {
		t.Fatalf("create %s once both tasks are ready", st)
	}

	// Restart one at a time (1.0 / 0): the new task is healthy but not ready, so
	// no old task goes.
	v2 := app.Clone()
	v2.Cmd = "v2"
	v2.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 1}
	h.clock.advance(time.Second)
	h.apply(spec(v2))
	h.tick()
	h.offer(1)
	h.runLaunched()
	h.e.health.stopAll()
	h.settle()
	for i := 0; i < 3; i++ {
		h.tick()
	}
	if len(h.mesos.killed) != 0 {
		t.Fatalf("killed %v for a new task that is not ready", h.mesos.killed)
	}
	var fresh string
	for id, tk := range h.e.tasks {
		if !isOutdated(h.e.apps["/api"], tk, nil) {
			fresh = id
		}
	}
	h.e.readinessResult(fresh, 0, rc, &ReadinessResponse{Status: 200}, true)
	h.tick()
	if len(h.mesos.killed) != 1 {
		t.Fatalf("killed %v once the new task is ready, want one old task", h.mesos.killed)
	}
}

// The readiness runner probes a real HTTP endpoint until it answers a ready code,
// then stops.
func TestReadinessProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := 0 // the probes below run one after the other
	srv := &http.Server{ReadHeaderTimeout: time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "ready")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	h := newHarness(t)
	rc := engine.DefaultReadinessCheck()
	rc.Path, rc.TimeoutSeconds = "/ready", 1
	resp, ready := h.e.health.probeReadiness(h.ctx, rc, "127.0.0.1", port, time.Second)
	if ready || resp.Status != 503 {
		t.Fatalf("first probe: ready=%v %+v", ready, resp)
	}
	h.e.health.probeReadiness(h.ctx, rc, "127.0.0.1", port, time.Second)
	resp, ready = h.e.health.probeReadiness(h.ctx, rc, "127.0.0.1", port, time.Second)
	if !ready || resp.Status != 200 || resp.Body != "ready" || resp.ContentType != "text/plain" {
		t.Fatalf("third probe: ready=%v %+v", ready, resp)
	}
	if resp, ready := h.e.health.probeReadiness(h.ctx, rc, "127.0.0.1", 0, time.Second); ready || resp != nil {
		t.Fatalf("a check without a port: ready=%v %+v", ready, resp)
	}
	srv.Close()
	if resp, ready := h.e.health.probeReadiness(h.ctx, rc, "127.0.0.1", port, time.Second); ready || resp != nil {
		t.Fatalf("a check that cannot connect: ready=%v %+v", ready, resp)
	}
}
