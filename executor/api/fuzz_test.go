package api

import (
	"net/http"
	"testing"
)

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
