package executor

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/stride-run/stride/engine"
)

// healthFailedPrefix starts the kill reason of a task its health checks
// condemned; the rest is the check's failure (Marathon's reason in
// unhealthy_instance_kill_event).
const healthFailedPrefix = "health check failed: "

// healthStatus is one executor-side health check of one task (Marathon's Health).
type healthStatus struct {
	ran                 bool
	alive               bool
	consecutiveFailures int
	firstSuccess        time.Time
	lastSuccess         time.Time
	lastFailure         time.Time
	lastFailureCause    string
}

// executorChecks returns the app's checks Stride runs itself (HTTP, HTTPS, TCP);
// MESOS_* and COMMAND checks go to Mesos in the TaskInfo.
func executorChecks(app *engine.App) []engine.HealthCheck {
	if app == nil {
		return nil
	}
	var out []engine.HealthCheck
	for _, hc := range app.HealthChecks {
		if !hc.IsMesos() {
			out = append(out, hc)
		}
	}
	return out
}

// healthRunner runs the executor-side checks of running tasks, one goroutine per
// task and check, posting each result to the actor.
type healthRunner struct {
	e       *Executor
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	// readyCancels stop the readiness checks of a task (see readiness.go).
	readyCancels map[string]context.CancelFunc
	client       *http.Client
}

func newHealthRunner(e *Executor) *healthRunner {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Marathon does not verify task certificates either
		DisableKeepAlives: true,
	}
	return &healthRunner{e: e, cancels: map[string]context.CancelFunc{}, readyCancels: map[string]context.CancelFunc{}, client: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// start begins checking a task that just became RUNNING (on the actor).
func (h *healthRunner) start(t *taskState) {
	app := h.e.apps[t.AppID]
	if app == nil || app.Version != t.Version && t.launchApp != nil {
		app = t.launchApp
	}
	if app == nil {
		app = h.e.apps[t.AppID]
	}
	h.startReadiness(t, app)
	checks := executorChecks(app)
	if len(checks) == 0 {
		return
	}
	t.health = make([]healthStatus, len(checks))
	ctx, cancel := context.WithCancel(context.Background())
	h.mu.Lock()
	if old := h.cancels[t.ID]; old != nil {
		old()
	}
	h.cancels[t.ID] = cancel
	h.mu.Unlock()
	ports := make([]uint64, len(t.Ports))
	for i, p := range t.Ports {
		ports[i] = uint64(p)
	}
	for i, hc := range checks {
		go h.loop(ctx, t.ID, i, hc, t.Host, HealthPort(app, hc, ports))
	}
}

func (h *healthRunner) stop(taskID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []map[string]context.CancelFunc{h.cancels, h.readyCancels} {
		if c := m[taskID]; c != nil {
			c()
			delete(m, taskID)
		}
	}
}

func (h *healthRunner) stopAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range []map[string]context.CancelFunc{h.cancels, h.readyCancels} {
		for id, c := range m {
			c()
			delete(m, id)
		}
	}
}

func (h *healthRunner) loop(ctx context.Context, taskID string, idx int, hc engine.HealthCheck, host string, port int) {
	interval := time.Duration(hc.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = time.Second
	}
	timeout := time.Duration(hc.TimeoutSeconds) * time.Second
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
		cause := h.check(ctx, hc, host, port, timeout)
		if ctx.Err() != nil {
			return
		}
		h.e.post(func() { h.e.healthResult(taskID, idx, hc, cause) })
		timer.Reset(interval)
	}
}

// check runs one probe and returns "" when healthy, else the cause.
func (h *healthRunner) check(ctx context.Context, hc engine.HealthCheck, host string, port int, timeout time.Duration) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	switch hc.Protocol {
	case engine.ProtoHTTP, engine.ProtoHTTPS:
		scheme := "http"
		if hc.Protocol == engine.ProtoHTTPS {
			scheme = "https"
		}
		// Causes name the address, never the path: it may carry a sensitive
		// value (a token in the query), and causes reach logs and the API.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+hc.Path, nil)
		if err != nil {
			return "invalid health check request to " + scheme + "://" + addr
		}
		resp, err := h.client.Do(req)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return "GET " + scheme + "://" + addr + ": " + err.Error()
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 400:
			return ""
		case resp.StatusCode < 200 && hc.IgnoreHTTP1xx:
			return ""
		}
		return resp.Status
	case engine.ProtoTCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err.Error()
		}
		c.Close()
		return ""
	}
	return "unsupported protocol " + hc.Protocol
}

// healthResult records one probe's result on the actor and condemns a task that
// has failed max_consecutive_failures times in a row after its grace period (a
// task that passes again is pardoned).
func (e *Executor) healthResult(taskID string, idx int, hc engine.HealthCheck, cause string) {
	t := e.tasks[taskID]
	if t == nil || t.killing || idx >= len(t.health) {
		return
	}
	now := e.cfg.Now()
	h := &t.health[idx]
	wasAlive := h.alive && h.ran
	if cause == "" {
		h.ran, h.alive, h.consecutiveFailures = true, true, 0
		if t.condemned != "" && t.doomedAt.IsZero() {
			t.condemned = ""
		}
		if h.firstSuccess.IsZero() {
			h.firstSuccess = now
		}
		h.lastSuccess = now
		e.cfg.Metrics.HealthCheck(hc.Protocol, true)
		if !wasAlive {
			e.viewDirty = true
			e.bus.Publish(EventHealthStatusChanged, now, HealthStatusChanged{
				AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID, Version: t.Version, Alive: true,
			})
		}
		all := true
		for _, s := range t.health {
			all = all && s.ran && s.alive
		}
		if all && t.healthyAt.IsZero() {
			t.healthyAt = now
			e.resetDelay(t.AppID)
		}
		return
	}
	// Failures within the grace period are ignored until the first success.
	grace := time.Duration(hc.GracePeriodSeconds) * time.Second
	if h.firstSuccess.IsZero() && now.Sub(t.runningAt) < grace {
		return
	}
	h.ran, h.alive = true, false
	h.consecutiveFailures++
	h.lastFailure, h.lastFailureCause = now, cause
	e.viewDirty = true
	e.cfg.Metrics.HealthCheck(hc.Protocol, false)
	e.bus.Publish(EventFailedHealthCheck, now, FailedHealthCheck{AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID, HealthCheck: maskCheck(e.apps[t.AppID], idx, hc)})
	if wasAlive {
		e.bus.Publish(EventHealthStatusChanged, now, HealthStatusChanged{
			AppID: t.AppID, TaskID: t.ID, InstanceID: t.ID, Version: t.Version, Alive: false,
		})
	}
	if hc.MaxConsecutiveFailures > 0 && h.consecutiveFailures >= hc.MaxConsecutiveFailures && t.condemned == "" {
		// The kill itself is decided by healthKills (killsafety.go): rate
		// limited, held by the circuit breaker, replaced first when there is room.
		t.condemned = healthFailedPrefix + cause
	}
}

// maskCheck returns health check idx of app a as events show it: a path or
// command derived from sensitive input is engine.SensitiveValue.
func maskCheck(a *engine.App, idx int, hc engine.HealthCheck) engine.HealthCheck {
	p := engine.FieldPathIndex("healthChecks", idx)
	if a.IsSensitive(p + ".path") {
		hc.Path = engine.SensitiveValue
	}
	if hc.Command != nil && a.IsSensitive(p+".command") {
		hc.Command = &engine.CheckCommand{Value: engine.SensitiveValue}
	}
	return hc
}
