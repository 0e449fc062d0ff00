// Package freeports hands tests blocks of free TCP ports for the agents of the
// Mesos stand-ins and real Mesos clusters they start, so that their tasks never
// fight over ports with each other, with tests of other packages (or of other
// people) running at the same time, or with a `stride dev` running on the machine
// (31000-33999 by default).
//
// A block is claimed with exclusive locks on files under the system's temporary
// directory, one per 100 ports it covers, held until the test ends (or its
// process dies), so that concurrent test processes never claim overlapping
// blocks; and every port of it is checked to be free (nothing listens on it) when
// it is claimed. Blocks lie outside the
// kernel's ephemeral port range (net.ipv4.ip_local_port_range), where outgoing
// connections take their local ports, and outside 31000-33999.
package freeports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Bounds of the blocks handed out, and the ports a default `stride dev` uses.
const (
	lowest       = 10000
	highest      = 65535
	devFirst     = 31000
	devLast      = 33999
	defaultLocal = "32768 60999"
)

// Range claims a block of n consecutive free ports for the test and returns its
// first port. The block is released when the test ends. It fails the test when
// no block is free.
func Range(tb testing.TB, n int) int {
	tb.Helper()
	first, release, err := claim(n)
	if err != nil {
		tb.Fatalf("freeports: %v", err)
	}
	tb.Cleanup(release)
	return first
}

// unit is the granularity of claims: a block covers whole units of this many
// ports, each locked on its own, so that blocks of any sizes never overlap.
const unit = 100

// claim finds, locks and checks a block of n ports.
func claim(n int) (int, func(), error) {
	if n <= 0 || n > highest-lowest {
		return 0, nil, fmt.Errorf("cannot hand out %d ports", n)
	}
	units := (n + unit - 1) / unit
	lo, hi := ephemeral()
	dir := filepath.Join(os.TempDir(), "stride-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, nil, err
	}
	var bases []int
	for b := (lowest + unit - 1) / unit * unit; b+units*unit-1 <= highest; b += unit {
		end := b + units*unit - 1
		if end >= lo && b <= hi || end >= devFirst && b <= devLast {
			continue
		}
		bases = append(bases, b)
	}
	rand.Shuffle(len(bases), func(i, j int) { bases[i], bases[j] = bases[j], bases[i] })
	for _, b := range bases {
		var held []*os.File
		release := func() {
			for _, f := range held {
				f.Close()
			}
		}
		ok := true
		for u := 0; u < units && ok; u++ {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", b+u*unit)), os.O_CREATE|os.O_RDWR, 0o666)
			if err != nil {
				ok = false
				break
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				f.Close()
				ok = false
				break
			}
			held = append(held, f)
		}
		if !ok || !allFree(b, n) {
			release()
			continue
		}
		return b, release, nil
	}
	return 0, nil, fmt.Errorf("no block of %d free ports between %d and %d", n, lowest, highest)
}

// allFree reports whether nothing listens on any port of the block (on any
// address: tasks listen on 0.0.0.0).
func allFree(first, n int) bool {
	for p := first; p < first+n; p++ {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// ephemeral returns the kernel's ephemeral port range.
func ephemeral() (lo, hi int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		b = []byte(defaultLocal)
	}
	f := strings.Fields(string(b))
	if len(f) == 2 {
		lo, err1 := strconv.Atoi(f[0])
		hi, err2 := strconv.Atoi(f[1])
		if err1 == nil && err2 == nil && lo <= hi {
			return lo, hi
		}
	}
	return 32768, 60999
}
