package server

import (
	"errors"

	"github.com/gofiber/fiber/v2"

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
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    errs.Code `json:"code"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message"`
}

// errorHandler writes every error as JSON with the mapped status.
func errorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		// Errors raised by Fiber/fasthttp itself (body too large, not found, bad method).
		code, reason := errs.Internal, ""
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			code, reason = errs.TooLarge, "max_bytes"
		case fiber.StatusNotFound:
			code = errs.NotFound
		case fiber.StatusMethodNotAllowed, fiber.StatusBadRequest, fiber.StatusUpgradeRequired:
			code = errs.Invalid
		}
		return c.Status(fe.Code).JSON(errorBody{errorDetail{Code: code, Reason: reason, Message: fe.Message}})
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
	if st == fiber.StatusServiceUnavailable {
		// A dependency is away or the server is draining: clients retry, nothing was accepted.
		c.Set(fiber.HeaderRetryAfter, "2")
	}
	return c.Status(st).JSON(errorBody{errorDetail{Code: e.Code, Reason: e.Reason, Message: msg}})
}
