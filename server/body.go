package server

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"zhili/access"
	"zhili/errs"
	"zhili/ingest"
)

// readBodyLimit bounds the body of every request but an ingest POST by a known source key:
// reads carry no body, and an unknown key's body is refused before it is read.
const readBodyLimit = 64 << 10

// headerReceived runs once a request's header is read, before its body: it sets how much body
// the request may bring. Only POST /api/v1/events with a source key may bring an ingest body;
// any other request is held to readBodyLimit, so a connection without a key costs no memory
// however large a body it declares.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if string(h.Method()) == fiber.MethodPost && strings.HasPrefix(string(h.RequestURI()), "/api/v1/events") && s.isSource(bearerOf(string(h.Peek(fiber.HeaderAuthorization)))) {
		return fasthttp.RequestConfig{MaxRequestBodySize: s.bodyLimit}
	}
	return fasthttp.RequestConfig{MaxRequestBodySize: readBodyLimit}
}

func (s *Server) isSource(secret string) bool {
	p, ok := s.keys.Load().Lookup(secret)
	return ok && p.Roles.Has(access.Source)
}

// maxInflating bounds the gzip ingest bodies inflated at once: each slot holds one buffer of
// the door's byte limit, reused, so that gzip bodies (bombs included) cost at most this many
// limits of memory however many arrive.
const maxInflating = 4

// inflateWait is how long a gzip body waits for one of the maxInflating slots before it is
// answered 429 busy (with Retry-After).
const inflateWait = 2 * time.Second

// sourceBody returns a source's request body (ingestBody) and its key's policy; a principal
// that is not a source key is refused before the body is read. release is never nil.
func (s *Server) sourceBody(c *fiber.Ctx) (pol *ingest.Policy, body []byte, release func(), err error) {
	pol, _ = c.Locals(policyKey).(*ingest.Policy)
	if pol == nil {
		return nil, nil, func() {}, errs.E(errs.Forbidden, "role", "not a source key")
	}
	body, release, err = s.ingestBody(c)
	return pol, body, release, err
}

// ingestBody returns the request body, decompressed when it is gzip, never beyond the door's
// byte limit (checked while inflating, so a small bomb is refused after MaxBytes, not after it
// has filled memory). release (never nil) frees the inflated body's slot: call it once the
// body is no longer used.
func (s *Server) ingestBody(c *fiber.Ctx) (body []byte, release func(), err error) {
	raw := c.Request().Body() // as sent: Ctx.Body would inflate without a bound
	switch enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))); enc {
	case "", "identity":
		return raw, func() {}, nil
	case "gzip", "x-gzip":
		t := time.NewTimer(inflateWait)
		defer t.Stop()
		var slot *[]byte
		select {
		case slot = <-s.inflating:
		case <-t.C:
			return nil, func() {}, errs.E(errs.Busy, "inflating", "%d gzip bodies are being inflated; retry", maxInflating)
		case <-c.UserContext().Done():
			return nil, func() {}, errs.Wrap(errs.Unavailable, "shutting_down", c.UserContext().Err(), "request cancelled")
		}
		release = func() { s.inflating <- slot }
		out, err := s.inflate(raw, slot)
		if err != nil {
			release()
			return nil, func() {}, err
		}
		return out, release, nil
	default:
		return nil, func() {}, errs.E(errs.Unsupported, "content_encoding", "content encoding %q not accepted: send identity or gzip", enc)
	}
}

// inflate decompresses raw into the slot's buffer (kept for the next body: the door copies
// what it keeps), refusing more than the door's byte limit.
func (s *Server) inflate(raw []byte, slot *[]byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, "content_encoding", err, "body is not valid gzip")
	}
	limit := s.d.Door.MaxBytes()
	if int64(cap(*slot)) < limit+1 {
		*slot = make([]byte, limit+1)
	}
	buf := (*slot)[:limit+1]
	n, err := io.ReadFull(zr, buf)
	switch {
	case err == nil:
		return nil, errs.E(errs.TooLarge, "max_bytes", "gzip body inflates beyond %d bytes", limit)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	default:
		return nil, errs.Wrap(errs.Invalid, "content_encoding", err, "body is not valid gzip")
	}
}
