package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/executor/api"
)

// The two doors into one model, end to end on `stride dev`: a change made
// through the Marathon API is drift in `stride plan` of the files; `stride
// import` of the server gives files that plan as "No changes." against it;
// `stride rollback` deploys the previous version again.

const importConfig = `group "shop" {
  depends_on = ["/infra"]

  app "api" {
    cmd       = "exec python3 -m http.server $PORT0"
    instances = 2
    cpus      = 0.1
    mem       = 16
    labels    = { team = "shop" }

    port "http" {}

    constraint {
      attribute = "hostname"
      operator  = "UNIQUE"
    }

    health_check {
      protocol = "HTTP"
      port_name = "http"
      interval_seconds = 1
      grace_period_seconds = 5
    }

    service {
      tags = ["v1"]
    }
  }
}

group "infra" {
  app "db" {
    cmd       = "sleep 1000"
    cpus      = 0.1
    mem       = 16
    ports     = []
    executor  = "//cmd"
  }
}
`

// cliRun runs the CLI in-process and returns stdout, stderr and the exit code.
func cliRun(ctx context.Context, args ...string) (string, string, int) {
	var out, errOut syncBuffer
	c := newCLI(strings.NewReader(""), &out, &errOut)
	c.ctx = ctx
	code := c.run(args)
	return out.String(), errOut.String(), code
}

// marathonCall sends a Marathon API request and returns the status and body.
func marathonCall(t *testing.T, addr, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b syncBuffer
	_, _ = b.b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// waitIdle waits until no deployment runs.
func waitIdle(t *testing.T, client *api.Client) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		deps, err := client.Deployments(context.Background())
		if err == nil && len(deps) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployments still running: %+v %v", deps, err)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

func TestImportPlanAndRollback(t *testing.T) {
	addr := freeAddr(t)
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(importConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var devOut syncBuffer
	dev := newCLI(strings.NewReader(""), &devOut, &devOut)
	dev.ctx = ctx
	first, dataDir := devFirstPort(t, 3), t.TempDir()
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", dataDir, "-first-port", first, cfgDir})
	}()
	defer func() {
		cancel()
		<-done
	}()
	client := api.NewClient(addr)
	deadline := time.Now().Add(60 * time.Second)
	for {
		apps, err := client.Apps(context.Background())
		if err == nil && len(apps) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stride dev did not apply the files: %v\n%s", err, devOut.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
	waitIdle(t, client)
	plan := func(dir string) (string, int) {
		t.Helper()
		out, errOut, code := cliRun(ctx, "plan", "-no-color", "-detailed-exitcode", "-address", addr, dir)
		if code == exitError {
			t.Fatalf("plan %s: %s%s", dir, out, errOut)
		}
		return out, code
	}
	if out, code := plan(cfgDir); code != exitOK {
		t.Fatalf("the applied files do not plan clean: %s", out)
	}

	// A scale through the Marathon API is drift from the files.
	if code, body := marathonCall(t, addr, http.MethodPut, "/v2/apps/shop/api", `{"instances": 1}`); code != http.StatusOK {
		t.Fatalf("scale: %d %s", code, body)
	}
	waitIdle(t, client)
	out, code := plan(cfgDir)
	if code != exitChanges || !strings.Contains(out, "/shop/api") || !strings.Contains(out, "instances") || !strings.Contains(out, "1 to scale") {
		t.Fatalf("the API's scale is not drift: exit %d\n%s", code, out)
	}

	// A group and app made through the API, with a group dependency.
	if code, body := marathonCall(t, addr, http.MethodPost, "/v2/groups", `{"id": "/tools", "dependencies": ["/infra"], "apps": [{"id": "cron", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "portDefinitions": []}]}`); code != http.StatusCreated {
		t.Fatalf("group: %d %s", code, body)
	}
	waitIdle(t, client)

	// Import of the server plans clean against it.
	imported := t.TempDir()
	out, errOut, code := cliRun(ctx, "import", "-no-color", "-address", addr, "-out", imported)
	if code != exitOK || !strings.Contains(out, "Imported 3 apps") {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	files, _ := filepath.Glob(filepath.Join(imported, "*.hcl"))
	if len(files) != 3 {
		t.Fatalf("import wrote %v", files)
	}
	if out, code := plan(imported); code != exitOK || !strings.Contains(out, "No changes.") {
		shop, _ := os.ReadFile(filepath.Join(imported, "shop.hcl"))
		t.Fatalf("the imported files do not plan clean: %s\n%s", out, shop)
	}
	if out, _, code := cliRun(ctx, "fmt", "-check", imported); code != exitOK {
		t.Fatalf("the imported files are not formatted: %s", out)
	}
	// A second import into the same directory overwrites nothing.
	if _, errOut, code := cliRun(ctx, "import", "-no-color", "-address", addr, "-out", imported); code != exitError || !strings.Contains(errOut, "already exists") {
		t.Fatalf("import over existing files: exit %d %s", code, errOut)
	}
	// A scoped import owns its scope only.
	scoped := t.TempDir()
	if out, errOut, code := cliRun(ctx, "import", "-no-color", "-address", addr, "-out", scoped, "-scope", "/shop"); code != exitOK || !strings.Contains(out, "Imported 1 app under /shop") {
		t.Fatalf("scoped import: exit %d\n%s%s", code, out, errOut)
	}
	if out, code := plan(scoped); code != exitOK {
		t.Fatalf("the scoped import does not plan clean: %s", out)
	}

	// Rollback: the version before the scale (2 instances) comes back, and the
	// original files plan clean again.
	out, errOut, code = cliRun(ctx, "rollback", "-no-color", "-address", addr, "shop/api")
	if code != exitOK || !strings.Contains(out, "Rolling /shop/api back") {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	app, err := client.App(context.Background(), "/shop/api")
	if err != nil || app.Instances != 2 {
		t.Fatalf("after the rollback: %+v %v", app, err)
	}
	if out, code := plan(cfgDir); code != exitChanges || strings.Contains(out, "/shop/api") || !strings.Contains(out, "/tools/cron") {
		t.Fatalf("after the rollback only /tools (not in the files) should differ: %s", out)
	}
	// A rollback to the version running now deploys nothing.
	versions, err := client.AppVersions(context.Background(), "/shop/api")
	if err != nil || len(versions) < 3 {
		t.Fatalf("versions: %v %v", versions, err)
	}
	out, errOut, code = cliRun(ctx, "rollback", "-no-color", "-address", addr, "/shop/api", versions[0])
	if code != exitOK || !strings.Contains(out, "No changes") {
		t.Fatalf("rollback to the current version: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := cliRun(ctx, "rollback", "-no-color", "-address", addr, "/shop/none"); code != exitError || !strings.Contains(errOut, "does not exist") {
		t.Fatalf("rollback of an unknown app: exit %d %s", code, errOut)
	}
}

// Marathon's group example (GET /v2/groups JSON) imports from a file into
// files that load to the same apps.
func TestImportFromFile(t *testing.T) {
	out := t.TempDir()
	stdout, stderr, code := cliRun(context.Background(), "import", "-no-color", "-out", out, "../../testdata/marathon/groups/group.json")
	if code != exitOK || !strings.Contains(stdout, "Imported 3 apps under / from ../../testdata/marathon/groups/group.json") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "tools.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`group "tools"`, `group "docker"`, `group "log" {}`, `app "registry"`, `image   = "registry"`, `port_mapping {`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("tools.hcl lacks %s:\n%s", want, data)
		}
	}
	for name, in := range map[string]string{
		"apps.json": `{"apps": [{"id": "/a/b", "cmd": "x", "tasksRunning": 3, "bogus": 1}]}`,
		"list.json": `[{"id": "/a/b", "cmd": "x"}]`,
		"one.json":  `{"app": {"id": "a/b", "cmd": "x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			stdout, stderr, code := cliRun(context.Background(), "import", "-no-color", "-out", dir, path)
			if code != exitOK || !strings.Contains(stdout, "Imported 1 app") {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if name == "apps.json" && !strings.Contains(stderr, "/apps/0/bogus: skipped") {
				t.Errorf("the unknown field is not named: %s", stderr)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"apps": [{"id": "/a", "cpus": "x"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := cliRun(context.Background(), "import", "-no-color", "-out", t.TempDir(), bad); code != exitError || !strings.Contains(stderr, "/apps/0") {
		t.Fatalf("a bad file: exit %d %s", code, stderr)
	}
}
