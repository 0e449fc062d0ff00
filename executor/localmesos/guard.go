package localmesos

import (
	"net"
	"net/http"
	"os"
	"strings"
)

// browserGuard keeps web pages away from the stand-in: its scheduler API launches
// commands on this machine, and unlike a real cluster it runs on a developer's
// laptop, next to their browser. Schedulers never send Origin or Sec-Fetch-Site
// and name the master by an address or this machine's name; browsers send Origin
// with every POST, and a page that re-binds its DNS name to 127.0.0.1 names
// itself in Host. So a request is refused (403, plain text, as Mesos answers
// errors) when it carries an Origin, when its Sec-Fetch-Site says another site
// sent it, or when its Host is neither an IP address, a loopback name, this
// machine's hostname nor the listen address's host.
func browserGuard(next http.Handler, listenHost string) http.Handler {
	names := map[string]bool{"localhost": true}
	if listenHost != "" {
		names[strings.ToLower(listenHost)] = true
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		names[strings.ToLower(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			httpError(w, http.StatusForbidden, "Requests from web pages (Origin: %s) are refused by the Mesos stand-in", o)
			return
		}
		if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
			httpError(w, http.StatusForbidden, "Cross-site requests are refused by the Mesos stand-in")
			return
		}
		if !hostAllowed(r.Host, names) {
			httpError(w, http.StatusForbidden, "Host '%s' is not a name of this machine: the Mesos stand-in refuses it (DNS rebinding)", r.Host)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(hostport string, names map[string]bool) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if net.ParseIP(host) != nil || strings.HasSuffix(host, ".localhost") {
		return true
	}
	return names[host]
}
