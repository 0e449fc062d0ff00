package mesostest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procInfo is what /proc tells of a live process.
type procInfo struct {
	pid, ppid int
	cwd       string
	cmdline   string // arguments joined by spaces
}

// processes lists the live (not zombie) processes of the machine.
func processes() []procInfo {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) is in parentheses and may hold anything.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 2 || string(f[0]) == "Z" || string(f[0]) == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		cwd, _ := os.Readlink("/proc/" + e.Name() + "/cwd")
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		out = append(out, procInfo{
			pid: pid, ppid: ppid, cwd: cwd,
			cmdline: strings.TrimSpace(string(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))),
		})
	}
	return out
}

// taskBelow returns the task process of the container whose pid is pid: the first
// process down its tree that is neither mesos-containerizer nor mesos-executor
// (0 if none).
func taskBelow(pid int) int {
	if pid == 0 {
		return 0
	}
	procs := processes()
	for depth := 0; depth < 4; depth++ {
		next := 0
		for _, p := range procs {
			if p.ppid == pid && (next == 0 || p.pid < next) {
				next = p.pid
			}
		}
		if next == 0 {
			return 0
		}
		for _, p := range procs {
			if p.pid == next && !isMesosHelper(p.cmdline) {
				return next
			}
		}
		pid = next
	}
	return 0
}

// isMesosHelper tells the agent's launch helper and the command executor by
// their command line.
func isMesosHelper(cmdline string) bool {
	first, _, _ := strings.Cut(cmdline, " ")
	base := first[strings.LastIndexByte(first, '/')+1:]
	return base == "mesos-containerizer" || base == "mesos-executor"
}

// below reports whether p works in dir or names it on its command line: the
// agents, the executors (their sandbox is their working directory) and the tasks
// of a cluster whose files are all below dir.
func (p procInfo) below(dir string) bool {
	return p.cwd == dir || strings.HasPrefix(p.cwd, dir+"/") || strings.Contains(p.cmdline, dir+"/")
}

// killBelow kills with SIGKILL, until none is left or timeout passes, every
// process working below dir or naming it; it returns the pids left.
func killBelow(dir string, timeout time.Duration) []int {
	deadline := time.Now().Add(timeout)
	for {
		var left []int
		for _, p := range processes() {
			if p.below(dir) {
				left = append(left, p.pid)
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond) // polling interval: the kernel reaps them
	}
}

// KillBelow kills (SIGKILL) every process working below dir or naming it on its
// command line, until none is left or timeout passes; it returns the pids left.
// Tests that kill a server with SIGKILL use it to take its tasks with them.
func KillBelow(dir string, timeout time.Duration) []int { return killBelow(dir, timeout) }

// ProcessesBelow returns the pids of the live processes working below dir or
// naming it on their command line (the cluster's leftovers: Cluster.Dir).
func ProcessesBelow(dir string) []int {
	var out []int
	for _, p := range processes() {
		if p.below(dir) {
			out = append(out, p.pid)
		}
	}
	return out
}
