// Package ui is Stride's web UI: a few ES modules, a style sheet and two small
// libraries from npm (Preact and htm, see VENDOR.md), embedded in the binary and
// served at /ui/ by executor/api — after the API's browser-safety guard and
// behind whatever wraps the API, so the UI is exactly as reachable as the API
// it calls. Nothing is fetched from elsewhere and nothing needs building: the
// files under assets/ are what the browser runs.
//
// The pages read Marathon's /v2 resources and Stride's /stride/v1 extras, act
// through Marathon's write endpoints, and stay live by following /v2/events
// (reconnecting with Last-Event-ID).
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"sync"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the UI is served under.
const Prefix = "/ui/"

// Handler returns the UI's handler. It serves GET and HEAD of Prefix (the
// page) and of the files under it, and sends /ui to /ui/. Responses carry an
// ETag (If-None-Match gets 304), are gzipped for clients that accept it, and
// carry a strict Content-Security-Policy: scripts and styles from this server
// only, connections to this server only, no framing (the UI has buttons that
// act: it must not be clickjacked), no plugins, no form posts.
func Handler() http.Handler {
	load()
	return handler{}
}

// file is one embedded asset, ready to serve.
type file struct {
	body  []byte
	gz    []byte // nil when gzip does not pay
	etag  string
	ctype string
}

var (
	loadOnce sync.Once
	files    map[string]*file
	csp      string
)

// importMap finds the page's import map, the one inline script (its hash goes
// into the policy).
var importMap = regexp.MustCompile(`(?s)<script type="importmap">(.*?)</script>`)

// load reads the embedded assets once.
func load() {
	loadOnce.Do(func() {
		files = map[string]*file{}
		err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			body, err := assets.ReadFile(p)
			if err != nil {
				return err
			}
			name := strings.TrimPrefix(p, "assets/")
			files[name] = newFile(name, body)
			return nil
		})
		if err != nil {
			// The assets are compiled in: this cannot happen at run time.
			panic(fmt.Sprintf("ui: reading the embedded assets: %v", err))
		}
		csp = policy(files["index.html"].body)
	})
}

func newFile(name string, body []byte) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	f.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		f.ctype = "text/javascript; charset=utf-8"
	case ".css":
		f.ctype = "text/css; charset=utf-8"
	case ".html":
		f.ctype = "text/html; charset=utf-8"
	case ".svg":
		f.ctype = "image/svg+xml"
	case ".png":
		f.ctype = "image/png"
	case "":
		f.ctype = "text/plain; charset=utf-8" // LICENSE
	}
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	if len(body) > 512 && !strings.HasPrefix(f.ctype, "image/png") {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if b.Len() < len(body)*9/10 {
			f.gz = b.Bytes()
		}
	}
	return f
}

// policy is the Content-Security-Policy of every response: the page's import
// map is allowed by its hash, nothing else inline.
func policy(index []byte) string {
	script := "'self'"
	if m := importMap.FindSubmatch(index); m != nil {
		sum := sha256.Sum256(m[1])
		script += " 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	return "default-src 'none'; script-src " + script + "; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported by this URL (supported: GET, HEAD)")
		return
	}
	if p == strings.TrimSuffix(Prefix, "/") {
		target := Prefix
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		writeError(w, http.StatusNotFound, "Not found: "+p)
		return
	}
	if name == "" {
		name = "index.html"
	}
	f := files[name]
	if f == nil {
		writeError(w, http.StatusNotFound, "Not found: "+p)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Revalidated on every load (a new binary serves new files at the same
	// paths); a 304 costs a header.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.ctype)
	body := f.body
	if f.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// etagMatches applies If-None-Match: a list of tags, or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding allows gzip (and does not refuse
// it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// writeError answers with Marathon's error shape, as the API does.
func writeError(w http.ResponseWriter, code int, msg string) {
	body, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}

// Size is the number of bytes the embedded assets take (what the UI adds to
// the binary, besides this code).
func Size() int {
	load()
	n := 0
	for _, f := range files {
		n += len(f.body)
	}
	return n
}
