package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
)

// ConsulElector elects one leader among the Stride servers that share a Consul
// prefix, with a Consul session lock on <prefix>leader whose value is the
// leader's advertised address.
//
// Consul invalidates a session only 2×TTL after its last renewal, and refuses a
// TTL under 10 s, so a session TTL alone would fail a killed leader over in 20 s
// at best. Stride adds a heartbeat and a lease on top:
//
//   - The leader writes <prefix>leader-heartbeat every HeartbeatInterval (1 s),
//     in a transaction that checks it still holds the lock, and renews the
//     session with it.
//   - The leader's lease is LeaseTimeout (5 s) from its last successful
//     heartbeat: past it, the term's Mesos calls are refused (the server fences
//     itself), and the term ends. The clock is the monotonic one, which a
//     SIGSTOP does not stop: a leader resumed after a freeze finds its lease gone
//     before it can act.
//   - A standby that sees the heartbeat unchanged for DeposeAfter (8 s, longer
//     than the lease) destroys the leader's session: Consul releases the lock,
//     and every write the old leader attempts from then on fails its session
//     check (see the Consul store's fencing). After the session's LockDelay
//     (2 s) the standbys race for the lock.
//
// Failover after a leader is killed therefore takes DeposeAfter + LockDelay plus
// the new leader's load and Mesos subscription: about 11 s with the defaults. A
// leader that shuts down or abdicates releases the lock itself, without lock
// delay, and a standby (polling every PollInterval, 250 ms) takes over within
// about a second.
type ConsulElector struct {
	// Client is the Consul API client (its token is used for every call).
	Client *api.Client
	// Prefix is the key prefix shared with the state store ("stride/").
	Prefix string
	// Advertise is this server's address as the others reach it.
	Advertise string
	// Fence returns the state store fenced by a session: every write checks
	// that the session still holds the lock.
	Fence func(sessionID string) engine.Store
	// Timing (zero: the defaults above). SessionTTL is Consul's session TTL
	// (10 s, Consul's minimum), the backstop when every server is gone.
	SessionTTL, LockDelay, HeartbeatInterval, LeaseTimeout, DeposeAfter, PollInterval time.Duration
	// Logf receives progress lines.
	Logf func(format string, args ...any)

	mu   sync.Mutex
	term *consulTerm
}

func (c *ConsulElector) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.SessionTTL, 10*time.Second)
	def(&c.LockDelay, 2*time.Second)
	def(&c.HeartbeatInterval, time.Second)
	def(&c.LeaseTimeout, 5*time.Second)
	def(&c.DeposeAfter, 8*time.Second)
	def(&c.PollInterval, 250*time.Millisecond)
	if c.Prefix == "" {
		c.Prefix = "stride/"
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

func (c *ConsulElector) lockKey() string      { return c.Prefix + "leader" }
func (c *ConsulElector) heartbeatKey() string { return c.Prefix + "leader-heartbeat" }

// LockKey is the key the leader's session holds (the store's fencing checks it).
func (c *ConsulElector) LockKey() string {
	c.defaults()
	return c.lockKey()
}

// Campaign creates a session and waits for the lock, deposing a leader whose
// heartbeat stopped.
func (c *ConsulElector) Campaign(ctx context.Context) (Term, error) {
	c.defaults()
	var session string
	defer func() {
		if session != "" {
			_, _ = c.Client.Session().Destroy(session, nil)
		}
	}()
	var (
		watched   string // the session of the leader being watched
		lastBeat  string
		lastMoved time.Time
	)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q := (&api.QueryOptions{}).WithContext(ctx)
		kv, _, err := c.Client.KV().Get(c.lockKey(), q)
		if err != nil {
			c.Logf("campaign: read the leader lock: %v", err)
			if !sleepCtx(ctx, time.Second) {
				return nil, ctx.Err()
			}
			continue
		}
		if kv == nil || kv.Session == "" {
			if session == "" {
				session, err = c.createSession(ctx)
				if err != nil {
					c.Logf("campaign: %v", err)
					if !sleepCtx(ctx, time.Second) {
						return nil, ctx.Err()
					}
					continue
				}
			}
			ok, _, err := c.Client.KV().Acquire(&api.KVPair{Key: c.lockKey(), Value: []byte(c.Advertise), Session: session},
				(&api.WriteOptions{}).WithContext(ctx))
			if err != nil {
				c.Logf("campaign: acquire: %v", err)
				if isSessionGone(err) {
					session = ""
				}
			}
			if ok {
				t := c.newTerm(session)
				session = "" // the term owns it now
				return t, nil
			}
			// Refused: another server was faster, or the lock delay of a lost
			// session still runs.
		} else if kv.Session != session {
			// Someone leads: watch its heartbeat.
			beat := c.readBeat(ctx)
			now := time.Now()
			if kv.Session != watched || beat != lastBeat {
				watched, lastBeat, lastMoved = kv.Session, beat, now
			} else if now.Sub(lastMoved) > c.DeposeAfter {
				c.Logf("the leader at %s has not renewed its lease for %s: deposing it (destroying its Consul session)", string(kv.Value), now.Sub(lastMoved).Round(time.Millisecond))
				if _, err := c.Client.Session().Destroy(kv.Session, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
					c.Logf("campaign: depose: %v", err)
				}
				lastMoved = now
			}
		}
		if !sleepCtx(ctx, c.PollInterval) {
			return nil, ctx.Err()
		}
	}
}

func (c *ConsulElector) createSession(ctx context.Context) (string, error) {
	id, _, err := c.Client.Session().Create(&api.SessionEntry{
		Name:      "stride leader " + c.Advertise,
		TTL:       c.SessionTTL.String(),
		LockDelay: c.LockDelay,
		Behavior:  api.SessionBehaviorRelease,
	}, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("create a Consul session: %w", err)
	}
	return id, nil
}

func (c *ConsulElector) readBeat(ctx context.Context) string {
	kv, _, err := c.Client.KV().Get(c.heartbeatKey(), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil || kv == nil {
		return ""
	}
	return strconv.FormatUint(kv.ModifyIndex, 10) + " " + string(kv.Value)
}

func isSessionGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), "invalid session")
}

// Leader returns the advertised address the lock holds, "" when it is free.
func (c *ConsulElector) Leader(ctx context.Context) (string, error) {
	c.defaults()
	kv, _, err := c.Client.KV().Get(c.lockKey(), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("read the leader lock: %w", err)
	}
	if kv == nil || kv.Session == "" {
		return "", nil
	}
	return string(kv.Value), nil
}

// Close resigns the current term, if any.
func (c *ConsulElector) Close() error {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.Resign(ctx)
}

// consulTerm is a held lock: its session, heartbeat and lease.
type consulTerm struct {
	c       *ConsulElector
	session string
	store   engine.Store
	done    chan struct{}
	stop    context.CancelFunc
	// leaseUntil is the monotonic deadline of the lease (UnixNano of a
	// time.Time carrying the monotonic reading is not monotonic, so it is kept
	// as the duration since start).
	start      time.Time
	leaseUntil atomic.Int64
	once       sync.Once
	resignOnce sync.Once
	resignErr  error
	wg         sync.WaitGroup
}

func (c *ConsulElector) newTerm(session string) *consulTerm {
	ctx, stop := context.WithCancel(context.Background())
	t := &consulTerm{c: c, session: session, done: make(chan struct{}), stop: stop, start: time.Now()}
	t.extend()
	t.store = c.Fence(session)
	c.mu.Lock()
	c.term = t
	c.mu.Unlock()
	t.wg.Add(1)
	go t.heartbeat(ctx)
	return t
}

func (t *consulTerm) Store() engine.Store   { return t.store }
func (t *consulTerm) Done() <-chan struct{} { return t.done }

// Valid reports whether the lease still runs: the last heartbeat succeeded less
// than LeaseTimeout ago.
func (t *consulTerm) Valid() bool {
	if t.ended() {
		return false
	}
	return int64(time.Since(t.start)) < t.leaseUntil.Load()
}

func (t *consulTerm) extend() {
	t.leaseUntil.Store(int64(time.Since(t.start) + t.c.LeaseTimeout))
}

func (t *consulTerm) ended() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

func (t *consulTerm) lose(format string, args ...any) {
	t.once.Do(func() {
		t.c.Logf("leadership lost: "+format, args...)
		close(t.done)
	})
}

// heartbeat renews the session and writes the heartbeat key, checking the lock,
// every HeartbeatInterval; the term is lost when the lock is gone or the lease
// runs out.
func (t *consulTerm) heartbeat(ctx context.Context) {
	defer t.wg.Done()
	tick := time.NewTicker(t.c.HeartbeatInterval)
	defer tick.Stop()
	var n uint64
	for {
		n++
		err := t.beat(ctx, n)
		switch {
		case err == nil:
			t.extend()
		case errors.Is(err, engine.ErrFenced):
			t.lose("%v", err)
			return
		case ctx.Err() != nil:
			return
		default:
			t.c.Logf("leader heartbeat: %v", err)
		}
		if !t.Valid() {
			t.lose("no heartbeat reached Consul for %s", t.c.LeaseTimeout)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *consulTerm) beat(ctx context.Context, n uint64) error {
	ctx, cancel := context.WithTimeout(ctx, t.c.LeaseTimeout)
	defer cancel()
	ops := api.TxnOps{
		{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: t.c.lockKey(), Session: t.session}},
		{KV: &api.KVTxnOp{Verb: api.KVSet, Key: t.c.heartbeatKey(), Value: []byte(t.session + " " + strconv.FormatUint(n, 10))}},
	}
	ok, resp, _, err := t.c.Client.Txn().Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !ok {
		msg := "refused"
		if resp != nil && len(resp.Errors) > 0 {
			msg = resp.Errors[0].What
		}
		return fmt.Errorf("the lock is no longer held by this server's session (%s): %w", msg, engine.ErrFenced)
	}
	entry, _, err := t.c.Client.Session().Renew(t.session, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return fmt.Errorf("renew the session: %w", err)
	}
	if entry == nil {
		return fmt.Errorf("the session is gone: %w", engine.ErrFenced)
	}
	return nil
}

// Resign releases the lock (no lock delay: a standby takes over at once) and
// destroys the session.
func (t *consulTerm) Resign(ctx context.Context) error {
	t.resignOnce.Do(func() {
		t.stop()
		t.wg.Wait()
		t.lose("resigned")
		wo := (&api.WriteOptions{}).WithContext(ctx)
		var errs []error
		if _, _, err := t.c.Client.KV().Release(&api.KVPair{Key: t.c.lockKey(), Session: t.session}, wo); err != nil {
			errs = append(errs, fmt.Errorf("release the leader lock: %w", err))
		}
		if _, err := t.c.Client.Session().Destroy(t.session, wo); err != nil {
			errs = append(errs, fmt.Errorf("destroy the session: %w", err))
		}
		t.resignErr = errors.Join(errs...)
		t.c.mu.Lock()
		if t.c.term == t {
			t.c.term = nil
		}
		t.c.mu.Unlock()
	})
	return t.resignErr
}
