// Package plangen writes large generated configurations and matching states,
// for the `stride plan` benchmarks and the reproducible 10k-app measurement
// (`make plan-10k`).
package plangen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/hcl"
)

// Files is the number of configuration files WriteConfig spreads the apps over.
const Files = 10

// perGroup is the number of apps in each generated group.
const perGroup = 100

// WriteConfig writes n apps (a multiple of 100, ~400 bytes each) in groups of
// 100 over Files files in dir: env from locals and variables, a named port, an
// HTTP health check, a constraint and a dependency on the previous app of the
// group.
func WriteConfig(dir string, n int) error {
	if n <= 0 || n%perGroup != 0 {
		return fmt.Errorf("plangen: %d apps: want a positive multiple of %d", n, perGroup)
	}
	groups := n / perGroup
	for f := 0; f < Files; f++ {
		var b strings.Builder
		if f == 0 {
			b.WriteString("variable \"region\" {\n  default = \"eu-1\"\n}\n\nlocals {\n  log_level = \"info\"\n}\n\n")
		}
		for g := f; g < groups; g += Files {
			fmt.Fprintf(&b, "group \"team-%03d\" {\n", g)
			for a := 0; a < perGroup; a++ {
				fmt.Fprintf(&b, "  app \"svc-%03d\" {\n    cmd       = \"exec ./svc --port $PORT0\"\n    instances = %d\n    cpus      = 0.25\n    mem       = 256\n    env       = { LOG_LEVEL = local.log_level, REGION = var.region }\n", a, 1+a%5)
				if a > 0 {
					fmt.Fprintf(&b, "    depends_on = [\"svc-%03d\"]\n", a-1)
				}
				b.WriteString("    port \"http\" {}\n    health_check {\n      protocol  = \"HTTP\"\n      path      = \"/health\"\n      port_name = \"http\"\n    }\n    constraint {\n      attribute = \"hostname\"\n      operator  = \"UNIQUE\"\n    }\n  }\n")
			}
			b.WriteString("}\n\n")
		}
		name := filepath.Join(dir, fmt.Sprintf("part-%02d.hcl", f))
		if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("plangen: %w", err)
		}
	}
	return nil
}

// WriteState writes to file the deployed state of the configuration in dir
// with 10% of the apps different: a quarter each restarted (cmd), scaled,
// updated (labels), and destroyed-and-created (renamed). Planning dir against
// it gives the summary Summary(n).
func WriteState(dir, file string) error {
	cfg, diags := hcl.Load(dir, hcl.Options{})
	if diags.HasErrors() {
		return fmt.Errorf("plangen: config: %s", strings.Join(hcl.DiagnosticLines(diags), "\n"))
	}
	st := engine.State{Serial: 1}
	for i, a := range cfg.Spec.Apps {
		a = a.Clone()
		if i%10 == 0 {
			switch (i / 10) % 4 {
			case 0:
				a.Cmd = "exec ./svc-old --port $PORT0"
			case 1:
				a.Instances++
			case 2:
				a.Labels = map[string]string{"team": "old"}
			case 3:
				a.ID += "-old"
				a.Dependencies = nil
			}
		}
		st.Apps = append(st.Apps, a)
	}
	data, err := json.Marshal(&st)
	if err != nil {
		return fmt.Errorf("plangen: encode state: %w", err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("plangen: %w", err)
	}
	return nil
}

// Summary is the plan summary line for n generated apps against WriteState's
// state.
func Summary(n int) string {
	q := n / 40
	return fmt.Sprintf("Plan: %d to create, %d to update, %d to scale, %d to restart, %d to destroy.", q, q, q, q, q)
}
