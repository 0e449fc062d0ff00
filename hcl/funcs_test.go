package hcl

import (
	"strings"
	"testing"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// evalJSON evaluates an expression with the Stride functions and returns its
// value JSON-encoded.
func evalJSON(t *testing.T, src string) (string, hcl2.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl2.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	v, diags := expr.Value(&hcl2.EvalContext{Functions: functions()})
	if diags.HasErrors() {
		return "", diags
	}
	b, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
	if err != nil {
		t.Fatal(err)
	}
	// Marshal with DynamicPseudoType wraps the value as {"value":..., "type":...}.
	s := string(b)
	s = strings.TrimPrefix(s, `{"value":`)
	return s[:strings.LastIndex(s, `,"type":`)], nil
}

// functionTests calls every function once; the table must cover every function
// the language offers.
var functionTests = map[string]struct{ expr, want string }{
	"abs":                    {`abs(-2.5)`, `2.5`},
	"ceil":                   {`ceil(1.2)`, `2`},
	"floor":                  {`floor(1.8)`, `1`},
	"log":                    {`log(8, 2)`, `3`},
	"max":                    {`max(1, 5, 3)`, `5`},
	"min":                    {`min(4, 2)`, `2`},
	"parseint":               {`parseint("ff", 16)`, `255`},
	"pow":                    {`pow(2, 10)`, `1024`},
	"signum":                 {`signum(-7)`, `-1`},
	"chomp":                  {`chomp("a\n")`, `"a"`},
	"format":                 {`format("%s-%03d", "web", 7)`, `"web-007"`},
	"formatlist":             {`formatlist("%s.svc", ["a", "b"])`, `["a.svc","b.svc"]`},
	"indent":                 {`indent(2, "a\nb")`, `"a\n  b"`},
	"join":                   {`join(",", ["a", "b"])`, `"a,b"`},
	"lower":                  {`lower("AbC")`, `"abc"`},
	"regex":                  {`regex("v([0-9]+)", "v42")`, `["42"]`},
	"regexall":               {`regexall("[0-9]", "a1b2")`, `["1","2"]`},
	"replace":                {`replace("a-b-c", "-", "_")`, `"a_b_c"`},
	"replace regexp":         {`replace("v1.2.3", "/[.]([0-9])/", "_$1")`, `"v1_2_3"`},
	"split":                  {`split(",", "a,b")`, `["a","b"]`},
	"strrev":                 {`strrev("abc")`, `"cba"`},
	"substr":                 {`substr("stride", 0, 3)`, `"str"`},
	"title":                  {`title("hello world")`, `"Hello World"`},
	"trim":                   {`trim("--a--", "-")`, `"a"`},
	"trimprefix":             {`trimprefix("/shop/api", "/shop/")`, `"api"`},
	"trimspace":              {`trimspace("  a ")`, `"a"`},
	"trimsuffix":             {`trimsuffix("api.tgz", ".tgz")`, `"api"`},
	"upper":                  {`upper("abc")`, `"ABC"`},
	"chunklist":              {`chunklist([1, 2, 3], 2)`, `[[1,2],[3]]`},
	"coalesce":               {`coalesce(null, "", "b")`, `""`},
	"coalescelist":           {`coalescelist([], ["x"])`, `["x"]`},
	"compact":                {`compact(["a", "", "b"])`, `["a","b"]`},
	"concat":                 {`concat(["a"], ["b"])`, `["a","b"]`},
	"contains":               {`contains(["a", "b"], "b")`, `true`},
	"distinct":               {`distinct(["a", "b", "a"])`, `["a","b"]`},
	"element":                {`element(["a", "b"], 3)`, `"b"`},
	"flatten":                {`flatten([["a"], [["b"]]])`, `["a","b"]`},
	"keys":                   {`keys({ b = 1, a = 2 })`, `["a","b"]`},
	"length list":            {`length([1, 2])`, `2`},
	"length string":          {`length("héllo")`, `5`},
	"length object":          {`length({ a = 1, b = "x" })`, `2`},
	"lookup":                 {`lookup({ a = "x" }, "b", "dflt")`, `"dflt"`},
	"merge":                  {`merge({ a = "1" }, { b = "2" })`, `{"a":"1","b":"2"}`},
	"range":                  {`range(3)`, `[0,1,2]`},
	"reverse":                {`reverse([1, 2, 3])`, `[3,2,1]`},
	"setintersection":        {`setintersection(["a", "b"], ["b"])`, `["b"]`},
	"setproduct":             {`setproduct(["a"], ["x", "y"])`, `[["a","x"],["a","y"]]`},
	"setsubtract":            {`setsubtract(["a", "b"], ["a"])`, `["b"]`},
	"setsymmetricdifference": {`setsymmetricdifference(["a", "b"], ["b", "c"])`, `["a","c"]`},
	"setunion":               {`setunion(["a"], ["b"])`, `["a","b"]`},
	"slice":                  {`slice(["a", "b", "c"], 1, 3)`, `["b","c"]`},
	"sort":                   {`sort(["b", "a"])`, `["a","b"]`},
	"values":                 {`values({ b = 1, a = 2 })`, `[2,1]`},
	"zipmap":                 {`zipmap(["a", "b"], [1, 2])`, `{"a":1,"b":2}`},
	"csvdecode":              {`csvdecode("a,b\n1,2\n")`, `[{"a":"1","b":"2"}]`},
	"jsondecode":             {`jsondecode("{\"a\": [1]}")`, `{"a":[1]}`},
	"jsonencode":             {`jsonencode({ a = [1] })`, `"{\"a\":[1]}"`},
	"formatdate":             {`formatdate("YYYY-MM-DD", "2024-03-01T10:00:00Z")`, `"2024-03-01"`},
	"timeadd":                {`timeadd("2024-03-01T10:00:00Z", "90m")`, `"2024-03-01T11:30:00Z"`},
	"tobool":                 {`tobool("true")`, `true`},
	"tolist":                 {`tolist(["a", 1])`, `["a","1"]`},
	"tomap":                  {`tomap({ a = 1, b = "x" })`, `{"a":"1","b":"x"}`},
	"tonumber":               {`tonumber("42")`, `42`},
	"toset":                  {`toset(["b", "a", "b"])`, `["a","b"]`},
	"tostring":               {`tostring(5)`, `"5"`},
	"try":                    {`try(jsondecode("{"), "fallback")`, `"fallback"`},
	"can":                    {`can(tonumber("x"))`, `false`},
	// A marked value cannot be encoded: nonsensitive shows the mark is there
	// (it refuses an unmarked value) and carried through upper.
	"sensitive":    {`nonsensitive(sensitive("ab"))`, `"ab"`},
	"nonsensitive": {`nonsensitive(upper(sensitive("ab")))`, `"AB"`},
}

// TestFunctions calls every function once and checks the result.
func TestFunctions(t *testing.T) {
	tests := functionTests
	covered := map[string]bool{}
	for name, tc := range tests {
		covered[strings.Fields(name)[0]] = true
		t.Run(name, func(t *testing.T) {
			got, diags := evalJSON(t, tc.expr)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", tc.expr, diags.Error())
			}
			if got != tc.want {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
	for name := range functions() {
		if !covered[name] {
			t.Errorf("function %s has no test", name)
		}
	}
}

// TestFunctionsAreSafe checks that nothing reading files, the clock or randomness
// is offered, and that conversions fail cleanly.
func TestFunctionsAreSafe(t *testing.T) {
	funcs := functions()
	for _, name := range []string{"file", "fileexists", "templatefile", "timestamp", "uuid", "bcrypt", "plantimestamp", "abspath", "pathexpand"} {
		if _, ok := funcs[name]; ok {
			t.Errorf("unsafe function %s is offered", name)
		}
	}
	for _, expr := range []string{`tonumber("x")`, `tobool(1)`, `tostring([1])`, `length(1)`, `replace("a", "/(/", "b")`} {
		if _, diags := evalJSON(t, expr); !diags.HasErrors() {
			t.Errorf("%s: no error", expr)
		}
	}
}
