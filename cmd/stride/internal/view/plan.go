package view

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/stride-run/stride/engine"
)

// PlanJSON writes the plan as one JSON object (the format README.md documents:
// format_version, state_serial, scope, changes, steps, summary), followed by a
// newline. Sensitive values are shown as "(sensitive value)" (see sensitive.go).
func PlanJSON(w io.Writer, p *engine.Plan) error {
	if !planSensitive(p) {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("encode plan: %w", err)
		}
		return nil
	}
	doc, err := maskedPlanJSON(p)
	if err != nil {
		return err
	}
	if _, err := w.Write(append(doc, '\n')); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// PlanText writes the plan for people, in Terraform's manner: one block per
// changed app with +, ~, - and -/+ markers, changed fields before -> after, the
// rolling bounds of each restart and scale, the ordered steps, and the summary
// line. An empty plan prints "No changes."
//
// The text goes out through one buffer (a plan of thousands of changes is
// tens of thousands of small writes), and the changes' blocks are rendered on
// every CPU, then written in order.
func PlanText(w io.Writer, p *engine.Plan, s Styles) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	err := planText(bw, p, s)
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write plan: %w", ferr)
	}
	return err
}

func planText(w io.Writer, p *engine.Plan, s Styles) error {
	ew := &errWriter{w: w}
	runtime := map[string][]engine.RuntimeField{}
	for _, rf := range p.RuntimeManaged {
		runtime[rf.ID] = append(runtime[rf.ID], rf)
	}
	if p.Empty() {
		fmt.Fprintf(ew, "%s The deployed apps match the configuration under %s.\n", s.Bold.Sprint("No changes."), scopeOf(p))
		writeRuntime(ew, p, nil, s)
		return ew.err
	}
	fmt.Fprintf(ew, "Stride will perform the following actions under %s:\n", scopeOf(p))
	blocks, errs := renderChanges(p.Changes, runtime, s)
	changed := map[string]bool{}
	for i, c := range p.Changes {
		changed[c.ID] = true
		fmt.Fprintln(ew)
		_, _ = ew.Write(blocks[i])
		if errs[i] != nil {
			return errs[i]
		}
	}
	writeRuntime(ew, p, changed, s)
	fmt.Fprintf(ew, "\n%s\n", s.Bold.Sprint("Steps (each starts when the previous one is deployed and healthy):"))
	for i, st := range p.Steps {
		parts := make([]string, len(st.Actions))
		for j, a := range st.Actions {
			parts[j] = actionStyle(a.Action, s).Sprint(string(a.Action)) + " " + a.ID
		}
		fmt.Fprintf(ew, "  %d. %s\n", i+1, strings.Join(parts, ", "))
	}
	fmt.Fprintf(ew, "\n%s %s\n", s.Bold.Sprint("Plan:"), SummaryLine(p.Summary))
	writeFeasibility(ew, p, s)
	return ew.err
}

// renderChanges renders each change's block (writeChange) on its own, up to
// GOMAXPROCS at a time; a block that failed holds what was rendered before
// its error.
func renderChanges(changes []*engine.Change, runtime map[string][]engine.RuntimeField, s Styles) ([][]byte, []error) {
	blocks := make([][]byte, len(changes))
	errs := make([]error, len(changes))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(goruntime.GOMAXPROCS(0), len(changes)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for i := int(next.Add(1) - 1); i < len(changes); i = int(next.Add(1) - 1) {
				buf.Reset()
				c := changes[i]
				errs[i] = writeChange(&buf, c, runtime[c.ID], s)
				blocks[i] = bytes.Clone(buf.Bytes())
			}
		}()
	}
	wg.Wait()
	return blocks, errs
}

// SummaryLine is "N to create, N to update, N to scale, N to restart, N to destroy."
func SummaryLine(sm engine.Summary) string {
	return fmt.Sprintf("%d to create, %d to update, %d to scale, %d to restart, %d to destroy.",
		sm.Create, sm.Update, sm.Scale, sm.Restart, sm.Destroy)
}

func scopeOf(p *engine.Plan) string {
	if p.Scope == "" {
		return "/"
	}
	return p.Scope
}

func actionStyle(a engine.Action, s Styles) interface{ Sprint(...any) string } {
	switch a {
	case engine.ActionCreate:
		return s.Create
	case engine.ActionDestroy, engine.ActionRestart:
		return s.Destroy
	default:
		return s.Update
	}
}

// writeRuntime lists the fields kept as deployed (lifecycle.ignore_changes) of the
// apps without a block of their own (those not in changed).
func writeRuntime(w io.Writer, p *engine.Plan, changed map[string]bool, s Styles) {
	first := true
	for _, rf := range p.RuntimeManaged {
		if changed[rf.ID] {
			continue
		}
		if first {
			fmt.Fprintf(w, "\n%s\n", s.Bold.Sprint("Left as deployed (lifecycle.ignore_changes):"))
			first = false
		}
		fmt.Fprintf(w, "  %s %s\n", rf.ID, RuntimeLine(rf))
	}
}

// RuntimeLine says that a field is left to runtime: `instances: managed at
// runtime (now 7; the files say 3)`.
func RuntimeLine(rf engine.RuntimeField) string {
	now, files := "now "+formatValue(rf.Deployed), "the files say "+formatValue(rf.Configured)
	if rf.Sensitive {
		now, files = "now "+engine.SensitiveValue, "the files say "+engine.SensitiveValue
	}
	if rf.Deployed == nil {
		now = "now unset"
	}
	if rf.Configured == nil {
		files = "not in the files"
	}
	return fmt.Sprintf("%s: managed at runtime (%s; %s)", rf.Path, now, files)
}

func writeChange(w io.Writer, c *engine.Change, runtime []engine.RuntimeField, s Styles) error {
	var header, marker string
	switch c.Action {
	case engine.ActionCreate:
		header, marker = "will be created", s.Create.Sprint("  +")
	case engine.ActionDestroy:
		header, marker = "will be destroyed", s.Destroy.Sprint("  -")
	case engine.ActionScale:
		header, marker = fmt.Sprintf("will be scaled from %d to %d instances", rollFrom(c), rollTo(c)), s.Update.Sprint("  ~")
	case engine.ActionRestart:
		header = "must be restarted"
		if c.OnlyViolating {
			header = "will restart only the tasks that break its new placement rules"
		}
		marker = s.Destroy.Sprint("-") + "/" + s.Create.Sprint("+")
	case engine.ActionUpdate:
		header, marker = "will be updated in-place", s.Update.Sprint("  ~")
	default:
		header, marker = "will change", "  ?"
	}
	fmt.Fprintf(w, "  %s\n", s.Bold.Sprintf("# %s %s", c.ID, header))
	if c.Reason != "" && (c.Action == engine.ActionRestart || c.Action == engine.ActionUpdate) {
		fmt.Fprintf(w, "  %s\n", s.Dim.Sprintf("# because %s", c.Reason))
	}
	if r := c.Rolling; r != nil && (c.Action == engine.ActionRestart || c.Action == engine.ActionScale) {
		fmt.Fprintf(w, "  %s\n", s.Dim.Sprint("# "+RollingLine(r)))
	}
	for _, rf := range runtime {
		fmt.Fprintf(w, "  %s\n", s.Dim.Sprint("# "+RuntimeLine(rf)))
	}
	writeWarnings(w, c, "  ", s)
	fmt.Fprintf(w, "%s app %q {\n", marker, c.ID)

	var lines []fieldLine
	hidden, defaults := 0, 0
	switch c.Action {
	case engine.ActionCreate, engine.ActionDestroy:
		app, mark := c.After, s.Create.Sprint("+")
		if c.Action == engine.ActionDestroy {
			app, mark = c.Before, s.Destroy.Sprint("-")
		}
		leaves, err := appLeaves(app)
		if err != nil {
			return err
		}
		for _, l := range leaves {
			if engine.FieldPathWithin(l.path, "sensitive") {
				continue // the masked values say it; plan -json lists them
			}
			if app.IsSensitive(l.path) {
				lines = append(lines, fieldLine{mark: mark, path: l.path, value: engine.SensitiveValue})
				continue
			}
			if isDefault(l) {
				defaults++
				continue
			}
			lines = append(lines, fieldLine{mark: mark, path: l.path, value: l.value})
		}
	default:
		for _, f := range c.Fields {
			fl := fieldLine{path: f.Path}
			sensitive := c.Before.IsSensitive(f.Path) || c.After.IsSensitive(f.Path)
			switch {
			case f.Before == nil:
				fl.mark, fl.value = s.Create.Sprint("+"), formatValue(f.After)
			case f.After == nil:
				fl.mark, fl.value = s.Destroy.Sprint("-"), formatValue(f.Before)
			default:
				fl.mark, fl.value = s.Update.Sprint("~"), formatValue(f.Before)+" -> "+formatValue(f.After)
			}
			if sensitive {
				// Terraform's manner: not even whether the value grew.
				fl.value = engine.SensitiveValue
			}
			if f.ForcesRestart {
				fl.note = s.Destroy.Sprint("# forces restart")
			}
			lines = append(lines, fl)
		}
		if c.After != nil {
			if leaves, err := appLeaves(c.After); err == nil {
				hidden = len(leaves) - len(c.Fields)
			}
		}
	}
	width := 0
	for _, l := range lines {
		if len(l.path) > width {
			width = len(l.path)
		}
	}
	for _, l := range lines {
		fmt.Fprintf(w, "      %s %-*s = %s", l.mark, width, l.path, l.value)
		if l.note != "" {
			fmt.Fprintf(w, " %s", l.note)
		}
		fmt.Fprintln(w)
	}
	if hidden > 0 {
		unit := "fields"
		if hidden == 1 {
			unit = "field"
		}
		fmt.Fprintf(w, "        %s\n", s.Dim.Sprintf("# (%d unchanged %s hidden)", hidden, unit))
	}
	if defaults > 0 {
		unit := "defaults"
		if defaults == 1 {
			unit = "default"
		}
		fmt.Fprintf(w, "        %s\n", s.Dim.Sprintf("# (%d %s hidden)", defaults, unit))
	}
	fmt.Fprintln(w, "    }")
	return nil
}

// RollingLine describes the rollout arithmetic of a change in one line.
func RollingLine(r *engine.Rolling) string {
	waves := len(r.Waves)
	unit := "waves"
	if waves == 1 {
		unit = "wave"
	}
	return fmt.Sprintf("rolling: %d -> %d instances, at least %d healthy, at most %d running, %d %s",
		r.From, r.To, r.MinHealthy, r.MaxRunning, waves, unit)
}

func rollFrom(c *engine.Change) int {
	if c.Rolling != nil {
		return c.Rolling.From
	}
	if c.Before != nil {
		return c.Before.Instances
	}
	return 0
}

func rollTo(c *engine.Change) int {
	if c.Rolling != nil {
		return c.Rolling.To
	}
	if c.After != nil {
		return c.After.Instances
	}
	return 0
}

// defaultLeaves holds the fields a create or destroy block hides when they hold
// Marathon's default (engine/defaults.go), by path with list indices as [*]. What
// matters is always shown, default or not: id, cmd, args, instances, the resources
// (cpus, mem, disk, gpus), every port's number and every check's protocol and
// port; so is every field not listed here. `plan -json` stays complete.
var defaultLeaves = map[string]string{
	"requirePorts":                               "false",
	"portDefinitions[*].protocol":                `"tcp"`,
	"portDefinitions[*].name":                    `"` + engine.DefaultPortName + `"`,
	"healthChecks[*].path":                       `"` + engine.DefaultHealthPath + `"`,
	"healthChecks[*].gracePeriodSeconds":         strconv.Itoa(engine.DefaultHealthGracePeriodSeconds),
	"healthChecks[*].intervalSeconds":            strconv.Itoa(engine.DefaultHealthIntervalSeconds),
	"healthChecks[*].timeoutSeconds":             strconv.Itoa(engine.DefaultHealthTimeoutSeconds),
	"healthChecks[*].maxConsecutiveFailures":     strconv.Itoa(engine.DefaultHealthMaxConsecutiveFailures),
	"healthChecks[*].ignoreHttp1xx":              "false",
	"healthChecks[*].delaySeconds":               strconv.Itoa(engine.DefaultHealthDelaySeconds),
	"readinessChecks[*].name":                    `"` + engine.DefaultReadinessName + `"`,
	"readinessChecks[*].protocol":                `"` + engine.DefaultReadinessProtocol + `"`,
	"readinessChecks[*].path":                    `"` + engine.DefaultReadinessPath + `"`,
	"readinessChecks[*].portName":                `"` + engine.DefaultReadinessPortName + `"`,
	"readinessChecks[*].intervalSeconds":         strconv.Itoa(engine.DefaultReadinessIntervalSeconds),
	"readinessChecks[*].timeoutSeconds":          strconv.Itoa(engine.DefaultReadinessTimeoutSeconds),
	"readinessChecks[*].httpStatusCodesForReady": "[200]",
	"readinessChecks[*].preserveLastResponse":    "false",
	"upgradeStrategy.minimumHealthCapacity":      "1",
	"upgradeStrategy.maximumOverCapacity":        "1",
	"backoffSeconds":                             formatValue(engine.DefaultBackoffSeconds),
	"backoffFactor":                              formatValue(engine.DefaultBackoffFactor),
	"maxLaunchDelaySeconds":                      formatValue(engine.DefaultMaxLaunchDelaySeconds),
	"killSelection":                              `"` + engine.DefaultKillSelection + `"`,
	"unreachableStrategy.inactiveAfterSeconds":   "0",
	"unreachableStrategy.expungeAfterSeconds":    "0",
	"fetch[*].extract":                           "true",
	"fetch[*].executable":                        "false",
	"fetch[*].cache":                             "false",
	"container.volumes[*].mode":                  `"RW"`,
	"container.docker.privileged":                "false",
	"container.docker.forcePullImage":            "false",
	"container.portMappings[*].protocol":         `"tcp"`,
	"container.docker.portMappings[*].protocol":  `"tcp"`,
	"networks[*].mode":                           `"host"`,
}

// isDefault reports whether a leaf holds the default defaultLeaves lists for it.
func isDefault(l leaf) bool {
	want, ok := defaultLeaves[wildIndices(l.path)]
	return ok && l.value == want
}

// wildIndices replaces every list index of a field path by [*].
func wildIndices(path string) string {
	if !strings.Contains(path, "[") {
		return path
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		if path[i] == '[' && i+1 < len(path) && path[i+1] >= '0' && path[i+1] <= '9' {
			j := i + 1
			for j < len(path) && path[j] >= '0' && path[j] <= '9' {
				j++
			}
			if j < len(path) && path[j] == ']' {
				b.WriteString("[*]")
				i = j
				continue
			}
		}
		b.WriteByte(path[i])
	}
	return b.String()
}

type fieldLine struct {
	mark, path, value, note string
}

type leaf struct {
	path  string
	value string
}

// appLeaves flattens an app's Marathon JSON into dotted paths, the same
// vocabulary the planner uses for changed fields (env.KEY, healthChecks[0].path),
// in the codec's field order (id first); arrays of scalars (constraints, args)
// stay whole. Nulls are skipped.
func appLeaves(a *engine.App) ([]leaf, error) {
	if a == nil {
		return nil, nil
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("render app %s: %w", a.ID, err)
	}
	v, err := parseOrdered(raw)
	if err != nil {
		return nil, fmt.Errorf("render app %s: %w", a.ID, err)
	}
	var out []leaf
	flatten("", v, &out)
	return out, nil
}

// object is a JSON object with its keys in document order.
type object struct {
	keys []string
	vals []any
}

// parseOrdered reads one JSON value, keeping object key order: objects are
// *object, arrays []any, numbers json.Number, and strings, booleans and null
// what encoding/json makes of them. A plan renders the JSON of every app it
// creates, destroys or updates, so this reads the bytes directly rather than
// through json.Decoder's tokens, which cost an allocation or more apiece.
func parseOrdered(data []byte) (any, error) {
	p := jsonParser{data: data}
	v, err := p.value(0)
	if err == nil {
		p.space()
		if p.pos != len(p.data) {
			err = p.errorf("data after the value")
		}
	}
	return v, err
}

// maxJSONDepth bounds the nesting parseOrdered follows (encoding/json's own
// limit is 10000; an app's JSON nests a few levels).
const maxJSONDepth = 1000

type jsonParser struct {
	data []byte
	pos  int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("JSON at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *jsonParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// consume skips space and the byte c, saying whether it was there.
func (p *jsonParser) consume(c byte) bool {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *jsonParser) value(depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, p.errorf("nested too deeply")
	}
	p.space()
	if p.pos == len(p.data) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		p.pos++
		o := &object{}
		if p.consume('}') {
			return o, nil
		}
		for {
			p.space()
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			if !p.consume(':') {
				return nil, p.errorf("':' expected")
			}
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k)
			o.vals = append(o.vals, v)
			if p.consume('}') {
				return o, nil
			}
			if !p.consume(',') {
				return nil, p.errorf("',' or '}' expected")
			}
		}
	case c == '[':
		p.pos++
		arr := []any{}
		if p.consume(']') {
			return arr, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
			if p.consume(']') {
				return arr, nil
			}
			if !p.consume(',') {
				return nil, p.errorf("',' or ']' expected")
			}
		}
	case c == '"':
		return p.str()
	case c == '-' || c >= '0' && c <= '9':
		start := p.pos
		for p.pos < len(p.data) && strings.IndexByte("+-.0123456789eE", p.data[p.pos]) >= 0 {
			p.pos++
		}
		n := p.data[start:p.pos]
		if !validNumber(n) {
			return nil, p.errorf("bad number %q", n)
		}
		return json.Number(n), nil
	default:
		rest := p.data[p.pos:]
		switch {
		case bytes.HasPrefix(rest, []byte("true")):
			p.pos += 4
			return true, nil
		case bytes.HasPrefix(rest, []byte("false")):
			p.pos += 5
			return false, nil
		case bytes.HasPrefix(rest, []byte("null")):
			p.pos += 4
			return nil, nil
		}
		return nil, p.errorf("unexpected %q", c)
	}
}

// validNumber says whether n is a JSON number:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(n []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(n) && n[i] == '-' {
		i++
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}

// str reads a string; one with escapes is decoded by encoding/json.
func (p *jsonParser) str() (string, error) {
	if p.pos == len(p.data) || p.data[p.pos] != '"' {
		return "", p.errorf("string expected")
	}
	start := p.pos
	escaped := false
	for i := start + 1; i < len(p.data); i++ {
		switch c := p.data[i]; {
		case c == '\\':
			escaped = true
			i++
		case c == '"':
			p.pos = i + 1
			raw := p.data[start:p.pos]
			if !escaped && utf8.Valid(raw) {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", p.errorf("bad string: %v", err)
			}
			return s, nil
		case c < 0x20:
			return "", p.errorf("control character in a string")
		}
	}
	return "", p.errorf("unterminated string")
}

func flatten(path string, v any, out *[]leaf) {
	switch t := v.(type) {
	case nil:
		return
	case *object:
		if len(t.keys) == 0 && path != "" {
			*out = append(*out, leaf{path, "{}"})
		}
		for i, k := range t.keys {
			flatten(engine.FieldPathKey(path, k), t.vals[i], out)
		}
	case []any:
		if len(t) == 0 {
			*out = append(*out, leaf{path, "[]"})
			return
		}
		if scalars(t) {
			*out = append(*out, leaf{path, formatValue(t)})
			return
		}
		for i, e := range t {
			flatten(engine.FieldPathIndex(path, i), e, out)
		}
	default:
		*out = append(*out, leaf{path, formatValue(t)})
	}
}

func scalars(vs []any) bool {
	for _, v := range vs {
		switch t := v.(type) {
		case *object:
			return false
		case []any:
			if !scalars(t) {
				return false
			}
		}
	}
	return true
}

// formatValue renders a JSON value compactly ("text", 1.5, true, ["a","b"], null).
func formatValue(v any) string {
	// The leaves of every app a plan renders: printable ASCII strings, numbers
	// as read, booleans and null, encoded as encoding/json would.
	switch t := v.(type) {
	case string:
		if plainString(t) {
			return `"` + t + `"`
		}
	case json.Number:
		return string(t)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// plainString says whether encoding/json writes s as it is, between quotes:
// printable ASCII without quotes or backslashes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeWarnings writes a change's feasibility warnings, one comment line each,
// `# warning: will deadlock: UNIQUE hostname needs 4 agents, 3 match; ...`.
func writeWarnings(w io.Writer, c *engine.Change, indent string, s Styles) {
	for _, wr := range c.Warnings {
		fmt.Fprintf(w, "%s%s\n", indent, s.Warn.Sprint("# warning: "+wr.Message))
	}
}

// FeasibilityLine sums the feasibility check up in one line: `Feasibility:
// checked against 3 agents: 1 warning, 1 deadlock (/web).`, or why it was
// not checked. "" when the plan carries no feasibility record.
func FeasibilityLine(p *engine.Plan) string {
	f := p.Feasibility
	if f == nil {
		return ""
	}
	if !f.Checked {
		return "Feasibility: " + f.Note + "."
	}
	warnings := 0
	var deadlocked []string
	for _, c := range p.Changes {
		warnings += len(c.Warnings)
		for _, w := range c.Warnings {
			if w.Deadlock {
				deadlocked = append(deadlocked, c.ID)
				break
			}
		}
	}
	line := fmt.Sprintf("Feasibility: checked against %d %s", f.Agents, plural(f.Agents, "agent"))
	if warnings == 0 {
		return line + ": every rollout can finish."
	}
	line += fmt.Sprintf(": %d %s", warnings, plural(warnings, "warning"))
	if len(deadlocked) > 0 {
		line += fmt.Sprintf(", %d %s (%s)", len(deadlocked), plural(len(deadlocked), "deadlock"), strings.Join(deadlocked, ", "))
	}
	return line + "."
}

func writeFeasibility(w io.Writer, p *engine.Plan, s Styles) {
	line := FeasibilityLine(p)
	if line == "" {
		return
	}
	if p.Feasibility.Checked && strings.Contains(line, "warning") {
		line = s.Warn.Sprint(line)
	}
	fmt.Fprintln(w, line)
}

// WriteSavedWarnings writes the feasibility warnings a saved plan recorded when
// it was made (nothing when it has none), before apply carries it out.
func WriteSavedWarnings(w io.Writer, p *engine.Plan, s Styles) error {
	ew := &errWriter{w: w}
	first := true
	for _, c := range p.Changes {
		if len(c.Warnings) == 0 {
			continue
		}
		if first {
			fmt.Fprintf(ew, "%s\n", s.Bold.Sprint("Warnings recorded when the plan was made:"))
			first = false
		}
		fmt.Fprintf(ew, "  %s\n", c.ID)
		writeWarnings(ew, c, "    ", s)
	}
	if !first {
		fmt.Fprintln(ew)
	}
	return ew.err
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
