package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stride-run/stride/internal/version"
)

// TestOneVersion: /v2/info, /stride/v1/info and the client's User-Agent all
// report internal/version.Version, whatever a build sets it to: a second
// version source anywhere would make them disagree.
func TestOneVersion(t *testing.T) {
	saved := version.Version
	version.Version = "9.8.7-onesource"
	t.Cleanup(func() { version.Version = saved })

	s, _ := newTestServer()
	var marathon struct {
		Version string `json:"version"`
	}
	var stride struct {
		Version string `json:"version"`
	}
	for path, out := range map[string]any{"/v2/info": &marathon, "/stride/v1/info": &stride} {
		rec := do(t, s, request{path: path})
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if marathon.Version != version.Version || stride.Version != version.Version {
		t.Errorf("/v2/info says %q, /stride/v1/info %q; the build says %q", marathon.Version, stride.Version, version.Version)
	}

	agent := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case agent <- r.UserAgent():
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version":"x"}`))
	}))
	defer ts.Close()
	var info StrideInfo
	if err := NewClient(ts.URL).do(context.Background(), http.MethodGet, "/stride/v1/info", nil, &info); err != nil {
		t.Fatal(err)
	}
	if got := <-agent; got != "Stride/9.8.7-onesource" {
		t.Errorf("client User-Agent %q", got)
	}
}
