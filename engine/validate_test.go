package engine

import (
	"math"
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"
)

// validApp is an app that passes Validate and has something of everything for
// the cases below to break.
func validApp() *App {
	a := NewApp("/shop/api")
	a.Cmd = "./api"
	a.Env = map[string]string{"LOG": "info"}
	a.EnvSecrets = map[string]string{"DB_PASSWORD": "db"}
	a.Secrets = map[string]Secret{"db": {Source: "/shop/db/password"}}
	a.PortDefinitions = []PortDefinition{{Port: 0, Name: "http"}, {Port: 0, Name: "admin"}}
	a.HealthChecks = []HealthCheck{DefaultHealthCheck()}
	r := DefaultReadinessCheck()
	r.PortName = "http"
	a.ReadinessChecks = []ReadinessCheck{r}
	a.Constraints = []Constraint{{Field: "hostname", Operator: OpUnique}}
	a.Fetch = []Artifact{{URI: "https://h/a.tgz", Extract: true, DestPath: "a.tgz"}}
	a.Dependencies = []string{"/shop/db"}
	a.Service = &Service{Port: "http"}
	a.ApplyDefaults()
	return a
}

func intp(i int) *int { return &i }

func TestValidate(t *testing.T) {
	type fe = FieldErrors
	one := func(path, msg string) FieldErrors { return FieldErrors{{Path: path, Errors: []string{msg}}} }
	tests := map[string]struct {
		mutate func(a *App)
		want   FieldErrors
	}{
		"valid": {func(a *App) {}, nil},

		// id
		"id relative":    {func(a *App) { a.ID = "shop/api" }, one("/id", `id "shop/api" is not absolute (it must start with "/")`)},
		"id bad segment": {func(a *App) { a.ID = "/Shop" }, one("/id", `id "/Shop": segment "Shop" `+SegmentRule)},
		"id reserved":    {func(a *App) { a.ID = "/shop/tasks" }, one("/id", `id "/shop/tasks": "tasks" is a reserved name`)},
		"id root":        {func(a *App) { a.ID = "/" }, one("/id", `the root group "/" is not an app id`)},

		// command
		"cmd and args":   {func(a *App) { a.Args = []string{"x"} }, one("/args", "cmd and args cannot both be set")},
		"no command":     {func(a *App) { a.Cmd = "" }, one("/", "an app needs cmd, args, or a container with a docker image")},
		"args only":      {func(a *App) { a.Cmd, a.Args = "", []string{"./api", "-v"} }, nil},
		"empty arg":      {func(a *App) { a.Cmd, a.Args = "", []string{"./api", ""} }, one("/args/1", "must not be empty")},
		"image only":     {func(a *App) { a.Cmd, a.Container = "", &Container{Type: "DOCKER", Docker: &Docker{Image: "nginx"}} }, nil},
		"mesos no image": {func(a *App) { a.Cmd, a.Container = "", &Container{Type: "MESOS"} }, one("/", "an app needs cmd, args, or a container with a docker image")},

		// resources
		"negative instances": {func(a *App) { a.Instances = -1 }, one("/instances", "must be >= 0, got -1")},
		"zero instances":     {func(a *App) { a.Instances = 0 }, nil},
		"cpus below minimum": {func(a *App) { a.Cpus = 0 }, one("/cpus", "must be >= 0.001, got 0")},
		"negative mem":       {func(a *App) { a.Mem = -1.5 }, one("/mem", "must be >= 0, got -1.5")},
		"negative disk":      {func(a *App) { a.Disk = -1 }, one("/disk", "must be >= 0, got -1")},
		"NaN disk":           {func(a *App) { a.Disk = math.NaN() }, one("/disk", "must be a finite number, got NaN")},
		"negative gpus":      {func(a *App) { a.Gpus = -2 }, one("/gpus", "must be >= 0, got -2")},
		"empty role":         {func(a *App) { a.AcceptedResourceRoles = []string{"*", ""} }, one("/acceptedResourceRoles/1", "must not be empty")},
		"resource limits": {func(a *App) { a.ResourceLimits = &ResourceLimits{Cpus: "lots", Mem: 64.0} }, fe{
			{Path: "/resourceLimits/cpus", Errors: []string{`must be a number or "unlimited", got "lots"`}},
			{Path: "/resourceLimits/mem", Errors: []string{"must be >= the requested 128, got 64"}},
		}},
		"resource limits ok": {func(a *App) { a.ResourceLimits = &ResourceLimits{Cpus: "unlimited", Mem: 256.0} }, nil},

		// constraints
		"constraint empty field": {func(a *App) { a.Constraints[0].Field = "" }, one("/constraints/0/0", "constraint field must not be empty")},
		"constraint unknown operator": {func(a *App) { a.Constraints[0].Operator = "UNIQE" },
			one("/constraints/0/1", `unknown constraint operator "UNIQE" (one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)`)},
		"unique with value":     {func(a *App) { a.Constraints[0].Value = "x" }, one("/constraints/0/2", `UNIQUE takes no value, got "x"`)},
		"like without value":    {func(a *App) { a.Constraints[0].Operator = OpLike }, one("/constraints/0", "LIKE needs a value")},
		"unlike without value":  {func(a *App) { a.Constraints[0].Operator = OpUnlike }, one("/constraints/0", "UNLIKE needs a value")},
		"max_per without value": {func(a *App) { a.Constraints[0].Operator = OpMaxPer }, one("/constraints/0", "MAX_PER needs a value")},
		"is without value":      {func(a *App) { a.Constraints[0].Operator = OpIs }, one("/constraints/0", "IS needs a value")},
		"group_by not a number": {func(a *App) { a.Constraints[0] = Constraint{"rack", OpGroupBy, "two"} },
			one("/constraints/0/2", `GROUP_BY value must be a positive integer, got "two"`)},
		"max_per zero": {func(a *App) { a.Constraints[0] = Constraint{"rack", OpMaxPer, "0"} },
			one("/constraints/0/2", `MAX_PER value must be a positive integer, got "0"`)},
		"like bad regexp": {func(a *App) { a.Constraints[0] = Constraint{"hostname", OpLike, "srv(["} },
			one("/constraints/0/2", "invalid regular expression \"srv([\": missing closing ]: `[`")},
		"unlike unbalanced": {func(a *App) { a.Constraints[0] = Constraint{"hostname", OpUnlike, "a)(b"} },
			one("/constraints/0/2", "invalid regular expression \"a)(b\": unexpected ): `a)(b`")},
		"every operator ok": {func(a *App) {
			a.Constraints = []Constraint{{"h", OpUnique, ""}, {"h", OpCluster, ""}, {"h", OpCluster, "a"}, {"h", OpGroupBy, ""},
				{"h", OpGroupBy, "3"}, {"h", OpLike, "a.*"}, {"h", OpUnlike, "b"}, {"h", OpMaxPer, "2"}, {"h", OpIs, "x"}}
		}, nil},

		// port definitions
		"port out of range": {func(a *App) { a.PortDefinitions[1].Port = 70000 }, one("/portDefinitions/1/port", "must be between 0 and 65535, got 70000")},
		"port protocol": {func(a *App) { a.PortDefinitions[0].Protocol = "sctp" },
			one("/portDefinitions/0/protocol", `unknown protocol "sctp" (one of tcp, udp, udp,tcp)`)},
		"port name pattern": {func(a *App) { a.PortDefinitions[1].Name = "Admin_1" }, one("/portDefinitions/1/name", `must match ^[a-z0-9-]+$, got "Admin_1"`)},
		"port name duplicate": {func(a *App) { a.PortDefinitions[1].Name = "http" },
			one("/portDefinitions/1/name", `duplicate port name "http" (also /portDefinitions/0)`)},
		"required ports duplicate": {func(a *App) {
			a.RequirePorts = true
			a.PortDefinitions[0].Port, a.PortDefinitions[1].Port = 8080, 8080
		}, one("/portDefinitions/1/port", "duplicate port 8080 with requirePorts (also /portDefinitions/0)")},
		"zero ports may repeat with requirePorts": {func(a *App) { a.RequirePorts = true }, nil},
		"same port without requirePorts":          {func(a *App) { a.PortDefinitions[0].Port, a.PortDefinitions[1].Port = 80, 80 }, nil},

		// health checks
		"health protocol": {func(a *App) { a.HealthChecks[0].Protocol = "GRPC" },
			one("/healthChecks/0/protocol", `unknown protocol "GRPC" (one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP)`)},
		"command check without command": {func(a *App) {
			a.HealthChecks[0] = HealthCheck{Protocol: ProtoCommand, IntervalSeconds: 1, TimeoutSeconds: 1}
		},
			one("/healthChecks/0/command", "COMMAND health checks need a command")},
		"command check with empty command": {func(a *App) {
			a.HealthChecks[0] = HealthCheck{Protocol: ProtoCommand, Command: &CheckCommand{}, IntervalSeconds: 1, TimeoutSeconds: 1}
		}, one("/healthChecks/0/command/value", "must not be empty")},
		"command on http check": {func(a *App) { a.HealthChecks[0].Command = &CheckCommand{Value: "true"} },
			one("/healthChecks/0/command", "only COMMAND health checks take a command, got protocol HTTP")},
		"portIndex out of range": {func(a *App) { a.HealthChecks[0].PortIndex = intp(2) },
			one("/healthChecks/0/portIndex", "portIndex 2 is out of range: the app has 2 port(s)")},
		"negative portIndex": {func(a *App) { a.HealthChecks[0].PortIndex = intp(-1) },
			one("/healthChecks/0/portIndex", "portIndex -1 is out of range: the app has 2 port(s)")},
		"portName unknown": {func(a *App) { a.HealthChecks[0].PortIndex, a.HealthChecks[0].PortName = nil, "metrics" },
			one("/healthChecks/0/portName", `no port named "metrics" (ports: http, admin)`)},
		"portName ok": {func(a *App) { a.HealthChecks[0].PortIndex, a.HealthChecks[0].PortName = nil, "admin" }, nil},
		"port and portIndex": {func(a *App) { a.HealthChecks[0].Port = 8080 },
			one("/healthChecks/0", "only one of port, portIndex and portName may be set")},
		"health port out of range": {func(a *App) { a.HealthChecks[0].PortIndex, a.HealthChecks[0].Port = nil, 65536 },
			one("/healthChecks/0/port", "must be between 0 and 65535, got 65536")},
		"network check without ports": {func(a *App) {
			a.PortDefinitions, a.ReadinessChecks, a.Service = []PortDefinition{}, nil, nil
			a.HealthChecks[0] = DefaultHealthCheck()
			a.HealthChecks[0].Protocol = ProtoTCP
		}, one("/healthChecks/0", "a TCP health check needs a port: the app has no ports, set port")},
		"network check with port and no ports": {func(a *App) {
			a.PortDefinitions, a.ReadinessChecks, a.Service = []PortDefinition{}, nil, nil
			a.HealthChecks[0] = DefaultHealthCheck()
			a.HealthChecks[0].Port = 8080
		}, nil},
		"portIndex into container port mappings": {func(a *App) {
			a.PortDefinitions, a.Service, a.ReadinessChecks = nil, nil, nil
			a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "x"}, PortMappings: []PortMapping{{ContainerPort: 80, Protocol: "tcp", Name: "web"}}}
			a.HealthChecks[0].PortIndex = intp(1)
			a.HealthChecks = append(a.HealthChecks, HealthCheck{Protocol: ProtoTCP, PortName: "web", IntervalSeconds: 1, TimeoutSeconds: 1})
		}, one("/healthChecks/0/portIndex", "portIndex 1 is out of range: the app has 1 port(s)")},
		"health timings": {func(a *App) {
			h := &a.HealthChecks[0]
			h.GracePeriodSeconds, h.IntervalSeconds, h.TimeoutSeconds, h.MaxConsecutiveFailures, h.DelaySeconds = -1, 0, 0, -1, -1
		}, fe{
			{Path: "/healthChecks/0/delaySeconds", Errors: []string{"must be >= 0, got -1"}},
			{Path: "/healthChecks/0/gracePeriodSeconds", Errors: []string{"must be >= 0, got -1"}},
			{Path: "/healthChecks/0/intervalSeconds", Errors: []string{"must be >= 1, got 0"}},
			{Path: "/healthChecks/0/maxConsecutiveFailures", Errors: []string{"must be >= 0, got -1"}},
			{Path: "/healthChecks/0/timeoutSeconds", Errors: []string{"must be >= 1, got 0"}},
		}},

		// readiness checks
		"readiness protocol": {func(a *App) { a.ReadinessChecks[0].Protocol = "TCP" },
			one("/readinessChecks/0/protocol", `unknown protocol "TCP" (one of HTTP, HTTPS)`)},
		"readiness default port name missing": {func(a *App) { a.ReadinessChecks[0].PortName = DefaultReadinessPortName },
			one("/readinessChecks/0/portName", `no port named "http-api" (ports: http, admin)`)},
		"readiness timings": {func(a *App) { a.ReadinessChecks[0].IntervalSeconds, a.ReadinessChecks[0].TimeoutSeconds = 0, 0 }, fe{
			{Path: "/readinessChecks/0/intervalSeconds", Errors: []string{"must be >= 1, got 0"}},
			{Path: "/readinessChecks/0/timeoutSeconds", Errors: []string{"must be >= 1, got 0"}},
		}},
		"readiness timeout not below interval": {func(a *App) { a.ReadinessChecks[0].IntervalSeconds, a.ReadinessChecks[0].TimeoutSeconds = 5, 5 },
			one("/readinessChecks/0/timeoutSeconds", "must be less than intervalSeconds (5), got 5")},
		"readiness status codes": {func(a *App) { a.ReadinessChecks[0].HTTPStatusCodesForReady = []int{200, 42} },
			one("/readinessChecks/0/httpStatusCodesForReady/1", "must be an HTTP status code (100 to 999), got 42")},
		"readiness duplicate names": {func(a *App) { a.ReadinessChecks = append(a.ReadinessChecks, a.ReadinessChecks[0]) },
			one("/readinessChecks/1/name", `duplicate readiness check name "readinessCheck" (also /readinessChecks/0)`)},

		// upgrade strategy
		"min health above 1":    {func(a *App) { a.UpgradeStrategy.MinimumHealthCapacity = 1.5 }, one("/upgradeStrategy/minimumHealthCapacity", "is greater than 1")},
		"min health below 0":    {func(a *App) { a.UpgradeStrategy.MinimumHealthCapacity = -0.1 }, one("/upgradeStrategy/minimumHealthCapacity", "is less than 0")},
		"over capacity above 1": {func(a *App) { a.UpgradeStrategy.MaximumOverCapacity = 2 }, one("/upgradeStrategy/maximumOverCapacity", "is greater than 1")},
		"over capacity below 0": {func(a *App) { a.UpgradeStrategy.MaximumOverCapacity = -1 }, one("/upgradeStrategy/maximumOverCapacity", "is less than 0")},
		"capacities at bounds":  {func(a *App) { a.UpgradeStrategy = UpgradeStrategy{0, 1} }, nil},

		// backoff, kill
		"negative backoff":       {func(a *App) { a.BackoffSeconds = -1 }, one("/backoffSeconds", "must be >= 0, got -1")},
		"backoff factor below 1": {func(a *App) { a.BackoffFactor = 0.5 }, one("/backoffFactor", "must be >= 1, got 0.5")},
		"negative max delay":     {func(a *App) { a.MaxLaunchDelaySeconds = -3 }, one("/maxLaunchDelaySeconds", "must be >= 0, got -3")},
		"kill selection": {func(a *App) { a.KillSelection = "RANDOM" },
			one("/killSelection", `unknown kill selection "RANDOM" (one of YOUNGEST_FIRST, OLDEST_FIRST)`)},
		"negative give up after":     {func(a *App) { a.GiveUpAfter = -1 }, one("/giveUpAfter", "must be >= 0, got -1")},
		"negative progress deadline": {func(a *App) { a.ProgressDeadlineSeconds = -5 }, one("/progressDeadlineSeconds", "must be >= 0, got -5")},
		"negative kill grace":        {func(a *App) { a.TaskKillGracePeriodSeconds = -1 }, one("/taskKillGracePeriodSeconds", "must be >= 0, got -1")},

		// unreachable strategy
		"unreachable negative": {func(a *App) { a.UnreachableStrategy = &UnreachableStrategy{InactiveAfterSeconds: -1} },
			one("/unreachableStrategy/inactiveAfterSeconds", "must be >= 0, got -1")},
		"unreachable order": {func(a *App) {
			a.UnreachableStrategy = &UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 30}
		},
			one("/unreachableStrategy/inactiveAfterSeconds", "must be <= expungeAfterSeconds (30), got 60")},
		"unreachable disabled": {func(a *App) { a.UnreachableStrategy = &UnreachableStrategy{Disabled: true} }, nil},

		// dependencies
		"self dependency": {func(a *App) { a.Dependencies = []string{"/shop/api"} }, one("/dependencies/0", "an app cannot depend on itself")},
		"relative dependency": {func(a *App) { a.Dependencies = []string{"/shop/db", "../../../x"} },
			one("/dependencies/1", `dependency "../../../x" is not absolute`)},
		"bad dependency id": {func(a *App) { a.Dependencies = []string{"/shop/DB"} },
			one("/dependencies/0", `id "/shop/DB": segment "DB" `+SegmentRule)},
		"dependency on a group": {func(a *App) { a.Dependencies = []string{"/infra", "/infra/tasks"} }, nil},

		// fetch
		"fetch empty uri":         {func(a *App) { a.Fetch[0].URI = "" }, one("/fetch/0/uri", "must not be empty")},
		"fetch absolute destPath": {func(a *App) { a.Fetch[0].DestPath = "/etc/x" }, one("/fetch/0/destPath", `must be a relative path, got "/etc/x"`)},

		// container
		"container type": {func(a *App) { a.Container = &Container{Type: "RKT"} },
			one("/container/type", `unknown container type "RKT" (one of DOCKER, MESOS)`)},
		"docker without docker": {func(a *App) { a.Container = &Container{Type: "DOCKER"} }, one("/container/docker", "a DOCKER container needs docker.image")},
		"docker without image":  {func(a *App) { a.Container = &Container{Type: "DOCKER", Docker: &Docker{}} }, one("/container/docker/image", "must not be empty")},
		"docker network": {func(a *App) {
			a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "x", Network: "OVERLAY"}}
		},
			one("/container/docker/network", `unknown docker network "OVERLAY" (one of HOST, BRIDGE, USER, NONE)`)},
		"docker parameter key": {func(a *App) {
			a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "x", Parameters: []Parameter{{Value: "v"}}}}
		},
			one("/container/docker/parameters/0/key", "must not be empty")},
		"both port mappings": {func(a *App) {
			m := []PortMapping{{ContainerPort: 80, Protocol: "tcp"}}
			a.Container = &Container{Type: "DOCKER", Docker: &Docker{Image: "x", PortMappings: m}, PortMappings: m}
		}, one("/container/docker/portMappings", "cannot specify both container.portMappings and docker.portMappings")},
		"port mapping values": {func(a *App) {
			a.Container = &Container{Type: "MESOS", PortMappings: []PortMapping{
				{ContainerPort: -1, HostPort: 70000, Protocol: "icmp", Name: "a"}, {Protocol: "tcp", Name: "a"}}}
		}, fe{
			{Path: "/container/portMappings/0/containerPort", Errors: []string{"must be between 0 and 65535, got -1"}},
			{Path: "/container/portMappings/0/hostPort", Errors: []string{"must be between 0 and 65535, got 70000"}},
			{Path: "/container/portMappings/0/protocol", Errors: []string{`unknown protocol "icmp" (one of tcp, udp, udp,tcp)`}},
			{Path: "/container/portMappings/1/name", Errors: []string{`duplicate port name "a" (also /container/portMappings/0)`}},
		}},
		"volumes": {func(a *App) { a.Container = &Container{Type: "MESOS", Volumes: []Volume{{HostPath: "/x", Mode: "RX"}}} }, fe{
			{Path: "/container/volumes/0/containerPath", Errors: []string{"must not be empty"}},
			{Path: "/container/volumes/0/mode", Errors: []string{`unknown volume mode "RX" (one of RO, RW)`}},
		}},
		"network mode": {func(a *App) { a.Networks = []Network{{Mode: "bridge"}} },
			one("/networks/0/mode", `unknown network mode "bridge" (one of host, container/bridge, container)`)},
		"network name on host": {func(a *App) { a.Networks = []Network{{Mode: "host", Name: "dcos"}} },
			one("/networks/0/name", `only container networks have a name, got mode "host"`)},

		// env and secrets
		"env empty name":            {func(a *App) { a.Env[""] = "x" }, one("/env/", "variable name must not be empty")},
		"env name with =":           {func(a *App) { a.Env["A=B"] = "x" }, one("/env/A=B", `variable name "A=B" must not contain "="`)},
		"env both value and secret": {func(a *App) { a.Env["DB_PASSWORD"] = "x" }, one("/env/DB_PASSWORD", `"DB_PASSWORD" is both a value and a secret`)},
		"env unknown secret": {func(a *App) { a.EnvSecrets["TOKEN"] = "token" },
			one("/env/TOKEN/secret", `unknown secret "token" (declared: db)`)},
		"env secret without secrets": {func(a *App) { a.Secrets = nil },
			one("/env/DB_PASSWORD/secret", `unknown secret "db" (none declared)`)},
		"secret source":   {func(a *App) { a.Secrets["db"] = Secret{} }, one("/secrets/db/source", "must not be empty")},
		"env key escaped": {func(a *App) { a.Env["a/b"] = "x"; a.EnvSecrets["a/b"] = "db" }, one("/env/a~1b", `"a/b" is both a value and a secret`)},

		// service
		"service name": {func(a *App) { a.Service.Name = "API_shop" },
			one("/service/name", `must be a DNS label (lowercase letters, digits and dashes, not at either end, at most 63), got "API_shop"`)},
		"service name too long": {func(a *App) { a.Service.Name = "a234567890123456789012345678901234567890123456789012345678901234" },
			one("/service/name", `must be a DNS label (lowercase letters, digits and dashes, not at either end, at most 63), got "a234567890123456789012345678901234567890123456789012345678901234"`)},
		"service port":      {func(a *App) { a.Service.Port = "grpc" }, one("/service/port", `no port definition named "grpc" (ports: http, admin)`)},
		"service empty tag": {func(a *App) { a.Service.Tags = []string{"v1", ""} }, one("/service/tags/1", "must not be empty")},

		// several problems at once, sorted
		"many": {func(a *App) {
			a.Instances, a.Cpus = -1, -1
			a.UpgradeStrategy.MinimumHealthCapacity = 2
			a.HealthChecks[0].PortIndex = intp(9)
		}, fe{
			{Path: "/cpus", Errors: []string{"must be >= 0.001, got -1"}},
			{Path: "/healthChecks/0/portIndex", Errors: []string{"portIndex 9 is out of range: the app has 2 port(s)"}},
			{Path: "/instances", Errors: []string{"must be >= 0, got -1"}},
			{Path: "/upgradeStrategy/minimumHealthCapacity", Errors: []string{"is greater than 1"}},
		}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			a := validApp()
			tt.mutate(a)
			got := a.Validate()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate:\n got  %s\n want %s", indent(t, got), indent(t, tt.want))
			}
		})
	}
}

// TestValidateNeverPanics runs Validate on the zero app, a nil app, and random
// apps with and without defaults.
func TestValidateNeverPanics(t *testing.T) {
	if errs := (&App{}).Validate(); len(errs) == 0 {
		t.Error("the zero app is valid")
	}
	if errs := (*App)(nil).Validate(); len(errs) == 0 {
		t.Error("a nil app is valid")
	}
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		a := randomApp(rng)
		_ = a.Validate()
		a.ApplyDefaults()
		_ = a.Validate()
	}
}

func BenchmarkValidate(b *testing.B) {
	a, err := DecodeApp(fixtureApps(b, filepath.Join(fixtureDir, "full.json"))[0])
	if err != nil {
		b.Fatal(err)
	}
	if errs := a.Validate(); errs != nil {
		b.Fatalf("fixture is invalid: %v", errs)
	}
	bad := a.Clone()
	bad.UpgradeStrategy.MinimumHealthCapacity = 2
	if errs := bad.Validate(); len(errs) != 1 {
		b.Fatalf("want one error, got %v", errs)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Validate()
	}
}
