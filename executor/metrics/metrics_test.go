package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// fill records a fixed set of figures.
func fill(m *Metrics, c *clock) {
	m.SetState(func() State {
		return State{Leader: true, Apps: 3, DeploymentsRunning: 1, Subscribers: 2,
			Tasks: map[string]int{"TASK_RUNNING": 7, "TASK_STAGING": 1, "TASK_WEIRD": 1}}
	})
	m.DeploymentFinished("succeeded")
	m.DeploymentFinished("succeeded")
	m.DeploymentFinished("failed")
	m.OffersProcessed(10)
	m.OffersDeclined(4)
	m.HealthCheck("HTTP", true)
	m.HealthCheck("HTTP", false)
	m.HealthCheck("MESOS", true)
	for _, ms := range []int{800, 1200, 2000, 9000} {
		m.TaskLaunched(time.Duration(ms) * time.Millisecond)
	}
	for i := 1; i <= 100; i++ {
		m.APIRequest("GET", "/v2/apps", 200, time.Duration(i)*100*time.Microsecond)
	}
	m.APIRequest("POST", "/v2/eventSubscriptions", 422, 3*time.Millisecond)
	m.EventPublished("status_update_event")
	m.StreamOpened()
	m.StreamOpened()
	m.StreamClosed()
	m.CallbackDelivered()
	m.CallbackFailed()
	m.EventsDropped(ConsumerCallback, DropBacklogFull, 5)
	m.EventsDropped(ConsumerStream, DropSlowConsumer, 0) // nothing: no series
	c.advance(10 * time.Second)
}

func newFilled(t *testing.T) (*Metrics, *clock) {
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	m := New(c.now)
	fill(m, c)
	return m, c
}

// TestJSONShape: Marathon's /metrics document, with the figures recorded.
func TestJSONShape(t *testing.T) {
	m, _ := newFilled(t)
	w := httptest.NewRecorder()
	m.JSONHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "gauges", "counters", "histograms", "meters", "timers"} {
		if _, ok := top[k]; !ok {
			t.Errorf("no %q in the document", k)
		}
	}
	doc := m.Document()
	checks := map[string][2]float64{
		"gauge stride.leader":                                {doc.Gauges["stride.leader"].Value, 1},
		"gauge stride.apps":                                  {doc.Gauges["stride.apps"].Value, 3},
		"gauge stride.deployments.running":                   {doc.Gauges["stride.deployments.running"].Value, 1},
		"gauge stride.tasks{state=TASK_RUNNING}":             {doc.Gauges["stride.tasks{state=TASK_RUNNING}"].Value, 7},
		"gauge stride.tasks{state=TASK_KILLING}":             {doc.Gauges["stride.tasks{state=TASK_KILLING}"].Value, 0},
		"gauge stride.tasks{state=TASK_WEIRD}":               {doc.Gauges["stride.tasks{state=TASK_WEIRD}"].Value, 1},
		"gauge stride.event.subscribers":                     {doc.Gauges["stride.event.subscribers"].Value, 2},
		"gauge stride.event.streams":                         {doc.Gauges["stride.event.streams"].Value, 1},
		"gauge stride.uptime.seconds":                        {doc.Gauges["stride.uptime.seconds"].Value, 10},
		"counter deployments succeeded":                      {float64(doc.Counters["stride.deployments.finished{outcome=succeeded}"].Count), 2},
		"counter health HTTP failed":                         {float64(doc.Counters["stride.health.checks{protocol=HTTP,result=failed}"].Count), 1},
		"counter callbacks failed":                           {float64(doc.Counters["stride.event.callbacks{result=failed}"].Count), 1},
		"counter dropped backlog":                            {float64(doc.Counters["stride.events.dropped{consumer=callback,reason=backlog_full}"].Count), 5},
		"counter dropped undeliverable":                      {float64(doc.Counters["stride.events.dropped{consumer=callback,reason=undeliverable}"].Count), 1},
		"counter api 422":                                    {float64(doc.Counters["stride.api.responses{code=422,route=/v2/eventSubscriptions}"].Count), 1},
		"meter offers processed":                             {float64(doc.Meters["stride.offers.processed"].Count), 10},
		"meter offers mean rate":                             {doc.Meters["stride.offers.processed"].MeanRate, 1},
		"timer launch count":                                 {float64(doc.Timers["stride.task.launch.seconds"].Count), 4},
		"timer launch min":                                   {doc.Timers["stride.task.launch.seconds"].Min, 0.8},
		"timer launch max":                                   {doc.Timers["stride.task.launch.seconds"].Max, 9},
		"timer launch mean":                                  {doc.Timers["stride.task.launch.seconds"].Mean, 3.25},
		"timer api count":                                    {float64(doc.Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps}"].Count), 100},
		"timer api max":                                      {doc.Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps}"].Max, 0.01},
		"timer api min":                                      {doc.Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps}"].Min, 0.0001},
		"timer api p50 (bucket 0.0025..0.005, interpolated)": {doc.Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps}"].P50, 0.005},
	}
	for name, c := range checks {
		if math.Abs(c[0]-c[1]) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if _, ok := doc.Counters["stride.events.dropped{consumer=stream,reason=slow_consumer}"]; ok {
		t.Error("counting 0 dropped events made a series")
	}
	api := doc.Timers["stride.api.request.duration.seconds{method=GET,route=/v2/apps}"]
	if api.DurationUnits != "seconds" || api.RateUnits != "calls/second" || api.Stddev <= 0 ||
		!(api.Min <= api.P50 && api.P50 <= api.P75 && api.P75 <= api.P95 && api.P95 <= api.P99 && api.P99 <= api.P999 && api.P999 <= api.Max) {
		t.Errorf("api timer %+v", api)
	}
	if doc.Version != JSONVersion || len(doc.Histograms) == 0 {
		t.Errorf("version %q, %d histograms (Go's GC summary expected)", doc.Version, len(doc.Histograms))
	}
}

// TestRates: Dropwizard's moving rates, ticked every 5 s as time goes on.
func TestRates(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	r := newRates(c.now)
	// 10 events a second for a minute: all rates converge on 10/s from the
	// first tick (primed with the first interval's rate).
	for s := 0; s < 60; s++ {
		r.mark(10)
		c.advance(time.Second)
	}
	n, m1, m5, m15, mean := r.snapshot()
	if n != 600 || math.Abs(m1-10) > 1e-9 || math.Abs(m5-10) > 1e-9 || math.Abs(m15-10) > 1e-9 || math.Abs(mean-10) > 1e-9 {
		t.Fatalf("after a minute at 10/s: count %d m1 %v m5 %v m15 %v mean %v", n, m1, m5, m15, mean)
	}
	// Idle for 5 minutes: the 1-minute rate decays by e^-5, the others less.
	c.advance(5 * time.Minute)
	_, m1, m5, m15, _ = r.snapshot()
	if math.Abs(m1-10*math.Exp(-5)) > 1e-6 || math.Abs(m5-10*math.Exp(-1)) > 1e-6 || !(m15 > m5 && m5 > m1) {
		t.Fatalf("after 5 idle minutes: m1 %v (want %v) m5 %v (want %v) m15 %v", m1, 10*math.Exp(-5), m5, 10*math.Exp(-1), m15)
	}
	// Idle for a year: no work in proportion to the time, the rates are ~0.
	c.advance(365 * 24 * time.Hour)
	_, m1, _, m15, _ = r.snapshot()
	if m1 > 1e-12 || m15 > 1e-12 {
		t.Fatalf("after a year: m1 %v m15 %v", m1, m15)
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.SetState(func() State { return State{} })
	m.DeploymentFinished("x")
	m.OffersProcessed(1)
	m.OffersDeclined(1)
	m.HealthCheck("HTTP", true)
	m.TaskLaunched(time.Second)
	m.APIRequest("GET", "/", 200, time.Second)
	m.EventPublished("x")
	m.StreamOpened()
	m.StreamClosed()
	m.EventsDropped("a", "b", 1)
	m.CallbackDelivered()
	m.CallbackFailed()
}

func TestCodeText(t *testing.T) {
	for code, want := range map[int]string{200: "200", 418: "418", 599: "599", 99: "other", 600: "other", 301: "301"} {
		if got := codeText(code); got != want {
			t.Errorf("codeText(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestGolden compares Stride's own families, in both formats, with golden
// files (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	m, _ := newFilled(t)
	w := httptest.NewRecorder()
	m.PrometheusHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics/prometheus", nil))
	var prom bytes.Buffer
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "stride_") && !strings.Contains(line, "stride_uptime_seconds ") {
			prom.WriteString(line + "\n")
		}
	}
	golden(t, "prometheus.golden", prom.Bytes())

	doc := m.Document()
	strideOnly := func(in map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range in {
			if strings.HasPrefix(k, "stride.") && k != "stride.uptime.seconds" {
				out[k] = v
			}
		}
		return out
	}
	asMap := func(v any) map[string]any {
		raw, _ := json.Marshal(v)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	j := map[string]any{
		"gauges": strideOnly(asMap(doc.Gauges)), "counters": strideOnly(asMap(doc.Counters)),
		"meters": strideOnly(asMap(doc.Meters)), "timers": strideOnly(asMap(doc.Timers)),
	}
	raw, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "metrics.json.golden", append(raw, '\n'))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		var diff []string
		for i := 0; i < max(len(gl), len(wl)); i++ {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				diff = append(diff, "-"+w, "+"+g)
			}
		}
		t.Fatalf("%s differs (run with -update if intended):\n%s", name, strings.Join(diff[:min(len(diff), 20)], "\n"))
	}
}
