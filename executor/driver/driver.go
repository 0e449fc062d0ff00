package driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// Handler receives what Mesos tells the framework. The driver calls it from
// its own goroutine, one event at a time, in stream order.
type Handler interface {
	// Subscribed: the framework is (re)registered; frameworkID must be
	// persisted by the handler before it returns (the driver re-subscribes
	// with it). reconnected is true when the subscription carried a framework
	// id that the master accepted.
	Subscribed(ctx context.Context, frameworkID string, reconnected bool)
	// Disconnected: the subscription that the latest Subscribed announced has
	// ended; err says why (ctx's error when Run is returning because ctx is
	// done). The driver re-subscribes unless Run is returning.
	Disconnected(ctx context.Context, err error)
	// Offers: resources offered to the framework. Each must be answered
	// (Launch or Decline) or it stays allocated to the framework until the
	// master rescinds it.
	Offers(ctx context.Context, offers []mesos.Offer)
	// Rescind: an offer is no longer valid.
	Rescind(ctx context.Context, offerID string)
	// Update: a task status. If it carries a uuid the driver ACKNOWLEDGEs it
	// after Update returns (so the handler has recorded it first), never
	// before.
	Update(ctx context.Context, status mesos.TaskStatus)
	// Failure: an agent (executorID "") or an executor is gone; status is
	// the executor's exit status when the master knows it.
	Failure(ctx context.Context, agentID, executorID string, status *int32)
	// Removed: the master removed the framework (ERROR event, e.g. after its
	// failover timeout). The handler forgets the framework id; the driver
	// then subscribes afresh without one.
	Removed(ctx context.Context, message string)
}

// Errors the driver reports (wrapped, to be tested with errors.Is).
var (
	// ErrNotConnected: a call was made while the driver holds no
	// subscription (before SUBSCRIBED, or between a break and the next).
	ErrNotConnected = errors.New("not subscribed to a Mesos master")
	// ErrMissedHeartbeats: no event arrived for Config.HeartbeatMisses
	// heartbeat intervals; the connection is taken for dead.
	ErrMissedHeartbeats = errors.New("no event from the master for too many heartbeat intervals")
	// ErrFailedOver: another scheduler subscribed with this framework id
	// (ERROR "Framework failed over"). Run returns it.
	ErrFailedOver = errors.New("another scheduler took over the framework (Framework failed over)")
	// ErrRemoved: the master removed the framework (ERROR "Framework has
	// been removed").
	ErrRemoved = errors.New("the master removed the framework")
	// ErrMasterError: the master sent another ERROR event.
	ErrMasterError = errors.New("the master sent an ERROR event")
	// ErrTornDown: the framework was torn down by Teardown.
	ErrTornDown = errors.New("the framework was torn down")
)

// Driver is a Mesos framework scheduler client. Create it with New, run its
// subscription loop with Run, and make calls from any goroutine (including
// the handler's) while it is connected.
type Driver struct {
	h         Handler
	s         settings
	configErr error
	// transport carries every request. It is used as a RoundTripper, not
	// through an http.Client: a 307 from a non-leading master is followed by
	// hand (so that the leader is kept for the calls that follow), and
	// http.Client refuses a Location it cannot parse as a URL, such as the
	// bare "host:port" of the Mesos documentation's example, before any
	// redirect policy is consulted.
	transport *http.Transport
	running   atomic.Bool
	// sleep waits d unless ctx ends first (it reports whether it waited);
	// tests replace it to observe the backoff without waiting.
	sleep func(ctx context.Context, d time.Duration) bool

	mu          sync.Mutex
	frameworkID string
	sess        *session      // the current subscription; nil when disconnected
	teardown    *teardownCall // the latest TEARDOWN, while in flight or once it succeeded
}

// session is one established subscription: SUBSCRIBED was received on it.
type session struct {
	endpoint    *url.URL // the master's scheduler endpoint (after redirects)
	base        string   // the master's URL
	streamID    string
	frameworkID string
	cancel      context.CancelCauseFunc // ends the subscription
}

// teardownCall is a TEARDOWN in flight (done open) or finished (ok tells).
type teardownCall struct {
	sess *session
	done chan struct{}
	ok   bool
}

// New returns a driver for cfg that reports to h. A config that cannot be
// used makes Run return the error.
func New(cfg Config, h Handler) *Driver {
	s, err := cfg.withDefaults()
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: callTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	d := &Driver{
		h:           h,
		s:           s,
		configErr:   err,
		transport:   transport,
		sleep:       sleepCtx,
		frameworkID: cfg.FrameworkID,
	}
	if h == nil && d.configErr == nil {
		d.configErr = errors.New("mesos driver: no handler")
	}
	return d
}

// sleepCtx waits d unless ctx ends first; it reports whether it waited.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// FrameworkID returns the framework id: the one SUBSCRIBED gave, or
// Config.FrameworkID before that; "" after the framework was removed or torn
// down.
func (d *Driver) FrameworkID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frameworkID
}

// Connected reports whether the driver holds a subscription (SUBSCRIBED was
// received and the stream has not ended).
func (d *Driver) Connected() bool { return d.current() != nil }

// MasterURL returns the URL of the master currently subscribed to, after
// redirects ("http://leader:5050"), or "" when not connected.
func (d *Driver) MasterURL() string {
	if s := d.current(); s != nil {
		return s.base
	}
	return ""
}

// current returns the current subscription, or nil.
func (d *Driver) current() *session {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sess
}

// logf logs through Config.Logf.
func (d *Driver) logf(format string, args ...any) { d.s.Logf("mesos driver: "+format, args...) }

// Run subscribes and processes events until ctx is done, re-subscribing (with
// the framework id, so tasks survive within the failover timeout) whenever
// the stream breaks or heartbeats stop, with exponential backoff between
// attempts. The masters of Config.Master are tried in turn; after a break the
// master last subscribed to is tried first.
//
// It returns nil when ctx is done or after a successful Teardown, ErrFailedOver
// when another scheduler took the framework over, and otherwise an error only
// for a config that cannot be used. Run must not be called again before it
// returns.
func (d *Driver) Run(ctx context.Context) error {
	if d.configErr != nil {
		return d.configErr
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("mesos driver: Run is already running")
	}
	defer d.running.Store(false)
	defer d.transport.CloseIdleConnections()
	d.mu.Lock()
	d.teardown = nil
	d.mu.Unlock()

	backoff := d.s.MinBackoff
	next := 0           // the configured master to try next
	var leader *url.URL // the master last subscribed to, tried first after a break
	for {
		if ctx.Err() != nil {
			return nil
		}
		endpoint := d.s.masters[next]
		if leader != nil {
			endpoint = leader
		}
		out := d.subscribe(ctx, endpoint)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(out.err, ErrTornDown):
			return nil
		case errors.Is(out.err, ErrFailedOver):
			return fmt.Errorf("mesos driver: %w", out.err)
		}
		switch {
		case out.subscribed:
			leader = out.endpoint
		case leader != nil:
			leader = nil
		default:
			next = (next + 1) % len(d.s.masters)
		}
		// The backoff starts over after a subscription, unless the master
		// ended it with an ERROR it may well repeat; and after Removed, to
		// subscribe afresh at once.
		if out.subscribed && !errors.Is(out.err, ErrMasterError) || errors.Is(out.err, ErrRemoved) {
			backoff = d.s.MinBackoff
		}
		d.logf("re-subscribing in %v", backoff)
		if !d.sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, d.s.MaxBackoff)
	}
}

// outcome is how one subscription attempt ended.
type outcome struct {
	endpoint   *url.URL // the master that accepted the subscription
	subscribed bool     // SUBSCRIBED was received
	err        error    // why it ended
}

// subscribe makes one subscription attempt at endpoint and, if the master
// takes it, processes its events until the stream ends.
func (d *Driver) subscribe(ctx context.Context, endpoint *url.URL) outcome {
	d.mu.Lock()
	sentID := d.frameworkID
	call := &scheduler.Call{
		Type:      scheduler.Call_SUBSCRIBE,
		Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: d.s.frameworkInfo(sentID)},
	}
	d.mu.Unlock()
	call.FrameworkID = call.Subscribe.FrameworkInfo.ID

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, endpoint, err := d.openStream(sctx, endpoint, call)
	if err != nil {
		d.logf("subscribe: %v", err)
		return outcome{err: err}
	}
	streamID := resp.Header.Get(headerStreamID)
	stream := newEventStream(d.s.codec, resp.Body, time.Now())
	go stream.read()
	a := &attempt{d: d, endpoint: endpoint, base: baseURL(endpoint), streamID: streamID, sentID: sentID, cancel: cancel}
	err = a.loop(ctx, sctx, stream)
	cancel(err)
	resp.Body.Close()
	<-stream.done
	return d.finish(ctx, a, err)
}

// finish ends an attempt: the session is dropped, the handler told, and a
// TEARDOWN in flight waited for.
func (d *Driver) finish(ctx context.Context, a *attempt, err error) outcome {
	d.mu.Lock()
	td := d.teardown
	if a.sess != nil && d.sess == a.sess {
		d.sess = nil
	}
	d.mu.Unlock()
	if td != nil && td.sess == a.sess && a.sess != nil {
		// The stream of a framework being torn down ends as the master
		// removes it: wait for the call's answer before deciding what the
		// end means.
		select {
		case <-td.done:
			if td.ok {
				err = ErrTornDown
			}
		case <-ctx.Done():
		}
	}
	if a.sess != nil {
		d.logf("disconnected from %s: %v", a.base, err)
		d.h.Disconnected(ctx, err)
	}
	if errors.Is(err, ErrRemoved) {
		d.mu.Lock()
		d.frameworkID = ""
		d.mu.Unlock()
		var msg string
		if me := (*masterError)(nil); errors.As(err, &me) {
			msg = me.message
		}
		d.h.Removed(ctx, msg)
	}
	return outcome{endpoint: a.endpoint, subscribed: a.sess != nil, err: err}
}

// masterError is an ERROR event: one of ErrRemoved, ErrFailedOver or
// ErrMasterError, with the master's message.
type masterError struct {
	kind    error
	message string
}

func (e *masterError) Error() string { return fmt.Sprintf("%v: %q", e.kind, e.message) }
func (e *masterError) Unwrap() error { return e.kind }

// classifyError maps an ERROR event's message to what it means (the messages
// are Mesos master's own wording).
func classifyError(message string) *masterError {
	lower := strings.ToLower(message)
	switch {
	case strings.Contains(lower, "framework has been removed"):
		return &masterError{ErrRemoved, message}
	case strings.Contains(lower, "framework failed over"):
		return &masterError{ErrFailedOver, message}
	}
	return &masterError{ErrMasterError, message}
}

// attempt is the state of one subscription attempt while its events are
// processed.
type attempt struct {
	d        *Driver
	endpoint *url.URL
	base     string
	streamID string
	sentID   string   // the framework id the SUBSCRIBE carried
	sess     *session // set by SUBSCRIBED
	cancel   context.CancelCauseFunc
	timeout  time.Duration // silence that counts as missed heartbeats; 0: none
}

// loop hands the stream's events to the handler until the stream ends, the
// heartbeats stop, an event ends the subscription or ctx (Run's) or sctx (the
// subscription's) is done. It returns why it stopped.
func (a *attempt) loop(ctx, sctx context.Context, stream *eventStream) error {
	d := a.d
	// Until SUBSCRIBED tells the interval, a master's default is assumed.
	a.timeout = time.Duration(d.s.HeartbeatMisses) * defaultHeartbeat
	timer := time.NewTimer(a.timeout)
	defer timer.Stop()
	for {
		events, lastSeen, streamErr := stream.take()
		for _, ev := range events {
			before := a.timeout
			if err := a.handle(ctx, ev); err != nil {
				return err
			}
			if sctx.Err() != nil {
				return context.Cause(sctx)
			}
			if a.timeout != before {
				resetTimer(timer, a.timeout)
			}
		}
		if streamErr != nil {
			if sctx.Err() != nil {
				return context.Cause(sctx)
			}
			return fmt.Errorf("the event stream from %s ended: %w", a.base, streamErr)
		}
		var tick <-chan time.Time
		if a.timeout > 0 {
			tick = timer.C
		}
		select {
		case <-stream.wake:
		case <-sctx.Done():
			return context.Cause(sctx)
		case <-tick:
			silence := time.Since(lastSeen)
			if silence >= a.timeout {
				return fmt.Errorf("%w: nothing from %s for %v", ErrMissedHeartbeats, a.base, silence.Round(time.Millisecond))
			}
			timer.Reset(a.timeout - silence)
		}
	}
}

// resetTimer makes t fire after dur (or never, for dur 0).
func resetTimer(t *time.Timer, dur time.Duration) {
	t.Stop()
	if dur > 0 {
		t.Reset(dur)
	}
}

// handle dispatches one event; a non-nil error ends the subscription.
func (a *attempt) handle(ctx context.Context, ev *scheduler.Event) error {
	d := a.d
	if missing := payloadMissing(ev); missing != "" {
		d.logf("ignoring a %v event without its %s from %s", ev.Type, missing, a.base)
		return nil
	}
	if a.sess == nil && ev.Type != scheduler.Event_SUBSCRIBED && ev.Type != scheduler.Event_ERROR {
		// Mesos sends SUBSCRIBED first; calls (and so acknowledgements)
		// are not allowed before it.
		d.logf("ignoring %v event received before SUBSCRIBED from %s", ev.Type, a.base)
		return nil
	}
	switch ev.Type {
	case scheduler.Event_SUBSCRIBED:
		a.subscribed(ctx, ev.GetSubscribed())
	case scheduler.Event_OFFERS:
		d.h.Offers(ctx, ev.GetOffers().GetOffers())
	case scheduler.Event_INVERSE_OFFERS:
		a.declineInverseOffers(ctx, ev.GetInverseOffers().GetInverseOffers())
	case scheduler.Event_RESCIND:
		d.h.Rescind(ctx, ev.GetRescind().OfferID.Value)
	case scheduler.Event_RESCIND_INVERSE_OFFER:
		d.logf("inverse offer %s rescinded", ev.GetRescindInverseOffer().InverseOfferID.Value)
	case scheduler.Event_UPDATE:
		a.update(ctx, ev.GetUpdate().GetStatus())
	case scheduler.Event_UPDATE_OPERATION_STATUS:
		st := ev.GetUpdateOperationStatus().GetStatus()
		d.logf("ignoring operation status %v of operation %q (the driver launches no operations with feedback)", st.GetState(), st.GetOperationID().GetValue())
	case scheduler.Event_MESSAGE:
		m := ev.GetMessage()
		d.logf("message of %d bytes from executor %s on agent %s ignored", len(m.GetData()), m.ExecutorID.Value, m.AgentID.Value)
	case scheduler.Event_FAILURE:
		f := ev.GetFailure()
		d.h.Failure(ctx, f.GetAgentID().GetValue(), f.GetExecutorID().GetValue(), f.Status)
	case scheduler.Event_ERROR:
		me := classifyError(ev.GetError().GetMessage())
		d.logf("ERROR from %s: %s", a.base, me.message)
		return me
	case scheduler.Event_HEARTBEAT:
		// The watchdog has already seen it arrive.
	default:
		d.logf("ignoring unknown event %v", ev.Type)
	}
	return nil
}

// payloadMissing names the field an event of its type must carry and does
// not ("" when it is there), so that a malformed event is dropped rather than
// dereferenced.
func payloadMissing(ev *scheduler.Event) string {
	var missing bool
	switch ev.Type {
	case scheduler.Event_SUBSCRIBED:
		missing = ev.Subscribed == nil || ev.Subscribed.FrameworkID == nil || ev.Subscribed.FrameworkID.Value == ""
	case scheduler.Event_OFFERS:
		missing = ev.Offers == nil
	case scheduler.Event_INVERSE_OFFERS:
		missing = ev.InverseOffers == nil
	case scheduler.Event_RESCIND:
		missing = ev.Rescind == nil
	case scheduler.Event_RESCIND_INVERSE_OFFER:
		missing = ev.RescindInverseOffer == nil
	case scheduler.Event_UPDATE:
		missing = ev.Update == nil
	case scheduler.Event_UPDATE_OPERATION_STATUS:
		missing = ev.UpdateOperationStatus == nil
	case scheduler.Event_MESSAGE:
		missing = ev.Message == nil
	case scheduler.Event_FAILURE:
		missing = ev.Failure == nil
	case scheduler.Event_ERROR:
		missing = ev.Error == nil
	}
	if missing {
		return strings.ToLower(ev.Type.String()) + " field"
	}
	return ""
}

// subscribed handles SUBSCRIBED: the session starts, calls are allowed, and
// the handler is told.
func (a *attempt) subscribed(ctx context.Context, sub *scheduler.Event_Subscribed) {
	d := a.d
	id := sub.GetFrameworkID().GetValue()
	a.timeout = 0
	if secs := sub.GetHeartbeatIntervalSeconds(); secs > 0 {
		a.timeout = time.Duration(float64(d.s.HeartbeatMisses) * secs * float64(time.Second))
	}
	if a.sess != nil {
		// Mesos sends one per stream; a second would break the pairing of
		// Subscribed and Disconnected the handler relies on.
		d.logf("ignoring a second SUBSCRIBED (framework %s) on the stream from %s", id, a.base)
		return
	}
	a.sess = &session{endpoint: a.endpoint, base: a.base, streamID: a.streamID, frameworkID: id, cancel: a.cancel}
	d.mu.Lock()
	d.frameworkID = id
	d.sess = a.sess
	d.mu.Unlock()
	reconnected := a.sentID != "" && a.sentID == id
	d.logf("subscribed to %s as framework %s (reconnected: %v, heartbeat timeout %v)", a.base, id, reconnected, a.timeout)
	d.h.Subscribed(ctx, id, reconnected)
}

// update hands a status update to the handler, then acknowledges it if it
// carries a uuid.
func (a *attempt) update(ctx context.Context, st mesos.TaskStatus) {
	d := a.d
	d.h.Update(ctx, st)
	if len(st.UUID) == 0 {
		return
	}
	agentID := st.GetAgentID().GetValue()
	if agentID == "" {
		d.logf("cannot acknowledge the %v update of task %s: it names no agent", st.GetState(), st.TaskID.Value)
		return
	}
	call := &scheduler.Call{
		Type: scheduler.Call_ACKNOWLEDGE,
		Acknowledge: &scheduler.Call_Acknowledge{
			AgentID: mesos.AgentID{Value: agentID},
			TaskID:  mesos.TaskID{Value: st.TaskID.Value},
			UUID:    st.UUID,
		},
	}
	if err := d.send(ctx, a.sess, call); err != nil {
		// The master sends the update again until it is acknowledged.
		d.logf("acknowledge %v of task %s: %v", st.GetState(), st.TaskID.Value, err)
	}
}

// declineInverseOffers declines inverse offers (maintenance requests): Stride
// does not move tasks off agents going into maintenance on request.
func (a *attempt) declineInverseOffers(ctx context.Context, offers []mesos.InverseOffer) {
	d := a.d
	if len(offers) == 0 {
		return
	}
	ids := make([]mesos.OfferID, len(offers))
	for i, o := range offers {
		ids[i] = o.OfferID
		d.logf("declining inverse offer %s for agent %s", o.OfferID.Value, o.GetAgentID().GetValue())
	}
	call := &scheduler.Call{
		Type:                 scheduler.Call_DECLINE_INVERSE_OFFERS,
		DeclineInverseOffers: &scheduler.Call_DeclineInverseOffers{InverseOfferIDs: ids},
	}
	if err := d.send(ctx, a.sess, call); err != nil {
		d.logf("decline inverse offers: %v", err)
	}
}
