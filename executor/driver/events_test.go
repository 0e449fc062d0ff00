package driver

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// TestEventDispatch sends each kind of event from a fake master and checks
// what the handler hears and what the driver calls back.
func TestEventDispatch(t *testing.T) {
	exit := int32(9)
	offer := mesos.Offer{
		ID: mesos.OfferID{Value: "o1"}, FrameworkID: mesos.FrameworkID{Value: "fw-1"},
		AgentID: mesos.AgentID{Value: "agent-1"}, Hostname: "h1",
	}
	f := newFakeMaster(t)
	f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
		s := openFakeStream(w, r, "s")
		events := []*scheduler.Event{
			// Before SUBSCRIBED: ignored (Mesos sends SUBSCRIBED first).
			{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{offer}}},
			subscribedEvent("fw-1", 15),
			{Type: scheduler.Event_HEARTBEAT},
			// Malformed: the payload of their type is missing; dropped.
			{Type: scheduler.Event_RESCIND},
			{Type: scheduler.Event_UPDATE},
			{Type: scheduler.Event_FAILURE},
			{Type: scheduler.Event_OFFERS, Offers: &scheduler.Event_Offers{Offers: []mesos.Offer{offer}}},
			{Type: scheduler.Event_RESCIND, Rescind: &scheduler.Event_Rescind{OfferID: mesos.OfferID{Value: "o1"}}},
			{Type: scheduler.Event_INVERSE_OFFERS, InverseOffers: &scheduler.Event_InverseOffers{InverseOffers: []mesos.InverseOffer{{
				OfferID: mesos.OfferID{Value: "io1"}, FrameworkID: mesos.FrameworkID{Value: "fw-1"},
				AgentID: &mesos.AgentID{Value: "agent-1"}, Unavailability: mesos.Unavailability{Start: mesos.TimeInfo{Nanoseconds: 1}},
			}}}},
			{Type: scheduler.Event_MESSAGE, Message: &scheduler.Event_Message{
				AgentID: mesos.AgentID{Value: "agent-1"}, ExecutorID: mesos.ExecutorID{Value: "e1"}, Data: []byte("hi"),
			}},
			{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{
				AgentID: &mesos.AgentID{Value: "agent-1"}, ExecutorID: &mesos.ExecutorID{Value: "e1"}, Status: &exit,
			}},
			// A reconciliation answer: no uuid, so no ACKNOWLEDGE.
			updateEvent("t0", mesos.TASK_RUNNING, nil),
			updateEvent("t1", mesos.TASK_FINISHED, []byte("0123456789abcdef")),
		}
		for _, ev := range events {
			if err := s.send(ev); err != nil {
				return
			}
		}
		<-r.Context().Done()
	}
	h := newRecorder(t)
	start(t, testConfig(t, f.URL()), h)
	h.waitFor("the last update", 0, isUpdate("t1", mesos.TASK_FINISHED))
	_, ack, _ := f.waitCall(scheduler.Call_ACKNOWLEDGE, 0)
	if ack.Acknowledge.TaskID.Value != "t1" {
		t.Errorf("acknowledged %s, want t1 (t0 had no uuid)", ack.Acknowledge.TaskID.Value)
	}
	_, dio, _ := f.waitCall(scheduler.Call_DECLINE_INVERSE_OFFERS, 0)
	if ids := dio.DeclineInverseOffers.InverseOfferIDs; len(ids) != 1 || ids[0].Value != "io1" {
		t.Errorf("declined inverse offers %v", ids)
	}

	var kinds []string
	for _, rec := range h.snapshot() {
		kinds = append(kinds, rec.kind)
	}
	want := []string{"Subscribed", "Offers", "Rescind", "Failure", "Update", "Update"}
	if len(kinds) != len(want) {
		t.Fatalf("handler calls %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("handler calls %v, want %v", kinds, want)
		}
	}
	recs := h.snapshot()
	if recs[1].offers[0].ID.Value != "o1" || recs[2].offerID != "o1" {
		t.Errorf("offers %v, rescind %q", recs[1].offers, recs[2].offerID)
	}
	if fl := recs[3]; fl.agentID != "agent-1" || fl.executorID != "e1" || fl.exitStatus == nil || *fl.exitStatus != 9 {
		t.Errorf("Failure(%q, %q, %v)", fl.agentID, fl.executorID, fl.exitStatus)
	}
	calls, _ := f.received()
	acks := 0
	for _, c := range calls {
		if c.Type == scheduler.Call_ACKNOWLEDGE {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d ACKNOWLEDGE calls, want 1", acks)
	}
}

// TestErrorEvents: what each ERROR message makes of the subscription.
func TestErrorEvents(t *testing.T) {
	tests := map[string]struct {
		message     string
		wantErr     error
		wantRemoved bool
		wantID      string // the framework id of the next SUBSCRIBE
	}{
		"removed":         {"Framework has been removed", ErrRemoved, true, ""},
		"other error":     {"Framework is not authorized to use role 'web'", ErrMasterError, false, "fw-1"},
		"unknown message": {"Some unforeseen error", ErrMasterError, false, "fw-1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeMaster(t)
			var mu sync.Mutex
			n := 0
			f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
				mu.Lock()
				n++
				first := n == 1
				mu.Unlock()
				s := openFakeStream(w, r, "s")
				_ = s.send(subscribedEvent("fw-1", 15))
				if first {
					_ = s.send(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: tc.message}})
				}
				<-r.Context().Done()
			}
			h := newRecorder(t)
			start(t, testConfig(t, f.URL()), h)
			i, disc := h.waitFor("Disconnected", 0, isKind("Disconnected"))
			if !errors.Is(disc.err, tc.wantErr) {
				t.Errorf("Disconnected(%v), want %v", disc.err, tc.wantErr)
			}
			_, second, _ := f.waitCall(scheduler.Call_SUBSCRIBE, 1)
			if got := second.Subscribe.FrameworkInfo.GetID().GetValue(); got != tc.wantID {
				t.Errorf("re-subscribed with framework id %q, want %q", got, tc.wantID)
			}
			h.waitFor("Subscribed again", i, isKind("Subscribed"))
			removed := 0
			for _, rec := range h.snapshot() {
				if rec.kind == "Removed" {
					removed++
					if rec.message != tc.message {
						t.Errorf("Removed(%q)", rec.message)
					}
				}
			}
			if (removed == 1) != tc.wantRemoved || removed > 1 {
				t.Errorf("Removed called %d times, want it: %v", removed, tc.wantRemoved)
			}
		})
	}
}

// TestStreamContentTypeChecked: a 200 answer that is not an event stream in
// the codec asked for is not taken for a subscription.
func TestStreamContentTypeChecked(t *testing.T) {
	tests := map[string]http.Header{
		"wrong codec":      {"Content-Type": {"application/json"}, headerStreamID: {"s"}},
		"no stream id":     {"Content-Type": {"application/x-protobuf"}},
		"html":             {"Content-Type": {"text/html"}, headerStreamID: {"s"}},
		"recordio of json": {"Content-Type": {"application/recordio"}, headerMessageContentType: {"application/json"}, headerStreamID: {"s"}},
	}
	for name, hdr := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeMaster(t)
			var mu sync.Mutex
			n := 0
			f.subscribe = func(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
				mu.Lock()
				n++
				mu.Unlock()
				for k, v := range hdr {
					w.Header()[k] = v
				}
				w.WriteHeader(http.StatusOK)
			}
			h := newRecorder(t)
			start(t, testConfig(t, f.URL()), h)
			f.waitCall(scheduler.Call_SUBSCRIBE, 1) // retried: the first was not taken
			for _, rec := range h.snapshot() {
				t.Errorf("handler called: %s", rec.kind)
			}
		})
	}
}
