package localmesos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// healthState is what the agent remembers of a task's health checks, as the
// Mesos health checker does.
type healthState struct {
	started   time.Time // the grace period counts from here
	succeeded bool      // a check has passed (the grace period no longer applies)
	failures  int       // consecutive failures
}

// healthType returns the kind of a health check, inferring it for old-style
// checks that set http or command without a type.
func healthType(hc *mesos.HealthCheck) mesos.HealthCheck_Type {
	switch {
	case hc.Type != mesos.HealthCheck_UNKNOWN:
		return hc.Type
	case hc.HTTP != nil:
		return mesos.HealthCheck_HTTP
	case hc.TCP != nil:
		return mesos.HealthCheck_TCP
	case hc.Command != nil:
		return mesos.HealthCheck_COMMAND
	}
	return mesos.HealthCheck_UNKNOWN
}

// validateHealthCheck checks a TaskInfo's health check as Mesos does.
func validateHealthCheck(hc *mesos.HealthCheck) error {
	switch healthType(hc) {
	case mesos.HealthCheck_HTTP:
		if hc.HTTP == nil {
			return errors.New("Expecting 'http' to be set for HTTP health check")
		}
		if hc.HTTP.Port == 0 || hc.HTTP.Port > 65535 {
			return fmt.Errorf("HTTP health check port %d is out of range", hc.HTTP.Port)
		}
		if s := hc.HTTP.GetScheme(); s != "" && s != "http" && s != "https" {
			return fmt.Errorf("Unsupported HTTP health check scheme: '%s'", s)
		}
	case mesos.HealthCheck_TCP:
		if hc.TCP == nil {
			return errors.New("Expecting 'tcp' to be set for TCP health check")
		}
		if hc.TCP.Port == 0 || hc.TCP.Port > 65535 {
			return fmt.Errorf("TCP health check port %d is out of range", hc.TCP.Port)
		}
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil || hc.Command.GetValue() == "" {
			return errors.New("Expecting 'command' with a value to be set for COMMAND health check")
		}
	default:
		return errors.New("HealthCheck must specify 'type'")
	}
	for name, v := range map[string]float64{
		"delay_seconds":        hc.GetDelaySeconds(),
		"interval_seconds":     hc.GetIntervalSeconds(),
		"timeout_seconds":      hc.GetTimeoutSeconds(),
		"grace_period_seconds": hc.GetGracePeriodSeconds(),
	} {
		if v < 0 || v != v {
			return fmt.Errorf("Expecting '%s' to be non-negative", name)
		}
	}
	return nil
}

// seconds converts a proto duration in seconds.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// startHealthCheck starts the agent-side health checking of a running task:
// after delay_seconds, one check every interval_seconds, each bounded by
// timeout_seconds. Called with m.mu held.
func (m *Master) startHealthCheck(t *task) {
	hc := *t.info.HealthCheck
	env := m.taskEnv(t)
	t.health = healthState{started: time.Now()}
	ctx := t.ctx
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if !sleepCtx(ctx.Done(), seconds(hc.GetDelaySeconds())) {
			return
		}
		for {
			err := runHealthCheck(ctx, &hc, t.sandbox, env)
			if ctx.Err() != nil {
				return
			}
			m.healthResult(t, &hc, err)
			if !sleepCtx(ctx.Done(), seconds(hc.GetIntervalSeconds())) {
				return
			}
		}
	}()
}

// healthResult interprets one check as the Mesos health checker does: a
// failure within the grace period (before the first success) is ignored;
// every other failure is reported as a TASK_RUNNING update with healthy=false
// and kills the task once consecutive_failures is reached; the first success,
// and the first after failures, is reported with healthy=true. Updates carry
// REASON_TASK_HEALTH_CHECK_STATUS_UPDATED and, as the command executor's, no
// message (why a check failed is logged).
func (m *Master) healthResult(t *task, hc *mesos.HealthCheck, checkErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t.gone || t.terminal || t.killRequested || m.closed {
		return
	}
	h := &t.health
	update := func(healthy bool) {
		st := t.executorStatus(mesos.TASK_RUNNING, mesos.SOURCE_EXECUTOR, mesos.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum(), "")
		st.Healthy = proto(healthy)
		m.emit(t, st)
	}
	if checkErr == nil {
		if !h.succeeded || h.failures > 0 {
			update(true)
		}
		h.succeeded = true
		h.failures = 0
		return
	}
	if grace := seconds(hc.GetGracePeriodSeconds()); !h.succeeded && grace > 0 && time.Since(h.started) <= grace {
		return
	}
	h.failures++
	m.logf("task %s: health check failed %d times consecutively: %v", t.id(), h.failures, checkErr)
	update(false)
	if h.failures >= int(hc.GetConsecutiveFailures()) {
		m.logf("task %s failed %d health checks in a row: killing it", t.id(), h.failures)
		m.killTask(t, t.killGrace(nil), true)
	}
}

// runHealthCheck runs one check of a task. HTTP checks pass on a status in
// 200..399 (or one of the listed statuses), TCP checks when a connection
// opens, COMMAND checks when the command exits 0. Network checks go to
// 127.0.0.1 on the given port, as Mesos' checks of a task on the host network
// do: a task listening on its agent's address only is never healthy (the
// agents' port ranges are disjoint, so the port names one task).
func runHealthCheck(ctx context.Context, hc *mesos.HealthCheck, sandbox string, env []string) error {
	ctx, cancel := context.WithTimeout(ctx, seconds(hc.GetTimeoutSeconds()))
	defer cancel()
	switch healthType(hc) {
	case mesos.HealthCheck_HTTP:
		return httpCheck(ctx, hc.HTTP, loopback)
	case mesos.HealthCheck_TCP:
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(loopback, strconv.Itoa(int(hc.TCP.Port))))
		if err != nil {
			return err
		}
		return conn.Close()
	case mesos.HealthCheck_COMMAND:
		return commandCheck(ctx, hc.Command, sandbox, env)
	}
	return errors.New("unknown health check type")
}

// loopback is where Mesos aims network health checks of host-network tasks.
const loopback = "127.0.0.1"

// httpCheck is one HTTP(S) health check.
func httpCheck(ctx context.Context, info *mesos.HealthCheck_HTTPCheckInfo, host string) error {
	scheme := info.GetScheme()
	if scheme == "" {
		scheme = "http"
	}
	path := info.GetPath()
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	// Errors name the address, never the path: it may carry a sensitive value
	// (a token in the query), and they reach the log.
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(info.Port)))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		return fmt.Errorf("invalid HTTP health check of %s", url)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		var uerr *neturl.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if len(info.Statuses) > 0 {
		for _, s := range info.Statuses {
			if int(s) == resp.StatusCode {
				return nil
			}
		}
		return fmt.Errorf("unexpected HTTP status %d from %s", resp.StatusCode, url)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("unexpected HTTP status %d from %s", resp.StatusCode, url)
	}
	return nil
}

// commandCheck runs a COMMAND health check in the task's sandbox with the
// task's environment (plus the check's own); on timeout its process group is
// killed.
func commandCheck(ctx context.Context, c *mesos.CommandInfo, sandbox string, env []string) error {
	for _, v := range c.GetEnvironment().GetVariables() {
		env = append(env, v.Name+"="+v.GetValue())
	}
	cmd, err := buildCommand(c, sandbox, env)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return fmt.Errorf("command %s", exitMessage(ee.ProcessState))
			}
			return err
		}
		return nil
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("command timed out: %w", ctx.Err())
	}
}

// exitMessage renders how a process ended: "exited with status 1".
func exitMessage(ps interface{ Sys() any }) string {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		return "ended"
	case ws.Signaled():
		return "terminated with signal " + signalName(ws.Signal())
	default:
		return fmt.Sprintf("exited with status %d", ws.ExitStatus())
	}
}
