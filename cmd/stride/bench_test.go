package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stride-run/stride/internal/plangen"
)

// BenchmarkPlanEndToEnd10k times `stride plan -state` for 10k apps with 10%
// changed, in process (decode HCL, decode state, plan, render text), and
// reports the peak resident memory of the same command run as a process.
func BenchmarkPlanEndToEnd10k(b *testing.B) {
	dir := b.TempDir()
	cfgDir := filepath.Join(dir, "config")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := plangen.WriteConfig(cfgDir, 10000); err != nil {
		b.Fatal(err)
	}
	stateFile := filepath.Join(dir, "state.json")
	if err := plangen.WriteState(cfgDir, stateFile); err != nil {
		b.Fatal(err)
	}
	args := []string{"plan", "-no-color", "-detailed-exitcode", "-state", stateFile, cfgDir}

	var out strings.Builder
	c := newCLI(strings.NewReader(""), &out, io.Discard)
	if code := c.run(args); code != exitChanges {
		b.Fatalf("exit %d, want %d", code, exitChanges)
	}
	if want := plangen.Summary(10000); !strings.Contains(out.String(), want) {
		b.Fatalf("summary missing %q", want)
	}

	// Peak memory of the real command.
	bin := filepath.Join(dir, "stride")
	if outp, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, outp)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = io.Discard
	peakFile := filepath.Join(dir, "peak")
	cmd.Env = append(os.Environ(), "STRIDE_PEAK_RSS_FILE="+peakFile)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitChanges {
			b.Fatalf("stride plan: %v", err)
		}
	}
	peak, err := os.ReadFile(peakFile)
	if err != nil {
		b.Fatalf("peak memory not recorded: %v", err)
	}
	var peakKB float64
	if _, err := fmt.Sscanf(string(peak), "%f kB", &peakKB); err != nil {
		b.Fatalf("peak memory %q: %v", peak, err)
	}
	peakMB := peakKB / 1024

	b.ResetTimer()
	for b.Loop() {
		c := newCLI(strings.NewReader(""), io.Discard, io.Discard)
		if code := c.run(args); code != exitChanges {
			b.Fatalf("exit %d", code)
		}
	}
	b.ReportMetric(peakMB, "peak-MB")
}
