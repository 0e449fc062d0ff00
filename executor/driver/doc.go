// Package driver is Stride's Mesos framework scheduler client: it speaks the
// Mesos v1 scheduler HTTP API (POST /api/v1/scheduler) to a master, with
// mesos-go's generated protocol types, codecs and call builders, and hands
// what the master says to a Handler, one event at a time.
//
//	Run ──► SUBSCRIBE (framework_info, id if known) ──► 307? follow Location ──► 200 + Mesos-Stream-Id
//	         ▲                                                                          │ RecordIO events
//	         │ backoff MinBackoff..MaxBackoff                                           ▼
//	         └── stream ends / no event for HeartbeatMisses heartbeats ◄── SUBSCRIBED, OFFERS, UPDATE (then ACKNOWLEDGE), ...
//
//	Launch, Decline, Suppress, Revive, Kill, Reconcile, Teardown ──► POST with Mesos-Stream-Id to the master subscribed to
//
// # Contract with the Handler
//
// Handler methods run on the driver's goroutine (the one that called Run), in
// stream order, never two at once. A handler may call the driver's methods
// from inside them; one that blocks holds up the event loop (events keep
// being read off the connection meanwhile, so heartbeats are not missed),
// and Run returns only after the call in progress has returned. Every Subscribed is eventually followed by exactly one
// Disconnected (when that subscription ends, for whatever reason); between
// the two, Connected reports true and calls go to the master subscribed to.
// A status update that carries a uuid is acknowledged after Update returns,
// never before, so that the handler has recorded it first; if the handler
// panics or the driver dies in between, the master sends it again.
//
// # Decisions where Mesos leaves a choice
//
//   - ERROR "Framework has been removed" (the failover timeout elapsed, or an
//     operator tore the framework down): the handler's Removed is called, the
//     driver forgets the framework id and subscribes as a new framework.
//   - ERROR "Framework failed over": another scheduler subscribed with this
//     framework id, so this one is no longer the framework's scheduler. Run
//     returns ErrFailedOver rather than steal the framework back (Marathon
//     exits on it too).
//   - Any other ERROR (e.g. not authorized for a role): logged, the
//     subscription ends, and the driver re-subscribes with backoff.
//   - Every SUBSCRIBE starts with no role suppressed (Suppress lasts for one
//     subscription): after Subscribed, offers flow until Suppress is called.
//   - After a successful Teardown, Run returns nil and the framework id is
//     forgotten.
//   - With Config.Secret, every request carries HTTP basic credentials of
//     Config.Principal (what a master started with
//     --authenticate_http_frameworks checks), redirects included; the secret
//     is never logged. A master that refuses them (401) is retried with
//     backoff, as any refused SUBSCRIBE.
//
// The driver does not use mesos-go's httpsched caller: after following a
// redirect it keeps sending calls to the master it was first given (its
// client's endpoint never changes), and with no candidate selector it takes
// any failed call (a 400 on a KILL, say) for a lost master and drops the
// subscription. The subscription loop is small enough to own here.
package driver
