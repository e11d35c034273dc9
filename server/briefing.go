package server

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/errs"
)

// Briefings are the kept 研判 briefings (docs/BRIEFING.md): generated on a schedule and stored,
// so that a briefing reads the same whenever it is opened.
type Briefings interface {
	// List returns the kept briefings of the region (newest first), at most limit.
	List(ctx context.Context, region string, limit int) ([]BriefingInfo, error)
	// Get returns the briefing of period (e.g. day:2026-12-03, week:2026-W49) for region as
	// JSON, generating and keeping it when the period has ended and none is kept; a period
	// still running is answered live as provisional and not kept; errs NotFound for one not
	// yet begun, Invalid for a malformed period.
	Get(ctx context.Context, region, period string) ([]byte, error)
	// PDF returns the briefing printed to PDF; errs Unavailable when no browser is installed.
	PDF(ctx context.Context, region, period string) ([]byte, error)
}

// BriefingInfo describes one kept briefing.
type BriefingInfo struct {
	Period    string    `json:"period"`
	Region    string    `json:"region"`
	Title     string    `json:"title"`
	Generated time.Time `json:"generated"`
}

func (s *Server) briefingRoutes() map[string]fiber.Handler {
	return map[string]fiber.Handler{
		"GET /api/v1/briefings":             s.briefingList,
		"GET /api/v1/briefings/:period":     s.briefingGet,
		"GET /api/v1/briefings/:period/pdf": s.briefingPDF,
	}
}

// briefingsOf returns the briefings and the request's region (the token's by default).
func (s *Server) briefingsOf(c *fiber.Ctx) (Briefings, string, error) {
	if s.d.Briefings == nil {
		return nil, "", errs.E(errs.Unavailable, "briefings", "briefings are not kept by this server")
	}
	region, _, err := s.regionParam(c, principal(c))
	return s.d.Briefings, region, err
}

func (s *Server) briefingList(c *fiber.Ctx) error {
	b, region, err := s.briefingsOf(c)
	if err != nil {
		return err
	}
	list, err := b.List(c.UserContext(), region, 200)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"region": region, "briefings": list})
}

func (s *Server) briefingGet(c *fiber.Ctx) error {
	b, region, err := s.briefingsOf(c)
	if err != nil {
		return err
	}
	body, err := b.Get(c.UserContext(), region, c.Params("period"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(body)
}

func (s *Server) briefingPDF(c *fiber.Ctx) error {
	b, region, err := s.briefingsOf(c)
	if err != nil {
		return err
	}
	pdf, err := b.PDF(c.UserContext(), region, c.Params("period"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="briefing-`+region+"-"+strings.ReplaceAll(c.Params("period"), ":", "-")+`.pdf"`)
	return c.Send(pdf)
}
