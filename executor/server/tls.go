package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// TLSConfig serves the API over HTTPS (-tls-cert, -tls-key).
type TLSConfig struct {
	// CertFile holds the server's certificate (PEM), followed by the chain to
	// its CA if any; KeyFile its private key.
	CertFile, KeyFile string
	// CAFile, when set, holds further CA certificates (PEM) a standby trusts
	// when it forwards requests to the leader over HTTPS (-tls-ca). The
	// system's roots and the certificates of CertFile are always trusted, so a
	// cluster whose servers share one certificate, or whose CertFile carries
	// the CA, needs none.
	CAFile string
}

// certs holds the server's certificate, replaced by reload (SIGHUP) so that a
// renewed certificate is served without a restart.
type certs struct {
	cfg  TLSConfig
	cert atomic.Pointer[tls.Certificate]
}

func loadCerts(cfg TLSConfig) (*certs, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, errors.New("server: TLS needs both -tls-cert and -tls-key")
	}
	c := &certs{cfg: cfg}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the certificate and key again; on failure the one loaded before
// stays in use.
func (c *certs) reload() error {
	pair, err := tls.LoadX509KeyPair(c.cfg.CertFile, c.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("server: TLS certificate %s / key %s: %w", c.cfg.CertFile, c.cfg.KeyFile, err)
	}
	c.cert.Store(&pair)
	return nil
}

// serverConfig is the API listener's TLS configuration: TLS 1.2 at least,
// HTTP/1.1 (the event stream and the connection caps are per connection).
func (c *certs) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cert.Load(), nil
		},
	}
}

// clientConfig is what a standby uses to reach the leader: the system's roots,
// the certificates of this server's own chain, and those of CAFile.
func (c *certs) clientConfig() (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if pair := c.cert.Load(); pair != nil {
		for _, der := range pair.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				pool.AddCert(cert)
			}
		}
	}
	if c.cfg.CAFile != "" {
		pem, err := os.ReadFile(c.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("server: -tls-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server: -tls-ca %s holds no PEM certificate", c.cfg.CAFile)
		}
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}
