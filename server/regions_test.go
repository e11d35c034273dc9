package server

import (
	"testing"

	"github.com/valyala/fasthttp"

	"zhili/event"
	"zhili/geo"
)

// BenchmarkRegions is a screen's start-up request for the demo city's outlines (all levels, in
// GCJ-02): "built" encodes and compresses the reply as the first request of a key does, "kept"
// serves it from the cache (gzipped), "revalidated" answers a current If-None-Match.
//
//	go test ./server -run '^$' -bench BenchmarkRegions -benchmem
func BenchmarkRegions(b *testing.B) {
	tree, err := geo.XinyangTree()
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{ViewTokens: map[string]Viewer{"tok": {}}, DisplayCRS: event.GCJ02}, Deps{Tree: tree})
	h := s.App().Handler()
	serve := func(b *testing.B, inm string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI("/api/v1/regions?depth=-1&token=tok")
		ctx.Request.Header.Set("Accept-Encoding", "gzip")
		if inm != "" {
			ctx.Request.Header.Set("If-None-Match", inm)
		}
		h(&ctx)
		if c := ctx.Response.StatusCode(); c != 200 && c != 304 {
			b.Fatalf("%d %s", c, ctx.Response.Body())
		}
		return &ctx
	}
	first := serve(b, "")
	etag := string(first.Response.Header.Peek("ETag"))
	b.Logf("%d bytes sent (gzip)", len(first.Response.Body()))
	b.Run("built", func(b *testing.B) {
		for b.Loop() {
			s.regionReplies.reset()
			serve(b, "")
		}
	})
	b.Run("kept", func(b *testing.B) {
		for b.Loop() {
			serve(b, "")
		}
	})
	b.Run("revalidated", func(b *testing.B) {
		for b.Loop() {
			if c := serve(b, etag); c.Response.StatusCode() != 304 {
				b.Fatal(c.Response.StatusCode())
			}
		}
	})
}
