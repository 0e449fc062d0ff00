//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package bolt

import (
	"errors"
	"os"
	"syscall"
)

// errWouldBlock reports that another open file description holds the lock.
var errWouldBlock = errors.New("lock is held")

// tryLock takes an exclusive flock on f without blocking. flock locks belong to the
// open file description, so a second open of the same file, even in this process,
// conflicts; they are dropped when the last descriptor closes or the process dies.
func tryLock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK):
			return errWouldBlock
		default:
			return err
		}
	}
}

// unlock drops a flock on f explicitly. Closing f is not always enough: a memory
// mapping of the file keeps its open file description, and so the lock, alive.
func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
