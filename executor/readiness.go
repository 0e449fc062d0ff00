package executor

import (
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/stride-run/stride/engine"
)

// Readiness checks (Marathon's semantics): once a task of an app with
// readiness checks runs, Stride probes each check every intervalSeconds until it
// answers one of httpStatusCodesForReady; then that check is ready and is not
// probed again. A task is ready when every check is. During a deployment a new
// task counts toward progress (and as capacity) only when it is healthy and
// ready. A new leader probes again: readiness is not persisted.

// maxReadinessBody bounds the response body a readiness check keeps
// (preserveLastResponse): the rest is not read.
const maxReadinessBody = 4 << 10

// readinessStatus is one readiness check of one task.
type readinessStatus struct {
	ran, ready bool
	// last is the last response (kept when the check preserves it).
	last *ReadinessResponse
}

// ReadinessResponse is Marathon's lastResponse of a readiness check.
type ReadinessResponse struct {
	Status      int    `json:"status"`
	ContentType string `json:"contentType"`
	Body        string `json:"body"`
}

// ReadinessResult is Marathon's ReadinessCheckResult: one check of one task.
type ReadinessResult struct {
	Name         string             `json:"name"`
	TaskID       string             `json:"taskId"`
	Ready        bool               `json:"ready"`
	LastResponse *ReadinessResponse `json:"lastResponse,omitempty"`
}

// taskReady reports whether every readiness check of the app has passed for the
// task (true when the app has none).
func (e *Executor) taskReady(app *engine.App, t *taskState) bool {
	if app == nil || len(app.ReadinessChecks) == 0 {
		return true
	}
	if len(t.readiness) < len(app.ReadinessChecks) {
		return false
	}
	for _, r := range t.readiness {
		if !r.ready {
			return false
		}
	}
	return true
}

// startReadiness begins probing the readiness checks of a task that just became
// RUNNING (on the actor). The goroutines end when a check is ready or the task's
// checks are stopped.
func (h *healthRunner) startReadiness(t *taskState, app *engine.App) {
	if app == nil || len(app.ReadinessChecks) == 0 {
		return
	}
	t.readiness = make([]readinessStatus, len(app.ReadinessChecks))
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	if old := h.readyCancels[t.ID]; old != nil {
		old()
	}
	h.readyCancels[t.ID] = cancel
	h.mu.Unlock()
	for i, rc := range app.ReadinessChecks {
		go h.readinessLoop(ctx, t.ID, i, rc, t.Host, readinessPort(app, rc, t.Ports))
	}
}

// readinessPort is the host port of the port definition the check names (0 when
// none: the check then fails, and says so).
func readinessPort(app *engine.App, rc engine.ReadinessCheck, ports []int) int {
	for i, pd := range app.PortDefinitions {
		if pd.Name == rc.PortName && i < len(ports) {
			return ports[i]
		}
	}
	if c := app.Container; c != nil {
		maps := c.PortMappings
		if c.Docker != nil && len(maps) == 0 {
			maps = c.Docker.PortMappings
		}
		for i, pm := range maps {
			if pm.Name == rc.PortName && i < len(ports) {
				return ports[i]
			}
		}
	}
	return 0
}

func (h *healthRunner) readinessLoop(ctx context.Context, taskID string, idx int, rc engine.ReadinessCheck, host string, port int) {
	interval := time.Duration(rc.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = time.Second
	}
	timeout := time.Duration(rc.TimeoutSeconds) * time.Second
	if timeout <= 0 || timeout > interval {
		timeout = interval
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		resp, ready := h.probeReadiness(ctx, rc, host, port, timeout)
		if ctx.Err() != nil {
			return
		}
		h.e.post(func() { h.e.readinessResult(taskID, idx, rc, resp, ready) })
		if ready {
			return
		}
		timer.Reset(interval)
	}
}

// probeReadiness runs one readiness probe: GET the path, ready when the status is
// one of the check's codes. No answer (no port, no connection, a timeout) is not
// ready, with no response.
func (h *healthRunner) probeReadiness(ctx context.Context, rc engine.ReadinessCheck, host string, port int, timeout time.Duration) (*ReadinessResponse, bool) {
	if port == 0 {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	scheme := "http"
	if rc.Protocol == engine.ProtoHTTPS {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+rc.Path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReadinessBody))
	codes := rc.HTTPStatusCodesForReady
	if len(codes) == 0 {
		codes = []int{http.StatusOK}
	}
	return &ReadinessResponse{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: string(body)},
		slices.Contains(codes, resp.StatusCode)
}

// readinessResult records one readiness probe on the actor.
func (e *Executor) readinessResult(taskID string, idx int, rc engine.ReadinessCheck, resp *ReadinessResponse, ready bool) {
	t := e.tasks[taskID]
	if t == nil || idx >= len(t.readiness) {
		return
	}
	r := &t.readiness[idx]
	if r.ran && r.ready == ready && !rc.PreserveLastResponse {
		return
	}
	r.ran, r.ready = true, ready
	if rc.PreserveLastResponse && resp != nil {
		r.last = resp
	}
	e.viewDirty = true
	if ready {
		e.logf("%s ready (%s)", t.ID, rc.Name)
	}
}

// readinessResults lists the results of the task's readiness checks that ran.
func readinessResults(t *taskState, app *engine.App) []ReadinessResult {
	var out []ReadinessResult
	for i, r := range t.readiness {
		if !r.ran || app == nil || i >= len(app.ReadinessChecks) {
			continue
		}
		out = append(out, ReadinessResult{Name: app.ReadinessChecks[i].Name, TaskID: t.ID, Ready: r.ready, LastResponse: r.last})
	}
	return out
}
