package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stride-run/stride/engine"
)

// TestInfoHostname: a configured hostname replaces the listen host in what
// clients are told.
func TestInfoHostname(t *testing.T) {
	cases := map[string]struct {
		info       Info
		leader     string
		hostname   string
		port       float64
		dataDirSet bool
	}{
		"listen address": {Info{HTTPAddr: "127.0.0.1:8080"}, "127.0.0.1:8080", "127.0.0.1", 8080, false},
		"hostname":       {Info{HTTPAddr: "[::]:9090", Hostname: "stride-1.example.com", DataDir: "/d"}, "stride-1.example.com:9090", "stride-1.example.com", 9090, true},
		"no port":        {Info{HTTPAddr: "weird", Hostname: "h"}, "h", "h", 0, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := New(newFake(fixtureView()), tc.info)
			var leader map[string]string
			decode(t, do(t, s, request{path: "/v2/leader"}), &leader)
			if leader["leader"] != tc.leader {
				t.Errorf("leader = %q, want %q", leader["leader"], tc.leader)
			}
			var info struct {
				Leader         string
				MarathonConfig struct{ Hostname string } `json:"marathon_config"`
				HTTPConfig     struct {
					HTTPPort float64 `json:"http_port"`
				} `json:"http_config"`
				Stride map[string]any
			}
			decode(t, do(t, s, request{path: "/v2/info"}), &info)
			if info.Leader != tc.leader || info.MarathonConfig.Hostname != tc.hostname || info.HTTPConfig.HTTPPort != tc.port {
				t.Errorf("info = %+v", info)
			}
			if info.Stride != nil {
				t.Errorf("/v2/info carries Stride's fields: %v", info.Stride)
			}
			var extras map[string]any
			decode(t, do(t, s, request{path: "/stride/v1/info"}), &extras)
			if _, ok := extras["data_dir"]; ok != tc.dataDirSet || extras["leader"] != tc.leader {
				t.Errorf("/stride/v1/info = %v", extras)
			}
		})
	}
}

func TestClientErrorString(t *testing.T) {
	e := &Error{Status: 422, Message: "Object is not valid", Details: []engine.FieldError{{Path: "/spec/apps/0/cpus", Errors: []string{"is less than 0", "oops"}}}}
	want := "Object is not valid\n  /spec/apps/0/cpus: is less than 0, oops"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

// TestConcurrentReadsWhileViewsChange hammers the cache from several goroutines
// while the backend publishes new Views (run with -race); every answer must
// describe one whole View: /v2/tasks lists between 1 and all fixture tasks.
func TestConcurrentReadsWhileViewsChange(t *testing.T) {
	s, f := newTestServer()
	all := len(fixtureView().Tasks)
	done := make(chan struct{})
	published := make(chan int)
	go func() {
		n := 0
		defer func() { published <- n }()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			v := fixtureView()
			v.Tasks = v.Tasks[:1+i%all]
			f.view.Store(v)
			n++
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	paths := []string{"/v2/tasks", "/v2/apps?embed=apps.tasks", "/v2/apps/shop/api", "/stride/v1/state", "/v2/tasks?status=running"}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p := paths[i%len(paths)]
				w := do(t, s, request{path: p})
				if w.Code != http.StatusOK {
					errs <- fmt.Errorf("%s: %d %s", p, w.Code, w.Body)
					return
				}
				if p == "/v2/tasks" {
					if n := strings.Count(w.Body.String(), `"appId"`); n < 1 || n > all {
						errs <- fmt.Errorf("/v2/tasks listed %d tasks", n)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	if n := <-published; n == 0 {
		t.Error("no View was published during the reads")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAppTasksNotInTheViewList: tasks of an AppStatus that the View's task list
// does not hold (a View built by hand) are still encoded.
func TestAppTasksNotInTheViewList(t *testing.T) {
	v := fixtureView()
	v.Tasks = nil
	s := New(newFake(v), Info{})
	var body struct{ Tasks []engine.Task }
	decode(t, do(t, s, request{path: "/v2/apps/shop/api/tasks"}), &body)
	if len(body.Tasks) != 3 || len(body.Tasks[0].ServicePorts) != 2 {
		t.Errorf("tasks = %+v", body.Tasks)
	}
}
