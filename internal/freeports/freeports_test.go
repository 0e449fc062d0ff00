package freeports

import (
	"net"
	"strconv"
	"testing"
	"time"
)

func TestRangesAreFreeAndDisjoint(t *testing.T) {
	lo, hi := ephemeral()
	type block struct{ first, n int }
	var got []block
	for _, n := range []int{300, 300, 300, 100, 1000} {
		first := Range(t, n)
		for _, b := range got {
			if first < b.first+b.n && b.first < first+n {
				t.Fatalf("block %d+%d overlaps %d+%d", first, n, b.first, b.n)
			}
		}
		if first < lowest || first+n-1 > highest || first+n-1 >= lo && first <= hi || first+n-1 >= devFirst && first <= devLast || first+n-1 >= FixedFirst && first <= FixedLast {
			t.Fatalf("block %d+%d lies where it must not (ephemeral %d-%d)", first, n, lo, hi)
		}
		got = append(got, block{first, n})
	}
}

func TestBusyPortIsSkipped(t *testing.T) {
	// Hold every port of the one block of this size that could be handed out
	// first and check that the claim avoids a port that is listened on.
	first := Range(t, 50)
	l, err := net.Listen("tcp", ":"+strconv.Itoa(first+7))
	if err != nil {
		t.Skipf("cannot listen on %d: %v", first+7, err)
	}
	defer l.Close()
	if allFree(first, 50) {
		t.Fatalf("allFree(%d, 50) with port %d listened on", first, first+7)
	}
}

// TestClaimHoldsFixedPorts: a fixed claim locks every unit it touches, so that
// no other claim (of this process or another: flock is per open file) takes
// them until the test ends; ports outside the fixed range are refused.
func TestClaimHoldsFixedPorts(t *testing.T) {
	const first, n = FixedLast - 149, 120 // the last two units
	t.Run("held", func(t *testing.T) {
		Claim(t, first, n, time.Minute)
		for _, u := range []int{FixedLast - 199, FixedLast - 99} {
			release, err := lockUnits(u, u)
			if err != nil {
				t.Fatal(err)
			}
			if release != nil {
				release()
				t.Fatalf("unit %d of a held claim was locked again", u)
			}
		}
	})
	// Released when the subtest ended.
	release, err := lockUnits(FixedLast-199, FixedLast)
	if err != nil || release == nil {
		t.Fatalf("the claim's units are not free once its test ended (%v)", err)
	}
	release()
}
