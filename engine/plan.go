package engine

// Action is what a plan does to one app.
type Action string

// The plan actions, in the vocabulary of LANGUAGE.md ("How the planner reads a change").
const (
	// ActionCreate starts an app that is not deployed.
	ActionCreate Action = "create"
	// ActionDestroy kills every task of an app that the files no longer declare.
	ActionDestroy Action = "destroy"
	// ActionScale starts or kills the difference in instances; nothing else changed.
	ActionScale Action = "scale"
	// ActionRestart replaces tasks, rolling, because something that goes into a task
	// changed (or, with Change.OnlyViolating, because constraints changed).
	ActionRestart Action = "restart"
	// ActionUpdate applies fields the executor reads in place; no task is touched.
	ActionUpdate Action = "update"
)

// PlanFormatVersion is the version of the plan JSON (`stride plan -json`) and of the
// saved plan file.
const PlanFormatVersion = "1"

// Plan is the planner's output: pure data, rendered elsewhere (text, JSON, file).
type Plan struct {
	FormatVersion string `json:"format_version"`
	// StateSerial is the serial of the State the plan was made against.
	StateSerial uint64 `json:"state_serial"`
	// Scope the plan was made for.
	Scope string `json:"scope"`
	// Changes holds one entry per app that changes, in step order (then by id).
	// Apps with no change do not appear.
	Changes []*Change `json:"changes"`
	// Steps order the changes: every action of a step runs in parallel; a step starts
	// when the previous one is deployed and healthy.
	Steps   []Step  `json:"steps"`
	Summary Summary `json:"summary"`
	// RuntimeManaged lists, by app id then path, the fields the files set to
	// something else than what is deployed but leave to runtime
	// (lifecycle.ignore_changes): the plan keeps the deployed value. Omitted
	// when empty.
	RuntimeManaged []RuntimeField `json:"runtime_managed,omitempty"`
	// Feasibility says whether the plan was checked against the cluster
	// (`stride plan` sets it; nil when not asked, as in plans the server makes).
	Feasibility *Feasibility `json:"feasibility,omitempty"`
}

// Feasibility is whether, and against what, the plan's placements were
// simulated.
type Feasibility struct {
	// Checked is true when the plan was simulated on a cluster snapshot; the
	// changes then carry their Warnings.
	Checked bool `json:"checked"`
	// Agents is the number of agents of the snapshot.
	Agents int `json:"agents"`
	// Note says why it was not checked, or against what it was.
	Note string `json:"note,omitempty"`
}

// Warning is one problem plan-time feasibility found with a change: what apply
// will meet on the cluster as it is.
type Warning struct {
	// Kind is constraint, attribute, resources, ports, role, unplaced or
	// kill_first.
	Kind string `json:"kind"`
	// Message gives the reason in numbers: "UNIQUE hostname needs 4 agents, 3
	// match".
	Message string `json:"message"`
	// Deadlock: the rollout can never finish on this cluster (as opposed to one
	// that progresses, only slower).
	Deadlock bool `json:"deadlock"`
	// Constraint is the constraint at fault, as written ("hostname:UNIQUE").
	Constraint string `json:"constraint,omitempty"`
	// Running is how many instances of the target version the simulation got
	// running; Target how many the change asks for.
	Running int `json:"running"`
	Target  int `json:"target"`
}

// RuntimeField is one field kept as deployed because the app's lifecycle leaves
// it to runtime: "instances: managed at runtime (now 7)".
type RuntimeField struct {
	ID   string `json:"id"`
	Path string `json:"path"`
	// Deployed is the JSON value that stays; Configured the one the files hold.
	Deployed   any `json:"deployed"`
	Configured any `json:"configured"`
	// Sensitive marks a field whose value derives from sensitive input: plan
	// output shows SensitiveValue for both values.
	Sensitive bool `json:"sensitive,omitempty"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Change is what happens to one app.
type Change struct {
	ID     string `json:"id"`
	Action Action `json:"action"`
	// Before is the deployed app (nil for create); After the desired one (nil for destroy).
	Before *App `json:"before"`
	After  *App `json:"after"`
	// Fields lists every changed field, sorted by path (empty for create and destroy).
	Fields []FieldChange `json:"fields"`
	// Reason says why the action was chosen: for a restart, the first field that
	// forces it (`cmd: "a" -> "b"`).
	Reason string `json:"reason,omitempty"`
	// OnlyViolating marks a restart caused by constraints alone: only tasks that break
	// the new constraints are replaced (beyond Marathon).
	OnlyViolating bool `json:"only_violating,omitempty"`
	// Rolling is set for restart and scale (and create/destroy, for their counts).
	Rolling *Rolling `json:"rolling,omitempty"`
	// Step is the 0-based index of the step this change runs in.
	Step int `json:"step"`
	// Warnings are what plan-time feasibility found (omitted when none or not
	// checked).
	Warnings []Warning `json:"warnings,omitempty"`
}

// FieldChange is one changed field. Path is Marathon's JSON path ("cmd", "env.LOG",
// "healthChecks[0].path", "upgradeStrategy.minimumHealthCapacity"); Before/After are
// the JSON values (nil when absent).
type FieldChange struct {
	Path          string `json:"path"`
	Before        any    `json:"before"`
	After         any    `json:"after"`
	ForcesRestart bool   `json:"forces_restart"`
}

// Rolling is the rollout arithmetic of one change.
//
// With From old tasks to replace by To new ones under an upgrade strategy:
// MinHealthy = ceil(To*minimumHealthCapacity) and MaxRunning = To +
// floor(To*maximumOverCapacity). Example: instances 10, min health 0.5, over capacity
// 0.2: at least 5 healthy, at most 12 running. When both bounds would block (min
// health 1.0 and over capacity 0), the rollout still progresses one task at a time:
// MaxRunning is raised to To+1 — see planner.Bounds.
type Rolling struct {
	From       int `json:"from"`
	To         int `json:"to"`
	MinHealthy int `json:"min_healthy"`
	MaxRunning int `json:"max_running"`
	// Waves preview the rollout assuming every started task becomes healthy: each
	// wave starts some new tasks and kills some old ones without breaking the bounds.
	Waves []Wave `json:"waves,omitempty"`
}

// Wave is one round of a rolling deployment.
type Wave struct {
	Start int `json:"start"`
	Kill  int `json:"kill"`
	// Old and New count the tasks of each version after the wave.
	Old int `json:"old"`
	New int `json:"new"`
}

// Step is a set of actions that run in parallel.
type Step struct {
	Actions []StepAction `json:"actions"`
}

// StepAction names one app's action in a step.
type StepAction struct {
	ID     string `json:"id"`
	Action Action `json:"action"`
}

// Summary counts the changes by action.
type Summary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Scale   int `json:"scale"`
	Restart int `json:"restart"`
	Destroy int `json:"destroy"`
}

// SavedPlan is the file `stride plan -out` writes and `stride apply PLANFILE` reads:
// the plan together with everything needed to carry it out and to refuse it when
// stale.
type SavedPlan struct {
	FormatVersion string `json:"format_version"`
	// StrideVersion that wrote the file.
	StrideVersion string `json:"stride_version"`
	// StateSerial the plan was made against; apply refuses the plan when the state's
	// serial has moved since ("stale").
	StateSerial uint64 `json:"state_serial"`
	// Spec is the desired configuration the plan was made from.
	Spec *Spec `json:"spec"`
	// Destroy records that the plan was made with -destroy.
	Destroy bool  `json:"destroy,omitempty"`
	Plan    *Plan `json:"plan"`
}
