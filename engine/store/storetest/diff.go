package storetest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/stride-run/stride/engine"
)

// Diff compares two snapshots and describes the first differences found, one per
// line ("" when they are equal). Maps that are nil and maps that are empty are
// equal (the Store contract does not say which an empty store returns); everything
// else is compared exactly, so a nil slice and an empty one differ — a store must
// give back what it was given.
func Diff(got, want *engine.Snapshot) string {
	var d differ
	if got == nil || want == nil {
		if got != want {
			d.addf("snapshot: got %v, want %v", got, want)
		}
		return d.String()
	}
	if got.Index != want.Index {
		d.addf("Index: got %d, want %d", got.Index, want.Index)
	}
	if got.Serial != want.Serial {
		d.addf("Serial: got %d, want %d", got.Serial, want.Serial)
	}
	if got.FrameworkID != want.FrameworkID {
		d.addf("FrameworkID: got %q, want %q", got.FrameworkID, want.FrameworkID)
	}
	diffMap(&d, "Apps", got.Apps, want.Apps)
	diffMap(&d, "Tasks", got.Tasks, want.Tasks)
	diffMap(&d, "Deployments", got.Deployments, want.Deployments)
	diffMap(&d, "Subscriptions", got.Subscriptions, want.Subscriptions)
	diffMap(&d, "Groups", got.Groups, want.Groups)
	return d.String()
}

// maxDiffs bounds a Diff report: the first few differences say what is wrong.
const maxDiffs = 10

type differ struct{ lines []string }

func (d *differ) addf(format string, args ...any) {
	if len(d.lines) < maxDiffs {
		d.lines = append(d.lines, fmt.Sprintf(format, args...))
	} else if len(d.lines) == maxDiffs {
		d.lines = append(d.lines, "...")
	}
}

func (d *differ) String() string { return strings.Join(d.lines, "\n") }

func diffMap[V any](d *differ, name string, got, want map[string]V) {
	var ids []string
	for id := range got {
		ids = append(ids, id)
	}
	for id := range want {
		if _, ok := got[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		g, gok := got[id]
		w, wok := want[id]
		switch {
		case !gok:
			d.addf("%s[%q]: missing", name, id)
		case !wok:
			d.addf("%s[%q]: unexpected", name, id)
		default:
			diffValue(d, fmt.Sprintf("%s[%q]", name, id), reflect.ValueOf(g), reflect.ValueOf(w))
		}
	}
}

// diffValue walks two values of the same type and reports the paths that differ.
func diffValue(d *differ, path string, g, w reflect.Value) {
	if !g.IsValid() || !w.IsValid() {
		if g.IsValid() != w.IsValid() {
			d.addf("%s: got %s, want %s", path, show(g), show(w))
		}
		return
	}
	if g.Type() != w.Type() {
		d.addf("%s: got %s, want %s", path, show(g), show(w))
		return
	}
	switch g.Kind() {
	case reflect.Pointer, reflect.Interface:
		if g.IsNil() || w.IsNil() {
			if g.IsNil() != w.IsNil() {
				d.addf("%s: got %s, want %s", path, show(g), show(w))
			}
			return
		}
		diffValue(d, path, g.Elem(), w.Elem())
	case reflect.Struct:
		for i := 0; i < g.NumField(); i++ {
			if !g.Type().Field(i).IsExported() {
				continue
			}
			diffValue(d, path+"."+g.Type().Field(i).Name, g.Field(i), w.Field(i))
		}
	case reflect.Slice:
		if g.IsNil() != w.IsNil() {
			d.addf("%s: got %s, want %s", path, show(g), show(w))
			return
		}
		if g.Len() != w.Len() {
			d.addf("%s: got %d elements, want %d", path, g.Len(), w.Len())
			return
		}
		for i := 0; i < g.Len(); i++ {
			diffValue(d, fmt.Sprintf("%s[%d]", path, i), g.Index(i), w.Index(i))
		}
	case reflect.Map:
		if g.IsNil() != w.IsNil() {
			d.addf("%s: got %s, want %s", path, show(g), show(w))
			return
		}
		keys := map[string]reflect.Value{}
		for _, k := range append(g.MapKeys(), w.MapKeys()...) {
			keys[fmt.Sprint(k.Interface())] = k
		}
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			diffValue(d, fmt.Sprintf("%s[%s]", path, n), g.MapIndex(keys[n]), w.MapIndex(keys[n]))
		}
	default:
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			d.addf("%s: got %s, want %s", path, show(g), show(w))
		}
	}
}

func show(v reflect.Value) string {
	if !v.IsValid() {
		return "absent"
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
		if v.IsNil() {
			return fmt.Sprintf("nil %s", v.Type())
		}
	}
	if v.Kind() == reflect.Slice && v.Len() == 0 {
		return fmt.Sprintf("empty %s", v.Type())
	}
	return fmt.Sprintf("%#v", v.Interface())
}
