package dashboard

import (
	"github.com/prometheus/client_golang/prometheus"

	"zhili/clock"
)

// RegisterMetrics registers the read model's and the hub's metrics with reg.
func RegisterMetrics(reg prometheus.Registerer, m *Model, h *Hub, clk clock.Clock) {
	reg.MustRegister(hubCollector{h})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_live_updates_applied_total",
		Help: "Updates from the aggregators applied to this server's read model."},
		func() float64 { u, _, _ := m.Stats(); return float64(u) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "zhili_live_source_gaps_total",
		Help: "Updates not applied because their source's sequence had a gap (each asks for a resync)."},
		func() float64 {
			var n uint64
			for _, s := range m.Sources() {
				n += s.Gaps
			}
			return float64(n)
		}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "zhili_live_last_update_age_seconds",
		Help: "Seconds since the read model last received an update (-1: never)."},
		func() float64 {
			_, _, last := m.Stats()
			if last.IsZero() {
				return -1
			}
			return clk.Now().Sub(last).Seconds()
		}))
}

// hubCollector exports the hub's counters on every scrape.
type hubCollector struct{ h *Hub }

var (
	hubClientsDesc  = prometheus.NewDesc("zhili_ws_clients", "Connected WebSocket clients.", nil, nil)
	hubTopicsDesc   = prometheus.NewDesc("zhili_ws_topics", "Open live topics.", nil, nil)
	hubMessagesDesc = prometheus.NewDesc("zhili_ws_messages_total", "Messages written to clients.", nil, nil)
	hubFramesDesc   = prometheus.NewDesc("zhili_ws_frames_total", "WebSocket frames written.", nil, nil)
	hubBytesDesc    = prometheus.NewDesc("zhili_ws_bytes_total", "Bytes written to WebSocket clients.", nil, nil)
	hubResyncsDesc  = prometheus.NewDesc("zhili_ws_resyncs_total", "Slow clients resynced with snapshots.", nil, nil)
	hubAdvanceDesc  = prometheus.NewDesc("zhili_ws_advances_total", "Advances of the open topics (on a change or the tick).", nil, nil)
	hubSlowDesc     = prometheus.NewDesc("zhili_ws_slow_disconnects_total", "Clients closed for resyncing too often.", nil, nil)
	hubWriteErrDesc = prometheus.NewDesc("zhili_ws_write_errors_total", "Clients closed on write errors.", nil, nil)
)

func (c hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{hubClientsDesc, hubTopicsDesc, hubMessagesDesc, hubFramesDesc, hubBytesDesc, hubResyncsDesc, hubAdvanceDesc, hubSlowDesc, hubWriteErrDesc} {
		ch <- d
	}
}

func (c hubCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.h.Stats()
	ch <- prometheus.MustNewConstMetric(hubClientsDesc, prometheus.GaugeValue, float64(s.Clients))
	ch <- prometheus.MustNewConstMetric(hubTopicsDesc, prometheus.GaugeValue, float64(len(s.Topics)))
	ch <- prometheus.MustNewConstMetric(hubMessagesDesc, prometheus.CounterValue, float64(s.Messages))
	ch <- prometheus.MustNewConstMetric(hubFramesDesc, prometheus.CounterValue, float64(s.Frames))
	ch <- prometheus.MustNewConstMetric(hubBytesDesc, prometheus.CounterValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(hubResyncsDesc, prometheus.CounterValue, float64(s.Resyncs))
	ch <- prometheus.MustNewConstMetric(hubAdvanceDesc, prometheus.CounterValue, float64(s.Advances))
	ch <- prometheus.MustNewConstMetric(hubSlowDesc, prometheus.CounterValue, float64(s.SlowDisconnects))
	ch <- prometheus.MustNewConstMetric(hubWriteErrDesc, prometheus.CounterValue, float64(s.WriteErrors))
}
