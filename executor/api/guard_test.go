package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// applyBody is a valid apply request whose app would run a command.
const applyBody = `{"spec": {"scope": "/", "apps": [{"id": "/pwned", "cmd": "touch /tmp/pwned", "instances": 1}]}}`

// TestBrowserGuard: what a web page can send is refused with a 403 and runs
// nothing; what a local client sends passes.
func TestBrowserGuard(t *testing.T) {
	tests := map[string]struct {
		req    request
		info   Info
		status int
		// ran: the request reached the backend (Apply was called).
		ran  bool
		want string // in the body
	}{
		"cross-origin text/plain form POST": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}},
			status: 403, want: `requests from origin \"http://evil.example\" are refused`,
		},
		"cross-origin JSON POST": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Origin": "https://evil.example"}},
			status: 403, want: "-http-allowed-origins",
		},
		"opaque origin (sandboxed frame, file://)": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Origin": "null"}},
			status: 403, want: `origin \"null\"`,
		},
		"text/plain without Origin": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}},
			status: 403, want: `request bodies must be application/json, got \"text/plain;charset=UTF-8\"`,
		},
		"form body": {
			req:    request{method: "POST", path: "/v2/tasks/delete", body: `ids=a`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}},
			status: 403, want: "application/json",
		},
		"no content type": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Content-Type": ""}},
			status: 403, want: `got \"\"`,
		},
		"DNS rebinding: foreign Host": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Host": "evil.example:8080"}},
			status: 403, want: `Host \"evil.example:8080\" is not a name of this server`,
		},
		"foreign Host on a read": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "rebind.evil.example"}},
			status: 403, want: "DNS rebinding",
		},
		"cross-site fetch without Origin": {
			req:    request{path: "/v2/apps", header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
			status: 403, want: "cross-site requests are refused",
		},
		"local client": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody},
			status: 200, ran: true,
		},
		"localhost by name": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Host": "localhost:8080"}},
			status: 200, ran: true,
		},
		"IPv6 loopback": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "[::1]:8080"}},
			status: 200,
		},
		"same origin page": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Origin": "http://127.0.0.1:8080"}},
			status: 200, ran: true,
		},
		"configured hostname": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "stride.example.com:8080"}},
			info:   Info{Hostnames: []string{"stride.example.com"}},
			status: 200,
		},
		"configured domain": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "a.b.example.com"}},
			info:   Info{Hostnames: []string{".example.com"}},
			status: 200,
		},
		"another listen address": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "10.1.2.3:8080"}},
			status: 403,
		},
		"any address when listening on all": {
			req:    request{path: "/v2/apps", header: map[string]string{"Host": "10.1.2.3:8080"}},
			info:   Info{HTTPAddr: "0.0.0.0:8080"},
			status: 200,
		},
		"allowed origin": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Origin": "https://ui.example.com"}},
			info:   Info{AllowedOrigins: []string{"https://ui.example.com"}},
			status: 200, ran: true,
		},
		"merge-patch JSON": {
			req:    request{method: "POST", path: "/stride/v1/apply", body: applyBody, header: map[string]string{"Content-Type": "application/merge-patch+json"}},
			status: 200, ran: true,
		},
		"DELETE without a body": {
			req:    request{method: "DELETE", path: "/v2/deployments/nope?force=true"},
			status: 404,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			info := tc.info
			if info.HTTPAddr == "" {
				info.HTTPAddr = "127.0.0.1:8080"
			}
			f := newFake(fixtureView())
			s := New(f, info)
			w := do(t, s, tc.req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if ran := len(f.Calls()) > 0; ran != tc.ran {
				t.Fatalf("backend calls %v, want ran=%v", f.Calls(), tc.ran)
			}
			if !strings.Contains(w.Body.String(), tc.want) {
				t.Fatalf("body %s does not say %s", w.Body, tc.want)
			}
			if w.Code == 403 {
				var eb errorBody
				if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Message == "" {
					t.Fatalf("a refusal must be a Marathon error body: %s", w.Body)
				}
			}
		})
	}
}

// TestPreflightForAllowedOrigin: an allowed origin's preflight is answered with
// CORS headers; a foreign one is refused.
func TestPreflightForAllowedOrigin(t *testing.T) {
	s := New(newFake(fixtureView()), Info{HTTPAddr: "127.0.0.1:8080", AllowedOrigins: []string{"https://ui.example.com"}})
	pre := map[string]string{"Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"}
	w := do(t, s, request{method: http.MethodOptions, path: "/stride/v1/apply", header: pre})
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://ui.example.com" {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	pre["Origin"] = "https://evil.example"
	if w := do(t, s, request{method: http.MethodOptions, path: "/stride/v1/apply", header: pre}); w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign preflight: %d %v", w.Code, w.Header())
	}
}

// TestStrictBodies: unknown fields of Stride's own request bodies are rejected
// with their path, and nothing runs.
func TestStrictBodies(t *testing.T) {
	tests := map[string]struct {
		body  string
		paths []string
	}{
		"top level typo":  {`{"spec": {"scope": "/", "apps": []}, "forse": true}`, []string{"/forse"}},
		"in the spec":     {`{"spec": {"scope": "/", "apps": [], "bogus": 1}}`, []string{"/spec/bogus"}},
		"in a group":      {`{"spec": {"scope": "/", "apps": [], "groups": [{"id": "/g", "x": 1}]}}`, []string{"/spec/groups/0/x"}},
		"several, sorted": {`{"z": 1, "a": 2, "spec": {"apps": []}}`, []string{"/a", "/z"}},
		"in an app":       {`{"spec": {"apps": [{"id": "/a", "cmd": "x", "bogus": 1}]}}`, []string{"/spec/apps/0/bogus"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake(fixtureView())
			s := New(f, Info{HTTPAddr: "127.0.0.1:8080"})
			w := do(t, s, request{method: "POST", path: "/stride/v1/apply", body: tc.body})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var eb errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range eb.Details {
				got = append(got, d.Path)
			}
			if strings.Join(got, " ") != strings.Join(tc.paths, " ") {
				t.Fatalf("paths %v, want %v (%s)", got, tc.paths, w.Body)
			}
			if len(f.Calls()) != 0 {
				t.Fatalf("backend called: %v", f.Calls())
			}
		})
	}
}

// TestBoundsInTheAPI: numbers above the limits are a 422 with the path; the
// server-wide limit applies.
func TestBoundsInTheAPI(t *testing.T) {
	f := newFake(fixtureView())
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080"})
	w := do(t, s, request{method: "POST", path: "/stride/v1/apply", body: `{"spec": {"apps": [{"id": "/big", "cmd": "x", "instances": 2000000000}]}}`})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `"path":"/spec/apps/0/instances","errors":["must be <= 100000, got 2000000000"]`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	s = New(f, Info{HTTPAddr: "127.0.0.1:8080", Limits: limits(5)})
	w = do(t, s, request{method: "POST", path: "/stride/v1/plan", body: `{"spec": {"apps": [{"id": "/big", "cmd": "x", "instances": 6}]}}`})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "must be <= 5, got 6") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("backend called: %v", f.Calls())
	}
}

// TestBodyLimits: each endpoint reads at most its limit.
func TestBodyLimits(t *testing.T) {
	f := newFake(fixtureView())
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080"})
	big := `{"ids": ["` + strings.Repeat("x", maxSmallBody) + `"]}`
	w := do(t, s, request{method: "POST", path: "/v2/tasks/delete", body: big})
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "larger than 1048576 bytes") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("backend called: %v", f.Calls())
	}
}

func limits(instances int) engine.Limits { return engine.Limits{MaxInstances: instances} }

// BenchmarkGuard is the browser-safety check every request passes.
func BenchmarkGuard(b *testing.B) {
	g := &Guard{ListenAddr: "127.0.0.1:8080", Hostnames: []string{"stride.example.com"}}
	r := httptest.NewRequest(http.MethodPost, "/stride/v1/apply", strings.NewReader(applyBody))
	r.Host = "stride.example.com:8080"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Origin", "http://stride.example.com:8080")
	w := httptest.NewRecorder()
	if !g.check(w, r) {
		b.Fatalf("refused: %s", w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		g.check(w, r)
	}
}
