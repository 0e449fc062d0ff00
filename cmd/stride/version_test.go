package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromLdflags: the version a build sets with -ldflags (as `make
// build` does) is the one `stride version` prints (executor/api's
// TestOneVersion checks /v2/info, /stride/v1/info and the User-Agent report
// the same variable).
func TestVersionFromLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "stride")
	const v = "7.7.7-ldflags"
	build := exec.Command("go", "build", "-ldflags", "-X github.com/stride-run/stride/internal/version.Version="+v, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("stride version: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "Stride v"+v {
		t.Fatalf("stride version says %q, the build set %q", got, v)
	}
}
