package hcl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stride-run/stride/engine"
)

// readJSONApps decodes a Marathon app array, or {"apps": [...]}, with
// engine.DecodeApp, sorted by id.
func readJSONApps(t *testing.T, path string) []*engine.App {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("[")) {
		err = json.Unmarshal(data, &raws)
	} else {
		var doc struct {
			Apps []json.RawMessage `json:"apps"`
		}
		err = json.Unmarshal(data, &doc)
		raws = doc.Apps
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	apps := make([]*engine.App, 0, len(raws))
	for i, raw := range raws {
		a, err := engine.DecodeApp(raw)
		if err != nil {
			t.Fatalf("%s: app %d: %v", path, i, err)
		}
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].ID < apps[j].ID })
	return apps
}

// TestEquivalence checks that each testdata/hcl/equiv/<name>.hcl declares exactly
// the apps of <name>.json, decoded by the JSON codec: the same engine.App, field
// for field, defaults included (Source aside).
func TestEquivalence(t *testing.T) {
	dir := filepath.Join(testdataDir, "equiv")
	for _, name := range cases(t, dir) {
		base := strings.TrimSuffix(name, ".hcl")
		t.Run(base, func(t *testing.T) {
			cfg, diags := Load(filepath.Join(dir, name), Options{})
			if len(diags) > 0 {
				t.Fatalf("diagnostics:\n%s", strings.Join(DiagnosticLines(diags), "\n"))
			}
			want := readJSONApps(t, filepath.Join(dir, base+".json"))
			got := cfg.Spec.Apps
			for _, a := range got {
				if a.Source == nil {
					t.Errorf("%s: no Source", a.ID)
				}
				a.Source = nil
			}
			if len(got) != len(want) {
				t.Fatalf("%d apps from HCL, %d from JSON", len(got), len(want))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					g, _ := json.MarshalIndent(got[i], "", "  ")
					w, _ := json.MarshalIndent(want[i], "", "  ")
					t.Errorf("%s differs:\n--- HCL\n%s\n--- JSON\n%s\n%s", got[i].ID, g, w, structDiff(got[i], want[i]))
				}
			}
		})
	}
}

// structDiff names the top-level fields of two apps that differ.
func structDiff(a, b *engine.App) string {
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return "fields: " + strings.Join(out, ", ")
}
