package engine

// The JSON codec: Marathon's app JSON <-> App.
//
// Decoding is one pass of a small pull parser over the input: the walker asks for
// "an object", "a string", "an int" at each place and the parser either returns it
// or records a FieldError at the current JSON pointer and skips the value. So the
// error report names every problem of the document (not just the first), keys are
// matched exactly (encoding/json would accept "CMD" for "cmd"), duplicate keys are
// reported instead of silently overwriting, and a state file of 10k apps is read
// without building an intermediate tree. Only malformed JSON stops the walk: it is
// returned as a *SyntaxError with its byte offset and line:column.
//
// Null stands for "absent" on every optional field (Play JSON's readNullable, which
// Marathon's readers use): {"args": null} keeps the default. Inside arrays and maps
// a null element is a type error.

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Messages of the codec's FieldErrors. The error.* ones are Play JSON's, as
// Marathon reports them.
const (
	ErrExpectedString  = "error.expected.jsstring"
	ErrExpectedNumber  = "error.expected.jsnumber"
	ErrExpectedBoolean = "error.expected.jsboolean"
	ErrExpectedArray   = "error.expected.jsarray"
	ErrExpectedObject  = "error.expected.jsobject"
	ErrExpectedInt     = "error.expected.int"
	ErrPathMissing     = "error.path.missing"
	ErrUnknownField    = "unknown field"
	ErrDuplicateField  = "duplicate field"
	// ErrNotSupported marks a Marathon field Stride has no place for; it is rejected
	// rather than dropped.
	ErrNotSupported = "not supported by Stride"
)

// SyntaxError is malformed JSON. Offset is the 0-based byte offset of the problem;
// Line and Column (1-based, column counted in bytes) locate it for people.
type SyntaxError struct {
	Msg    string
	Offset int64
	Line   int
	Column int
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d, column %d (byte offset %d): %s", e.Line, e.Column, e.Offset, e.Msg)
}

func newSyntaxError(data []byte, off int, msg string) *SyntaxError {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &SyntaxError{Msg: msg, Offset: int64(off), Line: line, Column: col}
}

// MarshalJSON encodes the app as Marathon app JSON, deterministically (fields in a
// fixed order, map keys sorted). Always emitted: id, instances, cpus, mem, disk,
// gpus, requirePorts, upgradeStrategy, backoffSeconds, backoffFactor,
// maxLaunchDelaySeconds, killSelection; unreachableStrategy when set ("disabled" or
// the object); portDefinitions whenever it is non-nil, [] included, so that a round
// trip keeps "no ports" (nil — absent — is omitted, as it is for container apps
// after ApplyDefaults). env merges Env and EnvSecrets ({"secret": name} values);
// constraints are [field, OPERATOR(, value)] arrays. Only the current forms are
// written (fetch, portDefinitions; never uris or ports). It fails on values JSON
// cannot hold (NaN, infinities) and on a name that is both in Env and EnvSecrets.
func (a *App) MarshalJSON() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 1024)}
	e.app(a)
	if e.err != nil {
		return nil, e.err
	}
	return e.b, nil
}

// UnmarshalJSON decodes Marathon app JSON strictly: it starts from NewApp's
// defaults (absent fields keep them; every health check starts from
// DefaultHealthCheck, every readiness check from DefaultReadinessCheck, every
// fetch artifact from extract = true), folds the deprecated "uris" into Fetch and
// "ports" into PortDefinitions, accepts and ignores Marathon's output-only AppInfo
// fields (tasks, tasksRunning, deployments, ...), and rejects unknown fields and
// wrong types with FieldErrors whose Path is a JSON pointer ("/healthChecks/0/path"),
// all of them, sorted by path. Malformed JSON is a *SyntaxError. The id is kept as
// written (relative ids are resolved by whoever knows the enclosing group). It does
// not run ApplyDefaults or Validate. On error a is left unchanged.
func (a *App) UnmarshalJSON(data []byte) error {
	app, err := UnmarshalApp(data, DecodeOptions{})
	if err != nil {
		return err
	}
	*a = *app
	return nil
}

// DecodeApp decodes one app (UnmarshalJSON) and applies defaults. The error, when
// not nil, is FieldErrors or a *SyntaxError.
func DecodeApp(data []byte) (*App, error) {
	a := new(App)
	if err := a.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	a.ApplyDefaults()
	return a, nil
}

// DecodeState reads a state file {"serial": N, "apps": [<Marathon app JSON>...]},
// applying defaults to every app. Unknown top-level fields and duplicate app ids
// are rejected; errors name the app by index ("/apps/3/cpus"). The error, when not
// nil, is FieldErrors or a *SyntaxError.
func DecodeState(data []byte) (*State, error) {
	d := decoder{data: data}
	st := &State{}
	err := d.run(func() {
		it, ok := d.beginObject(false)
		if !ok {
			return
		}
		for {
			key, more := d.nextKey(&it)
			if !more {
				break
			}
			switch string(key) {
			case "serial":
				d.push("serial")
				var n int64
				if d.integer(&n, 0, math.MaxInt64) {
					st.Serial = uint64(n)
				}
				d.pop()
			case "apps":
				d.push("apps")
				ait, ok := d.beginArray(true)
				if ok {
					st.Apps = make([]*App, 0, 64)
					for i := 0; d.nextElem(&ait); i++ {
						d.pushIndex(i)
						if d.peek() == '{' {
							a := NewApp("")
							d.appObject(a)
							st.Apps = append(st.Apps, a)
						} else {
							d.typeErr(ErrExpectedObject)
						}
						d.pop()
					}
				}
				d.pop()
			default:
				d.unknown(key)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(st.Apps))
	for i, a := range st.Apps {
		a.ApplyDefaults()
		if j, dup := seen[a.ID]; dup {
			d.errs = append(d.errs, FieldError{
				Path:   "/apps/" + strconv.Itoa(i) + "/id",
				Errors: []string{fmt.Sprintf("duplicate app id %q (also /apps/%d)", a.ID, j)},
			})
			continue
		}
		seen[a.ID] = i
	}
	if len(d.errs) > 0 {
		return nil, sortFieldErrors(d.errs)
	}
	return st, nil
}

// MarshalJSON encodes the constraint as Marathon's ["field", "OPERATOR"] or, with a
// value, ["field", "OPERATOR", "value"].
func (c Constraint) MarshalJSON() ([]byte, error) {
	var e encoder
	e.constraint(c)
	return e.b, e.err
}

// UnmarshalJSON decodes ["field", "OPERATOR"(, "value")]. Any other shape is a
// FieldErrors at "/"; malformed JSON a *SyntaxError.
func (c *Constraint) UnmarshalJSON(data []byte) error {
	d := decoder{data: data}
	var v Constraint
	err := d.run(func() { d.constraint(&v) })
	if err != nil {
		return err
	}
	if len(d.errs) > 0 {
		return sortFieldErrors(d.errs)
	}
	*c = v
	return nil
}

// MarshalJSON encodes the strategy as Marathon does: the string "disabled", or
// {"inactiveAfterSeconds": n, "expungeAfterSeconds": m}.
func (u UnreachableStrategy) MarshalJSON() ([]byte, error) {
	var e encoder
	e.unreachable(&u)
	return e.b, e.err
}

// UnmarshalJSON decodes "disabled" or the object form (absent members are 0).
func (u *UnreachableStrategy) UnmarshalJSON(data []byte) error {
	d := decoder{data: data}
	var v *UnreachableStrategy
	err := d.run(func() {
		if d.peek() == 'n' {
			d.typeErr(ErrExpectedObject)
			return
		}
		d.unreachable(&v)
	})
	if err != nil {
		return err
	}
	if len(d.errs) > 0 {
		return sortFieldErrors(d.errs)
	}
	if v == nil {
		return FieldErrors{{Path: "/", Errors: []string{ErrExpectedObject}}}
	}
	*u = *v
	return nil
}

// ---------------------------------------------------------------------------
// Decoding Marathon's app: the walker.

func (d *decoder) appObject(a *App) {
	var (
		uris                []string
		urisGiven           bool
		ports               []PortDefinition
		portsGiven, pdGiven bool
	)
	it, _ := d.beginObject(false)
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "id":
			d.strField("id", &a.ID)
		case "cmd":
			d.strField("cmd", &a.Cmd)
		case "args":
			d.push("args")
			d.strings(&a.Args)
			d.pop()
		case "user":
			d.strField("user", &a.User)
		case "env":
			d.push("env")
			d.env(a)
			d.pop()
		case "secrets":
			d.push("secrets")
			d.secrets(&a.Secrets)
			d.pop()
		case "instances":
			d.intField("instances", &a.Instances)
		case "cpus":
			d.floatField("cpus", &a.Cpus)
		case "mem":
			d.floatField("mem", &a.Mem)
		case "disk":
			d.floatField("disk", &a.Disk)
		case "gpus":
			d.intField("gpus", &a.Gpus)
		case "executor":
			d.strField("executor", &a.Executor)
		case "constraints":
			d.push("constraints")
			d.constraints(&a.Constraints)
			d.pop()
		case "acceptedResourceRoles":
			d.push("acceptedResourceRoles")
			d.strings(&a.AcceptedResourceRoles)
			d.pop()
		case "role":
			d.strField("role", &a.Role)
		case "fetch":
			d.push("fetch")
			d.artifacts(&a.Fetch)
			d.pop()
		case "uris":
			d.push("uris")
			urisGiven = d.strings(&uris)
			d.pop()
		case "portDefinitions":
			d.push("portDefinitions")
			pdGiven = d.portDefinitions(&a.PortDefinitions)
			d.pop()
		case "ports":
			d.push("ports")
			portsGiven = d.ports(&ports)
			d.pop()
		case "requirePorts":
			d.boolField("requirePorts", &a.RequirePorts)
		case "container":
			d.push("container")
			d.container(&a.Container)
			d.pop()
		case "networks":
			d.push("networks")
			d.networks(&a.Networks)
			d.pop()
		case "healthChecks":
			d.push("healthChecks")
			d.healthChecks(&a.HealthChecks)
			d.pop()
		case "readinessChecks":
			d.push("readinessChecks")
			d.readinessChecks(&a.ReadinessChecks)
			d.pop()
		case "dependencies":
			d.push("dependencies")
			d.strings(&a.Dependencies)
			d.pop()
		case "upgradeStrategy":
			d.push("upgradeStrategy")
			d.upgradeStrategy(&a.UpgradeStrategy)
			d.pop()
		case "backoffSeconds":
			d.floatField("backoffSeconds", &a.BackoffSeconds)
		case "backoffFactor":
			d.floatField("backoffFactor", &a.BackoffFactor)
		case "maxLaunchDelaySeconds":
			d.floatField("maxLaunchDelaySeconds", &a.MaxLaunchDelaySeconds)
		case "taskKillGracePeriodSeconds":
			d.intField("taskKillGracePeriodSeconds", &a.TaskKillGracePeriodSeconds)
		case "giveUpAfter":
			d.intField("giveUpAfter", &a.GiveUpAfter)
		case "progressDeadlineSeconds":
			d.intField("progressDeadlineSeconds", &a.ProgressDeadlineSeconds)
		case "autoRevert":
			d.boolField("autoRevert", &a.AutoRevert)
		case "killSelection":
			d.strField("killSelection", &a.KillSelection)
		case "unreachableStrategy":
			d.push("unreachableStrategy")
			d.unreachable(&a.UnreachableStrategy)
			d.pop()
		case "labels":
			d.push("labels")
			d.strMap(&a.Labels)
			d.pop()
		case "tty":
			d.boolField("tty", &a.Tty)
		case "resourceLimits":
			d.push("resourceLimits")
			d.resourceLimits(&a.ResourceLimits)
			d.pop()
		case "service":
			d.push("service")
			d.service(&a.Service)
			d.pop()
		case "lifecycle":
			d.push("lifecycle")
			d.lifecycle(&a.Lifecycle)
			d.pop()
		case "sensitive":
			d.push("sensitive")
			d.strings(&a.Sensitive)
			d.pop()
		case "version":
			d.strField("version", &a.Version)
		case "versionInfo":
			d.push("versionInfo")
			d.versionInfo(&a.VersionInfo)
			d.pop()
		case "tasks", "tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy",
			"deployments", "lastTaskFailure", "readinessCheckResults", "taskStats",
			"tasksStats", "residency", "storeUrls":
			// AppInfo output (and the deprecated, ineffective residency): ignored.
			d.skipValue()
		case "ipAddress", "check", "executorResources":
			d.unsupported(key)
		default:
			d.unknown(key)
		}
	}

	// Deprecated forms, folded the way Marathon's AppNormalization does.
	if urisGiven {
		switch {
		case len(uris) > 0 && len(a.Fetch) > 0:
			d.errAt("/uris", "cannot specify both uris and fetch")
		case len(uris) > 0:
			a.Fetch = make([]Artifact, len(uris))
			for i, u := range uris {
				a.Fetch[i] = Artifact{URI: u, Extract: IsArchive(u)}
			}
		}
	}
	if portsGiven {
		switch {
		case len(ports) > 0 && len(a.PortDefinitions) > 0:
			d.errAt("/ports", "cannot specify both ports and portDefinitions")
		case !pdGiven || len(a.PortDefinitions) == 0:
			a.PortDefinitions = ports
		}
	}
}

// IsArchive reports whether Mesos' fetcher extracts uri when extract is true — the
// rule Marathon applies to the deprecated "uris": .tgz, .tar.gz, .tbz2, .tar.bz2,
// .txz, .tar.xz and .zip.
func IsArchive(uri string) bool {
	for _, ext := range [...]string{".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"} {
		if strings.HasSuffix(uri, ext) {
			return true
		}
	}
	return false
}

func (d *decoder) env(a *App) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	for {
		key, more := d.nextKey(&it)
		if !more {
			return
		}
		name := string(key)
		d.push(name)
		switch d.peek() {
		case '"':
			if a.Env == nil {
				a.Env = make(map[string]string)
			}
			a.Env[name] = d.readString()
		case '{':
			var secret string
			found, present := false, false
			sit, _ := d.beginObject(false)
			for {
				k, more := d.nextKey(&sit)
				if !more {
					break
				}
				if string(k) == "secret" {
					present = true
					d.push("secret")
					if d.peek() == '"' {
						secret, found = d.readString(), true
					} else {
						d.typeErr(ErrExpectedString)
					}
					d.pop()
				} else {
					d.unknown(k)
				}
			}
			if found {
				if a.EnvSecrets == nil {
					a.EnvSecrets = make(map[string]string)
				}
				a.EnvSecrets[name] = secret
			} else if !present {
				d.errAt(d.pointer()+"/secret", ErrPathMissing)
			}
		default:
			d.typeErr(ErrExpectedString)
		}
		d.pop()
	}
}

func (d *decoder) secrets(dst *map[string]Secret) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	for {
		key, more := d.nextKey(&it)
		if !more {
			return
		}
		name := string(key)
		d.push(name)
		var s Secret
		if sit, ok := d.beginObject(false); ok {
			for {
				k, more := d.nextKey(&sit)
				if !more {
					break
				}
				if string(k) == "source" {
					d.strField("source", &s.Source)
				} else {
					d.unknown(k)
				}
			}
			if *dst == nil {
				*dst = make(map[string]Secret)
			}
			(*dst)[name] = s
		}
		d.pop()
	}
}

func (d *decoder) constraints(dst *[]Constraint) {
	it, ok := d.beginArray(true)
	if !ok {
		return
	}
	*dst = []Constraint{}
	for i := 0; d.nextElem(&it); i++ {
		d.pushIndex(i)
		var c Constraint
		if d.constraint(&c) {
			*dst = append(*dst, c)
		}
		d.pop()
	}
}

// constraint reads ["field", "OP"(, "value")]; problems are reported at the
// constraint itself.
func (d *decoder) constraint(c *Constraint) bool {
	if d.peek() != '[' {
		d.typeErr(ErrExpectedArray)
		return false
	}
	it, _ := d.beginArray(false)
	var parts [3]string
	n, bad := 0, false
	for d.nextElem(&it) {
		if d.peek() == '"' {
			s := d.readString()
			if n < len(parts) {
				parts[n] = s
			}
		} else {
			d.skipValue()
			bad = true
		}
		n++
	}
	if bad {
		d.fail(ErrExpectedString)
		return false
	}
	if n < 2 || n > 3 {
		d.fail(fmt.Sprintf("a constraint is [field, operator] or [field, operator, value], got %d element(s)", n))
		return false
	}
	*c = Constraint{Field: parts[0], Operator: parts[1], Value: parts[2]}
	return true
}

// objectList decodes a JSON array of objects into *dst (null or absent leaves it
// alone and returns false): each element starts from newElem() — Marathon's
// defaults — and field handles each of its keys, reporting unknown ones.
func objectList[T any](d *decoder, dst *[]T, newElem func() T, field func(e *T, key []byte)) bool {
	it, ok := d.beginArray(true)
	if !ok {
		return false
	}
	*dst = []T{}
	for i := 0; d.nextElem(&it); i++ {
		d.pushIndex(i)
		if oit, ok := d.beginObject(false); ok {
			e := newElem()
			for {
				key, more := d.nextKey(&oit)
				if !more {
					break
				}
				field(&e, key)
			}
			*dst = append(*dst, e)
		}
		d.pop()
	}
	return true
}

func (d *decoder) artifacts(dst *[]Artifact) {
	// Marathon's default for fetch entries is extract: true.
	objectList(d, dst, func() Artifact { return Artifact{Extract: true} }, func(f *Artifact, key []byte) {
		switch string(key) {
		case "uri":
			d.strField("uri", &f.URI)
		case "extract":
			d.boolField("extract", &f.Extract)
		case "executable":
			d.boolField("executable", &f.Executable)
		case "cache":
			d.boolField("cache", &f.Cache)
		case "destPath":
			d.strField("destPath", &f.DestPath)
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) portDefinitions(dst *[]PortDefinition) bool {
	return objectList(d, dst, func() PortDefinition { return PortDefinition{} }, func(p *PortDefinition, key []byte) {
		switch string(key) {
		case "port":
			d.intField("port", &p.Port)
		case "protocol":
			d.strField("protocol", &p.Protocol)
		case "name":
			d.strField("name", &p.Name)
		case "labels":
			d.push("labels")
			d.strMap(&p.Labels)
			d.pop()
		default:
			d.unknown(key)
		}
	})
}

// ports reads the deprecated "ports": [10013, 0] as tcp port definitions.
func (d *decoder) ports(dst *[]PortDefinition) bool {
	it, ok := d.beginArray(true)
	if !ok {
		return false
	}
	*dst = []PortDefinition{}
	for i := 0; d.nextElem(&it); i++ {
		d.pushIndex(i)
		var n int64
		if d.intElem(&n) {
			*dst = append(*dst, PortDefinition{Port: int(n), Protocol: DefaultPortProtocol})
		}
		d.pop()
	}
	return true
}

func (d *decoder) container(dst **Container) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	c := &Container{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "type":
			d.strField("type", &c.Type)
		case "docker":
			d.push("docker")
			d.docker(&c.Docker)
			d.pop()
		case "volumes":
			d.push("volumes")
			d.volumes(&c.Volumes)
			d.pop()
		case "portMappings":
			d.push("portMappings")
			d.portMappings(&c.PortMappings)
			d.pop()
		case "linuxInfo":
			d.unsupported(key)
		default:
			d.unknown(key)
		}
	}
	*dst = c
}

func (d *decoder) docker(dst **Docker) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	dk := &Docker{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "image":
			d.strField("image", &dk.Image)
		case "network":
			d.strField("network", &dk.Network)
		case "privileged":
			d.boolField("privileged", &dk.Privileged)
		case "forcePullImage":
			d.boolField("forcePullImage", &dk.ForcePullImage)
		case "parameters":
			d.push("parameters")
			d.parameters(&dk.Parameters)
			d.pop()
		case "portMappings":
			d.push("portMappings")
			d.portMappings(&dk.PortMappings)
			d.pop()
		case "pullConfig", "credential":
			d.unsupported(key)
		default:
			d.unknown(key)
		}
	}
	*dst = dk
}

func (d *decoder) parameters(dst *[]Parameter) {
	objectList(d, dst, func() Parameter { return Parameter{} }, func(p *Parameter, key []byte) {
		switch string(key) {
		case "key":
			d.strField("key", &p.Key)
		case "value":
			d.strField("value", &p.Value)
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) portMappings(dst *[]PortMapping) {
	objectList(d, dst, func() PortMapping { return PortMapping{} }, func(m *PortMapping, key []byte) {
		switch string(key) {
		case "containerPort":
			d.intField("containerPort", &m.ContainerPort)
		case "hostPort":
			d.intField("hostPort", &m.HostPort)
		case "servicePort":
			d.intField("servicePort", &m.ServicePort)
		case "protocol":
			d.strField("protocol", &m.Protocol)
		case "name":
			d.strField("name", &m.Name)
		case "labels":
			d.push("labels")
			d.strMap(&m.Labels)
			d.pop()
		case "networkNames":
			// Stride has no container networks to name; [] says nothing.
			d.push("networkNames")
			var names []string
			d.strings(&names)
			if len(names) > 0 {
				d.fail(ErrNotSupported)
			}
			d.pop()
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) volumes(dst *[]Volume) {
	objectList(d, dst, func() Volume { return Volume{} }, func(v *Volume, key []byte) {
		switch string(key) {
		case "containerPath":
			d.strField("containerPath", &v.ContainerPath)
		case "hostPath":
			d.strField("hostPath", &v.HostPath)
		case "mode":
			d.strField("mode", &v.Mode)
		case "persistent", "external", "secret":
			d.unsupported(key)
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) networks(dst *[]Network) {
	objectList(d, dst, func() Network { return Network{} }, func(n *Network, key []byte) {
		switch string(key) {
		case "mode":
			d.strField("mode", &n.Mode)
		case "name":
			d.strField("name", &n.Name)
		case "labels":
			d.push("labels")
			d.strMap(&n.Labels)
			d.pop()
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) healthChecks(dst *[]HealthCheck) {
	objectList(d, dst, func() HealthCheck { return DefaultHealthCheck() }, func(h *HealthCheck, key []byte) {
		switch string(key) {
		case "protocol":
			d.strField("protocol", &h.Protocol)
		case "path":
			d.strField("path", &h.Path)
		case "portIndex":
			d.push("portIndex")
			if d.peek() == 'n' {
				d.literal("null")
			} else {
				var n int64
				if d.integer(&n, math.MinInt, math.MaxInt) {
					v := int(n)
					h.PortIndex = &v
				}
			}
			d.pop()
		case "portName":
			d.strField("portName", &h.PortName)
		case "port":
			d.intField("port", &h.Port)
		case "command":
			d.push("command")
			if cit, ok := d.beginObject(true); ok {
				cmd := &CheckCommand{}
				for {
					k, more := d.nextKey(&cit)
					if !more {
						break
					}
					if string(k) == "value" {
						d.strField("value", &cmd.Value)
					} else {
						d.unknown(k)
					}
				}
				h.Command = cmd
			}
			d.pop()
		case "gracePeriodSeconds":
			d.intField("gracePeriodSeconds", &h.GracePeriodSeconds)
		case "intervalSeconds":
			d.intField("intervalSeconds", &h.IntervalSeconds)
		case "timeoutSeconds":
			d.intField("timeoutSeconds", &h.TimeoutSeconds)
		case "maxConsecutiveFailures":
			d.intField("maxConsecutiveFailures", &h.MaxConsecutiveFailures)
		case "ignoreHttp1xx":
			d.boolField("ignoreHttp1xx", &h.IgnoreHTTP1xx)
		case "delaySeconds":
			d.intField("delaySeconds", &h.DelaySeconds)
		case "ipProtocol":
			// Marathon's default IPv4 is all Stride does; IPv6 is not dropped silently.
			d.push("ipProtocol")
			var p string
			d.str(&p)
			if p != "" && p != "IPv4" {
				d.fail(ErrNotSupported)
			}
			d.pop()
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) readinessChecks(dst *[]ReadinessCheck) {
	objectList(d, dst, func() ReadinessCheck { return DefaultReadinessCheck() }, func(r *ReadinessCheck, key []byte) {
		switch string(key) {
		case "name":
			d.strField("name", &r.Name)
		case "protocol":
			d.strField("protocol", &r.Protocol)
		case "path":
			d.strField("path", &r.Path)
		case "portName":
			d.strField("portName", &r.PortName)
		case "intervalSeconds":
			d.intField("intervalSeconds", &r.IntervalSeconds)
		case "timeoutSeconds":
			d.intField("timeoutSeconds", &r.TimeoutSeconds)
		case "httpStatusCodesForReady":
			d.push("httpStatusCodesForReady")
			if sit, ok := d.beginArray(true); ok {
				codes := []int{}
				for j := 0; d.nextElem(&sit); j++ {
					d.pushIndex(j)
					var n int64
					if d.intElem(&n) {
						codes = append(codes, int(n))
					}
					d.pop()
				}
				r.HTTPStatusCodesForReady = codes
			}
			d.pop()
		case "preserveLastResponse":
			d.boolField("preserveLastResponse", &r.PreserveLastResponse)
		default:
			d.unknown(key)
		}
	})
}

func (d *decoder) upgradeStrategy(u *UpgradeStrategy) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	for {
		key, more := d.nextKey(&it)
		if !more {
			return
		}
		switch string(key) {
		case "minimumHealthCapacity":
			d.floatField("minimumHealthCapacity", &u.MinimumHealthCapacity)
		case "maximumOverCapacity":
			d.floatField("maximumOverCapacity", &u.MaximumOverCapacity)
		default:
			d.unknown(key)
		}
	}
}

func (d *decoder) unreachable(dst **UnreachableStrategy) {
	switch d.peek() {
	case '"':
		s := d.readString()
		if s == "disabled" {
			*dst = &UnreachableStrategy{Disabled: true}
		} else {
			d.fail(fmt.Sprintf("unknown value %q (the string \"disabled\" or an object)", s))
		}
		return
	case '{':
	case 'n':
		d.literal("null")
		return
	default:
		d.typeErr(ErrExpectedObject)
		return
	}
	it, _ := d.beginObject(false)
	u := &UnreachableStrategy{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "inactiveAfterSeconds":
			d.push("inactiveAfterSeconds")
			var n int64
			if d.integer(&n, math.MinInt, math.MaxInt) {
				u.InactiveAfterSeconds = int(n)
			}
			d.pop()
		case "expungeAfterSeconds":
			d.push("expungeAfterSeconds")
			var n int64
			if d.integer(&n, math.MinInt, math.MaxInt) {
				u.ExpungeAfterSeconds = int(n)
			}
			d.pop()
		default:
			d.unknown(key)
		}
	}
	*dst = u
}

func (d *decoder) resourceLimits(dst **ResourceLimits) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	rl := &ResourceLimits{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		var v *any
		switch string(key) {
		case "cpus":
			v = &rl.Cpus
		case "mem":
			v = &rl.Mem
		default:
			d.unknown(key)
			continue
		}
		d.push(string(key))
		switch c := d.peek(); {
		case c == '"':
			*v = d.readString()
		case c == 'n':
			d.literal("null")
		case c == '-' || c >= '0' && c <= '9':
			var f float64
			if d.float(&f) {
				*v = f
			}
		default:
			d.typeErr(ErrExpectedNumber)
		}
		d.pop()
	}
	*dst = rl
}

func (d *decoder) service(dst **Service) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	s := &Service{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "name":
			d.strField("name", &s.Name)
		case "tags":
			d.push("tags")
			d.strings(&s.Tags)
			d.pop()
		case "port":
			d.strField("port", &s.Port)
		default:
			d.unknown(key)
		}
	}
	*dst = s
}

// lifecycle reads Stride's {"ignoreChanges": ["instances", ...]}.
func (d *decoder) lifecycle(dst **Lifecycle) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	l := &Lifecycle{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "ignoreChanges":
			d.push("ignoreChanges")
			d.strings(&l.IgnoreChanges)
			d.pop()
		default:
			d.unknown(key)
		}
	}
	*dst = l
}

func (d *decoder) versionInfo(dst **VersionInfo) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	v := &VersionInfo{}
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		switch string(key) {
		case "lastScalingAt":
			d.strField("lastScalingAt", &v.LastScalingAt)
		case "lastConfigChangeAt":
			d.strField("lastConfigChangeAt", &v.LastConfigChangeAt)
		default:
			d.unknown(key)
		}
	}
	*dst = v
}

// ---------------------------------------------------------------------------
// The pull parser.

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 1000

type decoder struct {
	data  []byte
	pos   int
	depth int
	// allowUnknown skips unknown members instead of rejecting them
	// (DecodeOptions.AllowUnknown).
	allowUnknown bool
	// path holds the JSON pointer segments (unescaped) of the value being read.
	path []string
	errs FieldErrors
	// keys holds the keys of every object being read (a stack), for duplicate
	// detection; they alias data unless the key had escapes.
	keys [][]byte
	buf  []byte
}

// syntaxAbort carries a syntax error up through the walker (recovered in run).
type syntaxAbort struct{ err *SyntaxError }

func (d *decoder) syntaxErr(msg string) {
	panic(syntaxAbort{newSyntaxError(d.data, d.pos, msg)})
}

// run reads one top-level value with fn and checks that nothing but whitespace
// follows it.
func (d *decoder) run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(syntaxAbort)
			if !ok {
				panic(r)
			}
			err = s.err
		}
	}()
	fn()
	d.ws()
	if d.pos < len(d.data) {
		d.syntaxErr(fmt.Sprintf("invalid character %s after top-level value", quoteChar(d.data[d.pos])))
	}
	return nil
}

func quoteChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c >= 0x20 && c < 0x7f:
		return "'" + string(rune(c)) + "'"
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// --- paths and errors

func (d *decoder) push(seg string) { d.path = append(d.path, seg) }
func (d *decoder) pushIndex(i int) { d.path = append(d.path, strconv.Itoa(i)) }
func (d *decoder) pop()            { d.path = d.path[:len(d.path)-1] }

// pointer renders the current path as a JSON pointer (RFC 6901: "~" as "~0", "/"
// as "~1"); the document itself is "/".
func (d *decoder) pointer() string {
	if len(d.path) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, s := range d.path {
		b.WriteByte('/')
		if strings.ContainsAny(s, "~/") {
			s = strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
		}
		b.WriteString(s)
	}
	return b.String()
}

// fail records msg at the current path.
func (d *decoder) fail(msg string) { d.errAt(d.pointer(), msg) }

func (d *decoder) errAt(path, msg string) {
	d.errs = append(d.errs, FieldError{Path: path, Errors: []string{msg}})
}

// typeErr records msg at the current path and skips the value.
func (d *decoder) typeErr(msg string) {
	d.fail(msg)
	d.skipValue()
}

// unknown rejects the member key (its value is skipped), or only skips it when
// the decoder allows unknown members.
func (d *decoder) unknown(key []byte) {
	if d.allowUnknown {
		d.skipValue()
		return
	}
	d.push(string(key))
	d.typeErr(ErrUnknownField)
	d.pop()
}

// unsupported rejects a Marathon field Stride cannot carry, unless it is null.
func (d *decoder) unsupported(key []byte) {
	if d.peek() == 'n' {
		d.literal("null")
		return
	}
	d.push(string(key))
	d.typeErr(ErrNotSupported)
	d.pop()
}

// --- tokens

func (d *decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte without consuming it.
func (d *decoder) peek() byte {
	d.ws()
	if d.pos >= len(d.data) {
		d.syntaxErr("unexpected end of JSON input")
	}
	return d.data[d.pos]
}

func (d *decoder) literal(lit string) {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return
	}
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) {
			d.syntaxErr("unexpected end of JSON input")
		}
		if d.data[d.pos] != lit[i] {
			d.syntaxErr(fmt.Sprintf("invalid character %s in literal %s", quoteChar(d.data[d.pos]), lit))
		}
		d.pos++
	}
}

func (d *decoder) skipValue() {
	switch c := d.peek(); c {
	case '{':
		it, _ := d.beginObject(false)
		for {
			if _, more := d.nextKey(&it); !more {
				return
			}
			d.skipValue()
		}
	case '[':
		it, _ := d.beginArray(false)
		for d.nextElem(&it) {
			d.skipValue()
		}
	case '"':
		d.scanString()
	case 't':
		d.literal("true")
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			d.scanNumber()
			return
		}
		d.syntaxErr(fmt.Sprintf("invalid character %s looking for beginning of value", quoteChar(c)))
	}
}

// scanString consumes a string token and returns its raw contents and whether
// they contain escapes. It checks escapes, control characters and UTF-8.
func (d *decoder) scanString() (raw []byte, escaped bool) {
	d.pos++ // '"'
	start := d.pos
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			raw = d.data[start:d.pos]
			d.pos++
			return raw, escaped
		case c == '\\':
			escaped = true
			d.pos++
			if d.pos >= len(d.data) {
				d.syntaxErr("unexpected end of JSON input")
			}
			switch d.data[d.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.pos++
			case 'u':
				d.pos++
				for i := 0; i < 4; i++ {
					if d.pos >= len(d.data) {
						d.syntaxErr("unexpected end of JSON input")
					}
					if !isHex(d.data[d.pos]) {
						d.syntaxErr("invalid character in \\u hexadecimal character escape")
					}
					d.pos++
				}
			default:
				d.syntaxErr(fmt.Sprintf("invalid escape %s in string", quoteChar(d.data[d.pos])))
			}
		case c < 0x20:
			d.syntaxErr("invalid control character in string literal")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				d.syntaxErr("invalid UTF-8 in string")
			}
			d.pos += size
		default:
			d.pos++
		}
	}
	d.syntaxErr("unexpected end of JSON input")
	return nil, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// unescape decodes the raw contents of a string that scanString validated. Lone
// surrogates become U+FFFD, as with encoding/json.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexVal(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hexVal(raw[i+2:i+6])); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

func (d *decoder) readString() string {
	raw, esc := d.scanString()
	if !esc {
		return string(raw)
	}
	d.buf = unescape(d.buf[:0], raw)
	return string(d.buf)
}

// scanNumber consumes a number token (JSON grammar) and returns it.
func (d *decoder) scanNumber() []byte {
	start := d.pos
	data := d.data
	digits := func() {
		if d.pos >= len(data) || data[d.pos] < '0' || data[d.pos] > '9' {
			if d.pos >= len(data) {
				d.syntaxErr("unexpected end of JSON input")
			}
			d.syntaxErr(fmt.Sprintf("invalid character %s in numeric literal", quoteChar(data[d.pos])))
		}
		for d.pos < len(data) && data[d.pos] >= '0' && data[d.pos] <= '9' {
			d.pos++
		}
	}
	if data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(data) && data[d.pos] == '0' {
		d.pos++
	} else {
		digits()
	}
	if d.pos < len(data) && data[d.pos] == '.' {
		d.pos++
		digits()
	}
	if d.pos < len(data) && (data[d.pos] == 'e' || data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(data) && (data[d.pos] == '+' || data[d.pos] == '-') {
			d.pos++
		}
		digits()
	}
	return data[start:d.pos]
}

// --- objects and arrays

type objIter struct {
	n         int
	keysStart int
	bloom     uint64
	set       map[string]struct{} // for large objects
}

// beginObject consumes '{' when the next value is an object. null is consumed
// and, when nullOK, reported as "absent" (false, no error); any other value is a
// type error (recorded, skipped, false).
func (d *decoder) beginObject(nullOK bool) (objIter, bool) {
	switch d.peek() {
	case '{':
		d.pos++
		d.depth++
		if d.depth > maxDepth {
			d.syntaxErr("exceeded max depth")
		}
		return objIter{keysStart: len(d.keys)}, true
	case 'n':
		if nullOK {
			d.literal("null")
			return objIter{}, false
		}
	}
	d.typeErr(ErrExpectedObject)
	return objIter{}, false
}

// nextKey moves to the next member of the object and returns its key (valid until
// the object ends), positioned at the value; false at the closing brace. A key
// already seen is reported as a duplicate and its value skipped.
func (d *decoder) nextKey(it *objIter) ([]byte, bool) {
	for {
		c := d.peek()
		if c == '}' {
			d.pos++
			d.depth--
			d.keys = d.keys[:it.keysStart]
			return nil, false
		}
		if it.n > 0 {
			if c != ',' {
				d.syntaxErr(fmt.Sprintf("invalid character %s after object key:value pair", quoteChar(c)))
			}
			d.pos++
			c = d.peek()
		}
		if c != '"' {
			d.syntaxErr(fmt.Sprintf("invalid character %s looking for beginning of object key string", quoteChar(c)))
		}
		key, esc := d.scanString()
		if esc {
			key = unescape(nil, key)
		}
		if d.peek() != ':' {
			d.syntaxErr(fmt.Sprintf("invalid character %s after object key", quoteChar(d.data[d.pos])))
		}
		d.pos++
		it.n++
		if d.seen(it, key) {
			d.push(string(key))
			d.typeErr(ErrDuplicateField)
			d.pop()
			continue
		}
		return key, true
	}
}

// seen records key in the object's key set and reports whether it was there.
func (d *decoder) seen(it *objIter, key []byte) bool {
	if it.set != nil {
		if _, dup := it.set[string(key)]; dup {
			return true
		}
		it.set[string(key)] = struct{}{}
		return false
	}
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range key {
		h = (h ^ uint64(c)) * 1099511628211
	}
	bit := uint64(1) << (h & 63)
	keys := d.keys[it.keysStart:]
	if it.bloom&bit != 0 {
		for _, k := range keys {
			if string(k) == string(key) {
				return true
			}
		}
	}
	it.bloom |= bit
	if len(keys) >= 32 {
		it.set = make(map[string]struct{}, 64)
		for _, k := range keys {
			it.set[string(k)] = struct{}{}
		}
		it.set[string(key)] = struct{}{}
		return false
	}
	d.keys = append(d.keys, key)
	return false
}

type arrIter struct{ n int }

// beginArray is beginObject for arrays.
func (d *decoder) beginArray(nullOK bool) (arrIter, bool) {
	switch d.peek() {
	case '[':
		d.pos++
		d.depth++
		if d.depth > maxDepth {
			d.syntaxErr("exceeded max depth")
		}
		return arrIter{}, true
	case 'n':
		if nullOK {
			d.literal("null")
			return arrIter{}, false
		}
	}
	d.typeErr(ErrExpectedArray)
	return arrIter{}, false
}

// nextElem moves to the next element; false at the closing bracket.
func (d *decoder) nextElem(it *arrIter) bool {
	c := d.peek()
	if c == ']' {
		d.pos++
		d.depth--
		return false
	}
	if it.n > 0 {
		if c != ',' {
			d.syntaxErr(fmt.Sprintf("invalid character %s after array element", quoteChar(c)))
		}
		d.pos++
		d.peek()
	}
	it.n++
	return true
}

// --- typed values (null = absent, keeps *dst)

func (d *decoder) str(dst *string) {
	switch d.peek() {
	case '"':
		*dst = d.readString()
	case 'n':
		d.literal("null")
	default:
		d.typeErr(ErrExpectedString)
	}
}

func (d *decoder) strField(name string, dst *string) {
	d.push(name)
	d.str(dst)
	d.pop()
}

func (d *decoder) boolField(name string, dst *bool) {
	d.push(name)
	switch d.peek() {
	case 't':
		d.literal("true")
		*dst = true
	case 'f':
		d.literal("false")
		*dst = false
	case 'n':
		d.literal("null")
	default:
		d.typeErr(ErrExpectedBoolean)
	}
	d.pop()
}

// float reads a number into dst; null keeps dst. It reports whether it set dst.
func (d *decoder) float(dst *float64) bool {
	c := d.peek()
	if c == 'n' {
		d.literal("null")
		return false
	}
	if c != '-' && (c < '0' || c > '9') {
		d.typeErr(ErrExpectedNumber)
		return false
	}
	raw := d.scanNumber()
	if n, ok := smallInt(raw); ok {
		*dst = float64(n)
		return true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		d.fail(fmt.Sprintf("number %s is out of range", raw))
		return false
	}
	*dst = f
	return true
}

func (d *decoder) floatField(name string, dst *float64) {
	d.push(name)
	d.float(dst)
	d.pop()
}

// integer reads an integral number within [lo, hi] (1.0 and 1e2 are integral, as
// for Play JSON); a fraction or a value out of range is error.expected.int.
func (d *decoder) integer(dst *int64, lo, hi int64) bool {
	c := d.peek()
	if c == 'n' {
		d.literal("null")
		return false
	}
	if c != '-' && (c < '0' || c > '9') {
		d.typeErr(ErrExpectedNumber)
		return false
	}
	raw := d.scanNumber()
	n, ok := smallInt(raw)
	if !ok {
		if strings.IndexAny(string(raw), ".eE") < 0 {
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				d.fail(ErrExpectedInt)
				return false
			}
			n = v
		} else {
			f, err := strconv.ParseFloat(string(raw), 64)
			// float64(MaxInt64) rounds up to 2^63, so the upper bound is exclusive.
			if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
				d.fail(ErrExpectedInt)
				return false
			}
			n = int64(f)
		}
	}
	if n < lo || n > hi {
		d.fail(ErrExpectedInt)
		return false
	}
	*dst = n
	return true
}

// intElem reads an integer array element: null is a type error there.
func (d *decoder) intElem(dst *int64) bool {
	if d.peek() == 'n' {
		d.typeErr(ErrExpectedNumber)
		return false
	}
	return d.integer(dst, math.MinInt, math.MaxInt)
}

// intField reads an integer. Marathon limits most of them to int32; Stride takes
// any Go int, so that everything MarshalJSON writes reads back (Validate bounds
// what needs bounds).
func (d *decoder) intField(name string, dst *int) {
	d.push(name)
	var n int64
	if d.integer(&n, math.MinInt, math.MaxInt) {
		*dst = int(n)
	}
	d.pop()
}

// smallInt parses plain integers of up to 18 digits (no fraction or exponent).
func smallInt(raw []byte) (int64, bool) {
	neg := false
	if len(raw) > 0 && raw[0] == '-' {
		neg = true
		raw = raw[1:]
	}
	if len(raw) == 0 || len(raw) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// strings reads an array of strings; [] gives a non-nil empty slice. It reports
// whether the array was present (not absent or null).
func (d *decoder) strings(dst *[]string) bool {
	it, ok := d.beginArray(true)
	if !ok {
		return false
	}
	out := []string{}
	for i := 0; d.nextElem(&it); i++ {
		if d.peek() == '"' {
			out = append(out, d.readString())
			continue
		}
		d.pushIndex(i)
		d.typeErr(ErrExpectedString)
		d.pop()
	}
	*dst = out
	return true
}

// strMap reads an object of strings.
func (d *decoder) strMap(dst *map[string]string) {
	it, ok := d.beginObject(true)
	if !ok {
		return
	}
	m := make(map[string]string)
	for {
		key, more := d.nextKey(&it)
		if !more {
			break
		}
		if d.peek() == '"' {
			m[string(key)] = d.readString()
			continue
		}
		d.push(string(key))
		d.typeErr(ErrExpectedString)
		d.pop()
	}
	*dst = m
}

// sortFieldErrors sorts errors by path (numeric segments numerically, so that
// /healthChecks/2 comes before /healthChecks/10) and merges errors of one path.
func sortFieldErrors(errs FieldErrors) FieldErrors {
	sort.SliceStable(errs, func(i, j int) bool { return comparePaths(errs[i].Path, errs[j].Path) < 0 })
	out := errs[:0]
	for _, e := range errs {
		if n := len(out); n > 0 && out[n-1].Path == e.Path {
			for _, m := range e.Errors {
				if !slices.Contains(out[n-1].Errors, m) {
					out[n-1].Errors = append(out[n-1].Errors, m)
				}
			}
			continue
		}
		out = append(out, FieldError{Path: e.Path, Errors: slices.Clone(e.Errors)})
	}
	return out
}

// comparePaths orders JSON pointers segment by segment, numbers numerically.
func comparePaths(a, b string) int {
	for a != "" || b != "" {
		if a == "" {
			return -1
		}
		if b == "" {
			return 1
		}
		var sa, sb string
		sa, a = cutSegment(a)
		sb, b = cutSegment(b)
		if sa == sb {
			continue
		}
		if isDigits(sa) && isDigits(sb) {
			sa, sb = strings.TrimLeft(sa, "0"), strings.TrimLeft(sb, "0")
			if len(sa) != len(sb) {
				return len(sa) - len(sb)
			}
		}
		return strings.Compare(sa, sb)
	}
	return 0
}

func cutSegment(p string) (seg, rest string) {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i], p[i:]
	}
	return p, ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Encoding.

type encoder struct {
	b   []byte
	err error
}

func (e *encoder) setErr(err error) {
	if e.err == nil {
		e.err = err
	}
}

// key writes a separating comma (unless the object just opened) and "k":.
func (e *encoder) key(k string) {
	if n := len(e.b); n > 0 && e.b[n-1] != '{' {
		e.b = append(e.b, ',')
	}
	e.b = append(e.b, '"')
	e.b = append(e.b, k...)
	e.b = append(e.b, '"', ':')
}

func (e *encoder) sep() {
	if n := len(e.b); n > 0 && e.b[n-1] != '[' {
		e.b = append(e.b, ',')
	}
}

func (e *encoder) str(k, v string) {
	e.key(k)
	e.b = AppendJSONString(e.b, v)
}

func (e *encoder) strOmit(k, v string) {
	if v != "" {
		e.str(k, v)
	}
}

func (e *encoder) int(k string, v int) {
	e.key(k)
	e.b = strconv.AppendInt(e.b, int64(v), 10)
}

func (e *encoder) bool(k string, v bool) {
	e.key(k)
	e.b = strconv.AppendBool(e.b, v)
}

func (e *encoder) float(k string, v float64) {
	e.key(k)
	e.floatVal(v)
}

// floatVal formats like encoding/json: the shortest representation that reads
// back as the same float64, exponent only for very large or small magnitudes.
func (e *encoder) floatVal(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.setErr(fmt.Errorf("engine: cannot encode %v as JSON", v))
		e.b = append(e.b, '0')
		return
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	e.b = strconv.AppendFloat(e.b, v, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(e.b); n >= 4 && e.b[n-4] == 'e' && e.b[n-3] == '-' && e.b[n-2] == '0' {
			e.b[n-2] = e.b[n-1]
			e.b = e.b[:n-1]
		}
	}
}

func (e *encoder) strs(k string, v []string) {
	e.key(k)
	e.b = append(e.b, '[')
	for _, s := range v {
		e.sep()
		e.b = AppendJSONString(e.b, s)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) strMap(k string, m map[string]string) {
	e.key(k)
	e.b = append(e.b, '{')
	for _, name := range sortedKeys(m) {
		e.rawKey(name)
		e.b = AppendJSONString(e.b, m[name])
	}
	e.b = append(e.b, '}')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rawKey writes a key that may need escaping (map keys).
func (e *encoder) rawKey(k string) {
	if n := len(e.b); n > 0 && e.b[n-1] != '{' {
		e.b = append(e.b, ',')
	}
	e.b = AppendJSONString(e.b, k)
	e.b = append(e.b, ':')
}

func (e *encoder) app(a *App) {
	e.b = append(e.b, '{')
	e.str("id", a.ID)
	e.strOmit("cmd", a.Cmd)
	if len(a.Args) > 0 {
		e.strs("args", a.Args)
	}
	e.strOmit("user", a.User)
	if len(a.Env) > 0 || len(a.EnvSecrets) > 0 {
		e.env(a)
	}
	if len(a.Secrets) > 0 {
		e.key("secrets")
		e.b = append(e.b, '{')
		for _, name := range sortedKeys(a.Secrets) {
			e.rawKey(name)
			e.b = append(e.b, '{')
			e.str("source", a.Secrets[name].Source)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, '}')
	}
	e.int("instances", a.Instances)
	e.float("cpus", a.Cpus)
	e.float("mem", a.Mem)
	e.float("disk", a.Disk)
	e.int("gpus", a.Gpus)
	e.strOmit("executor", a.Executor)
	if len(a.Constraints) > 0 {
		e.key("constraints")
		e.b = append(e.b, '[')
		for _, c := range a.Constraints {
			e.sep()
			e.constraint(c)
		}
		e.b = append(e.b, ']')
	}
	if len(a.AcceptedResourceRoles) > 0 {
		e.strs("acceptedResourceRoles", a.AcceptedResourceRoles)
	}
	e.strOmit("role", a.Role)
	if len(a.Fetch) > 0 {
		e.key("fetch")
		e.b = append(e.b, '[')
		for _, f := range a.Fetch {
			e.sep()
			e.b = append(e.b, '{')
			e.str("uri", f.URI)
			e.bool("extract", f.Extract)
			e.bool("executable", f.Executable)
			e.bool("cache", f.Cache)
			e.strOmit("destPath", f.DestPath)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	if a.PortDefinitions != nil {
		e.key("portDefinitions")
		e.b = append(e.b, '[')
		for _, p := range a.PortDefinitions {
			e.sep()
			e.b = append(e.b, '{')
			e.int("port", p.Port)
			e.str("protocol", p.Protocol)
			e.strOmit("name", p.Name)
			if len(p.Labels) > 0 {
				e.strMap("labels", p.Labels)
			}
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	e.bool("requirePorts", a.RequirePorts)
	if a.Container != nil {
		e.container(a.Container)
	}
	if len(a.Networks) > 0 {
		e.key("networks")
		e.b = append(e.b, '[')
		for _, n := range a.Networks {
			e.sep()
			e.b = append(e.b, '{')
			e.str("mode", n.Mode)
			e.strOmit("name", n.Name)
			if len(n.Labels) > 0 {
				e.strMap("labels", n.Labels)
			}
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	if len(a.HealthChecks) > 0 {
		e.key("healthChecks")
		e.b = append(e.b, '[')
		for i := range a.HealthChecks {
			e.sep()
			e.healthCheck(&a.HealthChecks[i])
		}
		e.b = append(e.b, ']')
	}
	if len(a.ReadinessChecks) > 0 {
		e.key("readinessChecks")
		e.b = append(e.b, '[')
		for i := range a.ReadinessChecks {
			e.sep()
			e.readinessCheck(&a.ReadinessChecks[i])
		}
		e.b = append(e.b, ']')
	}
	if len(a.Dependencies) > 0 {
		e.strs("dependencies", a.Dependencies)
	}
	e.key("upgradeStrategy")
	e.b = append(e.b, '{')
	e.float("minimumHealthCapacity", a.UpgradeStrategy.MinimumHealthCapacity)
	e.float("maximumOverCapacity", a.UpgradeStrategy.MaximumOverCapacity)
	e.b = append(e.b, '}')
	e.float("backoffSeconds", a.BackoffSeconds)
	e.float("backoffFactor", a.BackoffFactor)
	e.float("maxLaunchDelaySeconds", a.MaxLaunchDelaySeconds)
	// Stride's own fields (beyond Marathon), written only when set.
	if a.GiveUpAfter != 0 {
		e.int("giveUpAfter", a.GiveUpAfter)
	}
	if a.ProgressDeadlineSeconds != 0 {
		e.int("progressDeadlineSeconds", a.ProgressDeadlineSeconds)
	}
	if a.AutoRevert {
		e.bool("autoRevert", true)
	}
	if a.TaskKillGracePeriodSeconds != 0 {
		e.int("taskKillGracePeriodSeconds", a.TaskKillGracePeriodSeconds)
	}
	e.str("killSelection", a.KillSelection)
	if a.UnreachableStrategy != nil {
		e.key("unreachableStrategy")
		e.unreachable(a.UnreachableStrategy)
	}
	if len(a.Labels) > 0 {
		e.strMap("labels", a.Labels)
	}
	if a.Tty {
		e.bool("tty", true)
	}
	if rl := a.ResourceLimits; rl != nil {
		e.key("resourceLimits")
		e.b = append(e.b, '{')
		e.limit("cpus", rl.Cpus)
		e.limit("mem", rl.Mem)
		e.b = append(e.b, '}')
	}
	if s := a.Service; s != nil {
		e.key("service")
		e.b = append(e.b, '{')
		e.str("name", s.Name)
		if len(s.Tags) > 0 {
			e.strs("tags", s.Tags)
		}
		e.strOmit("port", s.Port)
		e.b = append(e.b, '}')
	}
	if l := a.Lifecycle; l != nil {
		e.key("lifecycle")
		e.b = append(e.b, '{')
		if len(l.IgnoreChanges) > 0 {
			e.strs("ignoreChanges", l.IgnoreChanges)
		}
		e.b = append(e.b, '}')
	}
	if len(a.Sensitive) > 0 {
		e.strs("sensitive", a.Sensitive)
	}
	e.strOmit("version", a.Version)
	if v := a.VersionInfo; v != nil {
		e.key("versionInfo")
		e.b = append(e.b, '{')
		e.strOmit("lastScalingAt", v.LastScalingAt)
		e.strOmit("lastConfigChangeAt", v.LastConfigChangeAt)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

// env writes Env and EnvSecrets as one object, keys sorted.
func (e *encoder) env(a *App) {
	names := make([]string, 0, len(a.Env)+len(a.EnvSecrets))
	for k := range a.Env {
		names = append(names, k)
	}
	for k := range a.EnvSecrets {
		if _, both := a.Env[k]; both {
			e.setErr(fmt.Errorf("engine: env %q is both a value and a secret", k))
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
	e.key("env")
	e.b = append(e.b, '{')
	for _, k := range names {
		e.rawKey(k)
		if v, ok := a.Env[k]; ok {
			e.b = AppendJSONString(e.b, v)
			continue
		}
		e.b = append(e.b, '{')
		e.str("secret", a.EnvSecrets[k])
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, '}')
}

func (e *encoder) constraint(c Constraint) {
	e.b = append(e.b, '[')
	e.b = AppendJSONString(e.b, c.Field)
	e.b = append(e.b, ',')
	e.b = AppendJSONString(e.b, c.Operator)
	if c.Value != "" {
		e.b = append(e.b, ',')
		e.b = AppendJSONString(e.b, c.Value)
	}
	e.b = append(e.b, ']')
}

func (e *encoder) unreachable(u *UnreachableStrategy) {
	if u.Disabled {
		e.b = append(e.b, `"disabled"`...)
		return
	}
	e.b = append(e.b, '{')
	e.int("inactiveAfterSeconds", u.InactiveAfterSeconds)
	e.int("expungeAfterSeconds", u.ExpungeAfterSeconds)
	e.b = append(e.b, '}')
}

// limit writes a resource limit: a number, or a string such as "unlimited".
func (e *encoder) limit(k string, v any) {
	switch v := v.(type) {
	case nil:
	case string:
		e.str(k, v)
	case float64:
		e.float(k, v)
	case float32:
		e.float(k, float64(v))
	case int:
		e.int(k, v)
	case int64:
		e.key(k)
		e.b = strconv.AppendInt(e.b, v, 10)
	default:
		e.setErr(fmt.Errorf("engine: resourceLimits.%s: cannot encode %T", k, v))
	}
}

func (e *encoder) container(c *Container) {
	e.key("container")
	e.b = append(e.b, '{')
	e.str("type", c.Type)
	if dk := c.Docker; dk != nil {
		e.key("docker")
		e.b = append(e.b, '{')
		e.str("image", dk.Image)
		e.strOmit("network", dk.Network)
		e.bool("privileged", dk.Privileged)
		e.bool("forcePullImage", dk.ForcePullImage)
		if len(dk.Parameters) > 0 {
			e.key("parameters")
			e.b = append(e.b, '[')
			for _, p := range dk.Parameters {
				e.sep()
				e.b = append(e.b, '{')
				e.str("key", p.Key)
				e.str("value", p.Value)
				e.b = append(e.b, '}')
			}
			e.b = append(e.b, ']')
		}
		if len(dk.PortMappings) > 0 {
			e.portMappings(dk.PortMappings)
		}
		e.b = append(e.b, '}')
	}
	if len(c.Volumes) > 0 {
		e.key("volumes")
		e.b = append(e.b, '[')
		for _, v := range c.Volumes {
			e.sep()
			e.b = append(e.b, '{')
			e.str("containerPath", v.ContainerPath)
			e.strOmit("hostPath", v.HostPath)
			e.str("mode", v.Mode)
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
	}
	if len(c.PortMappings) > 0 {
		e.portMappings(c.PortMappings)
	}
	e.b = append(e.b, '}')
}

func (e *encoder) portMappings(ms []PortMapping) {
	e.key("portMappings")
	e.b = append(e.b, '[')
	for _, m := range ms {
		e.sep()
		e.b = append(e.b, '{')
		e.int("containerPort", m.ContainerPort)
		e.int("hostPort", m.HostPort)
		if m.ServicePort != 0 {
			e.int("servicePort", m.ServicePort)
		}
		e.str("protocol", m.Protocol)
		e.strOmit("name", m.Name)
		if len(m.Labels) > 0 {
			e.strMap("labels", m.Labels)
		}
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
}

func (e *encoder) healthCheck(h *HealthCheck) {
	e.b = append(e.b, '{')
	e.str("protocol", h.Protocol)
	e.strOmit("path", h.Path)
	if h.PortIndex != nil {
		e.int("portIndex", *h.PortIndex)
	}
	e.strOmit("portName", h.PortName)
	if h.Port != 0 {
		e.int("port", h.Port)
	}
	if h.Command != nil {
		e.key("command")
		e.b = append(e.b, '{')
		e.str("value", h.Command.Value)
		e.b = append(e.b, '}')
	}
	e.int("gracePeriodSeconds", h.GracePeriodSeconds)
	e.int("intervalSeconds", h.IntervalSeconds)
	e.int("timeoutSeconds", h.TimeoutSeconds)
	e.int("maxConsecutiveFailures", h.MaxConsecutiveFailures)
	e.bool("ignoreHttp1xx", h.IgnoreHTTP1xx)
	e.int("delaySeconds", h.DelaySeconds)
	e.b = append(e.b, '}')
}

func (e *encoder) readinessCheck(r *ReadinessCheck) {
	e.b = append(e.b, '{')
	e.str("name", r.Name)
	e.str("protocol", r.Protocol)
	e.str("path", r.Path)
	e.str("portName", r.PortName)
	e.int("intervalSeconds", r.IntervalSeconds)
	e.int("timeoutSeconds", r.TimeoutSeconds)
	if r.HTTPStatusCodesForReady != nil {
		e.key("httpStatusCodesForReady")
		e.b = append(e.b, '[')
		for _, c := range r.HTTPStatusCodesForReady {
			e.sep()
			e.b = strconv.AppendInt(e.b, int64(c), 10)
		}
		e.b = append(e.b, ']')
	}
	e.bool("preserveLastResponse", r.PreserveLastResponse)
	e.b = append(e.b, '}')
}

const hexDigits = "0123456789abcdef"

// safeASCII marks the ASCII bytes a JSON string holds as they are.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendJSONString appends s as a JSON string, escaped exactly as encoding/json
// does with HTML escaping off: invalid UTF-8 becomes U+FFFD, U+2028 and U+2029
// are escaped. The codec and the REST API's hand-written encoders share it.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
