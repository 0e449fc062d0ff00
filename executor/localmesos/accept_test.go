package localmesos

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

func TestInvalidAccepts(t *testing.T) {
	type setup struct {
		c      *client
		offers []mesos.Offer // one per agent, outstanding
	}
	launch := func(ti ...mesos.TaskInfo) []mesos.Offer_Operation {
		return []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: ti}}}
	}
	cases := map[string]struct {
		partitionAware bool
		accept         func(s setup) *scheduler.Call_Accept
		want           map[string]mesos.TaskState // task id -> state of the master's update
		wantReason     mesos.TaskStatus_Reason
		wantMessage    string
		launched       []string // tasks that do start
	}{
		"unknown offer": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{{Value: "no-such-offer"}}, Operations: launch(shellTask(s.offers[0], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_LOST}, wantReason: mesos.REASON_INVALID_OFFERS,
			wantMessage: "Task launched with invalid offers: Offer no-such-offer is no longer valid",
		},
		"unknown offer, partition-aware": {
			partitionAware: true,
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{{Value: "no-such-offer"}}, Operations: launch(shellTask(s.offers[0], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_DROPPED}, wantReason: mesos.REASON_INVALID_OFFERS,
			wantMessage: "is no longer valid",
		},
		"no offers": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{Operations: launch(shellTask(s.offers[0], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_LOST}, wantReason: mesos.REASON_INVALID_OFFERS, wantMessage: "No offers specified",
		},
		"offers of two agents": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID, s.offers[1].ID}, Operations: launch(shellTask(s.offers[0], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_LOST}, wantReason: mesos.REASON_INVALID_OFFERS,
			wantMessage: "Aggregated offers must belong to one single agent",
		},
		"duplicate offer": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID, s.offers[0].ID}, Operations: launch(shellTask(s.offers[0], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_LOST}, wantReason: mesos.REASON_INVALID_OFFERS, wantMessage: "Duplicate offer",
		},
		"more resources than offered": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(shellTask(s.offers[0], "a", "true", 9, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID,
			wantMessage: "Total resources cpus(allocated: *):9; mem(allocated: *):32 required by task and its executor is more than available ports(allocated: *):{ports}; cpus(allocated: *):8;",
		},
		"second task does not fit what the first left": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(
					shellTask(s.offers[0], "a", "sleep 60", 5, 32), shellTask(s.offers[0], "b", "true", 5, 32))}
			},
			want: map[string]mesos.TaskState{"b": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID,
			wantMessage: "required by task and its executor is more than available", launched: []string{"a"},
		},
		"ports outside the offer": {
			accept: func(s setup) *scheduler.Call_Accept {
				ti := shellTask(s.offers[0], "a", "true", 0.1, 32)
				ti.Resources = append(ti.Resources, ports(mesos.Value_Range{Begin: 80, End: 80}))
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(ti)}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: "ports(allocated: *):[80-80] required by task",
		},
		"duplicate task ids": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(
					shellTask(s.offers[0], "a", "sleep 60", 0.1, 32), shellTask(s.offers[0], "a", "sleep 60", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID,
			wantMessage: "Task has duplicate ID: a", launched: []string{"a"},
		},
		"missing command": {
			accept: func(s setup) *scheduler.Call_Accept {
				ti := shellTask(s.offers[0], "a", "true", 0.1, 32)
				ti.Command = nil
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(ti)}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID,
			wantMessage: "at least one (but not both) of CommandInfo or ExecutorInfo",
		},
		"task for another agent": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(shellTask(s.offers[1], "a", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: "Task uses invalid agent",
		},
		"no resources": {
			accept: func(s setup) *scheduler.Call_Accept {
				ti := shellTask(s.offers[0], "a", "true", 0.1, 32)
				ti.Resources = nil
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(ti)}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: "Task uses no resources",
		},
		"unknown resource": {
			accept: func(s setup) *scheduler.Call_Accept {
				ti := shellTask(s.offers[0], "a", "true", 0.1, 32)
				ti.Resources = append(ti.Resources, scalar("gpus", 1))
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(ti)}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: `"gpus"`,
		},
		"invalid task id": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(shellTask(s.offers[0], "a/b", "true", 0.1, 32))}
			},
			want: map[string]mesos.TaskState{"a/b": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: "invalid TaskID",
		},
		"invalid health check": {
			accept: func(s setup) *scheduler.Call_Accept {
				ti := shellTask(s.offers[0], "a", "true", 0.1, 32)
				ti.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_HTTP}
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: launch(ti)}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_INVALID, wantMessage: "invalid health check",
		},
		"launch group": {
			accept: func(s setup) *scheduler.Call_Accept {
				return &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{s.offers[0].ID}, Operations: []mesos.Offer_Operation{{
					Type: mesos.Offer_Operation_LAUNCH_GROUP,
					LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
						Executor:  mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e"}},
						TaskGroup: mesos.TaskGroupInfo{Tasks: []mesos.TaskInfo{shellTask(s.offers[0], "a", "true", 0.1, 32)}},
					},
				}}}
			},
			want: map[string]mesos.TaskState{"a": mesos.TASK_ERROR}, wantReason: mesos.REASON_TASK_GROUP_INVALID, wantMessage: "LAUNCH_GROUP",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := newMaster(t, func(c *Config) { c.Agents = 2 })
			var caps []mesos.FrameworkInfo_Capability_Type
			if tc.partitionAware {
				caps = append(caps, mesos.FrameworkInfo_Capability_PARTITION_AWARE)
			}
			c := subscribe(t, m, jsonCodec, frameworkInfo(caps...))
			c.ackAll = true
			s := setup{c: c, offers: allOffers(c, 2)}
			acc := tc.accept(s)
			c.mustCall(&scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: acc})
			for id, want := range tc.want {
				st := c.expect(isUpdate(id, want)).Update.Status
				// {ports} is the first agent's port range (free ports, picked per test).
				wantMessage := strings.ReplaceAll(tc.wantMessage, "{ports}", offeredPorts(s.offers[0]))
				if st.GetReason() != tc.wantReason || !strings.Contains(st.GetMessage(), wantMessage) {
					t.Errorf("%s: %v (%v) %q, want %v %q", id, st.GetState(), st.GetReason(), st.GetMessage(), tc.wantReason, wantMessage)
				}
				if st.UUID != nil || st.GetSource() != mesos.SOURCE_MASTER {
					t.Errorf("%s: a master update must have no uuid and source MASTER: %x %v", id, st.UUID, st.GetSource())
				}
			}
			if len(tc.launched) > 0 {
				c.updates(mesos.TASK_RUNNING, tc.launched...)
			}
			var ids []string
			for _, ti := range m.Tasks() {
				ids = append(ids, ti.ID)
			}
			if strings.Join(ids, ",") != strings.Join(tc.launched, ",") {
				t.Errorf("tasks known: %v, want %v", ids, tc.launched)
			}
			var sandboxes []string
			_ = filepath.Walk(m.WorkDir(), func(p string, info os.FileInfo, err error) error {
				if err == nil && info.IsDir() && filepath.Base(filepath.Dir(p)) == "tasks" {
					sandboxes = append(sandboxes, filepath.Base(p))
				}
				return nil
			})
			if strings.Join(sandboxes, ",") != strings.Join(tc.launched, ",") {
				t.Errorf("sandboxes %v, want %v", sandboxes, tc.launched)
			}
			if len(tc.launched) == 0 {
				for _, a := range m.Agents() {
					if a.Used.Cpus != 0 {
						t.Errorf("agent %s uses %+v", a.ID, a.Used)
					}
				}
			}
		})
	}
}

// offeredPorts formats an offer's port ranges as the master's messages do:
// "[11000-11099]".
func offeredPorts(o mesos.Offer) string {
	var parts []string
	for _, r := range o.Resources {
		if r.Name != "ports" || r.Ranges == nil {
			continue
		}
		for _, rg := range r.Ranges.Range {
			parts = append(parts, fmt.Sprintf("%d-%d", rg.Begin, rg.End))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
