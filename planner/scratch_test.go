package planner

import (
	"reflect"
	"sync"
	"testing"
)

// TestScratchReuse: plans made one after the other (each reusing the working
// memory the one before released, of another size) and at once (each with
// its own) are the plans made with fresh memory.
func TestScratchReuse(t *testing.T) {
	worlds := []world{genWorld(3000, 1), genWorld(700, 2), genWorld(5000, 3)}
	fresh := make([]any, len(worlds))
	for i, w := range worlds {
		scratchPool = sync.Pool{} // nothing to reuse
		p, diags := Plan(w.spec, w.state, Options{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		fresh[i] = p
	}
	for round := 0; round < 3; round++ {
		for i, w := range worlds {
			p, _ := Plan(w.spec, w.state, Options{})
			if !reflect.DeepEqual(p, fresh[i]) {
				t.Fatalf("round %d: the plan of world %d differs after reuse", round, i)
			}
		}
	}
	var wg sync.WaitGroup
	for k := 0; k < 4; k++ {
		for i, w := range worlds {
			wg.Go(func() {
				if p, _ := Plan(w.spec, w.state, Options{}); !reflect.DeepEqual(p, fresh[i]) {
					t.Errorf("the plan of world %d differs when planned concurrently", i)
				}
			})
		}
	}
	wg.Wait()
}

// TestArenaTake: slices taken are zeroed, apart and of the length asked,
// also past the buffer; after reset the buffer holds what the last round took
// and nothing it pointed to.
func TestArenaTake(t *testing.T) {
	var a arena[*int]
	x := 1
	s1 := a.take(3)
	s1[0] = &x
	a.reset()
	if len(a.buf) != 3 {
		t.Fatalf("buffer of %d after a round of 3", len(a.buf))
	}
	s2 := a.take(2)
	s3 := a.take(2) // past the buffer
	for _, s := range [][]*int{s2, s3} {
		for _, p := range s {
			if p != nil {
				t.Fatal("a slice taken is not zeroed")
			}
		}
	}
	s2 = append(s2, &x) // capacity is the length: no overlap with what follows
	if a.buf[2] != nil {
		t.Fatal("appending to a taken slice wrote into the buffer")
	}
	a.reset()
	if len(a.buf) != 4 {
		t.Fatalf("buffer of %d after a round of 4", len(a.buf))
	}
	for _, p := range a.buf {
		if p != nil {
			t.Fatal("the buffer keeps a pointer after reset")
		}
	}
}
