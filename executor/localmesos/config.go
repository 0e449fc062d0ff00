package localmesos

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Config describes the single-machine cluster a Master simulates. The zero
// value of every field means "the default" documented next to it.
type Config struct {
	// Listen is the TCP address the master serves on ("127.0.0.1:0" by default:
	// loopback, a free port; URL reports the one chosen).
	Listen string
	// WorkDir holds the sandboxes, one per task launch, under
	// WorkDir/agents/<agent>/frameworks/<framework>/tasks/<task>/, and what a
	// later Master needs to recover the tasks of one that crashed (see
	// recover.go). It defaults to a fresh directory under os.TempDir(), removed
	// by Close; a WorkDir that was given is kept. The WorkDir and every
	// directory the stand-in creates in it are private (0700), the files it
	// writes 0600.
	WorkDir string
	// Agents is the number of simulated agents (default 3).
	Agents int
	// Racks is the number of rack_id attribute values the agents are spread
	// over round-robin: rack-1, rack-2, ... (default 2).
	Racks int
	// Cpus, Mem (MB) and Disk (MB) are each agent's resources (defaults 8,
	// 16384 and 65536).
	Cpus, Mem, Disk float64
	// PortsPerAgent is the size of each agent's port range (default 1000).
	// Agent i owns [FirstPort+i*PortsPerAgent, FirstPort+(i+1)*PortsPerAgent-1]:
	// every agent shares this machine, so their ranges are disjoint.
	PortsPerAgent int
	// FirstPort is where the agents' port ranges start (default 31000, Mesos'
	// default range). Several stand-ins on one machine (tests running in
	// parallel, say) need disjoint ranges, or their tasks fight over ports.
	FirstPort int
	// Roles optionally reserves a share (0 < share, sum of shares <= 1) of each
	// agent's cpus, mem and disk for a role (a static reservation). Reserved
	// resources are offered only to frameworks subscribed in that role, next
	// to the unreserved ones, in the same offer. Ports stay unreserved.
	Roles map[string]float64
	// Attributes are extra attributes set on every agent, next to rack_id.
	// Values are typed as Mesos types agent attributes: "[a-b,...]" is RANGES,
	// "{a,b}" is SET, a number is SCALAR, anything else TEXT.
	Attributes map[string]string
	// OfferInterval is the allocation interval: how often unused resources are
	// offered (default 200ms).
	OfferInterval time.Duration
	// OfferTimeout rescinds an offer left unanswered for this long (default
	// 30s; negative: never, which is what a real master does by default).
	OfferTimeout time.Duration
	// HeartbeatInterval is how often a HEARTBEAT event is sent on every
	// subscription stream (default 15s).
	HeartbeatInterval time.Duration
	// UpdateRetry is how long an agent waits for the acknowledgement of a
	// status update before it sends it again (default 2s).
	UpdateRetry time.Duration
	// SandboxesKept is how many finished sandboxes (of tasks whose process
	// ended, or never started) are kept per framework and app; older ones are
	// removed as tasks finish, and when a Master starts. The app of a task is
	// its id up to the last "." (Marathon's and Stride's "<app>.<uuid>"), or
	// its name when the id has no ".". The sandbox of a task that is launching
	// or running is never removed. Default 5; negative: none is kept.
	SandboxesKept int
	// Logf receives the master's log lines; nil discards them.
	Logf func(format string, args ...any)
}

// Defaults of Config.
const (
	defaultListen            = "127.0.0.1:0"
	defaultAgents            = 3
	defaultRacks             = 2
	defaultCpus              = 8
	defaultMem               = 16384
	defaultDisk              = 65536
	defaultPortsPerAgent     = 1000
	firstPort                = 31000
	defaultOfferInterval     = 200 * time.Millisecond
	defaultOfferTimeout      = 30 * time.Second
	defaultHeartbeatInterval = 15 * time.Second
	defaultUpdateRetry       = 2 * time.Second
	defaultSandboxesKept     = 5
	// defaultKillGrace is the grace period between SIGTERM and SIGKILL when
	// neither the KILL call nor the TaskInfo carries a kill_policy (as the
	// Mesos command executor).
	defaultKillGrace = 3 * time.Second
	// defaultRefuse is the refuse_seconds of an ACCEPT or DECLINE without
	// filters (the Filters proto's default).
	defaultRefuse = 5 * time.Second
	// maxAgents keeps every agent's loopback address inside 127.0.0.0/8 and
	// its ports below 65536.
	maxAgents = 250
	// maxCompletedTasks bounds the terminal tasks /master/state keeps per
	// framework; maxCompletedFrameworks the removed frameworks it shows.
	maxCompletedTasks      = 1000
	maxCompletedFrameworks = 50
)

// withDefaults returns c with every zero field set to its default, or an error
// naming the first field that cannot be used.
func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if c.Agents == 0 {
		c.Agents = defaultAgents
	}
	if c.Racks == 0 {
		c.Racks = defaultRacks
	}
	if c.Cpus == 0 {
		c.Cpus = defaultCpus
	}
	if c.Mem == 0 {
		c.Mem = defaultMem
	}
	if c.Disk == 0 {
		c.Disk = defaultDisk
	}
	if c.PortsPerAgent == 0 {
		c.PortsPerAgent = defaultPortsPerAgent
	}
	if c.OfferInterval == 0 {
		c.OfferInterval = defaultOfferInterval
	}
	if c.OfferTimeout == 0 {
		c.OfferTimeout = defaultOfferTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = defaultHeartbeatInterval
	}
	if c.UpdateRetry == 0 {
		c.UpdateRetry = defaultUpdateRetry
	}
	switch {
	case c.SandboxesKept == 0:
		c.SandboxesKept = defaultSandboxesKept
	case c.SandboxesKept < 0:
		c.SandboxesKept = 0
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	var errs []error
	if c.Agents < 0 || c.Agents > maxAgents {
		errs = append(errs, fmt.Errorf("agents: %d is outside 1..%d", c.Agents, maxAgents))
	}
	if c.Racks < 0 {
		errs = append(errs, fmt.Errorf("racks: %d is negative", c.Racks))
	}
	for name, v := range map[string]float64{"cpus": c.Cpus, "mem": c.Mem, "disk": c.Disk} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fmt.Errorf("%s: %v is not a resource amount", name, v))
		}
	}
	if c.FirstPort == 0 {
		c.FirstPort = firstPort
	}
	if c.FirstPort < 1024 || c.FirstPort > 65535 {
		errs = append(errs, fmt.Errorf("first port: %d is outside 1024..65535", c.FirstPort))
	}
	if c.PortsPerAgent < 0 || c.FirstPort+c.Agents*c.PortsPerAgent > 65536 {
		errs = append(errs, fmt.Errorf("ports per agent: %d ports for %d agents do not fit below port 65536", c.PortsPerAgent, c.Agents))
	}
	for name, d := range map[string]time.Duration{"offer interval": c.OfferInterval, "heartbeat interval": c.HeartbeatInterval, "update retry": c.UpdateRetry} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: %v is negative", name, d))
		}
	}
	var share float64
	for _, role := range sortedKeys(c.Roles) {
		s := c.Roles[role]
		if err := validateRole(role); err != nil || role == "*" {
			errs = append(errs, fmt.Errorf("roles: %q cannot hold a reservation", role))
		}
		if !(s > 0) || s > 1 {
			errs = append(errs, fmt.Errorf("roles: the share of %q is %v, not in (0, 1]", role, s))
		}
		share += s
	}
	if share > 1+1e-9 {
		errs = append(errs, fmt.Errorf("roles: the shares add up to %v, more than 1", share))
	}
	for _, name := range sortedKeys(c.Attributes) {
		if name == "" || name == "rack_id" {
			errs = append(errs, fmt.Errorf("attributes: %q cannot be set", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("localmesos: invalid config: %w", err)
	}
	if c.WorkDir != "" {
		abs, err := filepath.Abs(c.WorkDir)
		if err != nil {
			return c, fmt.Errorf("localmesos: work dir: %w", err)
		}
		c.WorkDir = abs
	}
	return c, nil
}

// makeWorkDir creates the work directory (0700; an existing one is made
// 0700); it reports whether the directory is a temporary one of ours (to
// remove on Close).
func (c *Config) makeWorkDir() (temporary bool, err error) {
	if c.WorkDir == "" {
		dir, err := os.MkdirTemp("", "localmesos-")
		if err != nil {
			return false, fmt.Errorf("localmesos: create work dir: %w", err)
		}
		c.WorkDir = dir
		return true, nil
	}
	if err := os.MkdirAll(c.WorkDir, dirMode); err != nil {
		return false, fmt.Errorf("localmesos: create work dir: %w", err)
	}
	if err := os.Chmod(c.WorkDir, dirMode); err != nil {
		return false, fmt.Errorf("localmesos: work dir: %w", err)
	}
	return false, nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
