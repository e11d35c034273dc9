package aggregator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the aggregator's Prometheus metrics.
type Metrics struct{ m *metrics }

type metrics struct {
	lines       *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	applied     prometheus.Counter
	stored      prometheus.Counter
	storeErrors prometheus.Counter
	storeWrite  prometheus.Histogram
	corrupt     prometheus.Counter
	pending     prometheus.Gauge
	cases       prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &metrics{
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_ingest_lines_total",
			Help: "Ingested lines by result (accepted, duplicate, rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_ingest_rejected_total",
			Help: "Rejected lines by the field named in the error."}, []string{"field"}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhili_aggregator_applied_total",
			Help: "Events applied to the live state."}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhili_store_written_total",
			Help: "Records written to the history store."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhili_store_write_errors_total",
			Help: "Failed history store writes (retried)."}),
		storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "zhili_store_write_seconds",
			Help: "History store batch write latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Name: "zhili_intake_undecodable_total",
			Help: "Intake entries that could not be decoded."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zhili_events_pending_case",
			Help: "Events held because their case has not been reported yet."}),
		cases: prometheus.NewGauge(prometheus.GaugeOpts{Name: "zhili_cases_tracked",
			Help: "Cases in the live state."}),
	}
	for _, r := range []string{"accepted", "duplicate", "rejected"} {
		m.lines.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.lines, m.rejected, m.applied, m.stored, m.storeErrors, m.storeWrite, m.corrupt, m.pending, m.cases)
	}
	return &Metrics{m: m}
}

func (m *metrics) observeIngest(r *IngestReply) {
	m.lines.WithLabelValues("accepted").Add(float64(r.Accepted))
	m.lines.WithLabelValues("duplicate").Add(float64(r.Duplicates))
	m.lines.WithLabelValues("rejected").Add(float64(len(r.Rejected)))
	for _, rej := range r.Rejected {
		f := rej.Field
		if f == "" {
			f = "other"
		}
		m.rejected.WithLabelValues(f).Inc()
	}
}
