// Package metrics is Stride's instrumentation: Prometheus collectors, served in
// Prometheus' text format at /metrics/prometheus, and the same figures in
// Marathon's Dropwizard-style JSON at /metrics.
//
// One Metrics lives as long as the server process; the executors of successive
// leader terms, the API, the event stream and the callbacks all count into it.
// Figures about the state (tasks by state, running deployments, subscribers) are
// read from the current term when a scrape asks (SetState), so they are never
// stale and cost nothing between scrapes.
//
// Names (Prometheus):
//
//	stride_deployments_running                          gauge
//	stride_deployments_finished_total{outcome}          counter: succeeded, failed, cancelled
//	stride_apps                                         gauge
//	stride_tasks{state}                                 gauge: TASK_STAGING, TASK_RUNNING, ...
//	stride_leader                                       gauge: 1 while this server leads
//	stride_offers_processed_total                       counter (a meter in JSON)
//	stride_offers_declined_total                        counter (a meter in JSON)
//	stride_health_checks_total{protocol,result}         counter: result passed / failed
//	stride_task_launch_seconds                          histogram (a timer in JSON): offer accepted → TASK_RUNNING
//	stride_api_request_duration_seconds{method,route}   histogram (a timer in JSON); route is a template
//	stride_api_responses_total{route,code}              counter
//	stride_events_published_total{type}                counter
//	stride_event_subscribers                            gauge: callback subscriptions
//	stride_event_streams                                gauge: open /v2/events streams
//	stride_event_callbacks_total{result}                counter: delivered / failed
//	stride_events_dropped_total{consumer,reason}        counter: events a subscriber did not get
//	stride_uptime_seconds                               gauge
//
// plus Go's runtime and process collectors. In the JSON, a name's underscores
// become dots, a trailing "_total" is dropped, and labels follow in braces:
// "stride.api.request.duration.seconds{method=GET,route=/v2/apps}".
//
// Every method of *Metrics may be called on nil, which counts nothing: the
// executor and the API work without metrics (tests).
package metrics

import (
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// State is what a scrape reads of the current leader term.
type State struct {
	// Leader: this server leads now (the other fields are zero otherwise).
	Leader             bool
	Apps               int
	DeploymentsRunning int
	// Tasks counts the live tasks by Mesos state.
	Tasks map[string]int
	// Subscribers counts the callback subscriptions.
	Subscribers int
}

// taskStates are always reported, 0 when no task is in them, so that series do
// not appear and vanish.
var taskStates = []string{"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE", "TASK_UNKNOWN"}

// Metrics holds Stride's collectors. Create it with New.
type Metrics struct {
	reg   *prometheus.Registry
	start time.Time
	now   func() time.Time

	deploymentsFinished *prometheus.CounterVec
	offersProcessed     *Meter
	offersDeclined      *Meter
	healthChecks        *prometheus.CounterVec
	launch              *TimerVec
	api                 *TimerVec
	apiResponses        *prometheus.CounterVec
	eventsPublished     *prometheus.CounterVec
	streams             prometheus.Gauge
	callbacks           *prometheus.CounterVec
	dropped             *prometheus.CounterVec

	state atomic.Pointer[func() State]

	// meters and timers by family name, for the JSON.
	meters map[string]*Meter
	timers map[string]*TimerVec
}

// Buckets of the latency histograms, in seconds.
var (
	apiBuckets    = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	launchBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
)

// New returns the metrics of a server process, with now as the clock (time.Now
// when nil).
func New(now func() time.Time) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: now, start: now(), meters: map[string]*Meter{}, timers: map[string]*TimerVec{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.deploymentsFinished = m.counterVec("stride_deployments_finished_total", "Deployments finished, by outcome (succeeded, failed, cancelled).", "outcome")
	m.offersProcessed = m.meter("stride_offers_processed_total", "Mesos offers the executor considered.")
	m.offersDeclined = m.meter("stride_offers_declined_total", "Mesos offers the executor declined (nothing to place on them).")
	m.healthChecks = m.counterVec("stride_health_checks_total", "Health check results (Stride's probes by protocol, and Mesos' reports as MESOS), by result (passed, failed).", "protocol", "result")
	m.launch = m.timerVec("stride_task_launch_seconds", "Time from a task's launch on an offer to TASK_RUNNING.", launchBuckets)
	m.api = m.timerVec("stride_api_request_duration_seconds", "API request latency by method and route template (the event stream is not timed).", apiBuckets, "method", "route")
	m.apiResponses = m.counterVec("stride_api_responses_total", "API responses by route template and status code.", "route", "code")
	m.eventsPublished = m.counterVec("stride_events_published_total", "Events published on the event bus, by type.", "type")
	m.callbacks = m.counterVec("stride_event_callbacks_total", "Event deliveries to callback subscribers, by result (delivered; failed: given up after the retries).", "result")
	m.dropped = m.counterVec("stride_events_dropped_total", "Events a subscriber did not get, by consumer (callback, stream) and reason (backlog_full, undeliverable, slow_consumer).", "consumer", "reason")
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{Name: "stride_event_streams", Help: "Open /v2/events streams on this server."})
	m.reg.MustRegister(m.streams)
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "stride_uptime_seconds", Help: "Seconds since this server started."},
		func() float64 { return m.now().Sub(m.start).Seconds() }))
	m.reg.MustRegister(stateCollector{m})
	return m
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(c)
	return c
}

func (m *Metrics) meter(name, help string) *Meter {
	mt := &Meter{c: prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}), rates: newRates(m.now)}
	m.reg.MustRegister(mt.c)
	m.meters[name] = mt
	return mt
}

func (m *Metrics) timerVec(name, help string, buckets []float64, labels ...string) *TimerVec {
	t := &TimerVec{h: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels), labels: labels, now: m.now, series: map[string]*timerStats{}}
	m.reg.MustRegister(t.h)
	m.timers[name] = t
	return t
}

// Registry returns the Prometheus registry (to add collectors, or gather).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetState sets the function a scrape calls to read the current leader term
// (nil: no term).
func (m *Metrics) SetState(fn func() State) {
	if m == nil {
		return
	}
	if fn == nil {
		m.state.Store(nil)
		return
	}
	m.state.Store(&fn)
}

// DeploymentFinished counts a deployment that ended with outcome (succeeded,
// failed, cancelled).
func (m *Metrics) DeploymentFinished(outcome string) {
	if m == nil {
		return
	}
	m.deploymentsFinished.WithLabelValues(outcome).Inc()
}

// OffersProcessed counts offers the executor considered.
func (m *Metrics) OffersProcessed(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.offersProcessed.Mark(n)
}

// OffersDeclined counts offers declined.
func (m *Metrics) OffersDeclined(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.offersDeclined.Mark(n)
}

// HealthCheck counts one health check result.
func (m *Metrics) HealthCheck(protocol string, passed bool) {
	if m == nil {
		return
	}
	result := "failed"
	if passed {
		result = "passed"
	}
	m.healthChecks.WithLabelValues(protocol, result).Inc()
}

// TaskLaunched records how long a task took from its launch to TASK_RUNNING.
func (m *Metrics) TaskLaunched(d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.launch.Observe(d)
}

// APIRequest records one API request: its method, route template (see
// api.Route), status code and duration.
func (m *Metrics) APIRequest(method, route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.api.Observe(d, method, route)
	m.apiResponses.WithLabelValues(route, codeText(code)).Inc()
}

// codeText renders common status codes without allocating.
func codeText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 202:
		return "202"
	case 204:
		return "204"
	case 400:
		return "400"
	case 401:
		return "401"
	case 403:
		return "403"
	case 404:
		return "404"
	case 405:
		return "405"
	case 409:
		return "409"
	case 413:
		return "413"
	case 422:
		return "422"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	if code < 100 || code > 599 {
		return "other"
	}
	return string([]byte{byte('0' + code/100), byte('0' + code/10%10), byte('0' + code%10)})
}

// EventPublished counts an event published on the bus.
func (m *Metrics) EventPublished(eventType string) {
	if m == nil {
		return
	}
	m.eventsPublished.WithLabelValues(eventType).Inc()
}

// StreamOpened and StreamClosed count the open event streams.
func (m *Metrics) StreamOpened() {
	if m != nil {
		m.streams.Inc()
	}
}

// StreamClosed: see StreamOpened.
func (m *Metrics) StreamClosed() {
	if m != nil {
		m.streams.Dec()
	}
}

// Consumers and reasons of dropped events.
const (
	ConsumerCallback = "callback"
	ConsumerStream   = "stream"

	// DropBacklogFull: a callback subscriber's backlog was full; the oldest
	// events went.
	DropBacklogFull = "backlog_full"
	// DropUndeliverable: a callback delivery failed after every retry.
	DropUndeliverable = "undeliverable"
	// DropSlowConsumer: an event stream fell behind the bus's history.
	DropSlowConsumer = "slow_consumer"
)

// EventsDropped counts n events a consumer did not get, and why.
func (m *Metrics) EventsDropped(consumer, reason string, n uint64) {
	if m == nil || n == 0 {
		return
	}
	m.dropped.WithLabelValues(consumer, reason).Add(float64(n))
}

// CallbackDelivered counts an event delivered to a callback subscriber.
func (m *Metrics) CallbackDelivered() {
	if m != nil {
		m.callbacks.WithLabelValues("delivered").Inc()
	}
}

// CallbackFailed counts an event given up on after every retry (also counted
// as dropped, undeliverable).
func (m *Metrics) CallbackFailed() {
	if m != nil {
		m.callbacks.WithLabelValues("failed").Inc()
		m.dropped.WithLabelValues(ConsumerCallback, DropUndeliverable).Inc()
	}
}

// stateCollector reads the current term's State at scrape time.
type stateCollector struct{ m *Metrics }

var (
	descLeader      = prometheus.NewDesc("stride_leader", "1 while this server leads, else 0.", nil, nil)
	descApps        = prometheus.NewDesc("stride_apps", "Apps deployed.", nil, nil)
	descDeployments = prometheus.NewDesc("stride_deployments_running", "Deployments running.", nil, nil)
	descTasks       = prometheus.NewDesc("stride_tasks", "Live tasks by Mesos state.", []string{"state"}, nil)
	descSubscribers = prometheus.NewDesc("stride_event_subscribers", "Callback subscriptions (POST /v2/eventSubscriptions).", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descApps, descDeployments, descTasks, descSubscribers} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	var st State
	if fn := c.m.state.Load(); fn != nil {
		st = (*fn)()
	}
	leader := 0.0
	if st.Leader {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, leader)
	ch <- prometheus.MustNewConstMetric(descApps, prometheus.GaugeValue, float64(st.Apps))
	ch <- prometheus.MustNewConstMetric(descDeployments, prometheus.GaugeValue, float64(st.DeploymentsRunning))
	ch <- prometheus.MustNewConstMetric(descSubscribers, prometheus.GaugeValue, float64(st.Subscribers))
	for _, s := range taskStates {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(st.Tasks[s]), s)
	}
	for s, n := range st.Tasks {
		if !isKnownState(s) {
			ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n), s)
		}
	}
}

func isKnownState(s string) bool {
	for _, k := range taskStates {
		if k == s {
			return true
		}
	}
	return false
}

// Meter is a counter that also keeps Dropwizard's moving rates (1, 5 and 15
// minutes, exponentially weighted) for the JSON.
type Meter struct {
	c     prometheus.Counter
	rates *rates
}

// Mark counts n events.
func (mt *Meter) Mark(n int) {
	mt.c.Add(float64(n))
	mt.rates.mark(int64(n))
}

// TimerVec is a latency histogram by labels that also keeps, per series, what
// Dropwizard's timers show and Prometheus histograms lack: exact minimum,
// maximum and standard deviation, and moving rates.
type TimerVec struct {
	h      *prometheus.HistogramVec
	labels []string
	now    func() time.Time

	mu     sync.Mutex
	series map[string]*timerStats
}

// timerStats is one series' extra figures.
type timerStats struct {
	mu                       sync.Mutex
	count                    int64
	min, max, sum, sumSquare float64
	rates                    *rates
}

// Observe records one duration for the series of the label values.
func (t *TimerVec) Observe(d time.Duration, labels ...string) {
	s := d.Seconds()
	t.h.WithLabelValues(labels...).Observe(s)
	st := t.stats(labels)
	st.mu.Lock()
	if st.count == 0 || s < st.min {
		st.min = s
	}
	if st.count == 0 || s > st.max {
		st.max = s
	}
	st.count++
	st.sum += s
	st.sumSquare += s * s
	st.mu.Unlock()
	st.rates.mark(1)
}

func (t *TimerVec) stats(labels []string) *timerStats {
	key := seriesKey(labels)
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.series[key]
	if st == nil {
		st = &timerStats{rates: newRates(t.now)}
		t.series[key] = st
	}
	return st
}

func seriesKey(labels []string) string {
	switch len(labels) {
	case 0:
		return ""
	case 1:
		return labels[0]
	}
	return strings.Join(labels, "\xff")
}

// rates are Dropwizard's exponentially weighted moving averages of an event
// rate over 1, 5 and 15 minutes, ticked every 5 s as events arrive or rates are
// read (no goroutine).
type rates struct {
	now func() time.Time

	mu        sync.Mutex
	start     time.Time
	lastTick  time.Time
	uncounted int64
	count     int64
	m1, m5    ewma
	m15       ewma
}

const tickInterval = 5 * time.Second

func newRates(now func() time.Time) *rates {
	t := now()
	return &rates{now: now, start: t, lastTick: t,
		m1: ewma{alpha: alpha(1)}, m5: ewma{alpha: alpha(5)}, m15: ewma{alpha: alpha(15)}}
}

// alpha is Dropwizard's decay of a rate over minutes m ticked every 5 s.
func alpha(minutes float64) float64 {
	return 1 - math.Exp(-tickInterval.Seconds()/60/minutes)
}

func (r *rates) mark(n int64) {
	r.mu.Lock()
	r.tickIfNeeded()
	r.uncounted += n
	r.count += n
	r.mu.Unlock()
}

// tickIfNeeded applies the ticks due since the last one: the first carries the
// events counted since, the others none (an idle period decays the rates).
func (r *rates) tickIfNeeded() {
	now := r.now()
	elapsed := now.Sub(r.lastTick)
	if elapsed < tickInterval {
		return
	}
	ticks := int64(elapsed / tickInterval)
	r.lastTick = r.lastTick.Add(time.Duration(ticks) * tickInterval)
	instant := float64(r.uncounted) / tickInterval.Seconds()
	r.uncounted = 0
	for _, e := range []*ewma{&r.m1, &r.m5, &r.m15} {
		e.tick(instant)
		e.decay(ticks - 1)
	}
}

// snapshot returns the count and the rates per second.
func (r *rates) snapshot() (count int64, m1, m5, m15, mean float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tickIfNeeded()
	if el := r.now().Sub(r.start).Seconds(); el > 0 {
		mean = float64(r.count) / el
	}
	return r.count, r.m1.rate, r.m5.rate, r.m15.rate, mean
}

type ewma struct {
	alpha  float64
	rate   float64
	primed bool
}

func (e *ewma) tick(instant float64) {
	if !e.primed {
		e.rate, e.primed = instant, true
		return
	}
	e.rate += e.alpha * (instant - e.rate)
}

// decay applies n ticks without events at once.
func (e *ewma) decay(n int64) {
	if n <= 0 || !e.primed {
		return
	}
	e.rate *= math.Pow(1-e.alpha, float64(n))
}
