// Package errs defines the one error type Zhili returns across packages.
// Codes are mapped to HTTP status at the transport edge (server package).
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error for callers and for the transport edge.
type Code string

const (
	Invalid      Code = "invalid"       // the request or record is malformed
	TooLarge     Code = "too_large"     // a size limit was exceeded
	Unauthorized Code = "unauthorized"  // missing or bad credentials
	Forbidden    Code = "forbidden"     // credentials valid, action not allowed
	NotFound     Code = "not_found"     // no such object
	Unavailable  Code = "unavailable"   // a dependency is down or the server is shutting down
	Internal     Code = "internal"      // a bug or an unexpected failure
	Unsupported  Code = "unsupported"   // e.g. wrong content type
	UnknownTopic Code = "unknown_topic" // live topic name not recognised
	Busy         Code = "busy"          // too many requests at once from one principal; retry
)

// Error is Zhili's error: a code, a short machine-readable reason and a human message.
type Error struct {
	Code    Code
	Reason  string // named reason, e.g. "max_lines", "location.lat"
	Message string
	Err     error // wrapped cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error.
func E(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error around a cause.
func Wrap(code Code, reason string, err error, msg string) *Error {
	return &Error{Code: code, Reason: reason, Message: msg, Err: err}
}

// CodeOf returns the code of err, or Internal for errors that are not *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ReasonOf returns the named reason of err, if any.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Lines joins the first shown problems of a refused file, one per line, and says how many
// more there are.
func Lines[T fmt.Stringer](ps []T, shown int) string {
	var b strings.Builder
	for i, p := range ps {
		if i == shown {
			fmt.Fprintf(&b, "\n… and %d more", len(ps)-shown)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}
