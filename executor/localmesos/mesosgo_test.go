package localmesos

import (
	"context"
	"errors"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/callrules"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/eventrules"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// newCaller builds mesos-go's own v1 scheduler client for the master.
func newCaller(m *Master, codec encoding.Codec) calls.Caller {
	cli := httpcli.New(
		httpcli.Endpoint(m.URL()+"/api/v1/scheduler"),
		httpcli.Codec(codec),
		httpcli.Do(httpcli.With(httpcli.Timeout(10*time.Second))),
	)
	return httpsched.NewCaller(cli)
}

// TestMesosGoScheduler drives the stand-in with mesos-go's httpcli/httpsched
// caller and calls builders, as the production driver does.
func TestMesosGoScheduler(t *testing.T) {
	for name, codec := range map[string]encoding.Codec{"json": jsonCodec, "protobuf": protoCodec} {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 2 })
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			caller := newCaller(m, codec)
			info := frameworkInfo(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
			info.FailoverTimeout = proto(60.0)
			resp, err := caller.Call(ctx, calls.Subscribe(info))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Close()
			events := make(chan *scheduler.Event, 1000)
			go func() {
				defer close(events)
				for {
					var ev scheduler.Event
					if err := resp.Decode(&ev); err != nil {
						return
					}
					events <- &ev
				}
			}()
			next := func(pred func(*scheduler.Event) bool) *scheduler.Event {
				t.Helper()
				timeout := time.After(waitTimeout)
				for {
					select {
					case ev, ok := <-events:
						if !ok {
							t.Fatal("the event stream ended")
						}
						if pred(ev) {
							return ev
						}
					case <-timeout:
						t.Fatal("timed out")
					}
				}
			}
			fwID := next(isType(scheduler.Event_SUBSCRIBED)).Subscribed.FrameworkID.Value
			call := func(c *scheduler.Call) {
				t.Helper()
				if err := calls.CallNoData(ctx, caller, c.With(calls.Framework(fwID))); err != nil {
					t.Fatalf("%v: %v", c.Type, err)
				}
			}
			offers := next(isType(scheduler.Event_OFFERS)).Offers.Offers
			o := offers[0]
			ti := shellTask(o, "mesos-go", "sleep 60", 0.5, 64)
			var rest []mesos.OfferID
			for _, other := range offers[1:] {
				rest = append(rest, other.ID)
			}
			if len(rest) > 0 {
				call(calls.Decline(rest...).With(calls.RefuseSeconds(time.Hour)))
			}
			call(calls.Accept(calls.OfferOperations{calls.OpLaunch(ti)}.WithOffers(o.ID)).With(calls.RefuseSeconds(time.Hour)))
			for _, state := range []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING} {
				st := next(isUpdate("mesos-go", state)).Update.Status
				call(calls.Acknowledge(st.GetAgentID().GetValue(), st.TaskID.Value, st.UUID))
			}
			call(calls.Reconcile(calls.ReconcileTasks(map[string]string{"mesos-go": o.AgentID.Value})))
			if st := next(isTaskUpdate("mesos-go")).Update.Status; st.GetState() != mesos.TASK_RUNNING || st.GetReason() != mesos.REASON_RECONCILIATION {
				t.Errorf("reconciled %v (%v)", st.GetState(), st.GetReason())
			}
			call(calls.Suppress())
			call(calls.Revive())
			upd := *info
			upd.ID = &mesos.FrameworkID{Value: fwID}
			upd.Name = "renamed"
			call(calls.UpdateFramework(upd))
			call(calls.Kill("mesos-go", o.AgentID.Value))
			st := next(isTaskUpdate("mesos-go")).Update.Status
			if st.GetState() != mesos.TASK_KILLED {
				t.Errorf("after KILL: %v", st.GetState())
			}
			call(calls.Acknowledge(st.GetAgentID().GetValue(), st.TaskID.Value, st.UUID))
			if s := m.state(); s.Frameworks[0].Name != "renamed" {
				t.Errorf("UPDATE_FRAMEWORK did not rename: %q", s.Frameworks[0].Name)
			}
			call(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
		})
	}
}

// TestMesosGoController runs mesos-go's controller (subscription loop, event
// rules, automatic acknowledgements) against the stand-in until a task it
// launched finishes.
func TestMesosGoController(t *testing.T) {
	m := newMaster(t, func(c *Config) { c.Agents = 1 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caller := newCaller(m, protoCodec)
	var (
		fwID     string
		launched bool
		finished = make(chan mesos.TaskStatus, 1)
	)
	// Calls other than SUBSCRIBE carry the framework id, as in mesos-go's
	// example scheduler.
	withID := callrules.WithFrameworkID(func() string { return fwID }).Caller(caller)
	handler := eventrules.New(
		controller.AckStatusUpdatesF(func() calls.Caller { return withID }),
	).HandleF(func(ctx context.Context, ev *scheduler.Event) error {
		switch ev.Type {
		case scheduler.Event_SUBSCRIBED:
			fwID = ev.Subscribed.FrameworkID.Value
		case scheduler.Event_OFFERS:
			for _, o := range ev.Offers.Offers {
				var c *scheduler.Call
				if launched {
					c = calls.Decline(o.ID)
				} else {
					launched = true
					c = calls.Accept(calls.OfferOperations{calls.OpLaunch(shellTask(o, "controlled", "echo done", 0.1, 32))}.WithOffers(o.ID))
				}
				if err := calls.CallNoData(ctx, withID, c); err != nil {
					return err
				}
			}
		case scheduler.Event_UPDATE:
			if st := ev.Update.Status; st.GetState() == mesos.TASK_FINISHED {
				finished <- st
				return errDone
			}
		}
		return nil
	})
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(ctx, frameworkInfo(), caller,
			controller.WithEventHandler(handler),
			controller.WithSubscriptionTerminated(func(error) { cancel() }))
	}()
	select {
	case st := <-finished:
		if st.GetMessage() != "Command exited with status 0" {
			t.Errorf("finished with %q", st.GetMessage())
		}
	case <-time.After(waitTimeout):
		t.Fatal("the task did not finish")
	}
	<-done
	eventually(t, "the finished task to be acknowledged", func() bool { return len(m.Tasks()) == 0 })
}

var errDone = errors.New("done")
