package localmesos

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestSubscribe(t *testing.T) {
	for name, codec := range map[string]encoding.Codec{"json": jsonCodec, "protobuf": protoCodec} {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, nil)
			c := tryClient(t, m, codec, frameworkInfo())
			if got := c.resp.Header.Get("Content-Type"); got != codec.Type.ContentType() {
				t.Errorf("Content-Type = %q, want %q", got, codec.Type.ContentType())
			}
			if c.streamID == "" {
				t.Fatal("no Mesos-Stream-Id header")
			}
			ev := c.expect(func(*scheduler.Event) bool { return true })
			if ev.Type != scheduler.Event_SUBSCRIBED {
				t.Fatalf("first event is %v, want SUBSCRIBED", ev.Type)
			}
			sub := ev.Subscribed
			if id := sub.FrameworkID.GetValue(); !strings.HasPrefix(id, m.ID()+"-") {
				t.Errorf("framework id %q does not start with the master id %q", id, m.ID())
			}
			if got := sub.GetHeartbeatIntervalSeconds(); got != 0.1 {
				t.Errorf("heartbeat_interval_seconds = %v, want 0.1", got)
			}
			if got := sub.GetMasterInfo().GetID(); got != m.ID() {
				t.Errorf("master_info.id = %q, want %q", got, m.ID())
			}
			// A 1.11 master's capabilities; QUOTA_V2 (3) is not in mesos-go's
			// enum: its number on protobuf, UNKNOWN in JSON (what mesos-go reads
			// of a real master's "QUOTA_V2").
			var caps []int32
			for _, cp := range sub.GetMasterInfo().Capabilities {
				caps = append(caps, int32(cp.Type))
			}
			want := []int32{1, 2, 3}
			if name == "json" {
				want = []int32{1, 2, 0}
			}
			if fmt.Sprint(caps) != fmt.Sprint(want) || sub.GetMasterInfo().GetVersion() != "1.11.1" {
				t.Errorf("master_info version %q capabilities %v, want 1.11.1 and %v", sub.GetMasterInfo().GetVersion(), caps, want)
			}
			for i := 0; i < 3; i++ {
				c.expect(isType(scheduler.Event_HEARTBEAT))
			}
		})
	}
}

func TestSubscribeRecordIOAccept(t *testing.T) {
	m := newMaster(t, nil)
	call := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: frameworkInfo()}}
	req, err := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/scheduler", strings.NewReader(string(encodeBody(t, jsonCodec, call))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaJSON)
	req.Header.Set("Accept", mediaRecordIO)
	req.Header.Set(headerMessageAccept, mediaProtobuf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if got := resp.Header.Get("Content-Type"); got != mediaRecordIO {
		t.Errorf("Content-Type = %q, want %q", got, mediaRecordIO)
	}
	if got := resp.Header.Get(headerMessageContentType); got != mediaProtobuf {
		t.Errorf("Message-Content-Type = %q, want %q", got, mediaProtobuf)
	}
}

func TestSchedulerEndpointErrors(t *testing.T) {
	m := newMaster(t, nil)
	info := frameworkInfo()
	info.FailoverTimeout = proto(60.0)
	c := subscribe(t, m, jsonCodec, info)
	gone := subscribe(t, m, jsonCodec, info2("gone", 60))
	gone.close()
	eventually(t, "the framework to be disconnected", func() bool {
		s := m.state()
		for _, f := range s.Frameworks {
			if f.ID == gone.fwID {
				return !f.Connected
			}
		}
		return false
	})

	revive := &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: c.fwID}}
	subscribeCall := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: frameworkInfo()}}
	headers := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := map[string]struct {
		method   string
		body     []byte
		header   http.Header
		wantCode int
		wantBody string
	}{
		"GET is not allowed": {
			method: http.MethodGet, header: headers(), wantCode: http.StatusMethodNotAllowed,
		},
		"unsupported Content-Type": {
			body: []byte("{}"), header: headers("Content-Type", "text/plain"), wantCode: http.StatusUnsupportedMediaType,
			wantBody: "Expecting 'Content-Type'",
		},
		"missing Content-Type": {
			body: []byte("{}"), header: headers(), wantCode: http.StatusBadRequest,
		},
		"malformed JSON": {
			body: []byte("{not json"), header: headers("Content-Type", mediaJSON), wantCode: http.StatusBadRequest,
		},
		"malformed protobuf": {
			body: []byte{0xff, 0xff, 0xff}, header: headers("Content-Type", mediaProtobuf), wantCode: http.StatusBadRequest,
		},
		"call without type": {
			body: []byte(`{"framework_id":{"value":"x"}}`), header: headers("Content-Type", mediaJSON), wantCode: http.StatusBadRequest,
			wantBody: "Expecting 'type' to be present",
		},
		"subscribe accepting neither JSON nor protobuf": {
			body: encodeBody(t, jsonCodec, subscribeCall), header: headers("Content-Type", mediaJSON, "Accept", "text/html"),
			wantCode: http.StatusNotAcceptable,
		},
		"subscribe with a stream id": {
			body: encodeBody(t, jsonCodec, subscribeCall), header: headers("Content-Type", mediaJSON, headerStreamID, "x"),
			wantCode: http.StatusBadRequest, wantBody: "should not include",
		},
		"call without framework id": {
			body:   encodeBody(t, jsonCodec, &scheduler.Call{Type: scheduler.Call_REVIVE}),
			header: headers("Content-Type", mediaJSON, headerStreamID, c.streamID), wantCode: http.StatusBadRequest,
			wantBody: "Expecting 'framework_id' to be present",
		},
		"unknown framework": {
			body:   encodeBody(t, jsonCodec, &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: "nope"}}),
			header: headers("Content-Type", mediaJSON, headerStreamID, c.streamID), wantCode: http.StatusBadRequest,
			wantBody: "Framework cannot be found",
		},
		"missing stream id": {
			body: encodeBody(t, jsonCodec, revive), header: headers("Content-Type", mediaJSON), wantCode: http.StatusBadRequest,
			wantBody: "should include the 'Mesos-Stream-Id' header",
		},
		"wrong stream id": {
			body: encodeBody(t, jsonCodec, revive), header: headers("Content-Type", mediaJSON, headerStreamID, gone.streamID),
			wantCode: http.StatusBadRequest, wantBody: "didn't match",
		},
		"disconnected framework": {
			body:   encodeBody(t, jsonCodec, &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: gone.fwID}}),
			header: headers("Content-Type", mediaJSON, headerStreamID, gone.streamID), wantCode: http.StatusForbidden,
			wantBody: "Framework is not subscribed",
		},
		"acknowledge with a bad uuid": {
			body: encodeBody(t, jsonCodec, &scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, FrameworkID: &mesos.FrameworkID{Value: c.fwID},
				Acknowledge: &scheduler.Call_Acknowledge{AgentID: mesos.AgentID{Value: "a"}, TaskID: mesos.TaskID{Value: "t"}, UUID: []byte("short")}}),
			header: headers("Content-Type", mediaJSON, headerStreamID, c.streamID), wantCode: http.StatusBadRequest,
		},
		"accepted JSON call": {
			body: encodeBody(t, jsonCodec, revive), header: headers("Content-Type", mediaJSON, headerStreamID, c.streamID),
			wantCode: http.StatusAccepted,
		},
		"accepted protobuf call": {
			body: encodeBody(t, protoCodec, revive), header: headers("Content-Type", mediaProtobuf, headerStreamID, c.streamID),
			wantCode: http.StatusAccepted,
		},
		"accepted no-op calls": {
			body: encodeBody(t, jsonCodec, &scheduler.Call{Type: scheduler.Call_MESSAGE, FrameworkID: &mesos.FrameworkID{Value: c.fwID},
				Message: &scheduler.Call_Message{AgentID: mesos.AgentID{Value: "a"}, ExecutorID: mesos.ExecutorID{Value: "e"}, Data: []byte("hi")}}),
			header: headers("Content-Type", mediaJSON, headerStreamID, c.streamID), wantCode: http.StatusAccepted,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, m.URL()+"/api/v1/scheduler", strings.NewReader(string(tc.body)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.wantCode)
			}
			if !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("body %q does not contain %q", b, tc.wantBody)
			}
			if tc.wantCode == http.StatusAccepted && len(b) != 0 {
				t.Errorf("202 with a body: %q", b)
			}
			if tc.wantCode == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
}

// info2 is a named FrameworkInfo with a failover timeout.
func info2(name string, failover float64) *mesos.FrameworkInfo {
	info := frameworkInfo()
	info.Name = name
	info.FailoverTimeout = proto(failover)
	return info
}

func TestResubscribeReplacesStream(t *testing.T) {
	m := newMaster(t, nil)
	first := subscribe(t, m, jsonCodec, info2("fw", 60))
	info := info2("fw", 60)
	info.ID = &mesos.FrameworkID{Value: first.fwID}
	second := subscribe(t, m, protoCodec, info)
	if second.fwID != first.fwID {
		t.Fatalf("re-subscription got framework id %s, want %s", second.fwID, first.fwID)
	}
	ev := first.expect(isType(scheduler.Event_ERROR))
	if got := ev.Error.Message; got != msgFrameworkFailedOver {
		t.Errorf("ERROR %q, want %q", got, msgFrameworkFailedOver)
	}
	if _, err := first.next(func(*scheduler.Event) bool { return false }, waitTimeout); err == nil || !strings.Contains(err.Error(), "ended") {
		t.Errorf("the old stream did not end: %v", err)
	}
	if code, _ := first.call(&scheduler.Call{Type: scheduler.Call_REVIVE}); code != http.StatusBadRequest {
		t.Errorf("call on the old stream: %d, want 400", code)
	}
	second.mustCall(&scheduler.Call{Type: scheduler.Call_REVIVE})
}

func TestSubscribeInvalidFramework(t *testing.T) {
	cases := map[string]struct {
		info *mesos.FrameworkInfo
		want string
	}{
		"roles without MULTI_ROLE": {
			info: &mesos.FrameworkInfo{User: "u", Name: "n", Roles: []string{"web"}},
			want: "must not be set when the framework is not MULTI_ROLE capable",
		},
		"invalid role": {
			info: &mesos.FrameworkInfo{User: "u", Name: "n", Role: proto("-web")},
			want: "cannot start with",
		},
		"negative failover timeout": {
			info: &mesos.FrameworkInfo{User: "u", Name: "n", FailoverTimeout: proto(-1.0)},
			want: "failover_timeout",
		},
	}
	m := newMaster(t, nil)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := tryClient(t, m, jsonCodec, tc.info)
			ev := c.expect(func(*scheduler.Event) bool { return true })
			if ev.Type != scheduler.Event_ERROR || !strings.Contains(ev.Error.Message, tc.want) {
				t.Fatalf("first event %v, want ERROR containing %q", ev, tc.want)
			}
			if _, err := c.next(func(*scheduler.Event) bool { return false }, waitTimeout); err == nil || !strings.Contains(err.Error(), "ended") {
				t.Errorf("the stream did not end: %v", err)
			}
		})
	}
}

func TestOperatorEndpoints(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Attributes = map[string]string{"zone": "local", "size": "3", "tiers": "{a,b}"} })
	c := subscribe(t, m, jsonCodec, frameworkInfo())
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(m.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if resp := get("/health"); resp.StatusCode != http.StatusOK {
		t.Errorf("/health: %s", resp.Status)
	}
	resp := get("/master/redirect")
	if want := "//" + strings.TrimPrefix(m.URL(), "http://"); resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != want {
		t.Errorf("/master/redirect: %s to %q, want 307 to %q", resp.Status, resp.Header.Get("Location"), want)
	}
	var v map[string]string
	if err := json.NewDecoder(get("/version").Body).Decode(&v); err != nil || v["version"] == "" {
		t.Errorf("/version: %v %v", v, err)
	}
	var st stateJSON
	if err := json.NewDecoder(get("/master/state").Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.ID != m.ID() || len(st.Slaves) != 3 || st.ActivatedSlaves != 3 {
		t.Fatalf("state: id %s, %d slaves (%d activated)", st.ID, len(st.Slaves), st.ActivatedSlaves)
	}
	for i, s := range st.Slaves {
		wantRack := []string{"rack-1", "rack-2", "rack-1"}[i]
		if s.Attributes["rack_id"] != wantRack || s.Attributes["zone"] != "local" || s.Attributes["size"] != 3.0 || s.Attributes["tiers"] != "{a,b}" {
			t.Errorf("slave %d attributes %v", i, s.Attributes)
		}
		if s.Hostname != agentAddress(i) || s.Resources.Cpus != 8 || s.Resources.Mem != 16384 || s.Resources.Disk != 65536 {
			t.Errorf("slave %d: %s %+v", i, s.Hostname, s.Resources)
		}
	}
	if len(st.Frameworks) != 1 || st.Frameworks[0].ID != c.fwID || !st.Frameworks[0].Connected {
		t.Errorf("frameworks: %+v", st.Frameworks)
	}
}

func TestUpdateFramework(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1; c.Roles = map[string]float64{"web": 0.5} })
	info := frameworkInfo(mesos.FrameworkInfo_Capability_MULTI_ROLE)
	info.Roles = []string{"web"}
	c := subscribe(t, m, jsonCodec, info)
	o := c.offers()[0]
	if o.GetAllocationInfo().GetRole() != "web" {
		t.Fatalf("offer for %q", o.GetAllocationInfo().GetRole())
	}
	update := func(edit func(*mesos.FrameworkInfo), suppressed ...string) (int, string) {
		i := *info
		i.ID = &mesos.FrameworkID{Value: c.fwID}
		edit(&i)
		return c.call(&scheduler.Call{Type: scheduler.Call_UPDATE_FRAMEWORK, UpdateFramework: &scheduler.Call_UpdateFramework{FrameworkInfo: i, SuppressedRoles: suppressed}})
	}
	cases := map[string]struct {
		edit       func(*mesos.FrameworkInfo)
		suppressed []string
		want       string
	}{
		"user":                   {edit: func(i *mesos.FrameworkInfo) { i.User = "someone-else" }, want: "'FrameworkInfo.user'"},
		"id":                     {edit: func(i *mesos.FrameworkInfo) { i.ID = &mesos.FrameworkID{Value: "other"} }, want: "differs"},
		"suppressed, not a role": {edit: func(*mesos.FrameworkInfo) {}, suppressed: []string{"db"}, want: "not contained"},
	}
	for name, tc := range cases {
		t.Run("invalid "+name, func(t *testing.T) {
			if code, body := update(tc.edit, tc.suppressed...); code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("%d %q, want 400 with %q", code, body, tc.want)
			}
		})
	}
	// Leaving the role rescinds its offer; the new role is offered.
	if code, body := update(func(i *mesos.FrameworkInfo) { i.Roles = []string{"batch"} }); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, body)
	}
	if ev := c.expect(isType(scheduler.Event_RESCIND)); ev.Rescind.OfferID != o.ID {
		t.Errorf("rescinded %s, want %s", ev.Rescind.OfferID.Value, o.ID.Value)
	}
	next := c.offers()[0]
	if got := next.GetAllocationInfo().GetRole(); got != "batch" {
		t.Errorf("offer for %q, want batch", got)
	}
	if _, reserved := summarize(next)["web"]; reserved {
		t.Error("a framework out of role web was offered its reservation")
	}
}
