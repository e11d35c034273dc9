package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"zhili/access"
	"zhili/errs"
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

// ingestBody returns the request body, decompressed when it is gzip, never beyond the door's
// byte limit (checked while inflating, so a small bomb is refused after MaxBytes, not after it
// has filled memory).
func (s *Server) ingestBody(c *fiber.Ctx) ([]byte, error) {
	raw := c.Request().Body() // as sent: Ctx.Body would inflate without a bound
	switch enc := strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))); enc {
	case "", "identity":
		return raw, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, "content_encoding", err, "body is not valid gzip")
		}
		limit := s.d.Door.MaxBytes()
		out, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, "content_encoding", err, "body is not valid gzip")
		}
		if int64(len(out)) > limit {
			return nil, errs.E(errs.TooLarge, "max_bytes", "gzip body inflates beyond %d bytes", limit)
		}
		return out, nil
	default:
		return nil, errs.E(errs.Unsupported, "content_encoding", "content encoding %q not accepted: send identity or gzip", enc)
	}
}
