package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/stride-run/stride/executor/api"
)

// Environment variables of the commands that talk to a server.
const (
	envAddr        = "STRIDE_ADDR"
	envCredentials = "STRIDE_HTTP_CREDENTIALS"
	envToken       = "STRIDE_HTTP_TOKEN"
	envCACert      = "STRIDE_CACERT"
)

// serverConn is how a command reaches the Stride server: every command that
// talks to one (plan, apply, destroy, status, tasks, ...) registers it and
// makes its client with cli.newClient.
type serverConn struct {
	// address is -address ($STRIDE_ADDR, else defaultAddress).
	address string
	// credentials is -http-credentials user:password.
	credentials string
	// token and caFile are set by stride dev for its own apply (no flags).
	token, caFile string
}

// register adds -address and -http-credentials to fs.
func (sc *serverConn) register(fs *flag.FlagSet) {
	fs.StringVar(&sc.address, "address", "", "the Stride server (default $"+envAddr+" or "+defaultAddress+")")
	fs.StringVar(&sc.credentials, "http-credentials", "", "user:password for a server with HTTP basic auth (default $"+envCredentials+"; $"+envToken+" sends a bearer token instead)")
}

// newClient returns a client for the server sc names, with its credentials:
// -http-credentials, else $STRIDE_HTTP_TOKEN (a bearer token), else
// $STRIDE_HTTP_CREDENTIALS, else those in the address URL
// (https://user:password@host:8080). $STRIDE_CACERT names CA certificates
// (PEM) to trust besides the system's, for a server with a private or
// self-signed certificate.
func (c *cli) newClient(sc serverConn) (*api.Client, error) {
	client := api.NewClient(c.serverAddress(sc.address))
	switch {
	case sc.credentials != "":
		client.Credentials, client.Token = sc.credentials, ""
	case sc.token != "":
		client.Token = sc.token
	case c.getenv(envToken) != "":
		client.Token = strings.TrimSpace(c.getenv(envToken))
	case c.getenv(envCredentials) != "":
		client.Credentials = c.getenv(envCredentials)
	}
	if client.Credentials != "" {
		if user, _, ok := strings.Cut(client.Credentials, ":"); !ok || user == "" {
			return nil, errors.New("http credentials must be user:password")
		}
	}
	ca := sc.caFile
	if ca == "" {
		ca = c.getenv(envCACert)
	}
	if ca != "" {
		if err := client.TrustCAFile(ca); err != nil {
			return nil, fmt.Errorf("%s: %w", envCACert, err)
		}
	}
	return client, nil
}

// firstToken returns the first token of a token file ("" when none), for stride
// dev's own apply through its API.
func firstToken(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}
