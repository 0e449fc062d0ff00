package executor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stride-run/stride/engine"
)

// Health-gated dependencies. An app of the current step starts only when every
// app it depends on (an app id, or a group id standing for every app under it)
// runs at full strength — all its instances deployed: healthy and ready. Until
// then it is held as it is (nothing launched, nothing killed) and says what it
// waits for, with its deadline: "waiting for /shop/db: 2/3 healthy, 4m12s of
// 10m". The wait counts against the change's progress deadline. Once begun
// (Deadline.Started, stored), a change is not held again should a dependency
// weaken: it would have to stop half way. A dependency
// that failed — its deployment failed and it has not been fully healthy since,
// it gave up relaunching, or it is set aside — fails the dependent's step at
// once instead of letting it wait for nothing.

// Texts of waiting and failed dependencies.
const (
	waitDependency   = "waiting for %s: %d/%d healthy"
	waitCapacity     = "waiting for capacity: %s"
	failedDependency = "dependency %s failed: %s"
)

// tickIndex is the live tasks of every app (oldest first) and, once asked for,
// the sorted app ids: built once per housekeeping tick.
type tickIndex struct {
	live map[string][]*taskState
	ids  []string
	apps map[string]*engine.App
}

func (e *Executor) newTickIndex() *tickIndex {
	ix := &tickIndex{live: map[string][]*taskState{}, apps: e.apps}
	now := e.cfg.Now()
	for _, t := range e.tasks {
		// An unreachable task counts until its app's inactiveAfterSeconds.
		if e.counts(t, now) {
			ix.live[t.AppID] = append(ix.live[t.AppID], t)
		}
	}
	for _, ts := range ix.live {
		sortTasks(ts)
	}
	return ix
}

// dependencies resolves an app's dependencies to the deployed apps they name.
func (ix *tickIndex) dependencies(app *engine.App) []string {
	if ix.ids == nil {
		ix.ids = make([]string, 0, len(ix.apps))
		for id := range ix.apps {
			ix.ids = append(ix.ids, id)
		}
		sort.Strings(ix.ids)
	}
	var out []string
	seen := map[string]bool{app.ID: true}
	for _, d := range app.Dependencies {
		i := sort.SearchStrings(ix.ids, d)
		if i < len(ix.ids) && ix.ids[i] == d {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
			continue
		}
		prefix := strings.TrimSuffix(d, "/") + "/"
		for j := sort.SearchStrings(ix.ids, prefix); j < len(ix.ids) && strings.HasPrefix(ix.ids[j], prefix); j++ {
			if id := ix.ids[j]; !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// dependencyState says what an app of the current step waits for among its
// dependencies ("" when nothing), or why one of them failed.
func (e *Executor) dependencyState(app *engine.App, ix *tickIndex, now time.Time) (waiting, failed string) {
	if app == nil || len(app.Dependencies) == 0 {
		return "", ""
	}
	for _, id := range ix.dependencies(app) {
		if why := e.appFailure(id); why != "" {
			return "", fmt.Sprintf(failedDependency, id, why)
		}
		if waiting != "" {
			continue
		}
		dep := e.apps[id]
		ok := 0
		for _, t := range ix.live[id] {
			if !t.killing && e.taskDeployed(dep, t, now) {
				ok++
			}
		}
		if ok < dep.Instances {
			waiting = fmt.Sprintf(waitDependency, id, ok, dep.Instances)
		}
	}
	return waiting, ""
}

// appFailure says why an app counts as failed ("" when it does not): it gave up
// relaunching, it is set aside, or its last deployment failed and it has not run
// fully healthy since.
func (e *Executor) appFailure(id string) string {
	if why := e.gaveUp[id]; why != "" {
		return why
	}
	if why, aside := e.quarantined[id]; aside {
		return why
	}
	return e.failedApps[id]
}

// waitText adds the time waited to a waiting reason: ", 4m12s of 10m" (or
// ", 4m12s" without a deadline).
func waitText(why string, dl *engine.Deadline, now time.Time) string {
	if why == "" || dl == nil {
		return why
	}
	waited := now.Sub(parseTime(dl.Since, now))
	if dl.Seconds > 0 {
		return fmt.Sprintf("%s, %s of %s", why, shortDuration(waited), shortDuration(time.Duration(dl.Seconds)*time.Second))
	}
	return fmt.Sprintf("%s, %s", why, shortDuration(waited))
}

// shortDuration renders whole seconds without trailing zero units: 4m12s, 10m,
// 1h, 1h30m, 45s.
func shortDuration(d time.Duration) string {
	d = d.Truncate(time.Second)
	if d <= 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
