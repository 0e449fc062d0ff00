package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/scheduler"
	"github.com/stride-run/stride/internal/version"
)

// GET /stride/v1/cluster: the Mesos agents as the master reports them
// (/master/slaves: hostname, attributes, resources and what is used of them),
// each with the Stride tasks placed on it, plus the leader and the server's
// version. The master is asked at most once per clusterCacheFor, however many
// pages poll; a master that cannot be reached is reported in mesos.error with
// the agents left empty, never as a failed request.
//
// It is also the snapshot `stride plan` simulates placements on (plan-time
// feasibility): per agent the attributes as constraints read them
// (attributeValues), the reservations, the free port ranges and, with
// ?placed=true, every Stride task placed there with its resources and host
// ports (placed) — left out by default, so that the UI's polling of a large
// cluster stays small.

// ClusterResponse is GET /stride/v1/cluster.
type ClusterResponse struct {
	// Version is Stride's version; Leader the address of the leading server.
	Version string       `json:"version"`
	Leader  string       `json:"leader"`
	Mesos   ClusterMesos `json:"mesos"`
	// Agents are sorted by hostname, then id.
	Agents []ClusterAgent `json:"agents"`
}

// ClusterMesos describes the Mesos master.
type ClusterMesos struct {
	URL         string `json:"url"`
	Connected   bool   `json:"connected"`
	FrameworkID string `json:"frameworkId"`
	// Error says why the agents could not be read ("" when they were).
	Error string `json:"error,omitempty"`
}

// ClusterAgent is one Mesos agent.
type ClusterAgent struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	Active   bool   `json:"active"`
	// Attributes as Mesos reports them (text, number, or a ranges/set string).
	Attributes map[string]any `json:"attributes"`
	// AttributeValues are the attributes as constraints compare them
	// (scheduler.AttributeValue: numbers without trailing zeros).
	AttributeValues map[string]string `json:"attributeValues"`
	// Reserved holds, per role, the resources reserved for it (omitted when
	// none).
	Reserved map[string]AgentResources `json:"reserved,omitempty"`
	// Total is what the agent has, Used what tasks (of any framework) use, Free
	// the difference.
	Total AgentResources `json:"total"`
	Used  AgentResources `json:"used"`
	Free  AgentResources `json:"free"`
	// Tasks counts Stride's live tasks on the agent; Apps splits them by app.
	Tasks int        `json:"tasks"`
	Apps  []AgentApp `json:"apps"`
	// Placed lists Stride's live tasks on the agent, sorted by app then id;
	// only with ?placed=true (omitted otherwise, and on an agent without any).
	Placed []ClusterTask `json:"placed,omitempty"`
}

// ClusterTask is one Stride task placed on an agent, with what it holds: the
// resources its app's current definition asks for and its host ports.
type ClusterTask struct {
	ID      string  `json:"id"`
	AppID   string  `json:"appId"`
	Version string  `json:"version"`
	State   string  `json:"state"`
	Cpus    float64 `json:"cpus"`
	Mem     float64 `json:"mem"`
	Disk    float64 `json:"disk"`
	Gpus    float64 `json:"gpus"`
	Ports   []int   `json:"ports"`
}

// AgentResources are scalar resources and ports.
type AgentResources struct {
	Cpus float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
	Gpus float64 `json:"gpus"`
	// Ports is the Mesos ranges text ("[31000-31999]"; for Free, the total's
	// ranges without the used ones); PortCount how many ports that is.
	Ports     string `json:"ports,omitempty"`
	PortCount int    `json:"portCount"`
}

// AgentApp is how many of one app's tasks run on an agent.
type AgentApp struct {
	ID    string `json:"id"`
	Tasks int    `json:"tasks"`
}

// clusterCacheFor is how long one answer of the master is reused.
const clusterCacheFor = time.Second

// masterTimeout bounds one request to the master.
const masterTimeout = 5 * time.Second

// maxMasterBody bounds what is read of the master's answer (a 10k-agent
// cluster's /master/slaves is a few MB).
const maxMasterBody = 64 << 20

// masterAgents caches the master's agent list.
type masterAgents struct {
	mu      sync.Mutex
	at      time.Time
	agents  []mesosSlave
	err     error
	client  *http.Client
	fetchMu sync.Mutex
}

// mesosSlave is one element of Mesos' /master/slaves "slaves".
type mesosSlave struct {
	ID         string         `json:"id"`
	Hostname   string         `json:"hostname"`
	Active     bool           `json:"active"`
	Attributes map[string]any `json:"attributes"`
	Resources  mesosResources `json:"resources"`
	Used       mesosResources `json:"used_resources"`
	// Reserved holds the reserved resources by role.
	Reserved map[string]mesosResources `json:"reserved_resources"`
}

type mesosResources struct {
	Cpus  float64 `json:"cpus"`
	Mem   float64 `json:"mem"`
	Disk  float64 `json:"disk"`
	Gpus  float64 `json:"gpus"`
	Ports string  `json:"ports"`
}

// get returns the master's agents, asking it when the cached answer is older
// than clusterCacheFor. Concurrent callers share one request.
func (m *masterAgents) get(ctx context.Context, master string) ([]mesosSlave, error) {
	m.fetchMu.Lock()
	defer m.fetchMu.Unlock()
	m.mu.Lock()
	if !m.at.IsZero() && time.Since(m.at) < clusterCacheFor {
		a, err := m.agents, m.err
		m.mu.Unlock()
		return a, err
	}
	m.mu.Unlock()
	agents, err := m.fetch(ctx, master)
	m.mu.Lock()
	m.at, m.agents, m.err = time.Now(), agents, err
	m.mu.Unlock()
	return agents, err
}

// fetch asks the master for /master/slaves.
func (m *masterAgents) fetch(ctx context.Context, master string) ([]mesosSlave, error) {
	if master == "" {
		return nil, fmt.Errorf("no Mesos master configured")
	}
	ctx, cancel := context.WithTimeout(ctx, masterTimeout)
	defer cancel()
	url := strings.TrimSuffix(master, "/") + "/master/slaves"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("mesos master %s: %w", master, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent())
	client := m.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mesos master: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMasterBody))
	if err != nil {
		return nil, fmt.Errorf("mesos master %s: reading the agents: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mesos master %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	var doc struct {
		Slaves []mesosSlave `json:"slaves"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("mesos master %s: decoding the agents: %w", url, err)
	}
	return doc.Slaves, nil
}

// cluster is GET /stride/v1/cluster.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	resp := ClusterResponse{
		Version: version.Version,
		Mesos:   ClusterMesos{URL: s.info.MesosURL, Connected: v.Connected, FrameworkID: v.FrameworkID},
		Agents:  []ClusterAgent{},
	}
	if s.elected() {
		resp.Leader = s.leaderAddr()
	}
	slaves, err := s.agents.get(r.Context(), s.info.MesosURL)
	if err != nil {
		resp.Mesos.Error = err.Error()
	}
	// Stride's tasks per agent and app.
	perAgent := map[string]map[string]int{}
	withPlaced := queryBool(r, "placed")
	placed := map[string][]ClusterTask{}
	apps := map[string]*engine.App{}
	if withPlaced {
		for _, as := range v.Apps {
			apps[as.App.ID] = as.App
		}
	}
	for _, t := range v.Tasks {
		if t.SlaveID == "" {
			continue
		}
		if perAgent[t.SlaveID] == nil {
			perAgent[t.SlaveID] = map[string]int{}
		}
		perAgent[t.SlaveID][t.AppID]++
		if !withPlaced {
			continue
		}
		ct := ClusterTask{ID: t.ID, AppID: t.AppID, Version: t.Version, State: t.State, Ports: t.Ports}
		if ct.Ports == nil {
			ct.Ports = []int{}
		}
		if app := apps[t.AppID]; app != nil {
			ct.Cpus, ct.Mem, ct.Disk, ct.Gpus = app.Cpus, app.Mem, app.Disk, float64(app.Gpus)
		}
		placed[t.SlaveID] = append(placed[t.SlaveID], ct)
	}
	for _, sl := range slaves {
		a := ClusterAgent{
			ID: sl.ID, Hostname: sl.Hostname, Active: sl.Active, Attributes: sl.Attributes,
			AttributeValues: attributeValues(sl.Attributes),
			Total:           resources(sl.Resources), Used: resources(sl.Used), Apps: []AgentApp{},
			Placed: placed[sl.ID],
		}
		if a.Attributes == nil {
			a.Attributes = map[string]any{}
		}
		for role, r := range sl.Reserved {
			if a.Reserved == nil {
				a.Reserved = map[string]AgentResources{}
			}
			a.Reserved[role] = resources(r)
		}
		freePorts := formatRanges(subtractPortRanges(parseRanges(a.Total.Ports), parseRanges(a.Used.Ports)))
		a.Free = AgentResources{
			Cpus: nonNegative(a.Total.Cpus - a.Used.Cpus), Mem: nonNegative(a.Total.Mem - a.Used.Mem),
			Disk: nonNegative(a.Total.Disk - a.Used.Disk), Gpus: nonNegative(a.Total.Gpus - a.Used.Gpus),
			Ports: freePorts, PortCount: countPorts(freePorts),
		}
		for app, n := range perAgent[sl.ID] {
			a.Apps = append(a.Apps, AgentApp{ID: app, Tasks: n})
			a.Tasks += n
		}
		sort.Slice(a.Apps, func(i, j int) bool { return a.Apps[i].ID < a.Apps[j].ID })
		resp.Agents = append(resp.Agents, a)
	}
	sort.Slice(resp.Agents, func(i, j int) bool {
		x, y := resp.Agents[i], resp.Agents[j]
		if x.Hostname != y.Hostname {
			return x.Hostname < y.Hostname
		}
		return x.ID < y.ID
	})
	writeJSON(w, http.StatusOK, resp)
}

func resources(m mesosResources) AgentResources {
	return AgentResources{Cpus: m.Cpus, Mem: m.Mem, Disk: m.Disk, Gpus: m.Gpus, Ports: m.Ports, PortCount: countPorts(m.Ports)}
}

func nonNegative(x float64) float64 {
	if x < 0 {
		return 0
	}
	// Resources are decimals: keep the sum's float noise out of the answer.
	return float64(int64(x*1000+0.5)) / 1000
}

// attributeValues renders the master's attributes as constraints compare them:
// numbers through scheduler.AttributeValue (three decimals, no trailing zeros);
// text, ranges and sets come from the master as the strings Mesos renders.
func attributeValues(attrs map[string]any) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = scheduler.AttributeValue(mesos.Attribute{Name: k, Type: mesos.SCALAR, Scalar: &mesos.Value_Scalar{Value: x}})
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}

// portRange is one range of ports, both ends included.
type portRange struct{ lo, hi int }

// parseRanges reads a Mesos ranges text ("[31000-31999, 32005-32005]"), sorted
// and merged; what does not parse is left out.
func parseRanges(s string) []portRange {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []portRange
	for _, r := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(strings.TrimSpace(r), "-")
		if !ok {
			continue
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || b < a {
			continue
		}
		out = append(out, portRange{a, b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lo < out[j].lo })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r.lo <= merged[n-1].hi+1 {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// subtractPortRanges returns the ports of a not in b (both sorted and merged).
func subtractPortRanges(a, b []portRange) []portRange {
	var out []portRange
	for _, r := range a {
		lo := r.lo
		for _, u := range b {
			if u.hi < lo || u.lo > r.hi {
				continue
			}
			if u.lo > lo {
				out = append(out, portRange{lo, u.lo - 1})
			}
			lo = max(lo, u.hi+1)
		}
		if lo <= r.hi {
			out = append(out, portRange{lo, r.hi})
		}
	}
	return out
}

// formatRanges writes ranges as Mesos does, "[31000-31999,32005-32005]"; "" for
// none.
func formatRanges(rs []portRange) string {
	if len(rs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d-%d", r.lo, r.hi)
	}
	b.WriteByte(']')
	return b.String()
}

// countPorts counts the ports of a Mesos ranges text, "[31000-31999, 32005-32005]";
// what does not parse counts for nothing.
func countPorts(s string) int {
	n := 0
	for _, r := range parseRanges(s) {
		n += r.hi - r.lo + 1
	}
	return n
}
