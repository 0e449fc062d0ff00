//go:build linux

package localmesos

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestWaitPidfd: the exit of a process is seen through its pidfd (not the
// /proc polling fallback), also when it exits while waitExit waits.
func TestWaitPidfd(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	start, err := processStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool, 1)
	go func() { done <- waitPidfd(pid, start) }()
	if processEnded(pid, start) {
		t.Fatal("sleep ended by itself")
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	_ = cmd.Wait()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("waitPidfd fell back: pidfds do not work here")
		}
	case <-time.After(waitTimeout):
		t.Fatal("waitPidfd did not return after the exit")
	}
	// A pid whose process is gone, or that names another process.
	self, err := processStartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !waitPidfd(pid, start) || !processEnded(os.Getpid(), self+1) || processEnded(os.Getpid(), self) {
		t.Error("a gone process is not reported ended, or a live one is")
	}
}
