package executor

import (
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestTaskEnvServicePorts: besides PORT0.. and PORT_<NAME>, Marathon names each
// host port after the port its definition asks for (PORT_<service port>), or
// after itself when that is 0 (EnvironmentHelper.portsEnv).
func TestTaskEnvServicePorts(t *testing.T) {
	app := engine.NewApp("/shop/api")
	app.PortDefinitions = []engine.PortDefinition{{Port: 10005, Name: "http"}, {Port: 0}}
	env := TaskEnv(app, "shop_api.1", "agent-1", []uint64{31002, 31007})
	for k, want := range map[string]string{
		"PORT0": "31002", "PORT1": "31007", "PORT": "31002", "PORTS": "31002,31007",
		"PORT_HTTP": "31002", "PORT_10005": "31002", "PORT_31007": "31007",
	} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if _, ok := env["PORT_0"]; ok {
		t.Error("PORT_0 set")
	}
}
