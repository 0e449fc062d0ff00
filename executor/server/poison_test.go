package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/bolt"
	"github.com/stride-run/stride/executor/localmesos"
)

// TestPoisonRecordsAreSetAside writes records the executor must not act on straight
// into the store — an app asking for two billion instances and a running
// deployment creating it — and restarts the server on that data dir, twice: it
// comes up, keeps the healthy app's tasks as they were, launches nothing for the
// poisoned app, says why, marks the deployment failed, and a valid apply of the
// same id repairs it.
func TestPoisonRecordsAreSetAside(t *testing.T) {
	e := newEnv(t, 3)
	good := testApp(t, "/good", 2, nil)
	e.waitDeployment(e.apply(specOf(good)).DeploymentID, 30*time.Second)
	before := taskIDs(e.liveTasks("/good"))

	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	poison := testApp(t, "/poison", 1, nil)
	poison.Instances = 2_000_000_000
	poison.Version = "2026-01-01T00:00:00.000Z"
	writeDirectly(t, e.dataDir, engine.Txn{
		PutApps: []*engine.App{poison},
		PutDeployments: []*engine.Deployment{{
			ID: "poisoned", Version: poison.Version, Status: engine.DeploymentRunning, CreatedAt: poison.Version,
			Plan: &engine.Plan{
				Changes: []*engine.Change{{ID: "/poison", Action: engine.ActionCreate, After: poison}},
				Steps:   []engine.Step{{Actions: []engine.StepAction{{ID: "/poison", Action: engine.ActionCreate}}}},
			},
		}},
	})

	for round := 1; round <= 2; round++ {
		e.startServer()
		e.waitFor(20*time.Second, fmt.Sprintf("round %d: the poisoned app reported", round), func() (bool, string) {
			st := e.appStatus("/poison")
			if st == nil {
				return false, "no status for /poison"
			}
			return strings.Contains(st.Waiting, "/instances: must be <= 100000, got 2000000000"), st.Waiting
		})
		// The server serves everything else: the good app, as it was.
		app, err := e.client.App(context.Background(), "/good")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if got := taskIDs(e.liveTasks("/good")); !equalStrings(got, before) || len(app.Tasks) != 2 {
			t.Fatalf("round %d: /good runs %v (Stride knows %d), want %v untouched", round, got, len(app.Tasks), before)
		}
		if n := len(e.liveTasks("/poison")); n != 0 {
			t.Fatalf("round %d: %d tasks launched for the poisoned app", round, n)
		}
		if err := e.srv.Close(); err != nil {
			t.Fatal(err)
		}
		d := readDirectly(t, e.dataDir).Deployments["poisoned"]
		if d == nil || d.Status != engine.DeploymentFailed || !strings.Contains(d.Reason, "/instances: must be <= 100000") {
			t.Fatalf("round %d: the stored poisoned deployment is %+v, want failed with the reason", round, d)
		}
	}

	// A valid apply of the same id replaces the poisoned record.
	e.startServer()
	fixed := testApp(t, "/poison", 1, nil)
	e.waitDeployment(e.apply(specOf(good, fixed)).DeploymentID, 30*time.Second)
	if st := e.appStatus("/poison"); st == nil || st.Waiting != "" || st.TasksRunning != 1 {
		t.Fatalf("after the repair: %+v", st)
	}
}

// readDirectly loads the bolt store of a stopped server.
func readDirectly(t *testing.T, dataDir string) *engine.Snapshot {
	t.Helper()
	var snap *engine.Snapshot
	withStore(t, dataDir, func(st *bolt.Store, s *engine.Snapshot) { snap = s })
	return snap
}

// writeDirectly commits txn to the bolt store of a stopped server, bypassing every
// check of the API and the executor.
func writeDirectly(t *testing.T, dataDir string, txn engine.Txn) {
	t.Helper()
	withStore(t, dataDir, func(st *bolt.Store, snap *engine.Snapshot) {
		if _, err := st.Commit(context.Background(), snap.Index, txn); err != nil {
			t.Fatal(err)
		}
	})
}

// withStore opens the bolt store of a stopped server, loads it and calls fn.
func withStore(t *testing.T, dataDir string, fn func(*bolt.Store, *engine.Snapshot)) {
	t.Helper()
	st, err := bolt.Open(context.Background(), dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	snap, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fn(st, snap)
}

func taskIDs(ts []localmesos.TaskInfo) []string {
	out := make([]string, len(ts))
	for i, x := range ts {
		out[i] = x.ID
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
