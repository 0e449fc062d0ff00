package executor

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stride-run/stride/engine"
)

// TestPreviewMatchesExecutorWaves carries out restarts on the executor (fake
// Mesos, no health checks: a task is deployed once it has run StableAfter) and
// records what it does in each round — the kills one housekeeping tick decides
// and the launches the next offers carry — letting every started task become
// deployed and every kill complete between rounds, which is what the plan's
// preview assumes. The executor's actual waves must be the plan's.
func TestPreviewMatchesExecutorWaves(t *testing.T) {
	cases := map[string]struct {
		from, to  int
		minHealth float64
		over      float64
	}{
		"worked example 10 at 0.5/0.2": {10, 10, 0.5, 0.2},
		"marathon defaults":            {3, 3, 1, 1},
		"degenerate 1.0/0":             {3, 3, 1, 0},
		"0.7/0":                        {10, 10, 0.7, 0},
		"no health, no over":           {4, 4, 0, 0},
		"half down, quarter over":      {4, 4, 0.5, 0.25},
		"scale up with restart":        {2, 6, 1, 0.5},
		"scale down with restart":      {10, 4, 1, 0},
		"one instance":                 {1, 1, 1, 0},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			app := testApp("/api", tc.from, "v1")
			app.UpgradeStrategy = engine.UpgradeStrategy{MinimumHealthCapacity: tc.minHealth, MaximumOverCapacity: tc.over}
			h.apply(spec(app))
			h.offer(2)
			h.runLaunched()
			h.settle()
			h.tick()
			if len(h.e.deployments) != 0 {
				t.Fatal("create did not finish")
			}
			v2 := app.Clone()
			v2.Cmd, v2.Instances = "v2", tc.to
			h.clock.advance(time.Second)
			dep := h.apply(spec(v2))
			want := dep.Plan.Changes[0].Rolling.Waves

			var got []engine.Wave
			for round := 0; round < 50 && len(h.e.deployments) > 0; round++ {
				killedBefore, launchedBefore := len(h.mesos.killed), len(h.mesos.launched)
				h.tick()
				h.offer(2)
				w := engine.Wave{Kill: len(h.mesos.killed) - killedBefore, Start: len(h.mesos.launched) - launchedBefore}
				for _, tk := range h.e.tasks {
					switch {
					case tk.killing:
					case isOutdated(h.e.apps["/api"], tk, nil):
						w.Old++
					default:
						w.New++
					}
				}
				if w.Start+w.Kill > 0 {
					got = append(got, w)
				}
				h.finishKills()
				h.runLaunched()
				h.settle()
			}
			if len(h.e.deployments) != 0 {
				t.Fatal("the restart did not finish in 50 rounds")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("executor waves %s\nplan preview   %s", wavesText(got), wavesText(want))
			}
		})
	}
}

func wavesText(ws []engine.Wave) string {
	s := ""
	for _, w := range ws {
		s += fmt.Sprintf("+%d -%d → %d+%d; ", w.Start, w.Kill, w.Old, w.New)
	}
	return s
}
