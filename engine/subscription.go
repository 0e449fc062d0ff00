package engine

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Subscription is an HTTP callback subscription to the event bus (Marathon's
// POST /v2/eventSubscriptions?callbackUrl=): every event is POSTed as JSON to
// CallbackURL. Subscriptions are part of the state, so that they survive a
// restart and a change of leader.
type Subscription struct {
	// CallbackURL is the subscriber's URL exactly as it was given (clients look
	// their own up by string equality). It is the record's id.
	CallbackURL string `json:"callbackUrl"`
	// ClientIP is the address the subscription came from (informational).
	ClientIP string `json:"clientIp,omitempty"`
	// CreatedAt is when it was made (Marathon's timestamp form).
	CreatedAt string `json:"createdAt,omitempty"`
}

// Bounds of the callback subscriptions: every subscriber costs a goroutine, a
// connection and a POST per event.
const (
	MaxSubscriptions = 100
	MaxCallbackURL   = 2048
)

// CheckCallbackURL checks a callback URL against the static part of the
// callback policy: an absolute http or https URL with a host, without a
// fragment, at most MaxCallbackURL bytes. Loopback and private addresses are
// allowed (subscribers usually run next to the server); what the address
// resolves to is checked when the callback connects (link-local, multicast
// and unspecified addresses are refused there).
func CheckCallbackURL(raw string) error {
	if raw == "" {
		return errors.New("is empty")
	}
	if len(raw) > MaxCallbackURL {
		return fmt.Errorf("is longer than %d bytes", MaxCallbackURL)
	}
	if strings.ContainsAny(raw, " \t\r\n") {
		return errors.New("must not contain white space")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("must be an http:// or https:// URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("must name a host")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not have a fragment")
	}
	if p := u.Port(); p != "" {
		var n int
		if _, err := fmt.Sscanf(p, "%d", &n); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	return nil
}

// RedactURL returns raw with its password masked and without its query (which
// may carry a token), for logs and events. Unparseable input is replaced
// altogether.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparseable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = ""
		u.ForceQuery = false
		return u.Redacted() + "?…"
	}
	return u.Redacted()
}
