package api

import (
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Browser safety. The API runs commands (an app's cmd) on the server's machine, so
// no web page the operator happens to visit may drive it:
//
//   - Host: a request must name this server — an IP address it listens on, a
//     loopback name, this machine's hostname, or a configured hostname. A page on evil.example that
//     re-binds its DNS name to 127.0.0.1 reaches the port, but its requests carry
//     "Host: evil.example" and are refused (DNS rebinding).
//   - Origin: browsers send Origin with every cross-origin request and every POST.
//     A request whose Origin is not this server's own (scheme://Host) nor in the
//     allowed list is refused, whatever its method: a plain-text form POST (which
//     needs no CORS preflight) never reaches a handler. Sec-Fetch-Site: cross-site
//     without an Origin (older fetch paths) is refused the same way.
//   - Content-Type: a request that changes state and carries a body must say
//     application/json; a form or text/plain body is refused before it is read.
//
// Every refusal is a 403 with a Marathon error body saying what to configure, and
// nothing runs. Clients that are not browsers (curl, Marathon client libraries,
// the stride CLI) send neither Origin nor Sec-Fetch-Site and are not affected.

// Guard configures the browser-safety checks.
type Guard struct {
	// ListenAddr is the address the server listens on (host:port); its host is
	// always allowed, and an unspecified one (0.0.0.0, ::) allows every IP address.
	ListenAddr string
	// Hostnames are further names clients may use in Host (-http-hostnames):
	// "stride.example.com", or ".example.com" for every name under it.
	Hostnames []string
	// AllowedOrigins are origins other than the server's own whose pages may use the
	// API (-http-allowed-origins): "https://ui.example.com", or "*" for any (which
	// gives up the protection; for development only). Responses to them carry CORS
	// headers, and their preflights are answered.
	AllowedOrigins []string
}

// Refusal messages.
const (
	msgForeignHost   = "Host %q is not a name of this server: requests must use its address, a loopback name, or a name given with -http-hostnames (this protects against DNS rebinding)"
	msgForeignOrigin = "requests from origin %q are refused: only the server's own pages, and origins given with -http-allowed-origins, may use this API"
	msgCrossSite     = "cross-site requests are refused: only the server's own pages, and origins given with -http-allowed-origins, may use this API"
	msgContentType   = "request bodies must be application/json, got %q"
)

// Check applies the guard to r, as the API does before every handler: a server
// that answers for the API (a standby proxying to the leader) calls it first. It
// answers the request itself (a 403, or a CORS preflight) and returns false when
// nothing else may run.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request) bool { return g.check(w, r) }

// check applies the guard to r. It answers the request itself (a 403, or a CORS
// preflight) and returns false when the handler must not run.
func (g *Guard) check(w http.ResponseWriter, r *http.Request) bool {
	if g == nil {
		return true
	}
	if !g.hostAllowed(r.Host) {
		writeError(w, http.StatusForbidden, fmt.Sprintf(msgForeignHost, r.Host))
		return false
	}
	origin := r.Header.Get("Origin")
	switch {
	case origin != "":
		if sameOrigin(origin, r) {
			break
		}
		if !g.originAllowed(origin) {
			writeError(w, http.StatusForbidden, fmt.Sprintf(msgForeignOrigin, origin))
			return false
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Accept, Authorization, Last-Event-ID")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return false
		}
	case r.Header.Get("Sec-Fetch-Site") == "cross-site":
		writeError(w, http.StatusForbidden, msgCrossSite)
		return false
	}
	if changesState(r.Method) && hasBody(r) {
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !isJSON(mt) {
			writeError(w, http.StatusForbidden, fmt.Sprintf(msgContentType, ct))
			return false
		}
	}
	return true
}

// changesState: the methods that may change state.
func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// hasBody reports whether a request carries a body (or may: chunked).
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// isJSON: application/json and the +json types (application/merge-patch+json).
func isJSON(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// hostAllowed reports whether a Host header names this server.
func (g *Guard) hostAllowed(hostport string) bool {
	if hostport == "" {
		// HTTP/1.0 without Host: not a browser.
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return true
		}
		listen, _, err := net.SplitHostPort(g.ListenAddr)
		if err != nil {
			return false
		}
		lip := net.ParseIP(strings.Trim(listen, "[]"))
		// An IP address is no DNS name to re-bind: every address the server
		// listens on is fine.
		return listen == "" || lip == nil || lip.IsUnspecified() || lip.Equal(ip)
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if listen, _, err := net.SplitHostPort(g.ListenAddr); err == nil && strings.EqualFold(strings.TrimSuffix(listen, "."), host) {
		return true
	}
	for _, name := range g.Hostnames {
		name = strings.TrimSuffix(strings.ToLower(name), ".")
		if name == host || (strings.HasPrefix(name, ".") && strings.HasSuffix(host, name)) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin is the server's own as the request names it.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// originAllowed reports whether origin is in the allowed list.
func (g *Guard) originAllowed(origin string) bool {
	for _, o := range g.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}
