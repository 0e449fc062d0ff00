package driver

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseMasters(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []string
		wantErr string
	}{
		"one":               {in: "http://m1:5050", want: []string{"http://m1:5050/api/v1/scheduler"}},
		"no scheme":         {in: "m1:5050", want: []string{"http://m1:5050/api/v1/scheduler"}},
		"trailing slash":    {in: "http://m1:5050/", want: []string{"http://m1:5050/api/v1/scheduler"}},
		"prefix":            {in: "https://lb.example/mesos", want: []string{"https://lb.example/mesos/api/v1/scheduler"}},
		"endpoint given":    {in: "http://m1:5050/api/v1/scheduler", want: []string{"http://m1:5050/api/v1/scheduler"}},
		"several, spaces":   {in: " http://m1:5050 , m2:5050,,", want: []string{"http://m1:5050/api/v1/scheduler", "http://m2:5050/api/v1/scheduler"}},
		"query dropped":     {in: "http://m1:5050?x=1#f", want: []string{"http://m1:5050/api/v1/scheduler"}},
		"empty":             {in: " , ", wantErr: "no master"},
		"zookeeper":         {in: "zk://zk1:2181/mesos", wantErr: "ZooKeeper"},
		"other scheme":      {in: "ftp://m1", wantErr: "http or https"},
		"no host":           {in: "http:///x", wantErr: "no host"},
		"one bad among two": {in: "http://m1:5050,zk://z/mesos", wantErr: "ZooKeeper"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseMasters(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, u := range got {
				s = append(s, u.String())
			}
			if strings.Join(s, " ") != strings.Join(tc.want, " ") {
				t.Errorf("got %v, want %v", s, tc.want)
			}
		})
	}
}

func TestResolveLocation(t *testing.T) {
	current, _ := url.Parse("http://m1:5050/api/v1/scheduler")
	tests := map[string]struct {
		location, want string
	}{
		"scheme-relative with path": {"//m2:5050/api/v1/scheduler", "http://m2:5050/api/v1/scheduler"},
		"scheme-relative":           {"//m2:5050", "http://m2:5050/api/v1/scheduler"},
		"bare host:port":            {"m2:5050", "http://m2:5050/api/v1/scheduler"},
		"absolute":                  {"https://m2:5050/api/v1/scheduler", "https://m2:5050/api/v1/scheduler"},
		"absolute without path":     {"http://m2:5051", "http://m2:5051/api/v1/scheduler"},
		"ipv6":                      {"//[::1]:5050", "http://[::1]:5050/api/v1/scheduler"},
		"spaces":                    {"  //m2:5050  ", "http://m2:5050/api/v1/scheduler"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := resolveLocation(current, tc.location)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if current.Host != "m1:5050" {
				t.Errorf("the current endpoint was modified: %s", current)
			}
		})
	}
	for _, bad := range []string{"", "   ", "//", "http://"} {
		if got, err := resolveLocation(current, bad); err == nil {
			t.Errorf("Location %q resolved to %s, want an error", bad, got)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := Config{Master: "m1:5050", User: "u"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]struct{ got, want any }{
		"name":             {s.FrameworkName, "stride"},
		"roles":            {strings.Join(s.Roles, ","), "*"},
		"failover timeout": {s.FailoverTimeout, 7 * 24 * time.Hour},
		"checkpoint":       {s.checkpoint, true},
		"codec":            {s.codec.Name, "protobuf"},
		"heartbeat misses": {s.HeartbeatMisses, 5},
		"min backoff":      {s.MinBackoff, 500 * time.Millisecond},
		"max backoff":      {s.MaxBackoff, 15 * time.Second},
		"logf set":         {s.Logf != nil, true},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	if s, err := (Config{Master: "m1:5050"}).withDefaults(); err != nil || s.User == "" {
		t.Errorf("the current user was not found: %q, %v", s.User, err)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := map[string]struct {
		cfg  Config
		want []string // every one must be named
	}{
		"no master":          {Config{User: "u"}, []string{"master"}},
		"codec":              {Config{Master: "m", User: "u", Codec: "xml"}, []string{"codec"}},
		"roles":              {Config{Master: "m", User: "u", Roles: []string{"a", "a", ""}}, []string{"listed twice", "not a role name"}},
		"negative durations": {Config{Master: "m", User: "u", FailoverTimeout: -1, MinBackoff: -1}, []string{"failover timeout", "backoff"}},
		"backoff order":      {Config{Master: "m", User: "u", MinBackoff: time.Second, MaxBackoff: time.Millisecond}, []string{"below the minimum"}},
		"misses":             {Config{Master: "m", User: "u", HeartbeatMisses: -2}, []string{"heartbeat misses"}},
		"several at once":    {Config{User: "u", Codec: "xml", HeartbeatMisses: -1}, []string{"master", "codec", "heartbeat"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.cfg.withDefaults()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// Run reports it, without touching the network.
			if rerr := New(tc.cfg, newRecorder(t)).Run(t.Context()); rerr == nil || rerr.Error() != err.Error() {
				t.Errorf("Run: %v, want %v", rerr, err)
			}
		})
	}
	if err := New(Config{Master: "m", User: "u"}, nil).Run(t.Context()); err == nil {
		t.Error("Run without a handler: no error")
	}
}

func TestClassifyError(t *testing.T) {
	tests := map[string]error{
		"Framework has been removed":  ErrRemoved,
		"framework has been removed":  ErrRemoved,
		"Framework failed over":       ErrFailedOver,
		"Framework is not authorized": ErrMasterError,
		"":                            ErrMasterError,
		"Completed framework has been removed again": ErrRemoved,
	}
	for msg, want := range tests {
		got := classifyError(msg)
		if !errors.Is(got, want) || got.message != msg {
			t.Errorf("classifyError(%q) = %v, want %v", msg, got, want)
		}
	}
}
