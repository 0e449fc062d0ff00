package localmesos

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestSlavesEndpoint: /master/slaves lists the agents as /master/state does, in
// the shape Mesos answers it (what Stride's cluster page reads).
func TestSlavesEndpoint(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 2 })
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := http.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var doc struct {
		Slaves          []slaveJSON `json:"slaves"`
		RecoveredSlaves []any       `json:"recovered_slaves"`
	}
	resp := get("/master/slaves")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/master/slaves: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var st stateJSON
	if err := json.NewDecoder(get("/master/state").Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if len(doc.Slaves) != 2 || doc.RecoveredSlaves == nil {
		t.Fatalf("slaves %+v, recovered %v", doc.Slaves, doc.RecoveredSlaves)
	}
	for i, s := range doc.Slaves {
		w := st.Slaves[i]
		if s.ID != w.ID || s.Hostname != w.Hostname || s.Resources != w.Resources || s.UsedResources != w.UsedResources || !s.Active {
			t.Errorf("slave %d: %+v, /master/state says %+v", i, s, w)
		}
		if s.Resources.Ports == "" || s.Attributes["rack_id"] == nil {
			t.Errorf("slave %d: no ports or rack: %+v", i, s)
		}
	}
	if resp := get("/slaves"); resp.StatusCode != http.StatusOK {
		t.Errorf("/slaves: %s", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/master/slaves", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /master/slaves: %s", resp.Status)
	}
}
