package consultest

import "syscall"

// sysProcAttr puts an agent in a process group of its own and has it killed when
// the test process dies without its cleanup (a test timeout, say).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
