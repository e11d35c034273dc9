// The wire protocol of GET /ws (docs/LIVE.md): client requests, and the snapshot, delta,
// status and error frames the hub encodes once for every subscriber.

package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"zhili/errs"
)

// Status tells screens whether the live data behind the topics is current.
type Status struct {
	Stale  bool      `json:"stale"`
	Reason string    `json:"reason,omitempty"` // e.g. live_bus_unavailable
	Since  time.Time `json:"since"`            // when this status began
}

const (
	opSnapshot = "snapshot"
	opDelta    = "delta"

	codeBadRequest   = "bad_request"
	codeUnknownTopic = "unknown_topic"
	codeForbidden    = "forbidden"

	atLayout = "2006-01-02T15:04:05.000Z07:00"
)

var pongFrame = []byte(`{"op":"pong"}`)

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode builds one snapshot or delta message.
func (h *Hub) encode(op string, t *hubTopic, seq int64, at time.Time, data any) ([]byte, error) {
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(data); err != nil {
		return nil, err
	}
	d := bytes.TrimSuffix(e.buf.Bytes(), []byte{'\n'})
	msg := make([]byte, 0, len(d)+len(t.nameJSON)+96)
	return appendMessage(msg, op, t.nameJSON, seq, at.In(h.cfg.Loc), d), nil
}

func appendMessage(dst []byte, op string, topicJSON []byte, seq int64, at time.Time, data []byte) []byte {
	dst = append(dst, `{"op":"`...)
	dst = append(dst, op...)
	dst = append(dst, `","topic":`...)
	dst = append(dst, topicJSON...)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"at":"`...)
	dst = at.AppendFormat(dst, atLayout)
	dst = append(dst, `","data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

func errorFrame(topic, code, message string) []byte {
	b, _ := json.Marshal(struct {
		Op      string `json:"op"`
		Topic   string `json:"topic,omitempty"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", topic, code, message})
	return b
}

// openCode maps a Source.Open error to a wire error code.
func openCode(err error) string {
	switch errs.CodeOf(err) {
	case errs.UnknownTopic:
		return codeUnknownTopic
	case errs.Forbidden:
		return codeForbidden
	}
	return codeBadRequest
}

// messageOf returns the human message of err, or fallback for errors that are not *errs.Error.
func messageOf(err error, fallback string) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return fallback
}

type request struct {
	Op    string `json:"op"`
	Topic string `json:"topic"`
	Since *int64 `json:"since"`
}
