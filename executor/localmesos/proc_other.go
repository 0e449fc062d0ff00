//go:build !linux

package localmesos

import (
	"errors"
	"syscall"
	"time"
)

// processStartTime cannot tell processes apart without /proc: it reports
// whether pid exists (errNoProcess if not) and an error otherwise, so that
// stale process groups are not killed on a guess.
func processStartTime(pid int) (uint64, error) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return 0, errNoProcess
	}
	return 0, errors.New("process start times need /proc")
}

// bootID is unknown without /proc.
func bootID() string { return "" }

// processID is a process told apart from later ones with its pid.
type processID struct {
	pid   int
	start uint64
}

// taskLeaders finds nothing without /proc.
func taskLeaders() map[string]processID { return map[string]processID{} }

// waitExit polls for the exit of process pid every 200ms. (Without /proc no
// process is adopted, so this is never called.)
func waitExit(pid int, start uint64) {
	for syscall.Kill(pid, 0) == nil {
		time.Sleep(200 * time.Millisecond)
	}
}
