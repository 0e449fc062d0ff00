package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stride-run/stride/executor/api"
)

// putApp is PUT /v2/apps/{id} with a partial Marathon body, as a person or an
// autoscaler would send it.
func putApp(t *testing.T, addr, id, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/v2/apps"+id, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT /v2/apps%s %s: %d %s", id, body, resp.StatusCode, b)
	}
}

// TestDevIgnoreChangesSurvivesScale is lifecycle.ignore_changes end to end on a
// real `stride dev`: an app whose instances and labels are left to runtime is
// scaled (and relabelled) through Marathon's API; plan then changes nothing and
// says what runtime manages, apply keeps the runtime values, and a cmd change
// rolls the tasks at the runtime instance count.
func TestDevIgnoreChangesSurvivesScale(t *testing.T) {
	cfgDir := t.TempDir()
	write := func(cmd string) {
		t.Helper()
		cfg := fmt.Sprintf(`app "web" {
  cmd       = %q
  instances = 1
  labels    = { team = "a" }

  lifecycle {
    ignore_changes = [instances, labels]
  }
}
`, cmd)
		if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("exec sleep 600")
	dev := startDevInProcess(t, nil)
	client := api.NewClient(dev.addr)
	env := map[string]string{"STRIDE_ADDR": dev.addr}
	poll := appCounts(client, "/web")
	settled := func(n int) func() (bool, string) {
		return func() (bool, string) {
			a, state := poll()
			return a != nil && a.Instances == n && a.TasksRunning == n && a.TasksStaged == 0 && len(a.Deployments) == 0, state
		}
	}

	if stdout, stderr, code := runIn(t, cfgDir, env, "apply", "-no-color", "-auto-approve", cfgDir); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.waitFor(t, "1 task", settled(1))

	// People and autoscalers act through the API.
	putApp(t, dev.addr, "/web", `{"instances": 3, "labels": {"team": "a", "autoscaled": "yes"}}`)
	dev.waitFor(t, "3 tasks after the API scale", settled(3))

	// The plan keeps what runtime set, and says so.
	stdout, stderr, code := runIn(t, cfgDir, env, "plan", "-no-color", "-detailed-exitcode", cfgDir)
	if code != exitOK || !strings.Contains(stdout, "No changes.") ||
		!strings.Contains(stdout, "/web instances: managed at runtime (now 3; the files say 1)") ||
		!strings.Contains(stdout, `/web labels.autoscaled: managed at runtime (now "yes"; not in the files)`) {
		t.Fatalf("plan after the API scale: exit %d\n%s%s", code, stdout, stderr)
	}
	// Apply never resets it.
	if stdout, stderr, code := runIn(t, cfgDir, env, "apply", "-no-color", "-auto-approve", cfgDir); code != exitOK {
		t.Fatalf("apply after the API scale: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.waitFor(t, "still 3 tasks after apply", settled(3))
	st, err := client.State(context.Background())
	if err != nil || len(st.Apps) != 1 || st.Apps[0].Instances != 3 || st.Apps[0].Labels["autoscaled"] != "yes" {
		t.Fatalf("state after apply: %v %+v", err, st)
	}

	// A change of another field: the rolling restart keeps the runtime count.
	write("exec sleep 601")
	stdout, stderr, code = runIn(t, cfgDir, env, "apply", "-no-color", "-auto-approve", cfgDir)
	if code != exitOK || !strings.Contains(stdout, "1 restarted") {
		t.Fatalf("apply of a cmd change: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.waitFor(t, "3 tasks of the new cmd", func() (bool, string) {
		a, state := poll()
		if a == nil {
			return false, state
		}
		current := 0
		for _, task := range a.Tasks {
			if task.Version == a.Version {
				current++
			}
		}
		ok, _ := settled(3)()
		return ok && a.Cmd == "exec sleep 601" && current == 3 && len(a.Tasks) == 3, fmt.Sprintf("%s; %d of %d tasks of version %s", state, current, len(a.Tasks), a.Version)
	})

	// A plan saved before a runtime scale is stale once the scale lands: apply
	// refuses it rather than reset the count; planned again, the change rolls
	// at the new count.
	write("exec sleep 602")
	planFile := filepath.Join(t.TempDir(), "web.plan")
	if stdout, stderr, code := runIn(t, cfgDir, env, "plan", "-no-color", "-out", planFile, cfgDir); code != exitOK || !strings.Contains(stdout, "instances: managed at runtime (now 3; the files say 1)") {
		t.Fatalf("plan -out: exit %d: %s%s", code, stdout, stderr)
	}
	putApp(t, dev.addr, "/web", `{"instances": 2}`)
	dev.waitFor(t, "2 tasks after the second API scale", settled(2))
	if _, stderr, code := runIn(t, cfgDir, env, "apply", "-no-color", planFile); code != exitError || !strings.Contains(stderr, "stale") {
		t.Fatalf("saved plan after a runtime scale: exit %d: %s", code, stderr)
	}
	if stdout, stderr, code := runIn(t, cfgDir, env, "apply", "-no-color", "-auto-approve", cfgDir); code != exitOK || !strings.Contains(stdout, "1 restarted") {
		t.Fatalf("apply after the refused saved plan: exit %d\n%s%s", code, stdout, stderr)
	}
	dev.waitFor(t, "2 tasks of the newest cmd", func() (bool, string) {
		a, state := poll()
		ok, _ := settled(2)()
		return ok && a.Cmd == "exec sleep 602", state
	})
}
