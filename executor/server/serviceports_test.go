package server

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Service ports as Marathon assigns them, end to end on a server over the
// stand-in: both doors (the Marathon API and `stride apply`), a small range so
// that its end is reached, a restart, and a real third-party Marathon client
// reading them back.

// servicePortRange is the test server's range: 16 ports, so that the test can
// exhaust it.
var servicePortRange = engine.PortRange{Min: 10000, Max: 10015}

// startWithPorts starts the env's server with the test's service port range,
// waiting out the data dir's lock a task process being forked may still share
// (as startServerOn does).
func (e *testEnv) startWithPorts() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv, err := Start(context.Background(), Config{
			Listen: "127.0.0.1:0", DataDir: e.dataDir, MesosURL: e.master.URL(),
			StableAfter: 2 * time.Second, Logf: e.logf, ServicePorts: servicePortRange,
		})
		if errors.Is(err, engine.ErrLocked) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
			continue
		}
		if err != nil {
			e.t.Fatal(err)
		}
		e.srv = srv
		e.t.Cleanup(func() { _ = srv.Close() })
		e.client = api.NewClient(srv.URL())
		break
	}
	e.waitFor(10*time.Second, "the server subscribed to Mesos", func() (bool, string) {
		return e.srv.Executor().View().Connected, "not connected"
	})
}

// appPorts reads an app from /v2/apps/{id} and returns its service ports
// (portDefinitions[].port) and the whole app object.
func (e *testEnv) appPorts(id string) ([]int, map[string]any) {
	e.t.Helper()
	code, _, body := e.do("GET", "/v2/apps"+id, "")
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", id, code, body)
	}
	var resp struct {
		App struct {
			PortDefinitions []struct {
				Port int `json:"port"`
			} `json:"portDefinitions"`
		} `json:"app"`
	}
	var raw struct {
		App map[string]any `json:"app"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		e.t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(body), &raw)
	ports := make([]int, len(resp.App.PortDefinitions))
	for i, p := range resp.App.PortDefinitions {
		ports[i] = p.Port
	}
	return ports, raw.App
}

// allPorts returns every app's service ports by id, from /v2/apps.
func (e *testEnv) allPorts() map[string][]int {
	e.t.Helper()
	code, _, body := e.do("GET", "/v2/apps", "")
	if code != http.StatusOK {
		e.t.Fatalf("GET /v2/apps: %d %s", code, body)
	}
	var resp appsPorts
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		e.t.Fatal(err)
	}
	return resp.byID()
}

// appsPorts is what the service-port tests read of GET /v2/apps.
type appsPorts struct {
	Apps []struct {
		ID              string `json:"id"`
		PortDefinitions []struct {
			Port int `json:"port"`
		} `json:"portDefinitions"`
	} `json:"apps"`
}

// byID returns every app's service ports by id.
func (r appsPorts) byID() map[string][]int {
	out := map[string][]int{}
	for _, a := range r.Apps {
		for _, p := range a.PortDefinitions {
			out[a.ID] = append(out[a.ID], p.Port)
		}
	}
	return out
}

// checkUnique fails unless every service port is in the range and held by one
// app only; it returns how many there are.
func checkUnique(t *testing.T, all map[string][]int) int {
	t.Helper()
	seen := map[int]string{}
	for id, ps := range all {
		for _, p := range ps {
			if other, dup := seen[p]; dup {
				t.Fatalf("service port %d held by %s and %s: %v", p, id, other, all)
			}
			seen[p] = id
		}
	}
	return len(seen)
}

func zeroPortsApp(id string, n int) string {
	pds := make([]string, n)
	for i := range pds {
		pds[i] = `{"port": 0}`
	}
	return fmt.Sprintf(`{"id": %q, "cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 8, "portDefinitions": [%s]}`, id, strings.Join(pds, ","))
}

func TestServicePorts(t *testing.T) {
	e := newBareEnv(t, 1)
	e.startWithPorts()

	// Concurrent creates through the API: each app its own ports, and
	// together exactly the lowest ones of the range.
	const apps = 5
	var wg sync.WaitGroup
	codes := make([]int, apps)
	for i := range apps {
		wg.Go(func() {
			codes[i], _ = e.rawCall("POST", "/v2/apps", zeroPortsApp(fmt.Sprintf("/sp/a%d", i), 2))
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Fatalf("create /sp/a%d: %d", i, c)
		}
	}
	all := e.allPorts()
	if n := checkUnique(t, all); n != 2*apps {
		t.Fatalf("%d service ports, want %d: %v", n, 2*apps, all)
	}
	for p := servicePortRange.Min; p < servicePortRange.Min+2*apps; p++ {
		if !slices.ContainsFunc(slices.Collect(maps.Values(all)), func(ps []int) bool { return slices.Contains(ps, p) }) {
			t.Fatalf("port %d not given: %v", p, all)
		}
	}
	// A group write gives each of its apps its own.
	if code, body := e.rawCall("POST", "/v2/groups", `{"id": "/grp", "apps": [`+zeroPortsApp("x", 1)+`, `+zeroPortsApp("y", 1)+`]}`); code != http.StatusCreated {
		t.Fatalf("group create: %d %s", code, body)
	}
	all = e.allPorts()
	if n := checkUnique(t, all); n != 2*apps+2 || len(all["/grp/x"]) != 1 || len(all["/grp/y"]) != 1 {
		t.Fatalf("after the group create: %v", all)
	}
	if code, _, body := e.do("GET", "/v2/info", ""); code != 200 || !strings.Contains(body, `"local_port_min":10000,"local_port_max":10015`) {
		t.Fatalf("/v2/info does not report the range: %s", body)
	}

	// Updates keep them: a partial PUT, a full PUT without ports (Marathon's
	// default port definition keeps the first), and adding ports back.
	a0 := all["/sp/a0"]
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a0?force=true", `{"env": {"X": "1"}}`); code != 200 {
		t.Fatalf("partial PUT: %d %s", code, body)
	}
	if got, _ := e.appPorts("/sp/a0"); !slices.Equal(got, a0) {
		t.Fatalf("partial PUT changed the ports: %v -> %v", a0, got)
	}
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a0?partialUpdate=false&force=true", `{"id": "/sp/a0", "cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 8}`); code != 200 {
		t.Fatalf("full PUT: %d %s", code, body)
	}
	if got, _ := e.appPorts("/sp/a0"); !slices.Equal(got, a0[:1]) {
		t.Fatalf("full PUT without ports: %v, want the first kept: %v", got, a0[:1])
	}
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a0?force=true", `{"portDefinitions": [{"port": 0}, {"port": 0}, {"port": 0}]}`); code != 200 {
		t.Fatalf("PUT adding ports: %d %s", code, body)
	}
	got, _ := e.appPorts("/sp/a0")
	if len(got) != 3 || got[0] != a0[0] || !servicePortRange.Contains(got[1]) || !servicePortRange.Contains(got[2]) {
		t.Fatalf("after adding ports: %v (was %v)", got, a0)
	}
	a0 = got
	checkUnique(t, e.allPorts())

	// A rollback to a recorded version keeps them too.
	a1 := all["/sp/a1"]
	_, vbody := e.rawCall("GET", "/v2/apps/sp/a1/versions", "")
	var versions struct {
		Versions []string `json:"versions"`
	}
	if err := json.Unmarshal([]byte(vbody), &versions); err != nil || len(versions.Versions) != 1 {
		t.Fatalf("versions: %s %v", vbody, err)
	}
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a1?force=true", `{"cmd": "sleep 2000"}`); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a1?force=true", `{"version": "`+versions.Versions[0]+`"}`); code != 200 {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if got, app := e.appPorts("/sp/a1"); !slices.Equal(got, a1) || app["cmd"] != "sleep 1000" {
		t.Fatalf("after the rollback: %v %v, want %v and the first cmd", got, app["cmd"], a1)
	}

	// Refusals change nothing: a port another app holds (409, with the field
	// path), one listed twice (422), and a range left too small (409).
	before := e.allPorts()
	for name, tc := range map[string]struct {
		body, path, msg string
		code            int
	}{
		"held by another app": {
			body: `{"id": "/sp/clash", "cmd": "sleep 1", "instances": 0, "portDefinitions": [{"port": 0}, {"port": ` + strconv.Itoa(a1[1]) + `}]}`,
			code: 409, path: "/portDefinitions/1/port", msg: "service port " + strconv.Itoa(a1[1]) + " is already used by app /sp/a1",
		},
		"listed twice": {
			body: `{"id": "/sp/twice", "cmd": "sleep 1", "instances": 0, "portDefinitions": [{"port": 15000}, {"port": 15000}]}`,
			code: 422, path: "/portDefinitions/1/port", msg: "service port 15000 is listed twice",
		},
		"range exhausted": {
			body: zeroPortsApp("/sp/big", servicePortRange.Size()-checkUnique(t, before)+1),
			code: 409, path: "/portDefinitions/" + strconv.Itoa(servicePortRange.Size()-checkUnique(t, before)) + "/port",
			msg: "no free service port left in 10000-10015",
		},
	} {
		t.Run(name, func(t *testing.T) {
			code, body := e.rawCall("POST", "/v2/apps", tc.body)
			var eb struct {
				Message string `json:"message"`
				Details []struct {
					Path   string   `json:"path"`
					Errors []string `json:"errors"`
				} `json:"details"`
			}
			if err := json.Unmarshal([]byte(body), &eb); err != nil || code != tc.code || len(eb.Details) != 1 ||
				eb.Details[0].Path != tc.path || !strings.Contains(eb.Details[0].Errors[0], tc.msg) || eb.Message == "" {
				t.Fatalf("got %d %s, want %d with %s: %q", code, body, tc.code, tc.path, tc.msg)
			}
		})
	}
	if after := e.allPorts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused write changed the apps: %v -> %v", before, after)
	}

	// The other door: `stride apply` of apps with 0 ports, running a task
	// each, in their own scope (the files declare the apps under /run only).
	runSpec := func() *engine.Spec {
		pair := testApp(t, "/run/pair", 1, nil)
		pair.PortDefinitions = append(pair.PortDefinitions, engine.PortDefinition{Name: "admin", Protocol: "tcp"})
		return &engine.Spec{Scope: "/run", Apps: []*engine.App{pair, testApp(t, "/run/web", 1, nil)}}
	}
	e.waitDeployment(e.apply(runSpec()).DeploymentID, 60*time.Second)
	pairPorts, _ := e.appPorts("/run/pair")
	runPorts, _ := e.appPorts("/run/web")
	// What the API left free, lowest first, in the order of the files.
	free := servicePortRange.Size() - checkUnique(t, before)
	if want := []int{servicePortRange.Max - free + 1, servicePortRange.Max - free + 2}; !slices.Equal(pairPorts, want) {
		t.Fatalf("/run/pair got %v, want %v", pairPorts, want)
	}
	if want := []int{servicePortRange.Max - free + 3}; !slices.Equal(runPorts, want) {
		t.Fatalf("/run/web got %v, want %v", runPorts, want)
	}
	all = e.allPorts()
	checkUnique(t, all)
	// Applying the same files again is no change: each 0 keeps its port.
	if resp := e.apply(runSpec()); resp.DeploymentID != "" || !resp.Plan.Empty() {
		t.Fatalf("re-apply planned %+v", resp.Plan)
	}

	// Tasks carry the app's service ports (JSON), the text/plain list has one
	// line per service port, and a real Marathon client reads them back.
	text := e.tasksText()
	for _, id := range []string{"/run/pair", "/run/web"} {
		code, _, body := e.do("GET", "/v2/apps"+id+"/tasks", "")
		var tasks struct {
			Tasks []struct {
				Host         string `json:"host"`
				Ports        []int  `json:"ports"`
				ServicePorts []int  `json:"servicePorts"`
			} `json:"tasks"`
		}
		sps, _ := e.appPorts(id)
		if err := json.Unmarshal([]byte(body), &tasks); code != 200 || err != nil || len(tasks.Tasks) != 1 || !slices.Equal(tasks.Tasks[0].ServicePorts, sps) {
			t.Fatalf("%s tasks: %d %s, want servicePorts %v", id, code, body, sps)
		}
		// Host ports are the stand-in's: name them so the golden file is stable.
		task := tasks.Tasks[0]
		for i, p := range task.Ports {
			text = strings.ReplaceAll(text, task.Host+":"+strconv.Itoa(p)+"\t", fmt.Sprintf("HOST:%s.PORT%d\t", engine.SafeID(id), i))
		}
	}
	var lines []string
	for _, l := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(l, "run_") {
			lines = append(lines, l)
		}
	}
	checkGolden(t, "service-ports-tasks.txt", strings.Join(lines, ""))

	m := e.goMarathon()
	gm, err := m.Application("/run/web")
	if err != nil || gm.PortDefinitions == nil || len(*gm.PortDefinitions) != 1 || (*gm.PortDefinitions)[0].Port == nil || *(*gm.PortDefinitions)[0].Port != runPorts[0] {
		t.Fatalf("go-marathon application: %+v %v", gm, err)
	}
	gt, err := m.Tasks("/run/web")
	if err != nil || len(gt.Tasks) != 1 || !slices.Equal(gt.Tasks[0].ServicePorts, runPorts) {
		t.Fatalf("go-marathon tasks: %+v %v", gt, err)
	}
	gall, err := m.AllTasks(nil)
	if err != nil || len(gall.Tasks) != 2 {
		t.Fatalf("go-marathon all tasks: %+v %v", gall, err)
	}
	for _, gt := range gall.Tasks {
		if want := all[gt.AppID]; !slices.Equal(gt.ServicePorts, want) {
			t.Fatalf("go-marathon: task of %s has servicePorts %v, want %v", gt.AppID, gt.ServicePorts, want)
		}
	}

	// A restarted server (a new term, reading the state back) has the same
	// ports and goes on from them.
	_ = e.srv.Close()
	e.startWithPorts()
	if after := e.allPorts(); fmt.Sprint(after) != fmt.Sprint(all) {
		t.Fatalf("after the restart: %v, was %v", after, all)
	}
	if code, body := e.rawCall("PUT", "/v2/apps/sp/a0?force=true", `{"portDefinitions": [{"port": 0}, {"port": 0}, {"port": 0}], "env": {"Y": "2"}}`); code != 200 {
		t.Fatalf("PUT after the restart: %d %s", code, body)
	}
	if got, _ := e.appPorts("/sp/a0"); !slices.Equal(got, a0) {
		t.Fatalf("after the restart, an update moved the ports: %v, was %v", got, a0)
	}
}

// tasksText is GET /v2/tasks as text/plain.
func (e *testEnv) tasksText() string {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.client.Base+"/v2/tasks", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := e.client.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("text/plain tasks: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

// checkGolden compares got with testdata/name (rewritten with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs:\ngot:\n%q\nwant:\n%q", path, got, want)
	}
}

// TestClusterServicePortsSurviveFailover: assigned service ports are stored
// with the apps in Consul: after a kill -9 of the leader, the new leader shows
// the same ports, keeps them on updates and gives new apps other ones.
func TestClusterServicePortsSurviveFailover(t *testing.T) {
	c := newClusterEnv(t, nil, 2)
	leader := c.leader(30 * time.Second)
	standby := c.standbys(leader)[0]
	for _, id := range []string{"/fo/a", "/fo/b"} {
		// Through the standby: it forwards to the leader.
		if code, body := spCall(t, standby, "POST", "/v2/apps", zeroPortsApp(id, 2)); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", id, code, body)
		}
	}
	before := spPorts(t, leader)
	if n := checkUnique(t, before); n != 4 {
		t.Fatalf("%d ports, want 4: %v", n, before)
	}

	leader.kill(syscall.SIGKILL)
	next := c.leader(60*time.Second, standby)
	if after := spPorts(t, next); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("after the failover: %v, was %v", after, before)
	}
	if code, body := spCall(t, next, "PUT", "/v2/apps/fo/a?force=true", `{"portDefinitions": [{"port": 0}, {"port": 0}], "cmd": "sleep 2000"}`); code != http.StatusOK {
		t.Fatalf("update on the new leader: %d %s", code, body)
	}
	if code, body := spCall(t, next, "POST", "/v2/apps", zeroPortsApp("/fo/c", 2)); code != http.StatusCreated {
		t.Fatalf("create on the new leader: %d %s", code, body)
	}
	after := spPorts(t, next)
	if !slices.Equal(after["/fo/a"], before["/fo/a"]) || checkUnique(t, after) != 6 {
		t.Fatalf("on the new leader: %v, was %v", after, before)
	}
}

// spCall sends a JSON request to one server of a cluster.
func spCall(t *testing.T, p *clusterProc, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, p.url()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	cl := &http.Client{Timeout: 30 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// spPorts returns every app's service ports by id, as one server of a cluster
// shows them in /v2/apps.
func spPorts(t *testing.T, p *clusterProc) map[string][]int {
	t.Helper()
	var resp appsPorts
	if code, _, err := ask(p, "/v2/apps", &resp); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v2/apps from %s: %d %v", p.addr, code, err)
	}
	return resp.byID()
}
