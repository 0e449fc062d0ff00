package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/marathon/golden")

const fixtureDir = "../testdata/marathon"

// fixtureApps returns the app documents of a fixture: the file itself, or the
// elements of a top-level array.
func fixtureApps(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		var docs []json.RawMessage
		if err := json.Unmarshal(data, &docs); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out := make([][]byte, len(docs))
		for i, d := range docs {
			out[i] = d
		}
		return out
	}
	return [][]byte{data}
}

func fixtures(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s (%v)", dir, err)
	}
	return files
}

// checkGolden compares got with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(fixtureDir, "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./engine -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func indent(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// mustMarshal encodes through encoding/json, as every caller will.
func mustMarshal(t testing.TB, a *App) []byte {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFixtures decodes every fixture, checks that it survives a round trip, that
// the encoding keeps every field the input gave, and compares the decoded app
// (with defaults) and its validation result with the golden file.
func TestFixtures(t *testing.T) {
	for _, path := range fixtures(t, fixtureDir) {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			type result struct {
				App      json.RawMessage `json:"app"`
				Validate FieldErrors     `json:"validate"`
			}
			var results []result
			for i, doc := range fixtureApps(t, path) {
				// The codec alone: what the input says is what is encoded.
				var raw App
				if err := json.Unmarshal(doc, &raw); err != nil {
					t.Fatalf("app %d: UnmarshalJSON: %v", i, err)
				}
				assertSubset(t, fmt.Sprintf("app %d", i), mustMarshal(t, &raw), doc)

				a, err := DecodeApp(doc)
				if err != nil {
					t.Fatalf("app %d: DecodeApp: %v", i, err)
				}
				enc := mustMarshal(t, a)
				again, err := DecodeApp(enc)
				if err != nil {
					t.Fatalf("app %d: DecodeApp(Marshal): %v\n%s", i, err, enc)
				}
				if !reflect.DeepEqual(a, again) {
					t.Fatalf("app %d: round trip changed the app\nfirst:  %#v\nsecond: %#v", i, a, again)
				}
				if enc2 := mustMarshal(t, again); !bytes.Equal(enc, enc2) {
					t.Fatalf("app %d: encoding not stable:\n%s\n%s", i, enc, enc2)
				}
				results = append(results, result{App: enc, Validate: a.Validate()})
			}
			checkGolden(t, name+".golden.json", indent(t, results))
		})
	}
}

// TestInvalidFixtures: Marathon's own examples that use fields Stride cannot
// carry are rejected with every problem named.
func TestInvalidFixtures(t *testing.T) {
	for _, path := range fixtures(t, filepath.Join(fixtureDir, "invalid")) {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = DecodeApp(data)
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("want FieldErrors, got %v", err)
			}
			checkGolden(t, "invalid-"+name+".golden.json", indent(t, fe))
		})
	}
}

// Input fields that the encoding drops on purpose (output only) or writes in
// their new form (deprecated).
var notEncoded = map[string]bool{
	"tasks": true, "tasksStaged": true, "tasksRunning": true, "tasksHealthy": true,
	"tasksUnhealthy": true, "deployments": true, "lastTaskFailure": true,
	"readinessCheckResults": true, "taskStats": true, "residency": true, "storeUrls": true,
	"uris": true, "ports": true, "ipProtocol": true, "networkNames": true,
}

// assertSubset checks that every value of the input document is in the encoding:
// objects key by key, arrays element by element, numbers by value. Nulls and
// empty collections match an absent member; a constraint's empty third element
// matches its absence.
func assertSubset(t *testing.T, what string, enc, doc []byte) {
	t.Helper()
	var in, out any
	if err := json.Unmarshal(doc, &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(enc, &out); err != nil {
		t.Fatal(err)
	}
	if err := subset("", in, out); err != nil {
		t.Errorf("%s: encoding lost input: %v\nencoded: %s", what, err, enc)
	}
}

func subset(path string, in, out any) error {
	switch in := in.(type) {
	case map[string]any:
		o, ok := out.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %v", path, out)
		}
		for k, v := range in {
			if notEncoded[k] {
				continue
			}
			ov, present := o[k]
			if !present {
				if isEmpty(v) {
					continue
				}
				return fmt.Errorf("%s/%s: missing (input %v)", path, k, v)
			}
			if err := subset(path+"/"+k, v, ov); err != nil {
				return err
			}
		}
		return nil
	case []any:
		o, ok := out.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %v", path, out)
		}
		if strings.HasPrefix(path, "/constraints/") && len(in) == 3 && in[2] == "" {
			in = in[:2]
		}
		if len(in) != len(o) {
			return fmt.Errorf("%s: %d elements, encoded %d", path, len(in), len(o))
		}
		for i := range in {
			if err := subset(fmt.Sprintf("%s/%d", path, i), in[i], o[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		if !reflect.DeepEqual(in, out) {
			return fmt.Errorf("%s: input %v, encoded %v", path, in, out)
		}
		return nil
	}
}

// isEmpty: values the encoding may omit because they are the zero value.
func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

func TestDecodeErrors(t *testing.T) {
	tests := map[string]struct {
		in   string
		want FieldErrors
	}{
		"unknown top-level field": {
			`{"id": "/a", "cmd": "x", "bogus": 1}`,
			FieldErrors{{Path: "/bogus", Errors: []string{ErrUnknownField}}},
		},
		"unknown nested field": {
			`{"id": "/a", "healthChecks": [{"protocol": "HTTP"}, {"bogus": true}]}`,
			FieldErrors{{Path: "/healthChecks/1/bogus", Errors: []string{ErrUnknownField}}},
		},
		"keys are case-sensitive": {
			`{"id": "/a", "Cmd": "x"}`,
			FieldErrors{{Path: "/Cmd", Errors: []string{ErrUnknownField}}},
		},
		"stride fields of the wrong type": {
			`{"id": "/a", "giveUpAfter": "3", "progressDeadlineSeconds": 1.5, "autoRevert": "yes"}`,
			FieldErrors{
				{Path: "/autoRevert", Errors: []string{ErrExpectedBoolean}},
				{Path: "/giveUpAfter", Errors: []string{ErrExpectedNumber}},
				{Path: "/progressDeadlineSeconds", Errors: []string{ErrExpectedInt}},
			},
		},
		"duplicate key": {
			`{"id": "/a", "cmd": "x", "cmd": "y"}`,
			FieldErrors{{Path: "/cmd", Errors: []string{ErrDuplicateField}}},
		},
		"type errors, all of them, sorted": {
			`{"id": 1, "cmd": ["x"], "instances": "2", "cpus": true, "requirePorts": "yes",
			  "args": "a", "env": [], "labels": {"a": 1}, "healthChecks": [{"portIndex": "0"}]}`,
			FieldErrors{
				{Path: "/args", Errors: []string{ErrExpectedArray}},
				{Path: "/cmd", Errors: []string{ErrExpectedString}},
				{Path: "/cpus", Errors: []string{ErrExpectedNumber}},
				{Path: "/env", Errors: []string{ErrExpectedObject}},
				{Path: "/healthChecks/0/portIndex", Errors: []string{ErrExpectedNumber}},
				{Path: "/id", Errors: []string{ErrExpectedString}},
				{Path: "/instances", Errors: []string{ErrExpectedNumber}},
				{Path: "/labels/a", Errors: []string{ErrExpectedString}},
				{Path: "/requirePorts", Errors: []string{ErrExpectedBoolean}},
			},
		},
		"fraction for an integer": {
			`{"id": "/a", "instances": 1.5, "gpus": 1e100, "healthChecks": [{"intervalSeconds": 0.1}]}`,
			FieldErrors{
				{Path: "/gpus", Errors: []string{ErrExpectedInt}},
				{Path: "/healthChecks/0/intervalSeconds", Errors: []string{ErrExpectedInt}},
				{Path: "/instances", Errors: []string{ErrExpectedInt}},
			},
		},
		"paths sort numerically": {
			`{"id": "/a", "args": ["0","1","2","3","4","5","6","7","8","9",10,"11",2]}`,
			FieldErrors{
				{Path: "/args/10", Errors: []string{ErrExpectedString}},
				{Path: "/args/12", Errors: []string{ErrExpectedString}},
			},
		},
		"null elements are type errors": {
			`{"id": "/a", "args": [null], "portDefinitions": [null], "ports": [null], "env": {"A": null}}`,
			FieldErrors{
				{Path: "/args/0", Errors: []string{ErrExpectedString}},
				{Path: "/env/A", Errors: []string{ErrExpectedString}},
				{Path: "/portDefinitions/0", Errors: []string{ErrExpectedObject}},
				{Path: "/ports/0", Errors: []string{ErrExpectedNumber}},
			},
		},
		"constraint arity and element types": {
			`{"id": "/a", "constraints": [["hostname"], ["a", "b", "c", "d"], ["rack", "GROUP_BY", 3], "x"]}`,
			FieldErrors{
				{Path: "/constraints/0", Errors: []string{"a constraint is [field, operator] or [field, operator, value], got 1 element(s)"}},
				{Path: "/constraints/1", Errors: []string{"a constraint is [field, operator] or [field, operator, value], got 4 element(s)"}},
				{Path: "/constraints/2", Errors: []string{ErrExpectedString}},
				{Path: "/constraints/3", Errors: []string{ErrExpectedArray}},
			},
		},
		"env secret shape": {
			`{"id": "/a", "env": {"A": {}, "B": {"secret": 1}, "C": {"secret": "s", "x": 1}}}`,
			FieldErrors{
				{Path: "/env/A/secret", Errors: []string{ErrPathMissing}},
				{Path: "/env/B/secret", Errors: []string{ErrExpectedString}},
				{Path: "/env/C/x", Errors: []string{ErrUnknownField}},
			},
		},
		"uris and fetch": {
			`{"id": "/a", "uris": ["a"], "fetch": [{"uri": "b"}]}`,
			FieldErrors{{Path: "/uris", Errors: []string{"cannot specify both uris and fetch"}}},
		},
		"ports and portDefinitions": {
			`{"id": "/a", "ports": [1], "portDefinitions": [{"port": 2}]}`,
			FieldErrors{{Path: "/ports", Errors: []string{"cannot specify both ports and portDefinitions"}}},
		},
		"unsupported Marathon fields": {
			`{"id": "/a", "ipAddress": {"networkName": "n"}, "check": {}, "executorResources": {},
			  "container": {"linuxInfo": {}, "docker": {"image": "i", "pullConfig": {"secret": "s"}},
			                "volumes": [{"containerPath": "p", "persistent": {"size": 1}}],
			                "portMappings": [{"networkNames": ["n"]}]},
			  "healthChecks": [{"ipProtocol": "IPv6"}]}`,
			FieldErrors{
				{Path: "/check", Errors: []string{ErrNotSupported}},
				{Path: "/container/docker/pullConfig", Errors: []string{ErrNotSupported}},
				{Path: "/container/linuxInfo", Errors: []string{ErrNotSupported}},
				{Path: "/container/portMappings/0/networkNames", Errors: []string{ErrNotSupported}},
				{Path: "/container/volumes/0/persistent", Errors: []string{ErrNotSupported}},
				{Path: "/executorResources", Errors: []string{ErrNotSupported}},
				{Path: "/healthChecks/0/ipProtocol", Errors: []string{ErrNotSupported}},
				{Path: "/ipAddress", Errors: []string{ErrNotSupported}},
			},
		},
		"unreachable strategy": {
			`{"id": "/a", "unreachableStrategy": "enabled"}`,
			FieldErrors{{Path: "/unreachableStrategy", Errors: []string{`unknown value "enabled" (the string "disabled" or an object)`}}},
		},
		"resource limits": {
			`{"id": "/a", "resourceLimits": {"cpus": true, "disk": 1}}`,
			FieldErrors{
				{Path: "/resourceLimits/cpus", Errors: []string{ErrExpectedNumber}},
				{Path: "/resourceLimits/disk", Errors: []string{ErrUnknownField}},
			},
		},
		"number out of range": {
			`{"id": "/a", "mem": 1e400}`,
			FieldErrors{{Path: "/mem", Errors: []string{"number 1e400 is out of range"}}},
		},
		"json pointer escapes keys": {
			`{"id": "/a", "labels": {"a/b~c": 1}}`,
			FieldErrors{{Path: "/labels/a~1b~0c", Errors: []string{ErrExpectedString}}},
		},
		"not an object": {
			`[1]`,
			FieldErrors{{Path: "/", Errors: []string{ErrExpectedObject}}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := DecodeApp([]byte(tt.in))
			if a != nil {
				t.Errorf("got an app with an error")
			}
			var got FieldErrors
			if !errors.As(err, &got) {
				t.Fatalf("want FieldErrors, got %T %v", err, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got  %s\n want %s", indent(t, got), indent(t, tt.want))
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := map[string]struct {
		in                string
		offset, line, col int
		msg               string
	}{
		"bad literal":       {"{\n  \"id\": \"/a\",\n  \"cmd\": tru}", 28, 3, 13, "invalid character '}' in literal true"},
		"missing comma":     {`{"id": "/a" "cmd": "x"}`, 12, 1, 13, `invalid character '"' after object key:value pair`},
		"truncated":         {`{"id": "/a", "env": {`, 21, 1, 22, "unexpected end of JSON input"},
		"empty":             {``, 0, 1, 1, "unexpected end of JSON input"},
		"trailing data":     {`{"id": "/a"} x`, 13, 1, 14, "invalid character 'x' after top-level value"},
		"control character": {"{\"id\": \"a\tb\"}", 9, 1, 10, "invalid control character in string literal"},
		"invalid utf-8":     {"{\"id\": \"\xff\"}", 8, 1, 9, "invalid UTF-8 in string"},
		"bad escape":        {`{"id": "\x"}`, 9, 1, 10, `invalid escape 'x' in string`},
		"bad number":        {`{"instances": -}`, 15, 1, 16, "invalid character '}' in numeric literal"},
		"leading zero":      {`{"instances": 01}`, 15, 1, 16, "invalid character '1' after object key:value pair"},
		"syntax in ignored": {`{"tasks": [1,]}`, 13, 1, 14, "invalid character ']' looking for beginning of value"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeApp([]byte(tt.in))
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("want *SyntaxError, got %T %v", err, err)
			}
			want := SyntaxError{Msg: tt.msg, Offset: int64(tt.offset), Line: tt.line, Column: tt.col}
			if *se != want {
				t.Errorf("got %+v, want %+v", *se, want)
			}
			if !strings.Contains(se.Error(), fmt.Sprintf("line %d, column %d (byte offset %d)", tt.line, tt.col, tt.offset)) {
				t.Errorf("message %q does not locate the error", se.Error())
			}
		})
	}
}

func TestDepthLimit(t *testing.T) {
	deep := `{"id": "/a", "tasks": ` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`
	_, err := DecodeApp([]byte(deep))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Msg != "exceeded max depth" {
		t.Fatalf("got %v", err)
	}
	ok := `{"id": "/a", "tasks": ` + strings.Repeat("[", maxDepth-2) + strings.Repeat("]", maxDepth-2) + `}`
	if _, err := DecodeApp([]byte(ok)); err != nil {
		t.Fatalf("depth %d rejected: %v", maxDepth-1, err)
	}
}

func TestAbsentVersusZero(t *testing.T) {
	tests := map[string]struct {
		in    string
		check func(*App) string
	}{
		"absent fields keep Marathon's defaults": {`{"id": "/a"}`, func(a *App) string {
			want := NewApp("/a")
			want.ApplyDefaults()
			if !reflect.DeepEqual(a, want) {
				return fmt.Sprintf("got %#v", a)
			}
			return ""
		}},
		"explicit zeros are kept": {`{"id": "/a", "instances": 0, "cpus": 0, "mem": 0, "backoffFactor": 0, "upgradeStrategy": {"minimumHealthCapacity": 0}}`, func(a *App) string {
			if a.Instances != 0 || a.Cpus != 0 || a.Mem != 0 || a.BackoffFactor != 0 ||
				a.UpgradeStrategy != (UpgradeStrategy{MinimumHealthCapacity: 0, MaximumOverCapacity: 1}) {
				return fmt.Sprintf("got %+v", a)
			}
			return ""
		}},
		"null is absent": {`{"id": "/a", "instances": null, "cmd": null, "args": null, "container": null, "upgradeStrategy": null, "unreachableStrategy": null}`, func(a *App) string {
			if a.Instances != 1 || a.Container != nil || a.UpgradeStrategy.MinimumHealthCapacity != 1 || *a.UnreachableStrategy != (UnreachableStrategy{}) {
				return fmt.Sprintf("got %+v", a)
			}
			return ""
		}},
		"absent portDefinitions get the default port": {`{"id": "/a"}`, func(a *App) string {
			if !reflect.DeepEqual(a.PortDefinitions, []PortDefinition{{Port: 0, Protocol: "tcp", Name: DefaultPortName}}) {
				return fmt.Sprintf("got %#v", a.PortDefinitions)
			}
			return ""
		}},
		"empty portDefinitions mean no ports": {`{"id": "/a", "portDefinitions": []}`, func(a *App) string {
			if a.PortDefinitions == nil || len(a.PortDefinitions) != 0 {
				return fmt.Sprintf("got %#v", a.PortDefinitions)
			}
			return ""
		}},
		"empty ports mean no ports": {`{"id": "/a", "ports": []}`, func(a *App) string {
			if a.PortDefinitions == nil || len(a.PortDefinitions) != 0 {
				return fmt.Sprintf("got %#v", a.PortDefinitions)
			}
			return ""
		}},
		"health and readiness checks start from their defaults": {`{"id": "/a", "healthChecks": [{"protocol": "TCP", "port": 80}], "readinessChecks": [{"portName": "default"}]}`, func(a *App) string {
			h := DefaultHealthCheck()
			h.Protocol, h.Port = "TCP", 80
			r := DefaultReadinessCheck()
			r.PortName = "default"
			if !reflect.DeepEqual(a.HealthChecks, []HealthCheck{h}) || !reflect.DeepEqual(a.ReadinessChecks, []ReadinessCheck{r}) {
				return fmt.Sprintf("got %#v %#v", a.HealthChecks, a.ReadinessChecks)
			}
			return ""
		}},
		"fetch extract defaults to true": {`{"id": "/a", "fetch": [{"uri": "x.sh"}]}`, func(a *App) string {
			if !reflect.DeepEqual(a.Fetch, []Artifact{{URI: "x.sh", Extract: true}}) {
				return fmt.Sprintf("got %#v", a.Fetch)
			}
			return ""
		}},
		"unreachable object members default to 0": {`{"id": "/a", "unreachableStrategy": {"expungeAfterSeconds": 10}}`, func(a *App) string {
			if *a.UnreachableStrategy != (UnreachableStrategy{ExpungeAfterSeconds: 10}) {
				return fmt.Sprintf("got %#v", a.UnreachableStrategy)
			}
			return ""
		}},
		"integral numbers in any notation": {`{"id": "/a", "instances": 2.0, "gpus": 1e1, "taskKillGracePeriodSeconds": -0}`, func(a *App) string {
			if a.Instances != 2 || a.Gpus != 10 || a.TaskKillGracePeriodSeconds != 0 {
				return fmt.Sprintf("got %d %d %d", a.Instances, a.Gpus, a.TaskKillGracePeriodSeconds)
			}
			return ""
		}},
		"escapes and unicode": {`{"id": "/a", "cmd": "a\"b\\c\/d\n\u00e9\ud83d\ude00\ud800x", "env": {"K\u00e9": "v"}}`, func(a *App) string {
			if a.Cmd != "a\"b\\c/d\né😀\uFFFDx" || a.Env["Ké"] != "v" {
				return fmt.Sprintf("got %q %v", a.Cmd, a.Env)
			}
			return ""
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := DecodeApp([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(a); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestDeprecatedForms(t *testing.T) {
	a, err := DecodeApp([]byte(`{"id": "/a", "cmd": "x",
		"uris": ["https://h/a.tgz", "https://h/b.tar.gz", "https://h/c.tbz2", "https://h/d.tar.bz2",
		         "https://h/e.txz", "https://h/f.tar.xz", "https://h/g.zip", "https://h/run.sh", "https://h/x.tar"],
		"ports": [10013, 0]}`))
	if err != nil {
		t.Fatal(err)
	}
	var extracted []string
	for _, f := range a.Fetch {
		if f.Executable || f.Cache || f.DestPath != "" {
			t.Errorf("uri %s: %+v", f.URI, f)
		}
		if f.Extract {
			extracted = append(extracted, f.URI[len("https://h/"):])
		}
	}
	if want := []string{"a.tgz", "b.tar.gz", "c.tbz2", "d.tar.bz2", "e.txz", "f.tar.xz", "g.zip"}; !slices.Equal(extracted, want) {
		t.Errorf("extracted %v, want %v", extracted, want)
	}
	if want := []PortDefinition{{Port: 10013, Protocol: "tcp"}, {Port: 0, Protocol: "tcp"}}; !reflect.DeepEqual(a.PortDefinitions, want) {
		t.Errorf("ports: %+v", a.PortDefinitions)
	}
	enc := string(mustMarshal(t, a))
	if strings.Contains(enc, `"uris"`) || strings.Contains(enc, `"ports"`) || !strings.Contains(enc, `"fetch"`) || !strings.Contains(enc, `"portDefinitions"`) {
		t.Errorf("encoding uses deprecated forms: %s", enc)
	}
	// One side empty: the other wins, as in Marathon.
	for _, in := range []string{
		`{"id": "/a", "uris": [], "fetch": [{"uri": "f"}], "ports": [], "portDefinitions": [{"port": 1}]}`,
		`{"id": "/a", "uris": ["f"], "fetch": [], "ports": [1], "portDefinitions": []}`,
	} {
		a, err := DecodeApp([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(a.Fetch) != 1 || a.Fetch[0].URI != "f" || len(a.PortDefinitions) != 1 || a.PortDefinitions[0].Port != 1 {
			t.Errorf("%s: got %+v %+v", in, a.Fetch, a.PortDefinitions)
		}
	}
}

func TestAppInfoFieldsIgnored(t *testing.T) {
	base := `{"id": "/a", "cmd": "x", "version": "2015-09-25T15:13:48.343Z", "versionInfo": {"lastScalingAt": "s", "lastConfigChangeAt": "c"}}`
	want, err := DecodeApp([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if want.Version != "2015-09-25T15:13:48.343Z" || *want.VersionInfo != (VersionInfo{LastScalingAt: "s", LastConfigChangeAt: "c"}) {
		t.Fatalf("version not kept: %+v", want)
	}
	for _, field := range []string{
		`"tasks": [{"id": "a.1", "anything": {"nested": [1, 2]}}]`, `"tasksStaged": 0`, `"tasksRunning": 2`,
		`"tasksHealthy": 2`, `"tasksUnhealthy": 0`, `"deployments": [{"id": "d"}]`,
		`"lastTaskFailure": {"message": "m"}`, `"readinessCheckResults": []`, `"taskStats": {}`,
		`"tasksStats": {}`, `"residency": {"taskLostBehavior": "WAIT_FOREVER"}`, `"storeUrls": ["u"]`,
		`"ipAddress": null`, `"check": null`, `"executorResources": null`,
	} {
		t.Run(field, func(t *testing.T) {
			got, err := DecodeApp([]byte(base[:len(base)-1] + ", " + field + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestMarshalShape(t *testing.T) {
	a := NewApp("/a")
	a.Cmd = "x"
	a.Env = map[string]string{"B": "2", "A": "1"}
	a.EnvSecrets = map[string]string{"C": "s"}
	a.Labels = map[string]string{"z": "1", "a": "2"}
	a.Constraints = []Constraint{{Field: "hostname", Operator: "UNIQUE"}, {Field: "rack", Operator: "GROUP_BY", Value: "2"}}
	a.UnreachableStrategy = &UnreachableStrategy{Disabled: true}
	a.Cpus = 0.1
	a.Mem = 1e21
	a.Disk = 1e-7
	a.PortDefinitions = []PortDefinition{}
	got := string(mustMarshal(t, a))
	want := `{"id":"/a","cmd":"x","env":{"A":"1","B":"2","C":{"secret":"s"}},"instances":1,"cpus":0.1,"mem":1e+21,"disk":1e-7,"gpus":0,` +
		`"constraints":[["hostname","UNIQUE"],["rack","GROUP_BY","2"]],"portDefinitions":[],"requirePorts":false,` +
		`"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1},"backoffSeconds":1,"backoffFactor":1.15,` +
		`"maxLaunchDelaySeconds":300,"killSelection":"YOUNGEST_FIRST","unreachableStrategy":"disabled","labels":{"a":"2","z":"1"}}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The same app always encodes to the same bytes (map order is random).
	for i := 0; i < 20; i++ {
		if again := string(mustMarshal(t, a.Clone())); again != got {
			t.Fatalf("not deterministic:\n%s\n%s", got, again)
		}
	}
}

// TestStrideFields: Stride's own fields (beyond Marathon) are written only when
// set, as top-level fields, and read back.
func TestStrideFields(t *testing.T) {
	a := NewApp("/a")
	a.Cmd = "x"
	plain := string(mustMarshal(t, a))
	for _, k := range []string{"giveUpAfter", "progressDeadlineSeconds", "autoRevert"} {
		if strings.Contains(plain, k) {
			t.Errorf("%s written for an app that does not set it: %s", k, plain)
		}
	}
	a.GiveUpAfter, a.ProgressDeadlineSeconds, a.AutoRevert = 3, 300, true
	got := string(mustMarshal(t, a))
	if want := `"maxLaunchDelaySeconds":300,"giveUpAfter":3,"progressDeadlineSeconds":300,"autoRevert":true,"killSelection"`; !strings.Contains(got, want) {
		t.Errorf("got %s\nwant it to contain %s", got, want)
	}
	back, err := DecodeApp([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if back.GiveUpAfter != 3 || back.ProgressDeadlineSeconds != 300 || !back.AutoRevert {
		t.Errorf("decoded %+v", back)
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := map[string]func(*App){
		"NaN":                  func(a *App) { a.Cpus = math.NaN() },
		"infinity":             func(a *App) { a.UpgradeStrategy.MaximumOverCapacity = math.Inf(1) },
		"env value and secret": func(a *App) { a.Env = map[string]string{"A": "1"}; a.EnvSecrets = map[string]string{"A": "s"} },
		"resource limit type":  func(a *App) { a.ResourceLimits = &ResourceLimits{Cpus: []int{1}} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			a := NewApp("/a")
			mutate(a)
			if b, err := a.MarshalJSON(); err == nil {
				t.Errorf("no error, got %s", b)
			}
		})
	}
}

func TestStringEscaping(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x01\x1f\n\r\t", "<>&", "é😀", "\u2028\u2029", "日本"} {
		got := AppendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q: encoded %s, read back %q (%v)", s, got, back, err)
		}
		want, _ := json.Marshal(s)
		if !json.Valid(got) || (!strings.ContainsAny(s, "<>&") && string(got) != string(want)) {
			t.Errorf("%q: got %s, encoding/json %s", s, got, want)
		}
	}
	if got := string(AppendJSONString(nil, "a\xffb")); got != `"a\ufffdb"` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

func TestConstraintJSON(t *testing.T) {
	tests := map[string]struct {
		c    Constraint
		json string
	}{
		"two elements":   {Constraint{"hostname", "UNIQUE", ""}, `["hostname","UNIQUE"]`},
		"three elements": {Constraint{"rack_id", "GROUP_BY", "3"}, `["rack_id","GROUP_BY","3"]`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(tt.c)
			if err != nil || string(b) != tt.json {
				t.Fatalf("marshal: %s %v", b, err)
			}
			var c Constraint
			if err := json.Unmarshal(b, &c); err != nil || c != tt.c {
				t.Fatalf("unmarshal: %+v %v", c, err)
			}
		})
	}
	var c Constraint
	err := json.Unmarshal([]byte(`["a"]`), &c)
	var fe FieldErrors
	if !errors.As(err, &fe) || fe[0].Path != "/" {
		t.Errorf("bad arity: %v", err)
	}
}

func TestUnreachableStrategyJSON(t *testing.T) {
	for _, tt := range []struct {
		u    UnreachableStrategy
		json string
	}{
		{UnreachableStrategy{Disabled: true}, `"disabled"`},
		{UnreachableStrategy{InactiveAfterSeconds: 1, ExpungeAfterSeconds: 2}, `{"inactiveAfterSeconds":1,"expungeAfterSeconds":2}`},
	} {
		b, err := json.Marshal(tt.u)
		if err != nil || string(b) != tt.json {
			t.Fatalf("marshal: %s %v", b, err)
		}
		var u UnreachableStrategy
		if err := json.Unmarshal(b, &u); err != nil || u != tt.u {
			t.Fatalf("unmarshal %s: %+v %v", b, u, err)
		}
	}
	var u UnreachableStrategy
	if err := json.Unmarshal([]byte(`5`), &u); err == nil {
		t.Error("number accepted")
	}
}

// TestEmbedded: apps inside plans and deployments go through MarshalJSON and
// UnmarshalJSON when encoding/json handles the enclosing value.
func TestEmbedded(t *testing.T) {
	a, err := DecodeApp(fixtureApps(t, filepath.Join(fixtureDir, "full.json"))[0])
	if err != nil {
		t.Fatal(err)
	}
	p := &Plan{FormatVersion: PlanFormatVersion, Changes: []*Change{{ID: a.ID, Action: ActionCreate, After: a}}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Changes[0].After, a) || back.Changes[0].Before != nil {
		t.Errorf("app changed through a plan:\n%#v\n%#v", back.Changes[0].After, a)
	}
}

func TestDecodeState(t *testing.T) {
	t.Run("ok", func(t *testing.T) {
		st, err := DecodeState([]byte(`{"serial": 42, "apps": [{"id": "/a", "cmd": "x"}, {"id": "/b", "cmd": "y", "portDefinitions": []}]}`))
		if err != nil {
			t.Fatal(err)
		}
		want := []*App{NewApp("/a"), NewApp("/b")}
		want[0].Cmd, want[1].Cmd = "x", "y"
		want[1].PortDefinitions = []PortDefinition{}
		for _, a := range want {
			a.ApplyDefaults()
		}
		if st.Serial != 42 || !reflect.DeepEqual(st.Apps, want) {
			t.Errorf("got %d %+v", st.Serial, st.Apps)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		st := &State{Serial: 7}
		for _, path := range fixtures(t, fixtureDir) {
			for _, doc := range fixtureApps(t, path) {
				a, err := DecodeApp(doc)
				if err != nil {
					t.Fatal(err)
				}
				a.ID = fmt.Sprintf("/state/app-%d", len(st.Apps))
				a.Dependencies = nil
				st.Apps = append(st.Apps, a)
			}
		}
		b, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, st) {
			t.Error("state changed in a round trip")
		}
	})
	errTests := map[string]struct {
		in   string
		want FieldErrors
	}{
		"errors name the app": {
			`{"serial": 1, "apps": [{"id": "/a"}, {"id": "/b", "cpus": "x", "bogus": 1}, 3]}`,
			FieldErrors{
				{Path: "/apps/1/bogus", Errors: []string{ErrUnknownField}},
				{Path: "/apps/1/cpus", Errors: []string{ErrExpectedNumber}},
				{Path: "/apps/2", Errors: []string{ErrExpectedObject}},
			},
		},
		"unknown top-level field": {
			`{"serial": 1, "apps": [], "groups": []}`,
			FieldErrors{{Path: "/groups", Errors: []string{ErrUnknownField}}},
		},
		"duplicate ids": {
			`{"serial": 1, "apps": [{"id": "/a"}, {"id": "/b"}, {"id": "/a"}]}`,
			FieldErrors{{Path: "/apps/2/id", Errors: []string{`duplicate app id "/a" (also /apps/0)`}}},
		},
		"serial": {
			`{"serial": -1, "apps": {}}`,
			FieldErrors{
				{Path: "/apps", Errors: []string{ErrExpectedArray}},
				{Path: "/serial", Errors: []string{ErrExpectedInt}},
			},
		},
	}
	for name, tt := range errTests {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeState([]byte(tt.in))
			var got FieldErrors
			if !errors.As(err, &got) {
				t.Fatalf("want FieldErrors, got %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", indent(t, got), indent(t, tt.want))
			}
		})
	}
	t.Run("syntax error", func(t *testing.T) {
		_, err := DecodeState([]byte("{\"serial\": 1,\n \"apps\": [}"))
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != 2 || se.Column != 11 {
			t.Errorf("got %v", err)
		}
	})
}

// TestRandomRoundTrip is the codec's property: any app, after ApplyDefaults,
// reads back deep-equal from its encoding.
func TestRandomRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		a := randomApp(rng)
		a.ApplyDefaults()
		enc, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("app %d: %v", i, err)
		}
		back, err := DecodeApp(enc)
		if err != nil {
			t.Fatalf("app %d: %v\n%s", i, err, enc)
		}
		if !reflect.DeepEqual(a, back) {
			t.Fatalf("app %d changed:\n%#v\n%#v\n%s", i, a, back, enc)
		}
	}
}

var randomStrings = []string{"", "a", "web", "/shop/db", "../infra", "HTTP", "TCP", "tcp", "UNIQUE", "x y", "é😀", "q\"\\", "\n\t", "<&>", "\u2028", "0", "-1"}

// randomApp fills every field of an App by reflection, so that new fields are
// covered without changing the test. Values JSON cannot carry losslessly are
// avoided: NaN and infinities, invalid UTF-8, non-float resource limits, a name in
// both Env and EnvSecrets, seconds on a disabled unreachable strategy.
func randomApp(rng *rand.Rand) *App {
	a := &App{}
	fillRandom(rng, reflect.ValueOf(a).Elem(), 0)
	a.Source = nil
	for k := range a.EnvSecrets {
		delete(a.Env, k)
	}
	if u := a.UnreachableStrategy; u != nil && u.Disabled {
		*u = UnreachableStrategy{Disabled: true}
	}
	return a
}

func fillRandom(rng *rand.Rand, v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(randomStrings[rng.Intn(len(randomStrings))])
	case reflect.Int:
		switch rng.Intn(4) {
		case 0:
			v.SetInt(0)
		case 1:
			v.SetInt(int64(rng.Intn(100)))
		case 2:
			v.SetInt(-int64(rng.Intn(100)))
		default:
			v.SetInt(rng.Int63() - rng.Int63())
		}
	case reflect.Float64:
		switch rng.Intn(3) {
		case 0:
			v.SetFloat(float64(rng.Intn(10)))
		case 1:
			v.SetFloat(rng.NormFloat64() * math.Pow(10, float64(rng.Intn(60)-30)))
		default:
			v.SetFloat(rng.Float64())
		}
	case reflect.Bool:
		v.SetBool(rng.Intn(2) == 0)
	case reflect.Pointer:
		if rng.Intn(3) == 0 || depth > 6 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(rng, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		switch rng.Intn(4) {
		case 0:
			return // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			n := 1 + rng.Intn(3)
			s := reflect.MakeSlice(v.Type(), n, n)
			for i := 0; i < n; i++ {
				fillRandom(rng, s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		if rng.Intn(3) == 0 {
			return
		}
		m := reflect.MakeMap(v.Type())
		for i := rng.Intn(4); i > 0; i-- {
			k := reflect.New(v.Type().Key()).Elem()
			fillRandom(rng, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fillRandom(rng, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillRandom(rng, v.Field(i), depth+1)
			}
		}
	case reflect.Interface: // ResourceLimits: a number or "unlimited"
		switch rng.Intn(3) {
		case 0:
		case 1:
			v.Set(reflect.ValueOf(rng.Float64() * 10))
		default:
			v.Set(reflect.ValueOf("unlimited"))
		}
	}
}

func FuzzDecodeApp(f *testing.F) {
	for _, dir := range []string{fixtureDir, filepath.Join(fixtureDir, "invalid")} {
		for _, path := range fixtures(f, dir) {
			for _, doc := range fixtureApps(f, path) {
				f.Add(doc)
			}
		}
	}
	f.Add([]byte(`{"id": "/a", "cmd": "\u00e9\ud800", "constraints": [["a","b"]], "unreachableStrategy": "disabled"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeApp(data)
		if err != nil {
			var fe FieldErrors
			var se *SyntaxError
			if !errors.As(err, &fe) && !errors.As(err, &se) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			// Same verdict as encoding/json, except that invalid UTF-8, which
			// encoding/json replaces silently, is rejected (RFC 8259).
			if valid := json.Valid(data); valid != (se == nil) && !(valid && se.Msg == "invalid UTF-8 in string") {
				t.Fatalf("syntax verdict differs from encoding/json (valid=%v): %v", valid, err)
			}
			return
		}
		_ = a.Validate() // must not panic
		enc, err := a.MarshalJSON()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := DecodeApp(enc)
		if err != nil {
			t.Fatalf("decode of the encoding: %v\n%s", err, enc)
		}
		if !reflect.DeepEqual(a, back) {
			t.Fatalf("round trip changed the app:\n%#v\n%#v", a, back)
		}
		if c := a.Clone(); !reflect.DeepEqual(a, c) {
			t.Fatalf("clone differs")
		}
	})
}

func benchApp(b *testing.B) []byte {
	data := fixtureApps(b, filepath.Join(fixtureDir, "full.json"))[0]
	if _, err := DecodeApp(data); err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecodeApp(b *testing.B) {
	data := benchApp(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeApp(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalApp(b *testing.B) {
	a, _ := DecodeApp(benchApp(b))
	enc, err := a.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	if back, err := DecodeApp(enc); err != nil || !reflect.DeepEqual(back, a) {
		b.Fatalf("encoding does not read back: %v", err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// stateOf returns a state file of n apps cycling through the fixtures.
func stateOf(b *testing.B, n int) []byte {
	var apps []*App
	for _, path := range fixtures(b, fixtureDir) {
		for _, doc := range fixtureApps(b, path) {
			a, err := DecodeApp(doc)
			if err != nil {
				b.Fatal(err)
			}
			apps = append(apps, a)
		}
	}
	st := &State{Serial: 1}
	for i := 0; i < n; i++ {
		a := apps[i%len(apps)].Clone()
		a.ID = fmt.Sprintf("/bench/g%d/app-%d", i%100, i)
		a.Dependencies = nil
		st.Apps = append(st.Apps, a)
	}
	data, err := json.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkDecodeState10k(b *testing.B) {
	const n = 10000
	data := stateOf(b, n)
	st, err := DecodeState(data)
	if err != nil || len(st.Apps) != n {
		b.Fatalf("decoded %v apps: %v", st, err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeState(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "apps/s")
}
