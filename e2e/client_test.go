package e2e

import (
	"net/http"
	"strconv"
	"time"
)

// httpc is the tests' HTTP client. The tests share one view token on the shared demo, and the
// server answers a token's query beyond its concurrent history queries with 429 busy and
// Retry-After (server.MaxHeavyPerPrincipal); like the pages, the client waits and asks again.
var httpc = &http.Client{Transport: busyRetry{next: http.DefaultTransport}}

// busyRetry repeats a request without a body that was answered 429 with Retry-After (seconds),
// after waiting that long, up to 30 times; any other answer, or the last 429, is the caller's.
type busyRetry struct{ next http.RoundTripper }

func (b busyRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		return b.next.RoundTrip(req) // a body cannot be sent twice
	}
	for attempt := 0; ; attempt++ {
		resp, err := b.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == 30 {
			return resp, err
		}
		secs, perr := strconv.Atoi(resp.Header.Get("Retry-After"))
		if perr != nil {
			return resp, nil // 429 without Retry-After: not a busy answer to wait out
		}
		resp.Body.Close()
		select {
		case <-time.After(time.Duration(max(secs, 1)) * time.Second):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}
