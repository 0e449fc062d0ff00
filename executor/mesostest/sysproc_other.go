//go:build !linux

package mesostest

import "syscall"

// sysProcAttr puts a cluster's process in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
