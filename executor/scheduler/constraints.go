package scheduler

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/stride-run/stride/engine"
)

// HostnameField is the constraint field that means the agent's hostname rather
// than an attribute. Marathon 1.7+ also spells it "@hostname"; both are accepted.
const HostnameField = "hostname"

func isHostnameField(f string) bool { return f == HostnameField || f == "@hostname" }

// Status is a checker's verdict on one more instance on one agent. The statuses
// are ordered: the larger, the longer the answer stays "no".
type Status int

const (
	// Fits: one more instance may run on the agent.
	Fits Status = iota
	// NotYet: not now, but placing instances elsewhere may change the answer in
	// the same round (GROUP_BY waits for the other groups to catch up).
	NotYet
	// NotHere: not on this agent while the app's current tasks run. Counts only
	// grow during a Match call, so the agent stays excluded for the rest of it
	// (UNIQUE value taken, MAX_PER value full, CLUSTER settled elsewhere).
	NotHere
	// Never: the agent itself can never satisfy the constraint, whatever runs
	// where (attribute missing, LIKE/UNLIKE/IS mismatch, CLUSTER to another value).
	Never
)

var statusNames = [...]string{"fits", "not yet", "not here", "never"}

// String names the status: "fits", "not yet", "not here", "never".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Checker is one compiled constraint of one app: a verdict on an agent given by
// its value of the constraint's field (ok false: the agent lacks the attribute),
// read against the Tally of the app's tasks for that field.
type Checker interface {
	// Check reports whether one more instance of the app may run on an agent whose
	// field value is value.
	Check(value string, ok bool) Status
	// String is the constraint as reasons quote it: "hostname:UNIQUE",
	// "rack_id:GROUP_BY:3".
	String() string
}

var (
	_ Checker = (*Unique)(nil)
	_ Checker = (*Cluster)(nil)
	_ Checker = (*GroupBy)(nil)
	_ Checker = (*Like)(nil)
	_ Checker = (*Unlike)(nil)
	_ Checker = (*MaxPer)(nil)
	_ Checker = (*Is)(nil)
)

// Tally counts an app's tasks (running, and placed so far in the round) by their
// value of one field. Several checkers on the same field share one Tally. Tasks
// whose agent lacks the field are in no group (Marathon puts them in a "none"
// group, which would let them hold GROUP_BY back).
//
// Invariant: groups = number of values with a non-zero count; hist[c] = number
// of values with exactly c tasks; min is the smallest non-zero count (0 when
// groups = 0), kept up to date in O(1) per Add.
type Tally struct {
	count  map[string]int32
	groups int32
	hist   []int32
	min    int32
	// first is the value of the first counted task that has the field (CLUSTER).
	first   string
	hasTask bool
}

// NewTally returns an empty tally.
func NewTally() *Tally { return &Tally{count: make(map[string]int32)} }

// Add counts one task whose field value is value (ok false: the task's agent
// lacks the attribute).
func (t *Tally) Add(value string, ok bool) {
	if !ok {
		return
	}
	if !t.hasTask {
		t.first, t.hasTask = value, true
	}
	c := t.count[value]
	t.count[value] = c + 1
	if c == 0 {
		t.groups++
	} else {
		t.hist[c]--
	}
	for int(c+1) >= len(t.hist) {
		t.hist = append(t.hist, 0)
	}
	t.hist[c+1]++
	switch {
	case c == 0:
		t.min = 1
	case c == t.min && t.hist[c] == 0:
		t.min = c + 1
	}
}

// Count returns the number of counted tasks whose field value is value.
func (t *Tally) Count(value string) int { return int(t.count[value]) }

// Groups returns the number of distinct values among the counted tasks.
func (t *Tally) Groups() int { return int(t.groups) }

// NewChecker compiles one constraint against the tally of its field (regular
// expressions are compiled here, once). The error says what is wrong with the
// constraint's value; Validate should have caught it earlier.
func NewChecker(c engine.Constraint, t *Tally) (Checker, error) {
	text := constraintText(c)
	switch c.Operator {
	case engine.OpUnique:
		return &Unique{text: text, t: t}, nil
	case engine.OpCluster:
		return &Cluster{text: text, value: c.Value, t: t}, nil
	case engine.OpGroupBy:
		n := 0
		if c.Value != "" {
			v, err := strconv.Atoi(c.Value)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("constraint %s: GROUP_BY value %q is not a non-negative integer", text, c.Value)
			}
			n = v
		}
		return &GroupBy{text: text, expect: int32(n), t: t}, nil
	case engine.OpMaxPer:
		v, err := strconv.Atoi(c.Value)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("constraint %s: MAX_PER value %q is not a positive integer", text, c.Value)
		}
		return &MaxPer{text: text, max: int32(v), t: t}, nil
	case engine.OpLike, engine.OpUnlike:
		if c.Value == "" {
			return nil, fmt.Errorf("constraint %s: %s needs a regular expression", text, c.Operator)
		}
		re, err := regexp.Compile(`^(?:` + c.Value + `)$`)
		if err != nil {
			return nil, fmt.Errorf("constraint %s: %w", text, err)
		}
		m := fullMatch{re: re, seen: make(map[string]bool)}
		if c.Operator == engine.OpLike {
			return &Like{text: text, m: m}, nil
		}
		return &Unlike{text: text, m: m}, nil
	case engine.OpIs:
		if c.Value == "" {
			return nil, fmt.Errorf("constraint %s: IS needs a value", text)
		}
		return &Is{text: text, value: c.Value}, nil
	}
	return nil, fmt.Errorf("constraint %s: unknown operator %q", text, c.Operator)
}

// constraintText renders a constraint the way Marathon's CLI takes it:
// field:OPERATOR[:value].
func constraintText(c engine.Constraint) string {
	if c.Value == "" {
		return c.Field + ":" + c.Operator
	}
	return c.Field + ":" + c.Operator + ":" + c.Value
}

// Unique allows at most one task of the app per value of the field.
type Unique struct {
	text string
	t    *Tally
}

// Check implements Checker.
func (u *Unique) Check(value string, ok bool) Status {
	switch {
	case !ok:
		return Never
	case u.t.count[value] > 0:
		return NotHere
	}
	return Fits
}

// String implements Checker.
func (u *Unique) String() string { return u.text }

// Cluster keeps every task on one value of the field: the given one, or, without
// a value, the value of the first counted task (Marathon: the first placed).
type Cluster struct {
	text  string
	value string
	t     *Tally
}

// Check implements Checker.
func (c *Cluster) Check(value string, ok bool) Status {
	switch {
	case !ok:
		return Never
	case c.value != "":
		if value != c.value {
			return Never
		}
	case c.t.hasTask && value != c.t.first:
		return NotHere
	}
	return Fits
}

// String implements Checker.
func (c *Cluster) String() string { return c.text }

// GroupBy spreads the tasks evenly over the field's values, as Marathon does: an
// agent whose value has no task yet always fits; otherwise it fits only once
// the tasks cover at least the expected number of values and its value holds
// the fewest tasks. The expected number (the constraint's value, default 0)
// stands for values the scheduler cannot see yet: with "3", the first three
// tasks go to three distinct values.
type GroupBy struct {
	text   string
	expect int32
	t      *Tally
}

// Check implements Checker.
func (g *GroupBy) Check(value string, ok bool) Status {
	if !ok {
		return Never
	}
	c := g.t.count[value]
	if c == 0 || (g.t.groups >= g.expect && c == g.t.min) {
		return Fits
	}
	return NotYet
}

// String implements Checker.
func (g *GroupBy) String() string { return g.text }

// fullMatch memoises a full-match regular expression per value: agents share few
// distinct values, so each is matched once per compiled constraint.
type fullMatch struct {
	re   *regexp.Regexp
	seen map[string]bool
}

func (m fullMatch) match(v string) bool {
	r, ok := m.seen[v]
	if !ok {
		r = m.re.MatchString(v)
		m.seen[v] = r
	}
	return r
}

// Like allows agents whose value fully matches the regular expression.
type Like struct {
	text string
	m    fullMatch
}

// Check implements Checker.
func (l *Like) Check(value string, ok bool) Status {
	if !ok || !l.m.match(value) {
		return Never
	}
	return Fits
}

// String implements Checker.
func (l *Like) String() string { return l.text }

// Unlike allows agents whose value does not fully match the regular expression,
// and agents without the attribute (the one operator that accepts them).
type Unlike struct {
	text string
	m    fullMatch
}

// Check implements Checker.
func (u *Unlike) Check(value string, ok bool) Status {
	if ok && u.m.match(value) {
		return Never
	}
	return Fits
}

// String implements Checker.
func (u *Unlike) String() string { return u.text }

// MaxPer allows at most max tasks per value of the field.
type MaxPer struct {
	text string
	max  int32
	t    *Tally
}

// Check implements Checker.
func (m *MaxPer) Check(value string, ok bool) Status {
	switch {
	case !ok:
		return Never
	case m.t.count[value] >= m.max:
		return NotHere
	}
	return Fits
}

// String implements Checker.
func (m *MaxPer) String() string { return m.text }

// Is allows agents whose value equals the constraint's value.
type Is struct {
	text  string
	value string
}

// Check implements Checker.
func (i *Is) Check(value string, ok bool) Status {
	if !ok || value != i.value {
		return Never
	}
	return Fits
}

// String implements Checker.
func (i *Is) String() string { return i.text }

// constraintSet is an app's constraints compiled once per Match call: one Tally
// per distinct field (hostname always present, for spreading) and one Checker
// per constraint.
type constraintSet struct {
	fields []field
	checks []check
	// host indexes the hostname field in fields.
	host int
}

type field struct {
	name     string
	hostname bool
	tally    *Tally
}

type check struct {
	Checker
	field   int
	groupBy bool
}

// compile builds the constraint set of app; the error names the first bad
// constraint.
func compile(app *engine.App) (*constraintSet, error) {
	cs := &constraintSet{}
	cs.host = cs.fieldIndex(HostnameField)
	for _, c := range app.Constraints {
		fi := cs.fieldIndex(c.Field)
		ch, err := NewChecker(c, cs.fields[fi].tally)
		if err != nil {
			return nil, &constraintError{text: constraintText(c), err: err}
		}
		cs.checks = append(cs.checks, check{Checker: ch, field: fi, groupBy: c.Operator == engine.OpGroupBy})
	}
	return cs, nil
}

func (cs *constraintSet) fieldIndex(name string) int {
	hn := isHostnameField(name)
	for i := range cs.fields {
		if cs.fields[i].name == name || (hn && cs.fields[i].hostname) {
			return i
		}
	}
	cs.fields = append(cs.fields, field{name: name, hostname: hn, tally: NewTally()})
	return len(cs.fields) - 1
}

// lookup reads a field of an agent or task: hostname, or an attribute.
type lookup interface {
	host() string
	attr(name string) (string, bool)
}

func fieldValue(f *field, l lookup) (string, bool) {
	if f.hostname {
		return l.host(), true
	}
	return l.attr(f.name)
}

// count adds one task on l to every field's tally.
func (cs *constraintSet) count(l lookup) {
	for i := range cs.fields {
		v, ok := fieldValue(&cs.fields[i], l)
		cs.fields[i].tally.Add(v, ok)
	}
}

// first returns the index of the first constraint l does not satisfy and its
// status, or (-1, Fits).
func (cs *constraintSet) first(l lookup) (int, Status) {
	for i := range cs.checks {
		c := &cs.checks[i]
		v, ok := fieldValue(&cs.fields[c.field], l)
		if st := c.Check(v, ok); st != Fits {
			return i, st
		}
	}
	return -1, Fits
}

// load scores l for spreading (lower is better): the app's tasks on l's values of
// GROUP_BY fields, then on l's hostname.
func (cs *constraintSet) load(l lookup) (group, host int32) {
	for i := range cs.checks {
		c := &cs.checks[i]
		if !c.groupBy {
			continue
		}
		f := &cs.fields[c.field]
		if v, ok := fieldValue(f, l); ok {
			group += f.tally.count[v]
		}
	}
	return group, cs.fields[cs.host].tally.count[l.host()]
}

// firstStatic is first without GROUP_BY constraints (Violators judges those on
// the whole distribution).
func (cs *constraintSet) firstStatic(l lookup) int {
	for i := range cs.checks {
		c := &cs.checks[i]
		if c.groupBy {
			continue
		}
		v, ok := fieldValue(&cs.fields[c.field], l)
		if c.Check(v, ok) != Fits {
			return i
		}
	}
	return -1
}
