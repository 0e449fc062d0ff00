package engine

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// FieldError is one problem with one field, in Marathon's error detail shape:
// Path is a JSON pointer into the app ("/healthChecks/0/portIndex"), Errors the
// messages. The REST API renders these as 422 details; the HCL decoder maps Path to
// a file:line:col through Source.RangeFor.
type FieldError struct {
	Path   string   `json:"path"`
	Errors []string `json:"errors"`
}

// FieldErrors is a list of field problems; it is an error when non-empty.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	var b strings.Builder
	for i, e := range fe {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.Path)
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Errors, ", "))
	}
	return b.String()
}

// Validate checks the app on its own (ids, resources, constraints, health-check
// ports, capacities, ...) and returns every problem found, sorted by path, or nil.
// Paths are JSON pointers into the app's Marathon JSON, as specific as the problem
// allows ("/healthChecks/0/portIndex", "/constraints/1/1"); messages are short,
// lowercase and name the bad value. It expects ApplyDefaults to have run, and never
// panics, whatever the app holds. Cross-app rules (unknown dependencies, cycles)
// are the planner's. Numbers are bounded by DefaultLimits.
func (a *App) Validate() FieldErrors { return a.ValidateWithin(DefaultLimits) }

// ValidateWithin is Validate with the given limits (zero fields: the defaults).
func (a *App) ValidateWithin(l Limits) FieldErrors {
	if a == nil {
		return FieldErrors{{Path: "/", Errors: []string{"app is nil"}}}
	}
	v := &validator{lim: l.WithDefaults()}
	v.app(a)
	v.limits(a)
	if len(v.errs) == 0 {
		return nil
	}
	return sortFieldErrors(v.errs)
}

// Validation messages that are not built from values.
const (
	msgNoCommand       = "an app needs cmd, args, or a container with a docker image"
	msgCmdAndArgs      = "cmd and args cannot both be set"
	msgEmpty           = "must not be empty"
	msgGreaterThanOne  = "is greater than 1"
	msgLessThanZero    = "is less than 0"
	msgSelfDependency  = "an app cannot depend on itself"
	msgBothMappings    = "cannot specify both container.portMappings and docker.portMappings"
	msgOnePortSelector = "only one of port, portIndex and portName may be set"
)

// Enumerations checked by Validate.
var (
	portProtocols      = []string{"tcp", "udp", "udp,tcp"}
	healthProtocols    = []string{ProtoHTTP, ProtoHTTPS, ProtoTCP, ProtoCommand, ProtoMesosHTTP, ProtoMesosHTTPS, ProtoMesosTCP}
	readinessProtocols = []string{ProtoHTTP, ProtoHTTPS}
	killSelections     = []string{KillYoungestFirst, KillOldestFirst}
	containerTypes     = []string{"DOCKER", "MESOS"}
	dockerNetworks     = []string{"HOST", "BRIDGE", "USER", "NONE"}
	volumeModes        = []string{"RO", "RW"}
	networkModes       = []string{"host", "container/bridge", "container"}

	portNameRE = regexp.MustCompile(`^[a-z0-9-]+$`)
)

type validator struct {
	lim  Limits
	errs FieldErrors
}

// add records a message built from format; msg records one taken as is.
func (v *validator) add(path, format string, args ...any) {
	v.msg(path, fmt.Sprintf(format, args...))
}

func (v *validator) msg(path, msg string) {
	v.errs = append(v.errs, FieldError{Path: path, Errors: []string{msg}})
}

// oneOf reports a value outside an enumeration: `unknown protocol "X" (one of A, B)`.
func (v *validator) oneOf(path, what, val string, allowed []string) {
	for _, s := range allowed {
		if val == s {
			return
		}
	}
	v.add(path, "unknown %s %q (one of %s)", what, val, strings.Join(allowed, ", "))
}

func (v *validator) minInt(path string, val, min int) {
	if val < min {
		v.add(path, "must be >= %d, got %d", min, val)
	}
}

func (v *validator) minFloat(path string, val, min float64) {
	switch {
	case math.IsNaN(val) || math.IsInf(val, 0):
		v.add(path, "must be a finite number, got %v", val)
	case val < min:
		v.add(path, "must be >= %s, got %s", fmtFloat(min), fmtFloat(val))
	}
}

// unit checks a capacity in [0, 1] with Marathon's messages.
func (v *validator) unit(path string, val float64) {
	switch {
	case math.IsNaN(val):
		v.add(path, "must be a number between 0 and 1, got NaN")
	case val > 1:
		v.add(path, msgGreaterThanOne)
	case val < 0:
		v.add(path, msgLessThanZero)
	}
}

func (v *validator) port(path string, p int) {
	if p < 0 || p > 65535 {
		v.add(path, "must be between 0 and 65535, got %d", p)
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func idx(base string, i int, rest string) string {
	return base + "/" + strconv.Itoa(i) + rest
}

// jsonPointerSegment escapes a map key for a JSON pointer (RFC 6901).
func jsonPointerSegment(s string) string {
	if strings.ContainsAny(s, "~/") {
		s = strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
	}
	return s
}

// appPorts is what a health or readiness check can point at: the port
// definitions, or else the container's port mappings.
type appPorts struct {
	count int
	names []string
}

func (p appPorts) has(name string) bool {
	for _, n := range p.names {
		if n == name {
			return true
		}
	}
	return false
}

func (p appPorts) describe() string {
	if len(p.names) == 0 {
		return "the app has no named ports"
	}
	return "ports: " + strings.Join(p.names, ", ")
}

func portsOf(a *App) appPorts {
	var p appPorts
	if len(a.PortDefinitions) > 0 {
		p.count = len(a.PortDefinitions)
		for _, d := range a.PortDefinitions {
			if d.Name != "" {
				p.names = append(p.names, d.Name)
			}
		}
		return p
	}
	if c := a.Container; c != nil {
		ms := c.PortMappings
		if len(ms) == 0 && c.Docker != nil {
			ms = c.Docker.PortMappings
		}
		p.count = len(ms)
		for _, m := range ms {
			if m.Name != "" {
				p.names = append(p.names, m.Name)
			}
		}
	}
	return p
}

func (v *validator) app(a *App) {
	if err := CheckID(a.ID, false); err != nil {
		v.msg("/id", err.Error())
	}

	// Command.
	hasImage := a.Container != nil && a.Container.Docker != nil && a.Container.Docker.Image != ""
	switch {
	case a.Cmd != "" && len(a.Args) > 0:
		v.add("/args", msgCmdAndArgs)
	case a.Cmd == "" && len(a.Args) == 0 && !hasImage:
		v.add("/", msgNoCommand)
	}
	for i, s := range a.Args {
		if s == "" {
			v.add(idx("/args", i, ""), msgEmpty)
		}
	}
	if a.User != "" && strings.TrimSpace(a.User) == "" {
		v.add("/user", "must not be blank")
	}

	// Resources (RAML minimums: cpus 0.001, the others 0).
	v.minInt("/instances", a.Instances, 0)
	v.minFloat("/cpus", a.Cpus, 0.001)
	v.minFloat("/mem", a.Mem, 0)
	v.minFloat("/disk", a.Disk, 0)
	v.minInt("/gpus", a.Gpus, 0)
	for i, r := range a.AcceptedResourceRoles {
		if r == "" {
			v.add(idx("/acceptedResourceRoles", i, ""), msgEmpty)
		}
	}
	if rl := a.ResourceLimits; rl != nil {
		v.limit("/resourceLimits/cpus", rl.Cpus, a.Cpus)
		v.limit("/resourceLimits/mem", rl.Mem, a.Mem)
	}

	v.env(a)
	for _, name := range sortedKeys(a.Secrets) {
		if a.Secrets[name].Source == "" {
			v.add("/secrets/"+jsonPointerSegment(name)+"/source", msgEmpty)
		}
	}

	for i, c := range a.Constraints {
		v.constraint(idx("/constraints", i, ""), c)
	}
	for i, f := range a.Fetch {
		p := idx("/fetch", i, "")
		if f.URI == "" {
			v.add(p+"/uri", msgEmpty)
		}
		if strings.HasPrefix(f.DestPath, "/") {
			v.add(p+"/destPath", "must be a relative path, got %q", f.DestPath)
		}
	}

	v.portDefinitions(a)
	v.container(a)
	for i, n := range a.Networks {
		p := idx("/networks", i, "")
		v.oneOf(p+"/mode", "network mode", n.Mode, networkModes)
		if n.Name != "" && n.Mode != "container" {
			v.add(p+"/name", "only container networks have a name, got mode %q", n.Mode)
		}
	}

	ports := portsOf(a)
	for i := range a.HealthChecks {
		v.healthCheck(idx("/healthChecks", i, ""), &a.HealthChecks[i], ports)
	}
	// Mesos runs one health check per task: MESOS_* and COMMAND checks go into the
	// TaskInfo, so an app may have at most one of them (Marathon's rule too).
	mesosCheck := -1
	for i := range a.HealthChecks {
		if !a.HealthChecks[i].IsMesos() {
			continue
		}
		if mesosCheck >= 0 {
			v.add(idx("/healthChecks", i, "")+"/protocol", "an app can have only one health check run by Mesos (COMMAND or MESOS_*); healthChecks/%d is one already", mesosCheck)
			continue
		}
		mesosCheck = i
	}
	names := map[string]int{}
	for i := range a.ReadinessChecks {
		r := &a.ReadinessChecks[i]
		p := idx("/readinessChecks", i, "")
		v.readinessCheck(p, r, ports)
		if j, dup := names[r.Name]; dup {
			v.add(p+"/name", "duplicate readiness check name %q (also /readinessChecks/%d)", r.Name, j)
		} else {
			names[r.Name] = i
		}
	}

	for i, d := range a.Dependencies {
		p := idx("/dependencies", i, "")
		switch {
		case d == a.ID:
			v.add(p, msgSelfDependency)
		case !IsAbsolute(d):
			v.add(p, "dependency %q is not absolute", d)
		default:
			if err := CheckID(d, true); err != nil {
				v.msg(p, err.Error())
			}
		}
	}

	v.unit("/upgradeStrategy/minimumHealthCapacity", a.UpgradeStrategy.MinimumHealthCapacity)
	v.unit("/upgradeStrategy/maximumOverCapacity", a.UpgradeStrategy.MaximumOverCapacity)

	v.minFloat("/backoffSeconds", a.BackoffSeconds, 0)
	v.minFloat("/backoffFactor", a.BackoffFactor, 1)
	v.minFloat("/maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds, 0)
	v.oneOf("/killSelection", "kill selection", a.KillSelection, killSelections)
	v.minInt("/taskKillGracePeriodSeconds", a.TaskKillGracePeriodSeconds, 0)
	v.minInt("/giveUpAfter", a.GiveUpAfter, 0)
	v.minInt("/progressDeadlineSeconds", a.ProgressDeadlineSeconds, 0)

	if u := a.UnreachableStrategy; u != nil && !u.Disabled {
		v.minInt("/unreachableStrategy/inactiveAfterSeconds", u.InactiveAfterSeconds, 0)
		v.minInt("/unreachableStrategy/expungeAfterSeconds", u.ExpungeAfterSeconds, 0)
		if u.InactiveAfterSeconds > u.ExpungeAfterSeconds {
			v.add("/unreachableStrategy/inactiveAfterSeconds",
				"must be <= expungeAfterSeconds (%d), got %d", u.ExpungeAfterSeconds, u.InactiveAfterSeconds)
		}
	}

	if s := a.Service; s != nil {
		if !validDNSLabel(s.Name) {
			v.add("/service/name", "must be a DNS label (lowercase letters, digits and dashes, not at either end, at most 63), got %q", s.Name)
		}
		for i, t := range s.Tags {
			if t == "" {
				v.add(idx("/service/tags", i, ""), msgEmpty)
			}
		}
		if s.Port != "" && !hasPortDefinition(a, s.Port) {
			v.add("/service/port", "no port definition named %q (%s)", s.Port, portsOf(a).describe())
		}
	}
	if l := a.Lifecycle; l != nil {
		for i, name := range l.IgnoreChanges {
			if ignorable[name] == nil {
				v.add(idx("/lifecycle/ignoreChanges", i, ""), "%q is not a field ignore_changes can name (one of %s)", name, strings.Join(IgnorableFields(), ", "))
			}
		}
	}
	for i, p := range a.Sensitive {
		if _, ok := FieldPathToPointer(p); !ok {
			v.add(idx("/sensitive", i, ""), "%q is not a field path", p)
		}
	}
}

func hasPortDefinition(a *App, name string) bool {
	for _, p := range a.PortDefinitions {
		if p.Name == name {
			return true
		}
	}
	return false
}

// validDNSLabel: RFC 1123 label, lowercase.
func validDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (v *validator) limit(path string, lim any, requested float64) {
	switch l := lim.(type) {
	case nil:
	case string:
		if l != "unlimited" {
			v.add(path, "must be a number or \"unlimited\", got %q", l)
		}
	case float64:
		if math.IsNaN(l) || l < requested {
			v.add(path, "must be >= the requested %s, got %s", fmtFloat(requested), fmtFloat(l))
		}
	default:
		v.add(path, "must be a number or \"unlimited\", got %T", lim)
	}
}

func (v *validator) env(a *App) {
	for _, name := range sortedKeys(a.Env) {
		v.envName(name)
		if _, both := a.EnvSecrets[name]; both {
			v.add("/env/"+jsonPointerSegment(name), "%q is both a value and a secret", name)
		}
	}
	for _, name := range sortedKeys(a.EnvSecrets) {
		v.envName(name)
		secret := a.EnvSecrets[name]
		if _, ok := a.Secrets[secret]; !ok {
			declared := "none declared"
			if len(a.Secrets) > 0 {
				declared = "declared: " + strings.Join(sortedKeys(a.Secrets), ", ")
			}
			v.add("/env/"+jsonPointerSegment(name)+"/secret", "unknown secret %q (%s)", secret, declared)
		}
	}
}

func (v *validator) envName(name string) {
	p := "/env/" + jsonPointerSegment(name)
	switch {
	case name == "":
		v.add(p, "variable name must not be empty")
	case strings.Contains(name, "="):
		v.add(p, "variable name %q must not contain \"=\"", name)
	}
}

func (v *validator) constraint(p string, c Constraint) {
	if c.Field == "" {
		v.add(p+"/0", "constraint field must not be empty")
	}
	switch c.Operator {
	case OpUnique:
		if c.Value != "" {
			v.add(p+"/2", "UNIQUE takes no value, got %q", c.Value)
		}
	case OpCluster:
	case OpGroupBy:
		if c.Value != "" {
			v.positiveInt(p+"/2", c)
		}
	case OpMaxPer:
		if c.Value == "" {
			v.add(p, "MAX_PER needs a value")
		} else {
			v.positiveInt(p+"/2", c)
		}
	case OpLike, OpUnlike:
		if c.Value == "" {
			v.add(p, "%s needs a value", c.Operator)
		} else if _, err := regexp.Compile(c.Value); err != nil {
			v.add(p+"/2", "invalid regular expression %q: %s", c.Value, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
	case OpIs:
		if c.Value == "" {
			v.add(p, "IS needs a value")
		}
	default:
		v.add(p+"/1", "unknown constraint operator %q (one of %s)", c.Operator, strings.Join(Operators, ", "))
	}
}

func (v *validator) positiveInt(p string, c Constraint) {
	if n, err := strconv.Atoi(c.Value); err != nil || n < 1 {
		v.add(p, "%s value must be a positive integer, got %q", c.Operator, c.Value)
	}
}

func (v *validator) portDefinitions(a *App) {
	names := map[string]int{}
	ports := map[int]int{}
	for i, pd := range a.PortDefinitions {
		p := idx("/portDefinitions", i, "")
		v.port(p+"/port", pd.Port)
		v.oneOf(p+"/protocol", "protocol", pd.Protocol, portProtocols)
		v.portName(p+"/name", pd.Name, names, "/portDefinitions", i)
		if a.RequirePorts && pd.Port != 0 {
			if j, dup := ports[pd.Port]; dup {
				v.add(p+"/port", "duplicate port %d with requirePorts (also /portDefinitions/%d)", pd.Port, j)
			} else {
				ports[pd.Port] = i
			}
		}
	}
}

func (v *validator) portName(path, name string, seen map[string]int, base string, i int) {
	if name == "" {
		return
	}
	if !portNameRE.MatchString(name) {
		v.add(path, "must match ^[a-z0-9-]+$, got %q", name)
	}
	if j, dup := seen[name]; dup {
		v.add(path, "duplicate port name %q (also %s/%d)", name, base, j)
		return
	}
	seen[name] = i
}

func (v *validator) container(a *App) {
	c := a.Container
	if c == nil {
		return
	}
	v.oneOf("/container/type", "container type", c.Type, containerTypes)
	if d := c.Docker; d != nil {
		if d.Image == "" {
			v.add("/container/docker/image", msgEmpty)
		}
		if d.Network != "" {
			v.oneOf("/container/docker/network", "docker network", d.Network, dockerNetworks)
		}
		for i, p := range d.Parameters {
			if p.Key == "" {
				v.add(idx("/container/docker/parameters", i, "/key"), msgEmpty)
			}
		}
		v.portMappings("/container/docker/portMappings", d.PortMappings)
		if len(d.PortMappings) > 0 && len(c.PortMappings) > 0 {
			v.add("/container/docker/portMappings", msgBothMappings)
		}
	} else if c.Type == "DOCKER" {
		v.add("/container/docker", "a DOCKER container needs docker.image")
	}
	v.portMappings("/container/portMappings", c.PortMappings)
	for i, vol := range c.Volumes {
		p := idx("/container/volumes", i, "")
		if vol.ContainerPath == "" {
			v.add(p+"/containerPath", msgEmpty)
		}
		v.oneOf(p+"/mode", "volume mode", vol.Mode, volumeModes)
	}
}

func (v *validator) portMappings(base string, ms []PortMapping) {
	names := map[string]int{}
	for i, m := range ms {
		p := idx(base, i, "")
		v.port(p+"/containerPort", m.ContainerPort)
		v.port(p+"/hostPort", m.HostPort)
		v.port(p+"/servicePort", m.ServicePort)
		v.oneOf(p+"/protocol", "protocol", m.Protocol, portProtocols)
		v.portName(p+"/name", m.Name, names, base, i)
	}
}

// healthCheck checks one health check. Marathon needs exactly one port selector
// for network checks ("HealthCheck must specify either a port or a portIndex");
// its RAML allows interval and timeout 0, which Mesos refuses for MESOS_* checks
// and which would make Stride's own checks spin, so both must be >= 1 here.
func (v *validator) healthCheck(p string, h *HealthCheck, ports appPorts) {
	v.oneOf(p+"/protocol", "protocol", h.Protocol, healthProtocols)
	if h.Protocol == ProtoCommand {
		if h.Command == nil {
			v.add(p+"/command", "COMMAND health checks need a command")
		} else if h.Command.Value == "" {
			v.add(p+"/command/value", msgEmpty)
		}
	} else {
		if h.Command != nil {
			v.add(p+"/command", "only COMMAND health checks take a command, got protocol %s", h.Protocol)
		}
		selectors := 0
		if h.PortIndex != nil {
			selectors++
		}
		if h.PortName != "" {
			selectors++
		}
		if h.Port != 0 {
			selectors++
		}
		switch {
		case selectors > 1:
			v.add(p, msgOnePortSelector)
		case selectors == 0:
			v.add(p, "a %s health check needs a port: the app has no ports, set port", h.Protocol)
		}
		if h.PortIndex != nil {
			if i := *h.PortIndex; i < 0 || i >= ports.count {
				v.add(p+"/portIndex", "portIndex %d is out of range: the app has %d port(s)", i, ports.count)
			}
		}
		if h.PortName != "" && !ports.has(h.PortName) {
			v.add(p+"/portName", "no port named %q (%s)", h.PortName, ports.describe())
		}
		if h.Port != 0 {
			v.port(p+"/port", h.Port)
		}
	}
	v.minInt(p+"/gracePeriodSeconds", h.GracePeriodSeconds, 0)
	v.minInt(p+"/intervalSeconds", h.IntervalSeconds, 1)
	v.minInt(p+"/timeoutSeconds", h.TimeoutSeconds, 1)
	v.minInt(p+"/maxConsecutiveFailures", h.MaxConsecutiveFailures, 0)
	v.minInt(p+"/delaySeconds", h.DelaySeconds, 0)
}

// readinessCheck: Marathon requires timeoutSeconds < intervalSeconds.
func (v *validator) readinessCheck(p string, r *ReadinessCheck, ports appPorts) {
	if r.Name == "" {
		v.add(p+"/name", msgEmpty)
	}
	v.oneOf(p+"/protocol", "protocol", r.Protocol, readinessProtocols)
	if r.Path == "" {
		v.add(p+"/path", msgEmpty)
	}
	if !ports.has(r.PortName) {
		v.add(p+"/portName", "no port named %q (%s)", r.PortName, ports.describe())
	}
	v.minInt(p+"/intervalSeconds", r.IntervalSeconds, 1)
	v.minInt(p+"/timeoutSeconds", r.TimeoutSeconds, 1)
	if r.TimeoutSeconds >= r.IntervalSeconds && r.IntervalSeconds >= 1 {
		v.add(p+"/timeoutSeconds", "must be less than intervalSeconds (%d), got %d", r.IntervalSeconds, r.TimeoutSeconds)
	}
	if len(r.HTTPStatusCodesForReady) == 0 {
		v.add(p+"/httpStatusCodesForReady", msgEmpty)
	}
	for i, c := range r.HTTPStatusCodesForReady {
		if c < 100 || c > 999 {
			v.add(idx(p+"/httpStatusCodesForReady", i, ""), "must be an HTTP status code (100 to 999), got %d", c)
		}
	}
}
