package storetest

import (
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

func TestDiff(t *testing.T) {
	snap := func(edit func(s *engine.Snapshot)) *engine.Snapshot {
		s := &engine.Snapshot{
			Index: 3, Serial: 2, FrameworkID: "fw",
			Apps:        map[string]*engine.App{"/a": App("/a", 1), "/b": App("/b", 2)},
			Tasks:       map[string]*engine.Task{"t": Task("/a", 1)},
			Deployments: map[string]*engine.Deployment{"d": Deployment("d", App("/a", 1))},
		}
		if edit != nil {
			edit(s)
		}
		return s
	}
	for name, tc := range map[string]struct {
		edit func(s *engine.Snapshot)
		want string // "" = equal
	}{
		"equal":              {nil, ""},
		"index":              {func(s *engine.Snapshot) { s.Index = 4 }, "Index: got 4, want 3"},
		"serial":             {func(s *engine.Snapshot) { s.Serial = 1 }, "Serial: got 1, want 2"},
		"framework id":       {func(s *engine.Snapshot) { s.FrameworkID = "" }, `FrameworkID: got "", want "fw"`},
		"missing app":        {func(s *engine.Snapshot) { delete(s.Apps, "/b") }, `Apps["/b"]: missing`},
		"extra task":         {func(s *engine.Snapshot) { s.Tasks["u"] = Task("/a", 2) }, `Tasks["u"]: unexpected`},
		"nested field":       {func(s *engine.Snapshot) { s.Apps["/b"].Container.Docker.Image = "x" }, `Apps["/b"].Container.Docker.Image: got "x"`},
		"map entry":          {func(s *engine.Snapshot) { s.Apps["/a"].Labels["team"] = "x" }, `Apps["/a"].Labels[team]: got "x"`},
		"nil vs empty slice": {func(s *engine.Snapshot) { s.Apps["/a"].Args = []string{} }, `Apps["/a"].Args: got empty []string, want nil []string`},
		"nil pointer":        {func(s *engine.Snapshot) { s.Apps["/b"].Service = nil }, `Apps["/b"].Service: got nil *engine.Service`},
		"any value type":     {func(s *engine.Snapshot) { s.Tasks["t"].LocalVolumes[2] = 2 }, `Tasks["t"].LocalVolumes[2]: got 2, want 1.5`},
		"deep in a plan":     {func(s *engine.Snapshot) { s.Deployments["d"].Plan.Changes[1].Rolling.Waves[0].Kill = 0 }, `Deployments["d"].Plan.Changes[1].Rolling.Waves[0].Kill: got 0, want 5`},
	} {
		t.Run(name, func(t *testing.T) {
			got := Diff(snap(tc.edit), snap(nil))
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("Diff = %q, want it to say %q", got, tc.want)
			}
		})
	}
	t.Run("nil and empty maps are equal", func(t *testing.T) {
		if d := Diff(&engine.Snapshot{}, &emptyModel().Snapshot); d != "" {
			t.Errorf("Diff = %q", d)
		}
	})
}
