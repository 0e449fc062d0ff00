package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/ui/uitest"
	"github.com/stride-run/stride/internal/version"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the UI screenshots the README shows (docs/ui-*.png)")

// uiWait bounds what one step of the UI test waits for (a rolling restart of
// three health-checked tasks takes seconds; a loaded CI machine, more).
const uiWait = 90 * time.Second

// copyDir copies the files of an example into dir.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// screenshot writes the browser's viewport to docs/name with -update-screenshots.
func screenshot(t *testing.T, b *uitest.Browser, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	png, err := b.Screenshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUIEndToEnd is issue 13's "done when": `stride dev` runs the multi-tier
// example, and a real headless Chromium opens its UI and checks every page
// against the API — the apps and their counts, an app's tasks, a rolling restart
// started from the CLI moving on the deployments page without a reload, the
// version diff, the live event stream, the cluster, scaling and killing a task
// from the UI — with no console error on any page.
func TestUIEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("the multi-tier example runs python3; .ci/run installs it")
	}
	b := uitest.Start(t, 1280, 800) // skips without Chromium
	example := filepath.Join(t.TempDir(), "multi-tier")
	if err := os.Mkdir(example, 0o755); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join("..", "..", "examples", "multi-tier"), example)

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	dev := newCLI(strings.NewReader(""), &out, &out)
	dev.ctx = ctx
	done := make(chan int, 1)
	firstPort := devFirstPort(t, 3)
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", t.TempDir(), "-first-port", firstPort, example})
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("stride dev did not stop")
		}
	}()
	client := api.NewClient(addr)
	want := map[string]int{"/infra/db": 1, "/shop/api": 2, "/shop/web": 3}
	waitApps := func(what string, ok func(apps []api.AppInfo) bool) []api.AppInfo {
		t.Helper()
		deadline := time.Now().Add(uiWait)
		for {
			apps, err := client.Apps(context.Background())
			if err == nil && ok(apps) {
				return apps
			}
			select {
			case code := <-done:
				t.Fatalf("stride dev exited %d:\n%s", code, out.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not in time (%v)\n%s", what, err, out.String())
			}
			time.Sleep(100 * time.Millisecond) // polling interval
		}
	}
	steady := func(apps []api.AppInfo) bool {
		if len(apps) != 3 {
			return false
		}
		for _, a := range apps {
			if a.TasksHealthy != want[a.ID] || a.TasksRunning != want[a.ID] || len(a.Deployments) != 0 {
				return false
			}
		}
		return true
	}
	apps := waitApps("multi-tier healthy", steady)
	base := "http://" + addr
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// The apps page, reached from / as a browser asks for it, lists every app
	// with the counts the API gives.
	must(b.Navigate(base + "/"))
	must(b.Wait(`location.pathname === '/ui/' && document.querySelectorAll('tr[data-app]').length === 3`, uiWait))
	for _, a := range apps {
		for col, n := range map[string]int{"instances": a.Instances, "running": a.TasksRunning, "healthy": a.TasksHealthy, "staged": a.TasksStaged, "unhealthy": a.TasksUnhealthy} {
			got, err := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-app=%q] td[data-col=%q]').textContent`, a.ID, col))
			must(err)
			if got != strconv.Itoa(n) {
				t.Errorf("apps page: %s %s is %q, the API says %d", a.ID, col, got, n)
			}
		}
		status, err := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-app=%q] .status').textContent`, a.ID))
		must(err)
		if status != "Healthy" {
			t.Errorf("apps page: %s is %q", a.ID, status)
		}
	}
	must(b.Wait(`document.querySelector('[data-stream]')?.dataset.stream === 'live'`, uiWait))
	screenshot(t, b, "ui-apps.png")
	b.CheckConsole(t, "apps page")

	// An app's page lists its tasks.
	web := apps[slices.IndexFunc(apps, func(a api.AppInfo) bool { return a.ID == "/shop/web" })]
	must(b.Navigate(base + "/ui/#/apps/shop/web"))
	must(b.Wait(`document.querySelectorAll('tr[data-task]').length === 3`, uiWait))
	rows, err := uitest.Eval[[]string](b, `[...document.querySelectorAll('tr[data-task]')].map(r => r.dataset.task)`)
	must(err)
	var ids []string
	for _, tk := range web.Tasks {
		ids = append(ids, tk.ID)
	}
	slices.Sort(ids)
	slices.Sort(rows)
	if !slices.Equal(rows, ids) {
		t.Errorf("app page: tasks %v, the API says %v", rows, ids)
	}
	must(b.Wait(`document.querySelectorAll('tr[data-version]').length === 1`, uiWait))
	b.CheckConsole(t, "app page")

	// The cluster page: three agents with Stride's six tasks, the leader and the
	// version.
	must(b.Navigate(base + "/ui/#/cluster"))
	must(b.Wait(`document.querySelectorAll('[data-agent]').length === 3`, uiWait))
	hosts, err := uitest.Eval[[]string](b, `[...document.querySelectorAll('[data-agent]')].map(a => a.dataset.agent)`)
	must(err)
	if strings.Join(hosts, " ") != "127.0.0.2 127.0.0.3 127.0.0.4" {
		t.Errorf("cluster page: agents %v", hosts)
	}
	must(b.Wait(`[...document.querySelectorAll('[data-agent-tasks]')].reduce((n, e) => n + Number(e.dataset.agentTasks), 0) === 6`, uiWait))
	leader, err := uitest.Eval[string](b, `document.querySelector('[data-leader]').textContent + ' ' + document.querySelector('[data-version]').textContent`)
	must(err)
	if leader != addr+" "+version.Version {
		t.Errorf("cluster page: leader and version %q, want %q", leader, addr+" "+version.Version)
	}
	b.CheckConsole(t, "cluster page")

	// A rolling restart started from the CLI shows up on the deployments page
	// and moves there, without a reload: the page records what it shows.
	must(b.Navigate(base + "/ui/#/deployments"))
	must(b.Wait(`document.querySelector('[data-running-count]')?.dataset.runningCount === '0'`, uiWait))
	_, err = uitest.Eval[bool](b, `(() => {
		window.__loaded = Math.random();
		window.__seen = [];
		setInterval(() => {
			const r = document.querySelector('[data-deployment] [data-rollout="/shop/web"]');
			if (r) window.__seen.push(r.dataset.newHealthy + '/' + r.dataset.target);
		}, 50);
		return true;
	})()`)
	must(err)
	loaded, err := uitest.Eval[float64](b, `window.__loaded`)
	must(err)
	hcl, err := os.ReadFile(filepath.Join(example, "main.hcl"))
	must(err)
	src := string(hcl)
	at := strings.Index(src, `app "web"`)
	cmdAt := at + strings.Index(src[at:], "exec python3 -m http.server")
	src = src[:cmdAt] + "exec python3 -u -m http.server" + src[cmdAt+len("exec python3 -m http.server"):]
	must(os.WriteFile(filepath.Join(example, "main.hcl"), []byte(src), 0o644))
	stdout, stderr, code := runIn(t, filepath.Dir(example), map[string]string{"STRIDE_ADDR": addr}, "apply", "-no-color", "-auto-approve", "-detach", "multi-tier")
	if code != exitOK || !strings.Contains(stdout, "1 to restart") {
		t.Fatalf("apply: exit %d\n%s%s", code, stdout, stderr)
	}
	must(b.Wait(`document.querySelector('[data-deployment] [data-rollout="/shop/web"]') !== null`, uiWait))
	// A screenshot of the deployment in progress, once a new task is healthy.
	must(b.Wait(`(r => !r || Number(r.dataset.newHealthy) >= 1)(document.querySelector('[data-deployment] [data-rollout="/shop/web"]'))`, uiWait))
	screenshot(t, b, "ui-deployment.png")
	must(b.Wait(`document.querySelector('[data-recent][data-status="succeeded"] a[href="#/apps/shop/web"]') !== null && document.querySelector('[data-running-count]').dataset.runningCount === '0'`, uiWait))
	seen, err := uitest.Eval[[]string](b, `[...new Set(window.__seen)]`)
	must(err)
	again, err := uitest.Eval[float64](b, `window.__loaded`)
	must(err)
	if again != loaded {
		t.Errorf("the deployments page was reloaded")
	}
	t.Logf("the deployments page showed /shop/web's new healthy tasks/target as %v", seen)
	if len(seen) < 2 || !strings.HasSuffix(seen[0], "/3") {
		t.Errorf("the deployment did not move on the page: it showed %v (new healthy/target)", seen)
	}
	waitApps("restart done", steady)
	b.CheckConsole(t, "deployments page")

	// The version diff shows the changed field, as `stride plan` does.
	must(b.Navigate(base + "/ui/#/apps/shop/web"))
	must(b.Wait(`document.querySelectorAll('tr[data-version]').length === 2 && document.querySelector('.diff [data-path="cmd"]') !== null`, uiWait))
	line, err := uitest.Eval[string](b, `document.querySelector('.diff [data-path="cmd"]').textContent + ' ' + document.querySelector('.diff [data-path="cmd"]').dataset.forcesRestart`)
	must(err)
	if !strings.Contains(line, `"exec python3 -m http.server --bind 0.0.0.0 $PORT0" -> "exec python3 -u -m http.server --bind 0.0.0.0 $PORT0"`) ||
		!strings.Contains(line, "# forces restart") || !strings.HasSuffix(line, " true") {
		t.Errorf("the diff reads %q", line)
	}
	b.CheckConsole(t, "version diff")

	// The events page follows the stream live: a task killed through the API
	// shows up without a reload, and the filters keep what was asked.
	must(b.Navigate(base + "/ui/#/events"))
	must(b.Wait(`document.querySelectorAll('tr[data-event="status_update_event"]').length > 0`, uiWait))
	apps = waitApps("restart done", steady)
	victim := apps[slices.IndexFunc(apps, func(a api.AppInfo) bool { return a.ID == "/shop/api" })].Tasks[0].ID
	killReq := fmt.Sprintf(`fetch('/v2/apps/shop/api/tasks/%s', {method: 'DELETE'}).then(r => r.status)`, victim)
	status, err := chromedp.Run(b.Ctx, chromedp.Evaluate[int](killReq, chromedp.EvalAwaitPromise))
	must(err)
	if status != 200 {
		t.Fatalf("killing %s: %d", victim, status)
	}
	must(b.Wait(fmt.Sprintf(`[...document.querySelectorAll('tr[data-event="status_update_event"]')].some(r => r.textContent.includes(%q))`, victim), uiWait))
	pickType := func(v string) {
		t.Helper()
		_, err := uitest.Eval[bool](b, fmt.Sprintf(`(s => { s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true })(document.querySelector('select[name="type"]'))`, v))
		must(err)
	}
	pickType("health_status_changed_event")
	must(b.Wait(`document.querySelectorAll('tbody tr[data-event]').length > 0 && [...document.querySelectorAll('tbody tr[data-event]')].every(r => r.dataset.event === 'health_status_changed_event')`, uiWait))
	pickType("")
	must(chromedp.Do(b.Ctx, chromedp.SendKeys(`input[name="app"]`, "/shop/api")))
	must(b.Wait(`document.querySelectorAll('tbody tr[data-event]').length > 0 && [...document.querySelectorAll('tbody tr[data-event]')].every(r => r.textContent.includes('/shop/api'))`, uiWait))
	waitApps("the killed task replaced", steady)
	b.CheckConsole(t, "events page")

	// Actions from the app page: each asks first, then shows what came of it.
	// Marathon's write endpoints (issue 10) may not be served yet: an action
	// whose endpoint answers 404 or 405 is skipped, saying so.
	act := func(t *testing.T, open, what string) (status int) {
		t.Helper()
		must(b.Navigate(base + "/ui/#/apps/shop/web"))
		must(b.Wait(`document.querySelectorAll('tr[data-task]').length === 3`, uiWait))
		must(chromedp.Do(b.Ctx, chromedp.Click(open)))
		must(b.Wait(`document.querySelector('dialog[open] [data-action="confirm"]') !== null`, uiWait))
		if what == "scale" {
			must(chromedp.Do(b.Ctx, chromedp.SetValue(`#scale-to`, ""), chromedp.SendKeys(`#scale-to`, "2")))
		}
		must(chromedp.Do(b.Ctx, chromedp.Click(`dialog[open] [data-action="confirm"]`)))
		must(b.Wait(`document.querySelector('[data-result]') !== null`, uiWait))
		s, err := uitest.Eval[string](b, `document.querySelector('[data-result]').dataset.status`)
		must(err)
		status, _ = strconv.Atoi(s)
		if status == 404 || status == 405 {
			msg, _ := uitest.Eval[string](b, `document.querySelector('[data-result] [data-message]').textContent`)
			b.CheckConsole(t, what, fmt.Sprintf("status of %d", status))
			t.Skipf("%s from the UI: the server answers %d (%s): Marathon's write endpoints (issue 10) are not served yet; this check runs once they are", what, status, strings.TrimSpace(msg))
		}
		if r, _ := uitest.Eval[string](b, `document.querySelector('[data-result]').dataset.result`); r != "ok" {
			msg, _ := uitest.Eval[string](b, `document.querySelector('[data-result] [data-message]').textContent`)
			t.Fatalf("%s from the UI: %d: %s", what, status, msg)
		}
		return status
	}

	t.Run("kill a task from the UI", func(t *testing.T) {
		apps := waitApps("steady", steady)
		web := apps[slices.IndexFunc(apps, func(a api.AppInfo) bool { return a.ID == "/shop/web" })]
		victim := web.Tasks[0].ID
		act(t, fmt.Sprintf(`[data-kill=%q]`, victim), "kill")
		waitApps("the killed task replaced", func(apps []api.AppInfo) bool {
			if !steady(apps) {
				return false
			}
			for _, a := range apps {
				for _, tk := range a.Tasks {
					if tk.ID == victim {
						return false
					}
				}
			}
			return true
		})
		must(b.Wait(fmt.Sprintf(`document.querySelectorAll('tr[data-task]').length === 3 && !document.querySelector('tr[data-task=%q]')`, victim), uiWait))
		b.CheckConsole(t, "kill")
	})

	t.Run("scale from the UI", func(t *testing.T) {
		act(t, `[data-action="scale"]`, "scale")
		must(b.Wait(`document.querySelector('[data-result] a[href^="#/deployments"]') !== null`, uiWait))
		waitApps("scaled to 2", func(apps []api.AppInfo) bool {
			for _, a := range apps {
				if a.ID == "/shop/web" {
					return a.Instances == 2 && a.TasksRunning == 2 && len(a.Deployments) == 0
				}
			}
			return false
		})
		must(b.Wait(`document.querySelectorAll('tr[data-task]').length === 2`, uiWait))
		b.CheckConsole(t, "scale")
	})
}
