package server

import (
	"math"
	"strings"

	"github.com/gofiber/fiber/v2"

	"zhili/errs"
	"zhili/event"
	"zhili/geo"
)

// MaxHexIDs bounds the cells of one GET /api/v1/hexes request (the ids travel in the URL,
// which must stay within the server's request header buffer).
const MaxHexIDs = 200

// hexCell is one H3 cell's outline as the screens draw it.
type hexCell struct {
	ID       string       `json:"id"`
	Res      int          `json:"res"`
	Centre   [2]float64   `json:"centre"`
	Boundary [][2]float64 `json:"boundary"` // closed ring, lon/lat in the reply's crs
}

// hexes answers the outlines of H3 cells: GET /api/v1/hexes?ids=<id>,<id>…&crs=. The hex level of
// the hotspots topic names cells by id only; screens fetch their outlines here (they never change).
func (s *Server) hexes(c *fiber.Ctx) error {
	raw := strings.TrimSpace(c.Query("ids"))
	if raw == "" {
		return errs.E(errs.Invalid, "ids", "ids required: a comma-separated list of H3 cell ids")
	}
	parts := strings.Split(raw, ",")
	if len(parts) > MaxHexIDs {
		return errs.E(errs.Invalid, "max_ids", "%d ids asked for, at most %d per request", len(parts), MaxHexIDs)
	}
	crs := c.Query("crs", s.cfg.DisplayCRS)
	switch crs {
	case "", event.WGS84, event.GCJ02, event.BD09:
	default:
		return errs.E(errs.Invalid, "crs", "crs must be wgs84, gcj02 or bd09")
	}
	if crs == "" {
		crs = event.WGS84
	}
	conv := func(p [2]float64) [2]float64 {
		lon, lat := p[0], p[1]
		if crs != event.WGS84 {
			lon, lat = geo.FromWGS84(crs, lon, lat)
		}
		return [2]float64{round6(lon), round6(lat)}
	}
	seen := make(map[uint64]bool, len(parts))
	cells := make([]hexCell, 0, len(parts))
	for _, p := range parts {
		id := strings.TrimSpace(p)
		cell, err := geo.ParseHex(id)
		if err != nil {
			return errs.E(errs.Invalid, "ids", "ids: %v", err)
		}
		if seen[cell] {
			continue
		}
		seen[cell] = true
		ring := geo.HexBoundary(cell)[0]
		hc := hexCell{ID: geo.HexString(cell), Res: geo.HexRes(cell), Centre: conv(geo.HexCentroid(cell)),
			Boundary: make([][2]float64, len(ring))}
		for i, q := range ring {
			hc.Boundary[i] = conv(q)
		}
		cells = append(cells, hc)
	}
	// Outlines of a cell never change; the token is part of the URL, so caches stay private.
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	return c.JSON(fiber.Map{"crs": crs, "cells": cells})
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
