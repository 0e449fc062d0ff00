package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/metrics"
)

// Marathon's leader-proxy headers: every response says who leads
// (X-Marathon-Leader: http://host:port), and a request a standby forwards carries
// X-Marathon-Via naming the standby, so that a request is never forwarded twice
// (two servers that each believe the other leads would bounce it forever).
const (
	headerLeader = "X-Marathon-Leader"
	headerVia    = "X-Marathon-Via"
)

// ServeHTTP serves the API: from the current term's executor while this server
// leads, otherwise by proxying to the leader (503 when there is none).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if at := s.term.Load(); at != nil && leaderOf(at) {
		w.Header().Set(headerLeader, s.scheme()+"://"+s.self)
		at.api.ServeHTTP(w, r)
		return
	}
	// A standby applies the same browser-safety checks and authentication
	// before anything else: it must not become the way around them. The
	// request goes on to the leader with its credentials, checked there again.
	if !s.guard.Check(w, r) {
		return
	}
	if r.URL.Path != "/ping" && !s.auth.Check(w, r) {
		return
	}
	switch r.URL.Path {
	case "/ping":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		_, _ = w.Write([]byte("pong"))
		return
	case "/metrics", "/metrics/prometheus":
		// Every server's own: scrapers ask each of them.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", http.MethodGet)
			writeMessage(w, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not supported by this URL (supported: GET)")
			return
		}
		if r.URL.Path == "/metrics" {
			s.metricsJSON.ServeHTTP(w, r)
		} else {
			s.metricsProm.ServeHTTP(w, r)
		}
		return
	}
	s.proxy.serve(w, r)
}

// leaderOf reports whether the term is still live and its executor leading.
func leaderOf(at *activeTerm) bool {
	select {
	case <-at.term.Done():
		return false
	case <-at.over:
		return false
	default:
	}
	if l, ok := at.term.(leased); ok && !l.Valid() {
		return false
	}
	return at.ex.View().Ended == nil
}

// leaderProxy forwards a standby's requests to the leader.
type leaderProxy struct {
	s         *Server
	scheme    string
	transport *http.Transport

	mu      sync.Mutex
	leader  string
	checked time.Time

	closeOnce sync.Once
	closed    chan struct{}
}

func newLeaderProxy(s *Server) (*leaderProxy, error) {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       60 * time.Second,
	}
	if s.tls != nil {
		cfg, err := s.tls.clientConfig()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return &leaderProxy{s: s, scheme: s.scheme(), transport: tr, closed: make(chan struct{})}, nil
}

// leaderCacheFor is how long a looked-up leader address is reused: the lookup is
// a Consul read, and a burst of proxied requests should not each make one.
const leaderCacheFor = 500 * time.Millisecond

// current returns the leader's address ("" when there is none or it is this
// server).
func (p *leaderProxy) current(ctx context.Context) (string, error) {
	p.mu.Lock()
	if time.Since(p.checked) < leaderCacheFor {
		l := p.leader
		p.mu.Unlock()
		return l, nil
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	l, err := p.s.elector.Leader(ctx)
	if err != nil {
		return "", err
	}
	if l == p.s.self {
		l = ""
	}
	p.mu.Lock()
	p.leader, p.checked = l, time.Now()
	p.mu.Unlock()
	return l, nil
}

func (p *leaderProxy) close() { p.closeOnce.Do(func() { close(p.closed) }) }

func (p *leaderProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(headerVia) != "" {
		// Forwarded by another standby that thinks this one leads: the election
		// is moving. Clients retry on 503.
		unavailable(w, "no leader: this server is a standby and the request was already forwarded by "+r.Header.Get(headerVia))
		return
	}
	// The transport has Marathon's leader-proxy timeouts (5 s to connect, 10 s
	// for the leader's response headers; the body, an event stream, may last).
	leader, err := p.current(r.Context())
	if err != nil {
		unavailable(w, "no leader known: "+err.Error())
		return
	}
	if leader == "" {
		if r.URL.Path == "/v2/leader" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			writeMessage(w, http.StatusNotFound, "There is no leader")
			return
		}
		unavailable(w, "no leader: an election is under way")
		return
	}
	if r.URL.Path == "/v2/leader" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set(headerLeader, p.scheme+"://"+leader)
		writeJSONBody(w, http.StatusOK, `{"leader":"`+jsonEscape(leader)+`"}`)
		return
	}
	target := &url.URL{Scheme: p.scheme, Host: leader}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = leader
			pr.Out.Header.Set(headerVia, "1.1 "+p.s.self)
			// The standby has checked the browser-safety headers; the leader
			// sees the request as this server's own.
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Sec-Fetch-Site")
			pr.Out.Header.Del("Referer")
		},
		// Stream the event stream (and every response) as it comes.
		FlushInterval: -1,
		Transport:     p.transport,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Header.Get(headerLeader) == "" {
				resp.Header.Set(headerLeader, p.scheme+"://"+leader)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.checked = time.Time{} // look the leader up again next time
			p.mu.Unlock()
			if errors.Is(err, context.Canceled) {
				return
			}
			unavailable(w, "the leader at "+leader+" cannot be reached: "+err.Error())
		},
	}
	// End proxied event streams when this server shuts down or wins.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	rp.ServeHTTP(w, r.WithContext(ctx))
}

func unavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeMessage(w, http.StatusServiceUnavailable, msg)
}

func writeMessage(w http.ResponseWriter, code int, msg string) {
	writeJSONBody(w, code, `{"message":"`+jsonEscape(msg)+`"}`)
}

func writeJSONBody(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body + "\n"))
}

func jsonEscape(s string) string {
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\'`, `'`)
}

// fencedMesos is the driver as a term's executor sees it: once the term is over
// (the lock lost), every call is refused before it reaches Mesos. Writes are
// fenced by the store; this fences the actions a write did not precede.
type fencedMesos struct {
	executor.Mesos
	term Term
}

var errTermOver = errors.New("not the leader any more: Mesos call refused")

// leased is a term whose leadership is a lease that can run out before the
// loss is noticed (ConsulElector's).
type leased interface{ Valid() bool }

func (f fencedMesos) live() error {
	select {
	case <-f.term.Done():
		return errTermOver
	default:
	}
	if l, ok := f.term.(leased); ok && !l.Valid() {
		return errTermOver
	}
	return nil
}

func (f fencedMesos) Launch(ctx context.Context, offerIDs []string, tasks []mesos.TaskInfo, refuse float64) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Launch(ctx, offerIDs, tasks, refuse)
}

func (f fencedMesos) Decline(ctx context.Context, offerIDs []string, refuse float64) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Decline(ctx, offerIDs, refuse)
}

func (f fencedMesos) Suppress(ctx context.Context, roles ...string) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Suppress(ctx, roles...)
}

func (f fencedMesos) Revive(ctx context.Context, roles ...string) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Revive(ctx, roles...)
}

func (f fencedMesos) Kill(ctx context.Context, taskID, agentID string, grace time.Duration) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Kill(ctx, taskID, agentID, grace)
}

func (f fencedMesos) Reconcile(ctx context.Context, tasks map[string]string) error {
	if err := f.live(); err != nil {
		return err
	}
	return f.Mesos.Reconcile(ctx, tasks)
}

// instrument times every request but the event stream (which lasts) into m, by
// route template and status code.
func instrument(m *metrics.Metrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/events" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.APIRequest(api.RouteMethod(r.Method), api.Route(r.URL.Path), code, time.Since(start))
	})
}

// statusRecorder remembers the status code of a response.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Flush and Unwrap keep streaming and http.ResponseController working.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
