package mesostest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The agents' port ranges are what their tasks listen on, on the agents'
// loopback addresses, which every cluster on the machine shares (127.0.0.2,
// ...): two clusters offering the same ports at once would have their tasks
// fight over them. So a cluster claims its ranges, in slots of SlotSize ports,
// with an exclusive lock on a file per slot in a directory shared by every test
// process of the machine (other packages' tests, other checkouts); the locks go
// with the cluster (or the process). A cluster without FirstPort gets free slots
// of the shared pool; one with FirstPort (a test quoting ports in golden files)
// waits for its own.
const (
	// SlotSize is the number of ports of a slot, and the most an agent of a
	// cluster without FirstPort may have.
	SlotSize = 200
	// poolFirst..poolEnd is the pool of slots for clusters without FirstPort:
	// above Linux's ephemeral ports (32768-60999) and the stand-in tests'
	// ranges, apart from 61000-61599 (the fixed ranges of earlier versions,
	// still in use by their checkouts) and reservedFirst..reservedEnd (fixed
	// ranges of golden-file tests).
	poolFirst, poolEnd         = 61600, 65000
	reservedFirst, reservedEnd = 63000, 63400
)

// portLocks is the directory of the slots' lock files.
func portLocks() string { return filepath.Join(os.TempDir(), "stride-mesostest-ports") }

// slotLock is a held lock on a slot.
type slotLock struct {
	first int
	f     *os.File
}

// tryLockSlot takes the lock of the slot starting at first, if it is free.
func tryLockSlot(first int) (*slotLock, error) {
	if err := os.MkdirAll(portLocks(), 0o777); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(portLocks(), strconv.Itoa(first)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, err
	}
	fmt.Fprintf(f, "pid %d\n", os.Getpid())
	return &slotLock{first: first, f: f}, nil
}

func (l *slotLock) release() { l.f.Close() }

// poolSlots returns the first ports of the pool's slots, shuffled so that
// concurrent clusters do not all try the same ones first.
func poolSlots() []int {
	var out []int
	for first := poolFirst; first+SlotSize <= poolEnd; first += SlotSize {
		if first+SlotSize <= reservedFirst || first >= reservedEnd {
			out = append(out, first)
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// claimFreeSlots takes n free slots of the pool, waiting up to timeout for
// others to free some.
func claimFreeSlots(t testing.TB, n int, timeout time.Duration) []*slotLock {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var held []*slotLock
	for {
		for _, first := range poolSlots() {
			if len(held) == n {
				return held
			}
			l, err := tryLockSlot(first)
			if err != nil {
				t.Fatalf("mesostest: port slot %d: %v", first, err)
			}
			if l != nil {
				held = append(held, l)
			}
		}
		if len(held) == n {
			return held
		}
		if time.Now().After(deadline) {
			for _, l := range held {
				l.release()
			}
			t.Fatalf("mesostest: %d free slots of %d ports wanted, %d found in %v (held by other tests: see %s)", n, SlotSize, len(held), timeout, portLocks())
		}
		time.Sleep(200 * time.Millisecond) // polling interval: other tests free slots when they end
	}
}

// ClaimPorts holds the slots covering the ports lo..hi until t ends, waiting up
// to timeout for other tests to free them: for a test that needs fixed ports
// (its golden files quote them), stand-ins included.
func ClaimPorts(t testing.TB, lo, hi int, timeout time.Duration) {
	t.Helper()
	for _, l := range claimRange(t, lo, hi, timeout) {
		t.Cleanup(l.release)
	}
}

// claimRange takes the slots covering lo..hi, waiting up to timeout.
func claimRange(t testing.TB, lo, hi int, timeout time.Duration) []*slotLock {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var held []*slotLock
	for first := lo - lo%SlotSize; first <= hi; first += SlotSize {
		for {
			l, err := tryLockSlot(first)
			if err != nil {
				t.Fatalf("mesostest: port slot %d: %v", first, err)
			}
			if l != nil {
				held = append(held, l)
				break
			}
			if time.Now().After(deadline) {
				for _, l := range held {
					l.release()
				}
				t.Fatalf("mesostest: ports %d-%d still held by another test after %v (see %s)", first, first+SlotSize-1, timeout, portLocks())
			}
			time.Sleep(200 * time.Millisecond) // polling interval: the other test frees them when it ends
		}
	}
	return held
}
