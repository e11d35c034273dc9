package ingest

import "github.com/prometheus/client_golang/prometheus"

// metrics are the door's Prometheus metrics.
type metrics struct {
	lines    *prometheus.CounterVec
	rejected *prometheus.CounterVec
}

// newMetrics creates the metrics and registers them with reg (nil: not registered).
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_ingest_lines_total",
			Help: "Ingested lines by result (accepted, duplicate, rejected)."}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_ingest_rejected_total",
			Help: "Rejected lines by the field named in the error and the rejection's code."}, []string{"field", "code"}),
	}
	for _, r := range []string{"accepted", "duplicate", "rejected"} {
		m.lines.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.lines, m.rejected)
	}
	return m
}

func (m *metrics) observe(r *Reply) {
	m.lines.WithLabelValues("accepted").Add(float64(r.Accepted))
	m.lines.WithLabelValues("duplicate").Add(float64(r.Duplicates))
	m.lines.WithLabelValues("rejected").Add(float64(len(r.Rejected)))
	for _, rej := range r.Rejected {
		f := rej.Field
		if f == "" {
			f = "other"
		}
		m.rejected.WithLabelValues(f, rej.Code).Inc()
	}
}
