package assets

import (
	"io/fs"
	"testing"
)

func TestHashed(t *testing.T) {
	for name, want := range map[string]bool{
		"app.0123456789.js":       true,
		"/echarts.a1b2c3d4e5.js":  true,
		"style.ffffffffff.css":    true,
		"index.html":              false,
		"app.js":                  false,
		"app.0123456789.js.map":   false,
		"app.012345678.js":        false,
		"app.0123456789ABCDEF.js": false,
	} {
		if got := Hashed(name); got != want {
			t.Errorf("Hashed(%q) = %v, want %v", name, got, want)
		}
	}
	if got := CacheControl("index.html"); got != "no-cache" {
		t.Errorf("CacheControl(index.html) = %q", got)
	}
	if got := CacheControl("app.0123456789.js"); got != "public, max-age=31536000, immutable" {
		t.Errorf("CacheControl(hashed) = %q", got)
	}
}

func TestDotFilesHidden(t *testing.T) {
	if _, err := fs.Stat(Files(), ".keep"); err == nil {
		t.Error(".keep is visible through Files()")
	}
	entries, err := fs.ReadDir(Files(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("ReadDir lists %s", e.Name())
		}
	}
	// Built depends on whether npm run build ran; both are valid, it must only not panic.
	t.Logf("Built() = %v", Built())
}
