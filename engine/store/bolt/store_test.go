package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/storetest"
)

func openT(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store { return openT(t, t.TempDir()) })
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	storetest.Reopen(t, func(t *testing.T) engine.Store { return openT(t, dir) })
}

func TestOpenCreatesDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", ".stride")
	s := openT(t, dir)
	defer s.Close()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %v, want 0700", perm)
	}
	for _, name := range []string{StateFile, LockFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile+".new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary state file was left behind: %v", err)
	}
	if got, want := s.Path(), filepath.Join(dir, StateFile); got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	// flock belongs to the open file description, so a second Open in this very
	// process conflicts exactly as another server would.
	_, err := Open(t.Context(), dir)
	if !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("second Open: got %v, want ErrLocked", err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{
		"data directory " + dir + " is in use by pid " + strconv.Itoa(os.Getpid()),
		"on host " + host + " since 20",
		"stop that server or use another -data-dir",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, dir) // released by Close
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLockedByEmptyHolderRecord(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	defer s.Close()
	// A holder that has taken the lock but not yet written its record.
	if err := os.Truncate(filepath.Join(dir, LockFile), 0); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), dir)
	if !errors.Is(err, engine.ErrLocked) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("got %v, want ErrLocked saying the holder is unknown", err)
	}
}

// helperEnv makes the test binary, run again as a subprocess, hold a store open:
// see TestMain.
const helperEnv = "STRIDE_BOLT_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(holdStore(dir))
	}
	os.Exit(m.Run())
}

// holdStore opens the store in dir, commits one task, prints "ready", and holds the
// store until stdin closes or the process is killed.
func holdStore(dir string) int {
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := s.Commit(ctx, 0, engine.Txn{PutTasks: []*engine.Task{storetest.Task("/held", 1)}}); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func TestLockHeldByAnotherProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper process said %q (%v)", line, err)
	}

	_, err = Open(t.Context(), dir)
	if !errors.Is(err, engine.ErrLocked) {
		t.Fatalf("Open while another process holds the store: got %v, want ErrLocked", err)
	}
	if want := fmt.Sprintf("in use by pid %d on host", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the holder (%q)", err, want)
	}

	// kill -9: the kernel drops the flock with the process, nothing is left stale,
	// and the helper's commit is on disk.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	killed = true
	s := openT(t, dir)
	defer s.Close()
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Index != 1 || len(snap.Tasks) != 1 {
		t.Errorf("after the holder was killed: index %d, %d tasks; want the holder's commit (1, 1)", snap.Index, len(snap.Tasks))
	}
}

func TestClosed(t *testing.T) {
	s := openT(t, t.TempDir())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := t.Context()
	if _, err := s.Load(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
	if _, err := s.Commit(ctx, 0, engine.Txn{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Commit after Close: %v", err)
	}
	if _, err := s.AppVersions(ctx, "/a"); !errors.Is(err, ErrClosed) {
		t.Errorf("AppVersions after Close: %v", err)
	}
	if _, err := s.AppVersion(ctx, "/a", "v"); !errors.Is(err, ErrClosed) {
		t.Errorf("AppVersion after Close: %v", err)
	}
	if _, err := s.GroupVersions(ctx, "/a"); !errors.Is(err, ErrClosed) {
		t.Errorf("GroupVersions after Close: %v", err)
	}
	if _, err := s.GroupVersion(ctx, "/a", "v"); !errors.Is(err, ErrClosed) {
		t.Errorf("GroupVersion after Close: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Open(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open: got %v, want context.Canceled", err)
	}
	s := openT(t, dir)
	defer s.Close()
	if _, err := s.Commit(ctx, 0, engine.Txn{PutApps: []*engine.App{storetest.App("/a", 1)}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit: got %v, want context.Canceled", err)
	}
	for name, call := range map[string]func() error{
		"Load":          func() error { _, err := s.Load(ctx); return err },
		"AppVersions":   func() error { _, err := s.AppVersions(ctx, "/a"); return err },
		"AppVersion":    func() error { _, err := s.AppVersion(ctx, "/a", "v"); return err },
		"GroupVersions": func() error { _, err := s.GroupVersions(ctx, "/a"); return err },
		"GroupVersion":  func() error { _, err := s.GroupVersion(ctx, "/a", "v"); return err },
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: got %v, want context.Canceled", name, err)
		}
	}
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Index != 0 || len(snap.Apps) != 0 {
		t.Errorf("a canceled Commit wrote: index %d, %d apps", snap.Index, len(snap.Apps))
	}
}

func TestCommitRejectsBadRecords(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	good := storetest.App("/good", 1)
	for name, tc := range map[string]struct {
		txn  engine.Txn
		want string
	}{
		"nil app":           {engine.Txn{PutApps: []*engine.App{good, nil}}, "PutApps[1] is nil"},
		"nil task":          {engine.Txn{PutApps: []*engine.App{good}, PutTasks: []*engine.Task{nil}}, "PutTasks[0] is nil"},
		"nil deployment":    {engine.Txn{PutDeployments: []*engine.Deployment{nil}}, "PutDeployments[0] is nil"},
		"empty app id":      {engine.Txn{PutApps: []*engine.App{good, engine.NewApp("")}}, "put app with an empty id"},
		"empty task id":     {engine.Txn{PutTasks: []*engine.Task{{AppID: "/a"}}}, "put task with an empty id"},
		"empty deploy id":   {engine.Txn{PutDeployments: []*engine.Deployment{{}}}, "put deployment with an empty id"},
		"NUL in an app id":  {engine.Txn{PutApps: []*engine.App{engine.NewApp("/a\x00b")}}, "contains a NUL byte"},
		"unencodable value": {engine.Txn{PutTasks: []*engine.Task{{ID: "t", LocalVolumes: []any{make(chan int)}}}}, `encode task "t"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Commit(t.Context(), 0, tc.txn)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			snap, err := s.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if snap.Index != 0 || len(snap.Apps) != 0 {
				t.Fatalf("a rejected Commit wrote: index %d, %d apps", snap.Index, len(snap.Apps))
			}
		})
	}
}

func TestPutThenDeleteInOneTxn(t *testing.T) {
	s := openT(t, t.TempDir())
	defer s.Close()
	txn := engine.Txn{
		PutApps: []*engine.App{storetest.App("/a", 1)}, DeleteApps: []string{"/a"},
		PutTasks: []*engine.Task{{ID: "t"}}, DeleteTasks: []string{"t"},
		PutDeployments: []*engine.Deployment{{ID: "d"}}, DeleteDeployments: []string{"d", ""},
	}
	if _, err := s.Commit(t.Context(), 0, txn); err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps)+len(snap.Tasks)+len(snap.Deployments) != 0 {
		t.Errorf("deletes did not win over puts: %d apps, %d tasks, %d deployments",
			len(snap.Apps), len(snap.Tasks), len(snap.Deployments))
	}
}

// commitApps commits each app in its own transaction.
func commitApps(t *testing.T, s *Store, apps ...*engine.App) {
	t.Helper()
	for _, a := range apps {
		snap, err := s.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(t.Context(), snap.Index, engine.Txn{PutApps: []*engine.App{a}}); err != nil {
			t.Fatal(err)
		}
	}
}

func withVersion(a *engine.App, v string) *engine.App {
	a.Version = v
	return a
}

func checkVersions(t *testing.T, s *Store, id string, want []string) {
	t.Helper()
	got, err := s.AppVersions(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("AppVersions(%q) = %#v, want %#v", id, got, want)
	}
}

func TestAppVersions(t *testing.T) {
	t.Run("newest first, as instants", func(t *testing.T) {
		s := openT(t, t.TempDir())
		defer s.Close()
		// Out of order, of mixed precision and zone: text order would be wrong.
		commitApps(t, s,
			withVersion(storetest.App("/a", 1), "2015-09-25T15:13:48.343Z"),
			withVersion(storetest.App("/a", 2), "2015-09-25T15:13:48Z"),
			withVersion(storetest.App("/a", 3), "2015-09-25T17:13:48.400+02:00"),
			withVersion(storetest.App("/a", 4), "2015-09-25T15:13:48.5Z"),
			withVersion(storetest.App("/a", 5), "not a time"),
			withVersion(storetest.App("/ab", 6), "2030-01-01T00:00:00.000Z"),
			withVersion(storetest.App("/a/b", 7), "2030-01-01T00:00:00.000Z"),
		)
		checkVersions(t, s, "/a", []string{
			"2015-09-25T15:13:48.5Z", "2015-09-25T17:13:48.400+02:00", "2015-09-25T15:13:48.343Z",
			"2015-09-25T15:13:48Z", "not a time",
		})
		checkVersions(t, s, "/nope", []string{})
	})

	t.Run("AppVersion returns the recorded app", func(t *testing.T) {
		s := openT(t, t.TempDir())
		defer s.Close()
		commitApps(t, s, storetest.App("/a", 1), storetest.App("/a", 2))
		for n := 1; n <= 2; n++ {
			got, err := s.AppVersion(t.Context(), "/a", storetest.Version(n))
			if err != nil {
				t.Fatal(err)
			}
			want := &engine.Snapshot{Apps: map[string]*engine.App{"/a": storetest.App("/a", n)}}
			if d := storetest.Diff(&engine.Snapshot{Apps: map[string]*engine.App{"/a": got}}, want); d != "" {
				t.Errorf("version %d:\n%s", n, d)
			}
		}
		_, err := s.AppVersion(t.Context(), "/a", storetest.Version(3))
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown version: got %v, want ErrNotFound", err)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		s := openT(t, t.TempDir())
		defer s.Close()
		var want []string
		// Newest first into the store, so pruning must drop by time, not arrival.
		for n := MaxAppVersions + 5; n > 0; n-- {
			commitApps(t, s, storetest.App("/a", n))
			if n > 5 {
				want = append(want, storetest.Version(n))
			}
		}
		checkVersions(t, s, "/a", want)
	})

	t.Run("same version replaces, empty version is not recorded", func(t *testing.T) {
		s := openT(t, t.TempDir())
		defer s.Close()
		a := storetest.App("/a", 1)
		a.Instances = 42
		commitApps(t, s, storetest.App("/a", 1), a, withVersion(storetest.App("/a", 2), ""))
		checkVersions(t, s, "/a", []string{storetest.Version(1)})
		got, err := s.AppVersion(t.Context(), "/a", storetest.Version(1))
		if err != nil {
			t.Fatal(err)
		}
		if got.Instances != 42 {
			t.Errorf("re-put version holds instances %d, want 42", got.Instances)
		}
	})

	t.Run("kept after delete, dropped when the id is reused", func(t *testing.T) {
		s := openT(t, t.TempDir())
		defer s.Close()
		commitApps(t, s, storetest.App("/a", 1), storetest.App("/a", 2), storetest.App("/b", 3))
		snap, err := s.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(t.Context(), snap.Index, engine.Txn{DeleteApps: []string{"/a"}}); err != nil {
			t.Fatal(err)
		}
		checkVersions(t, s, "/a", []string{storetest.Version(2), storetest.Version(1)})
		commitApps(t, s, storetest.App("/a", 4))
		checkVersions(t, s, "/a", []string{storetest.Version(4)})
		checkVersions(t, s, "/b", []string{storetest.Version(3)})
	})
}

// writeDB creates a bbolt file at path and lets fn fill it.
func writeDB(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestUnreadableStateFile(t *testing.T) {
	// Each case damages the state file of a store that holds one app.
	for name, tc := range map[string]struct {
		damage func(t *testing.T, path string)
		// atLoad: the damage is found by Load rather than Open.
		atLoad  bool
		corrupt bool
		want    string
	}{
		"garbage": {
			damage: func(t *testing.T, path string) {
				mustWrite(t, path, []byte(strings.Repeat("not a database\n", 2000)))
			},
			corrupt: true, want: "invalid database",
		},
		"empty": {
			damage:  func(t *testing.T, path string) { mustWrite(t, path, nil) },
			corrupt: true, want: "the file is empty",
		},
		"truncated": {
			damage: func(t *testing.T, path string) {
				if err := os.Truncate(path, 100); err != nil {
					t.Fatal(err)
				}
			},
			corrupt: true, want: StateFile,
		},
		"meta pages zeroed": {
			damage: func(t *testing.T, path string) {
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt(make([]byte, 2*4096), 0); err != nil {
					t.Fatal(err)
				}
			},
			corrupt: true, want: StateFile,
		},
		"pages after the meta pages garbled": {
			damage: func(t *testing.T, path string) {
				garble(t, path, 2*4096, -1)
			},
			corrupt: true, want: "bbolt: invalid freelist page",
		},
		"apps page garbled": {
			damage: func(t *testing.T, path string) {
				var root, pageSize int64
				db, err := bbolt.Open(path, 0o600, nil)
				if err != nil {
					t.Fatal(err)
				}
				err = db.View(func(tx *bbolt.Tx) error {
					root, pageSize = int64(tx.Bucket(bucketApps).Root()), int64(db.Info().PageSize)
					return nil
				})
				if err := errors.Join(err, db.Close()); err != nil {
					t.Fatal(err)
				}
				if root == 0 {
					t.Fatal("the apps bucket is inline: no page to garble")
				}
				garble(t, path, root*pageSize, pageSize)
			},
			atLoad: true, corrupt: true, want: "bbolt: ",
		},
		"not a Stride file": {
			damage: func(t *testing.T, path string) {
				mustRemove(t, path)
				writeDB(t, path, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
			},
			corrupt: true, want: `bucket "meta" is missing`,
		},
		"newer format": {
			damage: func(t *testing.T, path string) {
				writeDB(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte("2")) })
			},
			want: `has format version "2"; this Stride reads version "1"`,
		},
		"bad index": {
			damage: func(t *testing.T, path string) {
				writeDB(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyIndex, []byte("x")) })
			},
			corrupt: true, want: "meta/index holds 1 bytes, want 8",
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, dir)
			commitApps(t, s, storetest.App("/a", 1))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, StateFile)
			before := mustRead(t, path)
			tc.damage(t, path)
			damaged := mustRead(t, path)

			s, err := Open(t.Context(), dir)
			if tc.atLoad {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer s.Close()
				_, err = s.Load(t.Context())
			} else if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q should name %s and say %q", msg, path, tc.want)
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Errorf("errors.Is(err, ErrCorrupt) = %v, want %v", !tc.corrupt, tc.corrupt)
			}
			if tc.corrupt && !strings.Contains(msg, "restore it from a backup") {
				t.Errorf("error %q does not say what to do", msg)
			}
			if !tc.atLoad {
				// A refused Open must release the lock and leave the file as it was.
				if got := mustRead(t, path); string(got) != string(damaged) {
					t.Errorf("a refused Open changed the state file (%d bytes, was %d; originally %d)", len(got), len(damaged), len(before))
				}
				// A refused Open must hold no lock on the way out: opening again fails
				// the same way (not "locked").
				if _, again := Open(t.Context(), dir); again == nil || again.Error() != msg {
					t.Errorf("opening again: got %v, want the same error", again)
				}
			}
		})
	}
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// garble overwrites n bytes of the file at path from off (n < 0: to the end) with a
// fixed pattern that is no valid bbolt page.
func garble(t *testing.T, path string, off, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n < 0 {
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		n = fi.Size() - off
	}
	junk := make([]byte, n)
	for i := range junk {
		junk[i] = byte(i*7 + 13)
	}
	if _, err := f.WriteAt(junk, off); err != nil {
		t.Fatal(err)
	}
}

// TestUnreadableRecordsAreListed: a record that cannot be decoded is listed in the
// snapshot and left out of it; the rest loads, and the record stays in the file
// until a write of the same id replaces it.
func TestUnreadableRecordsAreListed(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	commitApps(t, s, storetest.App("/a", 1), storetest.App("/b", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	writeDB(t, path, func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketApps).Put([]byte("/a"), []byte(`{"id": "/a",`)); err != nil {
			return err
		}
		return tx.Bucket(bucketTasks).Put([]byte("t1"), []byte(`{"id": "t2"}`))
	})
	s = openT(t, dir)
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, ok := snap.Apps["/b"]; !ok || len(snap.Apps) != 1 {
		t.Fatalf("apps loaded: %v, want only /b", snap.Apps)
	}
	if len(snap.Unreadable) != 2 {
		t.Fatalf("unreadable: %+v, want 2 records", snap.Unreadable)
	}
	got := map[string]engine.UnreadableRecord{}
	for _, u := range snap.Unreadable {
		got[u.Kind+" "+u.ID] = u
	}
	if u, ok := got["apps /a"]; !ok || u.Err == "" {
		t.Errorf("apps /a not listed: %+v", snap.Unreadable)
	}
	if u, ok := got["tasks t1"]; !ok || !strings.Contains(u.Err, `record holds id "t2"`) {
		t.Errorf("tasks t1 not listed with its reason: %+v", snap.Unreadable)
	}
	// A write of the same id repairs it.
	if _, err := s.Commit(t.Context(), snap.Index, engine.Txn{PutApps: []*engine.App{storetest.App("/a", 2)}}); err != nil {
		t.Fatal(err)
	}
	snap, err = s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps) != 2 || len(snap.Unreadable) != 1 {
		t.Fatalf("after the repair: %d apps, unreadable %+v", len(snap.Apps), snap.Unreadable)
	}
}

// TestSubscriptionsBucketIsOptional: a state file written before subscriptions
// existed (format 1 without the bucket, as a new file still is until the first
// subscription) loads as having none, takes deletes, and gets the bucket with
// the first subscription.
func TestSubscriptionsBucketIsOptional(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	commitApps(t, s, storetest.App("/a", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	hasBucket := func() bool {
		t.Helper()
		var ok bool
		writeDB(t, path, func(tx *bbolt.Tx) error { ok = tx.Bucket(bucketSubscriptions) != nil; return nil })
		return ok
	}
	if hasBucket() {
		t.Fatal("a new state file has a subscriptions bucket: the test cannot check old files")
	}
	s = openT(t, dir)
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatalf("Load of a file without the bucket: %v", err)
	}
	if len(snap.Subscriptions) != 0 || len(snap.Apps) != 1 {
		t.Fatalf("loaded %d subscriptions, %d apps; want 0, 1", len(snap.Subscriptions), len(snap.Apps))
	}
	idx, err := s.Commit(t.Context(), snap.Index, engine.Txn{DeleteSubscriptions: []string{"http://127.0.0.1:1/e"}})
	if err != nil {
		t.Fatalf("delete without the bucket: %v", err)
	}
	sub := storetest.Subscription("http://127.0.0.1:1/e", 1)
	if _, err := s.Commit(t.Context(), idx, engine.Txn{PutSubscriptions: []*engine.Subscription{sub}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !hasBucket() {
		t.Fatal("the first subscription did not create the bucket")
	}
	s = openT(t, dir)
	snap, err = s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Subscriptions[sub.CallbackURL]; got == nil || *got != *sub {
		t.Fatalf("subscriptions after reopening: %+v, want %+v", snap.Subscriptions, sub)
	}
}

// A state file written before groups were stored (no group buckets) opens: the
// buckets are added, empty, and the rest is kept.
func TestOpenAddsTheGroupBuckets(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir)
	commitApps(t, s, storetest.App("/a", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	writeDB(t, filepath.Join(dir, StateFile), func(tx *bbolt.Tx) error {
		for _, b := range addedBuckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	s = openT(t, dir)
	defer s.Close()
	snap, err := s.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Apps) != 1 || len(snap.Groups) != 0 {
		t.Fatalf("after the upgrade: %d apps, %d groups", len(snap.Apps), len(snap.Groups))
	}
	gv := storetest.GroupVersion("/g", 1)
	if _, err := s.Commit(t.Context(), snap.Index, engine.Txn{PutGroups: []*engine.Group{gv.Group}, PutGroupVersions: []*engine.GroupVersion{gv}}); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.GroupVersions(t.Context(), "/g"); err != nil || len(vs) != 1 {
		t.Fatalf("group versions after the upgrade: %v %v", vs, err)
	}
}
