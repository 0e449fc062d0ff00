package engine

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

// fillFull sets every field reachable from v to a non-zero value derived from
// *n: every pointer allocated, every slice and map given two elements, interfaces
// a float64. The same *n start gives the same value, so two calls build equal,
// independent apps.
func fillFull(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Int:
		v.SetInt(int64(*n))
	case reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillFull(p.Elem(), n)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillFull(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			fillFull(k, n)
			e := reflect.New(v.Type().Elem()).Elem()
			fillFull(e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillFull(v.Field(i), n)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(float64(*n)))
	}
}

// mutate changes every value reachable from v in place — through pointers, slice
// elements and map entries, never by replacing a pointer, slice or map — and
// counts the leaves it changed.
func mutate(v reflect.Value, count *int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "!")
		*count++
	case reflect.Int:
		v.SetInt(v.Int() + 1000)
		*count++
	case reflect.Float64:
		v.SetFloat(v.Float() + 1000)
		*count++
	case reflect.Bool:
		v.SetBool(!v.Bool())
		*count++
	case reflect.Pointer:
		if !v.IsNil() {
			mutate(v.Elem(), count)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			mutate(v.Index(i), count)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			mutate(e, count)
			v.SetMapIndex(k, e)
		}
		k := reflect.New(v.Type().Key()).Elem()
		fillFull(k, new(int))
		k.SetString("added-" + k.String())
		v.SetMapIndex(k, reflect.Zero(v.Type().Elem()))
		*count++
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				mutate(v.Field(i), count)
			}
		}
	case reflect.Interface:
		if !v.IsNil() {
			v.Set(reflect.ValueOf("changed"))
			*count++
		}
	}
}

func fullApp() *App {
	a := &App{}
	n := 0
	fillFull(reflect.ValueOf(a).Elem(), &n)
	return a
}

// TestCloneIsDeep proves that Clone copies every pointer, slice and map of App,
// recursively: mutating everything reachable from the clone leaves the original
// as it was. Because the app is filled by reflection, a field added to App later
// without Clone support makes this test fail.
func TestCloneIsDeep(t *testing.T) {
	orig, want := fullApp(), fullApp()
	source := orig.Source
	if !reflect.DeepEqual(orig, want) {
		t.Fatal("fullApp is not deterministic")
	}

	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone differs from the original:\n%#v\n%#v", c, orig)
	}
	if c.Source != source {
		t.Error("Source should be shared (immutable)")
	}
	c.Source = nil // shared by design: not part of the mutation
	count := 0
	mutate(reflect.ValueOf(c).Elem(), &count)
	if count < 100 {
		t.Fatalf("mutate reached only %d leaves", count)
	}
	orig.Source = want.Source
	if !reflect.DeepEqual(orig, want) {
		t.Errorf("mutating the clone changed the original:\n%#v\nwant\n%#v", orig, want)
	}
}

// TestCloneTestCanFail: the same mutation through a shallow copy is caught, so
// TestCloneIsDeep is not vacuous.
func TestCloneTestCanFail(t *testing.T) {
	orig, want := fullApp(), fullApp()
	shallow := *orig
	shallow.Source = nil
	count := 0
	mutate(reflect.ValueOf(&shallow).Elem(), &count)
	orig.Source = want.Source
	if reflect.DeepEqual(orig, want) {
		t.Fatal("a shallow copy went unnoticed")
	}
}

// TestCloneKeepsNilness: nil and empty slices and maps stay as they were
// (PortDefinitions nil means absent, [] means no ports).
func TestCloneKeepsNilness(t *testing.T) {
	empty := &App{
		Args: []string{}, Env: map[string]string{}, EnvSecrets: map[string]string{}, Secrets: map[string]Secret{},
		Constraints: []Constraint{}, AcceptedResourceRoles: []string{}, Fetch: []Artifact{},
		PortDefinitions: []PortDefinition{}, Networks: []Network{}, HealthChecks: []HealthCheck{},
		ReadinessChecks: []ReadinessCheck{}, Dependencies: []string{}, Labels: map[string]string{},
		Container: &Container{Volumes: []Volume{}, PortMappings: []PortMapping{}, Docker: &Docker{Parameters: []Parameter{}, PortMappings: []PortMapping{}}},
		Service:   &Service{Tags: []string{}},
	}
	for name, a := range map[string]*App{"zero": {}, "empty": empty, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			if c := a.Clone(); !reflect.DeepEqual(c, a) {
				t.Errorf("got %#v, want %#v", c, a)
			}
		})
	}
}

func BenchmarkClone(b *testing.B) {
	a, err := DecodeApp(fixtureApps(b, filepath.Join(fixtureDir, "full.json"))[0])
	if err != nil {
		b.Fatal(err)
	}
	if c := a.Clone(); !reflect.DeepEqual(c, a) {
		b.Fatal("clone differs")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Clone()
	}
}
