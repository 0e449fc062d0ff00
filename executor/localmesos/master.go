package localmesos

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// version is what GET /version and MasterInfo report: the Mesos release whose
// scheduler API the stand-in follows.
const version = "1.11.1"

// Master is a running stand-in: one master and Config.Agents agents in this
// process, tasks as child processes. Create it with New, serve with Start,
// stop with Close. All methods are safe for concurrent use.
type Master struct {
	cfg      Config
	ownsDir  bool // WorkDir is a temporary directory of ours
	id       string
	started  time.Time
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup // every goroutine the master started
	procs    sync.WaitGroup // one per task process still to be reaped
	listener net.Listener
	server   *http.Server
	url      string
	host     string // the master's IP
	port     int

	startOnce sync.Once
	closeOnce sync.Once
	closeErr  error

	mu                  sync.Mutex // guards everything below
	closed              bool
	docker              func(context.Context) error // reports whether a Docker engine answers
	agents              []*agent
	agentByID           map[string]*agent
	frameworks          map[string]*framework
	removed             map[string]bool // ids of frameworks that were removed
	completedFrameworks []frameworkRecord
	offers              map[string]*offer
	live                map[*task]struct{} // tasks whose process runs (started, not reaped)
	active              map[string]*task   // sandboxes of tasks launching or running
	gc                  sandboxGC
	adopted             []*task      // tasks recovered by New, until Start
	recoveredFrameworks []*framework // frameworks recovered by New, until Start
	nextFramework       int
	nextOffer           int
}

// agent is one simulated Mesos agent.
type agent struct {
	index      int
	id         string
	hostname   string // a loopback address of its own
	attributes []mesos.Attribute
	total      resourceSet
	free       resourceSet // neither used by a task nor offered
	used       resourceSet // held by tasks that are not terminal
	lost       bool
	// partitioned: cut off from the master (PartitionAgent) until HealAgent;
	// its tasks keep running, their updates wait on the agent.
	partitioned      bool
	unreachableSince time.Time
	tasks            map[*task]struct{} // tasks running or launching here
}

// AgentInfo describes one agent, for tests and tools.
type AgentInfo struct {
	ID         string
	Hostname   string
	Attributes map[string]string // rack_id and Config.Attributes, rendered as text
	Total      Resources
	Used       Resources // held by tasks that have not terminated
	Offered    Resources // held by outstanding offers
	Lost       bool      // LoseAgent was called
	// Partitioned: PartitionAgent was called, HealAgent not yet.
	Partitioned bool
}

// Resources is an amount of an agent's resources, reservations summed.
type Resources struct {
	Cpus, Mem, Disk float64
	Ports           []PortRange
}

// PortRange is an inclusive range of ports.
type PortRange struct{ Begin, End uint64 }

// TaskInfo is a snapshot of one task the stand-in knows.
type TaskInfo struct {
	ID          string
	Name        string
	FrameworkID string
	AgentID     string
	State       mesos.TaskState
	PID         int    // the process (group leader) id; 0 before launch
	Sandbox     string // the task's sandbox directory
	Healthy     *bool  // nil until a health check has reported
	Pending     int    // status updates not yet acknowledged
	Recovered   bool   // recovered from a Master that crashed (see recover.go)
}

// New prepares a Master (agents, work directory) without serving it yet.
//
// If cfg.WorkDir holds the tasks of an earlier Master that did not get to
// close (it was killed, or the machine lost power), New recovers them, as a
// restarted Mesos agent recovers its executors: with the same agent layout,
// the agents keep their ids, a task whose process still runs is adopted
// (RUNNING, in a disconnected framework that has its failover_timeout, from
// Start, to re-subscribe), one whose process ended is reported terminal; the
// process groups of tasks that cannot be recovered (no checkpoint, another
// layout) are killed, and logged. See recover.go.
func New(cfg Config) (*Master, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	attrs, err := parseAttributes(cfg.Attributes)
	if err != nil {
		return nil, err
	}
	ownsDir, err := cfg.makeWorkDir()
	if err != nil {
		return nil, err
	}
	id := newMasterID()
	prefix, compatible, err := agentIdentity(cfg, id)
	if err != nil {
		if ownsDir {
			_ = os.RemoveAll(cfg.WorkDir)
		}
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Master{
		cfg:        cfg,
		ownsDir:    ownsDir,
		id:         id,
		started:    time.Now(),
		docker:     pingDocker,
		ctx:        ctx,
		cancel:     cancel,
		agentByID:  map[string]*agent{},
		frameworks: map[string]*framework{},
		removed:    map[string]bool{},
		offers:     map[string]*offer{},
		live:       map[*task]struct{}{},
		active:     map[string]*task{},
		gc:         sandboxGC{byKey: map[string][]string{}, keyOf: map[string]string{}},
	}
	for i := 0; i < cfg.Agents; i++ {
		a := &agent{
			index:    i,
			id:       fmt.Sprintf("%s-S%d", prefix, i),
			hostname: agentAddress(i),
			tasks:    map[*task]struct{}{},
		}
		a.attributes = append([]mesos.Attribute{{
			Name: "rack_id",
			Type: mesos.TEXT,
			Text: &mesos.Value_Text{Value: fmt.Sprintf("rack-%d", i%cfg.Racks+1)},
		}}, attrs...)
		a.total = agentResources(cfg, i)
		a.free = a.total.clone()
		a.used = resourceSet{}
		m.agents = append(m.agents, a)
		m.agentByID[a.id] = a
	}
	m.mu.Lock()
	m.recoverTasks(compatible)
	m.mu.Unlock()
	return m, nil
}

// agentAddress returns the loopback address of agent i: 127.0.0.2, 127.0.0.3, ...
func agentAddress(i int) string {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, 127<<24+uint32(i)+2)
	return ip.String()
}

// agentResources returns agent i's resources: Config.Roles' shares of the
// scalars reserved, the rest and the agent's port range unreserved.
func agentResources(cfg Config, i int) resourceSet {
	set := resourceSet{}
	rest := pool{cpus: cfg.Cpus, mem: cfg.Mem, disk: cfg.Disk}
	for _, role := range sortedKeys(cfg.Roles) {
		share := cfg.Roles[role]
		p := pool{cpus: round3(cfg.Cpus * share), mem: round3(cfg.Mem * share), disk: round3(cfg.Disk * share)}
		p = pool{cpus: minf(p.cpus, rest.cpus), mem: minf(p.mem, rest.mem), disk: minf(p.disk, rest.disk)}
		rest = rest.minus(p)
		set[role] = p
	}
	if cfg.PortsPerAgent > 0 {
		begin := uint64(cfg.FirstPort + i*cfg.PortsPerAgent)
		rest.ports = mesos.Ranges{{Begin: begin, End: begin + uint64(cfg.PortsPerAgent) - 1}}
	}
	set[unreserved] = rest
	return set
}

func minf(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

// parseAttributes types Config.Attributes the way a Mesos agent types its
// --attributes flag.
func parseAttributes(attrs map[string]string) ([]mesos.Attribute, error) {
	var out []mesos.Attribute
	for _, name := range sortedKeys(attrs) {
		v := strings.TrimSpace(attrs[name])
		a := mesos.Attribute{Name: name}
		switch {
		case strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]"):
			var rs mesos.Ranges
			for _, part := range strings.Split(v[1:len(v)-1], ",") {
				lo, hi, ok := strings.Cut(strings.TrimSpace(part), "-")
				b, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
				e, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 64)
				if !ok || err1 != nil || err2 != nil || b > e {
					return nil, fmt.Errorf("localmesos: attribute %s: %q is not a range list", name, v)
				}
				rs = append(rs, mesos.Value_Range{Begin: b, End: e})
			}
			a.Type = mesos.RANGES
			a.Ranges = &mesos.Value_Ranges{Range: rs.Sort().Squash()}
		case strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}"):
			var items []string
			for _, item := range strings.Split(v[1:len(v)-1], ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			a.Type = mesos.SET
			a.Set = &mesos.Value_Set{Item: items}
		default:
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				a.Type = mesos.SCALAR
				a.Scalar = &mesos.Value_Scalar{Value: f}
			} else {
				a.Type = mesos.TEXT
				a.Text = &mesos.Value_Text{Value: v}
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// newMasterID returns a fresh master id in Mesos' UUID form.
func newMasterID() string {
	b := newUUID()
	return fmt.Sprintf("%s-%s-%s-%s-%s", hex.EncodeToString(b[0:4]), hex.EncodeToString(b[4:6]),
		hex.EncodeToString(b[6:8]), hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16]))
}

// newUUID returns 16 random bytes with the version-4 UUID bits set, as the
// uuid of a status update.
func newUUID() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("localmesos: no randomness: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// Start listens on Config.Listen and serves the API in the background; it
// returns once the listener is open. The master runs until Close, or until ctx
// is cancelled, which closes it the same way.
func (m *Master) Start(ctx context.Context) error {
	err := errors.New("localmesos: Start called twice")
	m.startOnce.Do(func() { err = m.start(ctx) })
	return err
}

func (m *Master) start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", m.cfg.Listen)
	if err != nil {
		return fmt.Errorf("localmesos: listen on %s: %w", m.cfg.Listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	m.listener = ln
	m.host = addr.IP.String()
	if addr.IP.IsUnspecified() {
		m.host = "127.0.0.1"
	}
	m.port = addr.Port
	m.url = "http://" + net.JoinHostPort(m.host, strconv.Itoa(m.port))
	m.server = &http.Server{
		Handler:           m.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout or WriteTimeout: a subscription is one long response.
		// Idle keep-alive connections are closed, headers are bounded.
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 64 << 10,
		BaseContext:    func(net.Listener) context.Context { return m.ctx },
	}
	m.mu.Lock()
	m.startRecovered()
	m.mu.Unlock()
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.cfg.Logf("localmesos: serve: %v", err)
		}
	}()
	go func() {
		defer m.wg.Done()
		m.allocatorLoop()
	}()
	if ctx.Done() != nil {
		go func() {
			select {
			case <-ctx.Done():
				m.Close()
			case <-m.ctx.Done():
			}
		}()
	}
	m.cfg.Logf("localmesos: master %s serving %s with %d agents in %s", m.id, m.url, len(m.agents), m.cfg.WorkDir)
	return nil
}

// URL returns the master's base URL, "http://127.0.0.1:port"; the scheduler
// endpoint is URL()+"/api/v1/scheduler". It is empty before Start.
func (m *Master) URL() string { return m.url }

// ID returns the master's id, the prefix of the framework and offer ids it
// makes. It is fresh on every start, as a Mesos master's; the agent ids are
// "<ID>-S<i>" on a new WorkDir, and keep the prefix of the Master that created
// the WorkDir as long as the agent layout stays the same (see recover.go).
func (m *Master) ID() string { return m.id }

// WorkDir returns the directory the sandboxes live in.
func (m *Master) WorkDir() string { return m.cfg.WorkDir }

// Close stops serving (closing every subscription stream), kills every task's
// process group (SIGTERM, then SIGKILL after a second), adopted ones included,
// and waits for them all to be reaped: a Master that closes leaves no task to
// recover (only one that crashes does). A temporary work directory is
// removed. Close is idempotent.
func (m *Master) Close() error {
	m.closeOnce.Do(func() { m.closeErr = m.close() })
	return m.closeErr
}

func (m *Master) close() error {
	m.mu.Lock()
	m.closed = true
	var live []*task
	for t := range m.live {
		live = append(live, t)
	}
	for _, fw := range m.frameworks {
		if fw.stream != nil {
			fw.stream.close()
		}
		if fw.failoverTimer != nil {
			fw.failoverTimer.Stop()
		}
		for _, t := range fw.tasks {
			t.stopRetry()
		}
	}
	for _, t := range live {
		t.gone = true
		t.signal(syscall.SIGTERM)
	}
	m.mu.Unlock()
	m.cancel()

	var errs []error
	if m.server != nil {
		if err := m.server.Close(); err != nil {
			errs = append(errs, fmt.Errorf("localmesos: close server: %w", err))
		}
	}
	done := make(chan struct{})
	go func() { m.procs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		m.mu.Lock()
		for _, t := range live {
			t.signal(syscall.SIGKILL)
		}
		m.mu.Unlock()
		<-done
	}
	m.wg.Wait()
	if m.ownsDir {
		if err := os.RemoveAll(m.cfg.WorkDir); err != nil {
			errs = append(errs, fmt.Errorf("localmesos: remove work dir: %w", err))
		}
	}
	m.cfg.Logf("localmesos: master %s stopped", m.id)
	return errors.Join(errs...)
}

// LoseAgent makes an agent lost, as if it had been partitioned away for good:
// its task processes are killed, its tasks become TASK_LOST (TASK_UNREACHABLE
// for PARTITION_AWARE frameworks), its outstanding offers are rescinded, every
// connected framework gets a FAILURE event for it, and it makes no more
// offers. Tools reach it as POST /stride/agents/<agent-id>/lose.
func (m *Master) LoseAgent(agentID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agentByID[agentID]
	if a == nil {
		return fmt.Errorf("localmesos: lose agent: no agent %q", agentID)
	}
	if a.lost {
		return fmt.Errorf("localmesos: lose agent: %s is already lost", agentID)
	}
	m.loseAgent(a)
	return nil
}

// PartitionAgent cuts an agent off from the master, as a network partition or a
// crashed agent process does on a real cluster: its task processes keep
// running, and go on producing status updates that wait on the agent; its
// outstanding offers are rescinded and it makes no more; once the master gives
// up on it (at once here; after its ping timeouts on a real master), each of
// its tasks is reported TASK_UNREACHABLE (TASK_LOST to frameworks that are not
// PARTITION_AWARE) with the real master's reason and message, and every
// connected framework gets a FAILURE event for it. While it is cut off, a KILL
// of one of its tasks is answered as a reconciliation (the task is
// unreachable) and reconciliation reports its tasks unreachable. HealAgent
// ends the partition. Tools reach it as POST
// /stride/agents/<agent-id>/partition.
func (m *Master) PartitionAgent(agentID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agentByID[agentID]
	switch {
	case a == nil:
		return fmt.Errorf("localmesos: partition agent: no agent %q", agentID)
	case a.lost:
		return fmt.Errorf("localmesos: partition agent: %s is lost", agentID)
	case a.partitioned:
		return fmt.Errorf("localmesos: partition agent: %s is already cut off", agentID)
	}
	m.partitionAgent(a)
	return nil
}

// HealAgent ends an agent's partition, as a real agent that re-registers after
// it was marked unreachable: every framework hears the latest state of each of
// its tasks there that is still running (TASK_RUNNING, reason
// REASON_AGENT_REREGISTERED), then the updates the agent kept meanwhile, in
// order; the agent makes offers again. Tools reach it as POST
// /stride/agents/<agent-id>/heal.
func (m *Master) HealAgent(agentID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.agentByID[agentID]
	switch {
	case a == nil:
		return fmt.Errorf("localmesos: heal agent: no agent %q", agentID)
	case !a.partitioned:
		return fmt.Errorf("localmesos: heal agent: %s is not cut off", agentID)
	}
	m.healAgent(a)
	return nil
}

// Agents returns a snapshot of every agent, in id order.
func (m *Master) Agents() []AgentInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	offered := map[*agent]resourceSet{}
	for _, o := range m.offers {
		if offered[o.agent] == nil {
			offered[o.agent] = resourceSet{}
		}
		offered[o.agent].add(o.res)
	}
	out := make([]AgentInfo, 0, len(m.agents))
	for _, a := range m.agents {
		info := AgentInfo{
			ID:          a.id,
			Hostname:    a.hostname,
			Attributes:  map[string]string{},
			Total:       exportResources(a.total.total()),
			Used:        exportResources(a.used.total()),
			Offered:     exportResources(offered[a].total()),
			Lost:        a.lost,
			Partitioned: a.partitioned,
		}
		for _, attr := range a.attributes {
			info.Attributes[attr.Name] = attributeText(attr)
		}
		out = append(out, info)
	}
	return out
}

// Tasks returns a snapshot of every task the master knows (launching, running,
// or terminal but not yet acknowledged), ordered by framework and task id.
func (m *Master) Tasks() []TaskInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TaskInfo
	for _, fw := range m.frameworks {
		for _, t := range fw.tasks {
			out = append(out, t.snapshot())
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FrameworkID != out[j].FrameworkID {
			return out[i].FrameworkID < out[j].FrameworkID
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// exportResources converts a pool to the exported Resources.
func exportResources(p pool) Resources {
	r := Resources{Cpus: p.cpus, Mem: p.mem, Disk: p.disk}
	for _, rg := range p.ports {
		r.Ports = append(r.Ports, PortRange{Begin: rg.Begin, End: rg.End})
	}
	return r
}

// attributeText renders an attribute's value as text, as /master/state does.
func attributeText(a mesos.Attribute) string {
	switch a.Type {
	case mesos.SCALAR:
		return strconv.FormatFloat(a.GetScalar().GetValue(), 'f', -1, 64)
	case mesos.RANGES:
		return formatRanges(a.GetRanges().GetRange())
	case mesos.SET:
		return "{" + strings.Join(a.GetSet().GetItem(), ",") + "}"
	default:
		return a.GetText().GetValue()
	}
}

// masterInfo is the MasterInfo sent with SUBSCRIBED; protobuf says whether it
// goes on a protobuf stream (see Capabilities).
func (m *Master) masterInfo(protobuf bool) *mesos.MasterInfo {
	ip := net.ParseIP(m.host).To4()
	var ipnum uint32
	if ip != nil {
		// Mesos keeps the address in network byte order in a uint32.
		ipnum = binary.LittleEndian.Uint32(ip)
	}
	port := uint32(m.port)
	// A 1.11 master's capabilities are AGENT_UPDATE, AGENT_DRAINING and
	// QUOTA_V2, which mesos-go's MasterInfo does not name: it is sent as its
	// number on protobuf streams; mesos-go cannot write it in JSON, where a
	// real master's "QUOTA_V2" decodes as UNKNOWN.
	quotaV2 := mesos.MasterInfo_Capability_Type(masterCapabilityQuotaV2)
	if !protobuf {
		quotaV2 = mesos.MasterInfo_Capability_UNKNOWN
	}
	return &mesos.MasterInfo{
		ID:       m.id,
		IP:       ipnum,
		Port:     &port,
		PID:      proto(fmt.Sprintf("master@%s:%d", m.host, m.port)),
		Hostname: proto(m.host),
		Version:  proto(version),
		Address:  &mesos.Address{Hostname: proto(m.host), IP: proto(m.host), Port: int32(m.port)},
		Capabilities: []mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE},
			{Type: mesos.MasterInfo_Capability_AGENT_DRAINING},
			{Type: quotaV2},
		},
	}
}

// masterCapabilityQuotaV2 is MasterInfo.Capability.Type QUOTA_V2 of Mesos 1.9+.
const masterCapabilityQuotaV2 = 3

// logf logs through Config.Logf.
func (m *Master) logf(format string, args ...any) { m.cfg.Logf("localmesos: "+format, args...) }
