package server

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"zhili/errs"
)

// statusOf maps error codes to HTTP status: the one table at the edge.
var statusOf = map[errs.Code]int{
	errs.Invalid:      fiber.StatusBadRequest,
	errs.TooLarge:     fiber.StatusRequestEntityTooLarge,
	errs.Unauthorized: fiber.StatusUnauthorized,
	errs.Forbidden:    fiber.StatusForbidden,
	errs.NotFound:     fiber.StatusNotFound,
	errs.UnknownTopic: fiber.StatusNotFound,
	errs.Unavailable:  fiber.StatusServiceUnavailable,
	errs.Unsupported:  fiber.StatusUnsupportedMediaType,
	errs.Internal:     fiber.StatusInternalServerError,
	errs.Busy:         fiber.StatusTooManyRequests,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      errs.Code `json:"code"`
	Reason    string    `json:"reason,omitempty"`
	Message   string    `json:"message"`
	RequestID string    `json:"request_id,omitempty"` // 500s: the id in the server's log
}

var requestSeq atomic.Uint64

// requestID names one failed request: the process's start and a sequence number.
func requestID() string {
	return fmt.Sprintf("%x-%d", processStart, requestSeq.Add(1))
}

var processStart = time.Now().Unix()

// errorHandler writes every error as JSON with the mapped status. A 500 is logged with a request
// id that the reply carries, so an operator can find it.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	s.setSecurityHeaders(c)
	var fe *fiber.Error
	if errors.As(err, &fe) {
		// Errors raised by Fiber/fasthttp itself (body too large, not found, bad method, a
		// malformed request). Their text may quote the raw request, headers and all: the reply
		// gives the status text only.
		code, reason := errs.Internal, ""
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			if c.Method() == fiber.MethodPost && c.Path() == "/api/v1/events" && !s.isSource(bearer(c)) {
				// The body was refused unread because the key is not a source's.
				if bearer(c) == "" {
					return s.errorHandler(c, errs.E(errs.Unauthorized, "key", "source API key required (Authorization: Bearer <key>)"))
				}
				return s.errorHandler(c, errs.E(errs.Unauthorized, "key", "not a source API key"))
			}
			code, reason = errs.TooLarge, "max_bytes"
		case fiber.StatusNotFound:
			code = errs.NotFound
		case fiber.StatusMethodNotAllowed, fiber.StatusUpgradeRequired:
			code = errs.Invalid
		case fiber.StatusBadRequest:
			code, reason = errs.Invalid, "malformed_request"
		case fiber.StatusRequestHeaderFieldsTooLarge:
			code, reason = errs.TooLarge, "header_size"
		case fiber.StatusRequestTimeout:
			code, reason = errs.Invalid, "request_timeout"
		}
		return c.Status(fe.Code).JSON(errorBody{errorDetail{Code: code, Reason: reason, Message: utils.StatusMessage(fe.Code)}})
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		e = &errs.Error{Code: errs.Internal, Message: "internal error", Err: err}
	}
	st, ok := statusOf[e.Code]
	if !ok {
		st = fiber.StatusInternalServerError
	}
	msg := e.Message
	if e.Code != errs.Internal && e.Err != nil {
		msg = e.Error()
	}
	if st == fiber.StatusInternalServerError {
		id := requestID()
		s.cfg.Logger.Error("request failed", "request_id", id, "method", c.Method(), "route", c.Route().Path, "err", err)
		return c.Status(st).JSON(errorBody{errorDetail{Code: e.Code, Reason: e.Reason, Message: msg, RequestID: id}})
	}
	if st == fiber.StatusTooManyRequests {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if st == fiber.StatusServiceUnavailable {
		// A dependency is away or the server is draining: clients retry, nothing was accepted.
		c.Set(fiber.HeaderRetryAfter, "2")
	}
	return c.Status(st).JSON(errorBody{errorDetail{Code: e.Code, Reason: e.Reason, Message: msg}})
}
