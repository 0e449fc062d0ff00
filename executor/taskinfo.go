package executor

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/scheduler"
)

// NewTaskID returns a fresh task id "<safeId>.<uuid>" for the app.
func NewTaskID(appID string) string {
	return engine.SafeID(appID) + "." + newUUID()
}

func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never happens on Linux
	}
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// TaskEnv returns the environment Marathon gives a task: HOST, PORT0..n, PORT,
// PORTS, PORT_<port> (per port definition: its service port, naming the host
// port), PORT_<NAME>, MARATHON_APP_ID, MARATHON_APP_VERSION, MESOS_TASK_ID,
// MARATHON_APP_RESOURCE_*, MARATHON_APP_LABELS and MARATHON_APP_LABEL_<K>, then the
// app's own env (which wins, as in Marathon).
func TaskEnv(app *engine.App, taskID, host string, ports []uint64) map[string]string {
	env := map[string]string{
		"HOST":                       host,
		"MARATHON_APP_ID":            app.ID,
		"MARATHON_APP_VERSION":       app.Version,
		"MESOS_TASK_ID":              taskID,
		"MARATHON_APP_RESOURCE_CPUS": strconv.FormatFloat(app.Cpus, 'f', -1, 64),
		"MARATHON_APP_RESOURCE_MEM":  strconv.FormatFloat(app.Mem, 'f', -1, 64),
		"MARATHON_APP_RESOURCE_DISK": strconv.FormatFloat(app.Disk, 'f', -1, 64),
		"MARATHON_APP_RESOURCE_GPUS": strconv.Itoa(app.Gpus),
		"MARATHON_APP_DOCKER_IMAGE":  "",
		"MARATHON_APP_LABELS":        "",
	}
	if app.Container != nil && app.Container.Docker != nil {
		env["MARATHON_APP_DOCKER_IMAGE"] = app.Container.Docker.Image
	} else {
		delete(env, "MARATHON_APP_DOCKER_IMAGE")
	}
	strs := make([]string, len(ports))
	for i, p := range ports {
		s := strconv.FormatUint(p, 10)
		strs[i] = s
		env["PORT"+strconv.Itoa(i)] = s
		if i < len(app.PortDefinitions) {
			// Marathon's PORT_<port>: the port the definition asks for (its
			// service port, or the host port itself under requirePorts),
			// else the host port's own number.
			if pd := app.PortDefinitions[i]; pd.Port != 0 {
				env["PORT_"+strconv.Itoa(pd.Port)] = s
			} else {
				env["PORT_"+s] = s
			}
			if app.PortDefinitions[i].Name != "" {
				env["PORT_"+envName(app.PortDefinitions[i].Name)] = s
			}
		}
	}
	if len(ports) > 0 {
		env["PORT"] = strs[0]
		env["PORTS"] = strings.Join(strs, ",")
	}
	if len(app.Labels) > 0 {
		keys := make([]string, 0, len(app.Labels))
		for k, v := range app.Labels {
			keys = append(keys, envName(k))
			env["MARATHON_APP_LABEL_"+envName(k)] = v
		}
		sort.Strings(keys)
		env["MARATHON_APP_LABELS"] = strings.Join(keys, " ")
	} else {
		delete(env, "MARATHON_APP_LABELS")
	}
	for k, v := range app.Env {
		env[k] = v
	}
	return env
}

// envName upper-cases a name and replaces what is not [A-Z0-9_] by "_".
func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// BuildTaskInfo turns an app and a placement into the TaskInfo sent in a LAUNCH.
func BuildTaskInfo(app *engine.App, taskID string, p scheduler.Placement, defaultGrace time.Duration) mesos.TaskInfo {
	env := TaskEnv(app, taskID, p.Hostname, p.Ports)
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	vars := make([]mesos.Environment_Variable, 0, len(names))
	for _, k := range names {
		v := env[k]
		vars = append(vars, mesos.Environment_Variable{Name: k, Value: &v})
	}

	cmd := &mesos.CommandInfo{Environment: &mesos.Environment{Variables: vars}}
	switch {
	case app.Cmd != "":
		shell := true
		value := app.Cmd
		cmd.Shell, cmd.Value = &shell, &value
	case len(app.Args) > 0:
		shell := false
		cmd.Shell = &shell
		if app.Container == nil {
			value := app.Args[0]
			cmd.Value = &value
		}
		cmd.Arguments = append([]string(nil), app.Args...)
	default:
		shell := false
		cmd.Shell = &shell
	}
	if app.User != "" {
		u := app.User
		cmd.User = &u
	}
	for _, f := range app.Fetch {
		u := mesos.CommandInfo_URI{Value: f.URI}
		extract, executable, cache := f.Extract, f.Executable, f.Cache
		u.Extract, u.Executable, u.Cache = &extract, &executable, &cache
		if f.DestPath != "" {
			dp := f.DestPath
			u.OutputFile = &dp
		}
		cmd.URIs = append(cmd.URIs, u)
	}

	ti := mesos.TaskInfo{
		Name:      engine.SafeID(app.ID),
		TaskID:    mesos.TaskID{Value: taskID},
		AgentID:   mesos.AgentID{Value: p.AgentID},
		Resources: p.Resources,
		Command:   cmd,
	}
	grace := defaultGrace
	if app.TaskKillGracePeriodSeconds > 0 {
		grace = time.Duration(app.TaskKillGracePeriodSeconds) * time.Second
	}
	ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: grace.Nanoseconds()}}
	if len(app.Labels) > 0 {
		keys := make([]string, 0, len(app.Labels))
		for k := range app.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		ls := &mesos.Labels{}
		for _, k := range keys {
			v := app.Labels[k]
			ls.Labels = append(ls.Labels, mesos.Label{Key: k, Value: &v})
		}
		ti.Labels = ls
	}
	if c := app.Container; c != nil {
		ti.Container = containerInfo(c, p.Ports)
	}
	for _, hc := range app.HealthChecks {
		if hc.IsMesos() {
			ti.HealthCheck = mesosHealthCheck(app, hc, p.Ports)
			break // Mesos takes one health check per task
		}
	}
	return ti
}

func containerInfo(c *engine.Container, ports []uint64) *mesos.ContainerInfo {
	ci := &mesos.ContainerInfo{}
	t := mesos.ContainerInfo_MESOS
	if c.Type == "DOCKER" {
		t = mesos.ContainerInfo_DOCKER
	}
	ci.Type = &t
	for _, v := range c.Volumes {
		mode := mesos.RW
		if v.Mode == "RO" {
			mode = mesos.RO
		}
		vol := mesos.Volume{ContainerPath: v.ContainerPath, Mode: &mode}
		if v.HostPath != "" {
			hp := v.HostPath
			vol.HostPath = &hp
		}
		ci.Volumes = append(ci.Volumes, vol)
	}
	if d := c.Docker; d != nil {
		di := &mesos.ContainerInfo_DockerInfo{Image: d.Image}
		if n, ok := mesos.ContainerInfo_DockerInfo_Network_value[strings.ToUpper(d.Network)]; ok && d.Network != "" {
			nw := mesos.ContainerInfo_DockerInfo_Network(n)
			di.Network = &nw
		}
		priv, pull := d.Privileged, d.ForcePullImage
		di.Privileged, di.ForcePullImage = &priv, &pull
		for _, p := range d.Parameters {
			di.Parameters = append(di.Parameters, mesos.Parameter{Key: p.Key, Value: p.Value})
		}
		mappings := d.PortMappings
		if len(mappings) == 0 {
			mappings = c.PortMappings
		}
		for i, pm := range mappings {
			proto := pm.Protocol
			host := uint32(pm.HostPort)
			if i < len(ports) {
				host = uint32(ports[i])
			}
			di.PortMappings = append(di.PortMappings, mesos.ContainerInfo_DockerInfo_PortMapping{
				HostPort: host, ContainerPort: uint32(pm.ContainerPort), Protocol: &proto,
			})
		}
		ci.Docker = di
	}
	return ci
}

func mesosHealthCheck(app *engine.App, hc engine.HealthCheck, ports []uint64) *mesos.HealthCheck {
	f := func(v int) *float64 { x := float64(v); return &x }
	failures := uint32(hc.MaxConsecutiveFailures)
	h := &mesos.HealthCheck{
		DelaySeconds:        f(hc.DelaySeconds),
		IntervalSeconds:     f(hc.IntervalSeconds),
		TimeoutSeconds:      f(hc.TimeoutSeconds),
		ConsecutiveFailures: &failures,
		GracePeriodSeconds:  f(hc.GracePeriodSeconds),
	}
	port := uint32(HealthPort(app, hc, ports))
	switch hc.Protocol {
	case engine.ProtoMesosHTTP, engine.ProtoMesosHTTPS:
		h.Type = mesos.HealthCheck_HTTP
		scheme := "http"
		if hc.Protocol == engine.ProtoMesosHTTPS {
			scheme = "https"
		}
		path := hc.Path
		h.HTTP = &mesos.HealthCheck_HTTPCheckInfo{Scheme: &scheme, Port: port, Path: &path}
	case engine.ProtoMesosTCP:
		h.Type = mesos.HealthCheck_TCP
		h.TCP = &mesos.HealthCheck_TCPCheckInfo{Port: port}
	case engine.ProtoCommand:
		h.Type = mesos.HealthCheck_COMMAND
		shell := true
		value := ""
		if hc.Command != nil {
			value = hc.Command.Value
		}
		h.Command = &mesos.CommandInfo{Shell: &shell, Value: &value}
	}
	return h
}

// HealthPort returns the host port a network health check probes: Port when set,
// else the port named by PortName, else the one at PortIndex (0 by default).
func HealthPort(app *engine.App, hc engine.HealthCheck, ports []uint64) int {
	if hc.Port != 0 {
		return hc.Port
	}
	idx := 0
	if hc.PortName != "" {
		for i, pd := range app.PortDefinitions {
			if pd.Name == hc.PortName {
				idx = i
			}
		}
	} else if hc.PortIndex != nil {
		idx = *hc.PortIndex
	}
	if idx < len(ports) {
		return int(ports[idx])
	}
	return 0
}

// NewUUID returns a random (version 4) UUID, as deployment ids are.
func NewUUID() string { return newUUID() }
