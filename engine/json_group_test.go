package engine

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"testing"
)

// Marathon's group example (GroupInfo output: apps with AppInfo members, the
// deprecated ports and uris, versions) decodes as a group update.
func TestDecodeGroupUpdateMarathonExample(t *testing.T) {
	data, err := os.ReadFile("../testdata/marathon/groups/group.json")
	if err != nil {
		t.Fatal(err)
	}
	g, err := DecodeGroupUpdate(data, DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != "/" || !g.HasApps || len(g.Apps) != 0 || len(g.Groups) != 1 || g.Version != "2015-09-17T10:38:20.875Z" {
		t.Fatalf("root: %+v", g)
	}
	tools := g.Groups[0]
	if tools.ID != "/tools" || len(tools.Apps) != 2 || len(tools.Groups) != 2 || len(tools.AppJSON) != 2 {
		t.Fatalf("/tools: %+v", tools)
	}
	oauth := tools.Apps[0]
	if oauth.ID != "/tools/oauth-server" || oauth.Instances != 2 || len(oauth.PortDefinitions) != 1 || oauth.PortDefinitions[0].Port != 1980 {
		t.Fatalf("oauth-server: %+v", oauth)
	}
	again, err := UnmarshalApp(tools.AppJSON[0], DecodeOptions{})
	if err != nil || !reflect.DeepEqual(again, oauth) {
		t.Fatalf("AppJSON[0] does not decode to Apps[0]: %v", err)
	}
	if reg := tools.Groups[1].Apps[0]; reg.ID != "/tools/docker/registry" || reg.Container.Docker.Network != "BRIDGE" {
		t.Fatalf("registry: %+v", reg)
	}
}

func TestDecodeGroupUpdate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	b := func(v bool) *bool { return &v }
	cases := map[string]struct {
		in   string
		opts DecodeOptions
		want *GroupUpdate
		errs FieldErrors
	}{
		"relative ids and absent members": {
			in:   `{"id":"shop","groups":[{"id":"db","apps":[{"id":"pg","cmd":"x"}]}]}`,
			want: &GroupUpdate{ID: "shop", HasGroups: true, Groups: []*GroupUpdate{{ID: "db", HasApps: true}}},
		},
		"scale": {
			in:   `{"scaleBy": 1.5}`,
			want: &GroupUpdate{ScaleBy: f(1.5)},
		},
		"rollback": {
			in:   `{"version": "2015-09-17T10:38:20.875Z", "id": "/x"}`,
			want: &GroupUpdate{ID: "/x", Version: "2015-09-17T10:38:20.875Z"},
		},
		"empty lists and nulls": {
			in:   `{"apps":[],"groups":null,"dependencies":[],"pods":[],"enforceRole":false,"scaleBy":null}`,
			want: &GroupUpdate{HasApps: true, Apps: []*App{}, AppJSON: [][]byte{}, HasDependencies: true, Dependencies: []string{}, EnforceRole: b(false)},
		},
		"unknown fields, allowed": {
			in:   `{"id":"/x","labels":{"a":"b"},"apps":[{"id":"a","cmd":"x","extra":1}]}`,
			opts: DecodeOptions{AllowUnknown: true},
			want: &GroupUpdate{ID: "/x", HasApps: true},
		},
		"every error, with its path": {
			in: `{"id":1,"labels":{},"apps":[{"id":"a","cpus":"x","bogus":true},7],"groups":[{"id":"g","scaleBy":"2","pods":[{}]}],"dependencies":"x","enforceRole":"yes","id":"dup"}`,
			errs: FieldErrors{
				{Path: "/apps/0/bogus", Errors: []string{ErrUnknownField}},
				{Path: "/apps/0/cpus", Errors: []string{ErrExpectedNumber}},
				{Path: "/apps/1", Errors: []string{ErrExpectedObject}},
				{Path: "/dependencies", Errors: []string{ErrExpectedArray}},
				{Path: "/enforceRole", Errors: []string{ErrExpectedBoolean}},
				{Path: "/groups/0/pods/0", Errors: []string{ErrNotSupported}},
				{Path: "/groups/0/scaleBy", Errors: []string{ErrExpectedNumber}},
				{Path: "/id", Errors: []string{ErrExpectedString, ErrDuplicateField}},
				{Path: "/labels", Errors: []string{ErrUnknownField}},
			},
		},
		"not an object": {in: `[1]`, errs: FieldErrors{{Path: "/", Errors: []string{ErrExpectedObject}}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g, err := DecodeGroupUpdate([]byte(tc.in), tc.opts)
			if tc.errs != nil {
				var fe FieldErrors
				if !errors.As(err, &fe) || !reflect.DeepEqual(fe, tc.errs) {
					t.Fatalf("errors:\n got  %v\n want %v", err, tc.errs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Apps are compared by id only; AppJSON is checked by the example test.
			var walk func(g *GroupUpdate)
			walk = func(g *GroupUpdate) {
				if len(g.Apps) > 0 {
					for _, a := range g.Apps {
						if a.ID == "" {
							t.Errorf("app without id in %q", g.ID)
						}
					}
					g.Apps, g.AppJSON = nil, nil
				}
				for _, s := range g.Groups {
					walk(s)
				}
			}
			walk(g)
			if !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", g, tc.want)
			}
		})
	}
}

// UnmarshalApp with AllowUnknown skips unknown members at any depth but still
// rejects fields Stride cannot carry and wrong types.
func TestUnmarshalAppAllowUnknown(t *testing.T) {
	in := `{"id":"/a","cmd":"x","extra":{"deep":[1]},"healthChecks":[{"protocol":"TCP","newField":2}]}`
	if _, err := UnmarshalApp([]byte(in), DecodeOptions{}); err == nil {
		t.Fatal("strict decoding accepted unknown fields")
	}
	a, err := UnmarshalApp([]byte(in), DecodeOptions{AllowUnknown: true})
	if err != nil || a.ID != "/a" || len(a.HealthChecks) != 1 || a.HealthChecks[0].Protocol != "TCP" {
		t.Fatalf("lenient: %+v %v", a, err)
	}
	_, err = UnmarshalApp([]byte(`{"id":"/a","ipAddress":{},"cpus":"1","x":1}`), DecodeOptions{AllowUnknown: true})
	want := FieldErrors{{Path: "/cpus", Errors: []string{ErrExpectedNumber}}, {Path: "/ipAddress", Errors: []string{ErrNotSupported}}}
	var fe FieldErrors
	if !errors.As(err, &fe) || !reflect.DeepEqual(fe, want) {
		t.Fatalf("lenient errors: %v, want %v", err, want)
	}
}

// FuzzDecodeGroupUpdate: any input decodes or fails with FieldErrors or a
// SyntaxError, never panics; what decodes has apps whose JSON decodes alone,
// and whose Marathon encoding holds only Marathon's members.
func FuzzDecodeGroupUpdate(f *testing.F) {
	if data, err := os.ReadFile("../testdata/marathon/groups/group.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"id":"g","apps":[{"id":"a","cmd":"x","service":{"name":"s"}}],"groups":[{"id":"h","groups":[{}]}],"scaleBy":1e300,"pods":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, opts := range []DecodeOptions{{}, {AllowUnknown: true}} {
			g, err := DecodeGroupUpdate(data, opts)
			if err != nil {
				var fe FieldErrors
				var se *SyntaxError
				if !errors.As(err, &fe) && !errors.As(err, &se) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				continue
			}
			var walk func(g *GroupUpdate)
			walk = func(g *GroupUpdate) {
				for i, a := range g.Apps {
					if _, err := UnmarshalApp(g.AppJSON[i], opts); err != nil {
						t.Fatalf("app %d's JSON does not decode alone: %v", i, err)
					}
					a.ApplyDefaults()
					if enc, err := a.MarshalMarathonJSON(); err == nil && !json.Valid(enc) {
						t.Fatalf("the Marathon encoding is not JSON: %s", enc)
					}
				}
				for _, s := range g.Groups {
					walk(s)
				}
			}
			walk(g)
		}
	})
}
