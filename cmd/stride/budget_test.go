package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBudgetExitCode runs validate and plan on configurations that exceed the
// evaluation budget (hcl/budget.go): each fails with exit status 1 (never 2,
// which plan -detailed-exitcode reads as "changes", nor the runtime's fatal 2)
// and the diagnostic at the expression's file:line:col.
func TestBudgetExitCode(t *testing.T) {
	budget, err := filepath.Abs("../../testdata/hcl/budget")
	if err != nil {
		t.Fatal(err)
	}
	state, err := filepath.Abs("../../testdata/state/empty.json")
	if err != nil {
		t.Fatal(err)
	}
	deep := t.TempDir()
	src := "x = " + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "\n"
	if err := os.WriteFile(filepath.Join(deep, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		dir, file string
		want      []string
	}{
		"setproduct": {budget, "setproduct.hcl", []string{
			"Error: Evaluation budget exceeded",
			"on setproduct.hcl:2:7, in locals:",
			"setproduct would produce 1000000000 combinations of 3 elements",
		}},
		"nested for": {budget, "nested_for.hcl", []string{
			"on nested_for.hcl:3:27, in locals:",
			"The result of this for expression holds more than 100000 elements",
			"on nested_for.hcl:3:47, in locals:",
			"takes more than 4000000 units of work",
		}},
		"string doubling": {budget, "string_doubling.hcl", []string{
			"on string_doubling.hcl:23:9, in locals:",
			"This string template produces more than 1048576 bytes",
		}},
		"app attribute": {budget, "app_for.hcl", []string{
			`on app_for.hcl:2:77, in app "api":`,
			"takes more than 4000000 units of work",
		}},
		"nesting": {deep, "main.hcl", []string{
			"Error: Nesting too deep",
			"on main.hcl:1:261:",
		}},
	}
	for name, c := range cases {
		for _, args := range [][]string{
			{"validate", "-no-color", c.file},
			{"plan", "-no-color", "-state", state, c.file},
			{"plan", "-no-color", "-detailed-exitcode", "-state", state, c.file},
		} {
			t.Run(name+"/"+strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
				stdout, stderr, code := runIn(t, c.dir, nil, args...)
				if code != 1 {
					t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
				}
				for _, w := range c.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr lacks %q:\n%s", w, stderr)
					}
				}
			})
		}
	}
}
