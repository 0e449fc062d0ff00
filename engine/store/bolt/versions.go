package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/stride-run/stride/engine"
)

// MaxAppVersions is how many versions of one app the history keeps (Marathon's
// /v2/apps/{id}/versions). The commit that records a newer version drops the oldest
// beyond it, so the history costs at most MaxAppVersions records per app id.
//
// History rules:
//   - Every put of an app with a non-empty Version records the app under that
//     Version (putting the same Version again replaces the record). Apps put with an
//     empty Version have nothing to be addressed by and are not recorded.
//   - Deleting an app keeps its history, as Marathon keeps the versions of a deleted
//     app: the API can still show what was deleted, and a client can post an old
//     version back.
//   - Creating an app whose id is not in the store (a new app, or a deleted id being
//     reused) first drops whatever history that id had, so a new app never shows
//     the versions of an unrelated, earlier app of the same name.
const MaxAppVersions = engine.MaxAppVersions

// versionPrefix is the key prefix of every version of app id. App ids cannot contain
// NUL (Commit refuses them), so one id's prefix never matches another id's keys.
func versionPrefix(id string) []byte {
	return append([]byte(id), 0)
}

func versionKey(id, version string) []byte {
	return append(versionPrefix(id), version...)
}

// recordVersion adds one version to the history bucket b (of apps or groups) and
// prunes the id's history to keep versions. reused reports that the id was not
// in the store before this put, so its old history (if any) belongs to a deleted
// app.
func recordVersion(b *bbolt.Bucket, id, version string, data []byte, reused bool, keep int) error {
	if reused {
		if err := dropVersions(b, id, listVersions(b, id)); err != nil {
			return err
		}
	}
	if version == "" {
		return nil
	}
	if err := b.Put(versionKey(id, version), data); err != nil {
		return fmt.Errorf("record %q version %q: %w", id, version, err)
	}
	versions := listVersions(b, id)
	if len(versions) <= keep {
		return nil
	}
	sortNewestFirst(versions)
	return dropVersions(b, id, versions[keep:])
}

func dropVersions(b *bbolt.Bucket, id string, versions []string) error {
	for _, v := range versions {
		if err := b.Delete(versionKey(id, v)); err != nil {
			return fmt.Errorf("drop %q version %q: %w", id, v, err)
		}
	}
	return nil
}

// listVersions returns the recorded versions of app id in key order.
func listVersions(b *bbolt.Bucket, id string) []string {
	prefix := versionPrefix(id)
	var out []string
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out
}

// sortNewestFirst orders versions newest first (engine.SortVersionsNewestFirst).
func sortNewestFirst(versions []string) { engine.SortVersionsNewestFirst(versions) }

// AppVersions returns the recorded versions of app id, newest first (see
// MaxAppVersions for what is kept). An id with no history yields an empty list.
func (s *Store) AppVersions(ctx context.Context, id string) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("app %q versions: %w", id, err)
	}
	var versions []string
	err := s.view(func(tx *bbolt.Tx) error {
		versions = listVersions(tx.Bucket(bucketAppVersions), id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app %q versions: %w", id, err)
	}
	if versions == nil {
		versions = []string{}
	}
	sortNewestFirst(versions)
	return versions, nil
}

// AppVersion returns app id as it was recorded at version, or an error wrapping
// ErrNotFound.
func (s *Store) AppVersion(ctx context.Context, id, version string) (*engine.App, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("app %q version %q: %w", id, version, err)
	}
	key := versionKey(id, version)
	var data []byte
	err := s.view(func(tx *bbolt.Tx) error {
		data = bytes.Clone(tx.Bucket(bucketAppVersions).Get(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app %q version %q: %w", id, version, err)
	}
	if data == nil {
		return nil, fmt.Errorf("app %q version %q: %w", id, version, ErrNotFound)
	}
	a, got, err := decodeApp(data)
	if err == nil && got != id {
		err = fmt.Errorf("record holds id %q", got)
	}
	if err != nil {
		return nil, unreadable(s.path, bucketAppVersions, key, err)
	}
	return a, nil
}

// GroupVersions returns the recorded versions of group id, newest first (see
// engine.Store). An id with no history yields an empty list.
func (s *Store) GroupVersions(ctx context.Context, id string) ([]string, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("group %q versions: %w", id, err)
	}
	var versions []string
	err := s.view(func(tx *bbolt.Tx) error {
		versions = listVersions(tx.Bucket(bucketGroupVers), id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("group %q versions: %w", id, err)
	}
	if versions == nil {
		versions = []string{}
	}
	sortNewestFirst(versions)
	return versions, nil
}

// GroupVersion returns the record of group id at version, or an error wrapping
// ErrNotFound.
func (s *Store) GroupVersion(ctx context.Context, id, version string) (*engine.GroupVersion, error) {
	if err := s.usable(ctx); err != nil {
		return nil, fmt.Errorf("group %q version %q: %w", id, version, err)
	}
	key := versionKey(id, version)
	var data []byte
	err := s.view(func(tx *bbolt.Tx) error {
		data = bytes.Clone(tx.Bucket(bucketGroupVers).Get(key))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("group %q version %q: %w", id, version, err)
	}
	if data == nil {
		return nil, fmt.Errorf("group %q version %q: %w", id, version, ErrNotFound)
	}
	gv := new(engine.GroupVersion)
	err = json.Unmarshal(data, gv)
	if err == nil && (gv.Group == nil || gv.Group.ID != id) {
		err = fmt.Errorf("record holds another group")
	}
	if err != nil {
		return nil, unreadable(s.path, bucketGroupVers, key, err)
	}
	return gv, nil
}
