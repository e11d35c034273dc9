package server

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"zhili/errs"
)

// A history query (a route with Heavy) runs under its own context, cancelled for one of three
// causes: its client closed the connection, the server shuts down, or the query deadline
// (Config.QueryTimeout) passed. The store and the in-Go loops of the query stop on it.
var (
	errClientGone   = errors.New("the client closed its connection")
	errShuttingDown = errors.New("the server is shutting down")
	errQueryTimeout = errors.New("the query deadline passed")
)

// Reasons of zhili_queries_cancelled_total.
const (
	cancelClientGone = "client_gone"
	cancelShutdown   = "shutdown"
	cancelDeadline   = "deadline"
)

// StatusClientGone is the status recorded (in zhili_http_requests_total) for a history query
// cancelled because its client left; nobody reads the reply.
const StatusClientGone = 499

// goneEvery is how often a running history query checks whether its client is still there.
const goneEvery = 100 * time.Millisecond

type queryMetrics struct {
	cancelled *prometheus.CounterVec
}

func newQueryMetrics(reg *prometheus.Registry) *queryMetrics {
	m := &queryMetrics{cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "zhili_queries_cancelled_total",
		Help: "History queries cancelled before they finished, by reason: client_gone (the client closed its connection), deadline (the query deadline passed), shutdown (the server stopped)."},
		[]string{"reason"})}
	for _, r := range []string{cancelClientGone, cancelShutdown, cancelDeadline} {
		m.cancelled.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.cancelled)
	}
	return m
}

// runHeavy runs the rest of a history query's handlers under a context that ends when the
// client goes, the server shuts down or the query deadline passes, and names the cause when
// the query ended because of it:
//   - client gone: status 499 (recorded only; nobody reads the reply);
//   - shutdown: 503 shutting_down with Retry-After (another server, or this one restarted, answers);
//   - deadline: 504 query_timeout without Retry-After: the same query would run out of time
//     again; a shorter period or a smaller region may not.
func (s *Server) runHeavy(c *fiber.Ctx) error {
	base, cancel := context.WithCancelCause(c.UserContext())
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(base, s.cfg.QueryTimeout, errQueryTimeout)
	defer stop()
	unlink := context.AfterFunc(s.queries, func() { cancel(errShuttingDown) })
	defer unlink()
	stopWatch := watchGone(c.Context().Conn(), goneEvery, func() { cancel(errClientGone) })
	c.SetUserContext(ctx)
	err := c.Next()
	stopWatch() // no cancellation from the connection after this
	if err == nil || ctx.Err() == nil {
		return err
	}
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errClientGone):
		s.qm.cancelled.WithLabelValues(cancelClientGone).Inc()
		return s.replyAs(c, errs.Wrap(errs.Unavailable, "client_gone", err, "the query was cancelled: the client closed its connection"), StatusClientGone)
	case errors.Is(cause, errShuttingDown):
		s.qm.cancelled.WithLabelValues(cancelShutdown).Inc()
		return errs.E(errs.Unavailable, "shutting_down", "the server is shutting down; retry")
	case errors.Is(cause, errQueryTimeout):
		s.qm.cancelled.WithLabelValues(cancelDeadline).Inc()
		return s.replyAs(c, errs.E(errs.Unavailable, "query_timeout",
			"the query did not finish within %s: shorten the period or choose a smaller region", s.cfg.QueryTimeout), fiber.StatusGatewayTimeout)
	}
	return err
}

// replyAs writes err as errorHandler does, with status instead of the mapped one and no
// Retry-After.
func (s *Server) replyAs(c *fiber.Ctx, err error, status int) error {
	if herr := s.errorHandler(c, err); herr != nil {
		return herr
	}
	c.Status(status)
	c.Response().Header.Del(fiber.HeaderRetryAfter)
	return nil
}

// watchGone calls gone (once) when the peer of conn closes its side of the connection, checking
// every so often until stop is called; stop (idempotent) returns after the watcher has ended,
// so gone is never called after it.
//
// The check never reads from the connection and never touches its deadlines: it asks the kernel
// (poll with POLLRDHUP, Linux) whether the peer has shut down its sending side or reset the
// connection. Reading would consume bytes that belong to the server's request reader (a
// keep-alive client may already have sent its next request; fasthttp's bufio reader may hold
// part of it and the socket the rest), and a read deadline set to stop such a read would race
// with the ones fasthttp sets. Pipelined bytes are left where they are, so a live keep-alive
// connection is never corrupted. A client that half-closes its side after sending the request
// (shutdown(SHUT_WR)) counts as gone, as it does for Go's net/http. Connections that expose no
// file descriptor (in-memory test connections) and other platforms are not watched: the query
// deadline and shutdown still apply.
func watchGone(conn net.Conn, every time.Duration, gone func()) (stop func()) {
	sc, ok := conn.(syscall.Conn)
	if !ok || !canWatchGone {
		return func() {}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			if peerClosed(rc) {
				gone()
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}
