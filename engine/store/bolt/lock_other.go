//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package bolt

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

var errWouldBlock = errors.New("lock is held")

// tryLock fails: the embedded store needs flock, which this platform lacks.
func tryLock(f *os.File) error {
	return fmt.Errorf("the embedded state store needs flock, which %s does not have", runtime.GOOS)
}

// unlock does nothing: tryLock never locks on this platform.
func unlock(f *os.File) error { return nil }
