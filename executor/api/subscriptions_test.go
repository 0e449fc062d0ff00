package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
)

func TestSubscriptionsEndpoint(t *testing.T) {
	cases := map[string]struct {
		req       request
		setup     func(*fakeBackend)
		code      int
		wantCalls []string
		body      []string // substrings of the body
	}{
		"post": {
			req:  request{method: "POST", path: "/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:10001/event"},
			code: 200, wantCalls: []string{"Subscribe http://127.0.0.1:10001/event"},
			body: []string{`"callbackUrl":"http://127.0.0.1:10001/event"`, `"clientIp":"192.0.2.1"`, `"eventType":"subscribe_event"`, `"timestamp":"2024-03-02T12:00:00.000Z"`},
		},
		"post with a marathon client's body": {
			req:  request{method: "POST", path: "/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:10001/event", body: `""`},
			code: 200, wantCalls: []string{"Subscribe http://127.0.0.1:10001/event"},
		},
		"post answers without password or query": {
			req:  request{method: "POST", path: "/v2/eventSubscriptions?callbackUrl=" + "http://u:pw-123@h:1/e%3Ftoken%3Dtok-456"},
			code: 200, wantCalls: []string{"Subscribe http://u:pw-123@h:1/e?token=tok-456"},
			body: []string{`"callbackUrl":"http://u:xxxxx@h:1/e?…"`},
		},
		"delete": {
			req:  request{method: "DELETE", path: "/v2/eventSubscriptions?callbackUrl=http://127.0.0.1:10001/event"},
			code: 200, wantCalls: []string{"Unsubscribe http://127.0.0.1:10001/event"},
			body: []string{`"eventType":"unsubscribe_event"`},
		},
		"missing callbackUrl": {
			req:  request{method: "POST", path: "/v2/eventSubscriptions"},
			code: 400, body: []string{`"path":"/callbackUrl"`, "callbackUrl is required"},
		},
		"invalid callbackUrl": {
			req: request{method: "POST", path: "/v2/eventSubscriptions?callbackUrl=ftp://x/"},
			setup: func(f *fakeBackend) {
				f.subErr = engine.FieldErrors{{Path: "/callbackUrl", Errors: []string{"must be an http:// or https:// URL"}}}
			},
			code: 422, wantCalls: []string{"Subscribe ftp://x/"}, body: []string{`"message":"Object is not valid"`, `"path":"/callbackUrl"`},
		},
		"method": {
			req:  request{method: "PUT", path: "/v2/eventSubscriptions"},
			code: 405,
		},
		"get": {
			req:  request{path: "/v2/eventSubscriptions"},
			code: 200, body: []string{`{"callbackUrls":["http://a:1/e","http://b:2/e?x=1"]}`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, f := newTestServer()
			v := *f.View()
			v.Subscribers = []executor.Subscriber{
				{Subscription: engine.Subscription{CallbackURL: "http://a:1/e"}},
				{Subscription: engine.Subscription{CallbackURL: "http://b:2/e?x=1"}},
			}
			f.view.Store(&v)
			if tc.setup != nil {
				tc.setup(f)
			}
			w := do(t, s, tc.req)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			for _, sub := range tc.body {
				if !strings.Contains(w.Body.String(), sub) {
					t.Errorf("body %s lacks %s", w.Body, sub)
				}
			}
			if got := strings.Join(f.Calls(), "|"); got != strings.Join(tc.wantCalls, "|") {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

// TestApplyPostsAPIEvents: the write handlers — Stride's apply and Marathon's
// app and group writes — publish api_post_event per app they create or change,
// with Marathon's fields only, the env values and the sensitive values masked.
func TestApplyPostsAPIEvents(t *testing.T) {
	cases := map[string]struct {
		req  request
		code int
	}{
		"stride apply":      {request{method: "POST", path: "/stride/v1/apply", body: `{"spec":{"apps":[{"id":"/shop/api","cmd":"run"}]}}`}, http.StatusCreated},
		"POST /v2/apps":     {request{method: "POST", path: "/v2/apps", body: `{"id":"/shop/new-app","cmd":"run"}`}, http.StatusCreated},
		"PUT /v2/apps/{id}": {request{method: "PUT", path: "/v2/apps/shop/api", body: `{"instances":5}`}, http.StatusOK},
		"POST /v2/groups":   {request{method: "POST", path: "/v2/groups", body: `{"id":"/newgroup","apps":[{"id":"a","cmd":"run"}]}`}, http.StatusCreated},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, f := newTestServer()
			a := engine.NewApp("/shop/api")
			a.Cmd = "run"
			a.Env = map[string]string{"DB_PASSWORD": "hunter2-value"}
			a.EnvSecrets = map[string]string{"TOKEN": "tok"}
			a.Secrets = map[string]engine.Secret{"tok": {Source: "/vault/tok"}}
			a.Service = &engine.Service{Name: "stride-only"}
			a.Labels = map[string]string{"token": "hunter2-label"}
			a.HealthChecks = []engine.HealthCheck{engine.DefaultHealthCheck()}
			a.HealthChecks[0].Path = "/health?token=hunter2-path"
			a.Sensitive = []string{"healthChecks[0].path", "labels.token"}
			a.ApplyDefaults()
			f.applyPlan = &engine.Plan{Changes: []*engine.Change{
				{ID: "/shop/api", Action: engine.ActionCreate, After: a},
				{ID: "/shop/old", Action: engine.ActionDestroy},
			}, Steps: []engine.Step{{}}}
			f.applyDep = &engine.Deployment{ID: "dep-9", Version: v2}
			events, stop := f.bus.Subscribe(0)
			defer stop()
			w := do(t, s, tc.req)
			if w.Code != tc.code {
				t.Fatalf("%s %s: %d %s", tc.req.method, tc.req.path, w.Code, w.Body)
			}
			ev := <-events
			var p struct {
				executor.APIPost
				EventType string `json:"eventType"`
			}
			if err := ev.Decode(&p); err != nil {
				t.Fatal(err)
			}
			def := string(p.AppDefinition)
			if ev.Type != executor.EventAPIPost || p.ClientIP != "192.0.2.1" || p.URI != tc.req.path ||
				!strings.Contains(def, `"id":"/shop/api"`) || !strings.Contains(def, `"TOKEN":{"secret":"tok"}`) {
				t.Fatalf("api_post_event %s", ev.JSON)
			}
			if strings.Contains(string(ev.JSON), "hunter2") || !strings.Contains(def, `"DB_PASSWORD":"`+executor.MaskedValue+`"`) {
				t.Errorf("the env value is not masked: %s", ev.JSON)
			}
			if !strings.Contains(def, `"labels":{"token":"`+engine.SensitiveValue+`"}`) || !strings.Contains(def, `"path":"`+engine.SensitiveValue+`"`) {
				t.Errorf("the sensitive values are not masked: %s", ev.JSON)
			}
			if strings.Contains(def, "stride-only") {
				t.Errorf("appDefinition carries a Stride-only field: %s", def)
			}
			select {
			case ev := <-events:
				t.Errorf("one more event (a destroyed app gets none): %s", ev.JSON)
			default:
			}
		})
	}
}

func TestMetricsEndpoints(t *testing.T) {
	f := newFake(fixtureView())
	m := metrics.New(nil)
	m.OffersProcessed(3)
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", Metrics: m})
	w := do(t, s, request{path: "/metrics"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"stride.offers.processed":{"count":3`) {
		t.Errorf("/metrics: %d %.300s", w.Code, w.Body)
	}
	w = do(t, s, request{path: "/metrics/prometheus"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "stride_offers_processed_total 3") {
		t.Errorf("/metrics/prometheus: %d %.300s", w.Code, w.Body)
	}
	if w := do(t, s, request{method: "POST", path: "/metrics"}); w.Code != 405 {
		t.Errorf("POST /metrics: %d", w.Code)
	}
	plain, _ := newTestServer()
	if w := do(t, plain, request{path: "/metrics"}); w.Code != 404 {
		t.Errorf("/metrics without metrics: %d", w.Code)
	}
}

func TestRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/ping":                              "/ping",
		"/metrics":                           "/metrics",
		"/metrics/prometheus":                "/metrics/prometheus",
		"/v2/apps":                           "/v2/apps",
		"/v2/apps/":                          "/v2/apps",
		"/v2/apps/shop/api":                  "/v2/apps/{id}",
		"/v2/apps/shop/api/":                 "/v2/apps/{id}",
		"/v2/apps/shop/api/tasks":            "/v2/apps/{id}/tasks",
		"/v2/apps/shop/api/tasks/shop_api.1": "/v2/apps/{id}/tasks/{taskId}",
		"/v2/apps/shop/api/versions":         "/v2/apps/{id}/versions",
		"/v2/apps/a/versions/2024-01-01T00:00:00Z": "/v2/apps/{id}/versions/{version}",
		"/v2/apps/a/restart":                       "/v2/apps/{id}/restart",
		"/v2/apps/shop/*":                          "/v2/apps/{id}/*",
		"/v2/apps/tasks":                           "/v2/apps/{id}",
		"/v2/groups":                               "/v2/groups",
		"/v2/groups/shop":                          "/v2/groups/{id}",
		"/v2/groups/shop/versions":                 "/v2/groups/{id}/versions",
		"/v2/groups/shop/versions/v1":              "/v2/groups/{id}/versions/{version}",
		"/v2/groups/shop/apps":                     "/v2/groups/{id}/apps",
		"/v2/tasks":                                "/v2/tasks",
		"/v2/tasks/delete":                         "/v2/tasks/delete",
		"/v2/deployments":                          "/v2/deployments",
		"/v2/deployments/abc":                      "/v2/deployments/{id}",
		"/v2/queue":                                "/v2/queue",
		"/v2/queue/shop/api/delay":                 "/v2/queue/{id}/delay",
		"/v2/events":                               "/v2/events",
		"/v2/eventSubscriptions":                   "/v2/eventSubscriptions",
		"/v2/info":                                 "/v2/info",
		"/v2/leader":                               "/v2/leader",
		"/v2/pods/p::status":                       "/v2/pods/{id}::status",
		"/stride/v1/apply":                         "/stride/v1/apply",
		"/stride/v1/deployments/x":                 "/stride/v1/deployments/{id}",
		"/v2/nothing/here":                         "other",
		"/v2/info/x":                               "other",
		"/wp-admin.php":                            "other",
	} {
		if got := Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
	for m, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "BREW": "OTHER", "get": "OTHER"} {
		if got := RouteMethod(m); got != want {
			t.Errorf("RouteMethod(%q) = %q", m, got)
		}
	}
}

func BenchmarkRoute(b *testing.B) {
	paths := []string{"/v2/apps", "/v2/apps/shop/web/api/tasks/shop_web_api.1234", "/v2/tasks", "/v2/groups/a/b/c", "/ping"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if Route(paths[i%len(paths)]) == "" {
			b.Fatal("empty route")
		}
	}
}
