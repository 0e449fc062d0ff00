package bolt

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/stride-run/stride/engine"
)

// holder is what the lock file records about the server holding a data directory;
// a refused Open reports it.
type holder struct {
	PID   int    `json:"pid"`
	Host  string `json:"host"`
	Since string `json:"since"` // RFC 3339, UTC
}

// dirLock is an exclusive advisory lock (flock) on dataDir/LOCK. The kernel drops it
// when the file is closed — by Close, or by the process dying — so a crashed server
// never leaves a stale lock behind.
type dirLock struct {
	f *os.File
}

// lockDir takes the lock on dir without waiting and records this process as the
// holder. When another open file description holds it (another process, or another
// Open in this one) it returns an error wrapping engine.ErrLocked naming the holder.
func lockDir(dir string, now time.Time) (*dirLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, lockedError(dir, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	data, err := json.Marshal(holder{PID: os.Getpid(), Host: host, Since: now.UTC().Format(time.RFC3339)})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("encode lock holder: %w", err)
	}
	data = append(data, '\n')
	if err := writeHolder(f, data); err != nil {
		f.Close()
		return nil, fmt.Errorf("record lock holder in %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func writeHolder(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// lockedError describes the holder recorded in the lock file. The holder writes its
// record just after taking the lock, so a reader can (rarely) find it empty.
func lockedError(dir, path string) error {
	const advice = "stop that server or use another -data-dir"
	data, err := os.ReadFile(path)
	var h holder
	if err == nil {
		err = json.Unmarshal(data, &h)
	}
	if err != nil || h.PID == 0 {
		return fmt.Errorf("data directory %s is in use by another process (it has not recorded "+
			"who it is in %s): %s: %w", dir, path, advice, engine.ErrLocked)
	}
	return fmt.Errorf("data directory %s is in use by pid %d on host %s since %s: %s: %w",
		dir, h.PID, h.Host, h.Since, advice, engine.ErrLocked)
}

// release clears the holder record and drops the lock.
func (l *dirLock) release() error {
	// Only the holder can get here, so nobody else is writing the file.
	terr := l.f.Truncate(0)
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("release lock %s: %w", l.f.Name(), err)
	}
	if terr != nil {
		return fmt.Errorf("clear lock %s: %w", l.f.Name(), terr)
	}
	return nil
}
