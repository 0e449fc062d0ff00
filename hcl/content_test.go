package hcl

import (
	"reflect"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestBodyContentMatchesHCL checks that bodyContent gives what hcl's Content
// gives, for bodies that fit the schema (the fast path) and bodies that do not
// (hcl's diagnostics).
func TestBodyContentMatchesHCL(t *testing.T) {
	schema := &hcl2.BodySchema{
		Attributes: []hcl2.AttributeSchema{{Name: "cmd"}, {Name: "mem"}, {Name: "name", Required: true}},
		Blocks:     []hcl2.BlockHeaderSchema{{Type: "port", LabelNames: []string{"name"}}, {Type: "check"}},
	}
	tests := []struct {
		name, src string
		fast      bool
	}{
		{"attributes only", "name = \"a\"\ncmd = \"x\"\n", true},
		{"blocks in order", "name = \"a\"\nport \"http\" {}\ncheck {}\nport \"admin\" {}\n", true},
		{"empty but required", "", false},
		{"unknown argument", "name = \"a\"\ncmnd = \"x\"\n", false},
		{"unknown block", "name = \"a\"\nprot \"http\" {}\n", false},
		{"missing label", "name = \"a\"\nport {}\n", false},
		{"extra label", "name = \"a\"\ncheck \"x\" {}\n", false},
		{"argument as block", "name = \"a\"\ncmd {}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tt.src), "t.hcl", hcl2.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			body := f.Body.(*hclsyntax.Body)
			if got := fitsSchema(body, schema); got != tt.fast {
				t.Errorf("fitsSchema = %v, want %v", got, tt.fast)
			}
			got, gotDiags := bodyContent(body, schema)
			want, wantDiags := body.Content(schema)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("content = %#v\nwant %#v", got, want)
			}
			if gotDiags.Error() != wantDiags.Error() || len(gotDiags) != len(wantDiags) {
				t.Errorf("diagnostics = %v, want %v", gotDiags, wantDiags)
			}
		})
	}
}

// TestLiteralValueMatchesHCL checks that the literal fast path gives the value
// hcl's evaluation gives, and leaves everything else to it.
func TestLiteralValueMatchesHCL(t *testing.T) {
	tests := []struct {
		name, src string
		literal   bool
		refFree   bool // refers to nothing (literal or not)
	}{
		{"number", "1.5", true, true},
		{"bool", "true", true, true},
		{"null", "null", true, true},
		{"string", `"exec ./svc"`, true, true},
		{"empty string", `""`, true, true},
		{"escapes", `"a\tb\u00e9"`, true, true},
		{"decomposed accent", "\"e\u0301\"", true, true},
		{"escaped interpolation", `"$${x} %%{y}"`, true, true},
		{"interpolated number", `"a${1}"`, false, true},
		{"interpolation", `"a${x}"`, false, false},
		{"reference", `var.x`, false, false},
		{"tuple", `[1, 2]`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tt.src), "t.hcl", hcl2.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, ok := literalValue(expr)
			if ok != tt.literal {
				t.Fatalf("literal = %v, want %v", ok, tt.literal)
			}
			if got := refFree(expr); got != tt.refFree {
				t.Errorf("refFree = %v, want %v", got, tt.refFree)
			}
			if !ok {
				return
			}
			want, diags := expr.Value(nil)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if !got.RawEquals(want) {
				t.Errorf("value = %#v, want %#v", got, want)
			}
		})
	}
}
