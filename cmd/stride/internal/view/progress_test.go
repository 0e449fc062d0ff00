package view

import (
	"bytes"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestProgressLine(t *testing.T) {
	cases := map[string]struct {
		p    Progress
		live bool
		want string
	}{
		"restart start: old tasks do not fill the bar": {
			Progress{ID: "/shop/api", Action: engine.ActionRestart, Target: 2, Old: 2}, true,
			"/shop/api restart: [                    ] 0/2 new healthy, 2 old",
		},
		"restart under way": {
			Progress{ID: "/shop/api", Action: engine.ActionRestart, Target: 4, Placed: 3, Running: 2, Healthy: 1, NotReady: 1, Old: 2, Killing: 1}, false,
			"/shop/api restart: 1/4 new healthy, 1 starting, 1 not ready, 2 old, 1 stopping",
		},
		"waiting, live shows the time": {
			Progress{ID: "/shop/web", Action: engine.ActionCreate, Target: 2, Waiting: "waiting for /shop/db: 2/3 healthy", Waited: "4m12s of 10m"}, true,
			"/shop/web create: [                    ] 0/2 healthy — waiting for /shop/db: 2/3 healthy, 4m12s of 10m",
		},
		"waiting, a pipe leaves the ticking time out": {
			Progress{ID: "/shop/web", Action: engine.ActionCreate, Target: 2, Waiting: "waiting for /shop/db: 2/3 healthy", Waited: "4m12s of 10m"}, false,
			"/shop/web create: 0/2 healthy — waiting for /shop/db: 2/3 healthy",
		},
		"no progress, live": {
			Progress{ID: "/a", Action: engine.ActionScale, Target: 3, Placed: 3, Running: 3, Healthy: 2, Unhealthy: 1, Deadline: "1m3s of 10m", LastFailure: "TASK_FAILED: exit 1"}, true,
			"/a scale: [=============       ] 2/3 healthy, 1 unhealthy — no progress for 1m3s of 10m — last failure: TASK_FAILED: exit 1",
		},
		"backing off": {
			Progress{ID: "/a", Action: engine.ActionCreate, Target: 1, DelaySeconds: 4}, false,
			"/a create: 0/1 healthy — backing off",
		},
		"gave up": {
			Progress{ID: "/a", Action: engine.ActionCreate, Target: 1, GaveUp: "/a: gave up after 3 failed launches in a row", DelaySeconds: 9, LastFailure: "x"}, false,
			"/a create: 0/1 healthy — /a: gave up after 3 failed launches in a row",
		},
		"done": {
			Progress{ID: "/a", Action: engine.ActionRestart, Target: 2, Placed: 2, Running: 2, Healthy: 2, Done: true}, false,
			"/a restart: 2/2 new healthy — done",
		},
		"destroy": {
			Progress{ID: "/old", Action: engine.ActionDestroy, Old: 1, Killing: 2}, true,
			"/old destroy: 3 task(s) left",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ProgressLine(tc.p, tc.live); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestProgressBlock(t *testing.T) {
	t.Run("a pipe prints each change once", func(t *testing.T) {
		var b bytes.Buffer
		last := map[string]string{}
		ProgressBlock(&b, []string{"a 0/1", "b 0/1"}, []string{"/a", "/b"}, 0, last, false)
		ProgressBlock(&b, []string{"a 0/1", "b 1/1"}, []string{"/a", "/b"}, 0, last, false)
		if got, want := b.String(), "  a 0/1\n  b 0/1\n  b 1/1\n"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("a terminal redraws in place", func(t *testing.T) {
		var b bytes.Buffer
		n := ProgressBlock(&b, []string{"a 0/1", "b 0/1"}, []string{"/a", "/b"}, 0, nil, true)
		n = ProgressBlock(&b, []string{"a 1/1"}, []string{"/a"}, n, nil, true)
		want := "\x1b[2K  a 0/1\n\x1b[2K  b 0/1\n" + "\x1b[2F\x1b[2K  a 1/1\n\x1b[2K\n"
		if got := b.String(); got != want || n != 2 {
			t.Errorf("got %q (%d lines), want %q", got, n, want)
		}
	})
}
