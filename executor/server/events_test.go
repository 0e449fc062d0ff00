package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	marathon "github.com/gambol99/go-marathon"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/engine/store/consul/consultest"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/internal/freeports"
)

// startConfigured starts the env's server with changes to its configuration,
// and a client with its credentials and certificate.
func (e *testEnv) startConfigured(mod func(*Config)) {
	e.t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", DataDir: e.dataDir, MesosURL: e.master.URL(), StableAfter: 2 * time.Second, Logf: e.logf}
	mod(&cfg)
	srv, err := Start(context.Background(), cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.t.Cleanup(func() { _ = srv.Close() })
	e.client = api.NewClient(srv.URL())
	e.client.Credentials = cfg.Auth.Credentials
	if cfg.TLS != nil {
		if err := e.client.TrustCAFile(cfg.TLS.CertFile); err != nil {
			e.t.Fatal(err)
		}
	}
	e.waitFor(10*time.Second, "the server subscribed to Mesos", func() (bool, string) {
		ex := srv.Executor()
		return ex != nil && ex.View().Connected, "not connected"
	})
}

// newBareEnv is a stand-in without a server (the test starts its own).
func newBareEnv(t *testing.T, agents int) *testEnv {
	t.Helper()
	e := newEnv(t, agents)
	_ = e.srv.Close()
	e.srv = nil
	return e
}

// sink is a callback subscriber recording the events it is sent.
type sink struct {
	srv *httptest.Server
	mu  sync.Mutex
	evs []map[string]any
	raw []string
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if json.Unmarshal(body, &ev) == nil {
			s.mu.Lock()
			s.evs = append(s.evs, ev)
			s.raw = append(s.raw, string(body))
			s.mu.Unlock()
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// has reports whether an event of typ matching match arrived.
func (s *sink) has(typ string, match func(map[string]any) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.evs {
		if ev["eventType"] == typ && (match == nil || match(ev)) {
			return true
		}
	}
	return false
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.raw, "\n")
}

// do makes an HTTP request to the env's server with the given Authorization.
func (e *testEnv) do(method, path, auth string) (int, http.Header, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.client.Base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.client.HTTP.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// marathonClient returns go-marathon's client for the env's server.
func (e *testEnv) marathonClient(mod func(*marathon.Config)) marathon.Marathon {
	e.t.Helper()
	cfg := marathon.NewDefaultConfig()
	cfg.URL = e.srv.URL()
	cfg.EventsTransport = marathon.EventsTransportSSE
	// A client of its own: the SSE library changes the client it is given.
	cfg.HTTPClient = &http.Client{Transport: e.client.HTTP.Transport}
	if mod != nil {
		mod(&cfg)
	}
	c, err := marathon.NewClient(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// collect reads events from a go-marathon listener until done says it has
// what it wants.
func collect(t *testing.T, ch marathon.EventsChannel, timeout time.Duration, done func([]*marathon.Event) bool) []*marathon.Event {
	t.Helper()
	var got []*marathon.Event
	end := time.After(timeout)
	for !done(got) {
		select {
		case ev := <-ch:
			got = append(got, ev)
		case <-end:
			names := make([]string, len(got))
			for i, ev := range got {
				names[i] = ev.Name
			}
			t.Fatalf("after %v the client had %d events: %v", timeout, len(got), names)
		}
	}
	return got
}

// deploymentEvents is done once the deployment succeeded and every task of it
// was reported running.
func deploymentEvents(depID, appID string, tasks int) func([]*marathon.Event) bool {
	return func(evs []*marathon.Event) bool {
		running := map[string]bool{}
		success := false
		for _, ev := range evs {
			switch e := ev.Event.(type) {
			case *marathon.EventStatusUpdate:
				if e.AppID == appID && e.TaskStatus == engine.TaskRunning && e.TaskID != "" {
					running[e.TaskID] = true
				}
			case *marathon.EventDeploymentSuccess:
				success = success || e.ID == depID
			}
		}
		return success && len(running) == tasks
	}
}

// TestMarathonClientEventsOverSSE: a real Marathon client library follows a
// deployment over /v2/events, with basic auth.
func TestMarathonClientEventsOverSSE(t *testing.T) {
	e := newBareEnv(t, 2)
	e.startConfigured(func(c *Config) { c.Auth.Credentials = "ops:correct-horse" })
	client := e.marathonClient(func(c *marathon.Config) {
		c.HTTPBasicAuthUser, c.HTTPBasicPassword = "ops", "correct-horse"
	})
	events, err := client.AddEventsListener(marathon.EventIDStatusUpdate | marathon.EventIDDeploymentSuccess | marathon.EventIDDeploymentInfo |
		marathon.EventIDDeploymentStepSuccess | marathon.EventIDGroupChangeSuccess | marathon.EventIDAPIRequest)
	if err != nil {
		t.Fatal(err)
	}
	defer client.RemoveEventsListener(events)
	resp := e.apply(specOf(testApp(t, "/sse", 2, nil)))
	got := collect(t, events, 60*time.Second, deploymentEvents(resp.DeploymentID, "/sse", 2))
	seen := map[string]bool{}
	for _, ev := range got {
		seen[ev.Name] = true
		if api, ok := ev.Event.(*marathon.EventAPIRequest); ok {
			if api.AppDefinition == nil || api.AppDefinition.ID != "/sse" || api.URI != "/stride/v1/apply" || api.ClientIP != "127.0.0.1" {
				t.Errorf("api_post_event %+v", api)
			}
		}
		if info, ok := ev.Event.(*marathon.EventDeploymentInfo); ok {
			if info.Plan == nil || info.Plan.ID != resp.DeploymentID || info.CurrentStep == nil || len(info.CurrentStep.Actions) != 1 || info.CurrentStep.Actions[0].Action != "StartApplication" {
				t.Errorf("deployment_info %+v", info)
			}
		}
	}
	for _, name := range []string{"api_post_event", "group_change_success", "deployment_info", "status_update_event", "deployment_step_success", "deployment_success"} {
		if !seen[name] {
			t.Errorf("the client saw no %s", name)
		}
	}
}

// TestMarathonClientEventsOverCallbacks: a real Marathon client library
// subscribes its own callback listener (POST /v2/eventSubscriptions) and gets
// a deployment's events posted to it; unsubscribing stops them. (go-marathon
// registers its handler on the process' default mux: this is the package's
// only callback client.)
func TestMarathonClientEventsOverCallbacks(t *testing.T) {
	e := newBareEnv(t, 2)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok-callbacks-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startConfigured(func(c *Config) { c.Auth.TokenFile = tokens })
	e.client.Token = "tok-callbacks-1"
	port := freePort(t)
	client := e.marathonClient(func(c *marathon.Config) {
		c.EventsTransport = marathon.EventsTransportCallback
		c.EventsInterface = "lo"
		c.EventsPort = port
		// The token as a bearer token on every call (DC/OS' token=... form,
		// which the client would send by itself, moves its API under
		// /marathon).
		c.HTTPClient = &http.Client{Transport: bearer{"tok-callbacks-1", http.DefaultTransport}, Timeout: 30 * time.Second}
	})
	events, err := client.AddEventsListener(marathon.EventIDStatusUpdate | marathon.EventIDDeploymentSuccess | marathon.EventIDSubscription)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := client.Subscriptions()
	want := fmt.Sprintf("http://127.0.0.1:%d/event", port)
	if err != nil || len(subs.CallbackURLs) != 1 || subs.CallbackURLs[0] != want {
		t.Fatalf("subscriptions %+v %v, want [%s]", subs, err, want)
	}
	resp := e.apply(specOf(testApp(t, "/cb", 2, nil)))
	collect(t, events, 60*time.Second, deploymentEvents(resp.DeploymentID, "/cb", 2))

	client.RemoveEventsListener(events)
	if subs, err := client.Subscriptions(); err != nil || len(subs.CallbackURLs) != 0 {
		t.Fatalf("after removing the listener: %+v %v", subs, err)
	}
	// The info names the callback subscriber while there is one; none now.
	var info struct {
		EventSubscriber any `json:"event_subscriber"`
	}
	if _, _, body := e.do("GET", "/v2/info", "Bearer tok-callbacks-1"); json.Unmarshal([]byte(body), &info) != nil || info.EventSubscriber != nil {
		t.Errorf("event_subscriber %v after unsubscribing", info.EventSubscriber)
	}
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// freePort returns a port of internal/freeports, held until the test ends.
func freePort(t *testing.T) int {
	t.Helper()
	return freeports.Range(t, 1)
}

// TestMarathonClientAuth: basic auth and tokens for a real Marathon client;
// the 401 it gets otherwise; /ping open.
func TestMarathonClientAuth(t *testing.T) {
	e := newBareEnv(t, 1)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok-auth-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startConfigured(func(c *Config) { c.Auth = api.AuthConfig{Credentials: "admin:pa55", TokenFile: tokens} })
	cases := map[string]struct {
		mod func(*marathon.Config)
		ok  bool
	}{
		"basic":          {func(c *marathon.Config) { c.HTTPBasicAuthUser, c.HTTPBasicPassword = "admin", "pa55" }, true},
		"wrong password": {func(c *marathon.Config) { c.HTTPBasicAuthUser, c.HTTPBasicPassword = "admin", "guess" }, false},
		"token": {func(c *marathon.Config) {
			c.HTTPClient = &http.Client{Transport: bearer{"tok-auth-1", http.DefaultTransport}}
		}, true},
		"nothing": {nil, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			client := e.marathonClient(tc.mod)
			_, err := client.Applications(nil)
			_, ierr := client.Info()
			if tc.ok {
				if err != nil || ierr != nil {
					t.Fatalf("Applications: %v, Info: %v", err, ierr)
				}
				return
			}
			var apiErr *marathon.APIError
			if !asAPIError(err, &apiErr) || apiErr.ErrCode != marathon.ErrCodeUnauthorized || !strings.Contains(apiErr.Error(), "Unauthorized") {
				t.Fatalf("Applications without valid credentials: %v, want the client's 401 error", err)
			}
			// Ping stays open: the client's health probe of a member.
			if ok, err := client.Ping(); !ok || err != nil {
				t.Fatalf("Ping: %v %v", ok, err)
			}
		})
	}
	code, h, body := e.do("GET", "/v2/apps", "")
	if code != 401 || len(h.Values("WWW-Authenticate")) != 2 || !strings.Contains(body, `"message":"Unauthorized`) {
		t.Errorf("raw 401: %d %v %s", code, h, body)
	}
	if code, _, body := e.do("GET", "/ping", ""); code != 200 || body != "pong" {
		t.Errorf("/ping: %d %q", code, body)
	}
	if code, _, _ := e.do("GET", "/v2/apps", "token=tok-auth-1"); code != 200 {
		t.Errorf("DC/OS token form: %d", code)
	}
}

func asAPIError(err error, target **marathon.APIError) bool {
	e, ok := err.(*marathon.APIError)
	if ok {
		*target = e
	}
	return ok
}

// TestSubscriptionsSurviveRestart: a callback subscription is in the state: a
// restarted server (a new term) still has it and delivers to it.
func TestSubscriptionsSurviveRestart(t *testing.T) {
	e := newEnv(t, 1)
	s := newSink(t)
	url := s.srv.URL + "/hook"
	if code, _, body := e.do("POST", "/v2/eventSubscriptions?callbackUrl="+url, ""); code != 200 || !strings.Contains(body, `"eventType":"subscribe_event"`) {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	e.waitFor(10*time.Second, "its own subscribe_event", func() (bool, string) { return s.has(executor.EventSubscribe, nil), s.text() })
	_ = e.srv.Close()
	e.startServer()
	if code, _, body := e.do("GET", "/v2/eventSubscriptions", ""); code != 200 || body != `{"callbackUrls":["`+url+`"]}`+"\n" {
		t.Fatalf("after the restart: %d %s", code, body)
	}
	resp := e.apply(specOf(testApp(t, "/after-restart", 1, nil)))
	e.waitFor(30*time.Second, "the new term's deployment_success delivered", func() (bool, string) {
		return s.has(executor.EventDeploymentSuccess, func(ev map[string]any) bool { return ev["id"] == resp.DeploymentID }), s.text()
	})
}

// TestNoSecretInLogsEventsOrErrors: API credentials, tokens, a callback URL's
// password and query, and env values never show in the server's log, in events
// (stream and callbacks) or in error bodies.
func TestNoSecretInLogsEventsOrErrors(t *testing.T) {
	e := newBareEnv(t, 1)
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("tok-SECRET-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startConfigured(func(c *Config) { c.Auth = api.AuthConfig{Credentials: "admin:pw-SECRET-1", TokenFile: tokens} })
	secrets := []string{"pw-SECRET-1", "tok-SECRET-2", "cb-SECRET-3", "q-SECRET-4", "env-SECRET-5", "guess-SECRET-6"}
	auth := "Bearer tok-SECRET-2"

	// An event stream open through it all.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stream strings.Builder
	var streamMu sync.Mutex
	req, _ := http.NewRequestWithContext(ctx, "GET", e.client.Base+"/v2/events", nil)
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			streamMu.Lock()
			stream.WriteString(sc.Text() + "\n")
			streamMu.Unlock()
		}
	}()

	s := newSink(t)
	cb := strings.Replace(s.srv.URL, "http://", "http://u:cb-SECRET-3@", 1) + "/hook?token=q-SECRET-4"
	var errs []string
	for _, r := range []struct{ method, path, auth string }{
		{"POST", "/v2/eventSubscriptions?callbackUrl=" + urlQueryEscape(cb), auth},
		{"GET", "/v2/apps", basicAuth("admin", "guess-SECRET-6")},
		{"GET", "/v2/apps", "Bearer guess-SECRET-6"},
		{"GET", "/v2/apps", basicAuth("guess-SECRET-6", "pw-SECRET-1")},
		{"POST", "/v2/eventSubscriptions?callbackUrl=ftp://guess-SECRET-6@x/", auth},
	} {
		code, _, body := e.do(r.method, r.path, r.auth)
		errs = append(errs, fmt.Sprintf("%d %s", code, body))
	}
	a := testApp(t, "/secretive", 1, map[string]string{"DB_PASSWORD": "env-SECRET-5"})
	e.client.Token = "tok-SECRET-2"
	dep := e.apply(specOf(a))
	e.waitDeployment(dep.DeploymentID, 30*time.Second)
	e.waitFor(10*time.Second, "the callback's deployment_success", func() (bool, string) {
		return s.has(executor.EventDeploymentSuccess, nil), ""
	})
	e.waitFor(10*time.Second, "the stream's deployment_success", func() (bool, string) {
		streamMu.Lock()
		defer streamMu.Unlock()
		return strings.Contains(stream.String(), "deployment_success"), ""
	})
	// The app does run with its env: the masking is the events' only.
	if got := e.appStatus("/secretive").App.Env["DB_PASSWORD"]; got != "env-SECRET-5" {
		t.Fatalf("the app's env holds %q", got)
	}
	cancel()
	e.logMu.Lock()
	logs := strings.Join(e.log, "\n")
	e.logMu.Unlock()
	streamMu.Lock()
	defer streamMu.Unlock()
	for where, text := range map[string]string{
		"log": logs, "event stream": stream.String(), "callbacks": s.text(), "error bodies": strings.Join(errs, "\n"),
	} {
		if text == "" {
			t.Errorf("the %s is empty: the test checks nothing", where)
		}
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds %q:\n%.3000s", where, secret, text)
			}
		}
	}
	if !strings.Contains(stream.String(), `"DB_PASSWORD":"`+executor.MaskedValue+`"`) {
		t.Errorf("api_post_event does not show the masked env:\n%.2000s", stream.String())
	}
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "#", "%23", "+", "%2B", " ", "%20").Replace(s)
}

// TestMetricsOfARunningServer: the figures a deployment leaves, in both
// formats, behind the API's auth.
func TestMetricsOfARunningServer(t *testing.T) {
	e := newBareEnv(t, 2)
	e.startConfigured(func(c *Config) { c.Auth.Credentials = "m:m" })
	dep := e.apply(specOf(testApp(t, "/metered", 3, nil)))
	e.waitDeployment(dep.DeploymentID, 30*time.Second)
	if code, _, _ := e.do("GET", "/metrics", ""); code != 401 {
		t.Errorf("/metrics without credentials: %d", code)
	}
	auth := basicAuth("m", "m")
	_, _, prom := e.do("GET", "/metrics/prometheus", auth)
	for _, want := range []string{
		`stride_tasks{state="TASK_RUNNING"} 3`,
		`stride_apps 1`,
		`stride_leader 1`,
		`stride_deployments_finished_total{outcome="succeeded"} 1`,
		`stride_task_launch_seconds_count 3`,
		`stride_api_request_duration_seconds_count{method="POST",route="/stride/v1/apply"} 1`,
		`stride_api_responses_total{code="401",route="/metrics"} 1`,
		`stride_health_checks_total{protocol="HTTP",result="passed"}`,
		`stride_events_published_total{type="status_update_event"}`,
		`stride_offers_processed_total`,
		`go_goroutines`,
	} {
		if !strings.Contains(prom, want) {
			t.Errorf("/metrics/prometheus lacks %s", want)
		}
	}
	_, _, body := e.do("GET", "/metrics", auth)
	var doc struct {
		Version string                     `json:"version"`
		Gauges  map[string]json.RawMessage `json:"gauges"`
		Timers  map[string]struct {
			Count int     `json:"count"`
			Max   float64 `json:"max"`
		} `json:"timers"`
		Meters map[string]struct {
			Count int `json:"count"`
		} `json:"meters"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if l := doc.Timers["stride.task.launch.seconds"]; l.Count != 3 || l.Max <= 0 {
		t.Errorf("launch timer %+v", l)
	}
	if doc.Meters["stride.offers.processed"].Count == 0 || string(doc.Gauges["stride.tasks{state=TASK_RUNNING}"]) != `{"value":3}` {
		t.Errorf("meters %v gauges %s", doc.Meters, doc.Gauges["stride.tasks{state=TASK_RUNNING}"])
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stride test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestTLS: the API over HTTPS only, for Stride's client and a Marathon client
// (events included); plain HTTP gets nothing.
func TestTLS(t *testing.T) {
	e := newBareEnv(t, 1)
	cert, key := selfSigned(t, t.TempDir())
	e.startConfigured(func(c *Config) { c.TLS = &TLSConfig{CertFile: cert, KeyFile: key} })
	if !strings.HasPrefix(e.srv.URL(), "https://") {
		t.Fatalf("URL %s", e.srv.URL())
	}
	if _, err := e.client.Apps(context.Background()); err != nil {
		t.Fatalf("Stride's client over TLS: %v", err)
	}
	code, h, body := e.do("GET", "/v2/info", "")
	if code != 200 || h.Get("X-Marathon-Leader") != "https://"+e.srv.Addr() || !strings.Contains(body, `"https_port":`) {
		t.Errorf("/v2/info over TLS: %d %s %s", code, h.Get("X-Marathon-Leader"), body)
	}
	plain, err := http.Get("http://" + e.srv.Addr() + "/ping")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP served the API")
		}
	}
	client := e.marathonClient(nil)
	events, err := client.AddEventsListener(marathon.EventIDStatusUpdate | marathon.EventIDDeploymentSuccess)
	if err != nil {
		t.Fatal(err)
	}
	defer client.RemoveEventsListener(events)
	resp := e.apply(specOf(testApp(t, "/tls", 1, nil)))
	collect(t, events, 60*time.Second, deploymentEvents(resp.DeploymentID, "/tls", 1))

	// A renewed certificate is served after Reload (SIGHUP), without a restart.
	cert2, key2 := selfSigned(t, t.TempDir())
	for _, f := range [][2]string{{cert2, cert}, {key2, key}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f[1], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.Reload()
	served := func() []byte {
		conn, err := tls.Dial("tcp", e.srv.Addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate served
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw
	}
	block, _ := pem.Decode(mustRead(t, cert2))
	if string(served()) != string(block.Bytes) {
		t.Error("the renewed certificate is not served after Reload")
	}
}

func mustRead(t *testing.T, f string) []byte {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClusterStandbyWithAuthAndTLS: two servers on Consul with basic auth,
// tokens and TLS. The standby checks credentials itself (401 without, /ping
// open), forwards the request with them over HTTPS to the leader, which
// checks them again; the event stream works through it; its /metrics are its
// own.
func TestClusterStandbyWithAuthAndTLS(t *testing.T) {
	agent := consultest.Start(t, consultest.Options{})
	e := newBareEnv(t, 1)
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("tok-cluster-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *Server {
		srv, err := Start(context.Background(), Config{
			Listen: "127.0.0.1:0", MesosURL: e.master.URL(), StableAfter: 2 * time.Second, Logf: e.logf,
			Consul: &ConsulConfig{Address: agent.HTTPAddr(), Prefix: "stride-authtls/", NoRegister: true,
				LockDelay: 100 * time.Millisecond, DeposeAfter: time.Second},
			Auth: api.AuthConfig{Credentials: "admin:pw", TokenFile: tokens},
			TLS:  &TLSConfig{CertFile: cert, KeyFile: key},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		return srv
	}
	one, two := start(), start()
	var leader, standby *Server
	e.waitFor(30*time.Second, "a leader", func() (bool, string) {
		switch {
		case one.Leading():
			leader, standby = one, two
		case two.Leading():
			leader, standby = two, one
		}
		return leader != nil, "no leader"
	})
	e.srv = leader
	e.waitFor(10*time.Second, "the leader subscribed to Mesos", func() (bool, string) {
		ex := leader.Executor()
		return ex != nil && ex.View().Connected, "not connected"
	})
	e.client = api.NewClient(standby.URL())
	if err := e.client.TrustCAFile(cert); err != nil {
		t.Fatal(err)
	}
	if code, _, body := e.do("GET", "/v2/apps", ""); code != 401 || !strings.Contains(body, "Unauthorized") {
		t.Fatalf("standby without credentials: %d %s", code, body)
	}
	if code, _, body := e.do("GET", "/ping", ""); code != 200 || body != "pong" {
		t.Fatalf("standby /ping: %d %s", code, body)
	}
	code, h, body := e.do("GET", "/v2/info", basicAuth("admin", "pw"))
	if code != 200 || !strings.Contains(body, `"elected":true`) || h.Get("X-Marathon-Leader") != "https://"+leader.Addr() {
		t.Fatalf("info through the standby: %d %s %s", code, h.Get("X-Marathon-Leader"), body)
	}
	if _, _, prom := e.do("GET", "/metrics/prometheus", "Bearer tok-cluster-1"); !strings.Contains(prom, "stride_leader 0") {
		t.Errorf("the standby's own metrics do not say it does not lead:\n%.500s", prom)
	}

	// Events through the standby, a deployment applied through it too.
	client := e.marathonClient(func(c *marathon.Config) {
		c.URL = standby.URL()
		c.HTTPClient = &http.Client{Transport: bearer{"tok-cluster-1", e.client.HTTP.Transport}}
	})
	events, err := client.AddEventsListener(marathon.EventIDStatusUpdate | marathon.EventIDDeploymentSuccess)
	if err != nil {
		t.Fatal(err)
	}
	defer client.RemoveEventsListener(events)
	e.client.Credentials = "admin:pw"
	resp := e.apply(specOf(testApp(t, "/through-standby", 1, nil)))
	collect(t, events, 60*time.Second, deploymentEvents(resp.DeploymentID, "/through-standby", 1))
}
