package executor

import (
	"context"
	"fmt"
	"sort"

	"github.com/stride-run/stride/engine"
)

// Subscriber is a callback subscription as the executor holds it.
type Subscriber struct {
	engine.Subscription
	// After is the last event published on the bus before the subscription was
	// made: the subscriber gets every event after it, its own subscribe_event
	// first. Subscriptions loaded from the store at the start of a term have 0:
	// they get every event of the term.
	After uint64
}

// Subscribe records a callback subscription in the store, then publishes
// subscribe_event. A URL already subscribed is left as it is (created false, no
// event). A URL outside the callback policy (engine.CheckCallbackURL) is an
// engine.FieldErrors for /callbackUrl, and one more subscription than
// engine.MaxSubscriptions too.
func (e *Executor) Subscribe(ctx context.Context, sub engine.Subscription) (created bool, err error) {
	if err := engine.CheckCallbackURL(sub.CallbackURL); err != nil {
		return false, engine.FieldErrors{{Path: "/callbackUrl", Errors: []string{err.Error()}}}
	}
	if derr := e.do(ctx, func() { created, err = e.subscribe(ctx, sub) }); derr != nil {
		return false, derr
	}
	return created, err
}

// subscribe is Subscribe on the actor.
func (e *Executor) subscribe(ctx context.Context, sub engine.Subscription) (bool, error) {
	if _, ok := e.subscribers[sub.CallbackURL]; ok {
		return false, nil
	}
	if len(e.subscribers) >= engine.MaxSubscriptions {
		return false, engine.FieldErrors{{Path: "/callbackUrl", Errors: []string{
			fmt.Sprintf("there are %d subscriptions already, the most Stride keeps: remove one first", len(e.subscribers)),
		}}}
	}
	now := e.cfg.Now()
	rec := sub
	if rec.CreatedAt == "" {
		rec.CreatedAt = FormatTime(now)
	}
	if err := e.commit(ctx, engine.Txn{PutSubscriptions: []*engine.Subscription{&rec}}); err != nil {
		return false, err
	}
	e.subscribers[rec.CallbackURL] = &Subscriber{Subscription: rec, After: e.bus.Last()}
	e.logf("event subscription added: %s", engine.RedactURL(rec.CallbackURL))
	e.bus.Publish(EventSubscribe, now, SubscriptionEvent{ClientIP: rec.ClientIP, CallbackURL: engine.RedactURL(rec.CallbackURL)})
	e.publish()
	return true, nil
}

// Unsubscribe removes a callback subscription from the store, then publishes
// unsubscribe_event. An unknown URL is no error (removed false, no event).
func (e *Executor) Unsubscribe(ctx context.Context, callbackURL, clientIP string) (removed bool, err error) {
	if derr := e.do(ctx, func() { removed, err = e.unsubscribe(ctx, callbackURL, clientIP) }); derr != nil {
		return false, derr
	}
	return removed, err
}

// unsubscribe is Unsubscribe on the actor.
func (e *Executor) unsubscribe(ctx context.Context, callbackURL, clientIP string) (bool, error) {
	if _, ok := e.subscribers[callbackURL]; !ok {
		return false, nil
	}
	if err := e.commit(ctx, engine.Txn{DeleteSubscriptions: []string{callbackURL}}); err != nil {
		return false, err
	}
	delete(e.subscribers, callbackURL)
	e.logf("event subscription removed: %s", engine.RedactURL(callbackURL))
	e.bus.Publish(EventUnsubscribe, e.cfg.Now(), SubscriptionEvent{ClientIP: clientIP, CallbackURL: engine.RedactURL(callbackURL)})
	e.publish()
	return true, nil
}

// subscriberList returns the subscribers sorted by URL (for the View).
func (e *Executor) subscriberList() []Subscriber {
	out := make([]Subscriber, 0, len(e.subscribers))
	for _, s := range e.subscribers {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CallbackURL < out[j].CallbackURL })
	return out
}
