package hcl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// budgetDir holds the budget fixtures: configurations that exceed the budget
// ("bombs"), and legit.hcl, large but sane. They are FuzzLoad seeds too.
const budgetDir = testdataDir + "/budget"

// nestedFor is a for expression over a literal list, nested five deep: 20^5
// elements (no function is needed, so it evaluates without any context).
var nestedFor = func() string {
	list := "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]"
	return fmt.Sprintf("[for a in %[1]s : [for b in %[1]s : [for c in %[1]s : [for d in %[1]s : [for e in %[1]s : e]]]]]", list)
}()

// budgetCase is one configuration for TestBudget: files (read from budgetDir,
// in-memory variable files among them when opts lists them) and options.
type budgetCase struct {
	files []string
	// opts gives the options; extra files (generated variable files) are
	// added to srcs.
	opts func(srcs map[string][]byte) Options
	// legit: the configuration is valid.
	legit bool
}

var budgetCases = map[string]budgetCase{
	"setproduct":            {files: []string{"setproduct.hcl"}},
	"string_doubling":       {files: []string{"string_doubling.hcl"}},
	"nested_for":            {files: []string{"nested_for.hcl"}},
	"range":                 {files: []string{"range.hcl"}},
	"format_width":          {files: []string{"format_width.hcl"}},
	"formatlist":            {files: []string{"formatlist.hcl"}},
	"join":                  {files: []string{"join.hcl"}},
	"flatten":               {files: []string{"flatten.hcl"}},
	"concat":                {files: []string{"concat.hcl"}},
	"chunklist":             {files: []string{"chunklist.hcl"}},
	"strrev":                {files: []string{"strrev.hcl"}},
	"replace":               {files: []string{"replace.hcl"}},
	"tolist":                {files: []string{"tolist.hcl"}},
	"toset":                 {files: []string{"toset.hcl"}},
	"indent":                {files: []string{"indent.hcl"}},
	"regex":                 {files: []string{"regex.hcl"}},
	"jsonencode":            {files: []string{"jsonencode.hcl"}},
	"equality":              {files: []string{"equality.hcl"}},
	"template_parts":        {files: []string{"template_parts.hcl"}},
	"template_directive":    {files: []string{"template_directive.hcl"}},
	"number_literal":        {files: []string{"number_literal.hcl"}},
	"number_arith":          {files: []string{"number_arith.hcl"}},
	"plus_chain":            {files: []string{"plus_chain.hcl"}},
	"app_for":               {files: []string{"app_for.hcl"}},
	"group_for":             {files: []string{"group_for.hcl"}},
	"variable_default":      {files: []string{"variable_default.hcl"}},
	"variable_type_default": {files: []string{"variable_type_default.hcl"}},
	"var_flag_string": {files: []string{"var_values.hcl"}, opts: func(map[string][]byte) Options {
		return Options{Vars: []string{"text=" + strings.Repeat("x", 2<<20)}}
	}},
	"var_flag_for": {files: []string{"var_values.hcl"}, opts: func(map[string][]byte) Options {
		return Options{Vars: []string{"list=" + nestedFor}}
	}},
	"var_flag_number": {files: []string{"var_values.hcl"}, opts: func(map[string][]byte) Options {
		return Options{Vars: []string{"num=1e600000000"}}
	}},
	"var_env": {files: []string{"var_values.hcl"}, opts: func(map[string][]byte) Options {
		return Options{Environ: []string{"STRIDE_VAR_text=" + strings.Repeat("x", 2<<20)}}
	}},
	"var_file": {files: []string{"var_values.hcl", "var_file.vars.hcl"}, opts: func(map[string][]byte) Options {
		return Options{VarFiles: []string{"var_file.vars.hcl"}}
	}},
	"var_file_json": {files: []string{"var_values.hcl"}, opts: func(srcs map[string][]byte) Options {
		srcs["big.vars.json"] = []byte(`{"list": [` + strings.Repeat("0,", 200000) + `0]}`)
		return Options{VarFiles: []string{"big.vars.json"}}
	}},
	"legit": {files: []string{"legit.hcl"}, legit: true},
}

// budgetResult is what the child process reports.
type budgetResult struct {
	Lines      []string
	Spec       bool
	Seconds    float64
	TotalAlloc uint64 // bytes allocated by Load
	PeakRSS    uint64 // the process's peak resident set (VmHWM), 0 if unknown
	HeapSys    uint64 // heap obtained from the system, at most the peak heap
}

const childEnv = "STRIDE_BUDGET_CASE"

// TestBudgetChild runs one case of TestBudget, in the child process TestBudget
// starts, and prints its result.
func TestBudgetChild(t *testing.T) {
	name := os.Getenv(childEnv)
	if name == "" {
		t.Skip("run by TestBudget")
	}
	res := runBudgetCase(t, name)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nBUDGET-RESULT %s\n", b)
}

func runBudgetCase(t *testing.T, name string) budgetResult {
	c, ok := budgetCases[name]
	if !ok {
		t.Fatalf("no case %q", name)
	}
	srcs := map[string][]byte{}
	for _, f := range c.files {
		b, err := os.ReadFile(filepath.Join(budgetDir, f))
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = b
	}
	var opts Options
	if c.opts != nil {
		opts = c.opts(srcs)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	cfg, diags := LoadSources(srcs, opts)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return budgetResult{
		Lines:      DiagnosticLines(diags),
		Spec:       cfg.Spec != nil,
		Seconds:    elapsed.Seconds(),
		TotalAlloc: after.TotalAlloc - before.TotalAlloc,
		PeakRSS:    peakRSS(),
		HeapSys:    after.HeapSys,
	}
}

// peakRSS is the process's peak resident set size (Linux), or 0.
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// memoryBound is what a case may use: total allocations by Load, and the
// peak resident set of the whole test process.
const memoryBound = 1 << 30

// TestBudget loads every budget case in a process of its own (so that its
// memory is its own) and checks that each bomb fails with the diagnostics of
// <case>.golden, at their file:line:col, having allocated less than 1 GiB in
// all and kept the process under 1 GiB; legit.hcl loads without diagnostics.
// Times are logged, not checked (but a case running for minutes fails).
func TestBudget(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("in the child")
	}
	names := sortedKeys(budgetCases)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			res := runChild(t, name)
			t.Logf("%-22s %6.0f ms  alloc %5d MiB  peak RSS %4d MiB  heap %4d MiB",
				name, res.Seconds*1000, res.TotalAlloc>>20, res.PeakRSS>>20, res.HeapSys>>20)
			if res.TotalAlloc >= memoryBound {
				t.Errorf("Load allocated %d MiB", res.TotalAlloc>>20)
			}
			if res.PeakRSS >= memoryBound || res.HeapSys >= memoryBound {
				t.Errorf("peak RSS %d MiB, heap %d MiB", res.PeakRSS>>20, res.HeapSys>>20)
			}
			c := budgetCases[name]
			if c.legit {
				if len(res.Lines) > 0 || !res.Spec {
					t.Errorf("diagnostics:\n%s", strings.Join(res.Lines, "\n"))
				}
				return
			}
			if res.Spec {
				t.Error("Spec returned along with errors")
			}
			budget := false
			for _, l := range res.Lines {
				budget = budget || strings.Contains(l, ": "+budgetSummary+": ") || strings.Contains(l, ": Nesting too deep: ")
			}
			if !budget {
				t.Errorf("no budget diagnostic at a file:line:col:\n%s", strings.Join(res.Lines, "\n"))
			}
			golden(t, filepath.Join(budgetDir, name+".golden"), strings.Join(res.Lines, "\n")+"\n")
		})
	}
}

func runChild(t *testing.T, name string) budgetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBudgetChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+name)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "BUDGET-RESULT "); ok {
			var res budgetResult
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("no result from the child:\n%s", out.String())
	return budgetResult{}
}

// TestBudgetLegit checks values near the limits, and common shapes over large
// inputs, that must keep working.
func TestBudgetLegit(t *testing.T) {
	cfg := mustLoad(t, map[string]string{"main.hcl": string(mustRead(t, filepath.Join(budgetDir, "legit.hcl")))}, Options{})
	api := cfg.Spec.Apps[0]
	if want := "exec ./api --replicas 5000 --pairs 10000 --size 1048576 --try 1"; api.Cmd != want {
		t.Errorf("cmd = %q, want %q", api.Cmd, want)
	}
	if len(api.Labels) != 100 || api.Labels["k7"] != "svc-7" {
		t.Errorf("labels = %v", api.Labels)
	}
	tests := map[string]struct{ expr, want string }{
		"for over 5000":                {`length([for i in flatten([for i in range(5) : range(1000)]) : "svc-${i}"])`, `5000`},
		"setproduct at the limit":      {`length(setproduct(range(100), range(333)))`, `33300`},
		"range at cty's cap":           {`length(range(1024))`, `1024`},
		"tolist of a large tuple":      {`length(tolist(flatten([for i in range(60) : range(1000)])))`, `60000`},
		"toset of a large tuple":       {`length(toset(flatten([for i in range(60) : range(1000)])))`, `1000`},
		"distinct of a large tuple":    {`length(distinct(flatten([for i in range(60) : range(1000)])))`, `1000`},
		"conditional over a list":      {`length(true ? tolist(flatten([for i in range(60) : range(1000)])) : [])`, `60000`},
		"conditional of equal tuples":  {`length(true ? [for i in flatten([for i in range(20) : range(1000)]) : i] : [for i in flatten([for i in range(20) : range(1000)]) : i + 1])`, `20000`},
		"join of 1 MiB":                {`length(join("", [for i in range(1024) : format("%1024s", "")]))`, `1048576`},
		"format at the width limit":    {`length(format("%1048576s", ""))`, `1048576`},
		"nested try":                   {strings.Repeat("try(", 30) + `jsondecode("{")` + strings.Repeat(`, 1)`, 30), `1`},
		"equality of large lists":      {`flatten([for i in range(60) : range(1000)]) == flatten([for i in range(60) : range(1000)])`, `true`},
		"regex over a long string":     {`length(regexall("[0-9]+", join(",", range(1000))))`, `1000`},
		"replace over a long string":   {`length(replace(join("", [for i in range(1000) : "abcdefghij"]), "a", "xy"))`, `11000`},
		"jsondecode of a large object": {`length(jsondecode(jsonencode({ for i in range(1000) : "k${i}" => [i, i, i] })))`, `1000`},
		"csvdecode":                    {`length(csvdecode(join("\n", concat(["a,b,c"], [for i in range(1000) : "1,2,3"]))))`, `1000`},
		"formatlist":                   {`length(formatlist("svc-%03d", range(1000)))`, `1000`},
		"numbers near the range":       {`1e999 * 1 > 0`, `true`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := fmt.Sprintf("locals {\n  x = %s\n}\napp \"a\" {\n  cmd = jsonencode(local.x)\n}\n", tc.expr)
			cfg := mustLoad(t, map[string]string{"main.hcl": src}, Options{})
			if got := cfg.Spec.Apps[0].Cmd; got != tc.want {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBudgetErrors checks budget errors in expressions: the diagnostic, at the
// expression, whatever catches errors around it.
func TestBudgetErrors(t *testing.T) {
	tests := map[string]struct{ expr, want string }{
		"setproduct over the limit": {`setproduct(range(100), range(334))`,
			"main.hcl:2:7: Evaluation budget exceeded: setproduct would produce 33400 combinations of 2 elements, 100200 elements in all; the limit for one value is 100000."},
		"range": {`range(0, 1e6, 0.5)`,
			"main.hcl:2:7: Evaluation budget exceeded: range would produce 2000000 elements; the limit for one value is 100000."},
		"inside try": {`try(setproduct(range(1000), range(1000)), [])`,
			"main.hcl:2:11: Evaluation budget exceeded: setproduct would produce 1000000 combinations of 2 elements, 3000000 elements in all; the limit for one value is 100000."},
		"inside can": {`can(range(1e9))`,
			"main.hcl:2:11: Evaluation budget exceeded: range would produce 1000000000 elements; the limit for one value is 100000."},
		"split": {`split("", format("%200000s", ""))`,
			"main.hcl:2:7: Evaluation budget exceeded: split would produce 200000 elements; the limit for one value is 100000."},
		"regexall": {`regexall("", format("%200000s", ""))`,
			"main.hcl:2:7: Evaluation budget exceeded: regexall would produce more than 50000 matches of 2 elements each; the limit for one value is 100000 elements."},
		"merge": {`merge(local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o, local.o)`,
			"main.hcl:2:7: Evaluation budget exceeded: merge would produce up to 450000 elements; the limit for one value is 100000."},
		"literal tuple of references": {`[for i in range(1) : [local.l, local.l]]`,
			"main.hcl:2:28: Evaluation budget exceeded: The value of this expression holds more than 100000 elements, the most one value may hold."},
		"template of numbers": {`"${1e300 * 1e300 * 1e300 * 1e300}"`,
			"main.hcl:2:10: Evaluation budget exceeded: The result of this operation is out of range: it is a number beyond 1e1000 or below 1e-1000 in magnitude, the range numbers may take."},
		"tonumber": {`tonumber("1e600000000")`,
			"main.hcl:2:7: Evaluation budget exceeded: The result of tonumber holds a number beyond 1e1000 or below 1e-1000 in magnitude, the range numbers may take."},
		"format of a huge number": {`format("%d", "1e600000000")`,
			"main.hcl:2:7: Evaluation budget exceeded: format would produce a string of up to 1993157387 bytes; the limit for one string is 1048576."},
		"mixed tuple to list": {`tolist(concat(flatten([for i in range(60) : range(1000)]), ["x"]))`,
			"main.hcl:2:14: Evaluation budget exceeded: Converting this value to list of any single type would compare 1800030000 pairs of types to unify them (its elements are of different types); the limit for all evaluation is 4000000 units of 8 comparisons."},
		"conditional of tuples": {`true ? flatten([for i in range(60) : range(1000)]) : []`,
			"main.hcl:2:7: Evaluation budget exceeded: This conditional would compare 1799970000 pairs of types to unify them (its results are tuples or objects of different shapes; tolist or tomap on them avoids this); the limit for all evaluation is 4000000 units of 8 comparisons."},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := fmt.Sprintf("locals {\n  x = %s\n", tc.expr)
			if strings.Contains(tc.expr, "local.l") {
				src += "  l = flatten([for i in range(60) : range(1000)])\n"
			}
			if strings.Contains(tc.expr, "local.o") {
				src += "  o = { for p in setproduct(range(15), range(1000)) : \"k${p[0]}-${p[1]}\" => 1 }\n"
			}
			src += "}\n"
			got, cfg, _ := lines(map[string]string{"main.hcl": src}, Options{})
			if cfg.Spec != nil {
				t.Error("Spec returned along with errors")
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

// TestBudgetedFunctions checks that the budget's wrapping changes no
// function's result.
func TestBudgetedFunctions(t *testing.T) {
	funcs := budgetFunctions(functions(), newBudget())
	for name, tc := range functionTests {
		t.Run(name, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tc.expr), "expr.hcl", hcl2.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			v, diags := expr.Value(&hcl2.EvalContext{Functions: funcs})
			if diags.HasErrors() {
				t.Fatalf("%s: %s", tc.expr, diags.Error())
			}
			b, err := ctyjson.Marshal(v, cty.DynamicPseudoType)
			if err != nil {
				t.Fatal(err)
			}
			s := strings.TrimPrefix(string(b), `{"value":`)
			if got := s[:strings.LastIndex(s, `,"type":`)]; got != tc.want {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

// deepSources are inputs nesting far beyond the limit, each in a shape the
// parser recurses on; parsing any of them would overflow the stack (a fatal
// error, exit status 2).
func deepSources() map[string]string {
	const n = 200000
	r := strings.Repeat
	return map[string]string{
		"brackets":      "x = " + r("[", n) + r("]", n) + "\n",
		"parens":        "x = " + r("(", n) + "1" + r(")", n) + "\n",
		"objects":       "x = " + r("{a = ", n) + "1" + r("}", n) + "\n",
		"blocks":        r("b {\n", n) + r("}\n", n),
		"unary":         "x = " + r("-", n) + "1\n",
		"not":           "x = " + r("!", n) + "true\n",
		"conditionals":  "x = " + r("true ? 1 : ", n) + "1\n",
		"interpolation": "x = " + r(`"${`, n) + "1" + r(`}"`, n) + "\n",
		"directives":    `x = "` + r("%{if true}", n) + r("%{endif}", n) + "\"\n",
		"heredocs":      "x = " + r("<<EOT\n${", n) + "1" + r("}\nEOT\n", n),
		"for object":    "x = {for k, v in {} : k => " + r("-\n", n) + "v}\n",
		"non-ascii":     "é = 1\nx = " + r("[", n) + r("]", n) + "\n",
	}
}

// TestNestingLimit checks that too deep a source is refused before parsing,
// at the place it becomes too deep, in configuration files, -var values and
// variable files (HCL and JSON), and by Format.
func TestNestingLimit(t *testing.T) {
	for name, src := range deepSources() {
		t.Run(name, func(t *testing.T) {
			got, cfg, diags := lines(map[string]string{"main.hcl": src}, Options{})
			if len(got) != 1 || !strings.HasPrefix(got[0], "main.hcl:") || !strings.Contains(got[0], ": Nesting too deep: ") {
				t.Errorf("got %q", got)
			}
			// The snippet shows a window of the long line, not all of it.
			var out bytes.Buffer
			if err := WriteDiagnostics(&out, cfg.Files, diags, 100, true); err != nil {
				t.Fatal(err)
			}
			if out.Len() > 2000 {
				t.Errorf("the diagnostic takes %d bytes:\n%.2000s", out.Len(), out.String())
			}
			if _, diags := Format([]byte(src), "main.hcl"); !diags.HasErrors() {
				t.Error("Format: no error")
			}
		})
	}
	decl := "variable \"v\" {\n  type = any\n}\n"
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	for name, opts := range map[string]Options{
		"-var":           {Vars: []string{"v=" + deep}},
		"STRIDE_VAR_":    {Environ: []string{"STRIDE_VAR_v=" + deep}},
		"var file":       {VarFiles: []string{"v.vars.hcl"}},
		"JSON var file":  {VarFiles: []string{"v.vars.json"}},
		"just the limit": {Vars: []string{"v=" + strings.Repeat("[", MaxNestingDepth) + strings.Repeat("]", MaxNestingDepth)}},
	} {
		t.Run(name, func(t *testing.T) {
			srcs := map[string]string{"main.hcl": decl}
			for _, f := range opts.VarFiles {
				srcs[f] = map[string]string{"v.vars.hcl": "v = " + deep + "\n", "v.vars.json": `{"v": ` + deep + "}"}[f]
			}
			got, _, _ := lines(srcs, opts)
			if name == "just the limit" {
				if len(got) != 0 {
					t.Errorf("got %q", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], ": Nesting too deep: ") {
				t.Errorf("got %q", got)
			}
		})
	}
}

// TestNestingScanMatchesLexer checks the byte scanner against hcl's lexer on
// random inputs made of the fragments that change the lexer's mode.
func TestNestingScanMatchesLexer(t *testing.T) {
	frags := []string{"[", "]", "{", "}", "(", ")", `"`, "${", "%{", "$${", "%%{", "~}", `\`, "\n", "\r\n", "\r",
		"#", "//", "/*", "*/", "<<EOT\n", "<<-EOT\n", "EOT\n", " EOT \n", "-", "!", "?", ",", ":", "a", "1", "1e-5",
		"1.", "for", "if", "endif", "endfor", " ", "x-y", ".", "!=", "'", "=", "$", "%", "~", "\t", "{for", "%{if",
		"%{ for", "%{endif}", "e", "é", "\xff"}
	r := rand.New(rand.NewSource(1))
	n := 50000
	if testing.Short() {
		n = 5000
	}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for k := 1 + r.Intn(30); k > 0; k-- {
			b.WriteString(frags[r.Intn(len(frags))])
		}
		compareScans(t, []byte(b.String()))
	}
}

// compareScans checks that the byte scanner, when it is sure of itself,
// measures src as the token scanner does.
func compareScans(t *testing.T, src []byte) {
	t.Helper()
	var s, tk depthTracker
	if !s.scan(src) {
		return
	}
	tk.tokens(src, "x.hcl")
	if s.maxDepth != tk.maxDepth || s.depth != tk.depth || s.overAt != tk.overAt {
		t.Errorf("%q: scan depth max %d end %d over at %d; lexer max %d end %d over at %d",
			src, s.maxDepth, s.depth, s.overAt, tk.maxDepth, tk.depth, tk.overAt)
	}
}

// FuzzNestingScan compares the byte scanner with hcl's lexer.
func FuzzNestingScan(f *testing.F) {
	for _, dir := range []string{testdataDir + "/valid", testdataDir + "/invalid", budgetDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".hcl") {
				f.Add(mustReadF(f, filepath.Join(dir, e.Name())))
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		compareScans(t, src)
	})
}

func mustReadF(f *testing.F, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// TestBudgetParallel decodes many apps whose attributes exceed the budget or
// use for expressions, on the parallel decoder: run with -race.
func TestBudgetParallel(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 64; i++ {
		fmt.Fprintf(&b, "app \"a%d\" {\n  cmd = join(\",\", [for i in range(100) : \"${i}\"])\n  labels = { for s in split(\",\", \"a,b,c\") : s => upper(s) }\n}\n", i)
	}
	cfg := mustLoad(t, map[string]string{"main.hcl": b.String()}, Options{})
	if len(cfg.Spec.Apps) != 64 || cfg.Spec.Apps[0].Labels["c"] != "C" {
		t.Fatalf("unexpected spec: %d apps", len(cfg.Spec.Apps))
	}
	b.WriteString("app \"bomb\" {\n  cmd = join(\",\", [for a in range(1000) : join(\",\", [for b in range(1000) : \"${a}-${b}\"])])\n}\n")
	got, cfg2, _ := lines(map[string]string{"main.hcl": b.String()}, Options{})
	if cfg2.Spec != nil || len(got) == 0 {
		t.Fatalf("no error: %q", got)
	}
	for _, l := range got {
		if !strings.Contains(l, budgetSummary) {
			t.Errorf("unexpected diagnostic %s", l)
		}
	}
}

// BenchmarkBudgetOverhead evaluates expressions of the kind a configuration
// holds (templates, a for over a hundred elements, function calls, a lookup
// in a map) without the budget (raw) and with it (budgeted: the syntax tree
// instrumented, the functions wrapped).
func BenchmarkBudgetOverhead(b *testing.B) {
	src := `{
  name    = "svc-${local.i}"
  cmd     = format("exec ./%s --port %d", local.name, 8080 + local.i)
  env     = merge(local.env, { SERVICE = local.name, INDEX = tostring(local.i) })
  args    = [for a in local.args : upper(a) if a != ""]
  ports   = [for p in range(4) : 8000 + p * 10]
  labels  = { for k, v in local.env : lower(k) => "${v}-${local.i}" }
  tier    = lookup(local.tiers, local.name, "backend")
  enabled = local.i % 2 == 0 ? true : false
}`
	args := make([]cty.Value, 100)
	for i := range args {
		args[i] = cty.StringVal(fmt.Sprintf("arg-%d", i))
	}
	vars := map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{
		"i":     cty.NumberIntVal(7),
		"name":  cty.StringVal("api"),
		"env":   cty.ObjectVal(map[string]cty.Value{"LOG": cty.StringVal("info"), "REGION": cty.StringVal("eu")}),
		"args":  cty.TupleVal(args),
		"tiers": cty.MapVal(map[string]cty.Value{"api": cty.StringVal("frontend")}),
	})}
	parse := func() hclsyntax.Expression {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "bench.hcl", hcl2.InitialPos)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		return expr
	}
	b.Run("raw", func(b *testing.B) {
		expr := parse()
		ctx := &hcl2.EvalContext{Variables: vars, Functions: functions()}
		b.ReportAllocs()
		for b.Loop() {
			if _, diags := expr.Value(ctx); diags.HasErrors() {
				b.Fatal(diags.Error())
			}
		}
	})
	b.Run("budgeted", func(b *testing.B) {
		bud := newBudget()
		expr := bud.instrumentRoot(parse())
		ctx := &hcl2.EvalContext{Variables: vars, Functions: budgetFunctions(functions(), bud)}
		l := &loader{budget: bud}
		b.ReportAllocs()
		for b.Loop() {
			bud.work.Store(0)
			if _, diags := l.evalBudgeted(expr, ctx, "x"); diags.HasErrors() {
				b.Fatal(diags.Error())
			}
		}
	})
}
