package engine

import (
	"maps"
	"slices"
)

// Clone returns a deep copy of the app: no slice, map or pointer of the copy is
// shared with a, so either can be changed freely. nil and empty slices and maps
// keep their nil-ness (PortDefinitions nil means "absent", [] means "no ports").
// Source is shared: it is immutable once decoded.
//
// Clone is written out by hand because it is on hot paths (the planner and the
// executor copy apps per change); TestCloneIsDeep walks App by reflection so
// that a field added later without Clone support fails the tests.
func (a *App) Clone() *App {
	if a == nil {
		return nil
	}
	c := *a
	c.Args = slices.Clone(a.Args)
	c.Env = maps.Clone(a.Env)
	c.EnvSecrets = maps.Clone(a.EnvSecrets)
	c.Secrets = maps.Clone(a.Secrets)
	c.Constraints = slices.Clone(a.Constraints)
	c.AcceptedResourceRoles = slices.Clone(a.AcceptedResourceRoles)
	c.Fetch = slices.Clone(a.Fetch)
	if a.PortDefinitions != nil {
		c.PortDefinitions = make([]PortDefinition, len(a.PortDefinitions))
		for i, p := range a.PortDefinitions {
			p.Labels = maps.Clone(p.Labels)
			c.PortDefinitions[i] = p
		}
	}
	c.Container = a.Container.clone()
	if a.Networks != nil {
		c.Networks = make([]Network, len(a.Networks))
		for i, n := range a.Networks {
			n.Labels = maps.Clone(n.Labels)
			c.Networks[i] = n
		}
	}
	if a.HealthChecks != nil {
		c.HealthChecks = make([]HealthCheck, len(a.HealthChecks))
		for i, h := range a.HealthChecks {
			if h.PortIndex != nil {
				v := *h.PortIndex
				h.PortIndex = &v
			}
			if h.Command != nil {
				v := *h.Command
				h.Command = &v
			}
			c.HealthChecks[i] = h
		}
	}
	if a.ReadinessChecks != nil {
		c.ReadinessChecks = make([]ReadinessCheck, len(a.ReadinessChecks))
		for i, r := range a.ReadinessChecks {
			r.HTTPStatusCodesForReady = slices.Clone(r.HTTPStatusCodesForReady)
			c.ReadinessChecks[i] = r
		}
	}
	c.Dependencies = slices.Clone(a.Dependencies)
	if a.UnreachableStrategy != nil {
		v := *a.UnreachableStrategy
		c.UnreachableStrategy = &v
	}
	c.Labels = maps.Clone(a.Labels)
	if a.ResourceLimits != nil {
		// Cpus and Mem hold float64 or string values: immutable, copied with the struct.
		v := *a.ResourceLimits
		c.ResourceLimits = &v
	}
	if a.Service != nil {
		v := *a.Service
		v.Tags = slices.Clone(v.Tags)
		c.Service = &v
	}
	if a.Lifecycle != nil {
		v := *a.Lifecycle
		v.IgnoreChanges = slices.Clone(v.IgnoreChanges)
		c.Lifecycle = &v
	}
	c.Sensitive = slices.Clone(a.Sensitive)
	if a.VersionInfo != nil {
		v := *a.VersionInfo
		c.VersionInfo = &v
	}
	return &c
}

func (c *Container) clone() *Container {
	if c == nil {
		return nil
	}
	n := *c
	if c.Docker != nil {
		d := *c.Docker
		d.Parameters = slices.Clone(d.Parameters)
		d.PortMappings = clonePortMappings(d.PortMappings)
		n.Docker = &d
	}
	n.Volumes = slices.Clone(c.Volumes)
	n.PortMappings = clonePortMappings(c.PortMappings)
	return &n
}

func clonePortMappings(ms []PortMapping) []PortMapping {
	if ms == nil {
		return nil
	}
	out := make([]PortMapping, len(ms))
	for i, m := range ms {
		m.Labels = maps.Clone(m.Labels)
		out[i] = m
	}
	return out
}
