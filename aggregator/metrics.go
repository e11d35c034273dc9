package aggregator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the aggregator's Prometheus metrics.
type Metrics struct{ m *metrics }

type metrics struct {
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
	if reg != nil {
		reg.MustRegister(m.applied, m.stored, m.storeErrors, m.storeWrite, m.corrupt, m.pending, m.cases)
	}
	return &Metrics{m: m}
}
