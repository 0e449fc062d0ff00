package engine

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// strideOnlyKeys are the top-level members of the full app encoding that
// Marathon's app JSON does not have. A field added to App shows up here (and
// fails TestMarathonEncodingKeepsEveryMarathonField) until it is either listed
// here — it is Stride's, and /v2 leaves it out — or added to marathonAppSchema,
// because Marathon has it.
var strideOnlyKeys = []string{"autoRevert", "giveUpAfter", "lifecycle", "progressDeadlineSeconds", "sensitive", "service"}

// TestMarathonEncodingKeepsEveryMarathonField encodes an app with every field
// set both ways: the Marathon encoding must be the full one without exactly the
// Stride-only members, every other value equal at every depth.
func TestMarathonEncodingKeepsEveryMarathonField(t *testing.T) {
	a := fullApp()
	a.EnvSecrets = nil // a name in both Env and EnvSecrets does not encode
	a.Source = nil
	full, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	mar, err := a.MarshalMarathonJSON()
	if err != nil {
		t.Fatal(err)
	}
	var fullDoc, marDoc map[string]any
	if err := json.Unmarshal(full, &fullDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mar, &marDoc); err != nil {
		t.Fatalf("the Marathon encoding is not JSON: %v\n%s", err, mar)
	}
	var dropped []string
	for k := range fullDoc {
		if _, ok := marDoc[k]; !ok {
			dropped = append(dropped, k)
		}
	}
	slices.Sort(dropped)
	if !slices.Equal(dropped, strideOnlyKeys) {
		t.Errorf("the Marathon encoding drops %v, want exactly %v: add a Marathon field to marathonAppSchema, a Stride-only one to strideOnlyKeys", dropped, strideOnlyKeys)
	}
	for _, k := range strideOnlyKeys {
		delete(fullDoc, k)
		if IsMarathonAppField(k) {
			t.Errorf("IsMarathonAppField(%q) = true", k)
		}
	}
	if !reflect.DeepEqual(fullDoc, marDoc) {
		t.Errorf("the Marathon encoding changed a Marathon value:\nfull:     %s\nmarathon: %s", full, mar)
	}
	for k := range marDoc {
		if !IsMarathonAppField(k) {
			t.Errorf("IsMarathonAppField(%q) = false", k)
		}
	}
}

// The filter drops members the schema does not list, at any depth, and keeps
// everything else byte for byte (escapes, numbers, nested maps).
func TestMarathonFilter(t *testing.T) {
	cases := map[string]struct{ in, want string }{
		"top level": {
			in:   `{"id":"/a","deployment":{"x":1},"cmd":"sleep 1","lifecycle":[1,2],"instances":2}`,
			want: `{"id":"/a","cmd":"sleep 1","instances":2}`,
		},
		"nested object": {
			in:   `{"upgradeStrategy":{"minimumHealthCapacity":1,"bogus":"}","maximumOverCapacity":0.5}}`,
			want: `{"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":0.5}}`,
		},
		"array elements": {
			in:   `{"healthChecks":[{"protocol":"HTTP","giveUpAfter":3},{"extra":{"a":[1]},"path":"/x"}]}`,
			want: `{"healthChecks":[{"protocol":"HTTP"},{"path":"/x"}]}`,
		},
		"maps kept whole": {
			in:   `{"env":{"A":"1","B":{"secret":"s"}},"labels":{"x\"y":"\u00e9"}}`,
			want: `{"env":{"A":"1","B":{"secret":"s"}},"labels":{"x\"y":"\u00e9"}}`,
		},
		"string form of an object member": {
			in:   `{"unreachableStrategy":"disabled"}`,
			want: `{"unreachableStrategy":"disabled"}`,
		},
		"escaped key is not a schema name": {
			in:   `{"i\u0064":"/a","id":"/b"}`,
			want: `{"id":"/b"}`,
		},
		"whitespace": {
			in:   "{ \"id\" : \"/a\" , \"service\" : { \"name\" : \"x\" } , \"cpus\" : 1 }",
			want: `{"id":"/a","cpus":1}`,
		},
		"empty": {in: `{}`, want: `{}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := string(MarathonOnly([]byte(tc.in))); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestSchemaParserRejectsMalformedSchemas(t *testing.T) {
	for name, s := range map[string]string{
		"unclosed":  "a{b c",
		"mismatch":  "a{b]",
		"duplicate": "a b a",
		"stray":     "a }",
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%q parsed", s)
				}
			}()
			mustParseSchema(s)
		})
	}
	if n := mustParseSchema(marathonAppSchema); len(n.fields) < 30 || n.fields["container"].fields["docker"] == nil {
		t.Fatalf("the app schema parsed to %d fields", len(n.fields))
	}
	if !strings.Contains(marathonAppSchema, "healthChecks[") {
		t.Fatal("schema lost healthChecks")
	}
}

func BenchmarkMarshalMarathonApp(b *testing.B) {
	a, err := DecodeApp(benchApp(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.MarshalMarathonJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

// [{"mode": "host"}] is what no networks means: Marathon 1.5+ writes it out,
// HCL has no networks; both read as the same app.
func TestHostNetworkIsTheDefault(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want int
	}{
		"host":             {`{"id":"/a","cmd":"x","networks":[{"mode":"host"}]}`, 0},
		"mode left out":    {`{"id":"/a","cmd":"x","networks":[{}]}`, 0},
		"host with labels": {`{"id":"/a","cmd":"x","networks":[{"mode":"host","labels":{"a":"b"}}]}`, 1},
		"bridge":           {`{"id":"/a","cmd":"x","networks":[{"mode":"container/bridge"}]}`, 1},
		"two":              {`{"id":"/a","cmd":"x","networks":[{"mode":"host"},{"mode":"host"}]}`, 2},
	} {
		t.Run(name, func(t *testing.T) {
			a, err := DecodeApp([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Networks) != tc.want {
				t.Fatalf("networks %+v, want %d", a.Networks, tc.want)
			}
		})
	}
}
