package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/mesostest"
)

// getJSON GETs a path of the server's API and decodes the answer.
func (e *testEnv) getJSON(path string, v any) {
	e.t.Helper()
	resp, err := http.Get(e.srv.URL() + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// TestServerServesTheUI: a server serves the UI beside its API, reads the
// version history from its own state store, and reports the master's agents.
func TestServerServesTheUI(t *testing.T) {
	e := newEnv(t, 2)
	resp, err := http.Get(e.srv.URL() + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `<script type="module" src="app.js">`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("/ui/: %s %q", resp.Status, body)
	}

	a := testApp(t, "/ui/web", 1, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, realTimeout)
	b := testApp(t, "/ui/web", 1, map[string]string{"COLOUR": "blue"})
	e.waitDeployment(e.apply(specOf(b)).DeploymentID, realTimeout)

	var hist api.AppVersionsResponse
	e.getJSON("/stride/v1/apps/ui/web/history", &hist)
	if len(hist.Versions) != 2 || hist.Current != hist.Versions[0].Version || hist.Versions[0].Action != "restart" || hist.Versions[1].Action != "create" {
		t.Fatalf("history %+v", hist)
	}
	var diff api.AppDiff
	e.getJSON("/stride/v1/apps/ui/web/diff", &diff)
	if len(diff.Fields) != 1 || diff.Fields[0].Path != "env.COLOUR" || !diff.Fields[0].ForcesRestart || diff.From != hist.Versions[1].Version {
		t.Fatalf("diff %+v", diff)
	}

	var c api.ClusterResponse
	e.getJSON("/stride/v1/cluster", &c)
	if len(c.Agents) != 2 || c.Mesos.Error != "" || !c.Mesos.Connected || c.Leader != e.srv.Addr() {
		t.Fatalf("cluster %+v", c)
	}
	tasks := 0
	for _, ag := range c.Agents {
		tasks += ag.Tasks
		if ag.Total.Cpus <= 0 || ag.Total.PortCount <= 0 || ag.Attributes["rack_id"] == nil {
			t.Errorf("agent %+v", ag)
		}
	}
	if tasks != 1 {
		t.Errorf("%d Stride tasks on the agents, want 1", tasks)
	}
}

// TestRealMesosClusterPage: the cluster page's agents as a real Mesos master
// reports them on /master/slaves (what the stand-in imitates): hostnames,
// resources, what a task uses, and Stride's task on its agent.
func TestRealMesosClusterPage(t *testing.T) {
	c := mesostest.Start(t, mesostest.Options{Agents: 3})
	e := newRealEnv(t, c)
	a := testApp(t, "/real/one", 1, nil)
	e.waitDeployment(e.apply(specOf(a)).DeploymentID, realTimeout)
	task := e.appStatus("/real/one").Tasks[0]

	var cl api.ClusterResponse
	e.waitFor(realTimeout, "the master to report the task's resources", func() (bool, string) {
		e.getJSON("/stride/v1/cluster?placed=true", &cl)
		for _, ag := range cl.Agents {
			if ag.ID == task.SlaveID && ag.Used.Cpus >= a.Cpus {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", cl)
	})
	var hosts, want []string
	for _, ag := range cl.Agents {
		hosts = append(hosts, ag.Hostname)
		if ag.Total.Cpus <= 0 || ag.Total.Mem <= 0 || ag.Total.PortCount <= 0 || !ag.Active {
			t.Errorf("agent %s: %+v", ag.Hostname, ag)
		}
		if ag.AttributeValues["rack_id"] == "" || ag.AttributeValues["rack_id"] != ag.Attributes["rack_id"] {
			t.Errorf("agent %s: attribute values %v, attributes %v", ag.Hostname, ag.AttributeValues, ag.Attributes)
		}
		n := 0
		if ag.ID == task.SlaveID {
			n = 1
			if ag.Hostname != task.Host || len(ag.Apps) != 1 || ag.Apps[0].ID != "/real/one" || ag.Used.PortCount < 1 || ag.Free.Cpus > ag.Total.Cpus-a.Cpus {
				t.Errorf("the task's agent: %+v", ag)
			}
			// The feasibility snapshot: the task with what it holds, and its
			// port no longer free.
			if len(ag.Placed) != 1 || ag.Placed[0].ID != task.ID || ag.Placed[0].Cpus != a.Cpus || fmt.Sprint(ag.Placed[0].Ports) != fmt.Sprint(task.Ports) {
				t.Errorf("placed %+v, want the task %s with ports %v", ag.Placed, task.ID, task.Ports)
			}
			if ag.Free.PortCount != ag.Total.PortCount-ag.Used.PortCount || strings.Contains(ag.Free.Ports, fmt.Sprintf("%d-%d", task.Ports[0], task.Ports[0])) {
				t.Errorf("free ports %q (%d) with the task on %v", ag.Free.Ports, ag.Free.PortCount, task.Ports)
			}
		}
		if ag.Tasks != n {
			t.Errorf("agent %s: %d Stride tasks, want %d", ag.Hostname, ag.Tasks, n)
		}
	}
	for _, ag := range c.Agents {
		want = append(want, ag.Hostname())
	}
	sort.Strings(want)
	if strings.Join(hosts, " ") != strings.Join(want, " ") || cl.Mesos.Error != "" {
		t.Errorf("agents %v (error %q), want %v", hosts, cl.Mesos.Error, want)
	}
}
