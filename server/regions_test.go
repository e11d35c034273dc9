package server

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"

	"zhili/event"
	"zhili/geo"
)

// regionsServer is a server of the demo city's tree (display CRS GCJ-02) and a function that
// asks it for query (gzip accepted, If-None-Match inm when given).
func regionsServer(tb testing.TB) (*Server, func(query, inm string) *fasthttp.RequestCtx) {
	tb.Helper()
	tree, err := geo.XinyangTree()
	if err != nil {
		tb.Fatal(err)
	}
	s := New(Config{ViewTokens: map[string]Viewer{"tok": {}}, DisplayCRS: event.GCJ02}, Deps{Tree: tree})
	h := s.App().Handler()
	return s, func(query, inm string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/api/v1/regions?token=tok" + query)
		ctx.Request.Header.Set("Accept-Encoding", "gzip")
		if inm != "" {
			ctx.Request.Header.Set("If-None-Match", inm)
		}
		h(&ctx)
		if c := ctx.Response.StatusCode(); c != 200 && c != 304 {
			tb.Fatalf("%s: %d %s", query, c, ctx.Response.Body())
		}
		return &ctx
	}
}

// Requests that mean the same outlines share one kept reply: every negative depth is all
// levels, and the display CRS named or left out is the same CRS.
func TestRegionRepliesShared(t *testing.T) {
	s, get := regionsServer(t)
	for _, q := range []string{"", "&depth=-1", "&depth=-7", "&crs=gcj02", "&depth=-1&crs=gcj02"} {
		get(q, "")
	}
	get("&depth=1", "")
	if n := len(s.regionReplies.m); n != 2 {
		t.Errorf("%d replies kept, want 2 (all levels in GCJ-02, depth 1)", n)
	}
}

// BenchmarkRegions is a screen's start-up request for the demo city's outlines (all levels, in
// GCJ-02): "built" encodes and compresses the reply as the first request of a key does, "kept"
// serves it from the cache (gzipped), "revalidated" answers a current If-None-Match.
//
//	go test ./server -run '^$' -bench BenchmarkRegions -benchmem
func BenchmarkRegions(b *testing.B) {
	s, get := regionsServer(b)
	first := get("&depth=-1", "")
	etag := string(first.Response.Header.Peek("ETag"))
	b.Logf("%d bytes sent (gzip)", len(first.Response.Body()))
	b.Run("built", func(b *testing.B) {
		for b.Loop() {
			s.regionReplies.reset()
			get("&depth=-1", "")
		}
	})
	b.Run("kept", func(b *testing.B) {
		for b.Loop() {
			get("&depth=-1", "")
		}
	})
	b.Run("revalidated", func(b *testing.B) {
		for b.Loop() {
			if c := get("&depth=-1", etag); c.Response.StatusCode() != 304 {
				b.Fatal(c.Response.StatusCode())
			}
		}
	})
}

// A kept reply stays under its own key: fasthttp reuses a connection's request buffers for the
// next request, so a key made of the request's strings (not copied) would change under the
// cache and answer another region's request with these outlines.
func TestRegionRepliesKeepTheirKeys(t *testing.T) {
	s, _ := regionsServer(t)
	h := s.App().Handler()
	var ctx fasthttp.RequestCtx // one connection's, reused as the server does
	for _, root := range []string{"411502", "411503", "411502"} {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI("/api/v1/regions?token=tok&depth=1&root=" + root)
		h(&ctx)
		body, err := ctx.Response.BodyUncompressed()
		if err != nil || ctx.Response.StatusCode() != 200 {
			t.Fatalf("root %s: %d %v", root, ctx.Response.StatusCode(), err)
		}
		if got := firstRegion(body); got != root {
			t.Errorf("asked for root %s, got the outlines of %q", root, got)
		}
	}
	for k, e := range s.regionReplies.m {
		if got := firstRegion(e.r.raw); got != k.root {
			t.Errorf("a reply kept under root %q holds the outlines of %q", k.root, got)
		}
	}
}

// firstRegion is the code of the first region of a regions reply ("" when it has none).
func firstRegion(raw []byte) string {
	var fc struct {
		Features []struct {
			Properties struct {
				Code string `json:"code"`
			} `json:"properties"`
		} `json:"features"`
	}
	if json.Unmarshal(raw, &fc) != nil || len(fc.Features) == 0 {
		return ""
	}
	return fc.Features[0].Properties.Code
}
