package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/executor/localmesos"
	"github.com/stride-run/stride/executor/server"
)

// logger prints timestamped progress lines; safe for concurrent use.
type logger struct {
	mu  sync.Mutex
	c   *cli
	pfx string
}

func (l *logger) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.c.stdout, "%s %s%s\n", time.Now().Format("15:04:05.000"), l.pfx, fmt.Sprintf(format, args...))
}

// serverFlags are the options `dev` and `server` share: who may call the API, and
// the bounds of what apps may ask for.
type serverFlags struct {
	hostnames, origins string
	maxInstances       int
	// Authentication and TLS.
	credentials, tokenFile string
	tlsCert, tlsKey, tlsCA string
	allowUnknown           bool
	// Cluster mode.
	consul, consulPrefix, consulToken    string
	sessionTTL, lockDelay, leaderTimeout time.Duration
	catalog                              bool
	flapDamping                          time.Duration
	// Failing safely.
	progressDeadline, stableAfter time.Duration
	killRate, breakerShare        float64
	// servicePorts is the range service ports of 0 are assigned from.
	servicePorts engine.PortRange
}

func (sf *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&sf.hostnames, "http-hostnames", "", "further names clients use to reach the API, comma-separated (\".example.com\" for a domain); others are refused (DNS-rebinding protection)")
	fs.StringVar(&sf.origins, "http-allowed-origins", "", "origins of web pages allowed to call the API besides its own, comma-separated (e.g. https://ui.example.com)")
	fs.IntVar(&sf.maxInstances, "max-instances", engine.DefaultMaxInstances, "the most instances one app may ask for")
	fs.StringVar(&sf.credentials, "http-credentials", "", "require HTTP basic auth with user:password for the whole API but /ping (Marathon's flag; default $"+envCredentials+", which keeps the password out of the process list)")
	fs.StringVar(&sf.tokenFile, "http-token-file", "", "accept the bearer tokens in this file, one a line (# comments), for the whole API but /ping; read again when it changes and on SIGHUP")
	fs.StringVar(&sf.tlsCert, "tls-cert", "", "serve the API over HTTPS with this certificate (PEM, followed by its chain); re-read on SIGHUP")
	fs.StringVar(&sf.tlsKey, "tls-key", "", "the private key (PEM) of -tls-cert")
	fs.StringVar(&sf.tlsCA, "tls-ca", "", "further CA certificates (PEM) a standby trusts to reach the leader over HTTPS (the system's and -tls-cert's own are always trusted)")
	fs.DurationVar(&sf.progressDeadline, "progress-deadline", 10*time.Minute, "fail a deployment when an app makes no progress for this long, unless the app or the apply sets its own (0: no default deadline)")
	fs.DurationVar(&sf.stableAfter, "stable-after", 5*time.Second, "how long a task of an app without health checks must run to count as deployed")
	fs.Float64Var(&sf.killRate, "health-kill-rate", 0.1, "the share of an app's instances its health checks may kill per minute (at least 1)")
	fs.Float64Var(&sf.breakerShare, "health-kill-breaker", 0.5, "hold every health-check kill of an app while this share of its tasks (and at least 2) fail their checks at once (0 < share <= 1)")
	sf.servicePorts = engine.DefaultServicePortRange
	fs.Var(&sf.servicePorts, "service-ports", "the range `MIN-MAX` service ports of 0 are assigned from, unique across apps (Marathon's --local_port_min/--local_port_max)")
	fs.BoolVar(&sf.allowUnknown, "api-allow-unknown-fields", false, "skip members of app and group JSON the API does not know instead of answering 422 (for clients that send extras; a request can choose with ?strict=)")
}

// check refuses option values out of their bounds.
func (sf *serverFlags) check() error {
	switch {
	case sf.progressDeadline < 0 || sf.progressDeadline > engine.MaxProgressDeadlineSeconds*time.Second:
		return fmt.Errorf("-progress-deadline must be between 0 (none) and %v, got %v", engine.MaxProgressDeadlineSeconds*time.Second, sf.progressDeadline)
	case sf.stableAfter <= 0 || sf.stableAfter > time.Hour:
		return fmt.Errorf("-stable-after must be between 1ns and 1h, got %v", sf.stableAfter)
	case !(sf.killRate > 0 && sf.killRate <= 1):
		return fmt.Errorf("-health-kill-rate must be a share: more than 0, at most 1, got %v", sf.killRate)
	case !(sf.breakerShare > 0 && sf.breakerShare <= 1):
		return fmt.Errorf("-health-kill-breaker must be a share: more than 0, at most 1, got %v", sf.breakerShare)
	}
	return nil
}

// apply sets the shared options on a server configuration.
func (sf *serverFlags) apply(c *cli, cfg *server.Config) error {
	creds := sf.credentials
	if creds == "" {
		creds = c.getenv(envCredentials)
	}
	cfg.Auth = api.AuthConfig{Credentials: creds, TokenFile: sf.tokenFile}
	if sf.tlsCert != "" || sf.tlsKey != "" {
		if sf.tlsCert == "" || sf.tlsKey == "" {
			return errors.New("-tls-cert and -tls-key go together")
		}
		cfg.TLS = &server.TLSConfig{CertFile: sf.tlsCert, KeyFile: sf.tlsKey, CAFile: sf.tlsCA}
	} else if sf.tlsCA != "" {
		return errors.New("-tls-ca needs -tls-cert and -tls-key")
	}
	cfg.Hostnames = splitList(sf.hostnames)
	cfg.AllowedOrigins = splitList(sf.origins)
	cfg.Limits = engine.Limits{MaxInstances: sf.maxInstances}
	cfg.ProgressDeadline = sf.progressDeadline
	if sf.progressDeadline == 0 {
		cfg.ProgressDeadline = -1 // none (the Config's 0 means the default)
	}
	cfg.StableAfter, cfg.HealthKillRate, cfg.BreakerShare = sf.stableAfter, sf.killRate, sf.breakerShare
	cfg.AllowUnknownFields = sf.allowUnknown
	cfg.ServicePorts = sf.servicePorts
	if sf.consul != "" {
		token := sf.consulToken
		if token == "" {
			token = os.Getenv("CONSUL_HTTP_TOKEN")
		}
		cfg.Consul = &server.ConsulConfig{
			Address: sf.consul, Token: token, Prefix: sf.consulPrefix,
			SessionTTL: sf.sessionTTL, LockDelay: sf.lockDelay, DeposeAfter: sf.leaderTimeout,
			NoRegister: !sf.catalog, FlapDamping: sf.flapDamping,
		}
	}
	return nil
}

// reloadOnHUP reads the token file and the TLS certificate again on SIGHUP,
// until ctx ends.
func reloadOnHUP(ctx context.Context, srv *server.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				srv.Reload()
			}
		}
	}()
}

// consulFlags are the cluster-mode options: state and leader lock in Consul.
func (sf *serverFlags) registerConsul(fs *flag.FlagSet, cluster bool) {
	what := "keep the state and the leader lock in Consul at this agent address (host:port), e.g. 127.0.0.1:8500"
	if !cluster {
		what = "keep the state in Consul at this agent address (host:port) instead of -data-dir, to try the cluster store locally"
	}
	fs.StringVar(&sf.consul, "consul", "", what)
	fs.StringVar(&sf.consulPrefix, "consul-prefix", "stride/", "the Consul KV prefix of the state and the leader lock (servers of one cluster share it)")
	fs.StringVar(&sf.consulToken, "consul-token", "", "the Consul ACL token (default $CONSUL_HTTP_TOKEN)")
	fs.DurationVar(&sf.sessionTTL, "session-ttl", 10*time.Second, "the TTL of the leader's Consul session (Consul's minimum is 10s), the backstop when no standby is left")
	fs.DurationVar(&sf.lockDelay, "lock-delay", 2*time.Second, "how long Consul keeps the leader lock after a lost leader's session is destroyed")
	fs.DurationVar(&sf.leaderTimeout, "leader-timeout", 8*time.Second, "how long standbys wait for a silent leader's heartbeat before deposing it; failover after a crash takes about this plus -lock-delay")
	fs.BoolVar(&sf.catalog, "consul-register", true, "register the running tasks of apps with ports in Consul's catalog (NAME.service.consul answers the healthy ones)")
	fs.DurationVar(&sf.flapDamping, "flap-damping", 5*time.Second, "how long a task that went unhealthy must stay healthy before Consul DNS answers it again (0: at once)")
}

// splitList splits a comma-separated option, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// dev: stride dev [options] [DIR] — the embedded default in one process.
func (c *cli) dev(args []string) int {
	var af applyFlags
	fs := c.flagSet("dev", "dev [options] [DIR]\n\nRuns Stride on the embedded default in one process: the state in a local file\nunder -data-dir, an in-process single-machine Mesos stand-in with -agents agents\n(tasks run as local processes), the executor and the API on -listen. With DIR, it\napplies that configuration at once. It stays in the foreground, printing what\nhappens, until interrupted; the tasks stop with it. If it is killed instead\n(kill -9, a crash, out of memory), the next stride dev on the same -data-dir\ntakes the running tasks back.")
	listen := fs.String("listen", "127.0.0.1:8080", "the API's address")
	dataDir := fs.String("data-dir", ".stride", "where state and task sandboxes live")
	agents := fs.Int("agents", 3, "how many simulated Mesos agents")
	firstPort := fs.Int("first-port", 31000, "where the agents' port ranges start (1000 ports each)")
	kept := fs.Int("sandboxes-kept", 5, "finished task sandboxes kept per app (0: none)")
	var sf serverFlags
	sf.register(fs)
	sf.registerConsul(fs, false)
	af.configFlags.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	if len(pos) > 1 {
		fs.Usage()
		return exitError
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	log := &logger{c: c}
	cfg := server.Config{
		Listen: *listen, DataDir: *dataDir, Embedded: true, Agents: *agents, FirstPort: *firstPort, Logf: log.logf,
		SandboxesKept: *kept,
	}
	if *kept <= 0 {
		cfg.SandboxesKept = -1 // none (the Config's 0 means the default)
	}
	if err := sf.check(); err != nil {
		return c.errorf(af.noColor, "%v", err)
	}
	if err := sf.apply(c, &cfg); err != nil {
		return c.errorf(af.noColor, "%v", err)
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return c.errorf(af.noColor, "%v", err)
	}
	defer srv.Close()
	reloadOnHUP(ctx, srv)
	state := *dataDir
	if sf.consul != "" {
		state = "Consul at " + sf.consul + ", prefix " + sf.consulPrefix
	}
	access := ""
	if cfg.TLS != nil {
		access += fmt.Sprintf("  TLS:   %s   (export %s=%s for a self-signed one)\n", cfg.TLS.CertFile, envCACert, cfg.TLS.CertFile)
	}
	switch {
	case cfg.Auth.Credentials != "" && cfg.Auth.TokenFile != "":
		access += fmt.Sprintf("  Auth:  basic or bearer tokens from %s   (export %s=user:password or %s=token)\n", cfg.Auth.TokenFile, envCredentials, envToken)
	case cfg.Auth.Credentials != "":
		access += fmt.Sprintf("  Auth:  basic   (export %s=user:password)\n", envCredentials)
	case cfg.Auth.TokenFile != "":
		access += fmt.Sprintf("  Auth:  bearer tokens from %s   (export %s=token)\n", cfg.Auth.TokenFile, envToken)
	}
	fmt.Fprintf(c.stdout, "Stride is running on the embedded default.\n  API:   %s   (export STRIDE_ADDR=%s)\n%s  Mesos: %s   (%d agents, sandboxes in %s)\n  State: %s\nPress Ctrl-C to stop; the tasks stop with it.\n\n",
		srv.URL(), srv.URL(), access, srv.MesosURL(), *agents, filepath.Join(*dataDir, "mesos"), state)
	if len(pos) == 1 {
		// With -consul the leader lock is won in the background (another
		// server on the prefix may hold it): the apply waits for it.
		if err := waitLeading(ctx, srv, time.Minute); err != nil {
			return c.errorf(af.noColor, "%v", err)
		}
		af.address = srv.URL()
		// Its own API: with the server's credentials and certificate.
		af.credentials = cfg.Auth.Credentials
		if af.credentials == "" && sf.tokenFile != "" {
			af.token = firstToken(sf.tokenFile)
		}
		if cfg.TLS != nil {
			af.caFile = cfg.TLS.CertFile
		}
		af.autoApprove = true
		af.detach = true
		if code := c.applyDir(pos[0], &af, ""); code != exitOK {
			return code
		}
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(c.stdout, "\nStopping: killing the tasks of the embedded stand-in.")
	case err := <-srv.Done():
		if err != nil {
			return c.errorf(af.noColor, "%v", err)
		}
	}
	return exitOK
}

// server: stride server -listen ADDR -mesos URL -data-dir DIR.
func (c *cli) server(args []string) int {
	fs := c.flagSet("server", "server [options]\n\nRuns the Stride server against a Mesos master (or a `stride mesos-local`): the\nexecutor and the API, with state in -data-dir, or — with -consul — a cluster\nmember: the state and the leader lock in Consul, one server leading and the\nothers standing by (they forward the API to the leader).")
	listen := fs.String("listen", "127.0.0.1:8080", "the API's address")
	advertise := fs.String("advertise", "", "the host:port other servers and clients reach this one at (default: the -listen address)")
	mesosURL := fs.String("mesos", "", "the Mesos master, e.g. http://127.0.0.1:5050 (comma-separated for several)")
	dataDir := fs.String("data-dir", ".stride", "where state lives (without -consul)")
	noColor := fs.Bool("no-color", false, "disable coloured output")
	fwName := fs.String("mesos-framework-name", "stride", "the framework's name, as the Mesos UI and /master/frameworks show it")
	fwRoles := fs.String("mesos-role", "*", "the roles the framework subscribes in, comma-separated: tasks run on resources unreserved or reserved for them")
	fwFailover := fs.Duration("mesos-failover-timeout", 7*24*time.Hour, "how long Mesos keeps the tasks running while no Stride server is subscribed")
	fwPrincipal := fs.String("mesos-principal", "", "the framework's principal (for the master's authorization and, with -mesos-secret-file, authentication)")
	fwSecretFile := fs.String("mesos-secret-file", "", "a file holding the principal's secret: the server then authenticates to the master (HTTP basic); the secret is never logged")
	var sf serverFlags
	sf.register(fs)
	sf.registerConsul(fs, true)
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	if len(pos) > 0 || *mesosURL == "" {
		if *mesosURL == "" {
			fmt.Fprintln(c.stderr, "stride server: -mesos is required (or run stride dev for the embedded default)")
		}
		fs.Usage()
		return exitError
	}
	fw := server.FrameworkConfig{Name: *fwName, Roles: splitList(*fwRoles), FailoverTimeout: *fwFailover, Principal: *fwPrincipal}
	if *fwFailover <= 0 {
		return c.errorf(*noColor, "-mesos-failover-timeout must be positive (Mesos would kill every task the moment the server disconnects)")
	}
	if *fwSecretFile != "" {
		if *fwPrincipal == "" {
			return c.errorf(*noColor, "-mesos-secret-file needs -mesos-principal")
		}
		b, err := os.ReadFile(*fwSecretFile)
		if err != nil {
			return c.errorf(*noColor, "-mesos-secret-file: %v", err)
		}
		if fw.Secret = strings.TrimRight(string(b), "\r\n"); fw.Secret == "" {
			return c.errorf(*noColor, "-mesos-secret-file %s is empty", *fwSecretFile)
		}
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	log := &logger{c: c}
	cfg := server.Config{Listen: *listen, DataDir: *dataDir, MesosURL: *mesosURL, Advertise: *advertise, Framework: fw, Logf: log.logf}
	if err := sf.check(); err != nil {
		return c.errorf(*noColor, "%v", err)
	}
	if err := sf.apply(c, &cfg); err != nil {
		return c.errorf(*noColor, "%v", err)
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return c.errorf(*noColor, "%v", err)
	}
	defer srv.Close()
	reloadOnHUP(ctx, srv)
	select {
	case <-ctx.Done():
		log.logf("stopping (tasks keep running on Mesos until the framework's failover timeout)")
	case err := <-srv.Done():
		if err != nil {
			return c.errorf(*noColor, "%v", err)
		}
	}
	return exitOK
}

// mesosLocal: stride mesos-local -listen ADDR -agents N -work-dir DIR.
func (c *cli) mesosLocal(args []string) int {
	fs := c.flagSet("mesos-local", "mesos-local [options]\n\nRuns the single-machine Mesos stand-in on its own: a master speaking the Mesos v1\nscheduler HTTP API and -agents simulated agents (127.0.0.2, 127.0.0.3, ...) that\nrun tasks as local processes. Several Stride servers can share it.")
	listen := fs.String("listen", "127.0.0.1:5050", "the master's address")
	agents := fs.Int("agents", 3, "how many simulated agents")
	racks := fs.Int("racks", 2, "rack_id values the agents are spread over")
	workDir := fs.String("work-dir", ".stride-mesos", "where task sandboxes live")
	cpus := fs.Float64("cpus", 0, "cpus per agent (0: the stand-in's default)")
	mem := fs.Float64("mem", 0, "memory (MB) per agent (0: default)")
	firstPort := fs.Int("first-port", 31000, "where the agents' port ranges start (1000 ports each)")
	kept := fs.Int("sandboxes-kept", 5, "finished task sandboxes kept per app (0: none)")
	noColor := fs.Bool("no-color", false, "disable coloured output")
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	if len(pos) > 0 {
		fs.Usage()
		return exitError
	}
	if *kept <= 0 {
		*kept = -1 // none (the Config's 0 means the default)
	}
	ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	log := &logger{c: c}
	m, err := localmesos.New(localmesos.Config{
		Listen: *listen, WorkDir: *workDir, Agents: *agents, Racks: *racks, Cpus: *cpus, Mem: *mem, FirstPort: *firstPort, Logf: log.logf,
		SandboxesKept: *kept,
	})
	if err != nil {
		return c.errorf(*noColor, "%v", err)
	}
	if err := m.Start(ctx); err != nil {
		return c.errorf(*noColor, "%v", err)
	}
	defer m.Close()
	fmt.Fprintf(c.stdout, "Mesos stand-in listening on %s with %d agents (sandboxes in %s).\n", m.URL(), *agents, *workDir)
	for _, a := range m.Agents() {
		fmt.Fprintf(c.stdout, "  agent %s  %s  %v\n", a.ID, a.Hostname, a.Attributes)
	}
	<-ctx.Done()
	fmt.Fprintln(c.stdout, "\nStopping: killing every task.")
	return exitOK
}

// waitLeading waits until srv leads (or ctx ends, or timeout passes).
func waitLeading(ctx context.Context, srv *server.Server, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !srv.Leading() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("not elected leader after %s: is another Stride server using this Consul prefix?", timeout)
		case <-tick.C:
		}
	}
	return nil
}
