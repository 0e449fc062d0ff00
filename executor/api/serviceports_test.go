package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestServicePortErrors: a write the executor refuses over service ports is
// answered Marathon's way, with the field path: 409 for a port another app
// holds or a range left without a free port (a conflict with the state), 422
// for a port the app lists twice (an invalid object); the message names the
// apps.
func TestServicePortErrors(t *testing.T) {
	held := engine.ServicePortErrors{{AppID: "/shop/web", Path: "/portDefinitions/1/port", Port: 10005, Holder: "/shop/api"}}
	twice := engine.ServicePortErrors{{AppID: "/shop/web", Path: "/portDefinitions/1/port", Port: 10005}}
	full := engine.ServicePortErrors{{AppID: "/shop/web", Path: "/container/portMappings/0/servicePort", Exhausted: true, Range: engine.DefaultServicePortRange}}
	cases := map[string]struct {
		err  error
		code int
		want string
	}{
		"held by another app": {held, http.StatusConflict,
			`{"message":"app /shop/web: service port 10005 is already used by app /shop/api","details":[{"path":"/portDefinitions/1/port","errors":["app /shop/web: service port 10005 is already used by app /shop/api"]}]}`},
		"wrapped": {fmt.Errorf("apply: %w", held), http.StatusConflict, `"path":"/portDefinitions/1/port"`},
		"listed twice": {twice, http.StatusUnprocessableEntity,
			`{"message":"Object is not valid","details":[{"path":"/portDefinitions/1/port","errors":["app /shop/web: service port 10005 is listed twice"]}]}`},
		"range exhausted": {full, http.StatusConflict, `"path":"/container/portMappings/0/servicePort","errors":["app /shop/web: no free service port left in 10000-20000`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, req := range []request{
				{method: "POST", path: "/v2/apps", body: `{"id": "/shop/web", "cmd": "serve"}`},
				{method: "POST", path: "/stride/v1/apply", body: `{"spec": {"apps": [{"id": "/shop/web", "cmd": "serve"}]}}`},
			} {
				s, f := newTestServer()
				f.applyErr = tc.err
				w := do(t, s, req)
				if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.want) {
					t.Fatalf("%s %s: %d %s\nwant %d with %s", req.method, req.path, w.Code, w.Body.String(), tc.code, tc.want)
				}
			}
		})
	}
}
