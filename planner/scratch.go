package planner

import (
	"sync"
	"sync/atomic"

	"github.com/stride-run/stride/engine"
)

// scratch is the working memory of one Plan: its arrays of one entry per app
// (the id index's table, which deployed app each desired one matched, their
// changes, levels),
// handed out by take and kept in scratchPool for the next plan. A server plans
// on every write, and at 100,000 apps these arrays are megabytes a plan that
// the garbage collector would otherwise have to catch up with, each time
// marking the whole deployed state: the collector's share of BenchmarkPlan.
// Nothing taken from it may outlive the plan.
type scratch struct {
	apps    arena[*engine.App]
	changes arena[*engine.Change]
	ints    arena[int32]
	bools   arena[bool]
	slots   arena[atomic.Uint64]
}

var scratchPool sync.Pool // of *scratch

func getScratch() *scratch {
	if s, ok := scratchPool.Get().(*scratch); ok {
		return s
	}
	return &scratch{}
}

// release makes everything taken from s free for the next plan.
func (s *scratch) release() {
	s.apps.reset()
	s.changes.reset()
	s.ints.reset()
	s.bools.reset()
	s.slots.reset()
	scratchPool.Put(s)
}

// takeInts takes n int32s from s, or from the heap when s is nil.
func (s *scratch) takeInts(n int) []int32 {
	if s == nil {
		return make([]int32, n)
	}
	return s.ints.take(n)
}

// takeBools takes n bools from s, or from the heap when s is nil.
func (s *scratch) takeBools(n int) []bool {
	if s == nil {
		return make([]bool, n)
	}
	return s.bools.take(n)
}

// takeSlots takes an id index's table of n slots from s, or from the heap
// when s is nil.
func (s *scratch) takeSlots(n int) []atomic.Uint64 {
	if s == nil {
		return make([]atomic.Uint64, n)
	}
	return s.slots.take(n)
}

// arena hands out zeroed slices of T from one buffer. When a plan takes more
// than the buffer holds, the rest comes from the heap and the buffer is grown
// for the next plan to what this one took in all.
type arena[T any] struct {
	buf   []T
	used  int
	taken int
}

// take returns a zeroed slice of n elements (capacity n).
func (a *arena[T]) take(n int) []T {
	a.taken += n
	if a.used+n > len(a.buf) {
		return make([]T, n)
	}
	s := a.buf[a.used : a.used+n : a.used+n]
	a.used += n
	clear(s)
	return s
}

// reset frees everything taken. The buffer is cleared, so that it keeps no
// app or change alive until the next plan.
func (a *arena[T]) reset() {
	clear(a.buf[:a.used])
	if a.taken > len(a.buf) {
		a.buf = make([]T, a.taken)
	}
	a.used, a.taken = 0, 0
}
