// The ingest side: paced batches of simulated events posted to the server, and what each
// client is expected to receive of them.

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

func (b *bench) traffic() (frames, byts int64) {
	for _, c := range b.clients {
		frames += c.frames.Load()
		byts += c.bytes.Load()
	}
	return
}

var (
	benchSources    = []string{"hotline12345", "grid", "app", "sensor"}
	benchCategories = []string{"environment", "cityorder", "livelihood", "dispute", "safety"}
	zone            = time.FixedZone("CST", 8*3600)
)

type batch struct {
	from, to int
	body     []byte
	closes   int // case.closed lines after the reports (CloseAfter)
}

// send paces case.reported events at the configured rate until warm-up plus duration have
// passed, calling onMeasure when the measured period starts.
func (b *bench) send(ctx context.Context, onMeasure func()) {
	cfg := b.cfg
	work := make(chan batch, cfg.Senders)
	var wg sync.WaitGroup
	for i := 0; i < cfg.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for bt := range work {
				b.post(ctx, bt)
			}
		}()
	}
	rng := rand.New(rand.NewPCG(uint64(b.base.UnixNano()), 11))
	start := time.Now()
	measureAt := start.Add(cfg.Warmup)
	endAt := measureAt.Add(cfg.Duration)
	tick := time.NewTicker(cfg.BatchEvery)
	defer tick.Stop()
	var closing []reported // cases reported, not yet closed, oldest first (CloseAfter > 0)
	lastLog := start
	issued := 0
	measuring := false
	if cfg.Warmup == 0 {
		b.measureFrom.Store(0)
		measuring = true
		onMeasure()
	}
loop:
	for {
		now := time.Now()
		if !measuring && !now.Before(measureAt) {
			measuring = true
			b.measureFrom.Store(int64(issued))
			onMeasure()
			b.logf("warm-up done; measuring")
		}
		due := int(cfg.Rate*now.Sub(start).Seconds()) - issued
		if !now.Before(endAt) {
			due = int(cfg.Rate*endAt.Sub(start).Seconds()) - issued
		}
		for due > 0 && issued < b.capacity {
			n := min(due, 10000, b.capacity-issued)
			bt := b.build(rng, issued, issued+n, now)
			if cfg.CloseAfter > 0 {
				for i := issued; i < issued+n; i++ {
					closing = append(closing, reported{i, now})
				}
				bt.body, bt.closes = b.closes(bt.body, closing, now)
				closing = closing[bt.closes:]
			}
			select {
			case work <- bt:
			case <-ctx.Done():
				break loop
			}
			issued += n
			due -= n
		}
		if now.Sub(lastLog) >= 5*time.Second {
			lastLog = now
			b.logf("sent %d events, %d deliveries, p99 %.1f ms so far", issued, b.receivedTotal(), b.latency().dist().P99)
		}
		if !now.Before(endAt) {
			break
		}
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
	}
	b.measureTo.Store(int64(issued))
	if !measuring {
		b.measureFrom.Store(int64(issued))
	}
	close(work)
	wg.Wait()
}

// reported is a case the bench reported: its index and when.
type reported struct {
	i  int
	at time.Time
}

// closes appends to body a case.closed event for each case of open (oldest first) reported
// CloseAfter or longer before now, and returns body and how many it closed. Their ids
// ("<prefix>x-<i>") are not the bench's deliveries.
func (b *bench) closes(body []byte, open []reported, now time.Time) ([]byte, int) {
	at := now.In(zone).Format("2006-01-02T15:04:05.000Z07:00")
	k := 0
	for ; k < len(open) && now.Sub(open[k].at) >= b.cfg.CloseAfter; k++ {
		body = fmt.Appendf(body, `{"id":"%sx-%d","type":"case.closed","case_id":"%s-c%d","at":"%s"}`+"\n",
			b.prefix, open[k].i, b.prefix, open[k].i, at)
	}
	return body, k
}

// build writes events [from, to) as NDJSON.
func (b *bench) build(rng *rand.Rand, from, to int, now time.Time) batch {
	var buf bytes.Buffer
	buf.Grow((to - from) * 260)
	at := now.In(zone).Format("2006-01-02T15:04:05.000Z07:00")
	for i := from; i < to; i++ {
		pi := rng.IntN(len(b.points))
		b.pointOf[i] = uint16(pi)
		p := b.points[pi]
		fmt.Fprintf(&buf, `{"id":"%s-%d","type":"case.reported","case_id":"%s-c%d","at":"%s","source":"%s","category":"%s","location":{"lon":%s,"lat":%s,"crs":"wgs84"}}`+"\n",
			b.prefix, i, b.prefix, i, at, benchSources[rng.IntN(len(benchSources))], benchCategories[rng.IntN(len(benchCategories))],
			strconv.FormatFloat(p.lon, 'f', -1, 64), strconv.FormatFloat(p.lat, 'f', -1, 64))
	}
	return batch{from: from, to: to, body: buf.Bytes()}
}

type ingestResponse struct {
	Accepted   int64 `json:"accepted"`
	Duplicates int64 `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"rejected"`
}

func (b *bench) post(ctx context.Context, bt batch) {
	urls := b.cfg.urls()
	u := urls[int(b.posts.Add(1))%len(urls)] + "/api/v1/events"
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, u, bytes.NewReader(bt.body))
	if err != nil {
		panic(err) // the URL was checked
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if b.cfg.Key != "" {
		req.Header.Set("Authorization", "Bearer "+b.cfg.Key)
	}
	t := time.Now()
	stamp := int64(t.Sub(b.base))
	for i := bt.from; i < bt.to; i++ {
		b.sendNs[i].Store(stamp)
		b.status[i] = stSent
	}
	resp, err := b.http.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
	}
	b.ingLat.record(time.Since(t).Microseconds())
	n := int64(bt.to - bt.from)
	fail := func(reason string) {
		for i := bt.from; i < bt.to; i++ {
			b.status[i] = stFailed
		}
		b.ingMu.Lock()
		b.ing.HTTPErrors++
		b.ing.ErrorsBy = inc(b.ing.ErrorsBy, reason)
		b.ingMu.Unlock()
	}
	b.ingMu.Lock()
	b.ing.Requests++
	b.ing.Sent += n
	b.ingMu.Unlock()
	if err != nil {
		fail(shortErr(err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Sprintf("HTTP %d %s", resp.StatusCode, firstLine(body)))
		return
	}
	var r ingestResponse
	if err := json.Unmarshal(body, &r); err != nil {
		fail("unreadable response")
		return
	}
	for i := bt.from; i < bt.to; i++ {
		b.status[i] = stAccepted
	}
	b.ingMu.Lock()
	defer b.ingMu.Unlock()
	// The closes come after the reports: a rejection past the reports' lines is a close's.
	closesRejected := 0
	for _, rj := range r.Rejected {
		reason := rj.Error
		if rj.Line > bt.to-bt.from {
			closesRejected++
			reason = "case.closed: " + reason
		} else if idx, ok := b.index([]byte(rj.ID)); ok && int(idx) >= bt.from && int(idx) < bt.to {
			b.status[idx] = stRejected
		} else if rj.Line >= 1 {
			b.status[bt.from+rj.Line-1] = stRejected
		}
		if len(b.ing.RejectedBy) >= 20 {
			reason = "other"
		}
		b.ing.RejectedBy = inc(b.ing.RejectedBy, reason)
	}
	b.ing.Closes += int64(bt.closes)
	b.ing.Accepted += r.Accepted - int64(bt.closes-closesRejected)
	b.ing.Duplicates += r.Duplicates
	b.ing.Rejected += int64(len(r.Rejected) - closesRejected)
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

// expected returns the deliveries expected over all subscribed clients, and the measured
// events accepted. Valid once sending has stopped.
func (b *bench) expected() (int64, int) {
	from, to := b.measureFrom.Load(), b.measureTo.Load()
	perTopic := make([]int64, len(b.cfg.Topics))
	events := 0
	for i := from; i < to && i < int64(b.capacity); i++ {
		if b.status[i] != stAccepted {
			continue
		}
		events++
		for t, m := range b.topicRg {
			if m != nil && m[b.pointOf[i]] {
				perTopic[t]++
			}
		}
	}
	var n int64
	for _, c := range b.clients {
		if c.conn.Load() == nil {
			continue
		}
		for t := range c.subs {
			if c.subs[t].cases {
				n += perTopic[t]
			}
		}
	}
	return n, events
}
