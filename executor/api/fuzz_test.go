package api

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

// FuzzStrideBodies feeds arbitrary bodies to Stride's own write endpoints: the
// server never panics, answers with a client error or a success, and a body it
// refuses never reaches the backend.
func FuzzStrideBodies(f *testing.F) {
	for _, seed := range []string{
		applyBody,
		`{"spec": {"scope": "/", "apps": []}, "forse": true}`,
		`{"spec": {"apps": [{"id": "/big", "cmd": "x", "instances": 2000000000}]}}`,
		`{"spec": {"apps": [null]}}`,
		`{"spec": {"apps": [{"id": "/a", "cmd": "x", "healthChecks": [{"protocol": "HTTP", "intervalSeconds": 1e300}]}]}}`,
		`{"spec": {"groups": [{"id": "/g", "labels": {"a": 1}}]}, "destroy": true}`,
		`{"state_serial": -1}`,
		`[]`, `null`, `{`, "",
	} {
		f.Add("/stride/v1/apply", seed)
		f.Add("/stride/v1/plan", seed)
	}
	f.Add("/v2/tasks/delete", `{"ids": ["a.b", 1]}`)
	f.Fuzz(func(t *testing.T, path, body string) {
		switch path {
		case "/stride/v1/apply", "/stride/v1/plan", "/v2/tasks/delete":
		default:
			path = "/stride/v1/apply"
		}
		fb := newFake(fixtureView())
		s := New(fb, Info{HTTPAddr: "127.0.0.1:8080"})
		w := do(t, s, request{method: http.MethodPost, path: path, body: body})
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body)
		case w.Code >= 400 && len(fb.Calls()) > 0:
			t.Fatalf("%s %q: refused with %d but the backend was called: %v", path, body, w.Code, fb.Calls())
		}
	})
}

// FuzzAuthorization feeds arbitrary Authorization headers and callback URLs:
// nothing panics, only the configured secrets get in, and no answer echoes what
// was sent.
func FuzzAuthorization(f *testing.F) {
	for _, seed := range []string{
		"Basic YWRtaW46czNjcmV0", "Basic !!!", "Basic YWRtaW4=", "Bearer tok-1", "Bearer ", "token=tok-1", "token=",
		"bearer tok-1", "Basic", "", " ", "Digest x", "Basic YWRtaW46czNjcmV0 extra",
	} {
		f.Add(seed, "http://127.0.0.1:1/e")
	}
	f.Add("Bearer tok-1", "ftp://x")
	f.Add("Bearer tok-1", "http://[::1")
	dir := f.TempDir()
	tokens := dir + "/tokens"
	if err := writeFile(tokens, "tok-1\n"); err != nil {
		f.Fatal(err)
	}
	a, err := NewAuth(AuthConfig{Credentials: "admin:s3cret", TokenFile: tokens})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header, callback string) {
		fb := newFake(fixtureView())
		s := New(fb, Info{HTTPAddr: "127.0.0.1:8080", Auth: a})
		r := newRequest(request{method: http.MethodPost, path: "/v2/eventSubscriptions"})
		q := r.URL.Query()
		q.Set("callbackUrl", callback)
		r.URL.RawQuery = q.Encode()
		r.Header["Authorization"] = []string{header}
		w := httptestRecorder()
		s.ServeHTTP(w, r)
		valid := header == "Basic YWRtaW46czNjcmV0" || header == "Bearer tok-1" || header == "token=tok-1" || header == "bearer tok-1" || header == "basic YWRtaW46czNjcmV0"
		switch {
		case w.Code >= 500:
			t.Fatalf("%q: %d %s", header, w.Code, w.Body)
		case w.Code == http.StatusUnauthorized && len(fb.Calls()) > 0:
			t.Fatalf("%q: 401 but the backend was called", header)
		case w.Code != http.StatusUnauthorized && !a.Allowed(r):
			t.Fatalf("%q: %d without valid credentials", header, w.Code)
		case w.Code == http.StatusUnauthorized && valid:
			t.Fatalf("%q: refused", header)
		}
		if len(header) > 8 && strings.Contains(w.Body.String(), header) {
			t.Fatalf("the answer echoes the Authorization header: %s", w.Body)
		}
	})
}
