// Reading pushed frames without decoding them: the envelope (op, topic, seq) and the event ids
// of a delta, scanned in place.

package loadtest

import (
	"bytes"
	"errors"
	"strconv"
)

// message is one server message; the slices point into the frame.
type message struct {
	op, topic, code []byte
	seq             int64
	data            []byte
}

var errFrame = errors.New("malformed frame")

// scanFrame calls fn for each message of a frame: one JSON object or an array of them. It reads
// only the keys it needs and skips the rest without decoding them.
func scanFrame(b []byte, fn func(*message)) error {
	i := skipWS(b, 0)
	if i >= len(b) {
		return errFrame
	}
	var m message
	one := func(i int) (int, error) {
		m = message{seq: -1}
		end, err := walkObject(b, i, func(key []byte, vs, ve int) error {
			switch string(key) {
			case "op":
				m.op = unquote(b[vs:ve])
			case "topic":
				m.topic = unquote(b[vs:ve])
			case "code":
				m.code = unquote(b[vs:ve])
			case "seq":
				n, err := strconv.ParseInt(string(b[vs:ve]), 10, 64)
				if err == nil {
					m.seq = n
				}
			case "data":
				m.data = b[vs:ve]
			}
			return nil
		})
		if err == nil {
			fn(&m)
		}
		return end, err
	}
	if b[i] == '[' {
		_, err := walkArray(b, i, func(vs, ve int) error {
			if b[vs] != '{' {
				return errFrame
			}
			_, err := one(vs)
			return err
		})
		return err
	}
	_, err := one(i)
	return err
}

// envelopeStart begins every message of Zhili's own encoding: "op" first, "data" last.
var envelopeStart = []byte(`{"op":"`)

// scanFrameFast is scanFrame for frames in Zhili's own message layout, which it recognises: it
// splits an array frame at each message start (item objects never hold an "op" key) and takes
// "data" as the rest of its message, so the large part of a frame is never walked byte by byte.
// Frames in any other layout go to scanFrame.
func scanFrameFast(b []byte, fn func(*message)) error {
	i := skipWS(b, 0)
	if i >= len(b) {
		return errFrame
	}
	body := b[i:]
	if body[0] == '[' {
		body = body[1:]
		body = body[skipWS(body, 0):]
	}
	if !bytes.HasPrefix(body, envelopeStart) {
		return scanFrame(b, fn)
	}
	for len(body) > 0 {
		next := bytes.Index(body[1:], envelopeStart)
		seg := body
		if next >= 0 {
			seg, body = body[:next+1], body[next+1:]
		} else {
			body = nil
		}
		m, ok := envelope(seg)
		if !ok {
			return scanFrame(b, fn)
		}
		fn(&m)
	}
	return nil
}

// envelope reads one message of seg (which may end with the separators of an array frame).
func envelope(seg []byte) (message, bool) {
	m := message{seq: -1}
	i := 1 // after '{'
	for {
		i = skipWS(seg, i)
		if i >= len(seg) || seg[i] != '"' {
			return m, false
		}
		ke, err := skipString(seg, i)
		if err != nil {
			return m, false
		}
		key := seg[i+1 : ke-1]
		i = skipWS(seg, ke)
		if i >= len(seg) || seg[i] != ':' {
			return m, false
		}
		vs := skipWS(seg, i+1)
		if string(key) == "data" {
			// The rest of the message: trim the array separator and the closing brace.
			e := len(seg)
			for e > vs && (seg[e-1] == ']' || seg[e-1] == ',' || seg[e-1] == ' ' || seg[e-1] == '\n' || seg[e-1] == '\r' || seg[e-1] == '\t') {
				e--
			}
			if e <= vs || seg[e-1] != '}' {
				return m, false
			}
			m.data = seg[vs : e-1]
			return m, true
		}
		ve, err := skipValue(seg, vs)
		if err != nil {
			return m, false
		}
		switch string(key) {
		case "op":
			m.op = unquote(seg[vs:ve])
		case "topic":
			m.topic = unquote(seg[vs:ve])
		case "code":
			m.code = unquote(seg[vs:ve])
		case "seq":
			if n, err := strconv.ParseInt(string(seg[vs:ve]), 10, 64); err == nil {
				m.seq = n
			}
		}
		i = skipWS(seg, ve)
		if i < len(seg) && seg[i] == '}' {
			return m, true // a message without data (pong, error)
		}
		if i >= len(seg) || seg[i] != ',' {
			return m, false
		}
		i++
	}
}

// forEachEventID calls fn with the value of every "id" key in data: the id of each item of
// data.events ("case_id" and "whistle_id" end differently; an escaped key inside a string does
// not match). A nested object's "id" is reported too; callers keep only ids of their own run.
// A vectorised search is far cheaper than walking the JSON at hundreds of MB/s.
func forEachEventID(data []byte, fn func(id []byte)) {
	key := []byte(`"id":"`)
	for {
		k := bytes.Index(data, key)
		if k < 0 {
			return
		}
		data = data[k+len(key):]
		e := bytes.IndexByte(data, '"')
		if e < 0 {
			return
		}
		fn(data[:e])
		data = data[e+1:]
	}
}

// unquote strips the quotes of a JSON string token. Escapes are left as they are: the values
// read here (ops, topics, ids) do not need them.
func unquote(tok []byte) []byte {
	if len(tok) >= 2 && tok[0] == '"' {
		return tok[1 : len(tok)-1]
	}
	return tok
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// walkObject walks the object at b[i] and calls fn with each key (raw, unquoted) and the span
// of its value. It returns the index after the object.
func walkObject(b []byte, i int, fn func(key []byte, vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return i, errFrame
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errFrame
		}
		ke, err := skipString(b, i)
		if err != nil {
			return i, err
		}
		key := b[i+1 : ke-1]
		i = skipWS(b, ke)
		if i >= len(b) || b[i] != ':' {
			return i, errFrame
		}
		vs := skipWS(b, i+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return i, err
		}
		if err := fn(key, vs, ve); err != nil {
			return i, err
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return i, errFrame
		}
		if b[i] == '}' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return i, errFrame
		}
		i = skipWS(b, i+1)
	}
}

// walkArray walks the array at b[i], calling fn with the span of each element.
func walkArray(b []byte, i int, fn func(vs, ve int) error) (int, error) {
	if i >= len(b) || b[i] != '[' {
		return i, errFrame
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		ve, err := skipValue(b, i)
		if err != nil {
			return i, err
		}
		if err := fn(i, ve); err != nil {
			return i, err
		}
		i = skipWS(b, ve)
		if i >= len(b) {
			return i, errFrame
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return i, errFrame
		}
		i = skipWS(b, i+1)
	}
}

func skipString(b []byte, i int) (int, error) {
	// Jump from quote to quote (IndexByte is vectorised); a quote preceded by an odd number of
	// backslashes is escaped.
	j := i + 1
	for j < len(b) {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			break
		}
		j += k
		bs := 0
		for x := j - 1; x > i && b[x] == '\\'; x-- {
			bs++
		}
		if bs%2 == 0 {
			return j + 1, nil
		}
		j++
	}
	return len(b), errFrame
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errFrame
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, err := skipString(b, j)
				if err != nil {
					return e, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errFrame
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i {
		return i, errFrame
	}
	return j, nil
}
