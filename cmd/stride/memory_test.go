package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestLoadMemoryLimit: the limit is sized to the *.hcl files hcl.Load reads
// (a directory's, or one file), at least minLoadMemory, and the collector's
// settings are restored after loading.
func TestLoadMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int{"a.hcl": 3 << 20, "b.hcl": 1 << 20, "notes.txt": 5 << 20} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		path string
		want int64
	}{
		"directory": {dir, 4 << 20},
		"file":      {filepath.Join(dir, "b.hcl"), 1 << 20},
		"missing":   {filepath.Join(dir, "none"), 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := configBytes(tc.path); got != tc.want {
				t.Fatalf("configBytes = %d, want %d", got, tc.want)
			}
			beforePercent := debug.SetGCPercent(77)
			beforeLimit := debug.SetMemoryLimit(-1)
			defer debug.SetGCPercent(beforePercent)
			restore := limitLoadMemory(tc.path)
			limit := debug.SetMemoryLimit(-1) // reads it
			restore()
			if want := max(minLoadMemory, loadMemoryPerByte*tc.want); limit != want {
				t.Errorf("limit while loading %d, want %d", limit, want)
			}
			if p := debug.SetGCPercent(-1); p != 77 {
				t.Errorf("GC percent after loading %d, want 77 again", p)
			}
			debug.SetGCPercent(77)
			if l := debug.SetMemoryLimit(-1); l != beforeLimit {
				t.Errorf("memory limit after loading %d, want %d again", l, beforeLimit)
			}
		})
	}
}
