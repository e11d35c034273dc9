// Package assets embeds the wall-screen front-end built by `npm run build` (assets/build.mjs)
// into dist/. The sources live in web/; dist/ holds only .keep and .gitignore in the repository,
// so a binary built without the front-end still compiles and reports Built() == false.
package assets

import (
	"embed"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// files is the dist sub-tree with dot files (.keep, .gitignore) hidden.
var files fs.FS = hideDotFiles{mustSub(dist, "dist")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // dir is a constant that go:embed guarantees exists
	}
	return sub
}

// Files returns the built front-end: index.html at its root, the hashed JS and CSS beside it.
func Files() fs.FS { return files }

// Built reports whether the front-end was built before the binary (dist/index.html exists).
// When it is false the server should answer 503 instead of serving a blank page.
func Built() bool {
	_, err := fs.Stat(files, "index.html")
	return err == nil
}

// NotBuiltMessage is the text a server answers (with 503) when Built() is false.
const NotBuiltMessage = "front-end not built: run make build / 前端未构建：请先运行 make build\n"

// hashedName matches the names build.mjs gives to content-addressed files: name.<10 hex>.ext.
var hashedName = regexp.MustCompile(`^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.[0-9a-f]{10}\.(?:js|css|png|svg|woff2|json)$`)

// Hashed reports whether name (a path within Files, with or without a leading slash) carries a
// content hash, so that it may be cached forever.
func Hashed(name string) bool {
	return hashedName.MatchString(path.Base(name))
}

// CacheControl returns the Cache-Control header value for a file of Files: immutable for hashed
// names, no-cache (always revalidate) for index.html and anything else.
func CacheControl(name string) string {
	if Hashed(name) {
		return "public, max-age=31536000, immutable"
	}
	return "no-cache"
}

// hideDotFiles hides names whose last element starts with a dot.
type hideDotFiles struct{ fs fs.FS }

func isDot(name string) bool {
	b := path.Base(name)
	return strings.HasPrefix(b, ".") && b != "."
}

func (h hideDotFiles) Open(name string) (fs.File, error) {
	if isDot(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return h.fs.Open(name)
}

func (h hideDotFiles) ReadDir(name string) ([]fs.DirEntry, error) {
	if isDot(name) {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	all, err := fs.ReadDir(h.fs, name)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e)
		}
	}
	return out, nil
}
