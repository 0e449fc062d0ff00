//go:build linux

package localmesos

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// processStartTime returns the start time of process pid (in clock ticks since
// boot, field 22 of /proc/<pid>/stat). It returns errNoProcess for a pid that
// names no process or a zombie.
func processStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		// ESRCH: the process went away while its stat was read.
		return 0, errNoProcess
	}
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	if string(fields[0]) == "Z" || string(fields[0]) == "X" {
		return 0, errNoProcess
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}

// bootID returns the kernel's boot id ("" if unknown): process start times
// only tell processes apart within one boot.
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// processID is a process told apart from later ones with its pid.
type processID struct {
	pid   int
	start uint64
}

// taskLeaders returns, by sandbox, the process group leaders (pid = pgid)
// of this user that run with MESOS_SANDBOX=<sandbox> in their environment,
// as the stand-in starts a task's process; of several (a task's descendants
// that made groups of their own), the oldest, which is the task's.
func taskLeaders() map[string]processID {
	out := map[string]processID{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		fields := bytes.Fields(b[i+1:])
		// fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19]
		// field 22 (starttime).
		if len(fields) < 20 || string(fields[0]) == "Z" || string(fields[2]) != e.Name() {
			continue
		}
		start, err := strconv.ParseUint(string(fields[19]), 10, 64)
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if dir, ok := bytes.CutPrefix(kv, []byte("MESOS_SANDBOX=")); ok {
				if p, seen := out[string(dir)]; !seen || start < p.start {
					out[string(dir)] = processID{pid: pid, start: start}
				}
				break
			}
		}
	}
	return out
}

// sysPidfdOpen is pidfd_open(2)'s number, the same on every architecture.
const sysPidfdOpen = 434

// exitPoll is how often waitExit looks at /proc when it cannot wait on a
// pidfd.
const exitPoll = 200 * time.Millisecond

// waitExit returns once process pid, started at start, has exited. The
// process need not be our child: waitExit waits for its pidfd (pidfd_open(2))
// to become readable through the runtime's poller, and falls back to looking
// at /proc every exitPoll where pidfds are not available.
func waitExit(pid int, start uint64) {
	if waitPidfd(pid, start) {
		return
	}
	for !processEnded(pid, start) {
		time.Sleep(exitPoll)
	}
}

// processEnded reports whether process pid, started at start, is gone (or a
// zombie).
func processEnded(pid int, start uint64) bool {
	current, err := processStartTime(pid)
	return errors.Is(err, errNoProcess) || err == nil && current != start
}

// waitPidfd waits for the exit of a process through a pidfd; false means it
// could not, and the caller must poll.
func waitPidfd(pid int, start uint64) bool {
	r, _, errno := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if errno != 0 {
		return processEnded(pid, start) // ESRCH: gone already
	}
	fd := int(r)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// The pidfd names the process that had the pid when it was opened: if
	// that is not the one recorded, the recorded one is gone.
	if processEnded(pid, start) {
		return true
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	// Readable: the process the pidfd names has exited.
	return rc.Read(func(fd uintptr) bool { return pollReadable(int(fd)) }) == nil
}

// pollReadable reports whether fd is readable now: for a pidfd, whether its
// process has exited.
func pollReadable(fd int) bool {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: 0x1} // POLLIN
	var ts syscall.Timespec
	n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return errno == 0 && n == 1 && pfd.revents != 0
}
