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

	"github.com/stride-run/stride/internal/version"
)

// GET /stride/v1/cluster: the Mesos agents as the master reports them
// (/master/slaves: hostname, attributes, resources and what is used of them),
// each with the Stride tasks placed on it, plus the leader and the server's
// version. The master is asked at most once per clusterCacheFor, however many
// pages poll; a master that cannot be reached is reported in mesos.error with
// the agents left empty, never as a failed request.

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
	// Total is what the agent has, Used what tasks (of any framework) use, Free
	// the difference.
	Total AgentResources `json:"total"`
	Used  AgentResources `json:"used"`
	Free  AgentResources `json:"free"`
	// Tasks counts Stride's live tasks on the agent; Apps splits them by app.
	Tasks int        `json:"tasks"`
	Apps  []AgentApp `json:"apps"`
}

// AgentResources are scalar resources and ports.
type AgentResources struct {
	Cpus float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
	Gpus float64 `json:"gpus"`
	// Ports is the Mesos ranges text ("[31000-31999]"); PortCount how many
	// ports that is.
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
	for _, t := range v.Tasks {
		if t.SlaveID == "" {
			continue
		}
		if perAgent[t.SlaveID] == nil {
			perAgent[t.SlaveID] = map[string]int{}
		}
		perAgent[t.SlaveID][t.AppID]++
	}
	for _, sl := range slaves {
		a := ClusterAgent{
			ID: sl.ID, Hostname: sl.Hostname, Active: sl.Active, Attributes: sl.Attributes,
			Total: resources(sl.Resources), Used: resources(sl.Used), Apps: []AgentApp{},
		}
		if a.Attributes == nil {
			a.Attributes = map[string]any{}
		}
		a.Free = AgentResources{
			Cpus: nonNegative(a.Total.Cpus - a.Used.Cpus), Mem: nonNegative(a.Total.Mem - a.Used.Mem),
			Disk: nonNegative(a.Total.Disk - a.Used.Disk), Gpus: nonNegative(a.Total.Gpus - a.Used.Gpus),
			PortCount: max(a.Total.PortCount-a.Used.PortCount, 0),
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

// countPorts counts the ports of a Mesos ranges text, "[31000-31999, 32005-32005]";
// what does not parse counts for nothing.
func countPorts(s string) int {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	n := 0
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
		n += b - a + 1
	}
	return n
}
