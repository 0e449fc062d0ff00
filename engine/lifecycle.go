package engine

import (
	"slices"
	"sort"
)

// ignorable lists the top-level fields lifecycle.ignore_changes may name, by their
// Marathon JSON name, with how to take the field's value from another app (the
// deployed one). id, version, versionInfo and Stride's own lifecycle and
// sensitive cannot be ignored.
var ignorable = map[string]func(dst, src *App){
	"cmd":                        func(d, s *App) { d.Cmd = s.Cmd },
	"args":                       func(d, s *App) { d.Args = slices.Clone(s.Args) },
	"user":                       func(d, s *App) { d.User = s.User },
	"env":                        func(d, s *App) { c := s.Clone(); d.Env, d.EnvSecrets = c.Env, c.EnvSecrets },
	"secrets":                    func(d, s *App) { d.Secrets = s.Clone().Secrets },
	"instances":                  func(d, s *App) { d.Instances = s.Instances },
	"cpus":                       func(d, s *App) { d.Cpus = s.Cpus },
	"mem":                        func(d, s *App) { d.Mem = s.Mem },
	"disk":                       func(d, s *App) { d.Disk = s.Disk },
	"gpus":                       func(d, s *App) { d.Gpus = s.Gpus },
	"executor":                   func(d, s *App) { d.Executor = s.Executor },
	"constraints":                func(d, s *App) { d.Constraints = slices.Clone(s.Constraints) },
	"acceptedResourceRoles":      func(d, s *App) { d.AcceptedResourceRoles = slices.Clone(s.AcceptedResourceRoles) },
	"role":                       func(d, s *App) { d.Role = s.Role },
	"fetch":                      func(d, s *App) { d.Fetch = slices.Clone(s.Fetch) },
	"portDefinitions":            func(d, s *App) { d.PortDefinitions = s.Clone().PortDefinitions },
	"requirePorts":               func(d, s *App) { d.RequirePorts = s.RequirePorts },
	"container":                  func(d, s *App) { d.Container = s.Clone().Container },
	"networks":                   func(d, s *App) { d.Networks = s.Clone().Networks },
	"healthChecks":               func(d, s *App) { d.HealthChecks = s.Clone().HealthChecks },
	"readinessChecks":            func(d, s *App) { d.ReadinessChecks = s.Clone().ReadinessChecks },
	"dependencies":               func(d, s *App) { d.Dependencies = slices.Clone(s.Dependencies) },
	"upgradeStrategy":            func(d, s *App) { d.UpgradeStrategy = s.UpgradeStrategy },
	"backoffSeconds":             func(d, s *App) { d.BackoffSeconds = s.BackoffSeconds },
	"backoffFactor":              func(d, s *App) { d.BackoffFactor = s.BackoffFactor },
	"maxLaunchDelaySeconds":      func(d, s *App) { d.MaxLaunchDelaySeconds = s.MaxLaunchDelaySeconds },
	"taskKillGracePeriodSeconds": func(d, s *App) { d.TaskKillGracePeriodSeconds = s.TaskKillGracePeriodSeconds },
	"killSelection":              func(d, s *App) { d.KillSelection = s.KillSelection },
	"unreachableStrategy":        func(d, s *App) { d.UnreachableStrategy = s.Clone().UnreachableStrategy },
	"labels":                     func(d, s *App) { d.Labels = s.Clone().Labels },
	"tty":                        func(d, s *App) { d.Tty = s.Tty },
	"resourceLimits":             func(d, s *App) { d.ResourceLimits = s.Clone().ResourceLimits },
	"service":                    func(d, s *App) { d.Service = s.Clone().Service },
}

// IgnorableFields returns the Marathon names of the fields
// lifecycle.ignore_changes may name, sorted.
func IgnorableFields() []string {
	out := make([]string, 0, len(ignorable))
	for k := range ignorable {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HCLIgnoreNames maps the HCL spelling of each ignorable field (its attribute or
// block name: "instances", "health_check", "upgrade_strategy", "backoff") to the
// Marathon fields it stands for. Marathon's own names are accepted too.
var HCLIgnoreNames = map[string][]string{
	"cmd": {"cmd"}, "args": {"args"}, "user": {"user"}, "env": {"env"}, "secret": {"secrets"},
	"instances": {"instances"}, "cpus": {"cpus"}, "mem": {"mem"}, "disk": {"disk"}, "gpus": {"gpus"},
	"constraint": {"constraints"}, "constraints": {"constraints"},
	"accepted_resource_roles": {"acceptedResourceRoles"}, "role": {"role"},
	"fetch": {"fetch"}, "uris": {"fetch"}, "port": {"portDefinitions"}, "ports": {"portDefinitions"},
	"require_ports": {"requirePorts"}, "container": {"container"},
	"health_check": {"healthChecks"}, "readiness_check": {"readinessChecks"},
	"depends_on": {"dependencies"}, "upgrade_strategy": {"upgradeStrategy"},
	"backoff":                        {"backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds"},
	"task_kill_grace_period_seconds": {"taskKillGracePeriodSeconds"},
	"kill_selection":                 {"killSelection"}, "unreachable_strategy": {"unreachableStrategy"},
	"labels": {"labels"}, "service": {"service"},
}

// KeepIgnored returns desired with every field it leaves to runtime
// (Lifecycle.IgnoreChanges) taken from deployed, or desired itself when it
// ignores nothing that differs. Neither input is modified.
func KeepIgnored(desired, deployed *App) *App {
	if desired.Lifecycle == nil || len(desired.Lifecycle.IgnoreChanges) == 0 || deployed == nil {
		return desired
	}
	out := desired.Clone()
	for _, name := range desired.Lifecycle.IgnoreChanges {
		if keep := ignorable[name]; keep != nil {
			keep(out, deployed)
			// The value kept is as sensitive as it was when deployed.
			out.Sensitive = slices.DeleteFunc(out.Sensitive, func(p string) bool { return FieldPathWithin(p, name) })
			for _, p := range deployed.Sensitive {
				if FieldPathWithin(p, name) {
					out.Sensitive = append(out.Sensitive, p)
				}
			}
		}
	}
	out.Sensitive = sortedUnique(out.Sensitive)
	return out
}
