package engine

import (
	"fmt"
	"math"
	"strconv"
)

// Limits bounds every number of an app that becomes work for the server: tasks to
// place, ports to allocate, constraints to evaluate per offer, checks to run,
// timers to arm. A value above its limit is a validation error (422 from the API,
// file:line:col from `stride validate`), so no request, file or stored record can
// make the server allocate in proportion to an unbounded count. The zero value of a
// field means "the default" (DefaultLimits).
type Limits struct {
	// MaxInstances is the most instances one app may ask for (100,000). Servers
	// may lower or raise it (`-max-instances`).
	MaxInstances int
	// MaxApps is the most apps one spec (a configuration, an apply request) or one
	// deployed state may hold (100,000); MaxGroups likewise for groups.
	MaxApps, MaxGroups int
}

// Default limits. The fixed ones (not configurable) are generous for any real app
// and small enough that the work they allow stays proportional to what a cluster
// can run.
const (
	DefaultMaxInstances = 100_000
	DefaultMaxApps      = 100_000
	DefaultMaxGroups    = 100_000

	// MaxCpus, MaxMem (MB), MaxDisk (MB) and MaxGpus bound one task's resources:
	// no Mesos agent is bigger.
	MaxCpus = 4096
	MaxMem  = 16 << 20 // 16 TiB
	MaxDisk = 1 << 30  // 1 PiB
	MaxGpus = 1024
	// MaxPorts bounds port definitions (and port mappings) per app.
	MaxPorts = 1000
	// MaxConstraints bounds the constraints of an app; MaxConstraintText the
	// length of a constraint's field and value.
	MaxConstraints    = 100
	MaxConstraintText = 1024
	// MaxChecks bounds health checks and readiness checks per app.
	MaxChecks = 16
	// MaxCheckSeconds bounds check intervals, timeouts, grace periods and delays
	// (one day).
	MaxCheckSeconds = 86_400
	// MaxConsecutiveFailures bounds a health check's maxConsecutiveFailures.
	MaxConsecutiveFailures = 10_000
	// MaxStatusCodes bounds a readiness check's httpStatusCodesForReady.
	MaxStatusCodes = 100
	// MaxBackoffSeconds bounds backoffSeconds and maxLaunchDelaySeconds (a week);
	// MaxBackoffFactor bounds backoffFactor.
	MaxBackoffSeconds = 604_800
	MaxBackoffFactor  = 100
	// MaxGiveUpAfter bounds giveUpAfter (consecutive failed launches).
	MaxGiveUpAfter = 10_000
	// MaxProgressDeadlineSeconds bounds progressDeadlineSeconds (a week).
	MaxProgressDeadlineSeconds = 604_800
	// MaxKillGraceSeconds bounds taskKillGracePeriodSeconds (one day).
	MaxKillGraceSeconds = 86_400
	// MaxUnreachableSeconds bounds the unreachable strategy's times (a year).
	MaxUnreachableSeconds = 31_536_000
	// MaxListItems bounds each list or map of an app that is copied into every
	// task (env, labels, args, fetch, secrets, dependencies, roles, volumes,
	// docker parameters, networks).
	MaxListItems = 10_000
	// MaxCmdBytes bounds cmd and each argument (1 MiB).
	MaxCmdBytes = 1 << 20
)

// DefaultLimits are the limits Validate applies.
var DefaultLimits = Limits{MaxInstances: DefaultMaxInstances, MaxApps: DefaultMaxApps, MaxGroups: DefaultMaxGroups}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxInstances <= 0 {
		l.MaxInstances = DefaultMaxInstances
	}
	if l.MaxApps <= 0 {
		l.MaxApps = DefaultMaxApps
	}
	if l.MaxGroups <= 0 {
		l.MaxGroups = DefaultMaxGroups
	}
	return l
}

// CheckSize reports a spec with more apps or groups than the limits allow, at
// "/apps" and "/groups".
func (s *Spec) CheckSize(l Limits) FieldErrors {
	l = l.WithDefaults()
	var fe FieldErrors
	if n := len(s.Apps); n > l.MaxApps {
		fe = append(fe, FieldError{Path: "/apps", Errors: []string{fmt.Sprintf("%d apps is more than the limit of %d", n, l.MaxApps)}})
	}
	if n := len(s.Groups); n > l.MaxGroups {
		fe = append(fe, FieldError{Path: "/groups", Errors: []string{fmt.Sprintf("%d groups is more than the limit of %d", n, l.MaxGroups)}})
	}
	return fe
}

// maxInt records a value above its limit.
func (v *validator) maxInt(path string, val, max int) {
	if val > max {
		v.add(path, "must be <= %d, got %d", max, val)
	}
}

// maxFloat records a value above its limit (NaN and infinities are minFloat's).
func (v *validator) maxFloat(path string, val, max float64) {
	if val > max && !math.IsInf(val, 0) {
		v.add(path, "must be <= %s, got %s", fmtNumber(max), fmtNumber(val))
	}
}

// maxItems records a list or map longer than MaxListItems (or max).
func (v *validator) maxItems(path string, n, max int) {
	if n > max {
		v.add(path, "has %d entries, more than the limit of %d", n, max)
	}
}

// maxLen records a string longer than max bytes.
func (v *validator) maxLen(path string, s string, max int) {
	if len(s) > max {
		v.add(path, "is %d bytes long, more than the limit of %d", len(s), max)
	}
}

// limits checks the app against every bound of l. Per-element checks of lists that
// are longer than their limit are skipped: the list itself is the error.
func (v *validator) limits(a *App) {
	l := v.lim
	v.maxInt("/instances", a.Instances, l.MaxInstances)
	v.maxFloat("/cpus", a.Cpus, MaxCpus)
	v.maxFloat("/mem", a.Mem, MaxMem)
	v.maxFloat("/disk", a.Disk, MaxDisk)
	v.maxInt("/gpus", a.Gpus, MaxGpus)
	v.maxLen("/cmd", a.Cmd, MaxCmdBytes)
	v.maxItems("/args", len(a.Args), MaxListItems)
	for i, s := range a.Args {
		if i >= MaxListItems {
			break
		}
		v.maxLen(idx("/args", i, ""), s, MaxCmdBytes)
	}
	v.maxItems("/env", len(a.Env)+len(a.EnvSecrets), MaxListItems)
	v.maxItems("/secrets", len(a.Secrets), MaxListItems)
	v.maxItems("/labels", len(a.Labels), MaxListItems)
	v.maxItems("/fetch", len(a.Fetch), MaxListItems)
	v.maxItems("/dependencies", len(a.Dependencies), MaxListItems)
	v.maxItems("/sensitive", len(a.Sensitive), MaxListItems)
	if l := a.Lifecycle; l != nil {
		v.maxItems("/lifecycle/ignoreChanges", len(l.IgnoreChanges), MaxListItems)
	}
	v.maxItems("/acceptedResourceRoles", len(a.AcceptedResourceRoles), MaxListItems)
	v.maxItems("/networks", len(a.Networks), MaxListItems)
	v.maxItems("/portDefinitions", len(a.PortDefinitions), MaxPorts)
	if c := a.Container; c != nil {
		v.maxItems("/container/portMappings", len(c.PortMappings), MaxPorts)
		v.maxItems("/container/volumes", len(c.Volumes), MaxListItems)
		if d := c.Docker; d != nil {
			v.maxItems("/container/docker/portMappings", len(d.PortMappings), MaxPorts)
			v.maxItems("/container/docker/parameters", len(d.Parameters), MaxListItems)
		}
	}

	v.maxItems("/constraints", len(a.Constraints), MaxConstraints)
	for i, c := range a.Constraints {
		if i >= MaxConstraints {
			break
		}
		p := idx("/constraints", i, "")
		v.maxLen(p+"/0", c.Field, MaxConstraintText)
		v.maxLen(p+"/2", c.Value, MaxConstraintText)
		if c.Operator == OpMaxPer || c.Operator == OpGroupBy {
			if n, err := strconv.Atoi(c.Value); err == nil {
				v.maxInt(p+"/2", n, l.MaxInstances)
			}
		}
	}

	v.maxItems("/healthChecks", len(a.HealthChecks), MaxChecks)
	for i := range a.HealthChecks {
		if i >= MaxChecks {
			break
		}
		h := &a.HealthChecks[i]
		p := idx("/healthChecks", i, "")
		v.maxInt(p+"/gracePeriodSeconds", h.GracePeriodSeconds, MaxCheckSeconds)
		v.maxInt(p+"/intervalSeconds", h.IntervalSeconds, MaxCheckSeconds)
		v.maxInt(p+"/timeoutSeconds", h.TimeoutSeconds, MaxCheckSeconds)
		v.maxInt(p+"/delaySeconds", h.DelaySeconds, MaxCheckSeconds)
		v.maxInt(p+"/maxConsecutiveFailures", h.MaxConsecutiveFailures, MaxConsecutiveFailures)
		if h.Command != nil {
			v.maxLen(p+"/command/value", h.Command.Value, MaxCmdBytes)
		}
	}
	v.maxItems("/readinessChecks", len(a.ReadinessChecks), MaxChecks)
	for i := range a.ReadinessChecks {
		if i >= MaxChecks {
			break
		}
		r := &a.ReadinessChecks[i]
		p := idx("/readinessChecks", i, "")
		v.maxInt(p+"/intervalSeconds", r.IntervalSeconds, MaxCheckSeconds)
		v.maxInt(p+"/timeoutSeconds", r.TimeoutSeconds, MaxCheckSeconds)
		v.maxItems(p+"/httpStatusCodesForReady", len(r.HTTPStatusCodesForReady), MaxStatusCodes)
	}

	v.maxFloat("/backoffSeconds", a.BackoffSeconds, MaxBackoffSeconds)
	v.maxFloat("/backoffFactor", a.BackoffFactor, MaxBackoffFactor)
	v.maxFloat("/maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds, MaxBackoffSeconds)
	v.maxInt("/giveUpAfter", a.GiveUpAfter, MaxGiveUpAfter)
	v.maxInt("/progressDeadlineSeconds", a.ProgressDeadlineSeconds, MaxProgressDeadlineSeconds)
	v.maxInt("/taskKillGracePeriodSeconds", a.TaskKillGracePeriodSeconds, MaxKillGraceSeconds)
	if u := a.UnreachableStrategy; u != nil && !u.Disabled {
		v.maxInt("/unreachableStrategy/inactiveAfterSeconds", u.InactiveAfterSeconds, MaxUnreachableSeconds)
		v.maxInt("/unreachableStrategy/expungeAfterSeconds", u.ExpungeAfterSeconds, MaxUnreachableSeconds)
	}
}

// fmtNumber renders whole numbers below 1e15 without an exponent (16777216, not
// 1.6777216e+07), anything else as fmtFloat does.
func fmtNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmtFloat(f)
}
