package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/executor/api"
)

// TestApplyFailsAndRollsBack: a version that never starts fails at its
// progress deadline; `stride apply -auto-revert` exits 1 with the reason, says
// it rolls back, follows the rollback, and the app is back on its old version.
func TestApplyFailsAndRollsBack(t *testing.T) {
	addr := freeAddr(t)
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	dev := newCLI(strings.NewReader(""), &out, &out)
	dev.ctx = ctx
	done := make(chan int, 1)
	first := devFirstPort(t, 1)
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", dataDir, "-agents", "1",
			"-first-port", first, "-stable-after", "1s"})
	}()
	client := api.NewClient(addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := client.Apps(context.Background()); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("stride dev exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stride dev not up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}

	dir := t.TempDir()
	write := func(cmd string) {
		t.Helper()
		src := fmt.Sprintf("app \"web\" {\n  cmd       = %q\n  instances = 2\n  cpus      = 0.1\n  mem       = 16\n  ports     = []\n}\n", cmd)
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"STRIDE_ADDR": addr}
	write("sleep 1000")
	if stdout, stderr, code := runIn(t, dir, env, "apply", "-no-color", "-auto-approve", "."); code != exitOK {
		t.Fatalf("first apply: exit %d\n%s%s", code, stdout, stderr)
	}
	write("exit 1")
	stdout, stderr, code := runIn(t, dir, env, "apply", "-no-color", "-auto-approve", "-auto-revert", "-progress-deadline", "4s", ".")
	if code != exitError {
		t.Fatalf("failing apply: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"/web restart: 0/2 new healthy",
		"Rolling back to the last version that ran fully healthy: deployment ",
		"Rolled back: the apps are back at their last healthy version. The apply failed.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "failed: /web: 0 of 2 new tasks healthy and ready after 4s without progress; last failure: Command exited with status 1") ||
		!strings.Contains(stderr, "rolling back by deployment") {
		t.Errorf("stderr lacks the reason:\n%s", stderr)
	}
	app, err := client.App(context.Background(), "/web")
	if err != nil || app.Cmd != "sleep 1000" || app.TasksRunning != 2 {
		t.Fatalf("after the rollback: %+v %v", app, err)
	}
	cancel()
	<-done
}
