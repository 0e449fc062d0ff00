package mesostest

import (
	"testing"
	"time"
)

// TestRealMesosCluster starts a real cluster, checks what the master reports of
// its agents, and restarts an agent and the master.
func TestRealMesosCluster(t *testing.T) {
	c := Start(t, Options{Agents: 2, AgentPingTimeout: time.Second, MaxAgentPingTimeouts: 5})
	st, err := c.State()
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != "1.11.1" || len(st.Slaves) != 2 {
		t.Fatalf("master %s with %d agents, want 1.11.1 with 2", st.Version, len(st.Slaves))
	}
	ids := map[string]string{}
	for _, s := range st.Slaves {
		ids[s.Hostname] = s.ID
		a := c.Agents[0]
		if s.Hostname == c.Agents[1].IP {
			a = c.Agents[1]
		}
		if s.Attributes["rack_id"] != a.Rack {
			t.Errorf("agent %s has rack_id %q, want %q", s.Hostname, s.Attributes["rack_id"], a.Rack)
		}
	}
	if c.Agents[0].Rack == c.Agents[1].Rack {
		t.Errorf("both agents in %s", c.Agents[0].Rack)
	}

	c.RestartAgent(1)
	c.RestartMaster()
	st, err = c.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st.Slaves {
		if ids[s.Hostname] != s.ID {
			t.Errorf("agent %s came back as %s, was %s", s.Hostname, s.ID, ids[s.Hostname])
		}
	}
}
