package consul

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/stride-run/stride/engine"
)

// Values larger than one Consul value (maxValue) are split: the record's key
// holds a marker naming the number of chunks and the whole value's SHA-256,
// and the chunks live under chunks/<the record's path>/<i>. They are written
// in the same commit as the marker (through the journal when the commit is
// large), so a reader sees all of them or none; a record rewritten or deleted
// takes its old chunks with it.
const chunkMarker = "\x00stride-chunks:"

// chunkDir is where the chunks of the value at key live.
func (s *Store) chunkDir(key string) string {
	return s.key("chunks") + "/" + strings.TrimPrefix(key, s.shared.cfg.Prefix) + "/"
}

// setOps returns the operations that store packed at key: one value, or the
// chunks and a marker. With clear, the chunks an earlier value may have left
// are deleted first.
func (s *Store) setOps(key string, packed []byte, clear bool) []op {
	var ops []op
	if clear || len(packed) > maxValue {
		ops = append(ops, op{Key: s.chunkDir(key), Tree: true})
	}
	if len(packed) <= maxValue {
		return append(ops, op{Key: key, Value: packed})
	}
	n := 0
	for off := 0; off < len(packed); off += maxValue {
		ops = append(ops, op{Key: s.chunkDir(key) + strconv.Itoa(n), Value: packed[off:min(off+maxValue, len(packed))]})
		n++
	}
	sum := sha256.Sum256(packed)
	marker := chunkMarker + strconv.Itoa(n) + ":" + hex.EncodeToString(sum[:])
	return append(ops, op{Key: key, Value: []byte(marker)})
}

// deleteOps deletes the record at key with its chunks.
func (s *Store) deleteOps(key string) []op {
	return []op{{Key: key, Delete: true}, {Key: s.chunkDir(key), Tree: true}}
}

// assemble returns the stored value of key: raw itself, or the chunks it names
// (from vals) checked against the marker's hash.
func (s *Store) assemble(vals map[string][]byte, key string, raw []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(raw, []byte(chunkMarker))
	if !ok {
		return raw, nil
	}
	ns, sumHex, ok := strings.Cut(string(rest), ":")
	n, err := strconv.Atoi(ns)
	if !ok || err != nil || n <= 0 || n > 4096 {
		return nil, fmt.Errorf("malformed chunk marker %q", raw)
	}
	dir := s.chunkDir(key)
	var out []byte
	for i := 0; i < n; i++ {
		part, ok := vals[dir+strconv.Itoa(i)]
		if !ok {
			return nil, fmt.Errorf("chunk %d of %d is missing", i, n)
		}
		out = append(out, part...)
	}
	sum := sha256.Sum256(out)
	if hex.EncodeToString(sum[:]) != sumHex {
		return nil, fmt.Errorf("the %d chunks do not match their hash", n)
	}
	return out, nil
}

// isChunked says whether a stored value is a chunk marker.
func isChunked(raw []byte) bool { return bytes.HasPrefix(raw, []byte(chunkMarker)) }

// A deployment refers to the app versions it carries instead of embedding
// them: each change's before and after app whose version is recorded under
// versions/ with the same content is stored as a reference (appRef), and Load
// reads it back from there. Referenced versions are kept (not pruned) while a
// stored deployment refers to them, and a referenced version is never
// rewritten with other content. Apps without a recorded version stay embedded.
type depRecord struct {
	Deployment *engine.Deployment `json:"deployment"`
	Refs       []appRef           `json:"app_refs,omitempty"`
}

type appRef struct {
	Change  int    `json:"change"`
	After   bool   `json:"after,omitempty"`
	ID      string `json:"id"`
	Version string `json:"version"`
}

// refInfo is one referenced version key: its content's hash and how many
// stored deployments refer to it.
type refInfo struct {
	sum   [32]byte
	count int
}

// versionKey is where app id's version is recorded.
func (s *Store) versionKey(id, version string) string {
	return s.key("versions", esc(id), esc(version))
}

// slim returns the record stored for d (its apps referenced where possible)
// and the keys it refers to with their hashes. written holds the versions this
// commit records (key -> hash of the app's JSON).
func (s *Store) slim(ctx context.Context, d *engine.Deployment, written map[string][32]byte) (*depRecord, map[string][32]byte, error) {
	rec := &depRecord{Deployment: d}
	if d.Plan == nil || len(d.Plan.Changes) == 0 {
		return rec, nil, nil
	}
	cp := *d
	plan := *d.Plan
	plan.Changes = make([]*engine.Change, len(d.Plan.Changes))
	for i, c := range d.Plan.Changes {
		if c == nil {
			return nil, nil, fmt.Errorf("deployment %q: change %d is nil", d.ID, i)
		}
		cc := *c
		plan.Changes[i] = &cc
	}
	cp.Plan = &plan
	rec.Deployment = &cp
	keys := map[string][32]byte{}
	for i := range plan.Changes {
		c := plan.Changes[i]
		for _, after := range []bool{false, true} {
			app := c.Before
			if after {
				app = c.After
			}
			if app == nil || app.Version == "" {
				continue
			}
			data, err := json.Marshal(app)
			if err != nil {
				return nil, nil, fmt.Errorf("encode deployment %q: %w", d.ID, err)
			}
			sum := sha256.Sum256(data)
			key := s.versionKey(app.ID, app.Version)
			same, err := s.recorded(ctx, key, sum, written)
			if err != nil {
				return nil, nil, fmt.Errorf("deployment %q: %w", d.ID, err)
			}
			if !same {
				continue
			}
			keys[key] = sum
			rec.Refs = append(rec.Refs, appRef{Change: i, After: after, ID: app.ID, Version: app.Version})
			if after {
				c.After = nil
			} else {
				c.Before = nil
			}
		}
	}
	return rec, keys, nil
}

// recorded says whether key holds an app whose JSON hashes to sum: recorded by
// this commit, known from an earlier reference, or read from Consul.
func (s *Store) recorded(ctx context.Context, key string, sum [32]byte, written map[string][32]byte) (bool, error) {
	if w, ok := written[key]; ok {
		return w == sum, nil
	}
	if r := s.shared.refs[key]; r != nil {
		return r.sum == sum, nil
	}
	q := (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx)
	kv, _, err := s.shared.kv.Get(key, q)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	if kv == nil {
		return false, nil
	}
	raw := kv.Value
	if isChunked(raw) {
		vals, err := s.list(ctx, s.chunkDir(key))
		if err != nil {
			return false, err
		}
		if raw, err = s.assemble(vals, key, raw); err != nil {
			return false, nil
		}
	}
	data, err := unpack(raw)
	if err != nil {
		return false, nil
	}
	return sha256.Sum256(data) == sum, nil
}

// list reads the keys under prefix.
func (s *Store) list(ctx context.Context, prefix string) (map[string][]byte, error) {
	pairs, _, err := s.shared.kv.List(prefix, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", prefix, err)
	}
	vals := make(map[string][]byte, len(pairs))
	for _, p := range pairs {
		vals[p.Key] = p.Value
	}
	return vals, nil
}

// decodeDeployment reads a stored deployment, resolving its references with
// version (nil: the version is not recorded).
func decodeDeployment(b []byte, version func(id, v string) (*engine.App, error)) (*engine.Deployment, string, error) {
	var rec struct {
		Deployment json.RawMessage `json:"deployment"`
		Refs       []appRef        `json:"app_refs"`
	}
	d := new(engine.Deployment)
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.Deployment) == 0 {
		// Embedded apps (a deployment written before references, or a
		// plain one).
		err := json.Unmarshal(b, d)
		return d, d.ID, err
	}
	if err := json.Unmarshal(rec.Deployment, d); err != nil {
		return nil, "", err
	}
	for _, r := range rec.Refs {
		if d.Plan == nil || r.Change < 0 || r.Change >= len(d.Plan.Changes) || d.Plan.Changes[r.Change] == nil {
			return nil, "", fmt.Errorf("a reference to a change (%d) the plan does not have", r.Change)
		}
		app, err := version(r.ID, r.Version)
		if err != nil {
			return nil, "", fmt.Errorf("app %q version %q: %w", r.ID, r.Version, err)
		}
		if app == nil {
			return nil, "", fmt.Errorf("app %q version %q it refers to is not recorded", r.ID, r.Version)
		}
		if r.After {
			d.Plan.Changes[r.Change].After = app
		} else {
			d.Plan.Changes[r.Change].Before = app
		}
	}
	return d, d.ID, nil
}

// refsOf returns the version keys a stored deployment record refers to.
func (s *Store) refsOf(b []byte) []string {
	var rec struct {
		Refs []appRef `json:"app_refs"`
	}
	if json.Unmarshal(b, &rec) != nil {
		return nil
	}
	keys := make([]string, 0, len(rec.Refs))
	for _, r := range rec.Refs {
		keys = append(keys, s.versionKey(r.ID, r.Version))
	}
	return keys
}

// setRefs records the references of the stored deployments (from a full
// read). Callers hold mu.
func (s *Store) setRefs(vals map[string][]byte) {
	sh := s.shared
	sh.refs, sh.depRefs = map[string]*refInfo{}, map[string][]string{}
	for id, raw := range s.under(vals, "deployments/") {
		data, err := s.assemble(vals, s.key("deployments", esc(id)), raw)
		if err == nil {
			data, err = unpack(data)
		}
		if err != nil {
			continue
		}
		keys := s.refsOf(data)
		for _, k := range keys {
			r := sh.refs[k]
			if r == nil {
				r = &refInfo{}
				if v, ok := vals[k]; ok {
					if a, err := s.assemble(vals, k, v); err == nil {
						if a, err = unpack(a); err == nil {
							r.sum = sha256.Sum256(a)
						}
					}
				}
				sh.refs[k] = r
			}
			r.count++
		}
		sh.depRefs[id] = keys
	}
	sh.refsKnown = true
}

// knowRefs makes sure the references of the stored deployments are known
// (a store that has not loaded reads them). Callers hold mu.
func (s *Store) knowRefs(ctx context.Context) error {
	if s.shared.refsKnown {
		return nil
	}
	vals, err := s.list(ctx, s.key("deployments")+"/")
	if err != nil {
		return err
	}
	chunks, err := s.list(ctx, s.key("chunks", "deployments")+"/")
	if err != nil {
		return err
	}
	for k, v := range chunks {
		vals[k] = v
	}
	// The referenced versions' hashes are read as needed.
	s.setRefs(vals)
	for k, r := range s.shared.refs {
		if r.sum == ([32]byte{}) {
			kv, _, err := s.shared.kv.Get(k, (&api.QueryOptions{RequireConsistent: true}).WithContext(ctx))
			if err != nil {
				s.shared.refsKnown = false
				return fmt.Errorf("read %s: %w", k, err)
			}
			if kv != nil && !isChunked(kv.Value) {
				if data, err := unpack(kv.Value); err == nil {
					r.sum = sha256.Sum256(data)
				}
			}
		}
	}
	return nil
}

// commitRefs updates the references once a commit that put deployments (with
// their references) and deleted others has landed. Callers hold mu.
func (sh *shared) commitRefs(put map[string]map[string][32]byte, deleted []string) {
	if !sh.refsKnown {
		return
	}
	drop := func(id string) {
		for _, k := range sh.depRefs[id] {
			if r := sh.refs[k]; r != nil {
				if r.count--; r.count <= 0 {
					delete(sh.refs, k)
				}
			}
		}
		delete(sh.depRefs, id)
	}
	for _, id := range deleted {
		drop(id)
	}
	for id, keys := range put {
		drop(id)
		list := make([]string, 0, len(keys))
		for k, sum := range keys {
			r := sh.refs[k]
			if r == nil {
				r = &refInfo{sum: sum}
				sh.refs[k] = r
			}
			r.count++
			list = append(list, k)
		}
		sh.depRefs[id] = list
	}
}

// referencedUnder says whether a stored deployment refers to a key under dir.
func (sh *shared) referencedUnder(dir string) bool {
	for k := range sh.refs {
		if strings.HasPrefix(k, dir) {
			return true
		}
	}
	return false
}

// versionOf returns app id's version from listed values (nil: not recorded).
func (s *Store) versionOf(vals map[string][]byte, id, version string) (*engine.App, error) {
	key := s.versionKey(id, version)
	raw, ok := vals[key]
	if !ok {
		return nil, nil
	}
	raw, err := s.assemble(vals, key, raw)
	if err != nil {
		return nil, err
	}
	data, err := unpack(raw)
	if err != nil {
		return nil, err
	}
	a := new(engine.App)
	if err := a.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return a, nil
}
