package localmesos

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sandbox garbage collection: the newest Config.SandboxesKept finished
// sandboxes of each framework and app are kept, older ones removed. A sandbox
// is finished once its task's process has been reaped (or its launch ended
// without one); the sandbox of a task that is launching or running is never
// removed. Removal renames the sandbox into WorkDir/.trash (under the lock, so
// that no task launched later at the same path can lose its sandbox) and
// deletes it there in the background.

// sandboxGC is the master's index of finished sandboxes. Guarded by m.mu.
type sandboxGC struct {
	byKey map[string][]string // finished sandboxes per framework and app, oldest first
	keyOf map[string]string   // the key of each finished sandbox
	trash int                 // names the next directory in the trash
}

// appKey returns the app a task belongs to, for sandbox collection: its id up
// to the last "." ("<app>.<uuid>", as Marathon and Stride build task ids), or,
// without a ".", its name, or its id.
func appKey(taskID, name string) string {
	if i := strings.LastIndexByte(taskID, '.'); i > 0 {
		return taskID[:i]
	}
	if name != "" {
		return name
	}
	return taskID
}

// gcKey is the collection key of a sandbox: framework and app.
func gcKey(frameworkDir, app string) string { return frameworkDir + "\x00" + app }

// finishSandboxFiles marks a sandbox's task as done on disk: its checkpoint
// is renamed. Called without m.mu, once the process was reaped (or never
// started).
func finishSandboxFiles(t *task) { markDone(t.sandbox) }

// sandboxFinished records that a task's sandbox is finished and removes the
// sandboxes of its framework and app beyond the ones kept. Called with m.mu
// held, once per task.
func (m *Master) sandboxFinished(t *task) {
	if t.sandboxDone {
		return
	}
	t.sandboxDone = true
	if m.active[t.sandbox] == t {
		delete(m.active, t.sandbox)
	}
	if m.closed {
		return
	}
	m.addFinished(t.sandbox, gcKey(sandboxName(t.fw.id), appKey(t.id(), t.info.Name)))
}

// addFinished appends a finished sandbox to its key's list and collects the
// oldest beyond Config.SandboxesKept. Called with m.mu held.
func (m *Master) addFinished(dir, key string) {
	g := &m.gc
	if m.active[dir] != nil {
		return
	}
	if _, ok := g.keyOf[dir]; ok {
		m.unindexSandbox(dir)
	}
	g.keyOf[dir] = key
	g.byKey[key] = append(g.byKey[key], dir)
	list := g.byKey[key]
	for len(list) > m.cfg.SandboxesKept {
		old := list[0]
		list = list[1:]
		delete(g.keyOf, old)
		if m.active[old] == nil {
			m.removeSandbox(old)
		}
	}
	if len(list) == 0 {
		delete(g.byKey, key)
	} else {
		g.byKey[key] = list
	}
}

// unindexSandbox forgets a finished sandbox (a new task is launched at its
// path, which replaces it). Called with m.mu held.
func (m *Master) unindexSandbox(dir string) {
	g := &m.gc
	key, ok := g.keyOf[dir]
	if !ok {
		return
	}
	delete(g.keyOf, dir)
	list := g.byKey[key]
	for i, d := range list {
		if d == dir {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.byKey, key)
	} else {
		g.byKey[key] = list
	}
}

// removeSandbox moves a sandbox to the trash and deletes it in the
// background. Called with m.mu held.
func (m *Master) removeSandbox(dir string) {
	trash := filepath.Join(m.cfg.WorkDir, trashDirName)
	if err := os.Mkdir(trash, dirMode); err != nil && !os.IsExist(err) {
		m.logf("collect sandbox %s: %v", dir, err)
		return
	}
	m.gc.trash++
	dst := filepath.Join(trash, strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.Itoa(m.gc.trash))
	if err := os.Rename(dir, dst); err != nil {
		if !os.IsNotExist(err) {
			m.logf("collect sandbox %s: %v", dir, err)
		}
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		if err := os.RemoveAll(dst); err != nil {
			m.logf("collect sandbox %s: %v", dir, err)
		}
	}()
}

// indexFinished indexes the finished sandboxes found when the Master starts,
// oldest first by modification time (the checkpoint's rename when the task
// ended touches the directory), collecting those beyond the ones kept, and
// empties the trash of an earlier run. Called from New, with m.mu held.
func (m *Master) indexFinished(dirs []string) {
	type found struct {
		dir, key string
		mtime    time.Time
	}
	var all []found
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		if err != nil {
			continue
		}
		task := filepath.Base(dir)
		name := ""
		if !strings.Contains(task, ".") {
			name = checkpointedName(dir)
		}
		fwDir := filepath.Base(filepath.Dir(filepath.Dir(dir)))
		all = append(all, found{dir: dir, key: gcKey(fwDir, appKey(task, name)), mtime: fi.ModTime()})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].mtime.Before(all[j].mtime) })
	if leftovers, _ := os.ReadDir(filepath.Join(m.cfg.WorkDir, trashDirName)); len(leftovers) > 0 {
		for _, e := range leftovers {
			dst := filepath.Join(m.cfg.WorkDir, trashDirName, e.Name())
			m.wg.Add(1)
			go func() {
				defer m.wg.Done()
				_ = os.RemoveAll(dst)
			}()
		}
	}
	for _, f := range all {
		m.addFinished(f.dir, f.key)
	}
}

// checkpointedName returns the task name a sandbox's checkpoint records, or "".
func checkpointedName(dir string) string {
	for _, name := range []string{checkpointDoneName, checkpointName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		b, _, _ = bytes.Cut(b, []byte("\n"))
		var ck struct {
			Task struct {
				Name string `json:"name"`
			} `json:"task_info"`
		}
		if json.Unmarshal(b, &ck) == nil {
			return ck.Task.Name
		}
	}
	return ""
}
