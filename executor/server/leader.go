package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/bolt"
)

// Elector decides which server of a cluster acts. A server campaigns, and while
// it holds a Term it is the leader: it loads the state from the term's store,
// subscribes to Mesos and acts; every other server is a standby that proxies the
// API to the leader. Implementations: the embedded default's (LocalElector: a
// bolt file guarded by a file lock, one server per data directory) and the
// cluster's (a Consul session lock, see ConsulElector).
type Elector interface {
	// Campaign blocks until this server holds the leadership, or ctx ends.
	Campaign(ctx context.Context) (Term, error)
	// Leader returns the advertised address (host:port) of the current leader,
	// "" when there is none.
	Leader(ctx context.Context) (string, error)
	// Close gives up any leadership and campaign and releases the elector.
	Close() error
}

// Term is one period of leadership.
type Term interface {
	// Store is the state store of this term. It is fenced: once the term is over,
	// its writes fail with engine.ErrFenced (the Consul store checks the term's
	// session in every transaction), so a leader that was paused or cut off and
	// comes back can never write.
	Store() engine.Store
	// Done is closed when the leadership is lost (the lock or session is gone).
	Done() <-chan struct{}
	// Resign ends the term: the lock is released so that another server is
	// elected. Calling it again does nothing.
	Resign(ctx context.Context) error
}

// LocalElector is the embedded default's leadership: the bolt state file in a
// data directory, whose exclusive file lock makes the one server that holds it
// the leader. Campaign fails at once (engine.ErrLocked, naming the holder) when
// another process holds the directory, rather than waiting: on one machine a
// second `stride dev` on the same directory is a mistake to report.
type LocalElector struct {
	// DataDir is the directory of the state file.
	DataDir string
	// Advertise is the address reported as the leader's while a term is held.
	Advertise string

	mu   sync.Mutex
	term *localTerm
}

// Campaign opens (and locks) the state file.
func (l *LocalElector) Campaign(ctx context.Context) (Term, error) {
	st, err := bolt.Open(ctx, l.DataDir)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	t := &localTerm{store: st, done: make(chan struct{})}
	l.mu.Lock()
	l.term = t
	l.mu.Unlock()
	return t, nil
}

// Leader is this server while it holds the file.
func (l *LocalElector) Leader(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.term == nil || l.term.resigned() {
		return "", nil
	}
	return l.Advertise, nil
}

// Close resigns the current term.
func (l *LocalElector) Close() error {
	l.mu.Lock()
	t := l.term
	l.mu.Unlock()
	if t == nil {
		return nil
	}
	return t.Resign(context.Background())
}

type localTerm struct {
	store *bolt.Store
	done  chan struct{}
	once  sync.Once
	err   error
}

func (t *localTerm) Store() engine.Store   { return t.store }
func (t *localTerm) Done() <-chan struct{} { return t.done }

func (t *localTerm) Resign(ctx context.Context) error {
	t.once.Do(func() {
		close(t.done)
		t.err = t.store.Close()
	})
	return t.err
}

func (t *localTerm) resigned() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}
