package metrics

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// JSONVersion is the "version" of the JSON document (Dropwizard's metrics-json,
// as Marathon reports it).
const JSONVersion = "4.0.0"

// Document is Marathon's /metrics JSON (Dropwizard's shape).
type Document struct {
	Version    string               `json:"version"`
	Gauges     map[string]Gauge     `json:"gauges"`
	Counters   map[string]Counter   `json:"counters"`
	Histograms map[string]Histogram `json:"histograms"`
	Meters     map[string]MeterJSON `json:"meters"`
	Timers     map[string]Timer     `json:"timers"`
}

// Gauge is a value.
type Gauge struct {
	Value float64 `json:"value"`
}

// Counter is a count.
type Counter struct {
	Count int64 `json:"count"`
}

// Histogram is a distribution (Prometheus summaries; histograms that are not
// timers).
type Histogram struct {
	Count  int64   `json:"count"`
	Min    float64 `json:"min"`
	Mean   float64 `json:"mean"`
	Max    float64 `json:"max"`
	P50    float64 `json:"p50"`
	P75    float64 `json:"p75"`
	P95    float64 `json:"p95"`
	P98    float64 `json:"p98"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Stddev float64 `json:"stddev"`
}

// MeterJSON is a count with its rates per second.
type MeterJSON struct {
	Count    int64   `json:"count"`
	M1Rate   float64 `json:"m1_rate"`
	M5Rate   float64 `json:"m5_rate"`
	M15Rate  float64 `json:"m15_rate"`
	MeanRate float64 `json:"mean_rate"`
	Units    string  `json:"units"`
}

// Timer is a latency distribution with rates. Percentiles are estimated from
// the Prometheus histogram's buckets (linear within a bucket, as Prometheus'
// histogram_quantile does) and kept within the exact minimum and maximum.
type Timer struct {
	Histogram
	M1Rate        float64 `json:"m1_rate"`
	M5Rate        float64 `json:"m5_rate"`
	M15Rate       float64 `json:"m15_rate"`
	MeanRate      float64 `json:"mean_rate"`
	DurationUnits string  `json:"duration_units"`
	RateUnits     string  `json:"rate_units"`
}

// PrometheusHandler serves the metrics in Prometheus' text format.
func (m *Metrics) PrometheusHandler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// JSONHandler serves the metrics as Marathon's /metrics JSON.
func (m *Metrics) JSONHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := m.Document()
		body, err := json.Marshal(doc)
		if err != nil {
			http.Error(w, `{"message":"encode metrics"}`, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(append(body, '\n'))
	})
}

// Document gathers the metrics into the JSON document.
func (m *Metrics) Document() *Document {
	doc := &Document{Version: JSONVersion, Gauges: map[string]Gauge{}, Counters: map[string]Counter{},
		Histograms: map[string]Histogram{}, Meters: map[string]MeterJSON{}, Timers: map[string]Timer{}}
	fams, _ := m.reg.Gather() // a failing collector leaves its family out
	for _, f := range fams {
		name := f.GetName()
		base := jsonName(name)
		for _, mt := range f.GetMetric() {
			key := base + labelText(mt.GetLabel())
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				n := int64(mt.GetCounter().GetValue())
				if meter := m.meters[name]; meter != nil {
					_, m1, m5, m15, mean := meter.rates.snapshot()
					doc.Meters[key] = MeterJSON{Count: n, M1Rate: m1, M5Rate: m5, M15Rate: m15, MeanRate: mean, Units: "events/second"}
				} else {
					doc.Counters[key] = Counter{Count: n}
				}
			case dto.MetricType_GAUGE:
				doc.Gauges[key] = Gauge{Value: finite(mt.GetGauge().GetValue())}
			case dto.MetricType_UNTYPED:
				doc.Gauges[key] = Gauge{Value: finite(mt.GetUntyped().GetValue())}
			case dto.MetricType_SUMMARY:
				doc.Histograms[key] = summaryJSON(mt.GetSummary())
			case dto.MetricType_HISTOGRAM:
				h := mt.GetHistogram()
				if tv := m.timers[name]; tv != nil {
					doc.Timers[key] = tv.timerJSON(h, labelValues(mt.GetLabel()))
				} else {
					doc.Histograms[key] = histogramJSON(h, 0, 0, false)
				}
			}
		}
	}
	return doc
}

// jsonName turns a Prometheus name into a dotted one without "_total".
func jsonName(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, "_total"), "_", ".")
}

// labelText renders labels as "{k=v,k=v}" (sorted by name, as Gather gives
// them); "" without labels.
func labelText(ls []*dto.LabelPair) string {
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.GetName())
		b.WriteByte('=')
		b.WriteString(l.GetValue())
	}
	b.WriteByte('}')
	return b.String()
}

// labelValues returns the labels by name (Gather sorts them by name; a
// TimerVec keys its series in the order it declared them).
func labelValues(ls []*dto.LabelPair) map[string]string {
	out := make(map[string]string, len(ls))
	for _, l := range ls {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func (t *TimerVec) timerJSON(h *dto.Histogram, labels map[string]string) Timer {
	vals := make([]string, len(t.labels))
	for i, l := range t.labels {
		vals[i] = labels[l]
	}
	key := seriesKey(vals)
	t.mu.Lock()
	st := t.series[key]
	t.mu.Unlock()
	out := Timer{DurationUnits: "seconds", RateUnits: "calls/second"}
	if st == nil {
		out.Histogram = histogramJSON(h, 0, 0, false)
		return out
	}
	st.mu.Lock()
	lo, hi, n, sum, sq := st.min, st.max, st.count, st.sum, st.sumSquare
	st.mu.Unlock()
	out.Histogram = histogramJSON(h, lo, hi, n > 0)
	if n > 1 {
		mean := sum / float64(n)
		out.Stddev = math.Sqrt(math.Max(0, (sq-float64(n)*mean*mean)/float64(n-1)))
	}
	_, out.M1Rate, out.M5Rate, out.M15Rate, out.MeanRate = st.rates.snapshot()
	return out
}

// histogramJSON summarises a Prometheus histogram; with exact bounds (known),
// the minimum and maximum are those and percentiles are kept within them.
func histogramJSON(h *dto.Histogram, lo, hi float64, known bool) Histogram {
	n := h.GetSampleCount()
	out := Histogram{Count: int64(n)}
	if n == 0 {
		return out
	}
	out.Mean = h.GetSampleSum() / float64(n)
	bs := h.GetBucket()
	if !known {
		// Without exact bounds: the edges of the first and last used buckets.
		lo, hi = math.NaN(), math.NaN()
		prev := 0.0
		var seen uint64
		for _, b := range bs {
			if b.GetCumulativeCount() > seen {
				if math.IsNaN(lo) {
					lo = prev
				}
				hi = b.GetUpperBound()
				seen = b.GetCumulativeCount()
			}
			prev = b.GetUpperBound()
		}
		if math.IsNaN(lo) {
			lo, hi = out.Mean, out.Mean
		}
		if seen < n {
			hi = math.Max(hi, prev)
		}
	}
	out.Min, out.Max = lo, hi
	q := func(p float64) float64 { return quantile(p, n, bs, lo, hi) }
	out.P50, out.P75, out.P95, out.P98, out.P99, out.P999 = q(0.5), q(0.75), q(0.95), q(0.98), q(0.99), q(0.999)
	return out
}

// quantile estimates the p-quantile of a histogram of n samples by linear
// interpolation within the bucket that holds it, clamped to [lo, hi].
func quantile(p float64, n uint64, bs []*dto.Bucket, lo, hi float64) float64 {
	rank := p * float64(n)
	prevBound, prevCount := 0.0, 0.0
	for _, b := range bs {
		c := float64(b.GetCumulativeCount())
		if c >= rank && c > prevCount {
			v := prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount)
			return math.Min(math.Max(v, lo), hi)
		}
		prevBound, prevCount = b.GetUpperBound(), c
	}
	// In the +Inf bucket: the maximum is the best estimate.
	return hi
}

// summaryJSON renders a Prometheus summary (Go's GC pauses) as a histogram.
func summaryJSON(s *dto.Summary) Histogram {
	out := Histogram{Count: int64(s.GetSampleCount())}
	if out.Count > 0 {
		out.Mean = s.GetSampleSum() / float64(out.Count)
	}
	qs := s.GetQuantile()
	sort.Slice(qs, func(i, j int) bool { return qs[i].GetQuantile() < qs[j].GetQuantile() })
	for _, q := range qs {
		v := finite(q.GetValue())
		switch q.GetQuantile() {
		case 0:
			out.Min = v
		case 0.5:
			out.P50 = v
		case 0.75:
			out.P75 = v
		case 1:
			out.Max = v
		}
	}
	if len(qs) > 0 {
		last := finite(qs[len(qs)-1].GetValue())
		for _, p := range []*float64{&out.P95, &out.P98, &out.P99, &out.P999} {
			if *p == 0 {
				*p = last
			}
		}
		if out.Max == 0 {
			out.Max = last
		}
	}
	return out
}

// finite maps NaN and infinities (which JSON cannot hold) to 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
