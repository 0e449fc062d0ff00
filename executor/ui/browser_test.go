package ui_test

// Browser tests of the UI against the real API handler over a hand-built
// executor View: what the pages show for a given state, how they read on a
// phone and in the dark, how they are reached by keyboard, and how fast the
// apps page renders 1,000 apps (BenchmarkAppsPage). The end-to-end test against
// a running `stride dev` is cmd/stride's TestUIEndToEnd.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/ui"
	"github.com/stride-run/stride/executor/ui/uitest"
)

// backend is an api.Backend over a fixed View; writes are refused (these tests
// only read).
type backend struct {
	view *executor.View
	bus  *executor.Bus
}

var errReadOnly = errors.New("read-only test backend")

func (b *backend) View() *executor.View { return b.view }
func (b *backend) Bus() *executor.Bus   { return b.bus }
func (b *backend) Apply(context.Context, executor.ApplyRequest) (*engine.Plan, *engine.Deployment, error) {
	return nil, nil, errReadOnly
}
func (b *backend) Plan(context.Context, executor.ApplyRequest) (*engine.Plan, error) {
	return nil, errReadOnly
}
func (b *backend) Cancel(context.Context, string) error { return errReadOnly }
func (b *backend) KillTasks(context.Context, []string) ([]engine.Task, error) {
	return nil, errReadOnly
}
func (b *backend) Revert(context.Context, string) (*executor.WriteResult, error) {
	return nil, errReadOnly
}
func (b *backend) Write(context.Context, executor.ApplyRequest) (*executor.WriteResult, error) {
	return nil, errReadOnly
}
func (b *backend) AppVersions(context.Context, string) ([]string, error) { return nil, errReadOnly }
func (b *backend) AppVersion(context.Context, string, string) (*engine.App, error) {
	return nil, errReadOnly
}
func (b *backend) GroupVersions(context.Context, string) ([]string, error) { return nil, errReadOnly }
func (b *backend) GroupAt(context.Context, string, string) (*executor.GroupState, error) {
	return nil, errReadOnly
}
func (b *backend) ResetDelay(context.Context, string) (bool, error) { return false, errReadOnly }
func (b *backend) Subscribe(context.Context, engine.Subscription) (bool, error) {
	return false, errReadOnly
}
func (b *backend) Unsubscribe(context.Context, string, string) (bool, error) {
	return false, errReadOnly
}

const (
	verOld = "2026-01-10T08:00:00.000Z"
	verNew = "2026-01-11T09:30:00.000Z"
)

// clusterView holds n apps in groups of 25 (/team-00/svc-000, ...), 2 instances
// each: most healthy, every 7th with an unhealthy task, every 11th deploying
// (one deployment), every 13th with an instance that cannot be placed. The
// first app has two tasks.
func clusterView(n int) *executor.View {
	v := &executor.View{Serial: 1, FrameworkID: "fw-1", Connected: true, Healthy: map[string]bool{}}
	now := time.Now().UTC()
	dep := &engine.Deployment{
		ID: "0f6a3c2e-1111-4c1e-9e59-5a0e1f2d3c4b", Version: verNew, Status: engine.DeploymentRunning,
		CreatedAt: executor.FormatTime(now.Add(-90 * time.Second)),
		Plan:      &engine.Plan{FormatVersion: engine.PlanFormatVersion, Steps: []engine.Step{{}}},
	}
	for i := range n {
		a := engine.NewApp(fmt.Sprintf("/team-%02d/svc-%03d", i/25, i))
		a.Cmd = "exec ./serve --port $PORT0"
		a.Instances = 2
		a.Cpus, a.Mem = 0.1, 64
		a.Labels = map[string]string{"team": fmt.Sprintf("t%02d", i/25)}
		hc := engine.DefaultHealthCheck()
		a.HealthChecks = []engine.HealthCheck{hc}
		a.ApplyDefaults()
		a.Version = verNew
		a.VersionInfo = &engine.VersionInfo{LastScalingAt: verNew, LastConfigChangeAt: verNew}
		st := &executor.AppStatus{App: a, TasksRunning: 2, TasksHealthy: 2, Deployments: []string{}, Tasks: []*engine.Task{}}
		switch {
		case i%7 == 3:
			st.TasksHealthy, st.TasksUnhealthy = 1, 1
		case i%11 == 5:
			st.Deployments = []string{dep.ID}
			st.TasksRunning, st.TasksHealthy = 1, 1
			c := &engine.Change{ID: a.ID, Action: engine.ActionRestart, After: a, Reason: `cmd: "a" -> "b"`,
				Rolling: &engine.Rolling{From: 2, To: 2, MinHealthy: 1, MaxRunning: 3}}
			dep.Plan.Changes = append(dep.Plan.Changes, c)
			dep.Plan.Steps[0].Actions = append(dep.Plan.Steps[0].Actions, engine.StepAction{ID: a.ID, Action: engine.ActionRestart})
		case i%13 == 6:
			st.TasksRunning, st.TasksHealthy, st.Pending = 1, 1, 1
			st.Waiting = "1 of 1 instances unplaced: 3 agents considered; 3 excluded by constraint hostname:UNIQUE"
		}
		if i == 0 {
			for j, ver := range []string{verOld, verNew} {
				t := &engine.Task{
					ID: fmt.Sprintf("team-00_svc-000.%d0000000-0000-4000-8000-000000000000", j), AppID: a.ID,
					Host: "127.0.0.2", Ports: []int{31000 + j}, ServicePorts: []int{}, SlaveID: "agent-1",
					StagedAt: executor.FormatTime(now.Add(-3 * time.Minute)), StartedAt: executor.FormatTime(now.Add(-170 * time.Second)),
					Version: ver, State: engine.TaskRunning, IPAddresses: []engine.IPAddr{},
					HealthCheckResults: []engine.HealthResult{{Alive: true}}, LocalVolumes: []any{},
				}
				st.Tasks = append(st.Tasks, t)
				v.Tasks = append(v.Tasks, t)
				v.Healthy[t.ID] = true
			}
		}
		v.Apps = append(v.Apps, st)
	}
	if len(dep.Plan.Changes) > 0 {
		v.Deployments = []*executor.DeploymentStatus{{Deployment: dep}}
	}
	return v
}

// serveUI serves the API (with the UI) over the view on a free loopback port.
func serveUI(t testing.TB, v *executor.View) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(&backend{view: v, bus: executor.NewBus(100)}, api.Info{HTTPAddr: ln.Addr().String(), UI: ui.Handler()})
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(func() {
		h.Close() // ends the pages' event streams, which Close would wait for
		srv.Close()
	})
	return srv.URL
}

const waitFor = 20 * time.Second

func TestBrowserPages(t *testing.T) {
	b := uitest.Start(t, 1280, 800)
	v := clusterView(60)
	base := serveUI(t, v)

	t.Run("apps", func(t *testing.T) {
		must(t, b.Navigate(base+"/ui/#/apps"))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 60`, waitFor))
		for _, st := range []*executor.AppStatus{v.Apps[0], v.Apps[3], v.Apps[5], v.Apps[6]} {
			for col, want := range map[string]int{
				"instances": st.App.Instances, "running": st.TasksRunning, "healthy": st.TasksHealthy,
				"staged": st.TasksStaged, "unhealthy": st.TasksUnhealthy,
			} {
				got, err := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-app=%q] td[data-col=%q]').textContent`, st.App.ID, col))
				must(t, err)
				if got != fmt.Sprint(want) {
					t.Errorf("%s %s: %q, want %d", st.App.ID, col, got, want)
				}
			}
		}
		// Health is a colour and a word.
		for id, want := range map[string]string{v.Apps[0].App.ID: "Healthy", v.Apps[3].App.ID: "Unhealthy", v.Apps[5].App.ID: "Deploying", v.Apps[6].App.ID: "Waiting"} {
			got, err := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-app=%q] .status').textContent`, id))
			must(t, err)
			if got != want {
				t.Errorf("%s: status %q, want %q", id, got, want)
			}
		}
		why, err := uitest.Eval[string](b, fmt.Sprintf(`document.querySelector('tr[data-app=%q] td.why').textContent`, v.Apps[6].App.ID))
		must(t, err)
		if !strings.Contains(why, "hostname:UNIQUE") {
			t.Errorf("why %s waits: %q", v.Apps[6].App.ID, why)
		}
		// The id filter, and a group folded.
		must(t, chromedp.Do(b.Ctx, chromedp.SendKeys(`input[name="q"]`, "svc-00")))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 10`, waitFor))
		must(t, chromedp.Do(b.Ctx, chromedp.Click(`tr[data-group="/team-00"] button.toggle`)))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 0 && document.querySelector('tr[data-group="/team-00"] button').getAttribute('aria-expanded') === 'false'`, waitFor))
		// The label selector is the server's.
		must(t, b.Navigate(base+"/ui/#/apps?label=team%3D%3Dt01"))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 25`, waitFor))
		must(t, b.Navigate(base+"/ui/#/apps?label=team%3D%3D"))
		must(t, b.Wait(`!!document.querySelector('.notice.error')`, waitFor))
		b.CheckConsole(t, "apps", "status of 400") // the refused selector
	})

	t.Run("app", func(t *testing.T) {
		must(t, b.Navigate(base+"/ui/#/apps/team-00/svc-000"))
		must(t, b.Wait(`document.querySelectorAll('tr[data-task]').length === 2`, waitFor))
		link, err := uitest.Eval[string](b, `document.querySelector('tr[data-task] a[href^="http://"]').getAttribute('href')`)
		must(t, err)
		if link != "http://127.0.0.2:31000/" {
			t.Errorf("the first task's link: %q", link)
		}
		old, err := uitest.Eval[int](b, `[...document.querySelectorAll('tr[data-task]')].filter(r => r.textContent.includes('old')).length`)
		must(t, err)
		if old != 1 {
			t.Errorf("%d tasks marked old, want 1 (the one of the older version)", old)
		}
		// Times are relative, exact on hover.
		title, err := uitest.Eval[string](b, `document.querySelector('tr[data-task] time').title`)
		must(t, err)
		text, err := uitest.Eval[string](b, `document.querySelector('tr[data-task] time').textContent`)
		must(t, err)
		if !strings.HasSuffix(text, "min ago") || !strings.Contains(title, "Z (") {
			t.Errorf("a start time reads %q with the title %q", text, title)
		}
		// Without a history store the server says so, and the page shows it.
		must(t, b.Wait(`document.querySelector('#versions-h') && document.querySelector('#versions-h').parentElement.textContent.includes('not available')`, waitFor))
		// The history this server lacks; and the refused selector of the apps
		// page, whose last poll may have answered after that page's check.
		b.CheckConsole(t, "app", "status of 404", "/v2/apps?label=team%3D%3D:")
	})

	t.Run("deployments", func(t *testing.T) {
		must(t, b.Navigate(base+"/ui/#/deployments"))
		must(t, b.Wait(`document.querySelectorAll('[data-deployment] [data-rollout]').length > 0`, waitFor))
		got, err := uitest.Eval[string](b, `document.querySelector('[data-deployment]').textContent`)
		must(t, err)
		for _, want := range []string{"started 1 min ago", "step 1 of 1", "at least 1 healthy, at most 3 running", "Waits for"} {
			if !strings.Contains(got, want) {
				t.Errorf("the deployment does not say %q:\n%s", want, got)
			}
		}
		n, err := uitest.Eval[string](b, `document.querySelector('.count-pill').dataset.running`)
		must(t, err)
		if n != "1" {
			t.Errorf("the bar counts %s running deployments", n)
		}
		b.CheckConsole(t, "deployments")
	})

	t.Run("keyboard", func(t *testing.T) {
		// From the top of a freshly loaded apps page, Tab reaches the skip link
		// (#main), the pages,
		// the filters and the first app.
		must(t, b.Navigate(base+"/ui/?fresh=1#/apps"))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 60`, waitFor))
		var seen []string
		for range 16 {
			must(t, chromedp.Do(b.Ctx, chromedp.KeyEvent(kb.Tab)))
			f, err := uitest.Eval[string](b, `(e => e.getAttribute('href') || e.name || e.textContent.trim())(document.activeElement)`)
			must(t, err)
			seen = append(seen, f)
		}
		joined := strings.Join(seen, " | ")
		for _, want := range []string{"#main", "#/deployments", "#/cluster", "q", "label", "status", "#/apps/team-00/svc-000"} {
			if !strings.Contains(joined, want) {
				t.Errorf("Tab does not reach %q: %s", want, joined)
			}
		}
		// Enter on an app's link opens it.
		must(t, chromedp.Do(b.Ctx, chromedp.Focus(`a[href="#/apps/team-00/svc-000"]`), chromedp.KeyEvent(kb.Enter)))
		must(t, b.Wait(`location.hash === '#/apps/team-00/svc-000' && document.querySelectorAll('tr[data-task]').length === 2`, waitFor))
		must(t, b.Wait(`document.querySelector('#versions-h')?.parentElement.textContent.includes('not available')`, waitFor))
		b.CheckConsole(t, "keyboard", "status of 404") // the history this server lacks
	})

	t.Run("a thousand apps", func(t *testing.T) {
		big := serveUI(t, clusterView(1000))
		must(t, b.Navigate(big+"/ui/#/apps"))
		checkAllListed(t, b, clusterView(1000))
		// The filter works on every app, rendered or not.
		must(t, chromedp.Do(b.Ctx, chromedp.SendKeys(`input[name="q"]`, "svc-999")))
		must(t, b.Wait(`document.querySelectorAll('tr[data-app]').length === 1 && document.querySelector('tr[data-app="/team-39/svc-999"]') !== null`, waitFor))
		b.CheckConsole(t, "a thousand apps")
	})

	t.Run("phone and dark", func(t *testing.T) {
		must(t, b.Viewport(390, 844, true))
		defer func() { must(t, chromedp.Do(b.Ctx, chromedp.EmulateReset())) }()
		for _, page := range []string{"apps", "apps/team-00/svc-000", "deployments", "events", "cluster"} {
			must(t, b.Navigate(base+"/ui/#/"+page))
			must(t, b.Wait(`document.querySelector('main h1') !== null`, waitFor))
			overflow, err := uitest.Eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`)
			must(t, err)
			if overflow > 0 {
				t.Errorf("%s: the page is %d px wider than a phone's screen", page, overflow)
			}
		}
		bg := func() float64 {
			l, err := uitest.Eval[float64](b, `(() => { const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number);
				return (0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]) / 255; })()`)
			must(t, err)
			return l
		}
		must(t, b.ColorScheme("light"))
		light := bg()
		must(t, b.ColorScheme("dark"))
		dark := bg()
		must(t, b.ColorScheme(""))
		if light < 0.8 || dark > 0.2 {
			t.Errorf("background luminance: %.2f light, %.2f dark", light, dark)
		}
		b.CheckConsole(t, "phone", "status of 404")
	})
}

// BenchmarkAppsPage measures the apps page with 1,000 apps in headless
// Chromium, each iteration a fresh load of the page: ms/render is the
// rendering (from the apps' data in hand to the rows committed and painted),
// ms/load the whole load (modules, the /v2/apps and /stride/v1/queue requests,
// parsing, rendering), from navigation start. Before timing, it checks that
// the page lists every app (the last one, scrolled to).
func BenchmarkAppsPage(b *testing.B) {
	const n = 1000
	br := uitest.Start(b, 1280, 800)
	v := clusterView(n)
	base := serveUI(b, v)
	load := func(i int) (total, render float64) {
		must(b, br.Navigate(fmt.Sprintf("%s/ui/?load=%d#/apps", base, i)))
		must(b, br.Wait(`performance.getEntriesByName('stride:apps-render').length > 0`, time.Minute))
		total, err := uitest.Eval[float64](br, `performance.getEntriesByName('stride:apps-rendered')[0].startTime`)
		must(b, err)
		render, err = uitest.Eval[float64](br, `performance.getEntriesByName('stride:apps-render')[0].duration`)
		must(b, err)
		return total, render
	}
	load(-1) // the browser's caches warm, as on an operator's second visit
	checkAllListed(b, br, v)
	b.ResetTimer()
	var totals, renders float64
	for i := range b.N {
		total, render := load(i)
		totals += total
		renders += render
	}
	b.ReportMetric(totals/float64(b.N), "ms/load")
	b.ReportMetric(renders/float64(b.N), "ms/render")
}

// checkAllListed: a long apps page renders the rows near the viewport only,
// yet lists every app: the table counts them all, and scrolling to the end
// shows the last one.
func checkAllListed(t testing.TB, br *uitest.Browser, v *executor.View) {
	t.Helper()
	groups := map[string]bool{}
	for _, st := range v.Apps {
		groups[st.App.ID[:strings.LastIndexByte(st.App.ID, '/')]] = true
	}
	total := len(v.Apps) + len(groups)
	must(t, br.Wait(fmt.Sprintf(`document.querySelector('table.apps')?.dataset.total === '%d'`, total), waitFor))
	inDOM, err := uitest.Eval[int](br, `document.querySelectorAll('table.apps tbody tr:not(.spacer)').length`)
	must(t, err)
	if inDOM >= total || inDOM == 0 {
		t.Errorf("%d of %d rows in the document: the long list is not windowed", inDOM, total)
	}
	last := v.Apps[len(v.Apps)-1].App.ID
	must(t, br.Wait(`(scrollTo(0, document.documentElement.scrollHeight), true)`, waitFor))
	must(t, br.Wait(fmt.Sprintf(`document.querySelector('tr[data-app=%q]') !== null`, last), waitFor))
	must(t, br.Wait(`(scrollTo(0, 0), true)`, waitFor))
	must(t, br.Wait(fmt.Sprintf(`document.querySelector('tr[data-app=%q]') !== null`, v.Apps[0].App.ID), waitFor))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
