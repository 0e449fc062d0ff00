// Package callbacks delivers the event bus to HTTP callback subscribers
// (Marathon's POST /v2/eventSubscriptions?callbackUrl=): every event is POSTed,
// as the JSON the event stream carries, to every subscribed URL.
//
// Each subscriber has a goroutine of its own that follows the bus with its own
// Reader, so a slow or dead subscriber holds up nothing but itself: neither the
// executor (the bus never waits for a reader) nor another subscriber.
//
//   - Order: one subscriber's events are POSTed one at a time, in the bus's
//     order, so the events of one app arrive in the order they happened.
//   - Retries: a delivery that fails (no connection, a timeout, a status other
//     than 2xx) is tried again after a backoff that doubles from Backoff up to
//     MaxBackoff, at most MaxAttempts times; then the event is given up
//     (counted as dropped, undeliverable). The backoff carries over to the
//     next event while the subscriber keeps failing, so a dead subscriber is
//     asked about once every MaxBackoff, and resets on the first success.
//   - Bounded backlog: a subscriber is never more than MaxBacklog events
//     behind; beyond that its oldest events are dropped (counted, and logged at
//     most every 10 s).
//
// The callback policy (SSRF): only http and https URLs (engine.CheckCallbackURL);
// loopback and private addresses are allowed, since subscribers usually run
// next to the server; link-local (cloud metadata services), multicast and
// unspecified addresses are refused when connecting, whatever the name
// resolves to; redirects are not followed (a 3xx is a failed delivery); no
// proxy from the environment is used; a delivery must connect within 2 s and
// finish within 5 s, and at most 64 KiB of the answer is read. URLs are logged
// without password and query.
package callbacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
)

// Config configures a Dispatcher.
type Config struct {
	// Bus is the event bus of the term.
	Bus *executor.Bus
	// Client posts the events (nil: Client(), the callback policy's).
	Client *http.Client
	// Logf receives delivery problems (never a URL's password or query).
	Logf func(format string, args ...any)
	// Metrics counts deliveries and drops (nil: none).
	Metrics *metrics.Metrics
	// MaxBacklog bounds how far behind the bus one subscriber may be (1,000).
	MaxBacklog int
	// MaxAttempts bounds the tries per event (4).
	MaxAttempts int
	// Backoff is the first wait after a failure (250 ms); it doubles up to
	// MaxBackoff (30 s).
	Backoff, MaxBackoff time.Duration
	// UserAgent is sent with every delivery.
	UserAgent string
}

// Default limits.
const (
	DefaultMaxBacklog  = 1000
	DefaultMaxAttempts = 4
	DefaultBackoff     = 250 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	// connectTimeout and deliveryTimeout bound one delivery.
	connectTimeout  = 2 * time.Second
	deliveryTimeout = 5 * time.Second
	// maxAnswer is how much of a subscriber's answer is read.
	maxAnswer = 64 << 10
	// dropLogEvery bounds how often drops are logged per subscriber.
	dropLogEvery = 10 * time.Second
)

// Dispatcher delivers the bus to the subscribers the executor holds.
type Dispatcher struct {
	cfg Config
	// wait sleeps for a backoff (false: ctx ended first); tests record it.
	wait func(ctx context.Context, d time.Duration) bool

	mu      sync.Mutex
	workers map[string]*worker
}

// worker is one subscriber's delivery goroutine.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns a dispatcher.
func New(cfg Config) *Dispatcher {
	if cfg.Client == nil {
		cfg.Client = Client()
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.Backoff)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Stride (event callback)"
	}
	return &Dispatcher{cfg: cfg, workers: map[string]*worker{}, wait: sleep}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Client returns the HTTP client of the callback policy (see the package doc).
func Client() *http.Client {
	dialer := &net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second, Control: refuseAddress}
	return &http.Client{
		Timeout: deliveryTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   connectTimeout,
			ResponseHeaderTimeout: deliveryTimeout,
			MaxIdleConns:          engine.MaxSubscriptions,
			MaxIdleConnsPerHost:   engine.MaxSubscriptions,
			IdleConnTimeout:       60 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refuseAddress refuses, at connect time (after name resolution), addresses no
// callback may reach: link-local (cloud metadata services live there),
// multicast and unspecified ones.
func refuseAddress(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return fmt.Errorf("callback address %s is not an IP address", host)
	}
	if ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return fmt.Errorf("callbacks may not reach %s (link-local, multicast and unspecified addresses are refused)", ip)
	}
	return nil
}

// Run delivers events to the subscribers of the executor's views until ctx
// ends; then every delivery stops (events not delivered yet are not kept: a
// new leader delivers its own term's events).
func (d *Dispatcher) Run(ctx context.Context, view func() *executor.View) error {
	defer d.stopAll()
	for {
		v := view()
		d.sync(ctx, v.Subscribers)
		select {
		case <-ctx.Done():
			return nil
		case <-v.Next():
		}
	}
}

// Subscribers returns the URLs being delivered to.
func (d *Dispatcher) Subscribers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.workers)
}

// sync starts a worker per new subscriber and stops those of removed ones.
func (d *Dispatcher) sync(ctx context.Context, subs []executor.Subscriber) {
	d.mu.Lock()
	defer d.mu.Unlock()
	want := make(map[string]bool, len(subs))
	for _, s := range subs {
		want[s.CallbackURL] = true
		if _, ok := d.workers[s.CallbackURL]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{cancel: cancel, done: make(chan struct{})}
		d.workers[s.CallbackURL] = w
		go func(s executor.Subscriber) {
			defer close(w.done)
			d.deliver(wctx, s)
		}(s)
	}
	for u, w := range d.workers {
		if !want[u] {
			w.cancel()
			delete(d.workers, u)
		}
	}
}

func (d *Dispatcher) stopAll() {
	d.mu.Lock()
	ws := d.workers
	d.workers = map[string]*worker{}
	d.mu.Unlock()
	for _, w := range ws {
		w.cancel()
	}
	for _, w := range ws {
		<-w.done
	}
}

// subscriber is one worker's delivery state.
type subscriber struct {
	d    *Dispatcher
	url  string
	name string // for logs: without password and query
	// backoff is the wait before the next attempt (0 while deliveries work).
	backoff time.Duration
	failing bool
	// dropped counts events dropped since the last log line.
	dropped  uint64
	lastDrop time.Time
}

// deliver follows the bus for one subscriber until ctx ends.
func (d *Dispatcher) deliver(ctx context.Context, sub executor.Subscriber) {
	s := &subscriber{d: d, url: sub.CallbackURL, name: engine.RedactURL(sub.CallbackURL)}
	r := d.cfg.Bus.ReaderAfter(sub.After)
	batch := make([]*executor.Event, 0, 64)
	for ctx.Err() == nil {
		if n := r.SkipTo(uint64(d.cfg.MaxBacklog)); n > 0 {
			s.drop(n, metrics.DropBacklogFull)
		}
		var missed uint64
		batch, missed = r.Read(batch[:0], cap(batch))
		if missed > 0 {
			// Fell off the bus's history itself (a bus smaller than the backlog).
			s.drop(missed, metrics.DropBacklogFull)
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-r.Ready():
			}
			continue
		}
		for _, ev := range batch {
			if !s.send(ctx, ev) {
				return
			}
		}
	}
}

// send delivers one event with retries; false when ctx ended.
func (s *subscriber) send(ctx context.Context, ev *executor.Event) bool {
	cfg := &s.d.cfg
	for attempt := 1; ; attempt++ {
		if s.backoff > 0 && !s.d.wait(ctx, s.backoff) {
			return false
		}
		err := s.post(ctx, ev)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			if s.failing {
				cfg.Logf("event callback %s: delivering again", s.name)
			}
			s.failing, s.backoff = false, 0
			cfg.Metrics.CallbackDelivered()
			return true
		}
		if !s.failing {
			cfg.Logf("event callback %s: delivery failed (%v); retrying with backoff", s.name, err)
			s.failing = true
		}
		s.backoff = min(max(cfg.Backoff, 2*s.backoff), cfg.MaxBackoff)
		if attempt >= cfg.MaxAttempts {
			cfg.Metrics.CallbackFailed() // counted as dropped, undeliverable
			s.dropped++
			s.logDrops("given up after " + fmt.Sprint(cfg.MaxAttempts) + " attempts")
			return true
		}
	}
}

// drop counts n events dropped for reason (metrics) and logs now and then.
func (s *subscriber) drop(n uint64, reason string) {
	if n == 0 {
		return
	}
	s.d.cfg.Metrics.EventsDropped(metrics.ConsumerCallback, reason, n)
	s.dropped += n
	s.logDrops(fmt.Sprintf("its backlog is over %d events", s.d.cfg.MaxBacklog))
}

func (s *subscriber) logDrops(why string) {
	now := time.Now()
	if s.dropped == 0 || now.Sub(s.lastDrop) < dropLogEvery {
		return
	}
	s.d.cfg.Logf("event callback %s: dropped %d event(s): %s", s.name, s.dropped, why)
	s.dropped, s.lastDrop = 0, now
}

// post makes one delivery.
func (s *subscriber) post(ctx context.Context, ev *executor.Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(ev.JSON))
	if err != nil {
		return errors.New("the URL cannot be requested")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.d.cfg.UserAgent)
	resp, err := s.d.cfg.Client.Do(req)
	if err != nil {
		// url.Error repeats the URL (query and all): keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("answered %s: redirects are not followed", resp.Status)
	}
	return fmt.Errorf("answered %s", resp.Status)
}
