package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/errs"
	"zhili/event"
)

// Every error code reaches the client with its mapped status and a JSON body naming the code
// and reason; errors that are not *errs.Error never leak their text.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   errs.Code
	}{
		{errs.E(errs.Invalid, "depth", "bad"), 400, errs.Invalid},
		{errs.E(errs.TooLarge, "max_lines", "too many"), 413, errs.TooLarge},
		{errs.E(errs.Unauthorized, "token", "no"), 401, errs.Unauthorized},
		{errs.E(errs.Forbidden, "region", "no"), 403, errs.Forbidden},
		{errs.E(errs.NotFound, "id", "none"), 404, errs.NotFound},
		{errs.E(errs.Unavailable, "intake_full", "full"), 503, errs.Unavailable},
		{errs.E(errs.Unsupported, "content_type", "no"), 415, errs.Unsupported},
		{errors.New("secret internal detail"), 500, errs.Internal},
		{fiber.ErrRequestEntityTooLarge, 413, errs.TooLarge},
	}
	var logged bytes.Buffer
	s := &Server{cfg: Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}}
	for _, c := range cases {
		app := fiber.New(fiber.Config{ErrorHandler: s.errorHandler})
		app.Get("/", func(*fiber.Ctx) error { return c.err })
		resp, err := app.Test(httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		var body errorBody
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%v: body %s", c.err, b)
		}
		if resp.StatusCode != c.status || body.Error.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, resp.StatusCode, body.Error.Code, c.status, c.code)
		}
		if c.code == errs.Internal {
			if body.Error.Message != "internal error" {
				t.Errorf("internal error text leaked: %q", body.Error.Message)
			}
			// Every 500 is logged, with the id the reply gives.
			if body.Error.RequestID == "" || !strings.Contains(logged.String(), "request_id="+body.Error.RequestID) ||
				!strings.Contains(logged.String(), "secret internal detail") {
				t.Errorf("500 not logged with its request id %q: %s", body.Error.RequestID, logged.String())
			}
		}
	}
}

// TestMalformedRequestNotEchoed: a request fasthttp cannot parse is answered 400 without quoting
// the request (its Authorization header included).
func TestMalformedRequestNotEchoed(t *testing.T) {
	srv := New(Config{ViewTokens: map[string]Viewer{"tok": {}}}, Deps{})
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /api/v1/regions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer very-secret-token\r\nContent-Length: abc\r\n\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn)
	if !strings.Contains(string(b), " 400 ") {
		t.Fatalf("reply %q, want 400", b)
	}
	if strings.Contains(string(b), "very-secret-token") || strings.Contains(string(b), "Authorization") {
		t.Fatalf("the reply quotes the request: %q", b)
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, fa := range []string{"", "https://wall.example.gov.cn"} {
		srv := New(Config{FrameAncestors: fa}, Deps{})
		resp, err := srv.App().Test(httptest.NewRequest("GET", "/healthz", nil))
		if err != nil {
			t.Fatal(err)
		}
		want := "frame-ancestors 'self'"
		if fa != "" {
			want = "frame-ancestors " + fa
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("CSP %q, want %q", got, want)
		}
		if resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers %v", resp.Header)
		}
	}
}

// TestExportCells: CSV text cells cannot become formulas; numbers stay as they are.
func TestExportCells(t *testing.T) {
	got := safeCells([]string{"=HYPERLINK(\"x\")", "+1 555", "-", "@SUM(A1)", "\tx", "-3.5", "12", "张三", ""})
	want := []string{"'=HYPERLINK(\"x\")", "'+1 555", "'-", "'@SUM(A1)", "'\tx", "-3.5", "12", "张三", ""}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for v, isNum := range map[string]bool{"12": true, "-0.5": true, "1e3": false, "NaN": false, "0x1p-2": false, "85.2 %": false, "": false} {
		if _, ok := number(v); ok != isNum {
			t.Errorf("number(%q) = %v", v, ok)
		}
	}
}

func TestMaskPII(t *testing.T) {
	ev := event.Event{Reporter: &event.Reporter{Name: "张三丰", Phone: "13812345678", IDNumber: "410101199001011234"},
		Address: "浉河区民权路88号3单元", Summary: "张三丰反映噪音"}
	maskPII(&ev)
	if ev.Reporter.Name != "张**" || ev.Reporter.Phone != "138********" || ev.Reporter.IDNumber != "******************" {
		t.Fatalf("reporter %+v", ev.Reporter)
	}
	if ev.Address != "浉河区民权路******" || ev.Summary != "***" {
		t.Fatalf("address %q summary %q", ev.Address, ev.Summary)
	}
}
