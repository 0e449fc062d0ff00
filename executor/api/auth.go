package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Authentication. With Auth configured, every request but GET /ping must carry
// one of:
//
//   - HTTP basic auth with the configured user and password (Marathon's
//     --http_credentials);
//   - a bearer token from the token file: "Authorization: Bearer <token>", or
//     DC/OS' "Authorization: token=<token>", which Marathon clients send.
//
// A request without them is answered 401 with a Marathon error body and a
// WWW-Authenticate header per scheme; nothing else runs. Secrets are compared
// in constant time (through their SHA-256, so that neither content nor length
// shows in the timing), and never logged or echoed.
//
// The token file holds one token a line; blank lines and lines starting with #
// are ignored. It is read again when it changes (checked at most once a
// second, on requests) and on Reload (SIGHUP). A file that cannot be read
// accepts no token at all until it can: removing it revokes every token.

// AuthConfig configures Auth.
type AuthConfig struct {
	// Credentials is "user:password" for HTTP basic auth ("": none). The user
	// must not be empty nor contain ':'.
	Credentials string
	// TokenFile is the bearer token file ("": none).
	TokenFile string
	// Logf receives the token file's reloads and problems (never a secret).
	Logf func(format string, args ...any)
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Auth checks the API's callers. Create it with NewAuth; a nil *Auth lets every
// request through.
type Auth struct {
	cfg      AuthConfig
	user     [32]byte
	password [32]byte
	basic    bool

	tokens atomic.Pointer[tokenSet]
	// checked is when the token file was last looked at (UnixNano).
	checked atomic.Int64
	reload  sync.Mutex
}

// tokenSet is the tokens of one reading of the file, as SHA-256 sums.
type tokenSet struct {
	sums  [][32]byte
	stamp fileStamp
}

// fileStamp tells whether the token file changed.
type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// Limits of the token file.
const (
	maxTokenFile   = 1 << 20
	maxTokens      = 10_000
	tokenRecheck   = time.Second
	authRealm      = "Stride"
	msgUnauthorize = "Unauthorized: this API needs credentials: HTTP basic auth (the stride CLI sends -http-credentials or $STRIDE_HTTP_CREDENTIALS) or a bearer token ($STRIDE_HTTP_TOKEN)"
)

// NewAuth returns the checks configured (nil when neither credentials nor a
// token file are). A token file that cannot be read is an error here; later it
// only revokes the tokens.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	if cfg.Credentials == "" && cfg.TokenFile == "" {
		return nil, nil
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Auth{cfg: cfg}
	if cfg.Credentials != "" {
		user, pass, ok := strings.Cut(cfg.Credentials, ":")
		if !ok || user == "" {
			return nil, errors.New("http credentials must be user:password (a user name without ':')")
		}
		a.user, a.password, a.basic = sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass)), true
	}
	if cfg.TokenFile != "" {
		set, err := readTokens(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		if len(set.sums) == 0 {
			cfg.Logf("warning: the token file %s holds no token: no bearer token is accepted", cfg.TokenFile)
		}
		a.warnMode()
		a.tokens.Store(set)
		a.checked.Store(cfg.Now().UnixNano())
	}
	return a, nil
}

// Describe says what the checks are, for the server's log (no secret).
func (a *Auth) Describe() string {
	if a == nil {
		return "none"
	}
	var parts []string
	if a.basic {
		user, _, _ := strings.Cut(a.cfg.Credentials, ":")
		parts = append(parts, fmt.Sprintf("HTTP basic auth (user %q)", user))
	}
	if a.cfg.TokenFile != "" {
		n := 0
		if set := a.tokens.Load(); set != nil {
			n = len(set.sums)
		}
		parts = append(parts, fmt.Sprintf("bearer tokens from %s (%d)", a.cfg.TokenFile, n))
	}
	return strings.Join(parts, " or ")
}

// Reload reads the token file again (SIGHUP).
func (a *Auth) Reload() {
	if a == nil || a.cfg.TokenFile == "" {
		return
	}
	a.reload.Lock()
	defer a.reload.Unlock()
	a.load()
}

// load reads the token file; callers hold reload.
func (a *Auth) load() {
	a.checked.Store(a.cfg.Now().UnixNano())
	set, err := readTokens(a.cfg.TokenFile)
	if err != nil {
		if old := a.tokens.Load(); old == nil || old.stamp.ok || len(old.sums) > 0 {
			a.cfg.Logf("%v: no bearer token is accepted until it can be read", err)
		}
		a.tokens.Store(&tokenSet{})
		return
	}
	if old := a.tokens.Load(); old == nil || old.stamp != set.stamp {
		a.cfg.Logf("token file %s read: %d token(s)", a.cfg.TokenFile, len(set.sums))
		a.warnMode()
	}
	a.tokens.Store(set)
}

// warnMode logs when the token file can be read by other users.
func (a *Auth) warnMode() {
	if fi, err := os.Stat(a.cfg.TokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		a.cfg.Logf("warning: the token file %s can be read by other users (mode %v): chmod 600 it", a.cfg.TokenFile, fi.Mode().Perm())
	}
}

// refresh reads the token file again when it changed (looked at once a second
// at most; a reload under way is not waited for).
func (a *Auth) refresh() {
	now := a.cfg.Now()
	if now.UnixNano()-a.checked.Load() < int64(tokenRecheck) || !a.reload.TryLock() {
		return
	}
	defer a.reload.Unlock()
	a.checked.Store(now.UnixNano())
	if stampOf(a.cfg.TokenFile) == a.tokens.Load().stamp {
		return
	}
	a.load()
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// readTokens reads a token file.
func readTokens(path string) (*tokenSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("token file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if len(data) > maxTokenFile {
		return nil, fmt.Errorf("token file %s is larger than %d bytes", path, maxTokenFile)
	}
	set := &tokenSet{stamp: fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxTokenFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(set.sums) == maxTokens {
			return nil, fmt.Errorf("token file %s holds more than %d tokens", path, maxTokens)
		}
		set.sums = append(set.sums, sha256.Sum256([]byte(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return set, nil
}

// Check lets r through when it carries valid credentials (or Auth is nil);
// otherwise it answers 401 and returns false.
func (a *Auth) Check(w http.ResponseWriter, r *http.Request) bool {
	if a == nil || a.Allowed(r) {
		return true
	}
	h := w.Header()
	if a.basic {
		h.Add("WWW-Authenticate", `Basic realm="`+authRealm+`", charset="UTF-8"`)
	}
	if a.cfg.TokenFile != "" {
		h.Add("WWW-Authenticate", `Bearer realm="`+authRealm+`"`)
	}
	writeError(w, http.StatusUnauthorized, msgUnauthorize)
	return false
}

// Allowed reports whether r carries valid credentials. Every Authorization
// header is considered (a client may send basic auth and a token).
func (a *Auth) Allowed(r *http.Request) bool {
	if a == nil {
		return true
	}
	if a.cfg.TokenFile != "" {
		a.refresh()
	}
	for _, v := range r.Header.Values("Authorization") {
		if a.valid(v) {
			return true
		}
	}
	return false
}

// valid checks one Authorization header value.
func (a *Auth) valid(v string) bool {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	switch {
	case strings.EqualFold(scheme, "Basic") && a.basic:
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		// Both compared whatever the first gives: no early exit to time.
		okUser := subtle.ConstantTimeCompare(u[:], a.user[:])
		okPass := subtle.ConstantTimeCompare(p[:], a.password[:])
		return ok && okUser&okPass == 1
	case strings.EqualFold(scheme, "Bearer"):
		return a.validToken(strings.TrimSpace(rest))
	case strings.HasPrefix(scheme, "token="):
		// DC/OS' form, sent by Marathon clients configured with a DC/OS token.
		return a.validToken(strings.TrimPrefix(scheme, "token="))
	}
	return false
}

func (a *Auth) validToken(t string) bool {
	set := a.tokens.Load()
	if set == nil || t == "" {
		return false
	}
	sum := sha256.Sum256([]byte(t))
	found := 0
	for i := range set.sums {
		found |= subtle.ConstantTimeCompare(sum[:], set.sums[i][:])
	}
	return found == 1
}
