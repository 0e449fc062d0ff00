package planner

import (
	"slices"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Reason strings the planner writes into Change.Reason.
const (
	// ReasonCreate is the reason of a create.
	ReasonCreate = "not deployed"
	// ReasonDestroy is the reason of a destroy of an app the files no longer declare.
	ReasonDestroy = "deployed under the scope but no longer declared"
	// ReasonDestroyAll is the reason of a destroy planned with Options.Destroy.
	ReasonDestroyAll = "destroy requested for everything under the scope"
	// ReasonRestart is a restart asked for (Options.Restart).
	ReasonRestart = "restart requested"
	// ReasonOnlyViolating ends the reason of a restart caused by placement fields
	// alone ("constraints changed: only tasks violating them are replaced").
	ReasonOnlyViolating = " changed: only tasks violating them are replaced"
)

// class is what a changed field calls for, in increasing precedence.
type class uint8

const (
	// classUpdate: read by the executor, applied in place.
	classUpdate class = iota + 1
	// classScale: instances.
	classScale
	// classPlacement: constraints and accepted resource roles; restart of the
	// violating tasks only.
	classPlacement
	// classTask: goes into the TaskInfo; rolling restart.
	classTask
)

// fieldDiff is a FieldChange with its class.
type fieldDiff struct {
	engine.FieldChange
	class class
}

// differ collects the changed leaves of two apps. Its comparisons are written by
// hand against the Go values; JSON values and paths are only built for fields that
// differ, so diffing two equal apps allocates nothing.
type differ struct {
	fields []fieldDiff
}

func (d *differ) add(path string, before, after any, c class) {
	d.fields = append(d.fields, fieldDiff{
		FieldChange: engine.FieldChange{Path: path, Before: before, After: after, ForcesRestart: c >= classPlacement},
		class:       c,
	})
}

// Diff returns every changed field between two apps, sorted by path (list indices
// compare as numbers: healthChecks[2] before healthChecks[10]), and the action the
// change calls for with its reason; action is "" and fields nil when the apps are
// equal. onlyViolating is true for a restart caused by placement fields alone
// (constraints, acceptedResourceRoles): only tasks violating the new placement are
// replaced.
//
// Precedence: a task field (cmd, env, resources, ports, container, MESOS_* health
// checks, ...) → restart; else a placement field → restart with onlyViolating;
// else instances → scale (executor-read fields changed with it are applied in
// place, and listed); else → update. The reason names the first field (by path) of
// the winning class, as `path: before -> after` with JSON values.
//
// ID, Version, VersionInfo and Source are never compared (apps are matched by ID).
// Representations that mean the same are equal: nil and empty lists and maps (so
// PortDefinitions nil, "absent" after ApplyDefaults for container networking, and
// [] both mean "no ports"), and resource limits by their JSON value (2 and 2.0).
// Before/After of each FieldChange are the JSON values App.MarshalJSON would give
// the field (nil when absent); a list element added or removed, or a map entry or
// optional object (container, service, ...) present on one side only, is reported
// whole at its own path.
func Diff(before, after *engine.App) (fields []engine.FieldChange, action engine.Action, reason string, onlyViolating bool) {
	var d differ
	d.apps(before, after)
	if len(d.fields) == 0 {
		return nil, "", "", false
	}
	action, reason, onlyViolating = d.classify(before, after)
	return d.fieldChanges(), action, reason, onlyViolating
}

// fieldChanges returns the sorted field changes (classify sorts them).
func (d *differ) fieldChanges() []engine.FieldChange {
	out := make([]engine.FieldChange, len(d.fields))
	for i := range d.fields {
		out[i] = d.fields[i].FieldChange
	}
	return out
}

// classify sorts the fields of the diff of before and after and picks the
// action and reason; a reason naming a sensitive field (of either app) shows
// engine.SensitiveValue for its values.
func (d *differ) classify(before, after *engine.App) (action engine.Action, reason string, onlyViolating bool) {
	slices.SortFunc(d.fields, func(x, y fieldDiff) int { return comparePaths(x.Path, y.Path) })
	var task, scale *fieldDiff
	var constraints, roles bool
	for i := range d.fields {
		f := &d.fields[i]
		switch f.class {
		case classTask:
			if task == nil {
				task = f
			}
		case classPlacement:
			if strings.HasPrefix(f.Path, "constraints") {
				constraints = true
			} else {
				roles = true
			}
		case classScale:
			scale = f
		}
	}
	switch {
	case task != nil:
		return engine.ActionRestart, changeText(&task.FieldChange, before, after), false
	case constraints || roles:
		what := "constraints"
		switch {
		case constraints && roles:
			what = "constraints and acceptedResourceRoles"
		case roles:
			what = "acceptedResourceRoles"
		}
		return engine.ActionRestart, what + ReasonOnlyViolating, true
	case scale != nil:
		return engine.ActionScale, changeText(&scale.FieldChange, before, after), false
	}
	return engine.ActionUpdate, changeText(&d.fields[0].FieldChange, before, after), false
}

// changeText renders a field change as `path: before -> after`, or `path:
// (sensitive value)` when the field is sensitive in before or after.
func changeText(f *engine.FieldChange, before, after *engine.App) string {
	if before.IsSensitive(f.Path) || after.IsSensitive(f.Path) {
		return f.Path + ": " + engine.SensitiveValue
	}
	return f.Path + ": " + formatValue(f.Before) + " -> " + formatValue(f.After)
}

// apps compares every field of a and b except ID, Version, VersionInfo and
// Source. TestDiffNoticesEveryField mutates every field of App, so a field added to
// App without a line here fails that test.
func (d *differ) apps(a, b *engine.App) {
	// Task fields: a change restarts tasks.
	if a.Cmd != b.Cmd {
		d.add("cmd", strOpt(a.Cmd), strOpt(b.Cmd), classTask)
	}
	d.strings("args", a.Args, b.Args, classTask)
	if a.User != b.User {
		d.add("user", strOpt(a.User), strOpt(b.User), classTask)
	}
	d.env(a, b)
	d.secrets(a.Secrets, b.Secrets)
	if a.Cpus != b.Cpus {
		d.add("cpus", a.Cpus, b.Cpus, classTask)
	}
	if a.Mem != b.Mem {
		d.add("mem", a.Mem, b.Mem, classTask)
	}
	if a.Disk != b.Disk {
		d.add("disk", a.Disk, b.Disk, classTask)
	}
	if a.Gpus != b.Gpus {
		d.add("gpus", float64(a.Gpus), float64(b.Gpus), classTask)
	}
	if a.Executor != b.Executor {
		d.add("executor", strOpt(a.Executor), strOpt(b.Executor), classTask)
	}
	if a.Role != b.Role {
		d.add("role", strOpt(a.Role), strOpt(b.Role), classTask)
	}
	d.fetch(a.Fetch, b.Fetch)
	d.portDefinitions(a.PortDefinitions, b.PortDefinitions)
	if a.RequirePorts != b.RequirePorts {
		d.add("requirePorts", a.RequirePorts, b.RequirePorts, classTask)
	}
	d.container(a.Container, b.Container)
	d.networks(a.Networks, b.Networks)
	if a.Tty != b.Tty {
		d.add("tty", boolOpt(a.Tty), boolOpt(b.Tty), classTask)
	}
	d.resourceLimits(a.ResourceLimits, b.ResourceLimits)
	// Health checks: MESOS_* ones are task fields, the others executor-read.
	d.healthChecks(a.HealthChecks, b.HealthChecks)

	// Placement fields: restart only the tasks that violate the new placement.
	d.constraints(a.Constraints, b.Constraints)
	d.strings("acceptedResourceRoles", a.AcceptedResourceRoles, b.AcceptedResourceRoles, classPlacement)

	// Scale.
	if a.Instances != b.Instances {
		d.add("instances", float64(a.Instances), float64(b.Instances), classScale)
	}

	// Executor-read fields: applied in place.
	d.stringMap("labels", a.Labels, b.Labels, classUpdate)
	d.readinessChecks(a.ReadinessChecks, b.ReadinessChecks)
	if a.UpgradeStrategy.MinimumHealthCapacity != b.UpgradeStrategy.MinimumHealthCapacity {
		d.add("upgradeStrategy.minimumHealthCapacity", a.UpgradeStrategy.MinimumHealthCapacity, b.UpgradeStrategy.MinimumHealthCapacity, classUpdate)
	}
	if a.UpgradeStrategy.MaximumOverCapacity != b.UpgradeStrategy.MaximumOverCapacity {
		d.add("upgradeStrategy.maximumOverCapacity", a.UpgradeStrategy.MaximumOverCapacity, b.UpgradeStrategy.MaximumOverCapacity, classUpdate)
	}
	if a.BackoffSeconds != b.BackoffSeconds {
		d.add("backoffSeconds", a.BackoffSeconds, b.BackoffSeconds, classUpdate)
	}
	if a.BackoffFactor != b.BackoffFactor {
		d.add("backoffFactor", a.BackoffFactor, b.BackoffFactor, classUpdate)
	}
	if a.MaxLaunchDelaySeconds != b.MaxLaunchDelaySeconds {
		d.add("maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds, b.MaxLaunchDelaySeconds, classUpdate)
	}
	if a.GiveUpAfter != b.GiveUpAfter {
		d.add("giveUpAfter", intOpt(a.GiveUpAfter), intOpt(b.GiveUpAfter), classUpdate)
	}
	if a.ProgressDeadlineSeconds != b.ProgressDeadlineSeconds {
		d.add("progressDeadlineSeconds", intOpt(a.ProgressDeadlineSeconds), intOpt(b.ProgressDeadlineSeconds), classUpdate)
	}
	if a.AutoRevert != b.AutoRevert {
		d.add("autoRevert", boolOpt(a.AutoRevert), boolOpt(b.AutoRevert), classUpdate)
	}
	d.service(a.Service, b.Service)
	d.strings("dependencies", a.Dependencies, b.Dependencies, classUpdate)
	if a.KillSelection != b.KillSelection {
		d.add("killSelection", a.KillSelection, b.KillSelection, classUpdate)
	}
	if a.TaskKillGracePeriodSeconds != b.TaskKillGracePeriodSeconds {
		d.add("taskKillGracePeriodSeconds", intOpt(a.TaskKillGracePeriodSeconds), intOpt(b.TaskKillGracePeriodSeconds), classUpdate)
	}
	d.unreachable(a.UnreachableStrategy, b.UnreachableStrategy)
}

// strings diffs a list of strings element by element.
func (d *differ) strings(path string, a, b []string, c class) {
	if slices.Equal(a, b) {
		return
	}
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath(path, i), nil, b[i], c)
		case i >= len(b):
			d.add(indexPath(path, i), a[i], nil, c)
		case a[i] != b[i]:
			d.add(indexPath(path, i), a[i], b[i], c)
		}
	}
}

// ints diffs a list of ints element by element.
func (d *differ) ints(path string, a, b []int, c class) {
	if slices.Equal(a, b) {
		return
	}
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath(path, i), nil, float64(b[i]), c)
		case i >= len(b):
			d.add(indexPath(path, i), float64(a[i]), nil, c)
		case a[i] != b[i]:
			d.add(indexPath(path, i), float64(a[i]), float64(b[i]), c)
		}
	}
}

// stringMapsEqual reports whether two string maps hold the same entries (nil and
// empty are equal).
func stringMapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok || va != vb {
			return false
		}
	}
	return true
}

// stringMap diffs a map of strings key by key.
func (d *differ) stringMap(path string, a, b map[string]string, c class) {
	if stringMapsEqual(a, b) {
		return
	}
	for k, va := range a {
		if vb, ok := b[k]; !ok {
			d.add(keyPath(path, k), va, nil, c)
		} else if va != vb {
			d.add(keyPath(path, k), va, vb, c)
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			d.add(keyPath(path, k), nil, vb, c)
		}
	}
}

// env diffs Marathon's env object, which merges Env and EnvSecrets.
func (d *differ) env(a, b *engine.App) {
	if stringMapsEqual(a.Env, b.Env) && stringMapsEqual(a.EnvSecrets, b.EnvSecrets) {
		return
	}
	seen := make(map[string]bool, len(a.Env)+len(a.EnvSecrets)+len(b.Env)+len(b.EnvSecrets))
	check := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		_, sa := a.EnvSecrets[k]
		_, sb := b.EnvSecrets[k]
		va, oka := a.Env[k]
		vb, okb := b.Env[k]
		if sa == sb && a.EnvSecrets[k] == b.EnvSecrets[k] && (sa || oka == okb && va == vb) {
			return
		}
		d.add(keyPath("env", k), envVal(a, k), envVal(b, k), classTask)
	}
	for _, m := range []map[string]string{a.Env, a.EnvSecrets, b.Env, b.EnvSecrets} {
		for k := range m {
			check(k)
		}
	}
}

func (d *differ) secrets(a, b map[string]engine.Secret) {
	if len(a) == len(b) {
		equal := true
		for k, sa := range a {
			if sb, ok := b[k]; !ok || sa != sb {
				equal = false
				break
			}
		}
		if equal {
			return
		}
	}
	for k, sa := range a {
		sb, ok := b[k]
		switch {
		case !ok:
			d.add(keyPath("secrets", k), secretVal(sa), nil, classTask)
		case sa.Source != sb.Source:
			d.add(keyPath("secrets", k)+".source", sa.Source, sb.Source, classTask)
		}
	}
	for k, sb := range b {
		if _, ok := a[k]; !ok {
			d.add(keyPath("secrets", k), nil, secretVal(sb), classTask)
		}
	}
}

func (d *differ) constraints(a, b []engine.Constraint) {
	if slices.Equal(a, b) {
		return
	}
	for i := range max(len(a), len(b)) {
		var x, y any
		if i < len(a) {
			x = constraintVal(a[i])
		}
		if i < len(b) {
			y = constraintVal(b[i])
		}
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			d.add(indexPath("constraints", i), x, y, classPlacement)
		}
	}
}

func (d *differ) fetch(a, b []engine.Artifact) {
	if slices.Equal(a, b) {
		return
	}
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath("fetch", i), nil, artifactVal(b[i]), classTask)
		case i >= len(b):
			d.add(indexPath("fetch", i), artifactVal(a[i]), nil, classTask)
		case a[i] != b[i]:
			p, x, y := indexPath("fetch", i), a[i], b[i]
			if x.URI != y.URI {
				d.add(p+".uri", x.URI, y.URI, classTask)
			}
			if x.Extract != y.Extract {
				d.add(p+".extract", x.Extract, y.Extract, classTask)
			}
			if x.Executable != y.Executable {
				d.add(p+".executable", x.Executable, y.Executable, classTask)
			}
			if x.Cache != y.Cache {
				d.add(p+".cache", x.Cache, y.Cache, classTask)
			}
			if x.DestPath != y.DestPath {
				d.add(p+".destPath", strOpt(x.DestPath), strOpt(y.DestPath), classTask)
			}
		}
	}
}

// sameServicePort reports whether a desired service port (after) keeps the
// deployed one (before): 0 asks for a port, and the deployed app has one, which
// the write keeps (engine.AssignServicePorts). So a port the files leave at 0
// is no change once assigned.
func sameServicePort(before, after int) bool { return before == after || after == 0 }

func portDefinitionEqual(x, y *engine.PortDefinition) bool {
	return sameServicePort(x.Port, y.Port) && x.Protocol == y.Protocol && x.Name == y.Name && stringMapsEqual(x.Labels, y.Labels)
}

func (d *differ) portDefinitions(a, b []engine.PortDefinition) {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath("portDefinitions", i), nil, portDefinitionVal(b[i]), classTask)
		case i >= len(b):
			d.add(indexPath("portDefinitions", i), portDefinitionVal(a[i]), nil, classTask)
		case !portDefinitionEqual(&a[i], &b[i]):
			p, x, y := indexPath("portDefinitions", i), &a[i], &b[i]
			if !sameServicePort(x.Port, y.Port) {
				d.add(p+".port", float64(x.Port), float64(y.Port), classTask)
			}
			if x.Protocol != y.Protocol {
				d.add(p+".protocol", x.Protocol, y.Protocol, classTask)
			}
			if x.Name != y.Name {
				d.add(p+".name", strOpt(x.Name), strOpt(y.Name), classTask)
			}
			d.stringMap(p+".labels", x.Labels, y.Labels, classTask)
		}
	}
}

func portMappingEqual(x, y *engine.PortMapping) bool {
	return x.ContainerPort == y.ContainerPort && x.HostPort == y.HostPort && sameServicePort(x.ServicePort, y.ServicePort) &&
		x.Protocol == y.Protocol && x.Name == y.Name && stringMapsEqual(x.Labels, y.Labels)
}

func (d *differ) portMappings(path string, a, b []engine.PortMapping) {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath(path, i), nil, portMappingVal(b[i]), classTask)
		case i >= len(b):
			d.add(indexPath(path, i), portMappingVal(a[i]), nil, classTask)
		case !portMappingEqual(&a[i], &b[i]):
			p, x, y := indexPath(path, i), &a[i], &b[i]
			if x.ContainerPort != y.ContainerPort {
				d.add(p+".containerPort", float64(x.ContainerPort), float64(y.ContainerPort), classTask)
			}
			if x.HostPort != y.HostPort {
				d.add(p+".hostPort", float64(x.HostPort), float64(y.HostPort), classTask)
			}
			if !sameServicePort(x.ServicePort, y.ServicePort) {
				d.add(p+".servicePort", intOpt(x.ServicePort), intOpt(y.ServicePort), classTask)
			}
			if x.Protocol != y.Protocol {
				d.add(p+".protocol", x.Protocol, y.Protocol, classTask)
			}
			if x.Name != y.Name {
				d.add(p+".name", strOpt(x.Name), strOpt(y.Name), classTask)
			}
			d.stringMap(p+".labels", x.Labels, y.Labels, classTask)
		}
	}
}

func (d *differ) container(a, b *engine.Container) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		d.add("container", containerVal(a), containerVal(b), classTask)
		return
	}
	if a.Type != b.Type {
		d.add("container.type", a.Type, b.Type, classTask)
	}
	d.docker(a.Docker, b.Docker)
	if !slices.Equal(a.Volumes, b.Volumes) {
		for i := range max(len(a.Volumes), len(b.Volumes)) {
			switch {
			case i >= len(a.Volumes):
				d.add(indexPath("container.volumes", i), nil, volumeVal(b.Volumes[i]), classTask)
			case i >= len(b.Volumes):
				d.add(indexPath("container.volumes", i), volumeVal(a.Volumes[i]), nil, classTask)
			case a.Volumes[i] != b.Volumes[i]:
				p, x, y := indexPath("container.volumes", i), a.Volumes[i], b.Volumes[i]
				if x.ContainerPath != y.ContainerPath {
					d.add(p+".containerPath", x.ContainerPath, y.ContainerPath, classTask)
				}
				if x.HostPath != y.HostPath {
					d.add(p+".hostPath", strOpt(x.HostPath), strOpt(y.HostPath), classTask)
				}
				if x.Mode != y.Mode {
					d.add(p+".mode", x.Mode, y.Mode, classTask)
				}
			}
		}
	}
	d.portMappings("container.portMappings", a.PortMappings, b.PortMappings)
}

func (d *differ) docker(a, b *engine.Docker) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		d.add("container.docker", dockerVal(a), dockerVal(b), classTask)
		return
	}
	if a.Image != b.Image {
		d.add("container.docker.image", a.Image, b.Image, classTask)
	}
	if a.Network != b.Network {
		d.add("container.docker.network", strOpt(a.Network), strOpt(b.Network), classTask)
	}
	if a.Privileged != b.Privileged {
		d.add("container.docker.privileged", a.Privileged, b.Privileged, classTask)
	}
	if a.ForcePullImage != b.ForcePullImage {
		d.add("container.docker.forcePullImage", a.ForcePullImage, b.ForcePullImage, classTask)
	}
	if !slices.Equal(a.Parameters, b.Parameters) {
		for i := range max(len(a.Parameters), len(b.Parameters)) {
			switch {
			case i >= len(a.Parameters):
				d.add(indexPath("container.docker.parameters", i), nil, parameterVal(b.Parameters[i]), classTask)
			case i >= len(b.Parameters):
				d.add(indexPath("container.docker.parameters", i), parameterVal(a.Parameters[i]), nil, classTask)
			default:
				p, x, y := indexPath("container.docker.parameters", i), a.Parameters[i], b.Parameters[i]
				if x.Key != y.Key {
					d.add(p+".key", x.Key, y.Key, classTask)
				}
				if x.Value != y.Value {
					d.add(p+".value", x.Value, y.Value, classTask)
				}
			}
		}
	}
	d.portMappings("container.docker.portMappings", a.PortMappings, b.PortMappings)
}

func (d *differ) networks(a, b []engine.Network) {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath("networks", i), nil, networkVal(b[i]), classTask)
		case i >= len(b):
			d.add(indexPath("networks", i), networkVal(a[i]), nil, classTask)
		default:
			x, y := &a[i], &b[i]
			if x.Mode == y.Mode && x.Name == y.Name && stringMapsEqual(x.Labels, y.Labels) {
				continue
			}
			p := indexPath("networks", i)
			if x.Mode != y.Mode {
				d.add(p+".mode", x.Mode, y.Mode, classTask)
			}
			if x.Name != y.Name {
				d.add(p+".name", strOpt(x.Name), strOpt(y.Name), classTask)
			}
			d.stringMap(p+".labels", x.Labels, y.Labels, classTask)
		}
	}
}

func intPtrEqual(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func commandEqual(a, b *engine.CheckCommand) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Value == b.Value
}

func healthCheckEqual(x, y *engine.HealthCheck) bool {
	return x.Protocol == y.Protocol && x.Path == y.Path && intPtrEqual(x.PortIndex, y.PortIndex) &&
		x.PortName == y.PortName && x.Port == y.Port && commandEqual(x.Command, y.Command) &&
		x.GracePeriodSeconds == y.GracePeriodSeconds && x.IntervalSeconds == y.IntervalSeconds &&
		x.TimeoutSeconds == y.TimeoutSeconds && x.MaxConsecutiveFailures == y.MaxConsecutiveFailures &&
		x.IgnoreHTTP1xx == y.IgnoreHTTP1xx && x.DelaySeconds == y.DelaySeconds
}

// mesosChecksEqual compares the MESOS_* health checks of a and b, in order: the
// checks that go into the TaskInfo.
func mesosChecksEqual(a, b []engine.HealthCheck) bool {
	i, j := 0, 0
	for {
		for i < len(a) && !a[i].IsMesos() {
			i++
		}
		for j < len(b) && !b[j].IsMesos() {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if !healthCheckEqual(&a[i], &b[j]) {
			return false
		}
		i++
		j++
	}
}

// healthChecks diffs the health checks by index. A change of the sequence of
// MESOS_* checks restarts tasks (they run inside the task): the changes at indices
// holding a MESOS_* check on either side are then task fields. Every other change
// (executor-side HTTP/HTTPS/TCP/COMMAND checks) is applied in place.
func (d *differ) healthChecks(a, b []engine.HealthCheck) {
	if len(a) == len(b) {
		equal := true
		for i := range a {
			if !healthCheckEqual(&a[i], &b[i]) {
				equal = false
				break
			}
		}
		if equal {
			return
		}
	}
	mesosChanged := !mesosChecksEqual(a, b)
	for i := range max(len(a), len(b)) {
		c := classUpdate
		if mesosChanged && (i < len(a) && a[i].IsMesos() || i < len(b) && b[i].IsMesos()) {
			c = classTask
		}
		switch {
		case i >= len(a):
			d.add(indexPath("healthChecks", i), nil, healthCheckVal(b[i]), c)
		case i >= len(b):
			d.add(indexPath("healthChecks", i), healthCheckVal(a[i]), nil, c)
		case !healthCheckEqual(&a[i], &b[i]):
			d.healthCheck(indexPath("healthChecks", i), &a[i], &b[i], c)
		}
	}
}

func (d *differ) healthCheck(p string, x, y *engine.HealthCheck, c class) {
	if x.Protocol != y.Protocol {
		d.add(p+".protocol", x.Protocol, y.Protocol, c)
	}
	if x.Path != y.Path {
		d.add(p+".path", strOpt(x.Path), strOpt(y.Path), c)
	}
	if !intPtrEqual(x.PortIndex, y.PortIndex) {
		d.add(p+".portIndex", intPtrVal(x.PortIndex), intPtrVal(y.PortIndex), c)
	}
	if x.PortName != y.PortName {
		d.add(p+".portName", strOpt(x.PortName), strOpt(y.PortName), c)
	}
	if x.Port != y.Port {
		d.add(p+".port", intOpt(x.Port), intOpt(y.Port), c)
	}
	switch {
	case x.Command == nil && y.Command == nil:
	case x.Command == nil || y.Command == nil:
		d.add(p+".command", commandVal(x.Command), commandVal(y.Command), c)
	case x.Command.Value != y.Command.Value:
		d.add(p+".command.value", x.Command.Value, y.Command.Value, c)
	}
	if x.GracePeriodSeconds != y.GracePeriodSeconds {
		d.add(p+".gracePeriodSeconds", float64(x.GracePeriodSeconds), float64(y.GracePeriodSeconds), c)
	}
	if x.IntervalSeconds != y.IntervalSeconds {
		d.add(p+".intervalSeconds", float64(x.IntervalSeconds), float64(y.IntervalSeconds), c)
	}
	if x.TimeoutSeconds != y.TimeoutSeconds {
		d.add(p+".timeoutSeconds", float64(x.TimeoutSeconds), float64(y.TimeoutSeconds), c)
	}
	if x.MaxConsecutiveFailures != y.MaxConsecutiveFailures {
		d.add(p+".maxConsecutiveFailures", float64(x.MaxConsecutiveFailures), float64(y.MaxConsecutiveFailures), c)
	}
	if x.IgnoreHTTP1xx != y.IgnoreHTTP1xx {
		d.add(p+".ignoreHttp1xx", x.IgnoreHTTP1xx, y.IgnoreHTTP1xx, c)
	}
	if x.DelaySeconds != y.DelaySeconds {
		d.add(p+".delaySeconds", float64(x.DelaySeconds), float64(y.DelaySeconds), c)
	}
}

func readinessCheckEqual(x, y *engine.ReadinessCheck) bool {
	return x.Name == y.Name && x.Protocol == y.Protocol && x.Path == y.Path && x.PortName == y.PortName &&
		x.IntervalSeconds == y.IntervalSeconds && x.TimeoutSeconds == y.TimeoutSeconds &&
		slices.Equal(x.HTTPStatusCodesForReady, y.HTTPStatusCodesForReady) && x.PreserveLastResponse == y.PreserveLastResponse
}

func (d *differ) readinessChecks(a, b []engine.ReadinessCheck) {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			d.add(indexPath("readinessChecks", i), nil, readinessCheckVal(b[i]), classUpdate)
		case i >= len(b):
			d.add(indexPath("readinessChecks", i), readinessCheckVal(a[i]), nil, classUpdate)
		case !readinessCheckEqual(&a[i], &b[i]):
			p, x, y := indexPath("readinessChecks", i), &a[i], &b[i]
			if x.Name != y.Name {
				d.add(p+".name", x.Name, y.Name, classUpdate)
			}
			if x.Protocol != y.Protocol {
				d.add(p+".protocol", x.Protocol, y.Protocol, classUpdate)
			}
			if x.Path != y.Path {
				d.add(p+".path", x.Path, y.Path, classUpdate)
			}
			if x.PortName != y.PortName {
				d.add(p+".portName", x.PortName, y.PortName, classUpdate)
			}
			if x.IntervalSeconds != y.IntervalSeconds {
				d.add(p+".intervalSeconds", float64(x.IntervalSeconds), float64(y.IntervalSeconds), classUpdate)
			}
			if x.TimeoutSeconds != y.TimeoutSeconds {
				d.add(p+".timeoutSeconds", float64(x.TimeoutSeconds), float64(y.TimeoutSeconds), classUpdate)
			}
			d.ints(p+".httpStatusCodesForReady", x.HTTPStatusCodesForReady, y.HTTPStatusCodesForReady, classUpdate)
			if x.PreserveLastResponse != y.PreserveLastResponse {
				d.add(p+".preserveLastResponse", x.PreserveLastResponse, y.PreserveLastResponse, classUpdate)
			}
		}
	}
}

func (d *differ) unreachable(a, b *engine.UnreachableStrategy) {
	switch {
	case a == nil && b == nil:
		return
	case a != nil && b != nil && a.Disabled && b.Disabled:
		return // both "disabled": the other fields are not encoded
	case a == nil || b == nil || a.Disabled || b.Disabled:
		d.add("unreachableStrategy", unreachableVal(a), unreachableVal(b), classUpdate)
		return
	}
	if a.InactiveAfterSeconds != b.InactiveAfterSeconds {
		d.add("unreachableStrategy.inactiveAfterSeconds", float64(a.InactiveAfterSeconds), float64(b.InactiveAfterSeconds), classUpdate)
	}
	if a.ExpungeAfterSeconds != b.ExpungeAfterSeconds {
		d.add("unreachableStrategy.expungeAfterSeconds", float64(a.ExpungeAfterSeconds), float64(b.ExpungeAfterSeconds), classUpdate)
	}
}

func (d *differ) resourceLimits(a, b *engine.ResourceLimits) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		d.add("resourceLimits", resourceLimitsVal(a), resourceLimitsVal(b), classTask)
		return
	}
	if !limitEqual(a.Cpus, b.Cpus) {
		d.add("resourceLimits.cpus", limitVal(a.Cpus), limitVal(b.Cpus), classTask)
	}
	if !limitEqual(a.Mem, b.Mem) {
		d.add("resourceLimits.mem", limitVal(a.Mem), limitVal(b.Mem), classTask)
	}
}

func (d *differ) service(a, b *engine.Service) {
	switch {
	case a == nil && b == nil:
		return
	case a == nil || b == nil:
		d.add("service", serviceVal(a), serviceVal(b), classUpdate)
		return
	}
	if a.Name != b.Name {
		d.add("service.name", a.Name, b.Name, classUpdate)
	}
	d.strings("service.tags", a.Tags, b.Tags, classUpdate)
	if a.Port != b.Port {
		d.add("service.port", strOpt(a.Port), strOpt(b.Port), classUpdate)
	}
}
