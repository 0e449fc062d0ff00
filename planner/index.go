package planner

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/stride-run/stride/engine"
)

// idIndex finds a deployed app's position in State.Apps by its id. It is an
// open-addressing hash table (linear probing, at most half full) that several
// goroutines fill at once: indexing 100,000 ids is a sequential step of every
// plan otherwise, and a Go map cannot be written concurrently. Each slot holds
// the top 32 bits of the id's hash and the app's position plus one (0 = empty),
// so a probe compares ids only when their hashes agree.
//
// A state holding an id more than once is an error the plan reports; the index
// then says so (dups) and the caller falls back to a map, whose "last one wins"
// the diagnostics are written against.
type idIndex struct {
	apps  []*engine.App
	slots []atomic.Uint64
	mask  uint64
	seed  maphash.Seed
	dups  atomic.Bool
	// byID replaces the table when the state holds duplicates (see useMap).
	byID map[string]int32
}

// newIDIndex indexes apps by id on up to workers goroutines, with its table
// taken from sc (nil: from the heap).
func newIDIndex(apps []*engine.App, workers int, sc *scratch) *idIndex {
	size := uint64(1) << bits.Len(uint(2*len(apps)|1))
	x := &idIndex{apps: apps, slots: sc.takeSlots(int(size)), mask: size - 1, seed: maphash.MakeSeed()}
	if workers <= 1 || len(apps) < parallelIndexMin {
		x.insertRange(0, len(apps))
		return x
	}
	var wg sync.WaitGroup
	chunk := (len(apps) + workers - 1) / workers
	for lo := 0; lo < len(apps); lo += chunk {
		hi := min(lo+chunk, len(apps))
		wg.Go(func() { x.insertRange(lo, hi) })
	}
	wg.Wait()
	return x
}

// parallelIndexMin is the fewest apps newIDIndex indexes on several goroutines.
// Below it the table stays in the processor's caches and indexing takes tens of
// microseconds, less than waking a second goroutine can on a loaded machine.
// (A variable so that tests can reach the parallel path with few apps.)
var parallelIndexMin = 1 << 15

// insertRange indexes apps[lo:hi]. Two goroutines inserting the same id probe
// the same sequence of slots, so whichever claims its slot second meets the
// other's entry and records the duplicate.
func (x *idIndex) insertRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		id := x.apps[i].ID
		h := maphash.String(x.seed, id)
		tag := h >> 32
		entry := tag<<32 | uint64(i+1)
		for pos := h & x.mask; ; pos = (pos + 1) & x.mask {
			s := &x.slots[pos]
			v := s.Load()
			if v == 0 {
				if s.CompareAndSwap(0, entry) {
					break
				}
				v = s.Load() // claimed meanwhile: examine it like any other
			}
			if v>>32 == tag && x.apps[uint32(v)-1].ID == id {
				x.dups.Store(true)
				break
			}
		}
	}
}

// useMap switches the index to a map of the ids, in which the last of several
// apps with one id wins, and returns it.
func (x *idIndex) useMap() map[string]int32 {
	x.byID = make(map[string]int32, len(x.apps))
	for i, a := range x.apps {
		x.byID[a.ID] = int32(i)
	}
	return x.byID
}

// find returns the position of the app with this id.
func (x *idIndex) find(id string) (int32, bool) {
	if x.byID != nil {
		j, ok := x.byID[id]
		return j, ok
	}
	h := maphash.String(x.seed, id)
	tag := h >> 32
	for pos := h & x.mask; ; pos = (pos + 1) & x.mask {
		v := x.slots[pos].Load()
		if v == 0 {
			return 0, false
		}
		if v>>32 == tag {
			if j := int32(uint32(v) - 1); x.apps[j].ID == id {
				return j, true
			}
		}
	}
}
