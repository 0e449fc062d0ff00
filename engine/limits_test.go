package engine

import (
	"reflect"
	"strings"
	"testing"
)

// TestLimits shows each bound at its edge: the limit itself passes, one more fails
// with the path and both numbers.
func TestLimits(t *testing.T) {
	one := func(path, msg string) FieldErrors { return FieldErrors{{Path: path, Errors: []string{msg}}} }
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	tests := map[string]struct {
		mutate func(a *App)
		limits Limits
		want   FieldErrors
	}{
		"instances at limit":   {func(a *App) { a.Instances = 100_000 }, Limits{}, nil},
		"instances over limit": {func(a *App) { a.Instances = 2_000_000_000 }, Limits{}, one("/instances", "must be <= 100000, got 2000000000")},
		"server-wide limit":    {func(a *App) { a.Instances = 11 }, Limits{MaxInstances: 10}, one("/instances", "must be <= 10, got 11")},
		"cpus over limit":      {func(a *App) { a.Cpus = 5000 }, Limits{}, one("/cpus", "must be <= 4096, got 5000")},
		"mem over limit":       {func(a *App) { a.Mem = 1e300 }, Limits{}, one("/mem", "must be <= 16777216, got 1e+300")},
		"disk over limit":      {func(a *App) { a.Disk = 1 << 31 }, Limits{}, one("/disk", "must be <= 1073741824, got 2147483648")},
		"gpus over limit":      {func(a *App) { a.Gpus = 1025 }, Limits{}, one("/gpus", "must be <= 1024, got 1025")},
		"args over limit":      {func(a *App) { a.Cmd, a.Args = "", many(MaxListItems+1, "x") }, Limits{}, one("/args", "has 10001 entries, more than the limit of 10000")},
		"cmd too long":         {func(a *App) { a.Cmd = strings.Repeat("x", MaxCmdBytes+1) }, Limits{}, one("/cmd", "is 1048577 bytes long, more than the limit of 1048576")},
		"constraint value long": {func(a *App) {
			a.Constraints = []Constraint{{Field: "rack", Operator: OpLike, Value: strings.Repeat("a", 1025)}}
		}, Limits{}, one("/constraints/0/2", "is 1025 bytes long, more than the limit of 1024")},
		"max_per over instances": {func(a *App) { a.Constraints = []Constraint{{Field: "rack", Operator: OpMaxPer, Value: "100001"}} }, Limits{}, one("/constraints/0/2", "must be <= 100000, got 100001")},
		"health interval":        {func(a *App) { a.HealthChecks[0].IntervalSeconds = 86_401 }, Limits{}, one("/healthChecks/0/intervalSeconds", "must be <= 86400, got 86401")},
		"readiness timeout": {func(a *App) {
			a.ReadinessChecks[0].IntervalSeconds, a.ReadinessChecks[0].TimeoutSeconds = 86_401, 86_400
		}, Limits{}, one("/readinessChecks/0/intervalSeconds", "must be <= 86400, got 86401")},
		"backoff factor":    {func(a *App) { a.BackoffFactor = 1000 }, Limits{}, one("/backoffFactor", "must be <= 100, got 1000")},
		"give up after":     {func(a *App) { a.GiveUpAfter = 10_001 }, Limits{}, one("/giveUpAfter", "must be <= 10000, got 10001")},
		"progress deadline": {func(a *App) { a.ProgressDeadlineSeconds = 604_801 }, Limits{}, one("/progressDeadlineSeconds", "must be <= 604800, got 604801")},
		"kill grace":        {func(a *App) { a.TaskKillGracePeriodSeconds = 1 << 40 }, Limits{}, one("/taskKillGracePeriodSeconds", "must be <= 86400, got 1099511627776")},
		"too many ports":    {func(a *App) { a.PortDefinitions = make([]PortDefinition, MaxPorts+1) }, Limits{}, nil},
		"too many checks":   {func(a *App) { a.HealthChecks = make([]HealthCheck, MaxChecks+1) }, Limits{}, nil},
		"too many labels": {func(a *App) {
			a.Labels = map[string]string{}
			for i := 0; i <= MaxListItems; i++ {
				a.Labels[strings.Repeat("k", 1)+itoa(i)] = ""
			}
		}, Limits{}, one("/labels", "has 10001 entries, more than the limit of 10000")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := validApp()
			tc.mutate(a)
			got := a.ValidateWithin(tc.limits)
			switch name {
			case "too many ports":
				if !hasError(got, "/portDefinitions", "has 1001 entries, more than the limit of 1000") {
					t.Fatalf("got %v", got)
				}
				return
			case "too many checks":
				if !hasError(got, "/healthChecks", "has 17 entries, more than the limit of 16") {
					t.Fatalf("got %v", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func hasError(fe FieldErrors, path, msg string) bool {
	for _, e := range fe {
		if e.Path == path {
			for _, m := range e.Errors {
				if m == msg {
					return true
				}
			}
		}
	}
	return false
}

func itoa(i int) string { return fmtInt(i) }

func fmtInt(i int) string { return fmtFloat(float64(i)) }

func TestSpecCheckSize(t *testing.T) {
	s := &Spec{Apps: make([]*App, 3), Groups: make([]*Group, 2)}
	if fe := s.CheckSize(Limits{MaxApps: 3, MaxGroups: 2}); fe != nil {
		t.Fatalf("at the limits: %v", fe)
	}
	fe := s.CheckSize(Limits{MaxApps: 2, MaxGroups: 1})
	want := FieldErrors{
		{Path: "/apps", Errors: []string{"3 apps is more than the limit of 2"}},
		{Path: "/groups", Errors: []string{"2 groups is more than the limit of 1"}},
	}
	if !reflect.DeepEqual(fe, want) {
		t.Fatalf("got %v, want %v", fe, want)
	}
}
