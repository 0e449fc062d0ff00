package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// ErrConflict is returned by Store.Commit when the compare-and-set fails: someone
// else wrote since the snapshot the caller read. A leader that sees it must reload.
var ErrConflict = errors.New("state changed concurrently: compare-and-set failed")

// ErrNotFound is returned (wrapped) by Store.AppVersion when the app has no such
// version.
var ErrNotFound = errors.New("not found")

// ErrFenced is returned (wrapped) by Store.Commit when the store refuses to write
// because this server no longer holds the leadership the store was opened for
// (the Consul store checks the leader's session in every transaction). Like
// ErrConflict, it ends the leader's term: the executor stops acting at once.
var ErrFenced = errors.New("not the leader any more: write refused")

// ErrLocked is returned when the data directory (or leader lock) is held by another
// server.
var ErrLocked = errors.New("state is locked by another server")

// MaxAppVersions is how many versions of one app a store keeps (Marathon's
// /v2/apps/{id}/versions).
const MaxAppVersions = 50

// Snapshot is a consistent read of the whole store.
type Snapshot struct {
	// Index increments on every commit; it is the compare-and-set token.
	Index uint64
	// Serial increments only when apps change; plans are pinned to it (State.Serial),
	// so task churn does not make a saved plan stale.
	Serial      uint64
	Apps        map[string]*App
	Tasks       map[string]*Task
	Deployments map[string]*Deployment
	// Subscriptions are the event callback subscriptions by callback URL.
	Subscriptions map[string]*Subscription
	// Groups holds the current group records (see Group), by id.
	Groups      map[string]*Group
	FrameworkID string
	// Unreadable lists the records that could not be decoded (a bug, a bit
	// flip, a hand edit). They are left in the store untouched and kept out of
	// the maps above, so that one poisoned record never stops a server from
	// serving the rest: the executor acts on nothing it cannot read, and a later
	// write of the same id replaces the record.
	Unreadable []UnreadableRecord
}

// UnreadableRecord is one record a store could not decode.
type UnreadableRecord struct {
	// Kind is "apps", "tasks", "deployments", "groups" or "subscriptions"; ID
	// is the record's key.
	Kind, ID string
	// Err says why it cannot be read.
	Err string
}

// State returns the deployed apps as a planner State.
func (s *Snapshot) State() *State {
	st := &State{Serial: s.Serial, Apps: make([]*App, 0, len(s.Apps))}
	for _, a := range s.Apps {
		st.Apps = append(st.Apps, a)
	}
	return st
}

// Txn is one atomic write. Records are stored one per key (never all apps in one
// value).
type Txn struct {
	PutApps           []*App
	DeleteApps        []string
	PutTasks          []*Task
	DeleteTasks       []string
	PutDeployments    []*Deployment
	DeleteDeployments []string
	// PutSubscriptions and DeleteSubscriptions (callback URLs) change the event
	// callback subscriptions; they do not change Serial.
	PutSubscriptions    []*Subscription
	DeleteSubscriptions []string
	PutGroups           []*Group
	DeleteGroups        []string
	// PutGroupVersions records group versions (Store.GroupVersion), each under
	// its Group.ID and Group.Version, after PutGroups is applied.
	PutGroupVersions []*GroupVersion
	// FrameworkID, when non-nil, replaces the stored Mesos framework id.
	FrameworkID *string
}

// Store is Stride's durable state. Implementations: engine/store/bolt (embedded
// file), engine/store/consul (Consul KV).
type Store interface {
	// Load reads a consistent snapshot.
	Load(ctx context.Context) (*Snapshot, error)
	// Commit applies txn atomically if the store's Index still equals expectIndex,
	// and returns the new Index; otherwise it changes nothing and returns ErrConflict.
	// Serial is incremented when txn puts or deletes apps.
	Commit(ctx context.Context, expectIndex uint64, txn Txn) (newIndex uint64, err error)
	// AppVersions returns the recorded versions of app id, newest first: every
	// put of an app with a Version records it, the newest MaxAppVersions are
	// kept, a deleted app keeps its history, and creating an id anew drops the
	// history of the earlier app of that id. An id with no history yields an
	// empty list.
	AppVersions(ctx context.Context, id string) ([]string, error)
	// AppVersion returns app id as recorded at version, or an error wrapping
	// ErrNotFound.
	AppVersion(ctx context.Context, id, version string) (*App, error)
	// GroupVersions returns the recorded versions of group id, newest first:
	// every GroupVersion a commit puts is recorded, the newest
	// MaxGroupVersions are kept, a deleted group keeps its history, and putting
	// a group whose id is not in the store drops the history of the earlier
	// group of that id (before the same commit records new versions). An id
	// with no history yields an empty list.
	GroupVersions(ctx context.Context, id string) ([]string, error)
	// GroupVersion returns the record of group id at version, or an error
	// wrapping ErrNotFound.
	GroupVersion(ctx context.Context, id, version string) (*GroupVersion, error)
	// Close releases the store (and its lock).
	Close() error
}

// SortVersionsNewestFirst orders versions by the instant they name, newest first. Versions
// are ISO-8601 timestamps, but their text does not sort by time when precision or
// zone differ ("…:48Z" sorts after "…:48.343Z"), so they are compared as times;
// versions that do not parse come last, in reverse text order. Equal instants are
// ordered by text, so the result is deterministic.
func SortVersionsNewestFirst(versions []string) {
	type key struct {
		s  string
		t  time.Time
		ok bool
	}
	keys := make([]key, len(versions))
	for i, v := range versions {
		t, err := time.Parse(time.RFC3339Nano, v)
		keys[i] = key{s: v, t: t, ok: err == nil}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.ok != b.ok {
			if a.ok {
				return -1
			}
			return 1
		}
		if a.ok {
			if c := b.t.Compare(a.t); c != 0 {
				return c
			}
		}
		return strings.Compare(b.s, a.s)
	})
	for i, k := range keys {
		versions[i] = k.s
	}
}
