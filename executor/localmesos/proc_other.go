//go:build !linux

package localmesos

import (
	"errors"
	"syscall"
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
