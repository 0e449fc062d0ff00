package engine

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Marathon's documented defaults, applied by App.ApplyDefaults.
const (
	DefaultInstances             = 1
	DefaultCpus                  = 1.0
	DefaultMem                   = 128.0
	DefaultBackoffSeconds        = 1.0
	DefaultBackoffFactor         = 1.15
	DefaultMaxLaunchDelaySeconds = 300.0
	DefaultKillSelection         = KillYoungestFirst
	DefaultPortProtocol          = "tcp"

	DefaultHealthProtocol               = "HTTP"
	DefaultHealthPath                   = "/"
	DefaultHealthGracePeriodSeconds     = 300
	DefaultHealthIntervalSeconds        = 60
	DefaultHealthTimeoutSeconds         = 20
	DefaultHealthMaxConsecutiveFailures = 3
	DefaultHealthDelaySeconds           = 15

	DefaultReadinessName            = "readinessCheck"
	DefaultReadinessProtocol        = "HTTP"
	DefaultReadinessPath            = "/"
	DefaultReadinessPortName        = "http-api"
	DefaultReadinessIntervalSeconds = 30
	DefaultReadinessTimeoutSeconds  = 10
)

// Kill selections (Marathon's killSelection).
const (
	KillYoungestFirst = "YOUNGEST_FIRST"
	KillOldestFirst   = "OLDEST_FIRST"
)

// App is one long-running service: the same value whether it was written in HCL,
// posted as Marathon app JSON, or read back from the state store. Field names follow
// Marathon's app JSON (camelCase); the JSON codec lives in json.go.
//
// Invariants after ApplyDefaults: every field that has a Marathon default holds it,
// deprecated forms are folded into their successors (uris → Fetch, ports →
// PortDefinitions), maps are non-nil only when non-empty, and Dependencies are
// absolute, sorted and unique.
type App struct {
	// ID is the absolute path of the app, e.g. "/shop/api".
	ID string `json:"id"`

	Cmd  string   `json:"cmd,omitempty"`
	Args []string `json:"args,omitempty"`
	User string   `json:"user,omitempty"`

	// Env holds plain environment variables; EnvSecrets maps a variable name to the
	// name of a secret (Marathon's {"secret": "name"} env values). Both are encoded
	// into Marathon's single "env" object.
	Env        map[string]string `json:"-"`
	EnvSecrets map[string]string `json:"-"`
	// Secrets declares secret sources (Marathon's "secrets"); Stride carries them.
	Secrets map[string]Secret `json:"secrets,omitempty"`

	Instances int     `json:"instances"`
	Cpus      float64 `json:"cpus"`
	Mem       float64 `json:"mem"`
	Disk      float64 `json:"disk"`
	Gpus      int     `json:"gpus"`

	// Executor is Marathon's executor string ("" or "//cmd"), carried as is.
	Executor string `json:"executor,omitempty"`

	Constraints           []Constraint `json:"constraints,omitempty"`
	AcceptedResourceRoles []string     `json:"acceptedResourceRoles,omitempty"`
	Role                  string       `json:"role,omitempty"`

	Fetch           []Artifact       `json:"fetch,omitempty"`
	PortDefinitions []PortDefinition `json:"portDefinitions,omitempty"`
	RequirePorts    bool             `json:"requirePorts"`

	Container *Container `json:"container,omitempty"`
	Networks  []Network  `json:"networks,omitempty"`

	HealthChecks    []HealthCheck    `json:"healthChecks,omitempty"`
	ReadinessChecks []ReadinessCheck `json:"readinessChecks,omitempty"`

	// Dependencies are absolute ids of apps or groups this app waits for. The HCL
	// decoder folds the depends_on of every enclosing group in, so that the deployed
	// state alone is enough to order destroys.
	Dependencies []string `json:"dependencies,omitempty"`

	UpgradeStrategy UpgradeStrategy `json:"upgradeStrategy"`

	BackoffSeconds        float64 `json:"backoffSeconds"`
	BackoffFactor         float64 `json:"backoffFactor"`
	MaxLaunchDelaySeconds float64 `json:"maxLaunchDelaySeconds"`

	// GiveUpAfter, when > 0, is how many consecutive failed launches (tasks that
	// ended before ever being healthy) the app gets before Stride stops
	// relaunching it and fails its deployment (beyond Marathon; HCL `backoff {
	// give_up_after }`). 0: never give up. A later apply of the app resets it.
	GiveUpAfter int `json:"giveUpAfter,omitempty"`

	// ProgressDeadlineSeconds is how long a deployment step may go without
	// progress for this app (no new task becoming healthy and ready) before the
	// deployment fails (beyond Marathon; HCL `deployment { progress_deadline }`).
	// 0: the deployment's default (the server's -progress-deadline, or apply's).
	ProgressDeadlineSeconds int `json:"progressDeadlineSeconds,omitempty"`
	// AutoRevert: when a deployment of this app fails, Stride rolls the app back
	// to the last version that ran fully healthy (beyond Marathon; HCL
	// `deployment { auto_revert }`).
	AutoRevert bool `json:"autoRevert,omitempty"`

	// TaskKillGracePeriodSeconds is the time between SIGTERM and SIGKILL; 0 = unset
	// (the executor's default applies).
	TaskKillGracePeriodSeconds int    `json:"taskKillGracePeriodSeconds,omitempty"`
	KillSelection              string `json:"killSelection"`

	UnreachableStrategy *UnreachableStrategy `json:"unreachableStrategy,omitempty"`

	Labels map[string]string `json:"labels,omitempty"`

	// Tty and ResourceLimits are carried for Marathon compatibility; Stride's
	// stand-in ignores them.
	Tty            bool            `json:"tty,omitempty"`
	ResourceLimits *ResourceLimits `json:"resourceLimits,omitempty"`

	// Service is the Consul registration of the app's tasks (beyond Marathon).
	Service *Service `json:"service,omitempty"`

	// Lifecycle holds what the files leave to others (beyond Marathon: HCL's
	// lifecycle block, Terraform's spelling). Stride's own field: never compared
	// by the planner, never put into a task.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`

	// Sensitive lists the field paths (engine/path.go spelling: "env.DB_PASSWORD",
	// "cmd") whose values derive from sensitive input (an HCL variable with
	// sensitive = true): plan output, errors and logs show them as SensitiveValue.
	// Env values that name secrets are sensitive without being listed (see
	// SensitivePaths). Stride's own field, sorted and unique; never compared.
	Sensitive []string `json:"sensitive,omitempty"`

	// Version is the ISO-8601 timestamp of the app's current version; output only,
	// never compared by the planner.
	Version     string       `json:"version,omitempty"`
	VersionInfo *VersionInfo `json:"versionInfo,omitempty"`

	// Source is where the app was declared, when it came from HCL. Never encoded.
	Source *Source `json:"-"`
}

// Secret is a Marathon secret declaration.
type Secret struct {
	Source string `json:"source"`
}

// Constraint is one placement rule, Marathon's ["field", "OPERATOR", "value"].
// Value is empty for operators that take none (UNIQUE, and CLUSTER/GROUP_BY when
// unset).
type Constraint struct {
	Field    string
	Operator string
	Value    string
}

// Constraint operators.
const (
	OpUnique  = "UNIQUE"
	OpCluster = "CLUSTER"
	OpGroupBy = "GROUP_BY"
	OpLike    = "LIKE"
	OpUnlike  = "UNLIKE"
	OpMaxPer  = "MAX_PER"
	OpIs      = "IS"
)

// Operators lists every constraint operator Stride understands.
var Operators = []string{OpUnique, OpCluster, OpGroupBy, OpLike, OpUnlike, OpMaxPer, OpIs}

// Artifact is one URI fetched into the task sandbox before it starts.
type Artifact struct {
	URI        string `json:"uri"`
	Extract    bool   `json:"extract"`
	Executable bool   `json:"executable"`
	Cache      bool   `json:"cache"`
	DestPath   string `json:"destPath,omitempty"`
}

// PortDefinition is one host port of the app. Port 0 means any port from the offer
// (unless RequirePorts, which then needs the exact port).
type PortDefinition struct {
	Port     int               `json:"port"`
	Protocol string            `json:"protocol"`
	Name     string            `json:"name,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
}

// Container describes a DOCKER or MESOS container.
type Container struct {
	Type         string        `json:"type"`
	Docker       *Docker       `json:"docker,omitempty"`
	Volumes      []Volume      `json:"volumes,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
}

// Docker is the docker part of a container.
type Docker struct {
	Image          string        `json:"image"`
	Network        string        `json:"network,omitempty"`
	Privileged     bool          `json:"privileged"`
	ForcePullImage bool          `json:"forcePullImage"`
	Parameters     []Parameter   `json:"parameters,omitempty"`
	PortMappings   []PortMapping `json:"portMappings,omitempty"`
}

// Parameter is a docker run parameter.
type Parameter struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// PortMapping maps a container port onto a host port.
type PortMapping struct {
	ContainerPort int               `json:"containerPort"`
	HostPort      int               `json:"hostPort"`
	ServicePort   int               `json:"servicePort,omitempty"`
	Protocol      string            `json:"protocol"`
	Name          string            `json:"name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// Volume is a host path mounted into the container.
type Volume struct {
	ContainerPath string `json:"containerPath"`
	HostPath      string `json:"hostPath,omitempty"`
	Mode          string `json:"mode"`
}

// Network is one entry of Marathon's "networks".
type Network struct {
	Mode   string            `json:"mode"`
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Health check protocols.
const (
	ProtoHTTP       = "HTTP"
	ProtoHTTPS      = "HTTPS"
	ProtoTCP        = "TCP"
	ProtoCommand    = "COMMAND"
	ProtoMesosHTTP  = "MESOS_HTTP"
	ProtoMesosHTTPS = "MESOS_HTTPS"
	ProtoMesosTCP   = "MESOS_TCP"
)

// HealthCheck is one of Marathon's healthChecks. At most one of PortIndex, PortName
// and Port selects the port for network checks (Validate rejects more than one).
type HealthCheck struct {
	Protocol               string        `json:"protocol"`
	Path                   string        `json:"path,omitempty"`
	PortIndex              *int          `json:"portIndex,omitempty"`
	PortName               string        `json:"portName,omitempty"`
	Port                   int           `json:"port,omitempty"`
	Command                *CheckCommand `json:"command,omitempty"`
	GracePeriodSeconds     int           `json:"gracePeriodSeconds"`
	IntervalSeconds        int           `json:"intervalSeconds"`
	TimeoutSeconds         int           `json:"timeoutSeconds"`
	MaxConsecutiveFailures int           `json:"maxConsecutiveFailures"`
	IgnoreHTTP1xx          bool          `json:"ignoreHttp1xx"`
	DelaySeconds           int           `json:"delaySeconds"`
}

// IsMesos reports whether the check is run by Mesos on the task's agent (MESOS_*,
// and COMMAND, which must run where the task runs — as Marathon does since 1.4)
// rather than by Stride; such checks go into the TaskInfo, so changing them
// restarts tasks.
func (h HealthCheck) IsMesos() bool {
	switch h.Protocol {
	case ProtoMesosHTTP, ProtoMesosHTTPS, ProtoMesosTCP, ProtoCommand:
		return true
	}
	return false
}

// CheckCommand is the command of a COMMAND health check.
type CheckCommand struct {
	Value string `json:"value"`
}

// ReadinessCheck is one of Marathon's readinessChecks.
type ReadinessCheck struct {
	Name                    string `json:"name"`
	Protocol                string `json:"protocol"`
	Path                    string `json:"path"`
	PortName                string `json:"portName"`
	IntervalSeconds         int    `json:"intervalSeconds"`
	TimeoutSeconds          int    `json:"timeoutSeconds"`
	HTTPStatusCodesForReady []int  `json:"httpStatusCodesForReady"`
	PreserveLastResponse    bool   `json:"preserveLastResponse"`
}

// UpgradeStrategy bounds a rolling deployment: at least
// ceil(instances*MinimumHealthCapacity) healthy tasks, at most
// instances+floor(instances*MaximumOverCapacity) tasks.
type UpgradeStrategy struct {
	MinimumHealthCapacity float64 `json:"minimumHealthCapacity"`
	MaximumOverCapacity   float64 `json:"maximumOverCapacity"`
}

// UnreachableStrategy is Marathon's unreachableStrategy; Disabled encodes the string
// form "disabled".
type UnreachableStrategy struct {
	Disabled             bool
	InactiveAfterSeconds int
	ExpungeAfterSeconds  int
}

// ResourceLimits is Marathon's resourceLimits (values are numbers or "unlimited";
// carried as given).
type ResourceLimits struct {
	Cpus any `json:"cpus,omitempty"`
	Mem  any `json:"mem,omitempty"`
}

// Service is the Consul catalog registration of an app's healthy tasks.
type Service struct {
	// Name defaults to the id's segments reversed and joined by "-" (/shop/api → api-shop).
	Name string   `json:"name"`
	Tags []string `json:"tags,omitempty"`
	// Port names the port definition whose host port is registered; "" = the first.
	Port string `json:"port,omitempty"`
}

// Lifecycle is an app's lifecycle block.
type Lifecycle struct {
	// IgnoreChanges names top-level fields (Marathon's JSON names: "instances",
	// "labels", "upgradeStrategy") managed at runtime, by people or autoscalers:
	// once the app is deployed, plans keep the deployed value of each and apply
	// never resets it. Sorted and unique; see IgnorableFields.
	IgnoreChanges []string `json:"ignoreChanges,omitempty"`
}

// Ignores reports whether the app leaves the top-level field name to runtime.
func (a *App) Ignores(name string) bool {
	return a.Lifecycle != nil && slices.Contains(a.Lifecycle.IgnoreChanges, name)
}

// SensitiveValue is what plan output, errors and logs show in place of a
// sensitive value.
const SensitiveValue = "(sensitive value)"

// SensitivePaths returns every field path of the app whose value is sensitive:
// Sensitive, and the env variables that name secrets (Marathon's
// {"secret": "name"}), in path order.
func (a *App) SensitivePaths() []string {
	if len(a.EnvSecrets) == 0 {
		return a.Sensitive
	}
	out := slices.Clone(a.Sensitive)
	for name := range a.EnvSecrets {
		out = append(out, FieldPathKey("env", name))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IsSensitive reports whether the value at field path p is sensitive: p lies at
// or under a sensitive path, or holds one (the whole env object holds a secret).
// A nil app has nothing sensitive.
func (a *App) IsSensitive(p string) bool {
	if a == nil || len(a.Sensitive) == 0 && len(a.EnvSecrets) == 0 {
		return false
	}
	for _, sp := range a.SensitivePaths() {
		if FieldPathWithin(p, sp) || FieldPathWithin(sp, p) {
			return true
		}
	}
	return false
}

// VersionInfo is Marathon's versionInfo (output only).
type VersionInfo struct {
	LastScalingAt      string `json:"lastScalingAt,omitempty"`
	LastConfigChangeAt string `json:"lastConfigChangeAt,omitempty"`
}

// Source records where an app (or group) was declared in HCL, so that later stages —
// the planner's cycle report, say — can point at the attribute that caused a problem.
type Source struct {
	// DeclRange is the range of the block header (`app "api" {`).
	DeclRange hcl.Range
	// Attrs maps a Marathon JSON pointer ("/cmd", "/healthChecks/0/portIndex",
	// "/constraints/1", "/upgradeStrategy/minimumHealthCapacity") to the range of the
	// HCL attribute or block that set it. A FieldError's Path is resolved to a range
	// through the longest recorded prefix (see Source.RangeFor).
	Attrs Ranges
	// Dependencies maps each absolute dependency id to the range of the depends_on
	// element that introduced it (the app's own, or an enclosing group's).
	Dependencies Ranges
}

// Ranges maps keys to source ranges: a slice, which takes a fraction of a map's
// memory for the few keys of one declaration (a large configuration keeps one
// per app until it is planned). Beyond sortedRanges keys it is sorted by key;
// fewer are searched in order, which is faster than sorting them when the
// ranges are built (for every app) and read (only for diagnostics). Make one
// with MakeRanges; the zero value is empty.
type Ranges []KeyRange

// KeyRange is one key of Ranges and its range.
type KeyRange struct {
	Key   string
	Range hcl.Range
}

// sortedRanges is the most keys a Ranges holds unsorted.
const sortedRanges = 32

// MakeRanges returns the Ranges of r, whose keys are unique (nil when r is
// empty); it sorts r if it needs to.
func MakeRanges(r []KeyRange) Ranges {
	if len(r) == 0 {
		return nil
	}
	if len(r) > sortedRanges {
		slices.SortFunc(r, func(a, b KeyRange) int { return strings.Compare(a.Key, b.Key) })
	}
	return r
}

// Get returns the range of key.
func (r Ranges) Get(key string) (hcl.Range, bool) {
	if len(r) <= sortedRanges {
		for i := range r {
			if r[i].Key == key {
				return r[i].Range, true
			}
		}
		return hcl.Range{}, false
	}
	i, ok := slices.BinarySearchFunc(r, key, func(e KeyRange, k string) int { return strings.Compare(e.Key, k) })
	if !ok {
		return hcl.Range{}, false
	}
	return r[i].Range, true
}

// Group is a namespace of apps and groups. An app's effective dependencies
// already include those of its groups (the HCL decoder and the API fold them in),
// so a group's own fields order nothing by themselves; they are what the group
// declares, kept so that the API can show it and rebuild it.
//
// In a Spec, the groups the files declare; in the state (Snapshot.Groups), every
// group that holds an app or was created on its own through the API, with its
// Version.
type Group struct {
	// ID is the absolute path, "/shop".
	ID string `json:"id"`
	// Dependencies are the absolute ids from the group's depends_on (Marathon's
	// group "dependencies"), sorted.
	Dependencies []string          `json:"dependencies,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	// EnforceRole is Marathon's enforceRole of a top-level group, carried as
	// given (Stride sets no role by it).
	EnforceRole bool `json:"enforceRole,omitempty"`
	// Version is the ISO-8601 time of the last change at or under the group
	// (state only; never compared).
	Version string  `json:"version,omitempty"`
	Source  *Source `json:"-"`
}

// Clone returns a copy of the group that shares nothing mutable with g.
func (g *Group) Clone() *Group {
	if g == nil {
		return nil
	}
	c := *g
	c.Dependencies = slices.Clone(g.Dependencies)
	c.Labels = maps.Clone(g.Labels)
	return &c
}

// RangeFor returns the range recorded for the JSON pointer path, or for its longest
// recorded prefix, falling back to DeclRange.
func (s *Source) RangeFor(path string) hcl.Range {
	for p := path; p != ""; {
		if r, ok := s.Attrs.Get(p); ok {
			return r
		}
		i := strings.LastIndexByte(p, '/')
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return s.DeclRange
}
