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
// connections take their local ports, outside 31000-33999, and outside
// FixedFirst-FixedLast, which tests whose golden files quote ports claim with
// Claim (waiting for each other there).
//
// It is the one mechanism for test ports: every test or benchmark that starts
// stand-ins, real Mesos agents, Consul agents or servers takes its ports from
// here, or binds :0 where the thing reports the port it bound.
package freeports

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bounds of the blocks handed out, and the ports a default `stride dev` uses.
const (
	lowest       = 10000
	highest      = 65535
	devFirst     = 31000
	devLast      = 33999
	defaultLocal = "32768 60999"
)

// FixedFirst..FixedLast are the ports Range never hands out: tests that need
// fixed ports (their golden files quote them) take them with Claim.
const (
	FixedFirst = 63000
	FixedLast  = 63999
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

// Claim holds the fixed ports first..first+n-1 (within FixedFirst-FixedLast)
// until the test ends, waiting up to timeout for another test (of this process
// or another) that holds some of them to end. It fails the test when they are
// not free by then.
func Claim(tb testing.TB, first, n int, timeout time.Duration) {
	tb.Helper()
	if n <= 0 || first < FixedFirst || first+n-1 > FixedLast {
		tb.Fatalf("freeports: fixed ports %d+%d: must lie within %d-%d", first, n, FixedFirst, FixedLast)
	}
	deadline := time.Now().Add(timeout)
	for {
		release, err := lockUnits(first-first%unit, first+n-1)
		if err != nil {
			tb.Fatalf("freeports: %v", err)
		}
		if release != nil {
			if allFree(first, n) {
				tb.Cleanup(release)
				return
			}
			release()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("freeports: ports %d-%d still held after %v (locks in %s)", first, first+n-1, timeout, lockDir())
		}
		time.Sleep(200 * time.Millisecond) // polling interval: the holder frees them when its test ends
	}
}

// lockDir is the directory of the lock files, one per unit of ports, shared by
// every test process of the machine.
func lockDir() string { return filepath.Join(os.TempDir(), "stride-test-ports") }

// lockUnits takes the locks of the units from the one starting at base to the
// one holding last, without waiting. It returns nil (and holds nothing) when
// one of them is held elsewhere.
func lockUnits(base, last int) (release func(), err error) {
	dir := lockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	var held []*os.File
	release = func() {
		for _, f := range held {
			f.Close()
		}
	}
	for u := base; u <= last; u += unit {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%d.lock", u)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			release()
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			release()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil
			}
			return nil, err
		}
		held = append(held, f)
	}
	return release, nil
}

// claim finds, locks and checks a block of n ports.
func claim(n int) (int, func(), error) {
	if n <= 0 || n > highest-lowest {
		return 0, nil, fmt.Errorf("cannot hand out %d ports", n)
	}
	units := (n + unit - 1) / unit
	lo, hi := ephemeral()
	var bases []int
	for b := (lowest + unit - 1) / unit * unit; b+units*unit-1 <= highest; b += unit {
		end := b + units*unit - 1
		if end >= lo && b <= hi || end >= devFirst && b <= devLast || end >= FixedFirst && b <= FixedLast {
			continue
		}
		bases = append(bases, b)
	}
	rand.Shuffle(len(bases), func(i, j int) { bases[i], bases[j] = bases[j], bases[i] })
	for _, b := range bases {
		release, err := lockUnits(b, b+units*unit-1)
		if err != nil {
			return 0, nil, err
		}
		if release == nil {
			continue
		}
		if !allFree(b, n) {
			release()
			continue
		}
		return b, release, nil
	}
	return 0, nil, fmt.Errorf("no block of %d free ports between %d and %d", n, lowest, highest)
}

// allFree reports whether nothing listens on any port of the block, on any
// address (tasks listen on 0.0.0.0), for TCP or UDP (Consul's DNS and serf
// ports take both).
func allFree(first, n int) bool {
	for p := first; p < first+n; p++ {
		addr := ":" + strconv.Itoa(p)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		u.Close()
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
