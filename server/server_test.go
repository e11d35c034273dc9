package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"testing"

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
	for _, c := range cases {
		app := fiber.New(fiber.Config{ErrorHandler: errorHandler})
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
		if c.code == errs.Internal && body.Error.Message != "internal error" {
			t.Errorf("internal error text leaked: %q", body.Error.Message)
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
