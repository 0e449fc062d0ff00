package mesostest

import "syscall"

// sysProcAttr puts a cluster's process in a process group of its own (a signal to
// the test's group does not reach it) and has it killed when the test process
// dies without its cleanup (a test timeout, say).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
