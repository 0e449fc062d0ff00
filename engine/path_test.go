package engine

import "testing"

func TestFieldPaths(t *testing.T) {
	cases := map[string]struct {
		ptr, path string
	}{
		"top level":      {"/cmd", "cmd"},
		"map key":        {"/env/LOG_LEVEL", "env.LOG_LEVEL"},
		"quoted key":     {"/labels/com.example~1owner", `labels["com.example/owner"]`},
		"numeric key":    {"/labels/42", "labels.42"},
		"index":          {"/healthChecks/0/path", "healthChecks[0].path"},
		"nested map":     {"/portDefinitions/1/labels/VIP_0", "portDefinitions[1].labels.VIP_0"},
		"dotted key":     {"/env/a.b", `env["a.b"]`},
		"tilde key":      {"/labels/a~0b", `labels["a~b"]`},
		"constraint":     {"/constraints/10", "constraints[10]"},
		"deep container": {"/container/docker/portMappings/0/hostPort", "container.docker.portMappings[0].hostPort"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PointerToFieldPath(c.ptr); got != c.path {
				t.Errorf("PointerToFieldPath(%q) = %q, want %q", c.ptr, got, c.path)
			}
			got, ok := FieldPathToPointer(c.path)
			if !ok || got != c.ptr {
				t.Errorf("FieldPathToPointer(%q) = %q, %v; want %q", c.path, got, ok, c.ptr)
			}
		})
	}
	for _, bad := range []string{"", ".cmd", "env[", `env["x`, "env[x]", "env[-1]"} {
		if p, ok := FieldPathToPointer(bad); ok {
			t.Errorf("FieldPathToPointer(%q) = %q, want failure", bad, p)
		}
	}
}

func TestPointerWithin(t *testing.T) {
	cases := map[string]struct {
		p, prefix string
		want      bool
	}{
		"equal":   {"/env/DB", "/env/DB", true},
		"below":   {"/env/DB", "/env", true},
		"sibling": {"/env/DB", "/env/D", false},
		"above":   {"/env", "/env/DB", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := PointerWithin(c.p, c.prefix); got != c.want {
				t.Errorf("PointerWithin(%q, %q) = %v", c.p, c.prefix, got)
			}
		})
	}
}
