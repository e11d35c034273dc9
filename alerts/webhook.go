package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"zhili/clock"
	"zhili/errs"
)

// Headers of a generic webhook request.
const (
	HeaderEvent     = "X-Zhili-Event"     // raise | ack | close
	HeaderDelivery  = "X-Zhili-Delivery"  // the delivery id (the same on every attempt and re-send)
	HeaderTimestamp = "X-Zhili-Timestamp" // Unix seconds when the request was signed
	HeaderSignature = "X-Zhili-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
)

// Sign returns the generic webhook's signature header value for a timestamp and a body.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// SignDingTalk returns DingTalk's sign for a millisecond timestamp: base64 HMAC-SHA256 with the
// secret of timestamp + "\n" + secret (not yet URL-encoded).
func SignDingTalk(secret string, timestampMs int64) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "%d\n%s", timestampMs, secret)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Delivery is one change to send to one webhook; a failed one becomes a dead letter.
type Delivery struct {
	ID         string    `json:"id"`
	Webhook    string    `json:"webhook"` // the target's name
	Change     Change    `json:"change"`
	Created    time.Time `json:"created"`
	Attempts   int       `json:"attempts"`              // made so far
	LastError  string    `json:"last_error,omitempty"`  // the last failure (secrets redacted)
	LastStatus int       `json:"last_status,omitempty"` // its HTTP status, 0 for none
	FailedAt   time.Time `json:"failed_at,omitzero"`    // when it became a dead letter
}

// NotifierOptions configure a Notifier; zero fields take the defaults.
type NotifierOptions struct {
	Client    *http.Client   // default http.DefaultClient (each attempt has its own Timeout)
	Clock     clock.Clock    // timestamps and signatures; default clock.Real
	Location  *time.Location // times in the robots' messages; default UTC
	Attempts  int            // per delivery, default 5
	BaseDelay time.Duration  // back-off before the 2nd attempt, doubled each time; default 2 s
	MaxDelay  time.Duration  // back-off cap (Retry-After is honoured up to it); default 5 min
	Timeout   time.Duration  // per attempt; default 10 s
	QueueSize int            // per webhook; default 256 (a full queue dead-letters at once)
	// Sleep waits between attempts (tests pass a recorder); default a timer that ends with ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1): the back-off is d/2 + Jitter()·d/2. Default random.
	Jitter      func() float64
	DeadLetters *DeadLetters         // default in memory only
	Logf        func(string, ...any) // failures; default dropped
	OnDelivered func(Delivery)       // optional: after a successful send
}

// Notifier sends changes to the webhooks that want them. Notify never blocks: each webhook has
// its own bounded queue and worker, so a dead endpoint delays only its own deliveries.
type Notifier struct {
	opt    NotifierOptions
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.RWMutex
	hooks   map[string]Webhook
	order   []string
	qmu     sync.Mutex // guards queues (created under mu's read lock)
	queues  map[string]chan Delivery
	closed  bool
	workers sync.WaitGroup
}

// NewNotifier returns a notifier for the webhooks (a RuleSet's Webhooks).
func NewNotifier(hooks []Webhook, opt NotifierOptions) *Notifier {
	if opt.Client == nil {
		opt.Client = http.DefaultClient
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Attempts <= 0 {
		opt.Attempts = 5
	}
	if opt.BaseDelay <= 0 {
		opt.BaseDelay = 2 * time.Second
	}
	if opt.MaxDelay <= 0 {
		opt.MaxDelay = 5 * time.Minute
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.QueueSize <= 0 {
		opt.QueueSize = 256
	}
	if opt.Sleep == nil {
		opt.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if opt.Jitter == nil {
		opt.Jitter = mrand.Float64
	}
	if opt.DeadLetters == nil {
		opt.DeadLetters, _ = OpenDeadLetters("", nil)
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	n := &Notifier{opt: opt, queues: map[string]chan Delivery{}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.SetWebhooks(hooks)
	return n
}

// SetWebhooks swaps in the targets of a reloaded rules file. Queued deliveries go out with
// their target's new settings; those of a removed target become dead letters.
func (n *Notifier) SetWebhooks(hooks []Webhook) {
	m := make(map[string]Webhook, len(hooks))
	order := make([]string, 0, len(hooks))
	for _, w := range hooks {
		m[w.Name] = w
		order = append(order, w.Name)
	}
	n.mu.Lock()
	n.hooks, n.order = m, order
	n.mu.Unlock()
}

// DeadLetters returns the notifier's dead-letter list.
func (n *Notifier) DeadLetters() *DeadLetters { return n.opt.DeadLetters }

// Notify queues the change for every webhook that wants it (severity, regions, events). It
// never blocks: a full queue turns the delivery into a dead letter at once.
func (n *Notifier) Notify(c Change) {
	n.mu.RLock()
	var full []Delivery
	for _, name := range n.order {
		w := n.hooks[name]
		if !w.wants(c) {
			continue
		}
		d := Delivery{ID: newID(), Webhook: name, Change: c, Created: n.opt.Clock.Now()}
		if n.closed {
			d.LastError = "the notifier was closed"
			full = append(full, d)
			continue
		}
		q := n.queue(name)
		select {
		case q <- d:
		default:
			d.LastError = fmt.Sprintf("queue full (%d waiting)", n.opt.QueueSize)
			full = append(full, d)
		}
	}
	n.mu.RUnlock()
	for _, d := range full {
		n.dead(d)
	}
}

// queue returns the webhook's queue, starting its worker on first use (called under n.mu's
// read lock).
func (n *Notifier) queue(name string) chan Delivery {
	n.qmu.Lock()
	defer n.qmu.Unlock()
	q := n.queues[name]
	if q == nil {
		q = make(chan Delivery, n.opt.QueueSize)
		n.queues[name] = q
		n.workers.Add(1)
		go func() {
			defer n.workers.Done()
			for d := range q {
				n.deliver(n.ctx, d)
			}
		}()
	}
	return q
}

// Close stops taking changes and sends what is queued until ctx ends; then it aborts the rest,
// which become dead letters.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	n.qmu.Lock()
	for _, q := range n.queues {
		close(q)
	}
	n.qmu.Unlock()
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done
	}
	n.cancel()
}

func (n *Notifier) webhook(name string) (Webhook, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	w, ok := n.hooks[name]
	return w, ok
}

// deliver sends d with retries; a final failure becomes a dead letter. It reports success.
func (n *Notifier) deliver(ctx context.Context, d Delivery) bool {
	if err := n.send(ctx, &d); err != nil {
		n.dead(d)
		return false
	}
	return true
}

// send makes up to Attempts attempts, sleeping the back-off between them.
func (n *Notifier) send(ctx context.Context, d *Delivery) error {
	w, ok := n.webhook(d.Webhook)
	if !ok {
		d.LastError = "webhook " + d.Webhook + " is no longer configured"
		return errs.E(errs.NotFound, "webhook", "%s", d.LastError)
	}
	for i := 1; ; i++ {
		if ctx.Err() != nil {
			d.LastError = "not sent: shutting down"
			return errs.E(errs.Unavailable, "shutting_down", "%s", d.LastError)
		}
		d.Attempts++
		status, retry, after, err := n.attempt(ctx, w, d)
		if err == nil {
			d.LastError, d.LastStatus = "", status
			if n.opt.OnDelivered != nil {
				n.opt.OnDelivered(*d)
			}
			return nil
		}
		d.LastError, d.LastStatus = err.Error(), status
		n.opt.Logf("alerts: webhook %s, delivery %s, attempt %d: %v", w.Name, d.ID, d.Attempts, err)
		if !retry || i >= n.opt.Attempts {
			return err
		}
		wait := n.backoff(i)
		if after > wait {
			wait = min(after, n.opt.MaxDelay)
		}
		if err := n.opt.Sleep(ctx, wait); err != nil {
			d.LastError += " (retries aborted: shutting down)"
			return err
		}
	}
}

// backoff is the wait after attempt i (1-based): BaseDelay·2^(i-1) capped at MaxDelay, of
// which the upper half is jittered.
func (n *Notifier) backoff(i int) time.Duration {
	d := n.opt.BaseDelay
	for range i - 1 {
		if d >= n.opt.MaxDelay {
			break
		}
		d *= 2
	}
	d = min(d, n.opt.MaxDelay)
	return d/2 + time.Duration(n.opt.Jitter()*float64(d/2))
}

// Codes of WeCom and DingTalk robots that mean "too many messages, try later".
var robotRetryCodes = map[int]bool{-1: true, 45009: true, 130101: true}

// attempt makes one request. retry tells whether a failure may succeed later; after is the
// server's Retry-After.
func (n *Notifier) attempt(ctx context.Context, w Webhook, d *Delivery) (status int, retry bool, after time.Duration, err error) {
	now := n.opt.Clock.Now()
	body, target, hdr, err := n.render(w, d, now)
	if err != nil {
		return 0, false, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, false, 0, errors.New(redact(err.Error(), w.URL))
	}
	req.Header = hdr
	resp, err := n.opt.Client.Do(req)
	if err != nil {
		return 0, true, 0, errors.New(redact(err.Error(), w.URL))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	status = resp.StatusCode
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return status, true, retryAfter(resp.Header.Get("Retry-After"), now), fmt.Errorf("HTTP %d: %s", status, snippet(rb))
	case status < 200 || status > 299:
		return status, false, 0, fmt.Errorf("HTTP %d (not retried): %s", status, snippet(rb))
	}
	if w.Format == FormatWeCom || w.Format == FormatDingTalk {
		var r struct {
			Errcode *int   `json:"errcode"`
			Errmsg  string `json:"errmsg"`
		}
		if json.Unmarshal(rb, &r) != nil || r.Errcode == nil {
			return status, false, 0, fmt.Errorf("HTTP %d without an errcode: %s", status, snippet(rb))
		}
		if *r.Errcode != 0 {
			return status, robotRetryCodes[*r.Errcode], 0, fmt.Errorf("errcode %d: %s", *r.Errcode, r.Errmsg)
		}
	}
	return status, false, 0, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// redact removes a URL's query (a robot's key or token) from a message.
func redact(msg, raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return msg
	}
	bare := *u
	bare.RawQuery = "…"
	msg = strings.ReplaceAll(msg, raw, bare.String())
	return strings.ReplaceAll(msg, u.RawQuery, "…")
}

// GenericPayload is the body of a generic webhook.
type GenericPayload struct {
	Event    Op        `json:"event"` // raise | ack | close
	Delivery string    `json:"delivery"`
	At       time.Time `json:"at"`
	Who      string    `json:"who,omitempty"`
	Alert    Alert     `json:"alert"`
}

type robotMarkdown struct {
	Msgtype  string `json:"msgtype"`
	Markdown struct {
		Title   string `json:"title,omitempty"`
		Text    string `json:"text,omitempty"`
		Content string `json:"content,omitempty"`
	} `json:"markdown"`
}

// render builds the request: body, URL and headers, signed at now.
func (n *Notifier) render(w Webhook, d *Delivery, now time.Time) ([]byte, string, http.Header, error) {
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	target := w.URL
	var body []byte
	var err error
	switch w.Format {
	case FormatWeCom:
		var m robotMarkdown
		m.Msgtype = "markdown"
		m.Markdown.Content = truncateBytes(n.markdown(d.Change, true), 4000)
		body, err = json.Marshal(m)
	case FormatDingTalk:
		var m robotMarkdown
		m.Msgtype = "markdown"
		m.Markdown.Title = d.Change.Alert.Title
		m.Markdown.Text = truncateBytes(n.markdown(d.Change, false), 4000)
		body, err = json.Marshal(m)
		if err == nil && w.Secret != "" {
			ts := now.UnixMilli()
			target += "&timestamp=" + strconv.FormatInt(ts, 10) + "&sign=" + url.QueryEscape(SignDingTalk(w.Secret, ts))
		}
	default:
		body, err = json.Marshal(GenericPayload{Event: d.Change.Op, Delivery: d.ID, At: d.Change.At, Who: d.Change.Who, Alert: d.Change.Alert})
		ts := strconv.FormatInt(now.Unix(), 10)
		h.Set(HeaderEvent, string(d.Change.Op))
		h.Set(HeaderDelivery, d.ID)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(w.Secret, ts, body))
	}
	if err != nil {
		return nil, "", nil, errs.Wrap(errs.Internal, "webhook", err, "webhook body")
	}
	return body, target, h, nil
}

var opZh = map[Op]string{OpRaise: "新预警", OpAck: "已确认", OpClose: "已关闭"}

// markdown writes the robots' message (zh). wecom colours the title by severity.
func (n *Notifier) markdown(c Change, wecom bool) string {
	a := c.Alert
	var b strings.Builder
	title := fmt.Sprintf("【%s·%s】%s", a.Severity.Zh(), opZh[c.Op], a.Title)
	if wecom {
		color := "warning"
		if a.Severity == Info {
			color = "info"
		}
		fmt.Fprintf(&b, "## <font color=\"%s\">%s</font>\n", color, title)
	} else {
		fmt.Fprintf(&b, "### %s\n\n", title)
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "> %s：%s\n", k, v)
			if !wecom {
				b.WriteString("\n")
			}
		}
	}
	line("规则", a.RuleName)
	line("区域", a.Region)
	line("类别", a.Category)
	line("对象", a.Subject)
	line("数值", fmt.Sprintf("%s（阈值 %s）", num(a.Value), num(a.Bound)))
	line("发起", a.RaisedAt.In(n.opt.Location).Format("2006-01-02 15:04"))
	switch c.Op {
	case OpAck:
		line("确认", c.Who+" "+c.At.In(n.opt.Location).Format("15:04"))
	case OpClose:
		line("关闭", c.Who+" "+c.At.In(n.opt.Location).Format("15:04"))
		line("说明", a.Note)
	}
	line("编号", a.ID)
	return b.String()
}

// truncateBytes cuts s to at most n bytes on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dead records a failed delivery as a dead letter.
func (n *Notifier) dead(d Delivery) {
	d.FailedAt = n.opt.Clock.Now()
	if err := n.opt.DeadLetters.add(d); err != nil {
		n.opt.Logf("alerts: dead letter %s (webhook %s) not stored: %v", d.ID, d.Webhook, err)
	}
}

// Resend sends a dead letter again now (its webhook's current settings, the full retry
// schedule). On success it leaves the list; on failure it stays with the new error.
func (n *Notifier) Resend(ctx context.Context, id string) error {
	d, ok := n.opt.DeadLetters.Get(id)
	if !ok {
		return errs.E(errs.NotFound, "dead_letter", "no dead letter %q", id)
	}
	if err := n.send(ctx, &d); err != nil {
		d.FailedAt = n.opt.Clock.Now()
		if uerr := n.opt.DeadLetters.update(d); uerr != nil {
			n.opt.Logf("alerts: dead letter %s not updated: %v", id, uerr)
		}
		if errs.CodeOf(err) == errs.Internal {
			return errs.Wrap(errs.Unavailable, "webhook", err, "re-send of "+id+" failed")
		}
		return err
	}
	return n.opt.DeadLetters.remove(id, n.opt.Clock.Now())
}
