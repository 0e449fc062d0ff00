// Package consul is Stride's cluster state store: engine.Store on Consul's KV
// store, shared by every server of a cluster (one of them, the leader, writes).
//
// Layout under the prefix (default "stride/"), one key per record:
//
//	meta                       {"format","index","serial","framework_id","journal"}
//	apps/<id>                  Marathon app JSON
//	versions/<id>/<version>    the app's history (the newest engine.MaxAppVersions)
//	tasks/<id>                 task JSON
//	deployments/<id>           deployment JSON, its apps as references to versions/
//	                           where recorded (see large.go)
//	subscriptions/<url>        event callback subscription JSON
//	groups/<id>                group JSON
//	groupversions/<id>/<version> engine.GroupVersion JSON (the newest
//	                           engine.MaxGroupVersions)
//	chunks/<record path>/<i>   the parts of a value larger than one Consul value
//	journal/<n>/<i>            the parts of a large commit (see below)
//
// Ids, versions and callback URLs are path-escaped (url.PathEscape), so "/shop/api" is the single
// segment "%2Fshop%2Fapi" and one id's keys never prefix another's. Values larger
// than CompressAbove are gzip-compressed and recognised by gzip's magic bytes.
//
// Compare-and-set: every commit checks and rewrites the meta key with a check on
// its ModifyIndex (the Index of a Snapshot is Stride's own counter in meta, +1 per
// commit). A Fenced store also checks, in the same transaction, that a session
// holds the leader lock: a leader that lost its lock can never write.
//
// Large commits. A Consul transaction holds at most 64 operations and 512 KiB. A
// commit that fits is one transaction. One that does not goes through a journal,
// so that it stays atomic for readers and for a writer killed halfway:
//
//  1. its operations are written, encoded and split, to journal/<n>/<i> keys,
//     in as many transactions as needed — invisible to readers;
//  2. the commit point: one transaction sets meta (compare-and-set) to the new
//     index and serial and names the journal;
//  3. the operations are applied to the record keys, in batches, and a last
//     transaction clears the journal from meta and deletes its keys.
//
// Load reads the whole prefix in one consistent list and, when meta names a
// journal, applies it on top: a reader sees the whole commit or none of it. Open
// and Commit first finish a journal a killed writer left behind (step 3 is
// idempotent); journal keys that meta does not name are the leftovers of a writer
// killed before step 2, and are deleted.
package consul

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
)

// FormatVersion is the layout version written to meta.
const FormatVersion = "1"

// Consul's limits, and the store's margins under them.
const (
	maxOps = 64
	// maxTxnBytes bounds the values of one transaction (Consul's request limit is
	// 512 KiB, and values travel base64-encoded).
	maxTxnBytes = 256 << 10
	// maxValue bounds one record's stored value.
	maxValue = 256 << 10
)

// Config configures a Store.
type Config struct {
	// Client is the Consul API client; its token is used.
	Client *api.Client
	// Prefix is the key prefix ("stride/").
	Prefix string
	// LockKey is the leader lock key the fenced stores check.
	LockKey string
	// CompressAbove is the size from which values are compressed (2 KiB).
	CompressAbove int
	// MaxOps overrides Consul's 64 operations per transaction (tests use less to
	// exercise the journal).
	MaxOps int
}

// Store is engine.Store on Consul KV.
type Store struct {
	shared  *shared
	session string // "" unless fenced
}

type shared struct {
	cfg Config
	kv  *api.KV
	txn *api.Txn

	mu sync.Mutex // serialises commits of this process
	// cached is the last meta read or written by this process, at ModifyIndex
	// metaModify (0: unknown, read it again).
	cached                *meta
	metaIndex, metaModify uint64
	closed                bool
	// orphans: Open found journal keys that meta does not name (a writer was
	// killed before its commit point); the next commit deletes them.
	orphans bool
	// refs holds the version keys stored deployments refer to, depRefs each
	// stored deployment's; known once a Load or knowRefs read them (see
	// large.go).
	refs      map[string]*refInfo
	depRefs   map[string][]string
	refsKnown bool
}

var _ engine.Store = (*Store)(nil)

func (sh *shared) setCache(m *meta, modify uint64) {
	if m == nil {
		sh.cached, sh.metaIndex, sh.metaModify = nil, 0, 0
		return
	}
	cp := *m
	sh.cached, sh.metaIndex, sh.metaModify = &cp, m.Index, modify
}

type meta struct {
	Format      string   `json:"format"`
	Index       uint64   `json:"index"`
	Serial      uint64   `json:"serial"`
	FrameworkID string   `json:"framework_id"`
	Journal     *journal `json:"journal,omitempty"`
}

type journal struct {
	ID    string `json:"id"`
	Parts int    `json:"parts"`
}

// op is one write of a commit (also the journal's encoding).
type op struct {
	Key    string `json:"k"`
	Value  []byte `json:"v,omitempty"`
	Delete bool   `json:"d,omitempty"`
	// Tree deletes every key under Key.
	Tree bool `json:"t,omitempty"`
}

// Open returns the store, finishing a journal a killed writer left.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("consul store: no client")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "stride/"
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.CompressAbove <= 0 {
		cfg.CompressAbove = 2 << 10
	}
	if cfg.MaxOps <= 0 || cfg.MaxOps > maxOps {
		cfg.MaxOps = maxOps
	}
	sh := &shared{cfg: cfg, kv: cfg.Client.KV(), txn: cfg.Client.Txn()}
	s := &Store{shared: sh}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, _, err := s.readMeta(ctx, true); err != nil {
		return nil, fmt.Errorf("consul store: open %s: %w", cfg.Prefix, err)
	}
	keys, _, err := sh.kv.Keys(s.key("journal")+"/", "", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul store: open %s: %w", cfg.Prefix, err)
	}
	sh.orphans = len(keys) > 0
	return s, nil
}

// Fenced returns the store whose every write also checks that session holds
// Config.LockKey; once it does not, Commit fails with engine.ErrFenced.
func (s *Store) Fenced(session string) engine.Store {
	return &Store{shared: s.shared, session: session}
}

func (s *Store) key(parts ...string) string { return s.shared.cfg.Prefix + strings.Join(parts, "/") }

func esc(s string) string { return url.PathEscape(s) }

// readMeta reads meta (creating it when missing) and finishes a pending journal
// when finish is set. Callers hold mu.
func (s *Store) readMeta(ctx context.Context, finish bool) (*meta, uint64, error) {
	sh := s.shared
	kv, _, err := sh.kv.Get(s.key("meta"), (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, 0, fmt.Errorf("read meta: %w", err)
	}
	if kv == nil {
		m := &meta{Format: FormatVersion}
		modify, err := s.writeMeta(ctx, m, 0, nil)
		if err != nil {
			return nil, 0, err
		}
		sh.setCache(m, modify)
		return m, modify, nil
	}
	var m meta
	if err := json.Unmarshal(kv.Value, &m); err != nil {
		return nil, 0, fmt.Errorf("meta at %s cannot be read: %w", kv.Key, err)
	}
	if m.Format != FormatVersion {
		return nil, 0, fmt.Errorf("meta at %s has layout %q, this Stride reads %q", kv.Key, m.Format, FormatVersion)
	}
	modify := kv.ModifyIndex
	if finish && m.Journal != nil {
		if modify, err = s.rollForward(ctx, &m, modify); err != nil {
			return nil, 0, err
		}
	}
	sh.setCache(&m, modify)
	return &m, modify, nil
}

// writeMeta sets meta if its ModifyIndex is still modify (0: absent), with ops in
// the same transaction, and returns the new ModifyIndex.
func (s *Store) writeMeta(ctx context.Context, m *meta, modify uint64, ops []op) (uint64, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	txn := s.fence()
	metaAt := len(txn)
	txn = append(txn, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: s.key("meta"), Value: raw, Index: modify}})
	for _, o := range ops {
		txn = append(txn, o.txnOp())
	}
	resp, err := s.run(ctx, txn)
	if err != nil {
		return 0, err
	}
	for _, r := range resp.Results {
		if r.KV != nil && r.KV.Key == s.key("meta") {
			return r.KV.ModifyIndex, nil
		}
	}
	_ = metaAt
	return 0, errors.New("no meta in the transaction's results")
}

func (o op) txnOp() *api.TxnOp {
	switch {
	case o.Tree:
		return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDeleteTree, Key: o.Key}}
	case o.Delete:
		return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDelete, Key: o.Key}}
	default:
		return &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: o.Key, Value: o.Value}}
	}
}

// fence is the session check a fenced store puts first in every transaction.
func (s *Store) fence() api.TxnOps {
	if s.session == "" {
		return nil
	}
	return api.TxnOps{{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: s.shared.cfg.LockKey, Session: s.session}}}
}

// run executes one transaction, mapping a failed session check to ErrFenced and
// a failed compare-and-set to ErrConflict.
func (s *Store) run(ctx context.Context, ops api.TxnOps) (*api.TxnResponse, error) {
	ok, resp, _, err := s.shared.txn.Txn(ops, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("transaction: %w", err)
	}
	if ok {
		return resp, nil
	}
	var msgs []string
	fenced := false
	for _, e := range resp.Errors {
		msgs = append(msgs, e.What)
		if s.session != "" && e.OpIndex == 0 {
			fenced = true
		}
	}
	if fenced {
		return nil, fmt.Errorf("the leader lock is not held by this server's session (%s): %w", strings.Join(msgs, "; "), engine.ErrFenced)
	}
	return nil, fmt.Errorf("%s: %w", strings.Join(msgs, "; "), engine.ErrConflict)
}

// Load reads the whole prefix in one consistent list.
func (s *Store) Load(ctx context.Context) (*engine.Snapshot, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("consul store: load: %w", err)
	}
	pairs, _, err := s.shared.kv.List(s.shared.cfg.Prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul store: load: %w", err)
	}
	vals := make(map[string][]byte, len(pairs))
	for _, p := range pairs {
		vals[p.Key] = p.Value
	}
	var m meta
	if raw, ok := vals[s.key("meta")]; ok {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("consul store: load: meta cannot be read: %w", err)
		}
	}
	if m.Journal != nil {
		ops, err := s.journalOps(vals, m.Journal)
		if err != nil {
			return nil, fmt.Errorf("consul store: load: %w", err)
		}
		applyOps(vals, ops)
	}
	snap := &engine.Snapshot{Index: m.Index, Serial: m.Serial, FrameworkID: m.FrameworkID}
	snap.Apps = decodeAll(snap, "apps", s.records(snap, vals, "apps"), func(b []byte) (*engine.App, string, error) {
		a := new(engine.App)
		err := a.UnmarshalJSON(b)
		return a, a.ID, err
	})
	snap.Tasks = decodeAll(snap, "tasks", s.records(snap, vals, "tasks"), func(b []byte) (*engine.Task, string, error) {
		t := new(engine.Task)
		err := json.Unmarshal(b, t)
		return t, t.ID, err
	})
	snap.Deployments = decodeAll(snap, "deployments", s.records(snap, vals, "deployments"), func(b []byte) (*engine.Deployment, string, error) {
		return decodeDeployment(b, func(id, v string) (*engine.App, error) { return s.versionOf(vals, id, v) })
	})
	snap.Subscriptions = decodeAll(snap, "subscriptions", s.records(snap, vals, "subscriptions"), func(b []byte) (*engine.Subscription, string, error) {
		sub := new(engine.Subscription)
		err := json.Unmarshal(b, sub)
		return sub, sub.CallbackURL, err
	})
	snap.Groups = decodeAll(snap, "groups", s.records(snap, vals, "groups"), func(b []byte) (*engine.Group, string, error) {
		g := new(engine.Group)
		err := json.Unmarshal(b, g)
		return g, g.ID, err
	})
	s.shared.mu.Lock()
	s.setRefs(vals)
	s.shared.mu.Unlock()
	return snap, nil
}

func applyOps(vals map[string][]byte, ops []op) {
	for _, o := range ops {
		switch {
		case o.Tree:
			for k := range vals {
				if strings.HasPrefix(k, o.Key) {
					delete(vals, k)
				}
			}
		case o.Delete:
			delete(vals, o.Key)
		default:
			vals[o.Key] = o.Value
		}
	}
}

// under returns the records of one kind: unescaped id -> value.
func (s *Store) under(vals map[string][]byte, kind string) map[string][]byte {
	p := s.key(kind)
	out := map[string][]byte{}
	for k, v := range vals {
		if rest, ok := strings.CutPrefix(k, p); ok && !strings.Contains(rest, "/") {
			id, err := url.PathUnescape(rest)
			if err != nil {
				id = rest
			}
			out[id] = v
		}
	}
	return out
}

// records returns the records of one kind with chunked values assembled; those
// that cannot be are reported unreadable.
func (s *Store) records(snap *engine.Snapshot, vals map[string][]byte, kind string) map[string][]byte {
	recs := s.under(vals, kind+"/")
	for id, raw := range recs {
		if !isChunked(raw) {
			continue
		}
		v, err := s.assemble(vals, s.key(kind, esc(id)), raw)
		if err != nil {
			snap.Unreadable = append(snap.Unreadable, engine.UnreadableRecord{Kind: kind, ID: id, Err: err.Error()})
			delete(recs, id)
			continue
		}
		recs[id] = v
	}
	return recs
}

func decodeAll[T any](snap *engine.Snapshot, kind string, recs map[string][]byte, decode func([]byte) (T, string, error)) map[string]T {
	out := make(map[string]T, len(recs))
	for id, raw := range recs {
		data, err := unpack(raw)
		var v T
		var got string
		if err == nil {
			v, got, err = decode(data)
		}
		if err == nil && got != id {
			err = fmt.Errorf("record holds id %q", got)
		}
		if err != nil {
			snap.Unreadable = append(snap.Unreadable, engine.UnreadableRecord{Kind: kind, ID: id, Err: err.Error()})
			continue
		}
		out[id] = v
	}
	return out
}

// pack compresses values above the threshold; unpack reverses it.
func (s *Store) pack(data []byte) []byte {
	if len(data) <= s.shared.cfg.CompressAbove {
		return data
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(data)
	_ = w.Close()
	return b.Bytes()
}

func unpack(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// Commit applies txn atomically if the stored index is expectIndex.
func (s *Store) Commit(ctx context.Context, expectIndex uint64, txn engine.Txn) (uint64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("consul store: commit: %w", err)
	}
	sh := s.shared
	sh.mu.Lock()
	defer sh.mu.Unlock()
	var (
		m      *meta
		modify uint64
		err    error
	)
	if c := sh.cached; c != nil && sh.metaModify != 0 && c.Index == expectIndex && c.Journal == nil {
		// The compare-and-set on the cached ModifyIndex fails if anyone wrote
		// since: no read needed.
		cp := *c
		m, modify = &cp, sh.metaModify
	} else if m, modify, err = s.readMeta(ctx, true); err != nil {
		return 0, fmt.Errorf("consul store: commit: %w", err)
	}
	if m.Index != expectIndex {
		return 0, fmt.Errorf("consul store: commit: expected index %d, store is at %d: %w", expectIndex, m.Index, engine.ErrConflict)
	}
	ops, refs, err := s.encode(ctx, txn)
	if err != nil {
		return 0, fmt.Errorf("consul store: commit: %w", err)
	}
	orphans := sh.orphans
	if orphans {
		// Only the writer deletes them, fenced: a reader must not remove the
		// parts a live writer is still writing.
		ops = append([]op{{Key: s.key("journal") + "/", Tree: true}}, ops...)
	}
	next := *m
	next.Index++
	if len(txn.PutApps) > 0 || len(txn.DeleteApps) > 0 {
		next.Serial++
	}
	if txn.FrameworkID != nil {
		next.FrameworkID = *txn.FrameworkID
	}
	size := 0
	for _, o := range ops {
		size += len(o.Key) + len(o.Value)
	}
	if len(ops)+2 <= sh.cfg.MaxOps && size <= maxTxnBytes {
		nm, err := s.writeMeta(ctx, &next, modify, ops)
		if err != nil {
			sh.setCache(nil, 0)
			return 0, fmt.Errorf("consul store: commit: %w", err)
		}
		sh.setCache(&next, nm)
		sh.orphans = false
		sh.commitRefs(refs, txn.DeleteDeployments)
		return next.Index, nil
	}
	if orphans {
		ops = ops[1:] // step 1 deletes them itself
	}
	if err := s.commitJournal(ctx, &next, modify, ops); err != nil {
		sh.setCache(nil, 0)
		// Whether it landed is not known: read the references again.
		sh.refsKnown = false
		return 0, fmt.Errorf("consul store: commit: %w", err)
	}
	sh.orphans = false
	sh.commitRefs(refs, txn.DeleteDeployments)
	return next.Index, nil
}

// encode turns txn into key operations, history included.
func (s *Store) encode(ctx context.Context, txn engine.Txn) ([]op, map[string]map[string][32]byte, error) {
	if err := s.knowRefs(ctx); err != nil {
		return nil, nil, err
	}
	var ops []op
	marshal := func(kind, id string, v any) ([]byte, error) {
		if id == "" {
			return nil, fmt.Errorf("put %s with an empty id", kind)
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode %s %q: %w", kind, id, err)
		}
		return data, nil
	}
	written := map[string][32]byte{}
	for i, a := range txn.PutApps {
		if a == nil {
			return nil, nil, fmt.Errorf("PutApps[%d] is nil", i)
		}
		data, err := marshal("apps", a.ID, a)
		if err != nil {
			return nil, nil, err
		}
		packed := s.pack(data)
		ops = append(ops, s.setOps(s.key("apps", esc(a.ID)), packed, true)...)
		hist, err := s.history(ctx, a, data, packed, written)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, hist...)
	}
	for _, id := range txn.DeleteApps {
		ops = append(ops, s.deleteOps(s.key("apps", esc(id)))...)
	}
	for i, t := range txn.PutTasks {
		if t == nil {
			return nil, nil, fmt.Errorf("PutTasks[%d] is nil", i)
		}
		data, err := marshal("tasks", t.ID, t)
		if err != nil {
			return nil, nil, err
		}
		// Tasks are small (bounded by the engine's limits) and the hot path:
		// one value each, never chunked.
		packed := s.pack(data)
		if len(packed) > maxValue {
			return nil, nil, fmt.Errorf("task %q is %d bytes stored, over the %d-byte limit of a Consul value", t.ID, len(packed), maxValue)
		}
		ops = append(ops, op{Key: s.key("tasks", esc(t.ID)), Value: packed})
	}
	for _, id := range txn.DeleteTasks {
		ops = append(ops, op{Key: s.key("tasks", esc(id)), Delete: true})
	}
	refs := map[string]map[string][32]byte{}
	for i, d := range txn.PutDeployments {
		if d == nil {
			return nil, nil, fmt.Errorf("PutDeployments[%d] is nil", i)
		}
		rec, keys, err := s.slim(ctx, d, written)
		if err != nil {
			return nil, nil, err
		}
		data, err := marshal("deployments", d.ID, rec)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, s.setOps(s.key("deployments", esc(d.ID)), s.pack(data), true)...)
		refs[d.ID] = keys
	}
	for _, id := range txn.DeleteDeployments {
		ops = append(ops, s.deleteOps(s.key("deployments", esc(id)))...)
	}
	for i, sub := range txn.PutSubscriptions {
		if sub == nil {
			return nil, nil, fmt.Errorf("PutSubscriptions[%d] is nil", i)
		}
		data, err := marshal("subscriptions", sub.CallbackURL, sub)
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, op{Key: s.key("subscriptions", esc(sub.CallbackURL)), Value: s.pack(data)})
	}
	for _, u := range txn.DeleteSubscriptions {
		if u != "" {
			ops = append(ops, op{Key: s.key("subscriptions", esc(u)), Delete: true})
		}
	}
	gops, err := s.encodeGroups(ctx, txn)
	if err != nil {
		return nil, nil, err
	}
	return append(ops, gops...), refs, nil
}

// encodeGroups returns the operations that put and delete the group records of
// txn and record its group versions, following engine.Store's history rules:
// a group put anew drops the id's old history first; each id keeps its newest
// MaxGroupVersions.
func (s *Store) encodeGroups(ctx context.Context, txn engine.Txn) ([]op, error) {
	if len(txn.PutGroups) == 0 && len(txn.DeleteGroups) == 0 && len(txn.PutGroupVersions) == 0 {
		return nil, nil
	}
	sh := s.shared
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	var ops []op
	anew := map[string]bool{}
	for i, g := range txn.PutGroups {
		if g == nil {
			return nil, fmt.Errorf("PutGroups[%d] is nil", i)
		}
		if g.ID == "" {
			return nil, errors.New("put groups with an empty id")
		}
		data, err := json.Marshal(g)
		if err != nil {
			return nil, fmt.Errorf("encode group %q: %w", g.ID, err)
		}
		cur, _, err := sh.kv.Get(s.key("groups", esc(g.ID)), q)
		if err != nil {
			return nil, fmt.Errorf("read group %q: %w", g.ID, err)
		}
		if cur == nil && !anew[g.ID] {
			anew[g.ID] = true
			dir := s.key("groupversions", esc(g.ID)) + "/"
			ops = append(ops, op{Key: dir, Tree: true}, op{Key: s.key("chunks", "groupversions", esc(g.ID)) + "/", Tree: true})
		}
		ops = append(ops, s.setOps(s.key("groups", esc(g.ID)), s.pack(data), true)...)
	}
	for _, id := range txn.DeleteGroups {
		ops = append(ops, s.deleteOps(s.key("groups", esc(id)))...)
	}
	// Versions per group: those kept plus those this commit records.
	versions := map[string][]string{}
	for i, gv := range txn.PutGroupVersions {
		if gv == nil || gv.Group == nil || gv.Group.ID == "" || gv.Group.Version == "" {
			return nil, fmt.Errorf("PutGroupVersions[%d] lacks its group, id or version", i)
		}
		id := gv.Group.ID
		data, err := json.Marshal(gv)
		if err != nil {
			return nil, fmt.Errorf("encode group %q version %q: %w", id, gv.Group.Version, err)
		}
		if _, listed := versions[id]; !listed {
			versions[id] = []string{}
			if !anew[id] {
				dir := s.key("groupversions", esc(id)) + "/"
				keys, _, err := sh.kv.Keys(dir, "/", q)
				if err != nil {
					return nil, fmt.Errorf("read group %q versions: %w", id, err)
				}
				for _, k := range keys {
					if v, err := url.PathUnescape(strings.TrimPrefix(k, dir)); err == nil && v != "" && !strings.HasSuffix(k, "/") {
						versions[id] = append(versions[id], v)
					}
				}
			}
		}
		ops = append(ops, s.setOps(s.key("groupversions", esc(id), esc(gv.Group.Version)), s.pack(data), true)...)
		if !slices.Contains(versions[id], gv.Group.Version) {
			versions[id] = append(versions[id], gv.Group.Version)
		}
	}
	ids := make([]string, 0, len(versions))
	for id := range versions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		vs := versions[id]
		if len(vs) <= engine.MaxGroupVersions {
			continue
		}
		engine.SortVersionsNewestFirst(vs)
		for _, v := range vs[engine.MaxGroupVersions:] {
			ops = append(ops, s.deleteOps(s.key("groupversions", esc(id), esc(v)))...)
		}
	}
	return ops, nil
}

// history returns the operations that record a put app's version, following
// engine.Store's rules: an id created anew drops the old history; the newest
// MaxAppVersions are kept — and, beyond them, the versions stored deployments
// refer to. data is the app's JSON, packed its stored value; written collects
// the recorded versions' hashes.
func (s *Store) history(ctx context.Context, a *engine.App, data, packed []byte, written map[string][32]byte) ([]op, error) {
	sh := s.shared
	dir := s.key("versions", esc(a.ID)) + "/"
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	cur, _, err := sh.kv.Get(s.key("apps", esc(a.ID)), q)
	if err != nil {
		return nil, fmt.Errorf("read app %q: %w", a.ID, err)
	}
	var ops []op
	var versions []string
	if cur == nil || sh.referencedUnder(dir) {
		keys, _, err := sh.kv.Keys(dir, "", q)
		if err != nil {
			return nil, fmt.Errorf("read app %q versions: %w", a.ID, err)
		}
		for _, k := range keys {
			rest := strings.TrimPrefix(k, dir)
			v, err := url.PathUnescape(rest)
			if err != nil || rest == "" || strings.Contains(rest, "/") {
				continue
			}
			if cur == nil && sh.refs[k] == nil {
				ops = append(ops, s.deleteOps(k)...) // created anew: the old history goes
				continue
			}
			versions = append(versions, v)
		}
	} else {
		keys, _, err := sh.kv.Keys(dir, "", q)
		if err != nil {
			return nil, fmt.Errorf("read app %q versions: %w", a.ID, err)
		}
		for _, k := range keys {
			v, err := url.PathUnescape(strings.TrimPrefix(k, dir))
			if err == nil {
				versions = append(versions, v)
			}
		}
	}
	if a.Version == "" {
		return ops, nil
	}
	key := s.versionKey(a.ID, a.Version)
	sum := sha256.Sum256(data)
	if r := sh.refs[key]; r != nil && r.sum != sum {
		return nil, fmt.Errorf("app %q version %q is recorded with other content, and a deployment refers to it: an app's version must change with its content", a.ID, a.Version)
	}
	ops = append(ops, s.setOps(key, packed, true)...)
	written[key] = sum
	found := false
	for _, v := range versions {
		found = found || v == a.Version
	}
	if !found {
		versions = append(versions, a.Version)
	}
	if len(versions) > engine.MaxAppVersions {
		engine.SortVersionsNewestFirst(versions)
		for _, v := range versions[engine.MaxAppVersions:] {
			if k := s.versionKey(a.ID, v); sh.refs[k] == nil {
				ops = append(ops, s.deleteOps(k)...)
			}
		}
	}
	return ops, nil
}

// commitJournal writes a large commit through the journal (see the package
// doc).
func (s *Store) commitJournal(ctx context.Context, next *meta, modify uint64, ops []op) error {
	id := strconv.FormatUint(next.Index, 10)
	dir := s.key("journal", id) + "/"
	raw, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write(raw)
	_ = w.Close()
	packed := b.Bytes()
	// Step 1: the parts, one transaction each (a part fills a transaction).
	var parts int
	for off := 0; off < len(packed) || parts == 0; off += maxValue {
		end := min(off+maxValue, len(packed))
		txn := append(s.fence(), &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVSet, Key: dir + strconv.Itoa(parts), Value: packed[off:end]}})
		if parts == 0 {
			// Leftovers of an earlier writer killed before its commit point.
			txn = append(txn, &api.TxnOp{KV: &api.KVTxnOp{Verb: api.KVDeleteTree, Key: s.key("journal") + "/"}})
			txn[len(txn)-1], txn[len(txn)-2] = txn[len(txn)-2], txn[len(txn)-1]
		}
		if _, err := s.run(ctx, txn); err != nil {
			return fmt.Errorf("journal part %d: %w", parts, err)
		}
		parts++
		if testHook != nil && testHook("part") {
			return errKilled
		}
		if end == len(packed) {
			break
		}
	}
	// Step 2: the commit point.
	next.Journal = &journal{ID: id, Parts: parts}
	nm, err := s.writeMeta(ctx, next, modify, nil)
	if err != nil {
		return fmt.Errorf("journal commit point: %w", err)
	}
	s.shared.setCache(next, nm)
	if testHook != nil && testHook("committed") {
		return nil
	}
	// Step 3.
	_, err = s.rollForwardOps(ctx, next, nm, ops)
	return err
}

// errKilled is what a test hook's simulated crash returns.
var errKilled = errors.New("killed by a test hook")

// testHook, when set (tests), is called at the journal's steps; returning true
// stops the writer there, as if it was killed.
var testHook func(step string) bool

// journalOps reads a journal's operations from listed values.
func (s *Store) journalOps(vals map[string][]byte, j *journal) ([]op, error) {
	dir := s.key("journal", j.ID) + "/"
	var packed []byte
	for i := 0; i < j.Parts; i++ {
		part, ok := vals[dir+strconv.Itoa(i)]
		if !ok {
			return nil, fmt.Errorf("journal %s lacks part %d", j.ID, i)
		}
		packed = append(packed, part...)
	}
	raw, err := unpack(packed)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.ID, err)
	}
	var ops []op
	if err := json.Unmarshal(raw, &ops); err != nil {
		return nil, fmt.Errorf("journal %s: %w", j.ID, err)
	}
	return ops, nil
}

// rollForward finishes the journal meta names (a writer was killed in step 3).
func (s *Store) rollForward(ctx context.Context, m *meta, modify uint64) (uint64, error) {
	pairs, _, err := s.shared.kv.List(s.key("journal", m.Journal.ID)+"/", (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	vals := map[string][]byte{}
	for _, p := range pairs {
		vals[p.Key] = p.Value
	}
	ops, err := s.journalOps(vals, m.Journal)
	if err != nil {
		return 0, err
	}
	return s.rollForwardOps(ctx, m, modify, ops)
}

// rollForwardOps applies a committed journal's operations and clears it.
func (s *Store) rollForwardOps(ctx context.Context, m *meta, modify uint64, ops []op) (uint64, error) {
	limit := s.shared.cfg.MaxOps - 1
	for i := 0; i < len(ops); {
		txn, size := s.fence(), 0
		for i < len(ops) && len(txn) < limit && (size == 0 || size+len(ops[i].Value) <= maxTxnBytes) {
			txn = append(txn, ops[i].txnOp())
			size += len(ops[i].Key) + len(ops[i].Value)
			i++
		}
		if _, err := s.run(ctx, txn); err != nil {
			return 0, fmt.Errorf("apply the journal: %w", err)
		}
		if testHook != nil && testHook("applying") {
			return 0, errKilled
		}
	}
	j := m.Journal
	cleared := *m
	cleared.Journal = nil
	nm, err := s.writeMeta(ctx, &cleared, modify, []op{{Key: s.key("journal", j.ID) + "/", Tree: true}})
	if err != nil {
		return 0, fmt.Errorf("clear the journal: %w", err)
	}
	m.Journal = nil
	s.shared.setCache(m, nm)
	return nm, nil
}

// AppVersions returns the recorded versions of app id, newest first.
func (s *Store) AppVersions(ctx context.Context, id string) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("consul store: app %q versions: %w", id, err)
	}
	snap, err := s.versionsView(ctx, "versions", id)
	if err != nil {
		return nil, fmt.Errorf("consul store: app %q versions: %w", id, err)
	}
	out := make([]string, 0, len(snap))
	for v := range snap {
		out = append(out, v)
	}
	engine.SortVersionsNewestFirst(out)
	return out, nil
}

// AppVersion returns app id as recorded at version.
func (s *Store) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("consul store: app %q version %q: %w", id, version, err)
	}
	snap, err := s.versionsView(ctx, "versions", id)
	if err != nil {
		return nil, fmt.Errorf("consul store: app %q version %q: %w", id, version, err)
	}
	raw, ok := snap[version]
	if !ok {
		return nil, fmt.Errorf("consul store: app %q version %q: %w", id, version, engine.ErrNotFound)
	}
	data, err := unpack(raw)
	a := new(engine.App)
	if err == nil {
		err = a.UnmarshalJSON(data)
	}
	if err == nil && a.ID != id {
		err = fmt.Errorf("record holds id %q", a.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("consul store: app %q version %q cannot be read: %w", id, version, err)
	}
	return a, nil
}

// GroupVersions returns the recorded versions of group id, newest first.
func (s *Store) GroupVersions(ctx context.Context, id string) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("consul store: group %q versions: %w", id, err)
	}
	snap, err := s.versionsView(ctx, "groupversions", id)
	if err != nil {
		return nil, fmt.Errorf("consul store: group %q versions: %w", id, err)
	}
	out := make([]string, 0, len(snap))
	for v := range snap {
		out = append(out, v)
	}
	engine.SortVersionsNewestFirst(out)
	return out, nil
}

// GroupVersion returns the record of group id at version.
func (s *Store) GroupVersion(ctx context.Context, id, version string) (*engine.GroupVersion, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("consul store: group %q version %q: %w", id, version, err)
	}
	snap, err := s.versionsView(ctx, "groupversions", id)
	if err != nil {
		return nil, fmt.Errorf("consul store: group %q version %q: %w", id, version, err)
	}
	raw, ok := snap[version]
	if !ok {
		return nil, fmt.Errorf("consul store: group %q version %q: %w", id, version, engine.ErrNotFound)
	}
	data, err := unpack(raw)
	gv := new(engine.GroupVersion)
	if err == nil {
		err = json.Unmarshal(data, gv)
	}
	if err == nil && (gv.Group == nil || gv.Group.ID != id) {
		err = errors.New("record holds another group")
	}
	if err != nil {
		return nil, fmt.Errorf("consul store: group %q version %q cannot be read: %w", id, version, err)
	}
	return gv, nil
}

// versionsView reads the history of one app ("versions") or group
// ("groupversions"), with a committed journal applied.
func (s *Store) versionsView(ctx context.Context, kind, id string) (map[string][]byte, error) {
	dir := s.key(kind, esc(id)) + "/"
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	pairs, _, err := s.shared.kv.List(dir, q)
	if err != nil {
		return nil, err
	}
	vals := map[string][]byte{}
	chunked := false
	for _, p := range pairs {
		vals[p.Key] = p.Value
		chunked = chunked || isChunked(p.Value)
	}
	if chunked {
		chunks, err := s.list(ctx, s.key("chunks", kind, esc(id))+"/")
		if err != nil {
			return nil, err
		}
		for k, v := range chunks {
			vals[k] = v
		}
	}
	mkv, _, err := s.shared.kv.Get(s.key("meta"), q)
	if err != nil {
		return nil, err
	}
	if mkv != nil {
		var m meta
		if json.Unmarshal(mkv.Value, &m) == nil && m.Journal != nil {
			jp, _, err := s.shared.kv.List(s.key("journal", m.Journal.ID)+"/", q)
			if err != nil {
				return nil, err
			}
			for _, p := range jp {
				vals[p.Key] = p.Value
			}
			ops, err := s.journalOps(vals, m.Journal)
			if err != nil {
				return nil, err
			}
			applyOps(vals, ops)
		}
	}
	out := map[string][]byte{}
	for k, v := range vals {
		if rest, ok := strings.CutPrefix(k, dir); ok && rest != "" && !strings.Contains(rest, "/") {
			ver, err := url.PathUnescape(rest)
			if err != nil {
				continue
			}
			if v, err = s.assemble(vals, k, v); err != nil {
				return nil, fmt.Errorf("version %q: %w", ver, err)
			}
			out[ver] = v
		}
	}
	return out, nil
}

// ErrClosed is returned (wrapped) after Close.
var ErrClosed = errors.New("state store is closed")

func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.shared.mu.Lock()
	defer s.shared.mu.Unlock()
	if s.shared.closed {
		return ErrClosed
	}
	return nil
}

// Close ends the use of the store (the data stays in Consul).
func (s *Store) Close() error {
	s.shared.mu.Lock()
	defer s.shared.mu.Unlock()
	s.shared.closed = true
	return nil
}
