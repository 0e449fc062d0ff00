package localmesos

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Messages of ERROR events, as a Mesos master words them.
const (
	msgFrameworkRemoved    = "Framework has been removed"
	msgFrameworkFailedOver = "Framework failed over"
)

// framework is one registered scheduler, connected or within its failover
// timeout.
type framework struct {
	id            string
	info          mesos.FrameworkInfo
	roles         []string        // sorted; legacy frameworks have their one role
	suppressed    map[string]bool // roles that get no offers until REVIVE
	filters       []*filter
	stream        *stream // nil while disconnected
	tasks         map[string]*task
	completed     []*task // terminal and acknowledged, most recent last
	unreachable   map[string]*task
	offers        map[string]*offer
	failoverTimer *time.Timer
	epoch         int // bumped on every (re)subscription, to ignore stale timers
	// infoGen counts the FrameworkInfos installed; infoWritten says which one
	// is recorded in the framework's directory on an agent (by agent index).
	infoGen      int
	infoWritten  map[int]int
	recovered    bool // recovered from an earlier run and not re-subscribed since
	registered   time.Time
	reregistered time.Time
	unregistered time.Time
}

// frameworkRecord is what /master/state keeps of a removed framework.
type frameworkRecord struct {
	id, name, user string
	roles          []string
	registered     time.Time
	unregistered   time.Time
	completed      []*task
}

// filter withholds resources of one agent from one role of a framework until a
// deadline: a DECLINE's refuse_seconds, or an ACCEPT's for what it left
// unused. Like Mesos' refused-resources filter, it only withholds offers whose
// resources it covers: once more is free on the agent, the agent is offered
// again.
type filter struct {
	agent *agent
	role  string
	res   resourceSet
	until time.Time
}

// hasCapability reports whether the framework declared capability c.
func hasCapability(info *mesos.FrameworkInfo, c mesos.FrameworkInfo_Capability_Type) bool {
	for _, fc := range info.Capabilities {
		if fc.Type == c {
			return true
		}
	}
	return false
}

func (fw *framework) partitionAware() bool {
	return hasCapability(&fw.info, mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

func (fw *framework) killingState() bool {
	return hasCapability(&fw.info, mesos.FrameworkInfo_Capability_TASK_KILLING_STATE)
}

func (fw *framework) refinement() bool {
	return hasCapability(&fw.info, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
}

// frameworkRoles returns the roles a framework subscribes with: roles for
// MULTI_ROLE frameworks, the single (default "*") role otherwise.
func frameworkRoles(info *mesos.FrameworkInfo) []string {
	if hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE) {
		roles := append([]string(nil), info.Roles...)
		sort.Strings(roles)
		return roles
	}
	return []string{info.GetRole()}
}

// validateRole checks a role name as Mesos does: not empty, not "." or "..",
// not starting with "-", no whitespace, slashes only between path components.
func validateRole(role string) error {
	switch {
	case role == "":
		return errors.New("empty role name is invalid")
	case role == "*":
		return nil
	case strings.HasPrefix(role, "-"):
		return fmt.Errorf("role %q cannot start with '-'", role)
	case strings.ContainsAny(role, " \t\n\r\f\v\x7f*"):
		return fmt.Errorf("role %q contains invalid characters", role)
	}
	for _, part := range strings.Split(role, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("role %q has an invalid path component", role)
		}
	}
	return nil
}

// validateFrameworkInfo applies the checks a master makes of a subscribing
// framework; the error becomes the message of an ERROR event.
func validateFrameworkInfo(info *mesos.FrameworkInfo, suppressed []string) error {
	multi := hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE)
	switch {
	case multi && info.Role != nil:
		return errors.New("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable")
	case !multi && len(info.Roles) > 0:
		return errors.New("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable")
	}
	seen := map[string]bool{}
	for _, role := range frameworkRoles(info) {
		if err := validateRole(role); err != nil {
			return fmt.Errorf("'FrameworkInfo.roles' contains invalid role: %w", err)
		}
		if seen[role] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate items: %s", role)
		}
		seen[role] = true
	}
	for _, role := range suppressed {
		if !seen[role] {
			return fmt.Errorf("Suppressed role '%s' is not contained in the list of roles", role)
		}
	}
	if id := info.GetID().GetValue(); id != "" {
		if err := validateID(id); err != nil {
			return fmt.Errorf("invalid FrameworkID: %w", err)
		}
	}
	if ft := info.GetFailoverTimeout(); ft < 0 || math.IsNaN(ft) || math.IsInf(ft, 0) {
		return fmt.Errorf("Invalid failover_timeout: %v", ft)
	}
	return nil
}

// validateID checks an id (of a framework or task) as Mesos does.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("ID must not be empty")
	case len(id) > 255:
		return errors.New("ID must not be greater than 255 characters")
	case id == "." || id == "..":
		return fmt.Errorf("'%s' is disallowed", id)
	}
	for _, c := range id {
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return fmt.Errorf("'%s' contains invalid characters", id)
		}
	}
	return nil
}

// subscribe handles a SUBSCRIBE on stream s: a new framework, a re-subscription
// of a known one (the old stream, if any, gets ERROR "Framework failed over"
// and is closed, as Mesos always fails over the old connection), or an ERROR
// for an invalid or removed framework. Called with m.mu held.
func (m *Master) subscribe(s *stream, sub *scheduler.Call_Subscribe) {
	info := *sub.FrameworkInfo
	if err := validateFrameworkInfo(&info, sub.SuppressedRoles); err != nil {
		m.logf("refusing subscription of framework %q: %v", info.Name, err)
		s.sendError(err.Error())
		s.close()
		return
	}
	id := info.GetID().GetValue()
	if id != "" && m.removed[id] {
		m.logf("refusing subscription of framework %s: %s", id, msgFrameworkRemoved)
		s.sendError(msgFrameworkRemoved)
		s.close()
		return
	}
	now := time.Now()
	fw := m.frameworks[id]
	switch {
	case id == "":
		for id == "" || m.frameworks[id] != nil || m.removed[id] {
			id = fmt.Sprintf("%s-%04d", m.id, m.nextFramework)
			m.nextFramework++
		}
		fallthrough
	case fw == nil:
		// A framework id the master does not know (but never removed) is
		// taken as one registered before a master failover, as Mesos does.
		info.ID = &mesos.FrameworkID{Value: id}
		fw = &framework{
			id:          id,
			tasks:       map[string]*task{},
			unreachable: map[string]*task{},
			offers:      map[string]*offer{},
			infoWritten: map[int]int{},
			registered:  now,
		}
		m.frameworks[id] = fw
		m.logf("framework %s (%s) subscribed", id, info.Name)
	default:
		info.ID = &mesos.FrameworkID{Value: id}
		// User, principal and checkpoint cannot change on re-subscription:
		// the master keeps the old values, as Mesos does.
		info.User = fw.info.User
		info.Principal = fw.info.Principal
		info.Checkpoint = fw.info.Checkpoint
		if fw.stream != nil {
			fw.stream.sendError(msgFrameworkFailedOver)
			fw.stream.close()
			fw.stream = nil
		}
		if fw.failoverTimer != nil {
			fw.failoverTimer.Stop()
			fw.failoverTimer = nil
		}
		// The offers of the old connection are discarded (no RESCIND: the new
		// scheduler never saw them).
		for _, o := range fw.offers {
			m.removeOffer(o, false)
		}
		fw.reregistered = now
		if fw.recovered {
			m.logf("framework %s (%s) re-subscribed: it gets its %d recovered tasks back", id, info.Name, len(fw.tasks))
		} else {
			m.logf("framework %s (%s) re-subscribed", id, info.Name)
		}
		fw.recovered = false
	}
	fw.epoch++
	fw.applyInfo(info, sub.SuppressedRoles)
	m.recheckpointFramework(fw)
	fw.stream = s
	s.fw = fw
	secs := m.cfg.HeartbeatInterval.Seconds()
	s.send(&scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED,
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkID:              &mesos.FrameworkID{Value: id},
			HeartbeatIntervalSeconds: &secs,
			MasterInfo:               m.masterInfo(s.codec.Type == codecs.MediaTypeProtobuf),
		},
	})
	s.send(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	// Status updates that were not acknowledged are sent again right away.
	for _, t := range fw.sortedTasks() {
		if len(t.pending) > 0 {
			m.sendHead(t)
		}
	}
}

// applyInfo installs a (new) FrameworkInfo and set of suppressed roles: offers
// to roles the framework left are discarded, and filters of roles that leave
// the suppressed set are cleared, as UPDATE_FRAMEWORK does in Mesos.
func (fw *framework) applyInfo(info mesos.FrameworkInfo, suppressed []string) {
	if !fw.info.Equal(&info) {
		fw.infoGen++
	}
	fw.info = info
	fw.roles = frameworkRoles(&info)
	old := fw.suppressed
	fw.suppressed = map[string]bool{}
	for _, r := range suppressed {
		fw.suppressed[r] = true
	}
	for role := range old {
		if !fw.suppressed[role] {
			fw.clearFilters(role)
		}
	}
}

// hasRole reports whether the framework is subscribed in role.
func (fw *framework) hasRole(role string) bool {
	for _, r := range fw.roles {
		if r == role {
			return true
		}
	}
	return false
}

// clearFilters drops the filters of a role ("" for all roles).
func (fw *framework) clearFilters(role string) {
	kept := fw.filters[:0]
	for _, f := range fw.filters {
		if role != "" && f.role != role {
			kept = append(kept, f)
		}
	}
	for i := len(kept); i < len(fw.filters); i++ {
		fw.filters[i] = nil
	}
	fw.filters = kept
}

// filtered reports whether a filter withholds res of agent a from role.
func (fw *framework) filtered(a *agent, role string, res resourceSet, now time.Time) bool {
	for _, f := range fw.filters {
		if f.agent == a && f.role == role && now.Before(f.until) && f.res.contains(res) {
			return true
		}
	}
	return false
}

// addFilter withholds res of agent a from role for d.
func (fw *framework) addFilter(a *agent, role string, res resourceSet, d time.Duration) {
	if d <= 0 || res.isEmpty() {
		return
	}
	fw.filters = append(fw.filters, &filter{agent: a, role: role, res: res.clone(), until: time.Now().Add(d)})
}

// expireFilters drops filters whose deadline has passed.
func (fw *framework) expireFilters(now time.Time) {
	kept := fw.filters[:0]
	for _, f := range fw.filters {
		if now.Before(f.until) {
			kept = append(kept, f)
		}
	}
	for i := len(kept); i < len(fw.filters); i++ {
		fw.filters[i] = nil
	}
	fw.filters = kept
}

// sortedTasks returns the framework's tasks in id order.
func (fw *framework) sortedTasks() []*task {
	out := make([]*task, 0, len(fw.tasks))
	for _, t := range fw.tasks {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out
}

// streamEnded is called when the writer of a subscription stream returns
// (the scheduler went away, or the master closed the stream). If it was the
// framework's current stream, the framework is disconnected: its offers are
// withdrawn and its failover timeout starts. Takes m.mu.
func (m *Master) streamEnded(s *stream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := s.fw
	if m.closed || fw == nil || fw.stream != s || m.frameworks[fw.id] != fw {
		return
	}
	fw.stream = nil
	for _, o := range fw.offers {
		m.removeOffer(o, false)
	}
	m.logf("framework %s disconnected; giving it %v to fail over", fw.id, seconds(fw.info.GetFailoverTimeout()))
	m.startFailover(fw)
}

// startFailover starts the failover timeout of a disconnected framework: it
// is removed unless it re-subscribes in time. Called with m.mu held.
func (m *Master) startFailover(fw *framework) {
	timeout := seconds(fw.info.GetFailoverTimeout())
	if timeout <= 0 {
		m.removeFramework(fw, "its failover timeout is 0")
		return
	}
	epoch := fw.epoch
	fw.failoverTimer = time.AfterFunc(timeout, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed || m.frameworks[fw.id] != fw || fw.stream != nil || fw.epoch != epoch {
			return
		}
		m.removeFramework(fw, "its failover timeout elapsed")
	})
}

// removeFramework tears a framework down: its task processes are killed, its
// offers withdrawn, its stream closed (without an ERROR, as for TEARDOWN), and
// its id remembered so that a later SUBSCRIBE with it gets ERROR "Framework has
// been removed". Called with m.mu held.
func (m *Master) removeFramework(fw *framework, why string) {
	m.logf("removing framework %s: %s", fw.id, why)
	if fw.failoverTimer != nil {
		fw.failoverTimer.Stop()
		fw.failoverTimer = nil
	}
	for _, o := range fw.offers {
		m.removeOffer(o, false)
	}
	for _, t := range fw.sortedTasks() {
		t.stopRetry()
		// The resources of a task whose process still runs are released
		// when it has been reaped (or, launching, when it gives up).
		t.gone = true
		if !t.terminal {
			m.killTask(t, t.killGrace(nil), false)
		}
		fw.remember(t)
	}
	fw.tasks = map[string]*task{}
	fw.unreachable = map[string]*task{}
	fw.filters = nil
	if fw.stream != nil {
		fw.stream.close()
		fw.stream = nil
	}
	fw.unregistered = time.Now()
	delete(m.frameworks, fw.id)
	m.removed[fw.id] = true
	m.completedFrameworks = append(m.completedFrameworks, frameworkRecord{
		id: fw.id, name: fw.info.Name, user: fw.info.User, roles: fw.roles,
		registered: fw.registered, unregistered: fw.unregistered, completed: fw.completed,
	})
	if n := len(m.completedFrameworks); n > maxCompletedFrameworks {
		m.completedFrameworks = append([]frameworkRecord(nil), m.completedFrameworks[n-maxCompletedFrameworks:]...)
	}
}

// remember keeps a task that is done with in the framework's bounded list of
// completed tasks.
func (fw *framework) remember(t *task) {
	fw.completed = append(fw.completed, t)
	if n := len(fw.completed); n > maxCompletedTasks {
		fw.completed = append([]*task(nil), fw.completed[n-maxCompletedTasks:]...)
	}
}

// updateFramework handles UPDATE_FRAMEWORK: the fields Mesos lets a framework
// change (name, roles, capabilities, failover_timeout, ...) and its suppressed
// roles. Called with m.mu held; the error is a 400's message.
func (m *Master) updateFramework(fw *framework, upd *scheduler.Call_UpdateFramework) error {
	info := upd.FrameworkInfo
	if info.GetID().GetValue() != fw.id {
		return errors.New("'framework_info.id' differs from 'framework_id'")
	}
	switch {
	case info.User != fw.info.User:
		return errors.New("Updating 'FrameworkInfo.user' is unsupported")
	case info.GetPrincipal() != fw.info.GetPrincipal():
		return errors.New("Updating 'FrameworkInfo.principal' is unsupported")
	case info.GetCheckpoint() != fw.info.GetCheckpoint():
		return errors.New("Updating 'FrameworkInfo.checkpoint' is unsupported")
	}
	if err := validateFrameworkInfo(&info, upd.SuppressedRoles); err != nil {
		return err
	}
	fw.applyInfo(info, upd.SuppressedRoles)
	m.recheckpointFramework(fw)
	for _, o := range fw.offers {
		if !fw.hasRole(o.role) {
			m.removeOffer(o, true)
		}
	}
	kept := fw.filters[:0]
	for _, f := range fw.filters {
		if fw.hasRole(f.role) {
			kept = append(kept, f)
		}
	}
	fw.filters = kept
	return nil
}
