package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// decodeWithTokens is the reference for parseOrdered: encoding/json's
// decoder, token by token, keeping object key order.
func decodeWithTokens(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := &object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeWithTokens(dec)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k.(string))
			o.vals = append(o.vals, v)
		}
		_, err := dec.Token()
		return o, err
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeWithTokens(dec)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token()
		return arr, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

func reference(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeWithTokens(dec)
	if err == nil && len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 {
		err = fmt.Errorf("data after the value")
	}
	return v, err
}

var jsonSamples = []string{
	`{}`, `[]`, `null`, `true`, `false`, `0`, `-1.5e+10`, `"x"`,
	`{"id":"/a","cmd":"exec ./svc --port $PORT0","instances":3,"cpus":0.25,"env":{"A":"1","B":"<&>"},"labels":{},"args":["a","b"],"constraints":[["hostname","UNIQUE"]],"healthChecks":[{"protocol":"HTTP","path":"/h","portIndex":0}],"fetch":[],"x":null,"t":true}`,
	` { "a" : [ 1 , 2 , { "b" : "c" } ] , "d" : "e\"f\\g\u00e9\n\u2028\ud83d\ude00" } `,
	`"caf\u00e9 \u003cb\u003e"`, `"\u00e9t\u00e9"`, "\"\xff\xfe bad utf-8\"", `"été"`,
	`{"a":1}x`, `{"a" 1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `"unterminated`, `{"a":-}`, `tru`, `nul`, "\"\x01\"", ``, `[`, `{"a":`,
}

// TestParseOrderedIsTheDecoder: parseOrdered reads what encoding/json's
// decoder reads, the same values in the same order, and refuses what it
// refuses.
func TestParseOrderedIsTheDecoder(t *testing.T) {
	samples := append([]string(nil), jsonSamples...)
	for _, a := range []*engine.App{sampleApp()} {
		raw, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		samples = append(samples, string(raw))
	}
	for _, s := range samples {
		checkParse(t, []byte(s))
	}
}

func FuzzParseOrdered(f *testing.F) {
	for _, s := range jsonSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, data) })
}

func checkParse(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := reference(data)
	got, err := parseOrdered(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: error %v, encoding/json's %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: %#v, encoding/json reads %#v", data, got, want)
	}
	if err == nil {
		var leaves []leaf
		flatten("", got, &leaves)
		for _, l := range leaves {
			if strings.Contains(l.value, "\n") {
				t.Fatalf("%q: a leaf spans lines: %q", data, l.value)
			}
		}
	}
}

// TestFormatValueFastPath: the values formatValue writes itself come out as
// encoding/json (HTML left alone) writes them.
func TestFormatValueFastPath(t *testing.T) {
	for _, v := range []any{"", "plain text $PORT0 {}", "<&>", `a"b`, `a\b`, "tab\there", "é", "\u2028", "\x7f", "\xff",
		json.Number("1.50"), json.Number("-0"), true, false, nil} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		if got, want := formatValue(v), strings.TrimSuffix(b.String(), "\n"); got != want {
			t.Errorf("formatValue(%#v) = %s, want %s", v, got, want)
		}
	}
}

func sampleApp() *engine.App {
	a := engine.NewApp("/shop/api")
	a.Cmd = "exec ./api --port $PORT0 <&> \"quoted\" été"
	a.Instances = 3
	a.Env = map[string]string{"A": "1", "B": "two"}
	a.Labels = map[string]string{"com.example/owner": "team"}
	a.Constraints = []engine.Constraint{{Field: "hostname", Operator: "UNIQUE"}}
	a.ApplyDefaults()
	return a
}
