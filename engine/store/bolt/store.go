// Package bolt is Stride's embedded state store: engine.Store in one bbolt file,
// dataDir/state.db, guarded by an exclusive lock on dataDir/LOCK so that exactly one
// server uses a data directory at a time.
//
// Layout (one key per record, never all apps in one value):
//
//	meta          "format" -> "1", "index" -> uint64 BE, "serial" -> uint64 BE,
//	              "framework_id" -> string
//	apps          app id -> Marathon app JSON
//	app_versions  app id + "\x00" + version -> Marathon app JSON (history)
//	tasks         task id -> task JSON
//	deployments   deployment id -> deployment JSON
//	subscriptions callback URL -> subscription JSON (created by the first
//	              subscription: files written before it existed lack it)
//	groups        group id -> group JSON
//	group_versions group id + "\x00" + version -> engine.GroupVersion JSON (history)
//
// The two group buckets came later: a file without them (written before) gets
// them, empty, when it is opened.
//
// Every Commit is one bbolt read-write transaction, synced to disk (bbolt's default)
// before it returns; every Load is one read transaction, so it sees one commit or the
// next, never half of one.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stride-run/stride/engine"
)

// FormatVersion is the layout version written to meta/format. A file with another
// version is refused rather than guessed at.
const FormatVersion = "1"

// StateFile and LockFile are the names of the files Open keeps in the data directory.
const (
	StateFile = "state.db"
	LockFile  = "LOCK"
)

// ErrCorrupt is wrapped by every error that reports an unreadable state file: a
// file that is not a bbolt database, a damaged page, a missing bucket or a record
// that does not decode. The message names the file and what to do; Stride never
// resets such a file by itself.
var ErrCorrupt = errors.New("state file is corrupt")

// ErrClosed is returned (wrapped) by Load, Commit, AppVersions and AppVersion after
// Close.
var ErrClosed = errors.New("state store is closed")

// ErrNotFound is returned (wrapped) by AppVersion when the app has no such version.
var ErrNotFound = engine.ErrNotFound

var (
	bucketMeta        = []byte("meta")
	bucketApps        = []byte("apps")
	bucketAppVersions = []byte("app_versions")
	bucketTasks       = []byte("tasks")
	bucketDeployments = []byte("deployments")
	// bucketSubscriptions is optional: a file of format 1 written before
	// subscriptions existed has none, and reads as having no subscription.
	bucketSubscriptions = []byte("subscriptions")
	bucketGroups        = []byte("groups")
	bucketGroupVers     = []byte("group_versions")

	allBuckets = [][]byte{bucketMeta, bucketApps, bucketAppVersions, bucketTasks, bucketDeployments, bucketGroups, bucketGroupVers}
	// addedBuckets were added to the layout after format 1 was released: opening
	// a file without them creates them.
	addedBuckets = [][]byte{bucketGroups, bucketGroupVers}

	keyFormat      = []byte("format")
	keyIndex       = []byte("index")
	keySerial      = []byte("serial")
	keyFrameworkID = []byte("framework_id")
)

// boltLockTimeout bounds the wait for bbolt's own flock on state.db. Our LOCK file is
// taken first, so that flock is only ever held by a foreign tool (the bbolt CLI, a
// backup script); we report that instead of hanging.
const boltLockTimeout = time.Second

// Store is engine.Store on a bbolt file. It is safe for concurrent use: commits are
// serialised by bbolt, and Loads run alongside them on consistent snapshots.
type Store struct {
	dir  string
	path string
	db   *bbolt.DB
	lock *dirLock

	mu     sync.Mutex // guards closed
	closed bool
}

var _ engine.Store = (*Store)(nil)

// Open opens (creating it if missing, mode 0700) the data directory dataDir and the
// state file in it. It fails at once, with an error wrapping engine.ErrLocked that
// names the holder, when another Store — in this process or another — has the
// directory open. A state file that cannot be read is reported with its path and
// wraps ErrCorrupt; it is never reset.
func Open(ctx context.Context, dataDir string) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open state in %s: %w", dataDir, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	lock, err := lockDir(dataDir, time.Now())
	if err != nil {
		return nil, err
	}
	s, err := openLocked(dataDir, lock)
	if err != nil {
		_ = lock.release()
		return nil, err
	}
	return s, nil
}

func openLocked(dir string, lock *dirLock) (*Store, error) {
	path := filepath.Join(dir, StateFile)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := create(dir, path); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("state file %s is not a regular file", path)
	case fi.Size() == 0:
		// create() never leaves an empty state.db behind (it renames an initialised
		// file into place), so an empty one lost its contents.
		return nil, corrupt(path, errors.New("the file is empty"))
	}

	db, err := openBolt(path)
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Store{dir: dir, path: path, db: db, lock: lock}
	if err := s.addBuckets(); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := s.checkLayout(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the bbolt file at path. bbolt panics on some damage it finds while
// opening (a garbled freelist page); that becomes an ErrCorrupt error, and bbolt's
// flock on the file is dropped so that it does not outlive the failure. (The mapping
// bbolt made of the file cannot be reached and stays until the process exits; a
// server refuses to start on a corrupt file, so this costs nothing in practice.)
func openBolt(path string) (db *bbolt.DB, err error) {
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if file != nil {
				_ = unlock(file)
				_ = file.Close()
			}
			db, err = nil, corrupt(path, fmt.Errorf("bbolt: %v", r))
		}
	}()
	return bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: boltLockTimeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
}

// create initialises a new state file beside path and renames it into place, so that
// a crash at any moment leaves either no state.db or a complete, empty one.
func create(dir, path string) error {
	tmp := path + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", tmp, err)
	}
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: boltLockTimeout})
	if err != nil {
		return fmt.Errorf("create state file %s: %w", tmp, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyFormat, []byte(FormatVersion)); err != nil {
			return err
		}
		if err := putUint(meta, keyIndex, 0); err != nil {
			return err
		}
		return putUint(meta, keySerial, 0)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("initialise state file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("create state file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync data directory %s: %w", dir, err)
	}
	return nil
}

// openError explains why bbolt refused the file.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, ErrCorrupt):
		return err
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("state file %s is locked by another program (not a Stride server: "+
			"those hold %s); stop it and retry: %w", path, LockFile, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return corrupt(path, err)
	}
	return fmt.Errorf("open state file %s: %w", path, err)
}

// corrupt wraps err as ErrCorrupt with the advice we give for any unreadable file.
func corrupt(path string, err error) error {
	return fmt.Errorf("%w: %s: %v; Stride will not reset it: restore it from a backup, "+
		"or move it aside to start with an empty state", ErrCorrupt, path, err)
}

// checkLayout refuses files that are valid bbolt databases but not Stride state, or
// Stride state of another format version.
func (s *Store) checkLayout() error {
	return s.view(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return corrupt(s.path, fmt.Errorf("bucket %q is missing (is this a Stride state file?)", name))
			}
		}
		meta := tx.Bucket(bucketMeta)
		format := meta.Get(keyFormat)
		if format == nil {
			return corrupt(s.path, errors.New("meta/format is missing"))
		}
		if string(format) != FormatVersion {
			return fmt.Errorf("state file %s has format version %q; this Stride reads version %q: "+
				"run the Stride release that wrote it", s.path, format, FormatVersion)
		}
		for _, k := range [][]byte{keyIndex, keySerial} {
			if _, err := getUint(meta, k); err != nil {
				return corrupt(s.path, err)
			}
		}
		return nil
	})
}

// addBuckets creates the buckets of addedBuckets a Stride state file lacks.
func (s *Store) addBuckets() error {
	missing := false
	if err := s.view(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil || string(tx.Bucket(bucketMeta).Get(keyFormat)) != FormatVersion {
			return nil // not Stride state of this format: checkLayout says so
		}
		for _, name := range addedBuckets {
			missing = missing || tx.Bucket(name) == nil
		}
		return nil
	}); err != nil || !missing {
		return err
	}
	return s.update(func(tx *bbolt.Tx) error {
		for _, name := range addedBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("state file %s: create bucket %s: %w", s.path, name, err)
			}
		}
		return nil
	})
}

// Path returns the path of the state file.
func (s *Store) Path() string { return s.path }

// Load reads the whole store in one read transaction. Records come back as they
// were committed: apps through App.UnmarshalJSON, without running ApplyDefaults
// again. The maps of the snapshot are never nil. A record that does not decode fails
// the whole Load with an error wrapping ErrCorrupt that names it.
func (s *Store) Load(ctx context.Context) (*engine.Snapshot, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var (
		snap                               engine.Snapshot
		apps, tasks, deploys, subs, groups []record
	)
	err := s.view(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var err error
		if snap.Index, err = getUint(meta, keyIndex); err != nil {
			return corrupt(s.path, err)
		}
		if snap.Serial, err = getUint(meta, keySerial); err != nil {
			return corrupt(s.path, err)
		}
		snap.FrameworkID = string(meta.Get(keyFrameworkID))
		// Copy out and decode after the transaction: bbolt's values live in its mmap
		// only while the transaction is open, and decoding outside keeps the read
		// transaction (which holds up a remap by a growing commit) short.
		apps = copyBucket(tx.Bucket(bucketApps))
		tasks = copyBucket(tx.Bucket(bucketTasks))
		deploys = copyBucket(tx.Bucket(bucketDeployments))
		if b := tx.Bucket(bucketSubscriptions); b != nil {
			subs = copyBucket(b)
		}
		groups = copyBucket(tx.Bucket(bucketGroups))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}

	snap.Apps = decodeAll(&snap, bucketApps, apps, decodeApp)
	snap.Tasks = decodeAll(&snap, bucketTasks, tasks, decodeTask)
	snap.Deployments = decodeAll(&snap, bucketDeployments, deploys, decodeDeployment)
	snap.Subscriptions = decodeAll(&snap, bucketSubscriptions, subs, decodeSubscription)
	snap.Groups = decodeAll(&snap, bucketGroups, groups, decodeGroup)
	return &snap, nil
}

type record struct{ key, value []byte }

func copyBucket(b *bbolt.Bucket) []record {
	var out []record
	_ = b.ForEach(func(k, v []byte) error {
		out = append(out, record{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	return out
}

// Decoders of one record: the value and the id it holds.
func decodeApp(data []byte) (*engine.App, string, error) {
	a := new(engine.App)
	// App is a json.Unmarshaler that reports syntax errors itself; calling it
	// directly spares json.Unmarshal's extra validation pass over every app.
	err := a.UnmarshalJSON(data)
	return a, a.ID, err
}

func decodeTask(data []byte) (*engine.Task, string, error) {
	t := new(engine.Task)
	err := json.Unmarshal(data, t)
	return t, t.ID, err
}

func decodeDeployment(data []byte) (*engine.Deployment, string, error) {
	d := new(engine.Deployment)
	err := json.Unmarshal(data, d)
	return d, d.ID, err
}

func decodeSubscription(data []byte) (*engine.Subscription, string, error) {
	s := new(engine.Subscription)
	err := json.Unmarshal(data, s)
	return s, s.CallbackURL, err
}

func decodeGroup(data []byte) (*engine.Group, string, error) {
	g := new(engine.Group)
	err := json.Unmarshal(data, g)
	return g, g.ID, err
}

// parallelDecodeMin is the number of records from which decodeAll spreads the work
// over every CPU: decoding JSON is nearly all of what loading a large store costs.
const parallelDecodeMin = 512

// decodeAll decodes the records of one bucket, checking that each holds the id it is
// stored under. A record that fails is listed in snap.Unreadable (in key order) and
// left out: one bad record must not stop the server from loading the rest.
func decodeAll[T any](snap *engine.Snapshot, bucket []byte, recs []record, decode func([]byte) (T, string, error)) map[string]T {
	vals := make([]T, len(recs))
	errs := make([]error, len(recs))
	one := func(i int) {
		v, id, err := decode(recs[i].value)
		if err == nil && id != string(recs[i].key) {
			err = fmt.Errorf("record holds id %q", id)
		}
		vals[i], errs[i] = v, err
	}
	if workers := min(runtime.GOMAXPROCS(0), len(recs)/parallelDecodeMin*2); workers > 1 {
		const chunk = 64
		var (
			next atomic.Int64
			wg   sync.WaitGroup
		)
		for w := 0; w < workers; w++ {
			wg.Go(func() {
				for {
					lo := int(next.Add(chunk)) - chunk
					if lo >= len(recs) {
						return
					}
					for i := lo; i < min(lo+chunk, len(recs)); i++ {
						one(i)
					}
				}
			})
		}
		wg.Wait()
	} else {
		for i := range recs {
			one(i)
		}
	}
	out := make(map[string]T, len(recs))
	for i, r := range recs {
		if errs[i] != nil {
			snap.Unreadable = append(snap.Unreadable, engine.UnreadableRecord{Kind: string(bucket), ID: string(r.key), Err: errs[i].Error()})
			continue
		}
		out[string(r.key)] = vals[i]
	}
	return out
}

func unreadable(path string, bucket, key []byte, err error) error {
	return fmt.Errorf("%w: %s: %s %q cannot be read: %v (was the file written by another "+
		"Stride version?); restore it from a backup or run the Stride release that wrote it",
		ErrCorrupt, path, bucket, key, err)
}

// Commit applies txn in one read-write transaction if the stored index equals
// expectIndex, and returns the new index; otherwise it writes nothing and returns an
// error wrapping engine.ErrConflict. Within txn, puts are applied before deletes (an
// id in both ends up deleted); deleting an unknown id is not an error. Serial is
// incremented when txn puts or deletes at least one app. Every put app with a
// Version is also recorded in the app's history (see AppVersions).
func (s *Store) Commit(ctx context.Context, expectIndex uint64, txn engine.Txn) (uint64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	// Encode before the write transaction, which serialises all writers.
	enc, err := encodeTxn(txn)
	if err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	var newIndex uint64
	err = s.update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		cur, err := getUint(meta, keyIndex)
		if err != nil {
			return corrupt(s.path, err)
		}
		if cur != expectIndex {
			return fmt.Errorf("expected index %d, store is at %d: %w", expectIndex, cur, engine.ErrConflict)
		}
		apps := tx.Bucket(bucketApps)
		history := tx.Bucket(bucketAppVersions)
		for _, a := range enc.apps {
			reused := apps.Get([]byte(a.id)) == nil
			if err := apps.Put([]byte(a.id), a.data); err != nil {
				return fmt.Errorf("put app %q: %w", a.id, err)
			}
			if err := recordVersion(history, a.id, a.version, a.data, reused, MaxAppVersions); err != nil {
				return err
			}
		}
		if err := deleteAll(apps, "app", txn.DeleteApps); err != nil {
			return err
		}
		if err := putAll(tx.Bucket(bucketTasks), "task", enc.tasks); err != nil {
			return err
		}
		if err := deleteAll(tx.Bucket(bucketTasks), "task", txn.DeleteTasks); err != nil {
			return err
		}
		if err := putAll(tx.Bucket(bucketDeployments), "deployment", enc.deployments); err != nil {
			return err
		}
		if err := deleteAll(tx.Bucket(bucketDeployments), "deployment", txn.DeleteDeployments); err != nil {
			return err
		}
		if len(enc.subscriptions) > 0 {
			b, err := tx.CreateBucketIfNotExists(bucketSubscriptions)
			if err != nil {
				return fmt.Errorf("create bucket %s: %w", bucketSubscriptions, err)
			}
			if err := putAll(b, "subscription", enc.subscriptions); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bucketSubscriptions); b != nil {
			if err := deleteAll(b, "subscription", txn.DeleteSubscriptions); err != nil {
				return err
			}
		}
		groups := tx.Bucket(bucketGroups)
		ghistory := tx.Bucket(bucketGroupVers)
		for _, g := range enc.groups {
			if groups.Get([]byte(g.id)) == nil {
				if err := dropVersions(ghistory, g.id, listVersions(ghistory, g.id)); err != nil {
					return err
				}
			}
			if err := groups.Put([]byte(g.id), g.data); err != nil {
				return fmt.Errorf("put group %q: %w", g.id, err)
			}
		}
		if err := deleteAll(groups, "group", txn.DeleteGroups); err != nil {
			return err
		}
		for _, gv := range enc.groupVersions {
			if err := recordVersion(ghistory, gv.id, gv.version, gv.data, false, engine.MaxGroupVersions); err != nil {
				return err
			}
		}
		if txn.FrameworkID != nil {
			if err := meta.Put(keyFrameworkID, []byte(*txn.FrameworkID)); err != nil {
				return fmt.Errorf("put framework id: %w", err)
			}
		}
		if len(txn.PutApps) > 0 || len(txn.DeleteApps) > 0 {
			serial, err := getUint(meta, keySerial)
			if err != nil {
				return corrupt(s.path, err)
			}
			if err := putUint(meta, keySerial, serial+1); err != nil {
				return err
			}
		}
		newIndex = cur + 1
		return putUint(meta, keyIndex, newIndex)
	})
	if err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return newIndex, nil
}

type encoded struct {
	id, version string
	data        []byte
}

type encodedTxn struct {
	apps, tasks, deployments, subscriptions, groups, groupVersions []encoded
}

// encodeTxn validates and marshals every record of txn.
func encodeTxn(txn engine.Txn) (*encodedTxn, error) {
	var enc encodedTxn
	for i, a := range txn.PutApps {
		if a == nil {
			return nil, fmt.Errorf("PutApps[%d] is nil", i)
		}
		if strings.IndexByte(a.ID, 0) >= 0 {
			return nil, fmt.Errorf("app id %q contains a NUL byte", a.ID)
		}
		e, err := encodeOne("app", a.ID, a)
		if err != nil {
			return nil, err
		}
		e.version = a.Version
		enc.apps = append(enc.apps, e)
	}
	for i, t := range txn.PutTasks {
		if t == nil {
			return nil, fmt.Errorf("PutTasks[%d] is nil", i)
		}
		e, err := encodeOne("task", t.ID, t)
		if err != nil {
			return nil, err
		}
		enc.tasks = append(enc.tasks, e)
	}
	for i, d := range txn.PutDeployments {
		if d == nil {
			return nil, fmt.Errorf("PutDeployments[%d] is nil", i)
		}
		e, err := encodeOne("deployment", d.ID, d)
		if err != nil {
			return nil, err
		}
		enc.deployments = append(enc.deployments, e)
	}
	for i, s := range txn.PutSubscriptions {
		if s == nil {
			return nil, fmt.Errorf("PutSubscriptions[%d] is nil", i)
		}
		e, err := encodeOne("subscription", s.CallbackURL, s)
		if err != nil {
			return nil, err
		}
		enc.subscriptions = append(enc.subscriptions, e)
	}
	for i, g := range txn.PutGroups {
		if g == nil {
			return nil, fmt.Errorf("PutGroups[%d] is nil", i)
		}
		if strings.IndexByte(g.ID, 0) >= 0 {
			return nil, fmt.Errorf("group id %q contains a NUL byte", g.ID)
		}
		e, err := encodeOne("group", g.ID, g)
		if err != nil {
			return nil, err
		}
		enc.groups = append(enc.groups, e)
	}
	for i, gv := range txn.PutGroupVersions {
		if gv == nil || gv.Group == nil {
			return nil, fmt.Errorf("PutGroupVersions[%d] has no group", i)
		}
		if strings.IndexByte(gv.Group.ID, 0) >= 0 {
			return nil, fmt.Errorf("group id %q contains a NUL byte", gv.Group.ID)
		}
		if gv.Group.Version == "" {
			return nil, fmt.Errorf("PutGroupVersions[%d] (group %q) has no version", i, gv.Group.ID)
		}
		e, err := encodeOne("group version", gv.Group.ID, gv)
		if err != nil {
			return nil, err
		}
		e.version = gv.Group.Version
		enc.groupVersions = append(enc.groupVersions, e)
	}
	return &enc, nil
}

func encodeOne(kind, id string, v any) (encoded, error) {
	if id == "" {
		return encoded{}, fmt.Errorf("put %s with an empty id", kind)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return encoded{}, fmt.Errorf("encode %s %q: %w", kind, id, err)
	}
	return encoded{id: id, data: data}, nil
}

func putAll(b *bbolt.Bucket, kind string, recs []encoded) error {
	for _, r := range recs {
		if err := b.Put([]byte(r.id), r.data); err != nil {
			return fmt.Errorf("put %s %q: %w", kind, r.id, err)
		}
	}
	return nil
}

func deleteAll(b *bbolt.Bucket, kind string, ids []string) error {
	for _, id := range ids {
		if id == "" {
			continue // no record can have an empty id
		}
		if err := b.Delete([]byte(id)); err != nil {
			return fmt.Errorf("delete %s %q: %w", kind, id, err)
		}
	}
	return nil
}

// Close closes the state file and releases the data directory lock. Calling it again
// does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// bbolt's Close waits for open transactions to finish.
	err := s.db.Close()
	if err != nil {
		err = fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return errors.Join(err, s.lock.release())
}

// usable checks, before any work starts, that the caller still wants it and the
// store is open. (bbolt transactions themselves cannot be cancelled.)
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return nil
}

// view and update run a bbolt transaction, turning the panics bbolt raises on
// damaged pages into ErrCorrupt errors instead of taking the server down.
func (s *Store) view(fn func(*bbolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	return s.closedErr(s.db.View(fn))
}

func (s *Store) update(fn func(*bbolt.Tx) error) (err error) {
	defer s.recoverCorrupt(&err)
	return s.closedErr(s.db.Update(fn))
}

func (s *Store) recoverCorrupt(err *error) {
	if r := recover(); r != nil {
		*err = corrupt(s.path, fmt.Errorf("bbolt: %v", r))
	}
}

// closedErr maps bbolt's "database not open" (a Close raced the call) to ErrClosed.
func (s *Store) closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func getUint(b *bbolt.Bucket, k []byte) (uint64, error) {
	v := b.Get(k)
	if len(v) != 8 {
		return 0, fmt.Errorf("meta/%s holds %d bytes, want 8", k, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func putUint(b *bbolt.Bucket, k []byte, n uint64) error {
	if err := b.Put(k, binary.BigEndian.AppendUint64(nil, n)); err != nil {
		return fmt.Errorf("put meta/%s: %w", k, err)
	}
	return nil
}
