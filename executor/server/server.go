// Package server assembles a running Stride server: the state store, the
// executor, the Mesos driver, the REST API and — for the embedded default — the
// in-process Mesos stand-in.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/bolt"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/driver"
	"github.com/stride-run/stride/executor/localmesos"
)

// Config configures a server.
type Config struct {
	// Listen is the API address (127.0.0.1:8080).
	Listen string
	// DataDir holds the state file (and, embedded, the stand-in's sandboxes).
	DataDir string
	// MesosURL is the Mesos master; empty with Embedded.
	MesosURL string
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
	// Executor tuning (zero: defaults).
	StableAfter       time.Duration
	ReconcileInterval time.Duration
	// Limits bound what apps may ask for (engine.DefaultLimits when zero).
	Limits engine.Limits
	// Hostnames and AllowedOrigins extend the API's browser-safety checks
	// (-http-hostnames, -http-allowed-origins; see api.Guard).
	Hostnames      []string
	AllowedOrigins []string
	// HTTP holds the API server's timeouts and connection caps (zero: defaults).
	HTTP HTTPLimits
	// Logf receives progress lines.
	Logf func(format string, args ...any)
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
	Executor *executor.Executor
	Master   *localmesos.Master // nil unless embedded
	Store    *bolt.Store
	addr     string
	httpSrv  *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errMu    sync.Mutex
	err      error
	done     chan error
	mesosURL string
}

// Start opens the state (refusing a data dir in use by another server), starts the
// stand-in when embedded, the executor, the Mesos driver and the API, and returns
// once the API listens.
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
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	if err := os.Chmod(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := bolt.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Server{Store: st, cancel: cancel, done: make(chan error, 1)}
	fail := func(err error) (*Server, error) {
		cancel()
		s.closeParts()
		return nil, err
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
		return fail(errors.New("server: no Mesos master: pass -mesos URL (or use stride dev)"))
	}
	s.mesosURL = mesosURL

	ex, err := executor.New(ctx, executor.Config{
		Store: st, Logf: cfg.Logf, Limits: cfg.Limits,
		StableAfter: cfg.StableAfter, ReconcileInterval: cfg.ReconcileInterval,
	})
	if err != nil {
		return fail(err)
	}
	s.Executor = ex
	drv := driver.New(driver.Config{
		Master: mesosURL, FrameworkName: "stride", FrameworkID: ex.FrameworkID(), Logf: cfg.Logf,
	}, ex)
	ex.SetMesos(drv)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("server: listen %s: %w", cfg.Listen, err))
	}
	s.addr = ln.Addr().String()
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
		cfg.Logf("warning: the API listens on %s, reachable from other machines, and it runs commands: it has no authentication yet, so keep it behind a firewall", s.addr)
	}
	apiSrv := api.New(ex, api.Info{
		HTTPAddr: s.addr, MesosURL: mesosURL, DataDir: cfg.DataDir,
		Hostnames: cfg.Hostnames, AllowedOrigins: cfg.AllowedOrigins, Limits: cfg.Limits,
	})
	hl := cfg.HTTP.withDefaults()
	s.httpSrv = &http.Server{
		Handler:           apiSrv,
		ReadTimeout:       hl.ReadTimeout,
		ReadHeaderTimeout: hl.ReadHeaderTimeout,
		WriteTimeout:      hl.WriteTimeout,
		IdleTimeout:       hl.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	ln = newLimitListener(ln, hl.MaxConns, hl.MaxConnsPerClient)
	// Open event streams would hold Shutdown up: end them first.
	s.httpSrv.RegisterOnShutdown(apiSrv.Close)
	s.wg.Add(3)
	go func() {
		defer s.wg.Done()
		_ = ex.Run(runCtx)
	}()
	go func() {
		defer s.wg.Done()
		if err := drv.Run(runCtx); err != nil && runCtx.Err() == nil {
			cfg.Logf("mesos driver stopped: %v", err)
			s.setErr(err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.setErr(err)
		}
	}()
	cfg.Logf("Stride API listening on http://%s", s.addr)
	return s, nil
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

// URL is the API's base URL.
func (s *Server) URL() string { return "http://" + s.addr }

// Close stops everything; with the embedded stand-in, task processes are killed.
func (s *Server) Close() error {
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.httpSrv.Shutdown(ctx)
		cancel()
	}
	s.cancel()
	s.wg.Wait()
	return s.closeParts()
}

func (s *Server) closeParts() error {
	var errs []error
	if s.Master != nil {
		errs = append(errs, s.Master.Close())
	}
	if s.Store != nil {
		errs = append(errs, s.Store.Close())
	}
	return errors.Join(errs...)
}
