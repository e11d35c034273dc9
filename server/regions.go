package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/errs"
	"zhili/event"
	"zhili/geo"
)

// regions answers GET /api/v1/regions?root=&depth=&crs=: the outlines of the region tree under
// root as GeoJSON. Every screen loads it when it starts (the whole demo city is 2.8 MB), so the
// reply is built once per root, depth, CRS and tenant and kept (the tree does not change while
// the process runs): later requests cost no encoding, get it gzipped when they accept it, and
// a browser revalidating its copy (If-None-Match) gets 304 and no body.
func (s *Server) regions(c *fiber.Ctx) error {
	v := principal(c)
	root := c.Query("root", "root")
	if root == "root" {
		var err error
		if root, err = s.home(v); err != nil {
			return err
		}
	}
	if r := s.d.Tree.Get(root); r == nil || !s.inTenant(v, r.Code) {
		return unknownRegion("root", root)
	} else if !s.allows(v, r.Code) {
		return errs.E(errs.Forbidden, "root", "token may not see region %s", r.Code)
	}
	depth := -1
	if d := c.Query("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil {
			return errs.E(errs.Invalid, "depth", "depth must be an integer")
		}
		depth = max(n, -1) // every negative depth is "all levels": one reply
	}
	// Regions are stored in WGS-84; screens get the display CRS (the one live points use), or
	// the one they ask for.
	crs := c.Query("crs", s.cfg.DisplayCRS)
	switch crs {
	case "":
		crs = event.WGS84
	case event.WGS84, event.GCJ02, event.BD09:
	default:
		return errs.E(errs.Invalid, "crs", "crs must be wgs84, gcj02 or bd09")
	}
	r, err := s.regionReplies.get(regionKey{root: root, depth: depth, crs: crs, tenant: v.Tenant}, func() (*regionReply, error) {
		return s.buildRegions(v, root, depth, crs)
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderETag, r.etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if c.Fresh() { // If-None-Match names r.etag (weak comparison) or is "*"
		c.Status(fiber.StatusNotModified)
		return nil
	}
	c.Set(fiber.HeaderContentType, "application/geo+json")
	if c.Context().Request.Header.HasAcceptEncoding("gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(r.gz)
	}
	return c.Send(r.raw)
}

// buildRegions encodes the outlines under root for principal v (a tenant's principal sees no
// parent outside its tenant) in crs.
func (s *Server) buildRegions(v *access.Principal, root string, depth int, crs string) (*regionReply, error) {
	fc, err := s.d.Tree.FeatureCollection(root, depth)
	if err != nil {
		return nil, errs.Wrap(errs.NotFound, "root", err, "unknown region")
	}
	s.trimTenantParents(v, fc)
	if crs == event.GCJ02 || crs == event.BD09 {
		for _, f := range fc.Features {
			f.Geometry = geo.TransformGeometry(f.Geometry, func(lon, lat float64) (float64, float64) { return geo.FromWGS84(crs, lon, lat) })
		}
	}
	raw, err := json.Marshal(fc)
	if err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	// Weak: the gzipped and the plain reply are the same outlines.
	return &regionReply{raw: raw, gz: gz.Bytes(), etag: `W/"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// regionReply is one encoded region reply.
type regionReply struct {
	raw, gz []byte
	etag    string
}

// regionKey names a region reply. A tenant is named by its object: a reload of the access
// configuration makes new ones (and empties the cache, see SetAccess).
type regionKey struct {
	root   string
	depth  int
	crs    string
	tenant *access.Tenant
}

// regionCacheMax bounds the bytes the region replies keep; past it the cache starts over.
const regionCacheMax = 64 << 20

// regionCache keeps region replies by key; concurrent first requests of a key build it once.
type regionCache struct {
	mu    sync.Mutex
	m     map[regionKey]*regionEntry
	bytes int
}

type regionEntry struct {
	once sync.Once
	r    *regionReply
	err  error
}

func (rc *regionCache) get(k regionKey, build func() (*regionReply, error)) (*regionReply, error) {
	rc.mu.Lock()
	e := rc.m[k]
	if e == nil {
		if rc.m == nil || rc.bytes > regionCacheMax {
			rc.m, rc.bytes = map[regionKey]*regionEntry{}, 0
		}
		e = &regionEntry{}
		rc.m[k] = e
	}
	rc.mu.Unlock()
	e.once.Do(func() {
		e.r, e.err = build()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if e.err != nil {
			if rc.m[k] == e {
				delete(rc.m, k) // not kept: the next request tries again
			}
			return
		}
		rc.bytes += len(e.r.raw) + len(e.r.gz)
	})
	return e.r, e.err
}

// reset forgets every reply (the access configuration changed).
func (rc *regionCache) reset() {
	rc.mu.Lock()
	rc.m, rc.bytes = nil, 0
	rc.mu.Unlock()
}
