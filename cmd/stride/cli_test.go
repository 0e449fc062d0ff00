package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/internal/version"
)

var update = flag.Bool("update", false, "rewrite the golden files of the CLI tests")

// TestGolden runs every case under testdata/cli/: each directory holds `args`
// (one argument per line; a line "ENV NAME=value" sets an environment variable
// instead), and the expected `stdout.golden`, `stderr.golden` and `exit` code. The
// command runs with the case directory as its working directory, so paths in
// args and in the output are relative to it.
func TestGolden(t *testing.T) {
	root, err := filepath.Abs("../../testdata/cli")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		argsFile, err := os.ReadFile(filepath.Join(dir, "args"))
		if err != nil {
			continue // a shared fixture, not a case
		}
		ran++
		t.Run(e.Name(), func(t *testing.T) {
			var args []string
			env := map[string]string{}
			for _, line := range strings.Split(strings.TrimRight(string(argsFile), "\n"), "\n") {
				if kv, ok := strings.CutPrefix(line, "ENV "); ok {
					k, v, _ := strings.Cut(kv, "=")
					env[k] = v
					continue
				}
				args = append(args, line)
			}
			stdout, stderr, code := runIn(t, dir, env, args...)
			check(t, filepath.Join(dir, "stdout.golden"), stdout)
			check(t, filepath.Join(dir, "stderr.golden"), stderr)
			check(t, filepath.Join(dir, "exit"), strconv.Itoa(code)+"\n")
		})
	}
	if ran < 10 {
		t.Fatalf("only %d CLI cases found under %s", ran, root)
	}
}

// runIn runs the CLI in dir with the given environment (and nothing else of the
// process's own), returning its output and exit code.
func runIn(t *testing.T, dir string, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := os.Chdir(wd); err != nil {
			t.Fatal(err)
		}
	}()
	var stdout, stderr bytes.Buffer
	c := newCLI(strings.NewReader(""), &stdout, &stderr)
	c.getenv = func(k string) string { return env[k] }
	c.environ = func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
	code := c.run(args)
	return stdout.String(), stderr.String(), code
}

func check(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if got == "" && !strings.HasSuffix(file, "exit") {
			_ = os.Remove(file)
			return
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		want, err = nil, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./cmd/stride -update rewrites it)\n--- got ---\n%s\n--- want ---\n%s", filepath.Base(file), got, want)
	}
}

// TestPlanOutFile checks that a saved plan holds everything apply needs: the
// state serial it was made against, the spec and the plan itself.
func TestPlanOutFile(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/cli/mixed")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shop.plan")
	_, stderr, code := runIn(t, dir, nil, "plan", "-no-color", "-state", "state.json", "-scope", "/shop", "-out", out, "config")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var sp engine.SavedPlan
	if err := json.Unmarshal(data, &sp); err != nil {
		t.Fatalf("saved plan does not decode: %v", err)
	}
	if sp.StateSerial != 42 || sp.Plan == nil || sp.Plan.StateSerial != 42 {
		t.Errorf("state serial: file %d, plan %v; want 42", sp.StateSerial, sp.Plan)
	}
	if sp.FormatVersion != engine.PlanFormatVersion || sp.StrideVersion != version.Version {
		t.Errorf("versions: %q %q", sp.FormatVersion, sp.StrideVersion)
	}
	if sp.Spec == nil || sp.Spec.Scope != "/shop" || len(sp.Spec.Apps) != 6 {
		t.Fatalf("spec not saved whole: %+v", sp.Spec)
	}
	if got := sp.Plan.Summary; got != (engine.Summary{Create: 1, Update: 1, Scale: 1, Restart: 2, Destroy: 1}) {
		t.Errorf("summary %+v", got)
	}
}

// TestFmtRewrites checks that fmt rewrites an unformatted file in place, lists
// it, and leaves it alone the second time.
func TestFmtRewrites(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(name, []byte("app \"a\" {\ncmd=\"x\"\n    instances   = 2\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runIn(t, dir, nil, "fmt")
	if code != exitOK || stdout != "main.hcl\n" || stderr != "" {
		t.Fatalf("first fmt: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	got, _ := os.ReadFile(name)
	if want := "app \"a\" {\n  cmd       = \"x\"\n  instances = 2\n}\n"; string(got) != want {
		t.Fatalf("formatted:\n%s\nwant:\n%s", got, want)
	}
	if st, _ := os.Stat(name); st.Mode().Perm() != 0o600 {
		t.Errorf("mode changed to %v", st.Mode().Perm())
	}
	stdout, _, code = runIn(t, dir, nil, "fmt", "-check")
	if code != exitOK || stdout != "" {
		t.Fatalf("second fmt -check: exit %d stdout %q", code, stdout)
	}
}

// TestReadmeExample validates every HCL snippet of the README, so the front door
// never shows a configuration that does not work.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(readme), "```hcl\n")
	if len(parts) < 2 {
		t.Fatal("README has no hcl example")
	}
	for i, p := range parts[1:] {
		src, _, ok := strings.Cut(p, "```")
		if !ok {
			t.Fatalf("snippet %d is not closed", i)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, code := runIn(t, dir, nil, "validate", "-no-color")
		if code != exitOK {
			t.Errorf("README snippet %d does not validate:\n%s%s", i, stdout, stderr)
		}
	}
}

// TestPlanHonoursInterrupt: Ctrl-C while plan waits for a server that does not
// answer ends it at once, with exit 1 and a message, instead of waiting for the
// request's timeout.
func TestPlanHonoursInterrupt(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)
	dir, err := filepath.Abs("../../examples/hello-world")
	if err != nil {
		t.Fatal(err)
	}
	ctx, interrupt := context.WithCancel(context.Background())
	var stdout, stderr bytes.Buffer
	c := newCLI(strings.NewReader(""), &stdout, &stderr)
	c.getenv = func(string) string { return "" }
	c.ctx = ctx
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"plan", "-no-color", "-address", srv.URL, dir}) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("plan never asked the server")
	}
	interrupt()
	select {
	case code := <-done:
		if code != exitError || !strings.Contains(stderr.String(), "interrupted: nothing was planned") || stdout.Len() != 0 {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("plan did not stop on the interrupt")
	}
}
