package hcl

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/stride-run/stride/engine"
)

// appSchema is the body of an app block: LANGUAGE.md's table, snake_case.
var appSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{
		{Name: "cmd"}, {Name: "args"}, {Name: "user"},
		{Name: "instances"}, {Name: "cpus"}, {Name: "mem"}, {Name: "disk"}, {Name: "gpus"},
		{Name: "env"}, {Name: "labels"}, {Name: "depends_on"},
		{Name: "uris"}, {Name: "ports"}, {Name: "require_ports"},
		{Name: "constraints"}, {Name: "accepted_resource_roles"}, {Name: "role"},
		{Name: "kill_selection"}, {Name: "task_kill_grace_period_seconds"},
		{Name: "executor"}, {Name: "tty"},
	},
	Blocks: []hcl2.BlockHeaderSchema{
		{Type: "fetch"},
		{Type: "port", LabelNames: []string{"name"}},
		{Type: "constraint"},
		{Type: "health_check"},
		{Type: "readiness_check"},
		{Type: "upgrade_strategy"},
		{Type: "backoff"},
		{Type: "deployment"},
		{Type: "unreachable_strategy"},
		{Type: "container"},
		{Type: "service"},
		{Type: "secret", LabelNames: []string{"name"}},
		{Type: "network"},
		{Type: "resource_limits"},
		{Type: "lifecycle"},
	},
}

var (
	fetchSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "uri", Required: true}, {Name: "extract"}, {Name: "executable"}, {Name: "cache"}, {Name: "dest_path"},
	}}
	portSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "number"}, {Name: "protocol"}, {Name: "labels"},
	}}
	constraintSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "attribute", Required: true}, {Name: "operator", Required: true}, {Name: "value"},
	}}
	healthCheckSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "protocol"}, {Name: "port_index"}, {Name: "port_name"}, {Name: "port"}, {Name: "path"},
		{Name: "command"}, {Name: "grace_period_seconds"}, {Name: "interval_seconds"},
		{Name: "timeout_seconds"}, {Name: "max_consecutive_failures"}, {Name: "ignore_http1xx"},
		{Name: "delay_seconds"},
	}}
	readinessCheckSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "name"}, {Name: "protocol"}, {Name: "path"}, {Name: "port_name"},
		{Name: "interval_seconds"}, {Name: "timeout_seconds"}, {Name: "http_status_codes_for_ready"},
		{Name: "preserve_last_response"},
	}}
	upgradeStrategySchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "minimum_health_capacity"}, {Name: "maximum_over_capacity"},
	}}
	backoffSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "backoff_seconds"}, {Name: "backoff_factor"}, {Name: "max_launch_delay_seconds"},
		{Name: "give_up_after"},
	}}
	deploymentSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "progress_deadline"}, {Name: "auto_revert"},
	}}
	unreachableSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "inactive_after_seconds"}, {Name: "expunge_after_seconds"}, {Name: "disabled"},
	}}
	containerSchema = &hcl2.BodySchema{
		Attributes: []hcl2.AttributeSchema{{Name: "type"}},
		Blocks:     []hcl2.BlockHeaderSchema{{Type: "docker"}, {Type: "volume"}, {Type: "port_mapping"}},
	}
	networkSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "mode"}, {Name: "name"}, {Name: "labels"},
	}}
	resourceLimitsSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "cpus"}, {Name: "mem"},
	}}
	dockerSchema = &hcl2.BodySchema{
		Attributes: []hcl2.AttributeSchema{
			{Name: "image"}, {Name: "network"}, {Name: "privileged"}, {Name: "force_pull_image"}, {Name: "parameters"},
		},
		Blocks: []hcl2.BlockHeaderSchema{{Type: "port_mapping"}},
	}
	portMappingSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "container_port"}, {Name: "host_port"}, {Name: "service_port"}, {Name: "protocol"},
		{Name: "name"}, {Name: "labels"},
	}}
	volumeSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "container_path"}, {Name: "host_path"}, {Name: "mode"},
	}}
	secretSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "source", Required: true},
	}}
	serviceSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "name"}, {Name: "tags"}, {Name: "port"},
	}}
	lifecycleSchema = &hcl2.BodySchema{Attributes: []hcl2.AttributeSchema{
		{Name: "ignore_changes"},
	}}
)

// reservedAppNames cannot name an app: the REST API routes by them.
var reservedAppNames = map[string]bool{"restart": true, "tasks": true, "versions": true}

// appFieldsHint is about how many JSON pointers an app's attributes record
// (Source.Attrs): a typical service sets a dozen fields, a health check and a
// port, a constraint or two, each with its parts.
const appFieldsHint = 24

// decodeApp reads an app block, applies Marathon's defaults, validates it and adds
// it to the loader's apps.
func (l *loader) decodeApp(block *hcl2.Block, parent *groupCtx) {
	name := block.Labels[0]
	id := childID(parent, name)
	f := newFields(l, appFieldsHint)
	switch {
	case !engine.ValidSegment(name):
		l.errorf(block.LabelRanges[0].Ptr(), "Invalid app name",
			"The app name %q is not valid: it %s.", name, engine.SegmentRule)
		f.failed["/id"] = true
	case reservedAppNames[name]:
		l.errorf(block.LabelRanges[0].Ptr(), "Invalid app name",
			"The app name %q is reserved: the REST API routes /v2/apps/<id>/%s.", name, name)
		f.failed["/id"] = true
	}
	if parent != nil && parent.invalid {
		f.failed["/id"] = true
	}
	l.register(id, "app", block.DefRange)
	if !engine.InScope(id, l.scope) && (parent == nil || !parent.outside) {
		l.errorf(block.DefRange.Ptr(), "App outside the scope",
			"The app %q is not under %s. Every app the files declare must lie under the scope.",
			id, l.scopeOrigin())
	}

	app := engine.NewApp(id)
	content, diags := bodyContent(block.Body, appSchema)
	l.add(diags)
	if diags.HasErrors() {
		f.failed["/"] = true // cross-field checks ("needs cmd") would only echo this
	}
	a := content.Attributes

	f.str(a["cmd"], "/cmd", &app.Cmd)
	f.strList(a["args"], "/args", &app.Args)
	f.str(a["user"], "/user", &app.User)
	f.int(a["instances"], "/instances", &app.Instances)
	f.float(a["cpus"], "/cpus", &app.Cpus)
	f.float(a["mem"], "/mem", &app.Mem)
	f.float(a["disk"], "/disk", &app.Disk)
	f.int(a["gpus"], "/gpus", &app.Gpus)
	l.decodeEnv(app, a["env"], f)
	f.strMap(a["labels"], "/labels", &app.Labels)
	f.bool(a["require_ports"], "/requirePorts", &app.RequirePorts)
	f.strList(a["accepted_resource_roles"], "/acceptedResourceRoles", &app.AcceptedResourceRoles)
	f.str(a["role"], "/role", &app.Role)
	f.str(a["kill_selection"], "/killSelection", &app.KillSelection)
	f.int(a["task_kill_grace_period_seconds"], "/taskKillGracePeriodSeconds", &app.TaskKillGracePeriodSeconds)
	f.str(a["executor"], "/executor", &app.Executor)
	f.bool(a["tty"], "/tty", &app.Tty)

	parentID := "/"
	if parent != nil {
		parentID = parent.id
	}
	own := l.decodeDependsOn(a["depends_on"], parentID, id, "app", f)
	app.Dependencies = dependencies(own, parent)

	blocks := content.Blocks
	l.decodeFetch(app, a["uris"], blocks.OfType("fetch"), f)
	l.decodePorts(app, a["ports"], blocks.OfType("port"), f)
	l.decodeConstraints(app, a["constraints"], blocks.OfType("constraint"), f)
	for i, b := range blocks.OfType("health_check") {
		app.HealthChecks = append(app.HealthChecks, l.decodeHealthCheck(b, fmt.Sprintf("/healthChecks/%d", i), f))
	}
	for i, b := range blocks.OfType("readiness_check") {
		app.ReadinessChecks = append(app.ReadinessChecks, l.decodeReadinessCheck(b, fmt.Sprintf("/readinessChecks/%d", i), f))
	}
	if b := l.single(blocks.OfType("upgrade_strategy")); b != nil {
		c := l.content(b, upgradeStrategySchema, f, "/upgradeStrategy")
		f.attrs.set("/upgradeStrategy", b.DefRange)
		f.float(c["minimum_health_capacity"], "/upgradeStrategy/minimumHealthCapacity", &app.UpgradeStrategy.MinimumHealthCapacity)
		f.float(c["maximum_over_capacity"], "/upgradeStrategy/maximumOverCapacity", &app.UpgradeStrategy.MaximumOverCapacity)
	}
	if b := l.single(blocks.OfType("backoff")); b != nil {
		c := l.content(b, backoffSchema, f, "/backoffSeconds")
		f.float(c["backoff_seconds"], "/backoffSeconds", &app.BackoffSeconds)
		f.float(c["backoff_factor"], "/backoffFactor", &app.BackoffFactor)
		f.float(c["max_launch_delay_seconds"], "/maxLaunchDelaySeconds", &app.MaxLaunchDelaySeconds)
		f.int(c["give_up_after"], "/giveUpAfter", &app.GiveUpAfter)
	}
	if b := l.single(blocks.OfType("deployment")); b != nil {
		c := l.content(b, deploymentSchema, f, "/progressDeadlineSeconds")
		f.seconds(c["progress_deadline"], "/progressDeadlineSeconds", engine.MaxProgressDeadlineSeconds, &app.ProgressDeadlineSeconds)
		f.bool(c["auto_revert"], "/autoRevert", &app.AutoRevert)
	}
	if b := l.single(blocks.OfType("unreachable_strategy")); b != nil {
		app.UnreachableStrategy = l.decodeUnreachable(b, f)
	}
	if b := l.single(blocks.OfType("container")); b != nil {
		app.Container = l.decodeContainer(b, f)
	}
	for i, b := range blocks.OfType("network") {
		ptr := "/networks/" + strconv.Itoa(i)
		f.attrs.set(ptr, b.DefRange)
		c := l.content(b, networkSchema, f, ptr)
		var n engine.Network
		f.str(c["mode"], ptr+"/mode", &n.Mode)
		f.str(c["name"], ptr+"/name", &n.Name)
		f.strMap(c["labels"], ptr+"/labels", &n.Labels)
		app.Networks = append(app.Networks, n)
	}
	if b := l.single(blocks.OfType("resource_limits")); b != nil {
		c := l.content(b, resourceLimitsSchema, f, "/resourceLimits")
		f.attrs.set("/resourceLimits", b.DefRange)
		app.ResourceLimits = &engine.ResourceLimits{
			Cpus: f.limit(c["cpus"], "/resourceLimits/cpus"),
			Mem:  f.limit(c["mem"], "/resourceLimits/mem"),
		}
	}
	if b := l.single(blocks.OfType("service")); b != nil {
		c := l.content(b, serviceSchema, f, "/service")
		f.attrs.set("/service", b.DefRange)
		app.Service = &engine.Service{}
		f.str(c["name"], "/service/name", &app.Service.Name)
		f.strList(c["tags"], "/service/tags", &app.Service.Tags)
		f.str(c["port"], "/service/port", &app.Service.Port)
	}

	if b := l.single(blocks.OfType("lifecycle")); b != nil {
		app.Lifecycle = l.decodeLifecycle(b, f)
	}

	for _, b := range blocks.OfType("secret") {
		name := b.Labels[0]
		ptr := "/secrets/" + escapePointer(name)
		if _, dup := app.Secrets[name]; dup {
			l.errorf(b.DefRange.Ptr(), "Duplicate secret", "The secret %q is already declared in this app.", name)
			continue
		}
		f.attrs.set(ptr, b.DefRange)
		c := l.content(b, secretSchema, f, ptr)
		var sec engine.Secret
		f.str(c["source"], ptr+"/source", &sec.Source)
		if app.Secrets == nil {
			app.Secrets = map[string]engine.Secret{}
		}
		app.Secrets[name] = sec
	}

	app.Source = &engine.Source{
		DeclRange:    block.DefRange,
		Attrs:        f.ranges(),
		Dependencies: dependencyRanges(own, parent),
	}
	app.Sensitive = f.sensitivePaths()
	app.ApplyDefaults()
	l.validate(app, f)
	l.apps = append(l.apps, app)
}

// secretRefType is an env value naming a secret, Marathon's {"secret": "name"}.
var secretRefType = cty.Object(map[string]cty.Type{"secret": cty.String})

// decodeEnv reads env: a map whose values are strings, or { secret = "name" }
// objects naming a secret block (Marathon's env secrets).
func (l *loader) decodeEnv(app *engine.App, attr *hcl2.Attribute, f *fields) {
	const ptr = "/env"
	if attr == nil {
		return
	}
	v, ok := l.evalMarked(attr.Expr, l.ctx, "The value of this expression")
	if !ok {
		f.failed[ptr] = true
		return
	}
	if v.IsNull() {
		return
	}
	// A sensitive part is env.NAME (a secret reference's name included).
	v = f.unmarkField(v, ptr, 1)
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		f.fail(attr, ptr, fmt.Errorf("a map of strings is required"))
		return
	}
	env, secrets := map[string]string{}, map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		name := k.AsString()
		if e.IsNull() {
			f.fail(attr, ptr, fmt.Errorf("element %q: a string is required, not null", name))
			return
		}
		if et := e.Type(); et.IsObjectType() || et.IsMapType() {
			ref, err := convert.Convert(e, secretRefType)
			if err != nil || e.LengthInt() != 1 || ref.GetAttr("secret").IsNull() {
				f.fail(attr, ptr, fmt.Errorf("element %q: a string or { secret = \"name\" } is required", name))
				return
			}
			secrets[name] = ref.GetAttr("secret").AsString()
			continue
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil {
			f.fail(attr, ptr, fmt.Errorf("element %q: %w", name, err))
			return
		}
		env[name] = s.AsString()
	}
	f.attrs.set(ptr, attr.Range)
	f.keyRanges(attr, ptr)
	app.Env, app.EnvSecrets = env, secrets
}

// content decodes a nested block's body against schema and returns its
// attributes. When the body has errors (an unknown or missing argument), ptr is
// marked failed so that validation does not report the consequences.
func (l *loader) content(b *hcl2.Block, schema *hcl2.BodySchema, f *fields, ptr string) hcl2.Attributes {
	c, diags := bodyContent(b.Body, schema)
	l.add(diags)
	if diags.HasErrors() {
		f.failed[ptr] = true
	}
	return c.Attributes
}

// single returns the first of blocks that may appear once, reporting the others.
func (l *loader) single(blocks hcl2.Blocks) *hcl2.Block {
	if len(blocks) == 0 {
		return nil
	}
	for _, b := range blocks[1:] {
		l.errorf(b.DefRange.Ptr(), "Duplicate "+b.Type+" block",
			"Only one %s block is allowed here; the first is at %s.", b.Type, pos(blocks[0].DefRange))
	}
	return blocks[0]
}

// decodeFetch reads fetch blocks or the uris attribute (Marathon's deprecated
// form: each URI fetched, extracted when it names an archive).
func (l *loader) decodeFetch(app *engine.App, uris *hcl2.Attribute, blocks hcl2.Blocks, f *fields) {
	if uris != nil && len(blocks) > 0 {
		l.errorf(uris.Range.Ptr(), "Conflicting artifact definitions",
			"An app lists its artifacts either in fetch blocks or in uris, not both; a fetch block is at %s.",
			pos(blocks[0].DefRange))
		f.failed["/fetch"] = true
		return
	}
	if uris != nil {
		var list []string
		if f.strList(uris, "/fetch", &list) {
			for _, u := range list {
				app.Fetch = append(app.Fetch, engine.Artifact{URI: u, Extract: engine.IsArchive(u)})
			}
		}
		return
	}
	for i, b := range blocks {
		ptr := "/fetch/" + strconv.Itoa(i)
		f.attrs.set(ptr, b.DefRange)
		c := l.content(b, fetchSchema, f, ptr)
		art := engine.Artifact{Extract: true} // Marathon's default
		f.str(c["uri"], ptr+"/uri", &art.URI)
		f.bool(c["extract"], ptr+"/extract", &art.Extract)
		f.bool(c["executable"], ptr+"/executable", &art.Executable)
		f.bool(c["cache"], ptr+"/cache", &art.Cache)
		f.str(c["dest_path"], ptr+"/destPath", &art.DestPath)
		app.Fetch = append(app.Fetch, art)
	}
}

// decodePorts reads port blocks or the ports attribute. `ports = []` is "no
// ports" (a non-nil empty list); neither leaves PortDefinitions nil (absent) for
// ApplyDefaults.
func (l *loader) decodePorts(app *engine.App, ports *hcl2.Attribute, blocks hcl2.Blocks, f *fields) {
	if ports != nil && len(blocks) > 0 {
		l.errorf(ports.Range.Ptr(), "Conflicting port definitions",
			"An app declares its ports either in port blocks or with ports, not both; a port block is at %s.",
			pos(blocks[0].DefRange))
		f.failed["/portDefinitions"] = true
		return
	}
	if ports != nil {
		var nums []int
		if f.intList(ports, "/portDefinitions", &nums) {
			app.PortDefinitions = make([]engine.PortDefinition, 0, len(nums))
			for _, n := range nums {
				app.PortDefinitions = append(app.PortDefinitions, engine.PortDefinition{Port: n, Protocol: engine.DefaultPortProtocol})
			}
		}
		return
	}
	for i, b := range blocks {
		ptr := "/portDefinitions/" + strconv.Itoa(i)
		f.attrs.set(ptr, b.DefRange)
		f.attrs.set(ptr+"/name", b.LabelRanges[0])
		c := l.content(b, portSchema, f, ptr)
		pd := engine.PortDefinition{Name: b.Labels[0]}
		f.int(c["number"], ptr+"/port", &pd.Port)
		f.str(c["protocol"], ptr+"/protocol", &pd.Protocol)
		f.strMap(c["labels"], ptr+"/labels", &pd.Labels)
		app.PortDefinitions = append(app.PortDefinitions, pd)
	}
}

// decodeConstraints combines constraint blocks and the constraints attribute in
// source order.
func (l *loader) decodeConstraints(app *engine.App, attr *hcl2.Attribute, blocks hcl2.Blocks, f *fields) {
	type item struct {
		at    int // byte offset, for source order
		con   engine.Constraint
		rng   hcl2.Range
		parts []hcl2.Range // ranges of field, operator, value (blocks only)
	}
	var items []item
	for _, b := range blocks {
		c := l.content(b, constraintSchema, f, "/constraints")
		it := item{at: b.DefRange.Start.Byte, rng: b.DefRange}
		// Pointers are settled once the order is known; decode with placeholders.
		sub := newFields(l, 3)
		sub.str(c["attribute"], "/0", &it.con.Field)
		sub.str(c["operator"], "/1", &it.con.Operator)
		sub.str(c["value"], "/2", &it.con.Value)
		for _, k := range []string{"/0", "/1", "/2"} {
			r, ok := sub.attrs.get(k)
			if !ok {
				r = b.DefRange
			}
			it.parts = append(it.parts, r)
		}
		if len(sub.failed) > 0 {
			f.failed["/constraints"] = true
		}
		if len(sub.sensitive) > 0 {
			f.markSensitive("/constraints")
		}
		items = append(items, it)
	}
	if attr != nil {
		f.attrs.set("/constraints", attr.Range)
		var elemRanges []hcl2.Range
		if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
			for _, e := range tup.Exprs {
				elemRanges = append(elemRanges, e.Range())
			}
		}
		v, ok := l.evalMarked(attr.Expr, l.ctx, "The value of this expression")
		// Blocks and this list merge in source order: a sensitive part makes the
		// whole list sensitive.
		v = f.unmarkField(v, "/constraints", 0)
		ty := v.Type()
		switch {
		case !ok:
			f.failed["/constraints"] = true
		case v.IsNull():
		case !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType():
			f.fail(attr, "/constraints", fmt.Errorf("a list of constraints is required, e.g. [[\"hostname\", \"UNIQUE\"]]"))
		default:
			i := 0
			for it := v.ElementIterator(); it.Next(); i++ {
				_, e := it.Element()
				rng := attr.Expr.Range()
				if i < len(elemRanges) {
					rng = elemRanges[i]
				}
				var parts []string
				if pv, err := convert.Convert(e, cty.List(cty.String)); err == nil && !pv.IsNull() {
					for pit := pv.ElementIterator(); pit.Next(); {
						_, p := pit.Element()
						if p.IsNull() {
							parts = nil
							break
						}
						parts = append(parts, p.AsString())
					}
				}
				if len(parts) < 2 || len(parts) > 3 {
					l.errorf(&rng, "Invalid constraint",
						`A constraint is ["field", "OPERATOR"] or ["field", "OPERATOR", "value"] (strings); element %d is not.`, i)
					f.failed["/constraints"] = true
					continue
				}
				con := engine.Constraint{Field: parts[0], Operator: parts[1]}
				if len(parts) == 3 {
					con.Value = parts[2]
				}
				items = append(items, item{at: attr.Range.Start.Byte, con: con, rng: rng})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	for i, it := range items {
		ptr := "/constraints/" + strconv.Itoa(i)
		f.attrs.set(ptr, it.rng)
		for j, r := range it.parts {
			f.attrs.set(ptr+"/"+strconv.Itoa(j), r)
		}
		app.Constraints = append(app.Constraints, it.con)
	}
}

// decodeHealthCheck reads one health_check block, starting from Marathon's
// defaults.
func (l *loader) decodeHealthCheck(b *hcl2.Block, ptr string, f *fields) engine.HealthCheck {
	f.attrs.set(ptr, b.DefRange)
	c := l.content(b, healthCheckSchema, f, ptr)
	hc := engine.DefaultHealthCheck()
	f.str(c["protocol"], ptr+"/protocol", &hc.Protocol)
	f.intPtr(c["port_index"], ptr+"/portIndex", &hc.PortIndex)
	f.str(c["port_name"], ptr+"/portName", &hc.PortName)
	f.int(c["port"], ptr+"/port", &hc.Port)
	f.str(c["path"], ptr+"/path", &hc.Path)
	var cmd string
	if f.str(c["command"], ptr+"/command", &cmd) {
		hc.Command = &engine.CheckCommand{Value: cmd}
	}
	f.int(c["grace_period_seconds"], ptr+"/gracePeriodSeconds", &hc.GracePeriodSeconds)
	f.int(c["interval_seconds"], ptr+"/intervalSeconds", &hc.IntervalSeconds)
	f.int(c["timeout_seconds"], ptr+"/timeoutSeconds", &hc.TimeoutSeconds)
	f.int(c["max_consecutive_failures"], ptr+"/maxConsecutiveFailures", &hc.MaxConsecutiveFailures)
	f.bool(c["ignore_http1xx"], ptr+"/ignoreHttp1xx", &hc.IgnoreHTTP1xx)
	f.int(c["delay_seconds"], ptr+"/delaySeconds", &hc.DelaySeconds)
	return hc
}

// decodeReadinessCheck reads one readiness_check block, starting from Marathon's
// defaults.
func (l *loader) decodeReadinessCheck(b *hcl2.Block, ptr string, f *fields) engine.ReadinessCheck {
	f.attrs.set(ptr, b.DefRange)
	c := l.content(b, readinessCheckSchema, f, ptr)
	rc := engine.DefaultReadinessCheck()
	f.str(c["name"], ptr+"/name", &rc.Name)
	f.str(c["protocol"], ptr+"/protocol", &rc.Protocol)
	f.str(c["path"], ptr+"/path", &rc.Path)
	f.str(c["port_name"], ptr+"/portName", &rc.PortName)
	f.int(c["interval_seconds"], ptr+"/intervalSeconds", &rc.IntervalSeconds)
	f.int(c["timeout_seconds"], ptr+"/timeoutSeconds", &rc.TimeoutSeconds)
	f.intList(c["http_status_codes_for_ready"], ptr+"/httpStatusCodesForReady", &rc.HTTPStatusCodesForReady)
	f.bool(c["preserve_last_response"], ptr+"/preserveLastResponse", &rc.PreserveLastResponse)
	return rc
}

// decodeUnreachable reads unreachable_strategy { inactive_after_seconds,
// expunge_after_seconds } or unreachable_strategy { disabled = true }.
func (l *loader) decodeUnreachable(b *hcl2.Block, f *fields) *engine.UnreachableStrategy {
	c := l.content(b, unreachableSchema, f, "/unreachableStrategy")
	us := &engine.UnreachableStrategy{}
	f.bool(c["disabled"], "/unreachableStrategy", &us.Disabled)
	f.attrs.set("/unreachableStrategy", b.DefRange) // the block, not the flag
	if us.Disabled {
		for _, name := range []string{"inactive_after_seconds", "expunge_after_seconds"} {
			if attr := c[name]; attr != nil {
				l.errorf(attr.Range.Ptr(), "Conflicting unreachable_strategy settings",
					"disabled = true turns the unreachable strategy off; %s cannot be set with it.", name)
				f.failed["/unreachableStrategy"] = true
			}
		}
		return us
	}
	f.int(c["inactive_after_seconds"], "/unreachableStrategy/inactiveAfterSeconds", &us.InactiveAfterSeconds)
	f.int(c["expunge_after_seconds"], "/unreachableStrategy/expungeAfterSeconds", &us.ExpungeAfterSeconds)
	return us
}

// decodeContainer reads a container block with its docker and volume blocks.
func (l *loader) decodeContainer(b *hcl2.Block, f *fields) *engine.Container {
	f.attrs.set("/container", b.DefRange)
	content, diags := bodyContent(b.Body, containerSchema)
	l.add(diags)
	if diags.HasErrors() {
		f.failed["/container"] = true
	}
	ctr := &engine.Container{}
	f.str(content.Attributes["type"], "/container/type", &ctr.Type)
	if db := l.single(content.Blocks.OfType("docker")); db != nil {
		ctr.Docker = l.decodeDocker(db, f)
	}
	for i, pb := range content.Blocks.OfType("port_mapping") {
		ctr.PortMappings = append(ctr.PortMappings, l.decodePortMapping(pb, "/container/portMappings/"+strconv.Itoa(i), f))
	}
	for i, vb := range content.Blocks.OfType("volume") {
		ptr := "/container/volumes/" + strconv.Itoa(i)
		f.attrs.set(ptr, vb.DefRange)
		c := l.content(vb, volumeSchema, f, ptr)
		var v engine.Volume
		f.str(c["container_path"], ptr+"/containerPath", &v.ContainerPath)
		f.str(c["host_path"], ptr+"/hostPath", &v.HostPath)
		f.str(c["mode"], ptr+"/mode", &v.Mode)
		ctr.Volumes = append(ctr.Volumes, v)
	}
	return ctr
}

// decodeDocker reads a docker block.
func (l *loader) decodeDocker(b *hcl2.Block, f *fields) *engine.Docker {
	const ptr = "/container/docker"
	f.attrs.set(ptr, b.DefRange)
	content, diags := bodyContent(b.Body, dockerSchema)
	l.add(diags)
	if diags.HasErrors() {
		f.failed[ptr] = true
	}
	a := content.Attributes
	d := &engine.Docker{}
	f.str(a["image"], ptr+"/image", &d.Image)
	f.str(a["network"], ptr+"/network", &d.Network)
	f.bool(a["privileged"], ptr+"/privileged", &d.Privileged)
	f.bool(a["force_pull_image"], ptr+"/forcePullImage", &d.ForcePullImage)
	if attr := a["parameters"]; attr != nil {
		d.Parameters = l.decodeParameters(attr, ptr+"/parameters", f)
	}
	for i, pb := range content.Blocks.OfType("port_mapping") {
		d.PortMappings = append(d.PortMappings, l.decodePortMapping(pb, ptr+"/portMappings/"+strconv.Itoa(i), f))
	}
	return d
}

// decodePortMapping reads a port_mapping block (of a container or, the legacy
// place, of its docker block).
func (l *loader) decodePortMapping(pb *hcl2.Block, pptr string, f *fields) engine.PortMapping {
	f.attrs.set(pptr, pb.DefRange)
	c := l.content(pb, portMappingSchema, f, pptr)
	var pm engine.PortMapping
	f.int(c["container_port"], pptr+"/containerPort", &pm.ContainerPort)
	f.int(c["host_port"], pptr+"/hostPort", &pm.HostPort)
	f.int(c["service_port"], pptr+"/servicePort", &pm.ServicePort)
	f.str(c["protocol"], pptr+"/protocol", &pm.Protocol)
	f.str(c["name"], pptr+"/name", &pm.Name)
	f.strMap(c["labels"], pptr+"/labels", &pm.Labels)
	return pm
}

// paramType is one docker parameter in the list form.
var paramType = cty.Object(map[string]cty.Type{"key": cty.String, "value": cty.String})

// decodeParameters reads docker parameters: a map (entries in key order) or a list
// of {key, value} objects (in order; keys may repeat).
func (l *loader) decodeParameters(attr *hcl2.Attribute, ptr string, f *fields) []engine.Parameter {
	v, ok := l.evalMarked(attr.Expr, l.ctx, "The value of this expression")
	v = f.unmarkField(v, ptr, 0) // the map and list forms differ from the JSON's shape

	if !ok {
		f.failed[ptr] = true
		return nil
	}
	if v.IsNull() {
		return nil
	}
	f.attrs.set(ptr, attr.Range)
	ty := v.Type()
	var out []engine.Parameter
	if ty.IsObjectType() || ty.IsMapType() {
		m, err := convert.Convert(v, cty.Map(cty.String))
		if err != nil {
			f.fail(attr, ptr, err)
			return nil
		}
		vals := m.AsValueMap()
		for _, k := range sortedKeys(vals) {
			if vals[k].IsNull() {
				f.fail(attr, ptr, fmt.Errorf("element %q: a string is required, not null", k))
				return nil
			}
			out = append(out, engine.Parameter{Key: k, Value: vals[k].AsString()})
		}
		return out
	}
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		f.fail(attr, ptr, fmt.Errorf("a map of strings or a list of {key, value} objects is required"))
		return nil
	}
	list, err := convert.Convert(v, cty.List(paramType))
	if err != nil {
		f.fail(attr, ptr, err)
		return nil
	}
	for it := list.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || e.GetAttr("key").IsNull() || e.GetAttr("value").IsNull() {
			f.fail(attr, ptr, fmt.Errorf("element %d: key and value are required", len(out)))
			return nil
		}
		out = append(out, engine.Parameter{Key: e.GetAttr("key").AsString(), Value: e.GetAttr("value").AsString()})
	}
	f.elementRanges(attr, ptr)
	return out
}

// decodeLifecycle reads lifecycle { ignore_changes = [...] }: the fields left to
// people and autoscalers, named as in HCL ("instances", "health_check",
// "upgrade_strategy") or as in Marathon's JSON ("healthChecks"), quoted or bare
// (Terraform's spelling). Each unknown name is an error at its element.
func (l *loader) decodeLifecycle(b *hcl2.Block, f *fields) *engine.Lifecycle {
	const ptr = "/lifecycle/ignoreChanges"
	c := l.content(b, lifecycleSchema, f, "/lifecycle")
	f.attrs.set("/lifecycle", b.DefRange)
	attr := c["ignore_changes"]
	if attr == nil {
		return nil
	}
	f.attrs.set(ptr, attr.Range)
	exprs, diags := hcl2.ExprList(attr.Expr)
	if diags.HasErrors() {
		l.errorf(attr.Expr.Range().Ptr(), "Invalid ignore_changes",
			`ignore_changes is a list of field names, e.g. ["instances"] or [instances].`)
		f.failed[ptr] = true
		return nil
	}
	lc := &engine.Lifecycle{}
	for i, e := range exprs {
		name := ""
		if tr, d := hcl2.AbsTraversalForExpr(e); !d.HasErrors() && len(tr) == 1 {
			name = tr.RootName()
		} else {
			v, ok := l.eval(e, l.ctx)
			if !ok {
				f.failed[ptr] = true
				continue
			}
			sv, err := convert.Convert(v, cty.String)
			if err != nil || sv.IsNull() {
				l.errorf(e.Range().Ptr(), "Invalid ignore_changes",
					"Element %d of ignore_changes must name a field, e.g. \"instances\".", i)
				f.failed[ptr] = true
				continue
			}
			name = sv.AsString()
		}
		names, ok := engine.HCLIgnoreNames[name]
		if !ok && slices.Contains(engine.IgnorableFields(), name) {
			names, ok = []string{name}, true
		}
		if !ok {
			hclNames := sortedKeys(engine.HCLIgnoreNames)
			l.errorf(e.Range().Ptr(), "Invalid ignore_changes",
				"%q is not a field ignore_changes can name (one of %s).%s", name, strings.Join(hclNames, ", "), didYouMean(suggest(name, hclNames)))
			f.failed[ptr] = true
			continue
		}
		for _, n := range names {
			f.attrs.set(ptr+"/"+strconv.Itoa(len(lc.IgnoreChanges)), e.Range())
			lc.IgnoreChanges = append(lc.IgnoreChanges, n)
		}
	}
	return lc
}
