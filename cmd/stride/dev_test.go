package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/internal/freeports"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running command.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address for a server to listen on: a port of
// internal/freeports held until the test ends.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freeports.Range(t, 1))
}

// devFirstPort returns a -first-port for a stride dev of agents agents (1000
// ports each): a block of internal/freeports held until the test ends, so
// that concurrent tests and a running stride dev never offer the same ports.
func devFirstPort(t *testing.T, agents int) string {
	t.Helper()
	return strconv.Itoa(freeports.Range(t, agents*1000))
}

// TestDevMultiTier is the README's promise, end to end: `stride dev
// examples/multi-tier` brings the example up healthy; then plan, apply (with the
// live progress) and a stale saved plan go through the CLI against it.
func TestDevMultiTier(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the multi-tier example runs python3; .ci/run installs it")
	}
	addr := freeAddr(t)
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	dev := newCLI(strings.NewReader(""), &out, &out)
	dev.ctx = ctx
	done := make(chan int, 1)
	example, _ := filepath.Abs("../../examples/multi-tier")
	first := devFirstPort(t, 3)
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", dataDir, "-first-port", first, example})
	}()

	client := api.NewClient(addr)
	want := map[string]int{"/infra/db": 1, "/shop/api": 2, "/shop/web": 3}
	deadline := time.Now().Add(90 * time.Second)
	for {
		apps, err := client.Apps(context.Background())
		ok := err == nil && len(apps) == 3
		state := fmt.Sprint(err)
		if err == nil {
			state = ""
			for _, a := range apps {
				state += fmt.Sprintf("%s %d/%d healthy, deployments %v; ", a.ID, a.TasksHealthy, want[a.ID], a.Deployments)
				ok = ok && a.TasksHealthy == want[a.ID] && len(a.Deployments) == 0
			}
		}
		if ok {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("stride dev exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("multi-tier not healthy in time: %s\n%s", state, out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}

	env := map[string]string{"STRIDE_ADDR": addr}
	// Plan against the running server: nothing to do.
	stdout, stderr, code := runIn(t, filepath.Dir(example), env, "plan", "-no-color", "-detailed-exitcode", "multi-tier")
	if code != exitOK || !strings.Contains(stdout, "No changes.") {
		t.Fatalf("plan after dev: exit %d\n%s%s", code, stdout, stderr)
	}
	// A saved plan, then a different apply that moves the state: the saved plan is stale.
	planFile := filepath.Join(t.TempDir(), "web4.plan")
	if _, stderr, code := runIn(t, filepath.Dir(example), env, "plan", "-no-color", "-var", "web_instances=4", "-out", planFile, "multi-tier"); code != exitOK {
		t.Fatalf("plan -out: exit %d: %s", code, stderr)
	}
	stdout, stderr, code = runIn(t, filepath.Dir(example), env, "apply", "-no-color", "-auto-approve", "-var", "web_instances=2", "multi-tier")
	if code != exitOK || !strings.Contains(stdout, "Apply complete! 0 created, 0 updated, 1 scaled") || !strings.Contains(stdout, "/shop/web scale: 2/2 healthy") {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = runIn(t, filepath.Dir(example), env, "apply", "-no-color", planFile)
	if code != exitError || !strings.Contains(stderr, "stale") {
		t.Fatalf("stale saved plan: exit %d: %s", code, stderr)
	}
	// status shows the apps.
	stdout, _, code = runIn(t, filepath.Dir(example), env, "status", "-no-color")
	if code != exitOK || !strings.Contains(stdout, "/shop/web") || !strings.Contains(stdout, "HEALTHY") {
		t.Fatalf("status: exit %d\n%s", code, stdout)
	}

	// tasks lists an app's tasks.
	stdout, _, code = runIn(t, filepath.Dir(example), env, "tasks", "-no-color", "shop/web")
	if code != exitOK || strings.Count(stdout, "shop_web.") != 2 || !strings.Contains(stdout, "RUNNING") {
		t.Fatalf("tasks: exit %d\n%s", code, stdout)
	}

	// A second dev on the same data dir is refused.
	_, stderr, code = runIn(t, dataDir, nil, "dev", "-no-color", "-listen", freeAddr(t), "-data-dir", dataDir)
	if code != exitError || !strings.Contains(stderr, "in use") {
		t.Fatalf("second dev on the same data dir: exit %d: %s", code, stderr)
	}

	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("stride dev exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stride dev did not stop")
	}
	// Once stopped, nothing listens any more.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the API still listens after stride dev stopped")
	}
}
