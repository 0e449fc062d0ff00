package localmesos

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBrowserGuard: what a web page can send to the stand-in — any request with
// an Origin, a cross-site fetch, a re-bound DNS name — is refused before it
// reaches the scheduler API; what a scheduler sends passes.
func TestBrowserGuard(t *testing.T) {
	tests := map[string]struct {
		host   string
		header map[string]string
		pass   bool
	}{
		"scheduler by address":    {host: "127.0.0.1:5050", pass: true},
		"scheduler by localhost":  {host: "localhost:5050", pass: true},
		"scheduler by IPv6":       {host: "[::1]:5050", pass: true},
		"scheduler by other IP":   {host: "10.0.0.5:5050", pass: true},
		"form POST from a page":   {host: "127.0.0.1:5050", header: map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}},
		"same-origin page":        {host: "127.0.0.1:5050", header: map[string]string{"Origin": "http://127.0.0.1:5050"}},
		"cross-site fetch":        {host: "127.0.0.1:5050", header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"DNS rebinding":           {host: "evil.example:5050"},
		"DNS rebinding, FQDN dot": {host: "evil.example.:5050"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reached := false
			h := browserGuard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }), "127.0.0.1")
			r := httptest.NewRequest(http.MethodPost, "/api/v1/scheduler", strings.NewReader(`{"type": "SUBSCRIBE"}`))
			r.Host = tc.host
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if reached != tc.pass {
				t.Fatalf("reached the API: %v, want %v (%d %s)", reached, tc.pass, w.Code, w.Body)
			}
			if !tc.pass && w.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", w.Code)
			}
		})
	}
}
