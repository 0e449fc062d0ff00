package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

// goldenSecret is the password the sensitive-* golden cases set.
const goldenSecret = "hunter2-Sup3rS3cret"

// TestSensitiveGoldenFiles: the golden outputs of the sensitive-* cases (validate,
// plan, plan -json, an invalid variant) never hold the password, and the plans
// show "(sensitive value)" in its place.
func TestSensitiveGoldenFiles(t *testing.T) {
	files, err := filepath.Glob("../../testdata/cli/sensitive-*/*.golden")
	if err != nil || len(files) < 4 {
		t.Fatalf("sensitive golden files: %v %v", files, err)
	}
	masked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), goldenSecret) || strings.Contains(string(b), strings.ToUpper(goldenSecret)) {
			t.Errorf("%s shows the sensitive value", f)
		}
		if strings.Contains(string(b), engine.SensitiveValue) {
			masked++
		}
	}
	if masked < 3 {
		t.Errorf("only %d of %d golden files show %q", masked, len(files), engine.SensitiveValue)
	}
}

// devServer is an in-process `stride dev` for a test.
type devServer struct {
	addr string
	out  *syncBuffer // everything it logged
	done chan int
	stop context.CancelFunc
}

// startDevInProcess runs `stride dev` without a configuration, with env as its
// environment, and waits until its API answers.
func startDevInProcess(t *testing.T, env map[string]string) *devServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &devServer{addr: freeAddr(t), out: &syncBuffer{}, done: make(chan int, 1), stop: cancel}
	c := newCLI(strings.NewReader(""), d.out, d.out)
	c.ctx = ctx
	c.getenv = func(k string) string { return env[k] }
	c.environ = func() []string {
		var out []string
		for k, v := range env {
			out = append(out, k+"="+v)
		}
		return out
	}
	args := []string{"dev", "-no-color", "-listen", d.addr, "-data-dir", t.TempDir(), "-first-port", devFirstPort(t, 3)}
	go func() { d.done <- c.run(args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			t.Error("stride dev did not stop")
		}
		if t.Failed() {
			t.Logf("stride dev output:\n%s", d.out.String())
		}
	})
	client := api.NewClient(d.addr)
	d.waitFor(t, "the API", func() (bool, string) {
		_, err := client.Apps(context.Background())
		return err == nil, fmt.Sprint(err)
	})
	return d
}

// waitFor polls cond until it holds, failing the test after a minute or when
// stride dev exits.
func (d *devServer) waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case code := <-d.done:
			t.Fatalf("stride dev exited %d while waiting for %s:\n%s", code, what, d.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not reached in time: %s", what, state)
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}
}

// appCounts polls one app's Marathon view.
func appCounts(client *api.Client, id string) func() (*api.AppInfo, string) {
	return func() (*api.AppInfo, string) {
		a, err := client.App(context.Background(), id)
		if err != nil {
			return nil, err.Error()
		}
		return a, fmt.Sprintf("%d instances, %d running, %d healthy, deployments %v", a.Instances, a.TasksRunning, a.TasksHealthy, a.Deployments)
	}
}

// TestSensitiveNeverShown is the sensitive-value promise end to end on a real
// `stride dev`: a password given as a sensitive variable and used in env, an
// interpolated cmd, a label and a health check path reaches the task, and
// appears in no output of validate, plan (text and JSON), plan -out, the saved
// plan's rendering by apply, the server's log, the event stream and Stride's own
// API renderings; Marathon's /v2/apps carries the real values.
func TestSensitiveNeverShown(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the app serves with python3; .ci/run installs it")
	}
	const secret = "e2e-Pa55w0rd-never-shown"
	outDir := t.TempDir()
	cfgDir := t.TempDir()
	config := `variable "db_password" {
  type      = string
  sensitive = true
}
variable "out_dir" {}

app "api" {
  cmd       = "printf '%s\\n' \"$DB_PASSWORD\" '${var.db_password}' > ${var.out_dir}/seen; exec python3 -m http.server $PORT0 --bind \"$HOST\""
  instances = 1
  env       = { DB_PASSWORD = var.db_password }
  labels    = { token = var.db_password }
  port "http" { number = 0 }
  health_check {
    protocol             = "HTTP"
    path                 = "/?token=${var.db_password}"
    interval_seconds     = 1
    timeout_seconds      = 1
    grace_period_seconds = 30
  }
}
`
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := startDevInProcess(t, nil)
	client := api.NewClient(dev.addr)

	// The event stream, from before the apply.
	events := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+dev.addr+"/v2/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	attached := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(events, sc.Text())
			if strings.Contains(sc.Text(), "event_stream_attached") {
				select {
				case <-attached:
				default:
					close(attached)
				}
			}
		}
	}()
	select {
	case <-attached:
	case <-time.After(30 * time.Second):
		t.Fatalf("no event_stream_attached: %s", events.String())
	}

	env := map[string]string{"STRIDE_ADDR": dev.addr, "STRIDE_VAR_db_password": secret, "STRIDE_VAR_out_dir": outDir}
	planFile := filepath.Join(t.TempDir(), "api.plan")
	var outputs []string
	for _, args := range [][]string{
		{"validate", "-no-color", cfgDir},
		{"plan", "-no-color", cfgDir},
		{"plan", "-json", cfgDir},
		{"plan", "-no-color", "-out", planFile, cfgDir},
		{"apply", "-no-color", planFile},
	} {
		stdout, stderr, code := runIn(t, cfgDir, env, args...)
		if code != exitOK {
			t.Fatalf("stride %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		if !strings.Contains(stdout, engine.SensitiveValue) && args[0] == "plan" {
			t.Errorf("stride %s shows no %q:\n%s", strings.Join(args, " "), engine.SensitiveValue, stdout)
		}
		outputs = append(outputs, "$ stride "+strings.Join(args, " ")+"\n"+stdout+stderr)
	}
	if st, err := os.Stat(planFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("saved plan: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	poll := appCounts(client, "/api")
	dev.waitFor(t, "/api healthy", func() (bool, string) {
		a, state := poll()
		return a != nil && a.TasksHealthy == 1 && len(a.Deployments) == 0, state
	})

	// The values are real where they are used: the task saw them.
	seen, err := os.ReadFile(filepath.Join(outDir, "seen"))
	if err != nil || string(seen) != secret+"\n"+secret+"\n" {
		t.Errorf("the task saw %q (%v), want the password twice (env and cmd)", seen, err)
	}
	// Marathon's API carries the real values: its clients need them.
	v2, err := client.Get(context.Background(), "/v2/apps/api")
	if err != nil || !strings.Contains(string(v2), `"DB_PASSWORD":"`+secret+`"`) {
		t.Errorf("/v2/apps/api: %v\n%s", err, v2)
	}
	// Stride's own renderings do not.
	applyOut := outputs[len(outputs)-1]
	depID, _, _ := strings.Cut(strings.TrimPrefix(applyOut[strings.Index(applyOut, "Deployment "):], "Deployment "), " ")
	for _, path := range []string{"/stride/v1/apps/api", "/stride/v1/apps", "/stride/v1/deployments", "/v2/deployments",
		"/stride/v1/deployments/" + depID, "/stride/v1/apps/api/history", "/stride/v1/apps/api/diff"} {
		b, err := client.Get(context.Background(), path)
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
		}
		outputs = append(outputs, "GET "+path+"\n"+string(b))
	}
	// A plan now: nothing to do, and nothing shown.
	stdout, stderr, code := runIn(t, cfgDir, env, "plan", "-no-color", "-detailed-exitcode", cfgDir)
	if code != exitOK || !strings.Contains(stdout, "No changes.") {
		t.Errorf("plan after apply: exit %d\n%s%s", code, stdout, stderr)
	}
	outputs = append(outputs, stdout+stderr)
	// An invalid variant: the error names the field, not the value.
	bad := strings.Replace(config, `instances = 1`, "instances = 1\n  kill_selection = \"${var.db_password}\"", 1)
	badDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(badDir, "main.hcl"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = runIn(t, badDir, env, "plan", "-no-color", badDir)
	if code != exitError || !strings.Contains(stderr, "main.hcl:10:3") || !strings.Contains(stderr, "kill_selection") {
		t.Errorf("invalid variant: exit %d, want an error at main.hcl:10:3 naming kill_selection\n%s%s", code, stdout, stderr)
	}
	outputs = append(outputs, stdout+stderr)

	// Let the stream catch up with the deployment's end, then look everywhere.
	dev.waitFor(t, "deployment_success on the event stream", func() (bool, string) {
		return strings.Contains(events.String(), "deployment_success"), "no deployment_success yet"
	})
	all := map[string]string{
		"CLI output":   strings.Join(outputs, "\n"),
		"server log":   dev.out.String(),
		"event stream": events.String(),
	}
	for what, text := range all {
		if strings.Contains(text, secret) {
			t.Errorf("the password appears in the %s:\n%s", what, text)
		}
	}
	if !strings.Contains(events.String(), "api_post_event") || !strings.Contains(events.String(), engine.SensitiveValue) {
		t.Errorf("the event stream has no masked api_post_event:\n%s", events.String())
	}
}
