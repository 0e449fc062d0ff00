package localmesos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The JSON of GET /master/state, in the shape of Mesos' state endpoint (the
// fields a tool is likely to read), plus the stand-in's own "sandbox", "pid"
// and "recovered" of each task.
type (
	stateJSON struct {
		Version             string          `json:"version"`
		GitTag              string          `json:"git_tag"`
		ID                  string          `json:"id"`
		PID                 string          `json:"pid"`
		Hostname            string          `json:"hostname"`
		Leader              string          `json:"leader"`
		StartTime           float64         `json:"start_time"`
		ElectedTime         float64         `json:"elected_time"`
		ActivatedSlaves     int             `json:"activated_slaves"`
		DeactivatedSlaves   int             `json:"deactivated_slaves"`
		UnreachableSlaves   int             `json:"unreachable_slaves"`
		Flags               map[string]any  `json:"flags"`
		Slaves              []slaveJSON     `json:"slaves"`
		Frameworks          []frameworkJSON `json:"frameworks"`
		CompletedFrameworks []frameworkJSON `json:"completed_frameworks"`
		OrphanTasks         []taskJSON      `json:"orphan_tasks"`
	}
	slaveJSON struct {
		ID                  string                   `json:"id"`
		PID                 string                   `json:"pid"`
		Hostname            string                   `json:"hostname"`
		Port                int                      `json:"port"`
		RegisteredTime      float64                  `json:"registered_time"`
		Resources           resourcesJSON            `json:"resources"`
		UsedResources       resourcesJSON            `json:"used_resources"`
		OfferedResources    resourcesJSON            `json:"offered_resources"`
		ReservedResources   map[string]resourcesJSON `json:"reserved_resources"`
		UnreservedResources resourcesJSON            `json:"unreserved_resources"`
		Attributes          map[string]any           `json:"attributes"`
		Active              bool                     `json:"active"`
		Version             string                   `json:"version"`
	}
	frameworkJSON struct {
		ID               string        `json:"id"`
		Name             string        `json:"name"`
		User             string        `json:"user"`
		Hostname         string        `json:"hostname,omitempty"`
		WebuiURL         string        `json:"webui_url,omitempty"`
		Role             string        `json:"role,omitempty"`
		Roles            []string      `json:"roles"`
		Capabilities     []string      `json:"capabilities"`
		Active           bool          `json:"active"`
		Connected        bool          `json:"connected"`
		Recovered        bool          `json:"recovered"`
		FailoverTimeout  float64       `json:"failover_timeout"`
		Checkpoint       bool          `json:"checkpoint"`
		RegisteredTime   float64       `json:"registered_time"`
		ReregisteredTime float64       `json:"reregistered_time,omitempty"`
		UnregisteredTime float64       `json:"unregistered_time,omitempty"`
		SuppressedRoles  []string      `json:"suppressed_roles"`
		UsedResources    resourcesJSON `json:"used_resources"`
		OfferedResources resourcesJSON `json:"offered_resources"`
		Tasks            []taskJSON    `json:"tasks"`
		UnreachableTasks []taskJSON    `json:"unreachable_tasks"`
		CompletedTasks   []taskJSON    `json:"completed_tasks"`
		Offers           []offerJSON   `json:"offers"`
		Executors        []any         `json:"executors"`
	}
	taskJSON struct {
		ID          string          `json:"id"`
		Name        string          `json:"name"`
		FrameworkID string          `json:"framework_id"`
		ExecutorID  string          `json:"executor_id"`
		SlaveID     string          `json:"slave_id"`
		State       string          `json:"state"`
		Resources   resourcesJSON   `json:"resources"`
		Role        string          `json:"role,omitempty"`
		Statuses    []statusJSON    `json:"statuses"`
		Labels      json.RawMessage `json:"labels,omitempty"`
		Discovery   json.RawMessage `json:"discovery,omitempty"`
		Sandbox     string          `json:"sandbox"`
		PID         int             `json:"pid,omitempty"`
		Recovered   bool            `json:"recovered,omitempty"`
	}
	statusJSON struct {
		State           string          `json:"state"`
		Timestamp       float64         `json:"timestamp"`
		Healthy         *bool           `json:"healthy,omitempty"`
		ContainerStatus json.RawMessage `json:"container_status,omitempty"`
	}
	offerJSON struct {
		ID          string        `json:"id"`
		FrameworkID string        `json:"framework_id"`
		SlaveID     string        `json:"slave_id"`
		Resources   resourcesJSON `json:"resources"`
	}
	resourcesJSON struct {
		Cpus  float64 `json:"cpus"`
		Gpus  float64 `json:"gpus"`
		Mem   float64 `json:"mem"`
		Disk  float64 `json:"disk"`
		Ports string  `json:"ports,omitempty"`
	}
)

// handleState serves GET /master/state.
func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "Expecting one of { 'GET' }, but received '%s'", r.Method)
		return
	}
	writeJSON(w, m.state())
}

// handleSlaves serves GET /master/slaves: the agents of /master/state alone, as
// Mesos answers it ({"slaves": [...], "recovered_slaves": []}).
func (m *Master) handleSlaves(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		httpError(w, http.StatusMethodNotAllowed, "Expecting one of { 'GET' }, but received '%s'", r.Method)
		return
	}
	writeJSON(w, struct {
		Slaves          []slaveJSON `json:"slaves"`
		RecoveredSlaves []any       `json:"recovered_slaves"`
	}{m.state().Slaves, []any{}})
}

// state builds the /master/state document.
func (m *Master) state() stateJSON {
	m.mu.Lock()
	defer m.mu.Unlock()
	pid := fmt.Sprintf("master@%s:%d", m.host, m.port)
	s := stateJSON{
		Version:     version,
		GitTag:      "stride-localmesos",
		ID:          m.id,
		PID:         pid,
		Hostname:    m.host,
		Leader:      pid,
		StartTime:   epochSeconds(m.started),
		ElectedTime: epochSeconds(m.started),
		Flags: map[string]any{
			"allocation_interval": m.cfg.OfferInterval.String(),
			"offer_timeout":       m.cfg.OfferTimeout.String(),
			"work_dir":            m.cfg.WorkDir,
		},
		Slaves:              []slaveJSON{},
		Frameworks:          []frameworkJSON{},
		CompletedFrameworks: []frameworkJSON{},
		OrphanTasks:         []taskJSON{},
	}
	offered := map[*agent]resourceSet{}
	for _, o := range m.offers {
		if offered[o.agent] == nil {
			offered[o.agent] = resourceSet{}
		}
		offered[o.agent].add(o.res)
	}
	for _, a := range m.agents {
		if a.lost || a.partitioned {
			s.UnreachableSlaves++
			continue
		}
		s.ActivatedSlaves++
		sj := slaveJSON{
			ID:                  a.id,
			PID:                 fmt.Sprintf("slave(1)@%s:%d", a.hostname, m.port),
			Hostname:            a.hostname,
			Port:                m.port,
			RegisteredTime:      epochSeconds(m.started),
			Resources:           toResourcesJSON(a.total.total()),
			UsedResources:       toResourcesJSON(a.used.total()),
			OfferedResources:    toResourcesJSON(offered[a].total()),
			ReservedResources:   map[string]resourcesJSON{},
			UnreservedResources: toResourcesJSON(a.total[unreserved]),
			Attributes:          map[string]any{},
			Active:              true,
			Version:             version,
		}
		for role, p := range a.total {
			if role != unreserved {
				sj.ReservedResources[role] = toResourcesJSON(p)
			}
		}
		for _, attr := range a.attributes {
			if attr.Type == mesos.SCALAR {
				sj.Attributes[attr.Name] = attr.GetScalar().GetValue()
			} else {
				sj.Attributes[attr.Name] = attributeText(attr)
			}
		}
		s.Slaves = append(s.Slaves, sj)
	}
	for _, id := range sortedKeys(m.frameworks) {
		fw := m.frameworks[id]
		fj := frameworkJSON{
			ID:               fw.id,
			Name:             fw.info.Name,
			User:             fw.info.User,
			Hostname:         fw.info.GetHostname(),
			WebuiURL:         fw.info.GetWebUiURL(),
			Roles:            append([]string{}, fw.roles...),
			Capabilities:     []string{},
			Active:           fw.stream != nil,
			Connected:        fw.stream != nil,
			Recovered:        fw.recovered,
			FailoverTimeout:  fw.info.GetFailoverTimeout(),
			Checkpoint:       fw.info.GetCheckpoint(),
			RegisteredTime:   epochSeconds(fw.registered),
			ReregisteredTime: epochSeconds(fw.reregistered),
			SuppressedRoles:  sortedKeys(fw.suppressed),
			Tasks:            []taskJSON{},
			UnreachableTasks: []taskJSON{},
			CompletedTasks:   []taskJSON{},
			Offers:           []offerJSON{},
			Executors:        []any{},
		}
		if fw.info.Role != nil {
			fj.Role = fw.info.GetRole()
		}
		for _, c := range fw.info.Capabilities {
			fj.Capabilities = append(fj.Capabilities, c.Type.String())
		}
		used, off := resourceSet{}, resourceSet{}
		for _, t := range fw.sortedTasks() {
			if !t.terminal {
				used.add(t.res)
			}
			if t.agent.partitioned && !t.terminal {
				tj := t.json()
				tj.State = mesos.TASK_UNREACHABLE.String()
				fj.UnreachableTasks = append(fj.UnreachableTasks, tj)
				continue
			}
			fj.Tasks = append(fj.Tasks, t.json())
		}
		for _, id := range sortedKeys(fw.unreachable) {
			fj.UnreachableTasks = append(fj.UnreachableTasks, fw.unreachable[id].json())
		}
		for _, t := range fw.completed {
			fj.CompletedTasks = append(fj.CompletedTasks, t.json())
		}
		var offers []*offer
		for _, o := range fw.offers {
			offers = append(offers, o)
		}
		sort.Slice(offers, func(i, j int) bool { return offers[i].seq < offers[j].seq })
		for _, o := range offers {
			off.add(o.res)
			fj.Offers = append(fj.Offers, offerJSON{ID: o.id, FrameworkID: fw.id, SlaveID: o.agent.id, Resources: toResourcesJSON(o.res.total())})
		}
		fj.UsedResources = toResourcesJSON(used.total())
		fj.OfferedResources = toResourcesJSON(off.total())
		s.Frameworks = append(s.Frameworks, fj)
	}
	for _, rec := range m.completedFrameworks {
		fj := frameworkJSON{
			ID: rec.id, Name: rec.name, User: rec.user, Roles: rec.roles, Capabilities: []string{},
			RegisteredTime: epochSeconds(rec.registered), UnregisteredTime: epochSeconds(rec.unregistered),
			Tasks: []taskJSON{}, UnreachableTasks: []taskJSON{}, CompletedTasks: []taskJSON{},
			Offers: []offerJSON{}, Executors: []any{}, SuppressedRoles: []string{},
		}
		for _, t := range rec.completed {
			fj.CompletedTasks = append(fj.CompletedTasks, t.json())
		}
		s.CompletedFrameworks = append(s.CompletedFrameworks, fj)
	}
	return s
}

// json renders a task for /master/state.
func (t *task) json() taskJSON {
	tj := taskJSON{
		ID:          t.id(),
		Name:        t.info.Name,
		FrameworkID: t.fw.id,
		SlaveID:     t.agent.id,
		State:       t.state.String(),
		Resources:   toResourcesJSON(t.res.total()),
		Statuses:    []statusJSON{},
		Sandbox:     t.sandbox,
		PID:         t.pid,
		Recovered:   t.adopted,
	}
	for _, r := range t.info.Resources {
		if r.AllocationInfo != nil {
			tj.Role = r.AllocationInfo.GetRole()
			break
		}
	}
	if t.info.Labels != nil {
		tj.Labels, _ = json.Marshal(t.info.Labels.Labels)
	}
	if t.info.Discovery != nil {
		tj.Discovery, _ = json.Marshal(t.info.Discovery)
	}
	for _, st := range t.history {
		sj := statusJSON{State: st.GetState().String(), Timestamp: st.GetTimestamp(), Healthy: st.Healthy}
		if st.ContainerStatus != nil {
			sj.ContainerStatus, _ = json.Marshal(st.ContainerStatus)
		}
		tj.Statuses = append(tj.Statuses, sj)
	}
	return tj
}

// toResourcesJSON renders a pool as Mesos' state endpoint does.
func toResourcesJSON(p pool) resourcesJSON {
	r := resourcesJSON{Cpus: p.cpus, Mem: p.mem, Disk: p.disk}
	if len(p.ports) > 0 {
		r.Ports = formatRanges(p.ports)
	}
	return r
}

// epochSeconds renders a time as Mesos does (0 for the zero time).
func epochSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
