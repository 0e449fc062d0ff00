package storetest

import (
	"fmt"
	"time"

	"github.com/stride-run/stride/engine"
)

// epoch is the first version timestamp the fixtures use.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// Version returns the n-th fixture version: an ISO-8601 timestamp with milliseconds,
// n seconds after an arbitrary epoch, as Marathon writes them.
func Version(n int) string {
	return epoch.Add(time.Duration(n) * time.Second).Format("2006-01-02T15:04:05.000Z")
}

// App returns a normalised app (ApplyDefaults has run) with most fields set, so that
// a store that loses a field is caught. n varies the values, and picks one of two
// shapes: a docker app on bridge networking, or a command app with host ports.
func App(id string, n int) *engine.App {
	a := engine.NewApp(id)
	a.Instances = 1 + n%7
	a.Cpus = 0.25 + float64(n%4)/4
	a.Mem = 64 * float64(1+n%8)
	a.Disk = float64(n % 3 * 100)
	a.Gpus = n % 2
	a.User = "nobody"
	a.Env = map[string]string{"LOG_LEVEL": "info", "N": fmt.Sprint(n)}
	a.EnvSecrets = map[string]string{"DB_PASSWORD": "db"}
	a.Secrets = map[string]engine.Secret{"db": {Source: "/secrets/db"}}
	a.Constraints = []engine.Constraint{
		{Field: "hostname", Operator: engine.OpUnique},
		{Field: "rack_id", Operator: engine.OpGroupBy, Value: "3"},
		{Field: "zone", Operator: engine.OpLike, Value: "eu-.*"},
	}
	a.AcceptedResourceRoles = []string{"*", "web"}
	a.Role = "web"
	a.Fetch = []engine.Artifact{
		{URI: "https://example.com/app.tgz", Extract: true, Cache: true},
		{URI: "https://example.com/run.sh", Executable: true, DestPath: "bin/run.sh"},
	}
	a.Dependencies = []string{"/infra/db", "/infra/queue"}
	a.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 0.2}
	a.BackoffSeconds = 2
	a.BackoffFactor = 1.5
	a.MaxLaunchDelaySeconds = 600
	a.TaskKillGracePeriodSeconds = 30
	a.KillSelection = engine.KillOldestFirst
	a.UnreachableStrategy = &engine.UnreachableStrategy{InactiveAfterSeconds: 60, ExpungeAfterSeconds: 600}
	a.Labels = map[string]string{"team": "shop", "tier": fmt.Sprint(n % 3)}
	a.ResourceLimits = &engine.ResourceLimits{Cpus: 2.0, Mem: "unlimited"}
	a.Service = &engine.Service{Tags: []string{"v1", "http"}, Port: "http"}
	a.Version = Version(n)
	a.VersionInfo = &engine.VersionInfo{LastScalingAt: Version(n), LastConfigChangeAt: Version(n - 1)}
	a.HealthChecks = []engine.HealthCheck{
		func() engine.HealthCheck {
			h := engine.DefaultHealthCheck()
			h.Path = "/health"
			h.PortName = "http"
			h.IgnoreHTTP1xx = true
			return h
		}(),
		func() engine.HealthCheck {
			h := engine.DefaultHealthCheck()
			h.Protocol = engine.ProtoCommand
			h.Command = &engine.CheckCommand{Value: "test -f /tmp/ok"}
			h.IntervalSeconds = 10
			return h
		}(),
	}
	r := engine.DefaultReadinessCheck()
	r.PortName = "http"
	r.HTTPStatusCodesForReady = []int{200, 204}
	a.ReadinessChecks = []engine.ReadinessCheck{r}

	if n%2 == 0 {
		a.Container = &engine.Container{
			Type: "DOCKER",
			Docker: &engine.Docker{
				Image:          fmt.Sprintf("registry.example.com/shop/api:%d", n),
				ForcePullImage: true,
				Parameters:     []engine.Parameter{{Key: "log-driver", Value: "journald"}},
			},
			Volumes: []engine.Volume{{ContainerPath: "/data", HostPath: "/srv/data", Mode: "RO"}},
			PortMappings: []engine.PortMapping{
				{ContainerPort: 8080, HostPort: 0, Protocol: "tcp", Name: "http", Labels: map[string]string{"vip": "api:80"}},
				{ContainerPort: 9090, HostPort: 0, ServicePort: 10000 + n%1000, Protocol: "udp,tcp", Name: "metrics"},
			},
		}
		a.Networks = []engine.Network{{Mode: "container/bridge"}}
		a.PortDefinitions = []engine.PortDefinition{}
		a.Tty = true
	} else {
		a.Cmd = fmt.Sprintf("./run.sh --port $PORT0 --n %d", n)
		a.PortDefinitions = []engine.PortDefinition{
			{Port: 0, Protocol: "tcp", Name: "http", Labels: map[string]string{"public": "true"}},
			{Port: 10000 + n%1000, Protocol: "udp", Name: "stats"},
		}
		a.RequirePorts = n%3 == 0
	}
	a.ApplyDefaults()
	return a
}

// Task returns the n-th task of app appID, with every field set.
func Task(appID string, n int) *engine.Task {
	ok := Version(n)
	cause := "connection refused"
	return &engine.Task{
		ID:           fmt.Sprintf("%s.%08x-0000-4000-8000-%012x", engine.SafeID(appID), n, n),
		AppID:        appID,
		Host:         fmt.Sprintf("agent-%d.example.com", n%5),
		Ports:        []int{31000 + n%1000, 32000 + n%1000},
		ServicePorts: []int{10000 + n%1000},
		SlaveID:      fmt.Sprintf("agent-%d-S0", n%5),
		StagedAt:     Version(n),
		StartedAt:    Version(n + 1),
		Version:      Version(n / 10),
		State:        engine.TaskRunning,
		IPAddresses:  []engine.IPAddr{{IPAddress: fmt.Sprintf("10.0.0.%d", n%250), Protocol: "IPv4"}},
		HealthCheckResults: []engine.HealthResult{{
			Alive: n%2 == 0, ConsecutiveFailures: n % 3,
			FirstSuccess: &ok, LastSuccess: &ok, LastFailure: nil, LastFailureCause: &cause,
			TaskID: "t", InstanceID: "i",
		}},
		Role:         "web",
		LocalVolumes: []any{map[string]any{"containerPath": "data", "persistenceId": "p"}, "x", 1.5, true, nil},
		Message:      "Container is running",
	}
}

// Deployment returns a running deployment whose plan carries apps as creates (one
// step each) and a restart of the first app with field changes, rolling waves and
// JSON values of every kind.
func Deployment(id string, apps ...*engine.App) *engine.Deployment {
	p := &engine.Plan{FormatVersion: engine.PlanFormatVersion, StateSerial: 7, Scope: "/"}
	for i, a := range apps {
		p.Changes = append(p.Changes, &engine.Change{
			ID: a.ID, Action: engine.ActionCreate, After: a, Fields: []engine.FieldChange{}, Step: i,
			Rolling: &engine.Rolling{From: 0, To: a.Instances, MinHealthy: 0, MaxRunning: a.Instances},
		})
		p.Steps = append(p.Steps, engine.Step{Actions: []engine.StepAction{{ID: a.ID, Action: engine.ActionCreate}}})
		p.Summary.Create++
	}
	if len(apps) > 0 {
		before := apps[0]
		after := apps[0].Clone()
		after.Cmd = "./run.sh --new"
		after.Instances = 10
		p.Changes = append(p.Changes, &engine.Change{
			ID: after.ID, Action: engine.ActionRestart, Before: before, After: after,
			Fields: []engine.FieldChange{
				{Path: "cmd", Before: before.Cmd, After: after.Cmd, ForcesRestart: true},
				{Path: "instances", Before: float64(before.Instances), After: float64(10)},
				{Path: "env.NEW", Before: nil, After: map[string]any{"secret": "s"}},
				{Path: "args", Before: []any{"a", 1.0, false}, After: nil},
			},
			Reason:        `cmd: "a" -> "b"`,
			OnlyViolating: true,
			Rolling: &engine.Rolling{From: 10, To: 10, MinHealthy: 5, MaxRunning: 12, Waves: []engine.Wave{
				{Start: 2, Kill: 5, Old: 5, New: 2}, {Start: 5, Kill: 5, Old: 0, New: 7}, {Start: 3, Kill: 0, Old: 0, New: 10},
			}},
			Step: len(apps),
		})
		p.Steps = append(p.Steps, engine.Step{Actions: []engine.StepAction{{ID: after.ID, Action: engine.ActionRestart}}})
		p.Summary.Restart++
	}
	return &engine.Deployment{
		ID:          id,
		Version:     Version(len(apps)),
		Plan:        p,
		CurrentStep: len(apps) / 2,
		Status:      engine.DeploymentRunning,
		Reason:      "waiting for /shop/api (2/3 healthy)",
		CreatedAt:   Version(0),
		FinishedAt:  "",
	}
}

// Subscription returns the n-th value of the event callback subscription of
// callbackURL.
func Subscription(callbackURL string, n int) *engine.Subscription {
	return &engine.Subscription{
		CallbackURL: callbackURL,
		ClientIP:    fmt.Sprintf("10.0.%d.%d", n/256%256, n%256),
		CreatedAt:   Version(n),
	}
}

// Group returns a group record: dependencies, labels and a version derived from
// n.
func Group(id string, n int) *engine.Group {
	return &engine.Group{
		ID:           id,
		Dependencies: []string{"/infra/db", fmt.Sprintf("/infra/q%d", n%3)},
		Labels:       map[string]string{"team": fmt.Sprint("t", n%4)},
		EnforceRole:  n%2 == 1,
		Version:      Version(n),
	}
}

// GroupVersion returns the record of group id at Version(n): the group and the
// changes of a deployment (one app created, one changed, the group itself).
func GroupVersion(id string, n int) *engine.GroupVersion {
	return &engine.GroupVersion{
		Group: Group(id, n),
		Apps: []engine.VersionChange{
			{ID: id + "/api", Before: Version(n - 1), After: Version(n)},
			{ID: id + "/new", After: Version(n)},
		},
		Groups: []engine.VersionChange{{ID: id, Before: Version(n - 1), After: Version(n)}},
	}
}
