package scheduler

import (
	"hash/fnv"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
)

// Running is where one existing (live) task of an app runs.
type Running struct {
	AgentID, Hostname string
	// Attributes are the agent's attributes rendered as strings (see Attributes).
	Attributes map[string]string
}

// Request asks for Count new instances of App; Running lists the app's live
// tasks, which constraints count.
type Request struct {
	App     *engine.App
	Count   int
	Running []Running
}

// Placement is one instance placed: the offer it takes, the agent, the exact
// resources to put in the TaskInfo (taken from the offer, with their role,
// allocation_info and reservations preserved, in the order cpus, mem, disk, gpus,
// ports), and the host ports in port-definition order (then container port
// mappings).
type Placement struct {
	OfferID, AgentID, Hostname string
	Resources                  []mesos.Resource
	Ports                      []uint64
}

// Unplaced says why some instances of a request could not be placed.
type Unplaced struct {
	// Count is the number of instances left unplaced.
	Count int
	// AgentsConsidered is the number of distinct agents among the offers.
	AgentsConsidered int
	// Rejections say why agents were excluded, most frequent first: each agent is
	// counted once, under the first check it fails (role, constraints in the
	// app's order, cpus, mem, disk, gpus, ports), as Marathon's
	// processedOffersSummary does.
	Rejections []Rejection
	// AgentReasons gives, per agent id, the reason it was excluded (the
	// Reason* of its Rejection); agents that could take an instance (a
	// GROUP_BY spread waiting on others) are absent.
	AgentReasons map[string]string
	// Message is a one-line human summary, e.g. `2 of 3 instances unplaced: 3
	// agents considered; 3 excluded by constraint hostname:UNIQUE`.
	Message string
}

// Rejection counts the agents excluded for one reason.
type Rejection struct {
	// Reason is one of the Reason* constants (Marathon's names where they exist).
	Reason string
	// Constraint is the constraint as written, "hostname:UNIQUE", for
	// ReasonUnfulfilledConstraint and ReasonInvalidConstraint; empty otherwise.
	Constraint string
	// Agents is the number of agents excluded for this reason.
	Agents int
}

// Rejection reasons. All but ReasonInvalidConstraint are Marathon's
// NoOfferMatchReason names, so the REST queue endpoint can report them as is.
const (
	ReasonUnfulfilledRole       = "UnfulfilledRole"
	ReasonUnfulfilledConstraint = "UnfulfilledConstraint"
	ReasonInsufficientCpus      = "InsufficientCpus"
	ReasonInsufficientMemory    = "InsufficientMemory"
	ReasonInsufficientDisk      = "InsufficientDisk"
	ReasonInsufficientGpus      = "InsufficientGpus"
	ReasonInsufficientPorts     = "InsufficientPorts"
	// ReasonInvalidConstraint: the app's constraint cannot be compiled (bad
	// regular expression, MAX_PER without a number); no agent can take it.
	ReasonInvalidConstraint = "InvalidConstraint"
)

// stageReasons names each stage's rejection.
var stageReasons = [...]string{
	stageRole:       ReasonUnfulfilledRole,
	stageConstraint: ReasonUnfulfilledConstraint,
	stageCpus:       ReasonInsufficientCpus,
	stageMem:        ReasonInsufficientMemory,
	stageDisk:       ReasonInsufficientDisk,
	stageGpus:       ReasonInsufficientGpus,
	stagePorts:      ReasonInsufficientPorts,
}

// SeedOf derives a placement seed from a key, the id of the deployment that
// launches the instances (STYLE.md §4): the same offers, requests and deployment
// id replay the same placement. It is FNV-1a (64 bits) of the key.
func SeedOf(key string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return int64(h.Sum64())
}

// Options tune a Match call.
type Options struct {
	// Seed shuffles the agents (which one wins a tie) deterministically: the same
	// offers, requests and seed give the same result.
	Seed int64
	// Roles are the framework's roles; empty means ["*"].
	Roles []string
}

// Result is the outcome of a Match call.
type Result struct {
	// Placements holds, per request in request order, the instances placed.
	Placements [][]Placement
	// Unplaced holds, per request, why instances are left; nil when all placed.
	Unplaced []*Unplaced
	// Unused are the ids of offers nothing was placed on (to decline), in offer
	// order.
	Unused []string
	// Used are the ids of offers something was placed on (to accept), in offer
	// order.
	Used []string
}

// Agent is one agent as plan-time feasibility sees it.
type Agent struct {
	ID, Hostname string
	// Attributes are rendered as Attributes renders them.
	Attributes map[string]string
	// Resources are what the agent can give the app: its total resources for "could
	// this ever fit", or what is free now.
	Resources []mesos.Resource
	// Held are the resources of the tasks on the agent that a Sim may release.
	Held []mesos.Resource
}

// Match decides which instances of reqs go on which offers. Requests are served
// in order, each taking from what earlier ones left; placements of an app count
// for the constraints of later requests for the same app id. It is pure: no I/O,
// no clock, randomness only from opts.Seed; the offers are not modified.
func Match(offers []mesos.Offer, reqs []Request, opts Options) Result {
	rd := newRoundFromOffers(offers, opts)
	res := Result{
		Placements: make([][]Placement, len(reqs)),
		Unplaced:   make([]*Unplaced, len(reqs)),
	}
	for i, req := range reqs {
		res.Placements[i], res.Unplaced[i] = rd.run(req)
	}
	for i := range rd.pools {
		if rd.pools[i].used {
			res.Used = append(res.Used, rd.pools[i].id)
		} else {
			res.Unused = append(res.Unused, rd.pools[i].id)
		}
	}
	return res
}
