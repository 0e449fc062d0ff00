// Package importer turns deployed apps and groups (Marathon's JSON, from a
// server or a file) into a Stride configuration: HCL files, one per top-level
// group, that load back into the same apps — so that `stride plan` of them
// against the server they came from says "No changes.".
//
// The files are written the way a person would: only the fields that differ
// from Marathon's defaults, constraints, checks, fetch artifacts and ports as
// blocks, dependencies on the group that declares them, and then formatted by
// `stride fmt`'s formatter.
package importer

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/hcl"
)

// Tree is what is imported.
type Tree struct {
	// Groups are the group declarations (dependencies, labels); groups that
	// hold apps need none.
	Groups []*engine.Group
	// Apps are the apps, defaults applied, each with the dependencies it
	// declares itself (not its groups').
	Apps []*engine.App
}

// emptyBlock is an empty block's body as hclwrite writes it: `{}` reads better.
var emptyBlock = regexp.MustCompile(`\{\n[ \t]*\}`)

// RootFile is the file of the apps directly under the root group and of the
// stride block.
const RootFile = "stride.hcl"

// Unsupported lists, for an app, the fields it sets that HCL cannot write
// (docs/language.md §8.16): the files leave them at their defaults, so a plan
// of them would change the app. Only docker.pullConfig is such a field, and
// Stride's App has no place for it either: nothing is left today.
func Unsupported(a *engine.App) []string { return nil }

// Render writes the tree under scope ("/": all of it) as files named by
// top-level group ("shop.hcl"; apps at the root in RootFile, with the stride
// block when the scope is not the root). Apps and groups outside the scope are
// left out. warnings name what the files cannot hold.
func Render(t Tree, scope string) (files map[string][]byte, warnings []string, err error) {
	if scope == "" {
		scope = "/"
	}
	scope = engine.CanonicalID(scope)
	groups := map[string]*engine.Group{}
	for _, g := range t.Groups {
		if g.ID != "/" && (engine.InScope(g.ID, scope) || engine.InScope(scope, g.ID)) {
			groups[g.ID] = g
		}
	}
	apps := map[string][]*engine.App{} // by parent group
	for _, a := range t.Apps {
		if !engine.InScope(a.ID, scope) {
			continue
		}
		if u := Unsupported(a); len(u) > 0 {
			warnings = append(warnings, fmt.Sprintf("%s sets %s, which HCL cannot write: the files leave %s at the default", a.ID, strings.Join(u, ", "), plural(len(u), "it", "them")))
		}
		p := engine.ParentID(a.ID)
		apps[p] = append(apps[p], a)
		for q := p; q != "/"; q = engine.ParentID(q) {
			if groups[q] == nil {
				groups[q] = &engine.Group{ID: q}
			}
		}
	}
	// A dependency inside the scope on nothing the files declare is an error
	// of the files (the API accepts them, as Marathon does): say so.
	known := func(dep string) bool {
		if !engine.InScope(dep, scope) || groups[dep] != nil || dep == "/" {
			return true
		}
		for _, as := range apps {
			for _, a := range as {
				if engine.InScope(a.ID, dep) {
					return true
				}
			}
		}
		return false
	}
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		for _, d := range groups[id].Dependencies {
			if !known(d) {
				warnings = append(warnings, fmt.Sprintf("the group %s depends on %s, which does not exist: stride validate will reject it", id, d))
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(apps)) {
		for _, a := range apps[p] {
			for _, d := range a.Dependencies {
				if !known(d) {
					warnings = append(warnings, fmt.Sprintf("%s depends on %s, which does not exist: stride validate will reject it", a.ID, d))
				}
			}
		}
	}
	children := map[string][]string{}
	for id := range groups {
		p := engine.ParentID(id)
		children[p] = append(children[p], id)
	}
	for _, c := range children {
		sort.Strings(c)
	}
	for _, as := range apps {
		sort.Slice(as, func(i, j int) bool { return as[i].ID < as[j].ID })
	}

	files = map[string][]byte{}
	add := func(name string, f *hclwrite.File) error {
		out, diags := hcl.Format(emptyBlock.ReplaceAll(f.Bytes(), []byte("{}")), name)
		if diags.HasErrors() {
			return fmt.Errorf("render %s: %s", name, diags.Error())
		}
		files[name] = out
		return nil
	}
	rootApps := apps["/"]
	if scope != "/" || len(rootApps) > 0 {
		f := hclwrite.NewEmptyFile()
		if scope != "/" {
			b := f.Body().AppendNewBlock("stride", nil).Body()
			b.SetAttributeValue("scope", cty.StringVal(scope))
		}
		for _, a := range rootApps {
			if len(f.Body().Blocks()) > 0 {
				f.Body().AppendNewline()
			}
			appBlock(f.Body(), a)
		}
		if err := add(RootFile, f); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range children["/"] {
		name := id[1:] + ".hcl"
		if name == RootFile {
			name = id[1:] + "-group.hcl"
		}
		f := hclwrite.NewEmptyFile()
		groupBlock(f.Body(), groups[id], groups, children, apps)
		if err := add(name, f); err != nil {
			return nil, nil, err
		}
	}
	return files, warnings, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// groupBlock appends group "name" { ... } with what it holds.
func groupBlock(body *hclwrite.Body, g *engine.Group, groups map[string]*engine.Group, children map[string][]string, apps map[string][]*engine.App) {
	name := g.ID[strings.LastIndexByte(g.ID, '/')+1:]
	b := body.AppendNewBlock("group", []string{name}).Body()
	if len(g.Dependencies) > 0 {
		b.SetAttributeValue("depends_on", strList(g.Dependencies))
	}
	if len(g.Labels) > 0 {
		b.SetAttributeValue("labels", strMap(g.Labels))
	}
	first := len(g.Dependencies) == 0 && len(g.Labels) == 0
	for _, cid := range children[g.ID] {
		if !first {
			b.AppendNewline()
		}
		first = false
		groupBlock(b, groups[cid], groups, children, apps)
	}
	for _, a := range apps[g.ID] {
		if !first {
			b.AppendNewline()
		}
		first = false
		appBlock(b, a)
	}
}

func strList(v []string) cty.Value {
	if len(v) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(v))
	for i, s := range v {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func strMap(m map[string]string) cty.Value {
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

func num(f float64) cty.Value { return cty.NumberFloatVal(f) }
func integer(n int) cty.Value { return cty.NumberIntVal(int64(n)) }

// appBlock appends app "name" { ... }: the fields that differ from Marathon's
// defaults (cmd, instances, cpus and mem always), blocks for the structured
// ones.
func appBlock(body *hclwrite.Body, a *engine.App) {
	name := a.ID[strings.LastIndexByte(a.ID, '/')+1:]
	b := body.AppendNewBlock("app", []string{name}).Body()
	def := engine.NewApp(a.ID)
	if a.Cmd != "" {
		b.SetAttributeValue("cmd", cty.StringVal(a.Cmd))
	}
	if len(a.Args) > 0 {
		b.SetAttributeValue("args", strList(a.Args))
	}
	if a.User != "" {
		b.SetAttributeValue("user", cty.StringVal(a.User))
	}
	b.SetAttributeValue("instances", integer(a.Instances))
	b.SetAttributeValue("cpus", num(a.Cpus))
	b.SetAttributeValue("mem", num(a.Mem))
	if a.Disk != def.Disk {
		b.SetAttributeValue("disk", num(a.Disk))
	}
	if a.Gpus != def.Gpus {
		b.SetAttributeValue("gpus", integer(a.Gpus))
	}
	if len(a.Env) > 0 || len(a.EnvSecrets) > 0 {
		env := map[string]cty.Value{}
		for k, v := range a.Env {
			env[k] = cty.StringVal(v)
		}
		for k, v := range a.EnvSecrets {
			env[k] = cty.ObjectVal(map[string]cty.Value{"secret": cty.StringVal(v)})
		}
		if len(a.EnvSecrets) > 0 {
			b.SetAttributeValue("env", cty.ObjectVal(env))
		} else {
			b.SetAttributeValue("env", cty.MapVal(env))
		}
	}
	if len(a.Labels) > 0 {
		b.SetAttributeValue("labels", strMap(a.Labels))
	}
	if len(a.Dependencies) > 0 {
		b.SetAttributeValue("depends_on", strList(a.Dependencies))
	}
	if a.RequirePorts {
		b.SetAttributeValue("require_ports", cty.True)
	}
	if len(a.AcceptedResourceRoles) > 0 {
		b.SetAttributeValue("accepted_resource_roles", strList(a.AcceptedResourceRoles))
	}
	if a.Role != "" {
		b.SetAttributeValue("role", cty.StringVal(a.Role))
	}
	if a.KillSelection != "" && a.KillSelection != def.KillSelection {
		b.SetAttributeValue("kill_selection", cty.StringVal(a.KillSelection))
	}
	if a.TaskKillGracePeriodSeconds != 0 {
		b.SetAttributeValue("task_kill_grace_period_seconds", integer(a.TaskKillGracePeriodSeconds))
	}
	if a.Executor != "" {
		b.SetAttributeValue("executor", cty.StringVal(a.Executor))
	}
	if a.Tty {
		b.SetAttributeValue("tty", cty.True)
	}
	ports(b, a)

	for _, name := range slices.Sorted(maps.Keys(a.Secrets)) {
		b.AppendNewline()
		s := b.AppendNewBlock("secret", []string{name}).Body()
		s.SetAttributeValue("source", cty.StringVal(a.Secrets[name].Source))
	}
	for _, f := range a.Fetch {
		b.AppendNewline()
		fb := b.AppendNewBlock("fetch", nil).Body()
		fb.SetAttributeValue("uri", cty.StringVal(f.URI))
		if !f.Extract {
			fb.SetAttributeValue("extract", cty.False)
		}
		if f.Executable {
			fb.SetAttributeValue("executable", cty.True)
		}
		if f.Cache {
			fb.SetAttributeValue("cache", cty.True)
		}
		if f.DestPath != "" {
			fb.SetAttributeValue("dest_path", cty.StringVal(f.DestPath))
		}
	}
	for _, c := range a.Constraints {
		b.AppendNewline()
		cb := b.AppendNewBlock("constraint", nil).Body()
		cb.SetAttributeValue("attribute", cty.StringVal(c.Field))
		cb.SetAttributeValue("operator", cty.StringVal(c.Operator))
		if c.Value != "" {
			cb.SetAttributeValue("value", cty.StringVal(c.Value))
		}
	}
	hasPorts := len(a.PortDefinitions) > 0 || (a.Container != nil && (len(a.Container.PortMappings) > 0 || a.Container.Docker != nil && len(a.Container.Docker.PortMappings) > 0))
	for i := range a.HealthChecks {
		b.AppendNewline()
		healthCheck(b.AppendNewBlock("health_check", nil).Body(), &a.HealthChecks[i], hasPorts)
	}
	for i := range a.ReadinessChecks {
		b.AppendNewline()
		readinessCheck(b.AppendNewBlock("readiness_check", nil).Body(), &a.ReadinessChecks[i])
	}
	if a.UpgradeStrategy != def.UpgradeStrategy {
		b.AppendNewline()
		u := b.AppendNewBlock("upgrade_strategy", nil).Body()
		u.SetAttributeValue("minimum_health_capacity", num(a.UpgradeStrategy.MinimumHealthCapacity))
		u.SetAttributeValue("maximum_over_capacity", num(a.UpgradeStrategy.MaximumOverCapacity))
	}
	if a.BackoffSeconds != def.BackoffSeconds || a.BackoffFactor != def.BackoffFactor || a.MaxLaunchDelaySeconds != def.MaxLaunchDelaySeconds || a.GiveUpAfter > 0 {
		b.AppendNewline()
		bo := b.AppendNewBlock("backoff", nil).Body()
		if a.BackoffSeconds != def.BackoffSeconds {
			bo.SetAttributeValue("backoff_seconds", num(a.BackoffSeconds))
		}
		if a.BackoffFactor != def.BackoffFactor {
			bo.SetAttributeValue("backoff_factor", num(a.BackoffFactor))
		}
		if a.MaxLaunchDelaySeconds != def.MaxLaunchDelaySeconds {
			bo.SetAttributeValue("max_launch_delay_seconds", num(a.MaxLaunchDelaySeconds))
		}
		if a.GiveUpAfter > 0 {
			bo.SetAttributeValue("give_up_after", integer(a.GiveUpAfter))
		}
	}
	if a.ProgressDeadlineSeconds > 0 || a.AutoRevert {
		b.AppendNewline()
		db := b.AppendNewBlock("deployment", nil).Body()
		if a.ProgressDeadlineSeconds > 0 {
			db.SetAttributeValue("progress_deadline", cty.StringVal((time.Duration(a.ProgressDeadlineSeconds) * time.Second).String()))
		}
		if a.AutoRevert {
			db.SetAttributeValue("auto_revert", cty.True)
		}
	}
	if u := a.UnreachableStrategy; u != nil && *u != (engine.UnreachableStrategy{}) {
		b.AppendNewline()
		ub := b.AppendNewBlock("unreachable_strategy", nil).Body()
		if u.Disabled {
			ub.SetAttributeValue("disabled", cty.True)
		} else {
			ub.SetAttributeValue("inactive_after_seconds", integer(u.InactiveAfterSeconds))
			ub.SetAttributeValue("expunge_after_seconds", integer(u.ExpungeAfterSeconds))
		}
	}
	for _, n := range a.Networks {
		b.AppendNewline()
		nb := b.AppendNewBlock("network", nil).Body()
		nb.SetAttributeValue("mode", cty.StringVal(n.Mode))
		if n.Name != "" {
			nb.SetAttributeValue("name", cty.StringVal(n.Name))
		}
		if len(n.Labels) > 0 {
			nb.SetAttributeValue("labels", strMap(n.Labels))
		}
	}
	if rl := a.ResourceLimits; rl != nil {
		b.AppendNewline()
		rb := b.AppendNewBlock("resource_limits", nil).Body()
		for _, l := range []struct {
			name string
			v    any
		}{{"cpus", rl.Cpus}, {"mem", rl.Mem}} {
			switch v := l.v.(type) {
			case float64:
				rb.SetAttributeValue(l.name, num(v))
			case string:
				rb.SetAttributeValue(l.name, cty.StringVal(v))
			}
		}
	}
	if c := a.Container; c != nil {
		b.AppendNewline()
		container(b.AppendNewBlock("container", nil).Body(), c)
	}
	if s := a.Service; s != nil {
		b.AppendNewline()
		sb := b.AppendNewBlock("service", nil).Body()
		if s.Name != engine.DefaultServiceName(a.ID) {
			sb.SetAttributeValue("name", cty.StringVal(s.Name))
		}
		if len(s.Tags) > 0 {
			sb.SetAttributeValue("tags", strList(s.Tags))
		}
		if s.Port != "" {
			sb.SetAttributeValue("port", cty.StringVal(s.Port))
		}
	}
}

// ports writes the port definitions: nothing for Marathon's default port,
// `ports = [...]` for bare numbers, port blocks otherwise.
func ports(b *hclwrite.Body, a *engine.App) {
	pd := a.PortDefinitions
	switch {
	case pd == nil:
		return
	case len(pd) == 1 && pd[0].Port == 0 && pd[0].Protocol == engine.DefaultPortProtocol && pd[0].Name == engine.DefaultPortName && len(pd[0].Labels) == 0 && defaultPorted(a):
		return // what an app without ports gets
	case len(pd) == 0:
		b.SetAttributeValue("ports", cty.ListValEmpty(cty.Number))
		return
	}
	bare := true
	for _, p := range pd {
		bare = bare && p.Name == "" && p.Protocol == engine.DefaultPortProtocol && len(p.Labels) == 0
	}
	if bare {
		nums := make([]cty.Value, len(pd))
		for i, p := range pd {
			nums[i] = integer(p.Port)
		}
		b.SetAttributeValue("ports", cty.ListVal(nums))
		return
	}
	for _, p := range pd {
		b.AppendNewline()
		pb := b.AppendNewBlock("port", []string{p.Name}).Body()
		if p.Port != 0 {
			pb.SetAttributeValue("number", integer(p.Port))
		}
		if p.Protocol != engine.DefaultPortProtocol {
			pb.SetAttributeValue("protocol", cty.StringVal(p.Protocol))
		}
		if len(p.Labels) > 0 {
			pb.SetAttributeValue("labels", strMap(p.Labels))
		}
	}
}

// defaultPorted reports whether the app would get Marathon's default port if
// it named none (host networking, no port mappings).
func defaultPorted(a *engine.App) bool {
	probe := a.Clone()
	probe.PortDefinitions = nil
	probe.ApplyDefaults()
	return len(probe.PortDefinitions) == 1
}

func healthCheck(b *hclwrite.Body, h *engine.HealthCheck, hasPorts bool) {
	d := engine.DefaultHealthCheck()
	b.SetAttributeValue("protocol", cty.StringVal(h.Protocol))
	if h.Path != "" && !(h.Path == engine.DefaultHealthPath && (h.Protocol == engine.ProtoHTTP || h.Protocol == engine.ProtoHTTPS || h.Protocol == engine.ProtoMesosHTTP || h.Protocol == engine.ProtoMesosHTTPS)) {
		b.SetAttributeValue("path", cty.StringVal(h.Path))
	}
	// ApplyDefaults gives a network check of an app with ports port index 0 when
	// it names no port: writing it would say nothing.
	implied := h.Protocol != engine.ProtoCommand && h.PortName == "" && h.Port == 0 && hasPorts
	if h.PortIndex != nil && !(implied && *h.PortIndex == 0) {
		b.SetAttributeValue("port_index", integer(*h.PortIndex))
	}
	if h.PortName != "" {
		b.SetAttributeValue("port_name", cty.StringVal(h.PortName))
	}
	if h.Port != 0 {
		b.SetAttributeValue("port", integer(h.Port))
	}
	if h.Command != nil {
		b.SetAttributeValue("command", cty.StringVal(h.Command.Value))
	}
	for _, f := range []struct {
		name     string
		val, def int
	}{
		{"grace_period_seconds", h.GracePeriodSeconds, d.GracePeriodSeconds},
		{"interval_seconds", h.IntervalSeconds, d.IntervalSeconds},
		{"timeout_seconds", h.TimeoutSeconds, d.TimeoutSeconds},
		{"max_consecutive_failures", h.MaxConsecutiveFailures, d.MaxConsecutiveFailures},
		{"delay_seconds", h.DelaySeconds, d.DelaySeconds},
	} {
		if f.val != f.def {
			b.SetAttributeValue(f.name, integer(f.val))
		}
	}
	if h.IgnoreHTTP1xx {
		b.SetAttributeValue("ignore_http1xx", cty.True)
	}
}

func readinessCheck(b *hclwrite.Body, r *engine.ReadinessCheck) {
	d := engine.DefaultReadinessCheck()
	if r.Name != d.Name {
		b.SetAttributeValue("name", cty.StringVal(r.Name))
	}
	if r.Protocol != d.Protocol {
		b.SetAttributeValue("protocol", cty.StringVal(r.Protocol))
	}
	if r.Path != d.Path {
		b.SetAttributeValue("path", cty.StringVal(r.Path))
	}
	if r.PortName != d.PortName {
		b.SetAttributeValue("port_name", cty.StringVal(r.PortName))
	}
	if r.IntervalSeconds != d.IntervalSeconds {
		b.SetAttributeValue("interval_seconds", integer(r.IntervalSeconds))
	}
	if r.TimeoutSeconds != d.TimeoutSeconds {
		b.SetAttributeValue("timeout_seconds", integer(r.TimeoutSeconds))
	}
	if !slices.Equal(r.HTTPStatusCodesForReady, d.HTTPStatusCodesForReady) {
		codes := make([]cty.Value, len(r.HTTPStatusCodesForReady))
		for i, c := range r.HTTPStatusCodesForReady {
			codes[i] = integer(c)
		}
		b.SetAttributeValue("http_status_codes_for_ready", cty.ListVal(codes))
	}
	if r.PreserveLastResponse {
		b.SetAttributeValue("preserve_last_response", cty.True)
	}
}

func container(b *hclwrite.Body, c *engine.Container) {
	b.SetAttributeValue("type", cty.StringVal(c.Type))
	if d := c.Docker; d != nil {
		b.AppendNewline()
		db := b.AppendNewBlock("docker", nil).Body()
		db.SetAttributeValue("image", cty.StringVal(d.Image))
		if d.Network != "" {
			db.SetAttributeValue("network", cty.StringVal(d.Network))
		}
		if d.Privileged {
			db.SetAttributeValue("privileged", cty.True)
		}
		if d.ForcePullImage {
			db.SetAttributeValue("force_pull_image", cty.True)
		}
		if len(d.Parameters) > 0 {
			params := make([]cty.Value, len(d.Parameters))
			for i, p := range d.Parameters {
				params[i] = cty.ObjectVal(map[string]cty.Value{"key": cty.StringVal(p.Key), "value": cty.StringVal(p.Value)})
			}
			db.SetAttributeValue("parameters", cty.TupleVal(params))
		}
		for _, m := range d.PortMappings {
			db.AppendNewline()
			portMapping(db.AppendNewBlock("port_mapping", nil).Body(), m)
		}
	}
	for _, m := range c.PortMappings {
		b.AppendNewline()
		portMapping(b.AppendNewBlock("port_mapping", nil).Body(), m)
	}
	for _, v := range c.Volumes {
		b.AppendNewline()
		vb := b.AppendNewBlock("volume", nil).Body()
		vb.SetAttributeValue("container_path", cty.StringVal(v.ContainerPath))
		if v.HostPath != "" {
			vb.SetAttributeValue("host_path", cty.StringVal(v.HostPath))
		}
		vb.SetAttributeValue("mode", cty.StringVal(v.Mode))
	}
}

func portMapping(mb *hclwrite.Body, m engine.PortMapping) {
	mb.SetAttributeValue("container_port", integer(m.ContainerPort))
	if m.HostPort != 0 {
		mb.SetAttributeValue("host_port", integer(m.HostPort))
	}
	if m.ServicePort != 0 {
		mb.SetAttributeValue("service_port", integer(m.ServicePort))
	}
	if m.Protocol != engine.DefaultPortProtocol {
		mb.SetAttributeValue("protocol", cty.StringVal(m.Protocol))
	}
	if m.Name != "" {
		mb.SetAttributeValue("name", cty.StringVal(m.Name))
	}
	if len(m.Labels) > 0 {
		mb.SetAttributeValue("labels", strMap(m.Labels))
	}
}
