package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

func newClientEnv(t *testing.T) (*Client, *fakeBackend) {
	t.Helper()
	s, f := newTestServer()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return NewClient(srv.URL), f
}

func TestClientReads(t *testing.T) {
	c, _ := newClientEnv(t)
	ctx := context.Background()

	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range st.Apps {
		ids = append(ids, a.ID)
	}
	if st.Serial != 7 || !slices.Equal(ids, []string{"/shop/api", "/shop/worker", "/tools/registry"}) {
		t.Errorf("state = serial %d apps %v", st.Serial, ids)
	}
	if got := st.Apps[0].HealthChecks[0].Path; got != "/health" {
		t.Errorf("state app lost its health check path: %q", got)
	}

	apps, err := c.Apps(ctx)
	if err != nil || len(apps) != 3 {
		t.Fatalf("Apps = %d, %v", len(apps), err)
	}
	if a := apps[1]; a.ID != "/shop/worker" || len(a.Tasks) != 2 || a.Extras == nil || a.Extras.Pending != 1 || a.Extras.Waiting == "" {
		t.Errorf("worker = %+v", a)
	}
	if a := apps[2]; a.LastTaskFailure == nil || a.LastTaskFailure.State != engine.TaskFailed || a.Extras.DelaySeconds != 12.5 {
		t.Errorf("registry = %+v", a)
	}

	app, err := c.App(ctx, "shop/api")
	if err != nil {
		t.Fatal(err)
	}
	if app.ID != "/shop/api" || app.TasksRunning != 2 || len(app.Deployments) != 1 || app.Deployments[0].ID != "dep-1" || len(app.Tasks) != 3 {
		t.Errorf("app = %+v", app)
	}

	tasks, err := c.Tasks(ctx)
	if err != nil || len(tasks) != 7 {
		t.Errorf("Tasks = %d, %v", len(tasks), err)
	}

	d, err := c.Deployment(ctx, "dep-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "dep-1" || d.Status != engine.DeploymentRunning || len(d.Apps) != 2 || len(d.Progress) != 1 {
		t.Errorf("deployment = %+v", d)
	}
	deps, err := c.Deployments(ctx)
	if err != nil || len(deps) != 1 || deps[0].CurrentStep != 2 || deps[0].TotalSteps != 2 {
		t.Errorf("Deployments = %+v, %v", deps, err)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		setup  func(*fakeBackend)
		call   func(*Client) error
		status int
		check  func(*testing.T, *Error)
	}{
		"unknown app": {
			call:   func(c *Client) error { _, err := c.App(ctx, "/nope"); return err },
			status: http.StatusNotFound,
			check: func(t *testing.T, e *Error) {
				if e.Message != "App '/nope' does not exist" {
					t.Errorf("message %q", e.Message)
				}
			},
		},
		"locked": {
			setup:  func(f *fakeBackend) { f.applyErr = &executor.LockedError{Deployments: []string{"dep-1"}} },
			call:   func(c *Client) error { _, err := c.Apply(ctx, ApplyRequest{Spec: &engine.Spec{}}); return err },
			status: http.StatusConflict,
			check: func(t *testing.T, e *Error) {
				if !slices.Equal(e.Deployments, []string{"dep-1"}) {
					t.Errorf("deployments %v", e.Deployments)
				}
			},
		},
		"invalid app": {
			call: func(c *Client) error {
				a := engine.NewApp("/x")
				a.Cmd, a.Instances = "a", -1
				_, err := c.Plan(ctx, ApplyRequest{Spec: &engine.Spec{Apps: []*engine.App{a}}})
				return err
			},
			status: http.StatusUnprocessableEntity,
			check: func(t *testing.T, e *Error) {
				if len(e.Details) == 0 || e.Details[0].Path != "/spec/apps/0/instances" {
					t.Errorf("details %+v", e.Details)
				}
			},
		},
		"cancel unknown": {
			call:   func(c *Client) error { return c.Cancel(ctx, "dep-9") },
			status: http.StatusNotFound,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, f := newClientEnv(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			err := tc.call(c)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want *Error", err, err)
			}
			if e.Status != tc.status {
				t.Errorf("status %d, want %d", e.Status, tc.status)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

func TestClientWrites(t *testing.T) {
	c, f := newClientEnv(t)
	ctx := context.Background()
	f.applyDep = &engine.Deployment{ID: "dep-2", Version: v2}
	resp, err := c.Apply(ctx, ApplyRequest{Spec: &engine.Spec{Scope: "/"}})
	if err != nil || resp.DeploymentID != "dep-2" || resp.Version != v2 {
		t.Fatalf("Apply = %+v, %v", resp, err)
	}
	if err := c.Cancel(ctx, "dep-1"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got := f.Calls(); !slices.Equal(got, []string{"Apply", "Cancel dep-1"}) {
		t.Errorf("calls %q", got)
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewClient(url).State(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Errorf("error %v, want ErrUnreachable", err)
	}
	if c := NewClient("127.0.0.1:8080/"); c.Base != "http://127.0.0.1:8080" {
		t.Errorf("Base = %q", c.Base)
	}
}
