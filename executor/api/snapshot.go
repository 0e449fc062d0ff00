package api

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// snapshot holds the encodings of one published View. The executor publishes a new
// View (a new pointer) whenever anything changes and never changes a published one,
// so everything derived from a View can be computed once and shared by every
// request that sees the same View. Each part is computed on first use.
type snapshot struct {
	view  *executor.View
	hints *sizeHints

	tasksOnce sync.Once
	// tasksJSON is the body of GET /v2/tasks: {"tasks":[...]}\n. spans[i] is the
	// byte range of view.Tasks[i] inside it.
	tasksJSON []byte
	spans     []span

	indexOnce sync.Once
	// index maps a task pointer to its position in view.Tasks.
	index map[*engine.Task]int

	textOnce  sync.Once
	tasksText []byte

	appsOnce sync.Once
	// appJSON[i] is the Marathon JSON of view.Apps[i].App (see marathonApp; nil
	// when it failed: appErr says why).
	appJSON  [][]byte
	appErr   error
	appsSize int // total length of appJSON

	groupOnce sync.Once
	groups    *groupIndex

	fullOnce sync.Once
	// fullJSON[i] is Stride's full encoding of view.Apps[i].App (the state).
	fullJSON [][]byte
	fullErr  error
	fullSize int
	// appTasks[i] is view.Apps[i].Tasks sorted by task id (shared when it already is).
	appTasks [][]*engine.Task
}

// span is a byte range [start, end).
type span struct{ start, end int }

// snapshots caches the snapshot of the latest View seen.
type snapshots struct {
	cur   atomic.Pointer[snapshot]
	hints sizeHints
}

// sizeHints remember how large the last encodings were, so that the next View's
// buffers are allocated once at about the right size instead of growing by
// copying (which dominated the cost of encoding 10k tasks).
type sizeHints struct {
	tasksJSON, tasksText atomic.Int64
}

// capFor returns a capacity for a buffer expected to be about as large as the
// last one: the hint plus an eighth, or def without a hint.
func capFor(hint *atomic.Int64, def int) int {
	if h := int(hint.Load()); h > 0 {
		return h + h/8
	}
	return def
}

// get returns the snapshot for v, creating it (empty: parts are lazy) when the
// cached one belongs to another View. A request holding an older View may replace
// a newer snapshot; the next request then builds the newer one again, which costs
// time but never serves stale data for the View a request read.
func (c *snapshots) get(v *executor.View) *snapshot {
	old := c.cur.Load()
	if old != nil && old.view == v {
		return old
	}
	sn := &snapshot{view: v, hints: &c.hints}
	if c.cur.CompareAndSwap(old, sn) {
		return sn
	}
	if now := c.cur.Load(); now != nil && now.view == v {
		return now
	}
	return sn
}

// encodeTasks builds tasksJSON, spans and index.
func (sn *snapshot) encodeTasks() {
	sn.tasksOnce.Do(func() {
		v := sn.view
		// Tasks are sorted by app id, so the app of consecutive tasks is looked up once.
		b := make([]byte, 0, capFor(&sn.hints.tasksJSON, 64+len(v.Tasks)*512))
		b = append(b, `{"tasks":[`...)
		sn.spans = make([]span, len(v.Tasks))
		var (
			lastApp string
			sps     []int
		)
		for i, t := range v.Tasks {
			if i > 0 {
				b = append(b, ',')
			}
			if i == 0 || t.AppID != lastApp {
				lastApp, sps = t.AppID, nil
				if st := v.App(t.AppID); st != nil {
					sps = servicePorts(st.App)
				}
			}
			start := len(b)
			b = appendTask(b, t, sps)
			sn.spans[i] = span{start, len(b)}
		}
		sn.tasksJSON = append(b, "]}\n"...)
		sn.hints.tasksJSON.Store(int64(len(sn.tasksJSON)))
	})
}

// taskJSON returns the encoding of t: the cached one when t is one of the View's
// tasks, a fresh one otherwise.
func (sn *snapshot) taskJSON(t *engine.Task) []byte {
	sn.encodeTasks()
	sn.indexOnce.Do(func() {
		sn.index = make(map[*engine.Task]int, len(sn.view.Tasks))
		for i, t := range sn.view.Tasks {
			sn.index[t] = i
		}
	})
	if i, ok := sn.index[t]; ok {
		sp := sn.spans[i]
		return sn.tasksJSON[sp.start:sp.end]
	}
	var sps []int
	if st := sn.view.App(t.AppID); st != nil {
		sps = servicePorts(st.App)
	}
	return appendTask(nil, t, sps)
}

// appendTaskList appends [task,...] for tasks.
func (sn *snapshot) appendTaskList(b []byte, tasks []*engine.Task) []byte {
	b = append(b, '[')
	for i, t := range tasks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, sn.taskJSON(t)...)
	}
	return append(b, ']')
}

// text returns the text/plain task list of every app.
func (sn *snapshot) text() []byte {
	sn.textOnce.Do(func() {
		sn.encodeApps()
		v := sn.view
		b := make([]byte, 0, capFor(&sn.hints.tasksText, 64*len(v.Apps)+48*len(v.Tasks)))
		var sc endpointScratch
		for i, st := range v.Apps {
			b = appendEndpoints(b, st.App, sn.appTasks[i], &sc)
		}
		sn.tasksText = b
		sn.hints.tasksText.Store(int64(len(b)))
	})
	return sn.tasksText
}

// encodeApps encodes every app once.
func (sn *snapshot) encodeApps() {
	sn.appsOnce.Do(func() {
		v := sn.view
		sn.appJSON = make([][]byte, len(v.Apps))
		sn.appTasks = make([][]*engine.Task, len(v.Apps))
		total := 0
		inherited := map[string]map[string]bool{} // by parent group
		for i, st := range v.Apps {
			raw, err := marathonAppCached(v, st.App, inherited)
			if err != nil && sn.appErr == nil {
				sn.appErr = fmt.Errorf("app %s: %w", st.App.ID, err)
			}
			sn.appJSON[i] = raw
			total += len(raw)
			sn.appTasks[i] = sortedTasks(st.Tasks)
		}
		sn.appsSize = total
	})
}

// encodeFull encodes every app in Stride's full encoding once.
func (sn *snapshot) encodeFull() {
	sn.fullOnce.Do(func() {
		v := sn.view
		sn.fullJSON = make([][]byte, len(v.Apps))
		for i, st := range v.Apps {
			raw, err := st.App.MarshalJSON()
			if err != nil && sn.fullErr == nil {
				sn.fullErr = fmt.Errorf("app %s: %w", st.App.ID, err)
			}
			sn.fullJSON[i] = raw
			sn.fullSize += len(raw)
		}
	})
}

// marathonApp encodes an app as Marathon's /v2 shows it: Marathon's fields
// only, and the dependencies the app declares itself — those its groups
// declare (which the state folds into every app under them, as the HCL files
// do) are shown on the groups.
func marathonApp(v *executor.View, a *engine.App) ([]byte, error) {
	return marathonAppCached(v, a, nil)
}

// marathonAppCached is marathonApp with the groups' dependencies memoised by
// parent group in cache (nil: no cache).
func marathonAppCached(v *executor.View, a *engine.App, cache map[string]map[string]bool) ([]byte, error) {
	if len(a.Dependencies) == 0 {
		return a.MarshalMarathonJSON()
	}
	parent := engine.ParentID(a.ID)
	inherited, ok := cache[parent]
	if !ok {
		inherited = groupDependencies(v, a.ID)
		if cache != nil {
			cache[parent] = inherited
		}
	}
	if len(inherited) > 0 {
		own := slices.DeleteFunc(slices.Clone(a.Dependencies), func(d string) bool { return inherited[d] })
		if len(own) != len(a.Dependencies) {
			cp := *a
			cp.Dependencies = own
			a = &cp
		}
	}
	return a.MarshalMarathonJSON()
}

// groupDependencies returns the dependencies the groups holding id declare.
func groupDependencies(v *executor.View, id string) map[string]bool {
	var deps map[string]bool
	for p := engine.ParentID(id); ; p = engine.ParentID(p) {
		if g := v.Group(p); g != nil && len(g.Dependencies) > 0 {
			if deps == nil {
				deps = map[string]bool{}
			}
			for _, d := range g.Dependencies {
				deps[d] = true
			}
		}
		if p == "/" {
			return deps
		}
	}
}

// appsCap is a capacity for a response holding every app (and, with tasks, every
// task).
func (sn *snapshot) appsCap(tasks bool) int {
	n := sn.appsSize + 512*len(sn.view.Apps) + 64
	if tasks {
		sn.encodeTasks()
		n += len(sn.tasksJSON)
	}
	return n
}

// appIndex returns the position of the app in view.Apps, or -1.
func (sn *snapshot) appIndex(id string) int {
	apps := sn.view.Apps
	i := sort.Search(len(apps), func(i int) bool { return apps[i].App.ID >= id })
	if i < len(apps) && apps[i].App.ID == id {
		return i
	}
	return -1
}

// tasksOfApp returns the View's tasks whose AppID is id (also of apps that are no
// longer deployed), in task id order.
func (sn *snapshot) tasksOfApp(id string) []*engine.Task {
	ts := sn.view.Tasks
	lo := sort.Search(len(ts), func(i int) bool { return ts[i].AppID >= id })
	hi := lo
	for hi < len(ts) && ts[hi].AppID == id {
		hi++
	}
	return sortedTasks(ts[lo:hi])
}

// sortedTasks returns tasks sorted by id: tasks itself when it already is, a
// sorted copy otherwise.
func sortedTasks(tasks []*engine.Task) []*engine.Task {
	cmp := func(a, b *engine.Task) int { return strings.Compare(a.ID, b.ID) }
	if slices.IsSortedFunc(tasks, cmp) {
		return tasks
	}
	out := slices.Clone(tasks)
	slices.SortFunc(out, cmp)
	return out
}
