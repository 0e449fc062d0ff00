package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
)

// getJSON GETs path from the server and decodes the body, returning the status.
func getJSON(t *testing.T, base, path string, v any) (int, http.Header) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// The embedded default's single server reports itself elected, and DELETE
// /v2/leader ends its term: the executor is dropped and a new one loads the state
// and carries on, with every task left running.
func TestLocalAbdicationStartsANewTerm(t *testing.T) {
	e := newEnv(t, 2)
	resp := e.apply(specOf(testApp(t, "/web", 2, nil)))
	e.waitDeployment(resp.DeploymentID, 30*time.Second)
	before := viewTaskIDs(e.srv.Executor().View().Tasks)

	var info struct {
		Elected bool   `json:"elected"`
		Leader  string `json:"leader"`
	}
	_, h := getJSON(t, e.srv.URL(), "/v2/info", &info)
	if !info.Elected || info.Leader != e.srv.Addr() {
		t.Fatalf("info: elected=%v leader=%q, want true %q", info.Elected, info.Leader, e.srv.Addr())
	}
	if got := h.Get("X-Marathon-Leader"); got != "http://"+e.srv.Addr() {
		t.Errorf("X-Marathon-Leader = %q", got)
	}
	firstEx := e.srv.Executor()

	req, _ := http.NewRequest(http.MethodDelete, e.srv.URL()+"/v2/leader", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]string
	_ = json.NewDecoder(r.Body).Decode(&msg)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || msg["message"] != "Leadership abdicated" {
		t.Fatalf("DELETE /v2/leader: %d %v", r.StatusCode, msg)
	}
	e.waitFor(20*time.Second, "a second term, subscribed", func() (bool, string) {
		ex := e.srv.Executor()
		if ex == nil || ex == firstEx {
			return false, fmt.Sprintf("terms=%d", e.srv.Terms())
		}
		return ex.View().Connected, "not subscribed"
	})
	if e.srv.Terms() != 2 {
		t.Fatalf("terms = %d, want 2", e.srv.Terms())
	}
	after := viewTaskIDs(e.srv.Executor().View().Tasks)
	if !slices.Equal(before, after) {
		t.Fatalf("tasks changed across the term: %v -> %v", before, after)
	}
	if n := len(e.liveTasks("/web")); n != 2 {
		t.Fatalf("%d tasks live on the stand-in, want 2", n)
	}
	_, _ = getJSON(t, e.srv.URL(), "/v2/info", &info)
	if !info.Elected {
		t.Fatal("not elected after the new term")
	}
}

func viewTaskIDs(ts []*engine.Task) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return ids
}
