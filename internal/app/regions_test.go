package app

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"
)

// The region outlines every screen loads at start: the same bytes gzipped for a client that
// accepts it, a validator, and 304 with no body when the screen's copy is current; another CRS
// or depth is another reply.
func TestRegionsCachedAndCompressed(t *testing.T) {
	a := startApp(t, t.TempDir())
	base := "http://" + a.Addr
	get := func(query, enc, inm string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/api/v1/regions?token="+testToken+query, nil)
		// Set explicitly, so the client hands over the body as sent.
		req.Header.Set("Accept-Encoding", enc)
		if inm != "" {
			req.Header.Set("If-None-Match", inm)
		}
		return roundTrip(t, req)
	}
	plain, raw := get("", "identity", "")
	if plain.StatusCode != 200 || plain.Header.Get("Content-Encoding") != "" || len(raw) == 0 {
		t.Fatalf("plain: %s, encoding %q, %d bytes", plain.Status, plain.Header.Get("Content-Encoding"), len(raw))
	}
	etag := plain.Header.Get("ETag")
	if etag == "" || plain.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("plain: ETag %q, Cache-Control %q", etag, plain.Header.Get("Cache-Control"))
	}
	zipped, zb := get("", "gzip, deflate", "")
	if zipped.StatusCode != 200 || zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("ETag") != etag ||
		zipped.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %s, encoding %q, ETag %q (plain %q), Vary %q", zipped.Status, zipped.Header.Get("Content-Encoding"),
			zipped.Header.Get("ETag"), etag, zipped.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zb))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, raw) {
		t.Fatalf("gunzipped reply (%d bytes, %v) differs from the plain one (%d bytes)", len(unzipped), err, len(raw))
	}
	if len(zb)*2 > len(raw) {
		t.Errorf("gzip %d bytes for %d: not compressed", len(zb), len(raw))
	}
	t.Logf("%d bytes, %d gzipped, ETag %s", len(raw), len(zb), etag)

	// A screen revalidating its copy.
	for _, inm := range []string{etag, `"other", ` + etag, "*"} {
		if resp, b := get("", "gzip", inm); resp.StatusCode != http.StatusNotModified || len(b) != 0 || resp.Header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %s, %d bytes, ETag %q", inm, resp.Status, len(b), resp.Header.Get("ETag"))
		}
	}
	if resp, b := get("", "identity", `W/"stale"`); resp.StatusCode != 200 || !bytes.Equal(b, raw) {
		t.Errorf("stale If-None-Match: %s, %d bytes", resp.Status, len(b))
	}
	// Other CRS, other depth: other outlines, other validators, each the same on a second request.
	seen := map[string]string{"": etag}
	for _, q := range []string{"&crs=wgs84", "&crs=gcj02", "&depth=0"} {
		r1, b1 := get(q, "identity", "")
		r2, b2 := get(q, "identity", "")
		e := r1.Header.Get("ETag")
		if r1.StatusCode != 200 || e == "" || r2.Header.Get("ETag") != e || !bytes.Equal(b1, b2) {
			t.Errorf("%s: %s, ETag %q then %q", q, r1.Status, e, r2.Header.Get("ETag"))
		}
		for k, o := range seen {
			if o == e && k != "" && q != "" {
				t.Errorf("%s and %s share ETag %s", q, k, e)
			}
		}
		seen[q] = e
	}
	if seen["&depth=0"] == etag || seen["&crs=wgs84"] == seen["&crs=gcj02"] {
		t.Errorf("validators do not follow the reply: %v", seen)
	}
	// Refusals are not cached answers.
	if resp, _ := get("&crs=utm", "identity", etag); resp.StatusCode != 400 {
		t.Errorf("crs=utm with a current ETag: %s, want 400", resp.Status)
	}
}
