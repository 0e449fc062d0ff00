// Package scheduler matches Mesos resource offers with pending instances of apps:
// which instance goes on which offer, with which resources and host ports — or
// why it cannot be placed. It is pure: no I/O, no clock, and randomness only from
// the seed it is given, so a placement can be replayed from its inputs.
//
//	offers ──► agents (sorted by id, seeded shuffle) ──┐
//	                                                     ├─► Match ─► placements, unplaced reasons, used/unused offers
//	requests (app, count, running tasks) ──► per app: ──┘
//	    constraints compiled once (one Checker per constraint, one Tally per field)
//	    demand (cpus, mem, disk, gpus in Mesos milli units; host ports)
//	    role filter
//
// # Placing one instance
//
// The agents of the offers are walked in a seeded order from a cursor that moves
// on with every placement. An agent is feasible when every constraint Fits and
// one of its offers holds the demand in resources of one allocation role. The
// first sampleSize (8) feasible agents are scored and the least loaded wins:
// fewest of the app's tasks on its GROUP_BY values, then on its host — so
// instances spread unless a constraint (CLUSTER) gathers them. The walk stops
// early at an agent whose load nothing can beat (no task on its values while
// some value the agents have holds none, else the fewest). Agents that cannot
// take the request again this round (resources short, UNIQUE value taken, LIKE
// mismatch: any status but NotYet) are pruned from the walk, so 5,000 placements
// over 10,000 agents cost about a sample each, not a scan. Only when fewer than
// sampleSize agents are feasible does the walk cover every agent: a satisfiable
// request is never left unplaced because of sampling.
//
// # Constraints (Marathon's semantics)
//
// The field "hostname" (or "@hostname") is the agent's hostname; any other field
// is an attribute, rendered as AttributeValue does. An agent without the attribute
// fails every operator except UNLIKE. Counts include the request's running tasks
// and instances of the same app id placed earlier in the same Match call.
//
//	UNIQUE         at most one task per value
//	CLUSTER v      only on value v; without v, on the value of the first task
//	GROUP_BY [g]   a value without tasks fits; otherwise only once the tasks cover
//	               g values and the value holds the fewest (Marathon's rule)
//	LIKE / UNLIKE  the value fully matches / does not match the regexp
//	MAX_PER n      at most n tasks per value
//	IS v           the value equals v
//
// A checker's Status separates "not now" (NotYet: GROUP_BY waits for other groups)
// from "not on this agent while these tasks run" (NotHere) and "never on this
// agent" (Never). Sim.Diagnose adds the app-level view: more instances than a
// constraint can ever hold on the given agents.
//
// # Simulation (plan-time feasibility)
//
// Sim keeps one round alive across requests for `stride plan`: one simulated
// offer per agent holding what is free, plus the resources of the tasks already
// there (Agent.Held) set aside. Place serves a request as Match does and keeps
// what it took; Release gives a killed task's resources back (scalars to a piece
// of the same roles, ports to the ranges); Diagnose turns an Unplaced into the
// reason in numbers (a UNIQUE/MAX_PER/GROUP_BY bound over the agents that could
// hold an instance, a CLUSTER/IS value no agent has, the largest free amount of
// the short resource, the most free ports, the role).
//
// # Resources and roles
//
// A piece of an offer is usable when its allocation role (allocation_info.role) is
// the app's Role, or, for apps without one, one of the framework's roles; and its
// reservation role ("*" when unreserved) is in app.AcceptedResourceRoles, or, when
// that is empty, is "*" or the task's role (or a parent of it). One instance
// never mixes allocation roles (Mesos rejects such a task); it may mix reserved
// and unreserved pieces of the same allocation role, reserved first. Revocable,
// shared, provider, persistent-volume, MOUNT/PATH disk and labelled reserved
// resources are never used. Scalars are computed in Mesos' fixed point (three
// decimals).
//
// # Ports
//
// Each port definition needs one host port: any free port unless requirePorts
// and a non-zero number, then exactly that port. Bridged containers' port
// mappings need one too (hostPort 0: any). Fixed ports are taken first; the
// others are the lowest free ports of the offer. Ports taken by one instance are
// gone for the next.
//
// # Reasons
//
// When instances are left, every agent is counted once under the first check it
// fails — role, constraints in the app's order, cpus, mem, disk, gpus, ports —
// with Marathon's reason names (UnfulfilledRole, UnfulfilledConstraint,
// InsufficientCpus, ...).
package scheduler
