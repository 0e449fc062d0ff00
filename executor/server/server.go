// Package server assembles a running Stride server: the state store, the
// executor, the Mesos driver, the REST API and — for the embedded default — the
// in-process Mesos stand-in.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stride-run/stride/engine"
	consulstore "github.com/stride-run/stride/engine/store/consul"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/callbacks"
	"github.com/stride-run/stride/executor/catalog"
	"github.com/stride-run/stride/executor/driver"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/executor/metrics"
	"github.com/stride-run/stride/executor/ui"
)

// Config configures a server.
type Config struct {
	// Listen is the API address (127.0.0.1:8080).
	Listen string
	// DataDir holds the state file (and, embedded, the stand-in's sandboxes).
	DataDir string
	// MesosURL is the Mesos master; empty with Embedded.
	MesosURL string
	// Framework is how the server registers with Mesos (zero: the defaults).
	Framework FrameworkConfig
	// Embedded starts the in-process Mesos stand-in with Agents agents.
	Embedded bool
	Agents   int
	// Stand-in tuning (zero: defaults).
	OfferInterval     time.Duration
	HeartbeatInterval time.Duration
	// FirstPort is where the stand-in agents' port ranges start (0: 31000).
	FirstPort int
	// SandboxesKept is how many finished task sandboxes the stand-in keeps per app
	// (0: 5; negative: none).
	SandboxesKept int
	// Executor tuning (zero: defaults; see executor.Config).
	StableAfter       time.Duration
	ReconcileInterval time.Duration
	// ProgressDeadline is the default progress deadline of deployments (10
	// min; negative: none); HealthKillRate and BreakerShare bound health-check
	// kills (0.1 of the instances per minute; 0.5).
	ProgressDeadline             time.Duration
	HealthKillRate, BreakerShare float64
	// Limits bound what apps may ask for (engine.DefaultLimits when zero).
	Limits engine.Limits
	// ServicePorts is the range service ports are assigned from
	// (-service-ports; engine.DefaultServicePortRange when zero).
	ServicePorts engine.PortRange
	// Hostnames and AllowedOrigins extend the API's browser-safety checks
	// (-http-hostnames, -http-allowed-origins; see api.Guard).
	Hostnames      []string
	AllowedOrigins []string
	// AllowUnknownFields makes the API skip members of app and group bodies it
	// does not know instead of answering 422 (-api-allow-unknown-fields; a
	// request may still choose with ?strict=).
	AllowUnknownFields bool
	// HTTP holds the API server's timeouts and connection caps (zero: defaults).
	HTTP HTTPLimits
	// Consul, when set, is the cluster mode: the state and the leader lock (a
	// ConsulElector) in Consul. Elector is then ignored.
	Consul *ConsulConfig
	// Elector decides whether this server leads (nil: the embedded default's
	// LocalElector on DataDir — the bolt state file and its lock).
	Elector Elector
	// Advertise is the host:port other servers and clients are told to reach this
	// one at (-advertise; default: the listen address).
	Advertise string
	// AbdicationPause is how long a server that abdicated (DELETE /v2/leader)
	// waits before campaigning again, so that another one is elected (3 s; the
	// embedded default's elector campaigns again at once).
	AbdicationPause time.Duration
	// Auth configures the API's authentication (-http-credentials,
	// -http-token-file; none when both are empty). Every server of a cluster
	// must have the same: a standby checks a request, then forwards it with its
	// credentials to the leader, which checks it again.
	Auth api.AuthConfig
	// TLS, when set, serves the API over HTTPS only; standbys then reach the
	// leader over HTTPS too.
	TLS *TLSConfig
	// Logf receives progress lines.
	Logf func(format string, args ...any)
}

// FrameworkConfig is the Mesos framework the server registers as.
type FrameworkConfig struct {
	// Name is framework_info.name, what the Mesos UI shows ("stride").
	Name string
	// Roles are the roles the framework subscribes in (["*"]): offers come
	// from resources unreserved or reserved for them.
	Roles []string
	// FailoverTimeout is how long Mesos keeps the tasks running while no
	// Stride server is subscribed (7 days, as Marathon).
	FailoverTimeout time.Duration
	// Principal is framework_info.principal; with Secret the server
	// authenticates as it (HTTP basic authentication) on every call. The
	// secret is never logged.
	Principal, Secret string
}

// HTTPLimits bounds what one client can hold of the API server.
type HTTPLimits struct {
	// ReadTimeout bounds reading a whole request, body included (60 s): a client
	// sending a byte a second is cut off. ReadHeaderTimeout bounds the headers
	// (10 s).
	ReadTimeout, ReadHeaderTimeout time.Duration
	// WriteTimeout bounds writing a response (60 s); the event stream sets its own
	// deadline per frame instead.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for that long (60 s).
	IdleTimeout time.Duration
	// MaxConns caps the connections held at once (1024); MaxConnsPerClient those
	// from one IP address (256).
	MaxConns, MaxConnsPerClient int
}

func (h HTTPLimits) withDefaults() HTTPLimits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&h.ReadTimeout, 60*time.Second)
	def(&h.ReadHeaderTimeout, 10*time.Second)
	def(&h.WriteTimeout, 60*time.Second)
	def(&h.IdleTimeout, 60*time.Second)
	if h.MaxConns <= 0 {
		h.MaxConns = 1024
	}
	if h.MaxConnsPerClient <= 0 {
		h.MaxConnsPerClient = 256
	}
	return h
}

// Server is a running Stride server.
type Server struct {
	Master   *localmesos.Master // nil unless embedded
	cfg      Config
	elector  Elector
	guard    *api.Guard
	addr     string
	self     string // the advertised address
	httpSrv  *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errMu    sync.Mutex
	err      error
	done     chan error
	mesosURL string
	proxy    *leaderProxy
	// consulStore is the cluster mode's state store (nil otherwise).
	consulStore *consulstore.Store

	// term is the leadership held now (nil: standby).
	term atomic.Pointer[activeTerm]
	// closing is set once Close began; leadDone is closed when the election
	// loop has returned (its term resigned).
	closing  atomic.Bool
	leadDone chan struct{}
	// terms counts the terms won (for tests and logs).
	terms atomic.Int64
	// abdicate asks the term loop to resign the current term.
	abdicate chan struct{}
	// metrics outlives the terms; auth and tls are the API's (nil: none).
	metrics                  *metrics.Metrics
	metricsJSON, metricsProm http.Handler
	auth                     *api.Auth
	tls                      *certs
	handler                  http.Handler
}

// activeTerm is what a server runs while it leads.
type activeTerm struct {
	term   Term
	ex     *executor.Executor
	api    *api.Server
	cancel context.CancelFunc
	// reg is the term's Consul catalog registry (nil: none).
	reg *catalog.Registry
	// callbacks delivers the term's events to the callback subscribers.
	callbacks *callbacks.Dispatcher
	// over is closed once the term's executor and driver have stopped.
	over chan struct{}
}

// Start opens the state (refusing a data dir in use by another server), starts the
// stand-in when embedded, the executor, the Mesos driver and the API, and returns
// once the API listens. With the embedded default's elector (Config.Elector nil)
// the first term is won before Start returns, so a data directory held by another
// server fails Start; with a cluster elector the server starts as a standby and
// campaigns in the background.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = ".stride"
	}
	// The data dir holds the state and the tasks' sandboxes (their output, their
	// environment): the server's user only.
	if (cfg.Elector == nil && cfg.Consul == nil) || cfg.Embedded {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("server: data dir: %w", err)
		}
		if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("server: data dir: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", cfg.Listen, err)
	}
	if cfg.AbdicationPause <= 0 {
		cfg.AbdicationPause = 3 * time.Second
	}
	if cfg.Auth.Logf == nil {
		cfg.Auth.Logf = cfg.Logf
	}
	auth, err := api.NewAuth(cfg.Auth)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	var tlsCerts *certs
	if cfg.TLS != nil {
		if tlsCerts, err = loadCerts(*cfg.TLS); err != nil {
			ln.Close()
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, cancel: cancel, done: make(chan error, 1), abdicate: make(chan struct{}, 1), leadDone: make(chan struct{}),
		metrics: metrics.New(nil), auth: auth, tls: tlsCerts}
	s.metrics.SetState(s.metricsState)
	s.metricsJSON, s.metricsProm = s.metrics.JSONHandler(), s.metrics.PrometheusHandler()
	s.handler = instrument(s.metrics, s)
	s.addr = ln.Addr().String()
	s.self = cfg.Advertise
	if s.self == "" {
		s.self = s.addr
	}
	fail := func(err error) (*Server, error) {
		cancel()
		ln.Close()
		s.closeParts()
		return nil, err
	}
	local := cfg.Elector == nil && cfg.Consul == nil
	switch {
	case local:
		s.elector = &LocalElector{DataDir: cfg.DataDir, Advertise: s.self}
	case cfg.Consul != nil:
		el, err := s.consulElector(ctx, cfg.Consul)
		if err != nil {
			return fail(err)
		}
		s.elector = el
		s.cfg.Elector = el
	default:
		s.elector = cfg.Elector
	}
	var first Term
	if local {
		if first, err = s.elector.Campaign(ctx); err != nil {
			return fail(fmt.Errorf("server: %w", err))
		}
	}

	mesosURL := cfg.MesosURL
	if cfg.Embedded {
		agents := cfg.Agents
		if agents == 0 {
			agents = 3
		}
		m, err := localmesos.New(localmesos.Config{
			Listen: "127.0.0.1:0", WorkDir: filepath.Join(cfg.DataDir, "mesos"), Agents: agents,
			OfferInterval: cfg.OfferInterval, HeartbeatInterval: cfg.HeartbeatInterval, FirstPort: cfg.FirstPort,
			SandboxesKept: cfg.SandboxesKept,
		})
		if err != nil {
			return fail(fmt.Errorf("server: mesos stand-in: %w", err))
		}
		if err := m.Start(runCtx); err != nil {
			return fail(fmt.Errorf("server: mesos stand-in: %w", err))
		}
		s.Master = m
		mesosURL = m.URL()
		cfg.Logf("Mesos stand-in with %d agents at %s", agents, mesosURL)
	}
	if mesosURL == "" {
		if first != nil {
			_ = first.Resign(ctx)
		}
		return fail(errors.New("server: no Mesos master: pass -mesos URL (or use stride dev)"))
	}
	s.mesosURL = mesosURL
	s.cfg.MesosURL = mesosURL

	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		switch {
		case auth == nil:
			cfg.Logf("warning: the API listens on %s, reachable from other machines, and it runs commands: without -http-credentials or -http-token-file anyone who reaches it can use it", s.addr)
		case tlsCerts == nil:
			cfg.Logf("warning: the API listens on %s without TLS: credentials cross the network in clear text (use -tls-cert and -tls-key)", s.addr)
		}
	}
	if auth != nil {
		cfg.Logf("API authentication: %s", auth.Describe())
	}
	s.guard = api.NewGuard(s.apiInfo())
	if s.proxy, err = newLeaderProxy(s); err != nil {
		if first != nil {
			_ = first.Resign(ctx)
		}
		return fail(err)
	}
	if first != nil {
		if err := s.startTerm(runCtx, first); err != nil {
			_ = first.Resign(ctx)
			return fail(err)
		}
	}
	hl := cfg.HTTP.withDefaults()
	s.httpSrv = &http.Server{
		Handler:           s.handler,
		ReadTimeout:       hl.ReadTimeout,
		ReadHeaderTimeout: hl.ReadHeaderTimeout,
		WriteTimeout:      hl.WriteTimeout,
		IdleTimeout:       hl.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// net/http's own complaints (TLS handshakes that fail, ...) go to the
		// server's log like everything else.
		ErrorLog: log.New(logWriter(cfg.Logf), "", 0),
	}
	lln := newLimitListener(ln, hl.MaxConns, hl.MaxConnsPerClient)
	// Open event streams would hold Shutdown up: end them first.
	s.httpSrv.RegisterOnShutdown(s.closeStreams)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		defer close(s.leadDone)
		s.lead(runCtx)
	}()
	if tlsCerts != nil {
		s.httpSrv.TLSConfig = tlsCerts.serverConfig()
		// HTTP/1.1 only: an empty map keeps net/http from adding HTTP/2.
		s.httpSrv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go func() {
		defer s.wg.Done()
		var err error
		if tlsCerts != nil {
			err = s.httpSrv.ServeTLS(lln, "", "")
		} else {
			err = s.httpSrv.Serve(lln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.setErr(err)
		}
	}()
	cfg.Logf("Stride API listening on %s (web UI: %s/ui/)", s.URL(), s.URL())
	return s, nil
}

// logWriter turns a Logf into an io.Writer, one line per write.
type logWriter func(format string, args ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// apiInfo is what the API is told about this server.
func (s *Server) apiInfo() api.Info {
	return api.Info{
		HTTPAddr: s.addr, MesosURL: s.mesosURL, DataDir: s.cfg.DataDir, Advertise: s.cfg.Advertise,
		Hostnames: s.cfg.Hostnames, AllowedOrigins: s.cfg.AllowedOrigins, Limits: s.cfg.Limits,
		Leadership: leadership{s}, Metrics: s.metrics, Auth: s.auth, TLS: s.tls != nil, UI: ui.Handler(),
		AllowUnknownFields: s.cfg.AllowUnknownFields, ServicePorts: s.cfg.ServicePorts,
	}
}

// leadership is the API's view of the server's election.
type leadership struct{ s *Server }

func (l leadership) Elected() bool {
	t := l.s.term.Load()
	return t != nil && leaderOf(t)
}

func (l leadership) Abdicate() {
	select {
	case l.s.abdicate <- struct{}{}:
	default:
	}
}

// startTerm loads the state of a term just won into a new executor, subscribes to
// Mesos with the stored framework id, and serves the API from it.
func (s *Server) startTerm(runCtx context.Context, term Term) error {
	cfg := s.cfg
	exCfg := executor.Config{
		Store: term.Store(), Logf: cfg.Logf, Limits: cfg.Limits,
		StableAfter: cfg.StableAfter, ReconcileInterval: cfg.ReconcileInterval,
		ProgressDeadline: cfg.ProgressDeadline, HealthKillRate: cfg.HealthKillRate, BreakerShare: cfg.BreakerShare,
		MasterURL: s.mesosURL, Metrics: s.metrics,
		Roles: cfg.Framework.Roles, ServicePorts: cfg.ServicePorts,
	}
	reg := s.registry(term)
	if reg != nil {
		exCfg.Drain = reg.Deregister
	}
	ex, err := executor.New(runCtx, exCfg)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	fc := cfg.Framework
	drv := driver.New(driver.Config{
		Master: s.mesosURL, FrameworkName: fc.Name, FrameworkID: ex.FrameworkID(), Logf: cfg.Logf,
		Roles: fc.Roles, FailoverTimeout: fc.FailoverTimeout, Principal: fc.Principal, Secret: fc.Secret,
		// The Mesos UI links the framework to the API of the server that
		// subscribed.
		WebUIURL: "http://" + s.self,
	}, ex)
	ex.SetMesos(fencedMesos{Mesos: drv, term: term})
	tctx, cancel := context.WithCancel(runCtx)
	at := &activeTerm{term: term, ex: ex, cancel: cancel, over: make(chan struct{}), reg: reg,
		callbacks: callbacks.New(callbacks.Config{Bus: ex.Bus(), Logf: cfg.Logf, Metrics: s.metrics, UserAgent: api.UserAgent() + " (event callback)"})}
	info := s.apiInfo()
	info.History = term.Store()
	at.api = api.New(ex, info)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		_ = at.callbacks.Run(tctx, ex.View)
	}()
	go func() {
		defer wg.Done()
		defer cancel()
		if err := ex.Run(tctx); err != nil {
			cfg.Logf("%v", err)
		}
	}()
	go func() {
		defer wg.Done()
		defer cancel()
		if err := drv.Run(tctx); err != nil && tctx.Err() == nil {
			cfg.Logf("mesos driver stopped: %v", err)
			s.setErr(err)
		}
	}()
	if reg != nil {
		// The catalog follows the term's tasks; its failures do not end the
		// term (a fenced write means the store ends it anyway).
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := reg.Run(tctx, ex.View); err != nil {
				cfg.Logf("consul catalog: %v", err)
			}
		}()
	}
	go func() {
		select {
		case <-term.Done():
			cfg.Logf("leadership lost: stopping at once")
		case <-tctx.Done():
		}
		cancel()
		wg.Wait()
		close(at.over)
	}()
	s.terms.Add(1)
	s.term.Store(at)
	if s.terms.Load() > 1 || s.cfg.Elector != nil {
		cfg.Logf("elected leader (advertised as %s)", s.self)
	}
	return nil
}

// lead is the election loop: while no term is held it campaigns; while one is, it
// waits for the term to end (lost, refused write, abdication, shutdown), then
// drops the executor with all its in-memory state and campaigns again.
func (s *Server) lead(runCtx context.Context) {
	for {
		if at := s.term.Load(); at != nil {
			abdicated := false
			select {
			case <-at.over:
			case <-s.abdicate:
				s.cfg.Logf("abdicating")
				abdicated = true
			case <-runCtx.Done():
			}
			s.endTerm(at)
			if runCtx.Err() != nil {
				return
			}
			// After abdicating, stand back so that another server wins (alone, a
			// server takes its leadership back after the pause).
			if abdicated && s.cfg.Elector != nil && !sleepCtx(runCtx, s.cfg.AbdicationPause) {
				return
			}
			continue
		}
		term, err := s.elector.Campaign(runCtx)
		if err != nil {
			if runCtx.Err() != nil {
				return
			}
			s.cfg.Logf("campaign: %v", err)
			if !sleepCtx(runCtx, time.Second) {
				return
			}
			continue
		}
		if err := s.startTerm(runCtx, term); err != nil {
			s.cfg.Logf("%v: resigning", err)
			_ = term.Resign(context.Background())
			if !sleepCtx(runCtx, time.Second) {
				return
			}
		}
	}
}

// endTerm stops the term's executor and driver, ends its event streams, and
// resigns (releasing the lock if it is still held).
func (s *Server) endTerm(at *activeTerm) {
	s.term.CompareAndSwap(at, nil)
	at.cancel()
	<-at.over
	at.api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if at.reg != nil && s.cfg.Embedded && s.closing.Load() {
		// The stand-in's tasks stop with this process: so do their entries.
		if err := at.reg.Clear(ctx); err != nil {
			s.cfg.Logf("%v", err)
		}
	}
	if err := at.term.Resign(ctx); err != nil {
		s.cfg.Logf("resign: %v", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// closeStreams ends the event streams of the term being served.
func (s *Server) closeStreams() {
	if at := s.term.Load(); at != nil {
		at.api.Close()
	}
	s.proxy.close()
}

// Executor returns the executor of the current term (nil while a standby).
func (s *Server) Executor() *executor.Executor {
	if at := s.term.Load(); at != nil {
		return at.ex
	}
	return nil
}

// Leading reports whether the server holds the leadership now.
func (s *Server) Leading() bool { return leadership{s}.Elected() }

// Terms counts the terms this server has won.
func (s *Server) Terms() int { return int(s.terms.Load()) }

// Store returns the state store of the current term (nil while a standby).
func (s *Server) Store() engine.Store {
	if at := s.term.Load(); at != nil {
		return at.term.Store()
	}
	return nil
}

func (s *Server) setErr(err error) {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
		s.done <- err
	}
}

// Done delivers the first fatal error of a component.
func (s *Server) Done() <-chan error { return s.done }

// MesosURL is the Mesos master the server uses (the stand-in's when embedded).
func (s *Server) MesosURL() string { return s.mesosURL }

// Err returns the first fatal error of a component, if any.
func (s *Server) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Addr is the API's host:port.
func (s *Server) Addr() string { return s.addr }

// URL is the API's base URL (https:// with TLS).
func (s *Server) URL() string { return s.scheme() + "://" + s.addr }

// scheme is the API's URL scheme.
func (s *Server) scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// Reload reads the token file and the TLS certificate again (SIGHUP). A
// certificate that cannot be read leaves the one loaded before in use.
func (s *Server) Reload() {
	s.auth.Reload()
	if s.tls != nil {
		if err := s.tls.reload(); err != nil {
			s.cfg.Logf("%v: keeping the certificate loaded before", err)
		} else {
			s.cfg.Logf("TLS certificate %s read", s.cfg.TLS.CertFile)
		}
	}
}

// metricsState is what a metrics scrape reads of the current term.
func (s *Server) metricsState() metrics.State {
	at := s.term.Load()
	if at == nil || !leaderOf(at) {
		return metrics.State{}
	}
	v := at.ex.View()
	st := metrics.State{Leader: true, Apps: len(v.Apps), DeploymentsRunning: len(v.Deployments),
		Subscribers: len(v.Subscribers), Tasks: map[string]int{}}
	for _, t := range v.Tasks {
		st.Tasks[t.State]++
	}
	return st
}

// Close stops everything: the term is resigned (a standby takes over at once),
// and with the embedded stand-in, task processes are killed.
func (s *Server) Close() error {
	// The term first: it is resigned, so a standby leads at once, while this
	// server's API still answers (forwarding to the new leader).
	s.closing.Store(true)
	s.cancel()
	if s.leadDone != nil {
		<-s.leadDone
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.httpSrv.Shutdown(ctx)
		cancel()
	}
	s.wg.Wait()
	return s.closeParts()
}

func (s *Server) closeParts() error {
	var errs []error
	if at := s.term.Load(); at != nil {
		s.endTerm(at)
	}
	if s.elector != nil {
		errs = append(errs, s.elector.Close())
	}
	if s.Master != nil {
		errs = append(errs, s.Master.Close())
	}
	if s.consulStore != nil {
		errs = append(errs, s.consulStore.Close())
	}
	return errors.Join(errs...)
}
