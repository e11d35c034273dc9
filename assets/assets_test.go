package assets

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
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

// topLevelFunc matches a function definition at a script's top level, or in the scope of the
// one IIFE wrapping it (indented at most two spaces): `function name(`, `const name = (…) =>`
// and `name = function` (check-dupes.mjs, run by the build, uses the same rules).
var topLevelFunc = []*regexp.Regexp{
	regexp.MustCompile(`^ {0,2}(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(`),
	regexp.MustCompile(`^ {0,2}(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>`),
	regexp.MustCompile(`^ {0,2}(?:(?:const|let|var)\s+)?([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?function\b`),
}

// TestNoFunctionDefinedTwice checks that the pages share code through the kit (web/kit*.js):
// no top-level function name is defined in two scripts under web/.
func TestNoFunctionDefinedTwice(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("web", "*.js"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts under web/ (%v)", err)
	}
	where := map[string][]string{}
	for _, file := range scripts {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(string(src), "\n") {
			for _, re := range topLevelFunc {
				if m := re.FindStringSubmatch(line); m != nil && !seen[m[1]] {
					seen[m[1]] = true
					where[m[1]] = append(where[m[1]], filepath.Base(file))
				}
			}
		}
		if len(seen) == 0 && !strings.HasPrefix(filepath.Base(file), "kit") && filepath.Base(file) != "live.js" {
			t.Errorf("%s: no function found; has the pattern stopped matching?", file)
		}
	}
	names := make([]string, 0, len(where))
	for name := range where {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if files := where[name]; len(files) > 1 {
			t.Errorf("function %s is defined in %s: move it into the kit (web/kit*.js) or rename it", name, strings.Join(files, " and "))
		}
	}
}

// TestKit runs the kit's own tests (kit.test.mjs) with Node.
func TestKit(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" {
			t.Fatal("node is not on PATH and ZHILI_REQUIRE_SERVICES=1: the kit tests (assets/kit.test.mjs) cannot run")
		}
		t.Skip("node is not on PATH: skipping the kit tests (assets/kit.test.mjs); install Node 20 to run them")
	}
	cmd := exec.Command(node, "--test", "kit.test.mjs")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test kit.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("node --test kit.test.mjs reported no clean run:\n%s", out)
	}
}

// kitScripts are the kit's files in the order every page loads them.
var kitScripts = []string{"kit.js", "kit-time.js", "kit-texts.js", "kit-map.js", "kit-chrome.js", "kit-alerts.js"}

// TestPagesLoadTheKit checks every built page: it loads the kit, in order, then live.js, before
// its own script (the last one), every script it names is in dist, and a live screen loads the
// frame cap first.
func TestPagesLoadTheKit(t *testing.T) {
	if !Built() {
		if os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" {
			t.Fatal("the front-end is not built (run make assets) and ZHILI_REQUIRE_SERVICES=1")
		}
		t.Skip("the front-end is not built (run make assets): no page to check")
	}
	pages, err := fs.Glob(Files(), "*.html")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"index.html": "app.js", "hotspots.html": "hotspots.js", "whistles.html": "whistles.js", "audit.html": "audit.js", "evaluation.html": "evaluation.js", "briefing.html": "briefing.js", "alerts.html": "alerts.js"}
	for page := range want {
		if !slices.Contains(pages, page) {
			t.Errorf("dist has no %s", page)
		}
	}
	srcRE := regexp.MustCompile(`<script[^>]*\ssrc="([^"]+)"`)
	unhash := regexp.MustCompile(`\.[0-9a-f]{10}\.js$`)
	for _, page := range pages {
		html, err := fs.ReadFile(Files(), page)
		if err != nil {
			t.Fatal(err)
		}
		var scripts []string // logical names, in order
		for _, m := range srcRE.FindAllStringSubmatch(string(html), -1) {
			name := strings.TrimPrefix(m[1], "/")
			if _, err := fs.Stat(Files(), name); err != nil {
				t.Errorf("%s: script %s is not in dist", page, m[1])
			}
			scripts = append(scripts, unhash.ReplaceAllString(name, ".js"))
		}
		if len(scripts) == 0 {
			t.Errorf("%s: no script", page)
			continue
		}
		// The live screens cap their animation frames before anything asks for one (ECharts
		// takes requestAnimationFrame when it loads).
		if page == "index.html" || page == "hotspots.html" || page == "whistles.html" {
			if scripts[0] != "kit-frames.js" {
				t.Errorf("%s: first script %s, want kit-frames.js (scripts %v)", page, scripts[0], scripts)
			}
		}
		own := scripts[len(scripts)-1]
		if w, ok := want[page]; ok && own != w {
			t.Errorf("%s: last script is %s, want its page script %s", page, own, w)
		}
		at := -1
		for _, k := range append(slices.Clone(kitScripts), "live.js") {
			i := slices.Index(scripts, k)
			switch {
			case i < 0:
				t.Errorf("%s does not load %s (scripts %v)", page, k, scripts)
			case i < at:
				t.Errorf("%s loads %s out of order (scripts %v)", page, k, scripts)
			case i >= len(scripts)-1:
				t.Errorf("%s loads %s after its page script (scripts %v)", page, k, scripts)
			default:
				at = i
			}
		}
	}
}
