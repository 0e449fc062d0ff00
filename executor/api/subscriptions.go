package api

import (
	"context"
	"io"
	"net/http"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
)

// subscriptionEvent is the answer of POST and DELETE /v2/eventSubscriptions:
// Marathon's subscribe_event / unsubscribe_event.
type subscriptionEvent struct {
	CallbackURL string `json:"callbackUrl"`
	ClientIP    string `json:"clientIp"`
	EventType   string `json:"eventType"`
	Timestamp   string `json:"timestamp"`
}

// subscriptions serves /v2/eventSubscriptions (Marathon's HTTP callbacks; see
// executor/callbacks for the delivery):
//
//	GET                      200 {"callbackUrls": [...]}, exactly as subscribed
//	POST   ?callbackUrl=URL  200 subscribe_event (again, if it exists already)
//	DELETE ?callbackUrl=URL  200 unsubscribe_event (also for an unknown URL)
//
// A missing callbackUrl is a 400, one outside the callback policy (not
// http/https, no host, too long; engine.CheckCallbackURL) or past the number
// of subscriptions Stride keeps a 422 naming /callbackUrl. A body, which
// Marathon clients send (""), is ignored.
func (s *Server) subscriptions(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodDelete) {
		return
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		v := s.b.View()
		urls := make([]string, len(v.Subscribers))
		for i, sub := range v.Subscribers {
			urls[i] = sub.CallbackURL
		}
		writeJSON(w, http.StatusOK, map[string][]string{"callbackUrls": urls})
		return
	}
	// Marathon clients send a body ("" as JSON): read a little of it and drop it.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxSmallBody))
	callback := r.URL.Query().Get("callbackUrl")
	if callback == "" {
		writeJSON(w, http.StatusBadRequest, errorBody{Message: "callbackUrl is required: " + r.Method + " /v2/eventSubscriptions?callbackUrl=URL",
			Details: []engine.FieldError{{Path: "/callbackUrl", Errors: []string{"error.path.missing"}}}})
		return
	}
	ip := clientIP(r)
	ctx, cancel := context.WithTimeout(r.Context(), s.writeTimeout)
	defer cancel()
	typ := executor.EventSubscribe
	var err error
	if r.Method == http.MethodPost {
		_, err = s.b.Subscribe(ctx, engine.Subscription{CallbackURL: callback, ClientIP: ip})
	} else {
		typ = executor.EventUnsubscribe
		_, err = s.b.Unsubscribe(ctx, callback, ip)
	}
	if err != nil {
		s.writeBackendError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, subscriptionEvent{
		CallbackURL: engine.RedactURL(callback), ClientIP: ip, EventType: typ, Timestamp: executor.FormatTime(s.now()),
	})
}
