package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"
)

func serve(method, target string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	Handler().ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	index, err := assets.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	app, err := assets.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		method, path string
		header       map[string]string
		code         int
		ctype        string
		location     string
		body         []byte // nil: not checked
		message      string // the JSON error's message, when set
	}{
		"the page":                 {method: "GET", path: "/ui/", code: 200, ctype: "text/html; charset=utf-8", body: index},
		"index.html by name":       {method: "GET", path: "/ui/index.html", code: 200, ctype: "text/html; charset=utf-8", body: index},
		"a module":                 {method: "GET", path: "/ui/app.js", code: 200, ctype: "text/javascript; charset=utf-8", body: app},
		"the style sheet":          {method: "GET", path: "/ui/style.css", code: 200, ctype: "text/css; charset=utf-8"},
		"a vendored module":        {method: "GET", path: "/ui/vendor/preact/preact.module.js", code: 200, ctype: "text/javascript; charset=utf-8"},
		"a licence":                {method: "GET", path: "/ui/vendor/htm/LICENSE", code: 200, ctype: "text/plain; charset=utf-8"},
		"the icon":                 {method: "GET", path: "/ui/favicon.svg", code: 200, ctype: "image/svg+xml"},
		"HEAD has no body":         {method: "HEAD", path: "/ui/app.js", code: 200, ctype: "text/javascript; charset=utf-8", body: []byte{}},
		"/ui goes to /ui/":         {method: "GET", path: "/ui", code: 301, location: "/ui/"},
		"the query is kept":        {method: "GET", path: "/ui?x=1", code: 301, location: "/ui/?x=1"},
		"an unknown file":          {method: "GET", path: "/ui/nope.js", code: 404, message: "Not found: /ui/nope.js"},
		"no directory listing":     {method: "GET", path: "/ui/vendor/", code: 404, message: "Not found: /ui/vendor/"},
		"no way out of the assets": {method: "GET", path: "/ui/../ui.go", code: 404},
		"another prefix":           {method: "GET", path: "/v2/apps", code: 404},
		"a write":                  {method: "POST", path: "/ui/", code: 405, message: "HTTP method POST is not supported by this URL (supported: GET, HEAD)"},
		"a delete":                 {method: "DELETE", path: "/ui/app.js", code: 405},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := serve(tc.method, tc.path, tc.header)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.ctype != "" && w.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type %q, want %q", w.Header().Get("Content-Type"), tc.ctype)
			}
			if tc.location != "" && w.Header().Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", w.Header().Get("Location"), tc.location)
			}
			if tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
				t.Errorf("body differs from the embedded file (%d bytes, want %d)", w.Body.Len(), len(tc.body))
			}
			if tc.code >= 400 {
				var e struct{ Message string }
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
					t.Fatalf("error body is not Marathon's {\"message\"}: %q", w.Body)
				}
				if tc.message != "" && e.Message != tc.message {
					t.Errorf("message %q, want %q", e.Message, tc.message)
				}
			}
			if tc.code == 405 && w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", w.Header().Get("Allow"))
			}
			if tc.code == 200 {
				for k, want := range map[string]string{
					"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-cache",
					"Cross-Origin-Resource-Policy": "same-origin",
				} {
					if got := w.Header().Get(k); got != want {
						t.Errorf("%s: %q, want %q", k, got, want)
					}
				}
				if !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Errorf("no frame-ancestors in the policy: %q", w.Header().Get("Content-Security-Policy"))
				}
			}
		})
	}
}

func TestConditionalAndCompressed(t *testing.T) {
	w := serve("GET", "/ui/app.js", nil)
	etag := w.Header().Get("ETag")
	if etag == "" || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("plain answer: ETag %q, Content-Encoding %q", etag, w.Header().Get("Content-Encoding"))
	}
	plain := w.Body.Bytes()

	tests := map[string]struct {
		header map[string]string
		code   int
		gzip   bool
	}{
		"the same ETag":            {header: map[string]string{"If-None-Match": etag}, code: 304},
		"one of several":           {header: map[string]string{"If-None-Match": `"x", ` + etag}, code: 304},
		"a weak match":             {header: map[string]string{"If-None-Match": "W/" + etag}, code: 304},
		"another ETag":             {header: map[string]string{"If-None-Match": `"0000"`}, code: 200},
		"gzip accepted":            {header: map[string]string{"Accept-Encoding": "gzip, deflate, br"}, code: 200, gzip: true},
		"gzip refused with q=0":    {header: map[string]string{"Accept-Encoding": "gzip;q=0, br"}, code: 200},
		"only another coding":      {header: map[string]string{"Accept-Encoding": "br"}, code: 200},
		"gzip with a low priority": {header: map[string]string{"Accept-Encoding": "br, gzip;q=0.5"}, code: 200, gzip: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := serve("GET", "/ui/app.js", tc.header)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			if tc.code == 304 {
				if w.Body.Len() != 0 {
					t.Errorf("304 with a body")
				}
				return
			}
			body := w.Body.Bytes()
			if tc.gzip {
				if w.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("not gzipped")
				}
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			} else if w.Header().Get("Content-Encoding") != "" {
				t.Fatalf("Content-Encoding %q", w.Header().Get("Content-Encoding"))
			}
			if !bytes.Equal(body, plain) {
				t.Errorf("body differs from the plain one")
			}
			if w.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary %q", w.Header().Get("Vary"))
			}
		})
	}
}

// TestPolicyAllowsTheImportMap: the page's one inline script is allowed by its
// hash, and nothing else inline is.
func TestPolicyAllowsTheImportMap(t *testing.T) {
	index, _ := assets.ReadFile("assets/index.html")
	const open = `<script type="importmap">`
	i := bytes.Index(index, []byte(open))
	j := bytes.Index(index[i:], []byte("</script>"))
	if i < 0 || j < 0 {
		t.Fatal("index.html has no import map")
	}
	sum := sha256.Sum256(index[i+len(open) : i+j])
	want := "script-src 'self' 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "';"
	got := serve("GET", "/ui/", nil).Header().Get("Content-Security-Policy")
	if !strings.Contains(got, want) {
		t.Errorf("policy %q\nlacks %q", got, want)
	}
	if strings.Contains(got, "unsafe-inline") || strings.Contains(got, "unsafe-eval") {
		t.Errorf("policy allows inline code: %q", got)
	}
	if n := bytes.Count(index, []byte("<script")); n != 2 {
		t.Errorf("index.html has %d scripts; the policy allows the import map and app.js only", n)
	}
	var m struct{ Imports map[string]string }
	if err := json.Unmarshal(index[i+len(open):i+j], &m); err != nil {
		t.Fatalf("import map: %v", err)
	}
	for spec, target := range m.Imports {
		if _, err := fs.Stat(assets, path.Join("assets", target)); err != nil {
			t.Errorf("import map: %s -> %s: %v", spec, target, err)
		}
	}
}

// TestModulesResolve: every import of every module names an embedded file or
// an entry of the import map, so no page fails on a missing module.
func TestModulesResolve(t *testing.T) {
	index, _ := assets.ReadFile("assets/index.html")
	mapped := map[string]bool{"preact": true, "preact/hooks": true, "htm": true}
	for spec := range mapped {
		if !strings.Contains(string(index), `"`+spec+`":`) {
			t.Errorf("the import map lacks %q", spec)
		}
	}
	imports := regexp.MustCompile(`(?m)(?:^|;)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") || strings.Contains(p, "/vendor/") {
			return err
		}
		src, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range imports.FindAllSubmatch(src, -1) {
			spec := string(m[1])
			if mapped[spec] {
				continue
			}
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q: neither relative nor in the import map", p, spec)
				continue
			}
			target := path.Join(path.Dir(p), spec)
			if _, err := fs.Stat(assets, target); err != nil {
				t.Errorf("%s imports %q: %v", p, spec, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestVendoredFiles: the vendored libraries are the npm files VENDOR.md names,
// byte for byte, each with its licence.
func TestVendoredFiles(t *testing.T) {
	doc, err := os.ReadFile("VENDOR.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := regexp.MustCompile(`(?m)^([0-9a-f]{64})  (\S+)$`).FindAllStringSubmatch(string(doc), -1)
	if len(listed) == 0 {
		t.Fatal("VENDOR.md lists no hashes")
	}
	seen := map[string]bool{}
	for _, l := range listed {
		body, err := assets.ReadFile("assets/vendor/" + l[2])
		if err != nil {
			t.Errorf("%s: %v", l[2], err)
			continue
		}
		sum := sha256.Sum256(body)
		if got := hex.EncodeToString(sum[:]); got != l[1] {
			t.Errorf("%s: sha256 %s, VENDOR.md says %s", l[2], got, l[1])
		}
		seen[l[2]] = true
	}
	err = fs.WalkDir(assets, "assets/vendor", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimPrefix(p, "assets/vendor/")
		if path.Base(name) == "LICENSE" {
			return nil
		}
		if !seen[name] {
			t.Errorf("%s is vendored but not listed in VENDOR.md", name)
		}
		if _, err := fs.Stat(assets, path.Join(path.Dir(p), "LICENSE")); err != nil {
			t.Errorf("%s has no LICENSE beside it", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSizeBudget: the UI adds at most 2 MB to the binary (the assets are most
// of it; the handler's code is a few kB).
func TestSizeBudget(t *testing.T) {
	if n := Size(); n <= 0 || n > 2<<20 {
		t.Errorf("the embedded assets take %d bytes; the budget is 2 MB", n)
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := map[string]bool{
		"": false, "gzip": true, "GZIP": true, "deflate, gzip": true, "gzip;q=0": false, "gzip; q=0.000": false,
		"gzip;q=0.1": true, "x-gzip": false, "*": false,
	}
	for h, want := range tests {
		t.Run(h, func(t *testing.T) {
			if got := acceptsGzip(h); got != want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
			}
		})
	}
}

var _ http.Handler = handler{}
