package engine

import (
	"slices"
	"sort"
	"strings"
)

// Decoders (HCL, JSON) distinguish "absent" from "zero" by starting every app, health
// check and readiness check from the values below and overwriting what the input
// sets. ApplyDefaults then only normalises representation, so it can be run any
// number of times.

// NewApp returns an app with the given id and every Marathon default that applies
// to an absent field. PortDefinitions stays nil ("absent"): ApplyDefaults gives
// such an app Marathon's one default port unless its networking or container says
// otherwise.
func NewApp(id string) *App {
	return &App{
		ID:                    id,
		Instances:             DefaultInstances,
		Cpus:                  DefaultCpus,
		Mem:                   DefaultMem,
		UpgradeStrategy:       UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1},
		BackoffSeconds:        DefaultBackoffSeconds,
		BackoffFactor:         DefaultBackoffFactor,
		MaxLaunchDelaySeconds: DefaultMaxLaunchDelaySeconds,
		KillSelection:         DefaultKillSelection,
	}
}

// DefaultHealthCheck returns a health check holding Marathon's defaults (protocol
// HTTP, path "/", grace 300 s, interval 60 s, timeout 20 s, 3 failures, delay 15 s).
// PortIndex is left nil; ApplyDefaults sets it to 0 for network checks of apps with
// ports when no port, port name or index was given.
func DefaultHealthCheck() HealthCheck {
	return HealthCheck{
		Protocol:               DefaultHealthProtocol,
		GracePeriodSeconds:     DefaultHealthGracePeriodSeconds,
		IntervalSeconds:        DefaultHealthIntervalSeconds,
		TimeoutSeconds:         DefaultHealthTimeoutSeconds,
		MaxConsecutiveFailures: DefaultHealthMaxConsecutiveFailures,
		DelaySeconds:           DefaultHealthDelaySeconds,
	}
}

// DefaultReadinessCheck returns a readiness check holding Marathon's defaults.
func DefaultReadinessCheck() ReadinessCheck {
	return ReadinessCheck{
		Name:                    DefaultReadinessName,
		Protocol:                DefaultReadinessProtocol,
		Path:                    DefaultReadinessPath,
		PortName:                DefaultReadinessPortName,
		IntervalSeconds:         DefaultReadinessIntervalSeconds,
		TimeoutSeconds:          DefaultReadinessTimeoutSeconds,
		HTTPStatusCodesForReady: []int{200},
	}
}

// DefaultPortName is the name of the port Marathon gives an app that declares none.
const DefaultPortName = "default"

// ApplyDefaults fills every Marathon default that a zero value stands for and
// normalises the app (see the invariants on App). It is idempotent:
//
//   - PortDefinitions nil (absent) becomes Marathon's one default port {0, tcp,
//     "default"} for host networking without container port mappings; an empty
//     non-nil slice means "no ports" and stays so.
//   - Protocols default to "tcp"; a health check's protocol to HTTP, its path to "/"
//     for HTTP checks, and its PortIndex to 0 when a network check names no port and
//     the app has one.
//   - KillSelection defaults to YOUNGEST_FIRST; UnreachableStrategy to {0, 0};
//     Service.Name to DefaultServiceName(ID).
//   - Empty maps and slices become nil (PortDefinitions excepted, see above);
//     so do networks that are only [{"mode": "host"}], the default.
//   - Dependencies are resolved against the app's group, sorted and de-duplicated;
//     a dependency that cannot be resolved is kept as written for Validate to report.
func (a *App) ApplyDefaults() {
	if a.KillSelection == "" {
		a.KillSelection = DefaultKillSelection
	}
	if a.UnreachableStrategy == nil {
		a.UnreachableStrategy = &UnreachableStrategy{}
	}
	hostNet := true
	for i := range a.Networks {
		if a.Networks[i].Mode == "" {
			a.Networks[i].Mode = "host"
		}
		if a.Networks[i].Mode != "host" {
			hostNet = false
		}
		a.Networks[i].Labels = nilIfEmpty(a.Networks[i].Labels)
	}
	if len(a.Networks) == 0 || len(a.Networks) == 1 && a.Networks[0].Mode == "host" && a.Networks[0].Name == "" && a.Networks[0].Labels == nil {
		// One host network is what no networks means (Marathon 1.5+ writes it
		// out): the same app, and the same in HCL, which has no networks.
		a.Networks = nil
	}
	mappings := false
	if c := a.Container; c != nil {
		if c.Type == "" {
			if c.Docker != nil {
				c.Type = "DOCKER"
			} else {
				c.Type = "MESOS"
			}
		}
		normMappings(c.PortMappings)
		if len(c.PortMappings) == 0 {
			c.PortMappings = nil
		}
		if d := c.Docker; d != nil {
			normMappings(d.PortMappings)
			if len(d.PortMappings) == 0 {
				d.PortMappings = nil
			}
			if len(d.Parameters) == 0 {
				d.Parameters = nil
			}
			mappings = len(d.PortMappings) > 0
		}
		mappings = mappings || len(c.PortMappings) > 0
		for i := range c.Volumes {
			if c.Volumes[i].Mode == "" {
				c.Volumes[i].Mode = "RW"
			}
		}
		if len(c.Volumes) == 0 {
			c.Volumes = nil
		}
	}
	if a.PortDefinitions == nil && hostNet && !mappings {
		a.PortDefinitions = []PortDefinition{{Port: 0, Protocol: DefaultPortProtocol, Name: DefaultPortName}}
	}
	for i := range a.PortDefinitions {
		p := &a.PortDefinitions[i]
		if p.Protocol == "" {
			p.Protocol = DefaultPortProtocol
		}
		p.Labels = nilIfEmpty(p.Labels)
	}
	hasPorts := len(a.PortDefinitions) > 0 || mappings
	for i := range a.HealthChecks {
		h := &a.HealthChecks[i]
		if h.Protocol == "" {
			h.Protocol = DefaultHealthProtocol
		}
		switch h.Protocol {
		case ProtoHTTP, ProtoHTTPS, ProtoMesosHTTP, ProtoMesosHTTPS:
			if h.Path == "" {
				h.Path = DefaultHealthPath
			}
		}
		if h.Protocol != ProtoCommand && h.PortIndex == nil && h.PortName == "" && h.Port == 0 && hasPorts {
			zero := 0
			h.PortIndex = &zero
		}
	}
	for i := range a.ReadinessChecks {
		r := &a.ReadinessChecks[i]
		d := DefaultReadinessCheck()
		if r.Name == "" {
			r.Name = d.Name
		}
		if r.Protocol == "" {
			r.Protocol = d.Protocol
		}
		if r.Path == "" {
			r.Path = d.Path
		}
		if r.PortName == "" {
			r.PortName = d.PortName
		}
		if len(r.HTTPStatusCodesForReady) == 0 {
			r.HTTPStatusCodesForReady = d.HTTPStatusCodesForReady
		}
	}
	if a.Service != nil && a.Service.Name == "" {
		a.Service.Name = DefaultServiceName(a.ID)
	}
	if a.Service != nil && len(a.Service.Tags) == 0 {
		a.Service.Tags = nil
	}
	a.Dependencies = normDependencies(ParentID(a.ID), a.Dependencies)

	a.Env = nilIfEmpty(a.Env)
	a.EnvSecrets = nilIfEmpty(a.EnvSecrets)
	a.Labels = nilIfEmpty(a.Labels)
	if len(a.Secrets) == 0 {
		a.Secrets = nil
	}
	if len(a.Args) == 0 {
		a.Args = nil
	}
	if len(a.Constraints) == 0 {
		a.Constraints = nil
	}
	if len(a.AcceptedResourceRoles) == 0 {
		a.AcceptedResourceRoles = nil
	}
	if len(a.Fetch) == 0 {
		a.Fetch = nil
	}
	if len(a.HealthChecks) == 0 {
		a.HealthChecks = nil
	}
	if len(a.ReadinessChecks) == 0 {
		a.ReadinessChecks = nil
	}
	if l := a.Lifecycle; l != nil {
		l.IgnoreChanges = sortedUnique(l.IgnoreChanges)
		if len(l.IgnoreChanges) == 0 {
			a.Lifecycle = nil
		}
	}
	a.Sensitive = sortedUnique(a.Sensitive)
}

// sortedUnique sorts ss in place and drops repeats; nil when empty.
func sortedUnique(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	if !slices.IsSorted(ss) {
		slices.Sort(ss)
	}
	return slices.Compact(ss)
}

func normMappings(ms []PortMapping) {
	for i := range ms {
		if ms[i].Protocol == "" {
			ms[i].Protocol = DefaultPortProtocol
		}
		ms[i].Labels = nilIfEmpty(ms[i].Labels)
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// normDependencies resolves deps against the group base, sorts and de-duplicates
// them. Unresolvable entries are kept verbatim (Validate reports them).
func normDependencies(base string, deps []string) []string {
	if len(deps) == 0 {
		return nil
	}
	out := make([]string, 0, len(deps))
	for _, d := range deps {
		if r, err := ResolveID(base, d); err == nil {
			d = r
		}
		out = append(out, d)
	}
	sort.Strings(out)
	j := 0
	for i, d := range out {
		if i > 0 && d == out[j-1] {
			continue
		}
		out[j] = d
		j++
	}
	return out[:j]
}

// IsAbsolute reports whether id starts with "/".
func IsAbsolute(id string) bool { return strings.HasPrefix(id, "/") }
