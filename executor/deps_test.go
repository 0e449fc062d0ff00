package executor

import (
	"strings"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

func TestDependentWaitsForItsDependencyAndSaysSo(t *testing.T) {
	h := newHarness(t)
	db := testApp("/data/db", 3, "db")
	h.deploy(db)
	// One db task dies; its replacement backs off for a long while.
	h.status(h.ids(engine.TaskRunning)[0], mesos.TASK_FAILED, "oom")
	h.e.delays["/data/db"] = &launchDelay{failures: 1, until: h.clock.t.Add(time.Hour)}
	web := testApp("/shop/web", 2, "web")
	web.Dependencies = []string{"/data"} // the group: every app under it
	dep := h.apply(spec(db, web))
	if len(dep.Plan.Changes) != 1 || dep.Plan.Changes[0].ID != "/shop/web" {
		t.Fatalf("plan %+v", dep.Plan.Changes)
	}
	launched := len(h.mesos.launched)
	h.clock.advance(250 * time.Second)
	h.tick()
	h.offer(2)
	if n := len(h.mesos.launched) - launched; n != 0 {
		t.Fatalf("launched %d tasks while /data/db is at 2/3", n)
	}
	h.e.publish()
	p := h.e.View().Deployments[0].Progress[0]
	if p.Waiting != "waiting for /data/db: 2/3 healthy, 4m10s of 10m" || p.Done {
		t.Fatalf("progress %+v", p)
	}
	if st := h.e.View().App("/shop/web"); st.Waiting != p.Waiting {
		t.Fatalf("the app's status says %q", st.Waiting)
	}
	// The db comes back: web starts.
	delete(h.e.delays, "/data/db")
	h.offer(2)
	h.runLaunched()
	h.settle()
	h.tick()
	h.offer(2)
	if n := len(h.mesos.launched) - launched; n != 3 {
		t.Fatalf("%d launched after the db recovered, want its replacement and 2 web tasks", n)
	}
	// Once begun, the web goes on should the db weaken again: not held, not
	// stopped half way.
	for _, id := range h.ids(engine.TaskRunning) {
		if engine.AppIDFromTaskID(id) == "/data/db" {
			h.status(id, mesos.TASK_FAILED, "oom")
			break
		}
	}
	h.e.delays["/data/db"] = &launchDelay{failures: 1, until: h.clock.t.Add(time.Hour)}
	h.runLaunched()
	h.tick()
	h.e.publish()
	if p := h.e.View().Deployments[0].Progress[0]; p.Waiting != "" || len(h.mesos.killed) != 0 {
		t.Fatalf("the started web is held again (%q) or killed (%v)", p.Waiting, h.mesos.killed)
	}
	h.settle()
	h.tick()
	if len(h.e.deployments) != 0 {
		t.Fatal("the web's deployment did not finish")
	}
}

func TestFailedDependencyFailsItsDependents(t *testing.T) {
	h := newHarness(t)
	db := testApp("/db", 1, "db")
	h.deploy(db)
	db2 := db.Clone()
	db2.Cmd, db2.ProgressDeadlineSeconds = "db v2", 30
	db2.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 0}
	dbDep := h.apply(spec(db2))
	h.crashRound("boom") // the db is down and its new version crashes
	web := testApp("/web", 1, "web")
	web.Dependencies = []string{"/db"}
	_, webDep, err := h.applyReq(ApplyRequest{Spec: spec(db2, web)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10 && h.store.snap.Deployments[dbDep.ID].Status == engine.DeploymentRunning; i++ {
		h.clock.advance(5 * time.Second)
		h.crashRound("boom")
	}
	h.tick()
	d := h.store.snap.Deployments[webDep.ID]
	want := "/web: dependency /db failed: its deployment " + dbDep.ID + " failed"
	if d.Status != engine.DeploymentFailed || d.Reason != want {
		t.Fatalf("dependent: %s %q\nwant %q", d.Status, d.Reason, want)
	}
}

func TestFailedStepNamesTheAppsNotStarted(t *testing.T) {
	h := newHarness(t)
	db := testApp("/db", 1, "db")
	db.ProgressDeadlineSeconds = 20
	web := testApp("/web", 1, "web")
	web.Dependencies = []string{"/db"}
	dep := h.apply(spec(db, web))
	for i := 0; i < 10 && h.store.snap.Deployments[dep.ID].Status == engine.DeploymentRunning; i++ {
		h.crashRound("boom")
		h.clock.advance(5 * time.Second)
	}
	d := h.store.snap.Deployments[dep.ID]
	if d.Status != engine.DeploymentFailed || !strings.HasSuffix(d.Reason, "; not started: /web") {
		t.Fatalf("%s %q", d.Status, d.Reason)
	}
}
