package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// Marathon's own JSON examples (copies of ../shared/marathon-api/v2/examples
// under testdata/marathon) go through the API of a real server: each app and
// group is accepted, and read back equal to what was sent once defaults are
// applied. The two examples Stride refuses are refused with every field named.

const examplesDir = "../../testdata/marathon"

// exampleApps returns the apps of an example file (one app, or a list).
func exampleApps(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		var list []json.RawMessage
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
		return list
	}
	return []json.RawMessage{data}
}

// sameApp compares two apps as the API defines them: after defaults, their
// versions aside.
func sameApp(t *testing.T, what string, sent, got []byte) {
	t.Helper()
	want, err := engine.DecodeApp(sent)
	if err != nil {
		t.Fatalf("%s: the example does not decode: %v", what, err)
	}
	have, err := engine.DecodeApp(got)
	if err != nil {
		t.Fatalf("%s: the answer does not decode: %v\n%s", what, err, got)
	}
	for _, a := range []*engine.App{want, have} {
		a.Version, a.VersionInfo = "", nil
	}
	keepAssignedPorts(t, what, want, have)
	if !reflect.DeepEqual(want, have) {
		w, _ := want.MarshalJSON()
		h, _ := have.MarshalJSON()
		t.Errorf("%s read back differently:\nsent %s\ngot  %s", what, w, h)
	}
}

// keepAssignedPorts copies into want the service ports the server assigned
// where want asked for one (0), after checking that each is in the server's
// default range: what Marathon does to its examples too.
func keepAssignedPorts(t *testing.T, what string, want, have *engine.App) {
	t.Helper()
	fill := func(w, h *int) {
		if *w == 0 && *h != 0 {
			if !engine.DefaultServicePortRange.Contains(*h) {
				t.Errorf("%s: service port %d assigned outside %s", what, *h, engine.DefaultServicePortRange)
			}
			*w = *h
		}
	}
	for i := range min(len(want.PortDefinitions), len(have.PortDefinitions)) {
		fill(&want.PortDefinitions[i].Port, &have.PortDefinitions[i].Port)
	}
	if want.Container != nil && have.Container != nil {
		for i := range min(len(want.Container.PortMappings), len(have.Container.PortMappings)) {
			fill(&want.Container.PortMappings[i].ServicePort, &have.Container.PortMappings[i].ServicePort)
		}
		if want.Container.Docker != nil && have.Container.Docker != nil {
			wd, hd := want.Container.Docker, have.Container.Docker
			for i := range min(len(wd.PortMappings), len(hd.PortMappings)) {
				fill(&wd.PortMappings[i].ServicePort, &hd.PortMappings[i].ServicePort)
			}
		}
	}
}

func TestMarathonExamples(t *testing.T) {
	e := newEnv(t, 1)

	// Every app example, posted one by one (dependencies first) and read back.
	var apps []json.RawMessage
	for _, f := range []string{"apps_create.json", "app_list.json", "group_apps.json", "bridge.json", "container_ports.json", "legacy.json", "no_ports.json"} {
		apps = append(apps, exampleApps(t, f)...)
	}
	for i := len(apps) - 1; i >= 0; i-- { // apps_create's sleep60 depends on sleep120, listed after it
		var id struct{ ID string }
		if err := json.Unmarshal(apps[i], &id); err != nil {
			t.Fatal(err)
		}
		code, body := e.rawCall(http.MethodPost, "/v2/apps?force=true", string(apps[i]))
		if code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", id.ID, code, body)
		}
		code, body = e.rawCall(http.MethodGet, "/v2/apps"+engine.CanonicalID(id.ID), "")
		var got struct{ App json.RawMessage }
		if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
			t.Fatalf("GET %s: %d %s", id.ID, code, body)
		}
		sameApp(t, id.ID, apps[i], got.App)
		if id.ID == "/legacy/web" {
			// It holds service port 10013, which Marathon's app_list example
			// (/myapp, posted next) names too: service ports are unique
			// across apps, so it makes way.
			if code, body := e.rawCall(http.MethodDelete, "/v2/apps/legacy/web?force=true", ""); code != http.StatusOK {
				t.Fatalf("DELETE /legacy/web: %d %s", code, body)
			}
		}
	}

	// Marathon's group example (the whole tree from the root) replaces the
	// root group; the tree reads back with every group and app as sent.
	data, err := os.ReadFile(filepath.Join(examplesDir, "groups", "group.json"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := e.rawCall(http.MethodPut, "/v2/groups?force=true", string(data)); code != http.StatusOK {
		t.Fatalf("PUT the group example: %d %s", code, body)
	}
	code, body := e.rawCall(http.MethodGet, "/v2/groups", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v2/groups: %d %s", code, body)
	}
	type group struct {
		ID           string
		Dependencies []string
		Apps         []json.RawMessage
		Groups       []*group
	}
	var sent, got group
	if err := json.Unmarshal(data, &sent); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	// Groups and apps come back sorted by id.
	appsByID := func(raws []json.RawMessage) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		for _, raw := range raws {
			var id struct{ ID string }
			_ = json.Unmarshal(raw, &id)
			out[id.ID] = raw
		}
		return out
	}
	var compare func(s, g *group)
	compare = func(s, g *group) {
		if s.ID != g.ID || len(s.Apps) != len(g.Apps) || len(s.Groups) != len(g.Groups) || len(s.Dependencies) != len(g.Dependencies) {
			t.Fatalf("group %s read back as %s: %d/%d apps, %d/%d groups, deps %v/%v", s.ID, g.ID, len(s.Apps), len(g.Apps), len(s.Groups), len(g.Groups), s.Dependencies, g.Dependencies)
		}
		gotApps := appsByID(g.Apps)
		for id, raw := range appsByID(s.Apps) {
			if gotApps[id] == nil {
				t.Fatalf("group %s lost app %s", s.ID, id)
			}
			sameApp(t, id, raw, gotApps[id])
		}
		gotGroups := map[string]*group{}
		for _, c := range g.Groups {
			gotGroups[c.ID] = c
		}
		for _, c := range s.Groups {
			if gotGroups[c.ID] == nil {
				t.Fatalf("group %s lost group %s", s.ID, c.ID)
			}
			compare(c, gotGroups[c.ID])
		}
	}
	compare(&sent, &got)

	// The PUT of the root removed the apps posted above: they were not in it.
	if code, _ := e.rawCall(http.MethodGet, "/v2/apps/test/sleep60", ""); code != http.StatusNotFound {
		t.Errorf("an app outside the root's new tree: %d", code)
	}

	// The examples Stride refuses: every problem named, nothing created.
	// Marathon's app.json uses the ipAddress Marathon 1.5 removed, and without
	// it is still invalid by Marathon's own rules (cmd and args both set, a
	// secret it does not declare).
	for name, want := range map[string][]string{
		"invalid/app.json":                    {"/ipAddress"},
		"app.json":                            {"/args", "/env/PASSWORD/secret"},
		"invalid/app-check-http-example.json": {"/check"},
	} {
		raw, err := os.ReadFile(filepath.Join(examplesDir, name))
		if err != nil {
			t.Fatal(err)
		}
		code, body := e.rawCall(http.MethodPost, "/v2/apps", string(raw))
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		for _, path := range want {
			if !strings.Contains(body, `"path":"`+path+`"`) {
				t.Errorf("%s: the 422 does not name %s: %s", name, path, body)
			}
		}
	}
	if code, _ := e.rawCall(http.MethodGet, "/v2/apps/foo", ""); code != http.StatusNotFound {
		t.Errorf("a refused example was created: GET /v2/apps/foo is %d", code)
	}
}
