package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// defaultTimeout bounds one request.
const defaultTimeout = 2 * time.Minute

// ingestReply is the server's per-request answer.
type ingestReply struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Code  string `json:"code"`
		Field string `json:"field"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// versionsReply is the server's answer to POST /api/v1/events/versions.
type versionsReply struct {
	Versions []struct {
		Line      int    `json:"line"`
		Stored    bool   `json:"stored"`
		Latest    string `json:"latest"`
		Revisions int    `json:"revisions"`
		Same      bool   `json:"same"`
	} `json:"versions"`
}

// post sends one NDJSON body, retrying 503 (and 429, 502, 504) and network errors with a
// bounded backoff that honours Retry-After, for at most opt.RetryFor.
func post(ctx context.Context, opt Options, url string, body []byte) (ingestReply, error) {
	var reply ingestReply
	return reply, postJSON(ctx, opt, url, body, &reply)
}

// postJSON sends one NDJSON body as post does and reads the JSON reply into reply.
func postJSON(ctx context.Context, opt Options, url string, body []byte, reply any) error {
	giveUp := time.Now().Add(opt.RetryFor)
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if opt.Key != "" {
			req.Header.Set("Authorization", "Bearer "+opt.Key)
		}
		resp, err := opt.Client.Do(req)
		var out []byte
		var wait time.Duration
		var lastErr error
		if err == nil {
			out, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
			resp.Body.Close()
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			lastErr = fmt.Errorf("POST %s: %w", url, err)
		case resp.StatusCode == http.StatusOK:
			if err := json.Unmarshal(out, reply); err != nil {
				return fmt.Errorf("POST %s: unreadable reply: %.200s", url, out)
			}
			return nil
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests ||
			resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
			lastErr = fmt.Errorf("POST %s: %s: %.200s", url, resp.Status, bytes.TrimSpace(out))
			if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
		default:
			hint := ""
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				hint = " (check --key)"
			}
			return fmt.Errorf("POST %s: %s: %.300s%s", url, resp.Status, bytes.TrimSpace(out), hint)
		}
		if wait == 0 {
			wait = backoff
			backoff = min(backoff*2, 10*time.Second)
		}
		wait = min(wait, 30*time.Second)
		if time.Now().Add(wait).After(giveUp) {
			return fmt.Errorf("server unavailable for %s (%d attempts), giving up: %w", opt.RetryFor, attempt, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
