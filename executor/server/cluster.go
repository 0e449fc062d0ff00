package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"

	consulstore "github.com/stride-run/stride/engine/store/consul"
	"github.com/stride-run/stride/executor/catalog"
)

// ConsulConfig is the cluster mode: the state and the leader lock in Consul
// (every server of a cluster uses the same Prefix), and the running tasks in
// Consul's catalog for DNS.
type ConsulConfig struct {
	// Address is a Consul agent's HTTP address (host:port, or a URL).
	Address string
	// Token is the ACL token (-consul-token, $CONSUL_HTTP_TOKEN). It is sent to
	// Consul only, never logged.
	Token string
	// Prefix is the KV prefix ("stride/").
	Prefix string
	// Leader election timing (zero: ConsulElector's defaults).
	SessionTTL, LockDelay, DeposeAfter, HeartbeatInterval, LeaseTimeout time.Duration
	// NoRegister leaves Consul's catalog alone (by default the leader registers
	// the running tasks of apps with ports: see executor/catalog).
	NoRegister bool
	// FlapDamping: see catalog.Config (0: 5 s; negative: none).
	FlapDamping time.Duration
	// Resync is the catalog's anti-entropy interval (0: 30 s).
	Resync time.Duration
}

// registry returns the Consul catalog registry of a term (nil: none).
func (s *Server) registry(term Term) *catalog.Registry {
	c := s.cfg.Consul
	ct, ok := term.(*consulTerm)
	if c == nil || c.NoRegister || !ok {
		return nil
	}
	return catalog.New(catalog.Config{
		Client: ct.c.Client, Owner: ct.c.Prefix, LockKey: ct.c.LockKey(), Session: ct.session,
		FlapDamping: c.FlapDamping, Resync: c.Resync, Logf: s.cfg.Logf,
	})
}

// consulClient returns an API client of the configured agent.
func (c *ConsulConfig) client() (*api.Client, error) {
	cfg := api.DefaultConfig()
	addr := c.Address
	if i := strings.Index(addr, "://"); i >= 0 {
		cfg.Scheme = addr[:i]
		addr = addr[i+3:]
	}
	cfg.Address = strings.TrimSuffix(addr, "/")
	cfg.Token = c.Token
	cl, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("consul client for %s: %w", c.Address, err)
	}
	return cl, nil
}

// consulElector opens the Consul state store and the elector over it.
func (s *Server) consulElector(ctx context.Context, c *ConsulConfig) (*ConsulElector, error) {
	cl, err := c.client()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	prefix := c.Prefix
	if prefix == "" {
		prefix = "stride/"
	}
	el := &ConsulElector{
		Client: cl, Prefix: prefix, Advertise: s.self, Logf: s.cfg.Logf,
		SessionTTL: c.SessionTTL, LockDelay: c.LockDelay, DeposeAfter: c.DeposeAfter,
		HeartbeatInterval: c.HeartbeatInterval, LeaseTimeout: c.LeaseTimeout,
	}
	st, err := consulstore.Open(ctx, consulstore.Config{Client: cl, Prefix: prefix, LockKey: el.LockKey()})
	if err != nil {
		return nil, fmt.Errorf("server: consul state at %s: %w", c.Address, err)
	}
	s.consulStore = st
	el.Fence = st.Fenced
	return el, nil
}
