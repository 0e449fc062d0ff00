package api

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// logCollector collects log lines.
type logCollector struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCollector) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *logCollector) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func writeTokens(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	writeTokens(t, tokens, "# ops\n\ntok-alpha-123\n  tok-beta-456  \n")
	var logs logCollector
	a, err := NewAuth(AuthConfig{Credentials: "admin:s3cret:with:colons", TokenFile: tokens, Logf: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(fixtureView())
	s := New(f, Info{HTTPAddr: "127.0.0.1:8080", Auth: a})
	cases := map[string]struct {
		path   string
		header []string // Authorization values
		code   int
	}{
		"ping is open":                {"/ping", nil, 200},
		"no credentials":              {"/v2/apps", nil, 401},
		"basic":                       {"/v2/apps", []string{basic("admin", "s3cret:with:colons")}, 200},
		"basic lower-case scheme":     {"/v2/apps", []string{"basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret:with:colons"))}, 200},
		"wrong password":              {"/v2/apps", []string{basic("admin", "s3cret")}, 401},
		"wrong user":                  {"/v2/apps", []string{basic("root", "s3cret:with:colons")}, 401},
		"password as user":            {"/v2/apps", []string{basic("s3cret:with:colons", "")}, 401},
		"bad base64":                  {"/v2/apps", []string{"Basic !!!"}, 401},
		"bearer":                      {"/v2/apps", []string{"Bearer tok-alpha-123"}, 200},
		"second token, trimmed":       {"/v2/info", []string{"Bearer tok-beta-456"}, 200},
		"dc/os token form":            {"/v2/apps", []string{"token=tok-beta-456"}, 200},
		"unknown token":               {"/v2/apps", []string{"Bearer tok-alpha-12"}, 401},
		"comment is no token":         {"/v2/apps", []string{"Bearer # ops"}, 401},
		"empty bearer":                {"/v2/apps", []string{"Bearer "}, 401},
		"token as basic password":     {"/v2/apps", []string{basic("admin", "tok-alpha-123")}, 401},
		"basic then token (a client)": {"/v2/apps", []string{basic("x", "y"), "token=tok-alpha-123"}, 200},
		"events":                      {"/v2/events", nil, 401},
		"stride endpoints":            {"/stride/v1/state", nil, 401},
		"metrics":                     {"/metrics", nil, 401},
		"subscriptions":               {"/v2/eventSubscriptions", nil, 401},
		"unknown path":                {"/v2/nothing", nil, 401},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := request{path: tc.path, header: map[string]string{}}
			w := doAuth(t, s, r, tc.header)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.code, w.Body)
			}
			if tc.code != 401 {
				return
			}
			if got := w.Header().Values("WWW-Authenticate"); len(got) != 2 || got[0] != `Basic realm="Stride", charset="UTF-8"` || got[1] != `Bearer realm="Stride"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			var body errorBody
			decode(t, w, &body)
			if body.Message != msgUnauthorize || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("401 body %s", w.Body)
			}
			for _, secret := range []string{"s3cret", "tok-", "admin"} {
				if strings.Contains(w.Body.String(), secret) {
					t.Errorf("the 401 echoes %q: %s", secret, w.Body)
				}
			}
		})
	}
	if got := f.Calls(); len(got) != 0 {
		t.Errorf("refused requests reached the backend: %v", got)
	}
	if l := logs.text(); strings.Contains(l, "tok-") || strings.Contains(l, "s3cret") {
		t.Errorf("the log holds a secret:\n%s", l)
	}
	if d := a.Describe(); !strings.Contains(d, `user "admin"`) || !strings.Contains(d, "(2)") || strings.Contains(d, "s3cret") {
		t.Errorf("Describe() = %q", d)
	}
}

func doAuth(t *testing.T, s http.Handler, r request, auth []string) *httptest.ResponseRecorder {
	t.Helper()
	req := newRequest(r)
	for _, v := range auth {
		req.Header.Add("Authorization", v)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	return w
}

// newRequest builds a request as a client on this machine sends it.
func newRequest(r request) *http.Request {
	req := httptest.NewRequest(cmp.Or(r.method, http.MethodGet), r.path, nil)
	req.Host = "127.0.0.1:8080"
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	return req
}

// TestAuthTokenFileReload: the token file is read again when it changes and on
// Reload; a file that cannot be read any more accepts no token (fail closed);
// the log says so without a token.
func TestAuthTokenFileReload(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	writeTokens(t, tokens, "old-token-1\n")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var logs logCollector
	a, err := NewAuth(AuthConfig{TokenFile: tokens, Logf: logs.logf, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(tok string) bool {
		r := newRequest(request{path: "/v2/apps"})
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Allowed(r)
	}
	if !allowed("old-token-1") {
		t.Fatal("token from the file refused")
	}
	writeTokens(t, tokens, "new-token-22\n")
	if !allowed("old-token-1") {
		t.Fatal("the file was read again within a second of the last look (no stat per request)")
	}
	now = now.Add(tokenRecheck)
	if allowed("old-token-1") || !allowed("new-token-22") {
		t.Fatal("a changed file was not read again after a second")
	}
	// SIGHUP: at once.
	writeTokens(t, tokens, "third-token-333\nnew-token-22\n")
	a.Reload()
	if !allowed("third-token-333") {
		t.Fatal("Reload did not read the file")
	}
	// Gone: nothing is accepted.
	if err := os.Remove(tokens); err != nil {
		t.Fatal(err)
	}
	now = now.Add(tokenRecheck)
	if allowed("third-token-333") || allowed("new-token-22") {
		t.Fatal("tokens still accepted after the file was removed")
	}
	writeTokens(t, tokens, "fourth-token-4444\n")
	now = now.Add(tokenRecheck)
	if !allowed("fourth-token-4444") {
		t.Fatal("the file was not read once it was back")
	}
	l := logs.text()
	if !strings.Contains(l, "no bearer token is accepted") || strings.Contains(l, "-token-") {
		t.Errorf("log:\n%s", l)
	}
}

func TestNewAuth(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("t-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		cfg     AuthConfig
		err     string
		log     string
		enabled bool
	}{
		"none":            {cfg: AuthConfig{}},
		"no colon":        {cfg: AuthConfig{Credentials: "admin"}, err: "user:password"},
		"empty user":      {cfg: AuthConfig{Credentials: ":pw"}, err: "user:password"},
		"empty password":  {cfg: AuthConfig{Credentials: "admin:"}, enabled: true},
		"missing file":    {cfg: AuthConfig{TokenFile: filepath.Join(dir, "nope")}, err: "token file"},
		"a directory":     {cfg: AuthConfig{TokenFile: dir}, err: "not a regular file"},
		"readable by all": {cfg: AuthConfig{TokenFile: open}, enabled: true, log: "chmod 600"},
		"empty file":      {cfg: AuthConfig{TokenFile: empty}, enabled: true, log: "holds no token"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var logs logCollector
			tc.cfg.Logf = logs.logf
			a, err := NewAuth(tc.cfg)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("the error holds the password: %v", err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if (a != nil) != tc.enabled {
				t.Fatalf("enabled %v, want %v", a != nil, tc.enabled)
			}
			if tc.log != "" && !strings.Contains(logs.text(), tc.log) {
				t.Errorf("log %q lacks %q", logs.text(), tc.log)
			}
		})
	}
}

func BenchmarkAuthBasic(b *testing.B) {
	a, err := NewAuth(AuthConfig{Credentials: "admin:s3cret"})
	if err != nil {
		b.Fatal(err)
	}
	r := newRequest(request{path: "/v2/apps"})
	r.Header.Set("Authorization", basic("admin", "s3cret"))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !a.Allowed(r) {
			b.Fatal("refused")
		}
	}
}
