// Command stride is Stride's command-line interface: it validates, formats and
// plans HCL configurations, applies them through a Stride server, and runs the
// server itself.
//
// Exit codes follow Terraform's: 0 success, 1 error; `plan -detailed-exitcode`
// returns 2 when the plan has changes; `fmt -check` returns 3 when a file is not
// canonically formatted.
package main

import (
	"os"
	"runtime/debug"
	"strings"
)

// gcPercent is the garbage collector's target for the one-shot commands: decoding
// a large configuration allocates far more than it keeps (hcl's lexer), so a
// lower target than Go's 100 keeps `stride plan` of 10k apps well under 300 MB of
// resident memory for about 10% more CPU. GOGC in the environment wins.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	c := newCLI(os.Stdin, os.Stdout, os.Stderr)
	// The process is ours alone: loading a configuration may set a memory
	// limit (config.go), unless the environment tunes the collector.
	c.tuneMemory = os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == ""
	code := c.run(os.Args[1:])
	if f := os.Getenv("STRIDE_PEAK_RSS_FILE"); f != "" {
		writePeakRSS(f)
	}
	os.Exit(code)
}

// writePeakRSS records the process's peak resident memory (VmHWM) in file, for
// the end-to-end benchmark. getrusage's ru_maxrss cannot serve: it keeps the
// high-water mark of the parent's memory the child shared before exec.
func writePeakRSS(file string) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			_ = os.WriteFile(file, []byte(strings.TrimSpace(v)), 0o644)
		}
	}
}
