package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// loadOnlyStore is an engine.Store that loads a fixed snapshot and refuses writes.
type loadOnlyStore struct{ snap *engine.Snapshot }

func (s *loadOnlyStore) Load(ctx context.Context) (*engine.Snapshot, error) { return s.snap, nil }
func (s *loadOnlyStore) Commit(ctx context.Context, expect uint64, txn engine.Txn) (uint64, error) {
	return 0, errors.New("read-only store")
}
func (s *loadOnlyStore) Close() error { return nil }
func (s *loadOnlyStore) AppVersions(ctx context.Context, id string) ([]string, error) {
	return []string{}, nil
}
func (s *loadOnlyStore) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	return nil, engine.ErrNotFound
}
func (s *loadOnlyStore) GroupVersions(ctx context.Context, id string) ([]string, error) {
	return []string{}, nil
}
func (s *loadOnlyStore) GroupVersion(ctx context.Context, id, version string) (*engine.GroupVersion, error) {
	return nil, engine.ErrNotFound
}

// blockedExecutor returns a real executor with apps and tasks loaded whose actor
// never runs (New without Run): every call that goes through the actor blocks.
func blockedExecutor(t testing.TB, apps, tasksPerApp int) *executor.Executor {
	t.Helper()
	snap := &engine.Snapshot{Index: 1, Serial: 3, Apps: map[string]*engine.App{}, Tasks: map[string]*engine.Task{}, Deployments: map[string]*engine.Deployment{}}
	for i := 0; i < apps; i++ {
		a := engine.NewApp(fmt.Sprintf("/svc/app-%03d", i))
		a.Cmd = "sleep 1000"
		a.Instances = tasksPerApp
		a.ApplyDefaults()
		a.Version = v1
		snap.Apps[a.ID] = a
		for j := 0; j < tasksPerApp; j++ {
			id := fmt.Sprintf("%s.%04d", engine.SafeID(a.ID), j)
			snap.Tasks[id] = &engine.Task{
				ID: id, AppID: a.ID, Host: fmt.Sprintf("agent-%d", j%5), Ports: []int{31000 + j}, SlaveID: "s1",
				StagedAt: t0, StartedAt: t1, Version: v1, State: engine.TaskRunning,
			}
		}
	}
	ex, err := executor.New(context.Background(), executor.Config{
		Store: &loadOnlyStore{snap: snap},
		Now:   func() time.Time { return time.Date(2024, 3, 2, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// TestReadsDoNotWaitOnTheActor: with the executor's actor not running, the read
// endpoints still answer (the 5 s client timeout is a failure deadline, not a
// performance threshold), and a write answers 503 once its wait for the actor
// times out.
func TestReadsDoNotWaitOnTheActor(t *testing.T) {
	ex := blockedExecutor(t, 20, 5)
	s := New(ex, Info{HTTPAddr: "127.0.0.1:8080"})
	s.writeTimeout = 10 * time.Millisecond
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := &http.Client{Timeout: deadline}

	// A write goes to the actor and waits: it must time out, not hang.
	resp, err := client.Post(srv.URL+"/stride/v1/plan", "application/json", strings.NewReader(`{"spec":{"apps":[]}}`))
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("plan with a blocked actor: status %d, want 503", resp.StatusCode)
	}

	for _, path := range []string{"/v2/tasks", "/v2/apps", "/v2/apps/svc/app-001", "/v2/deployments", "/v2/queue", "/stride/v1/state", "/v2/info",
		"/v2/groups", "/v2/groups/svc?embed=group.apps.tasks", "/stride/v1/apps", "/stride/v1/info"} {
		t.Run(path, func(t *testing.T) {
			resp, err := client.Get(srv.URL + path)
			if err != nil {
				t.Fatalf("GET %s with a blocked actor: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: status %d", path, resp.StatusCode)
			}
		})
	}
	var tasks []engine.Task
	tasks, err = NewClient(srv.URL).Tasks(context.Background())
	if err != nil || len(tasks) != 100 {
		t.Errorf("client.Tasks = %d tasks, %v; want 100", len(tasks), err)
	}
}
