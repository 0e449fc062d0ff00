package mesostest

import (
	"testing"
	"time"
)

// TestPortSlots: free slots come from the pool, never from the reserved or old
// fixed ranges; a held slot is not given twice, in this process or another
// (flock is per open file), and is free again once released.
func TestPortSlots(t *testing.T) {
	for _, first := range poolSlots() {
		if first < poolFirst || first+SlotSize > poolEnd || first < reservedEnd && first+SlotSize > reservedFirst || first%SlotSize != 0 {
			t.Errorf("pool slot %d-%d overlaps a range it must not", first, first+SlotSize-1)
		}
	}
	held := claimFreeSlots(t, 3, time.Minute)
	seen := map[int]bool{}
	for _, l := range held {
		if seen[l.first] {
			t.Fatalf("slot %d given twice", l.first)
		}
		seen[l.first] = true
		if again, err := tryLockSlot(l.first); err != nil || again != nil {
			t.Fatalf("a held slot %d was locked again (%v)", l.first, err)
		}
	}
	for _, l := range held {
		l.release()
		again, err := tryLockSlot(l.first)
		if err != nil || again == nil {
			t.Fatalf("released slot %d is not free (%v)", l.first, err)
		}
		again.release()
	}
	// A fixed range covers every slot it touches (one above the pool, which
	// no other test uses: the reserved range is the localmesos tests').
	const lo = poolEnd + 10
	ls := claimRange(t, lo, lo+SlotSize, time.Minute)
	if len(ls) != 2 || ls[0].first != poolEnd || ls[1].first != poolEnd+SlotSize {
		t.Fatalf("slots of %d-%d: %+v", lo, lo+SlotSize, ls)
	}
	for _, l := range ls {
		l.release()
	}
}
