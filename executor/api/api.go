// Package api serves Stride's HTTP interface: Marathon's /v2 API (apps, groups,
// tasks, deployments, queue, info, leader) and Stride's own /stride/v1 endpoints
// used by the CLI (`stride plan`, `apply`, `status`, `import`).
//
// Reads come from the executor's published View and never wait on the executor's
// actor: every encoding derived from a View is computed once and shared until the
// executor publishes the next one. Writes are handed to the Backend: each
// Marathon write is an Edit of the deployed state that the executor plans and
// deploys exactly as `stride apply` (see executor.ApplyRequest).
//
// Marathon's resources carry Marathon's fields only (real clients break on
// fields they do not know): apps are encoded with engine's Marathon encoding,
// and what only Stride knows — why an instance waits, a deployment's progress
// per app, the server's state serial — is served under /stride/v1.
//
// Errors have Marathon's shape, {"message": ..., "details": [{"path", "errors"}]},
// with Marathon's status codes: 400 malformed JSON, 404 unknown app, group or
// deployment, 405 (with Allow) for a method the path does not serve, 409 existing
// ids, stale plans and locked apps, 413 bodies over the limit, 422 invalid apps
// and groups. A client error is never answered with a 5xx, which Marathon clients
// read as "this server is down".
package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor"
	"github.com/stride-run/stride/executor/metrics"
	"github.com/stride-run/stride/internal/version"
)

// Backend is what the API needs from the executor. *executor.Executor implements
// it. View and Bus must not block; the other methods may wait on the executor's
// actor and are only called by write requests.
type Backend interface {
	// View returns the latest published snapshot (never nil).
	View() *executor.View
	// Apply re-plans the request against the deployed state and starts a deployment.
	Apply(ctx context.Context, req executor.ApplyRequest) (*engine.Plan, *engine.Deployment, error)
	// Write is Apply for the Marathon writes (an Edit), with the change's
	// version.
	Write(ctx context.Context, req executor.ApplyRequest) (*executor.WriteResult, error)
	// Plan returns the plan Apply would carry out, changing nothing.
	Plan(ctx context.Context, req executor.ApplyRequest) (*engine.Plan, error)
	// Cancel stops a running deployment where it is.
	Cancel(ctx context.Context, id string) error
	// Revert starts a deployment that undoes a running one (no deployment:
	// nothing to undo; it ended).
	Revert(ctx context.Context, id string) (*executor.WriteResult, error)
	// KillTasks kills tasks (they are replaced).
	KillTasks(ctx context.Context, ids []string) ([]engine.Task, error)
	// AppVersions lists an app's recorded versions, newest first; AppVersion
	// returns one (engine.ErrNotFound).
	AppVersions(ctx context.Context, id string) ([]string, error)
	AppVersion(ctx context.Context, id, version string) (*engine.App, error)
	// GroupVersions lists a group's recorded versions, newest first; GroupAt
	// rebuilds the group at one (engine.ErrNotFound, executor.ErrNoGroup).
	GroupVersions(ctx context.Context, id string) ([]string, error)
	GroupAt(ctx context.Context, id, version string) (*executor.GroupState, error)
	// ResetDelay ends an app's launch backoff; false when it has none.
	ResetDelay(ctx context.Context, id string) (bool, error)
	// Bus returns the event bus.
	Bus() *executor.Bus
	// Subscribe records an event callback subscription (created false: it
	// existed already); Unsubscribe removes one (removed false: there was none).
	Subscribe(ctx context.Context, sub engine.Subscription) (created bool, err error)
	Unsubscribe(ctx context.Context, callbackURL, clientIP string) (removed bool, err error)
}

// Info describes the server for /v2/info and /v2/leader.
type Info struct {
	// HTTPAddr is the host:port the API listens on.
	HTTPAddr string
	// Hostname, when set, replaces the host of HTTPAddr in what clients are told
	// (the leader address, marathon_config.hostname).
	Hostname string
	// MesosURL is the Mesos master.
	MesosURL string
	// DataDir is where the state lives (embedded mode).
	DataDir string
	// Hostnames and AllowedOrigins extend the browser-safety checks (see Guard):
	// further names for the Host header, further origins whose pages may call.
	Hostnames      []string
	AllowedOrigins []string
	// Limits bound what an apply may ask for (engine.DefaultLimits when zero).
	Limits engine.Limits
	// ServicePorts is the range service ports are assigned from, reported as
	// /v2/info's local_port_min and local_port_max
	// (engine.DefaultServicePortRange when zero).
	ServicePorts engine.PortRange
	// Advertise, when set, is the host:port other servers and clients are told to
	// reach this one at (-advertise); it replaces HTTPAddr (and Hostname) in the
	// leader address.
	Advertise string
	// Leadership, when set, is asked whether this server still leads (/v2/info's
	// elected) and carries out DELETE /v2/leader. Without it the server is the
	// only one and always leads.
	Leadership Leadership
	// Metrics, when set, is served at /metrics and /metrics/prometheus and
	// counts the event streams.
	Metrics *metrics.Metrics
	// Auth, when set, is asked for every request but /ping (see Auth).
	Auth *Auth
	// TLS says the API is served over HTTPS (/v2/info's http_config).
	TLS bool
	// History, when set, reads the recorded app versions
	// (/stride/v1/apps/{id}/history and /diff); the server passes its state store.
	History AppHistory
	// UI, when set, is the web UI, served at /ui/ behind the same checks as
	// every API call (see executor/ui); browsers asking for / are sent there.
	UI http.Handler
	// AllowUnknownFields makes app and group bodies lenient by default: members
	// Stride does not know are skipped instead of rejected with a 422 (a request
	// can still choose with ?strict=true or false).
	AllowUnknownFields bool
}

// Leadership is the server's side of leader election, as the API needs it.
type Leadership interface {
	// Elected reports whether this server holds the leadership now.
	Elected() bool
	// Abdicate gives the leadership up; another server (or this one, later) is
	// elected. It must not wait for the requests in flight to end.
	Abdicate()
}

// Server is the HTTP handler. Create it with New.
type Server struct {
	b     Backend
	info  Info
	guard *Guard
	cache snapshots
	// now is the clock (the timestamp of event_stream_attached).
	now func() time.Time
	// writeTimeout bounds how long a write waits for the executor.
	writeTimeout time.Duration
	// agents caches the Mesos master's agents (/stride/v1/cluster).
	agents masterAgents

	// promHandler and jsonHandler serve Info.Metrics (nil without).
	promHandler, jsonHandler http.Handler

	closeOnce sync.Once
	closed    chan struct{}
}

// New returns the API handler over a backend.
func New(b Backend, info Info) *Server {
	info.Limits = info.Limits.WithDefaults()
	if info.ServicePorts == (engine.PortRange{}) {
		info.ServicePorts = engine.DefaultServicePortRange
	}
	s := &Server{b: b, info: info, guard: NewGuard(info), now: time.Now, writeTimeout: 30 * time.Second, closed: make(chan struct{})}
	if info.Metrics != nil {
		s.promHandler, s.jsonHandler = info.Metrics.PrometheusHandler(), info.Metrics.JSONHandler()
	}
	return s
}

// NewGuard returns the browser-safety guard New puts in front of the API.
func NewGuard(info Info) *Guard {
	g := &Guard{ListenAddr: info.HTTPAddr, Hostnames: info.Hostnames, AllowedOrigins: info.AllowedOrigins}
	if info.Hostname != "" {
		g.Hostnames = append(g.Hostnames, info.Hostname)
	}
	if host, _, err := net.SplitHostPort(info.Advertise); err == nil && host != "" {
		g.Hostnames = append(g.Hostnames, host)
	}
	// This machine's own name is no name an attacker's DNS can re-bind (Debian
	// maps it to 127.0.1.1).
	if h, err := os.Hostname(); err == nil && h != "" {
		g.Hostnames = append(g.Hostnames, h)
	}
	return g
}

// Close ends the open event streams (an http.Server's Shutdown waits for them
// otherwise: register it with RegisterOnShutdown). Later requests are served as
// before, except /v2/events, which then ends at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
}

// Route prefixes.
const (
	pathApps        = "/v2/apps"
	pathGroups      = "/v2/groups"
	pathTasks       = "/v2/tasks"
	pathDeployments = "/v2/deployments"
	pathQueue       = "/v2/queue"
	strideDeploy    = "/stride/v1/deployments"

	pathSubscriptions = "/v2/eventSubscriptions"
	pathMetrics       = "/metrics"
	pathMetricsProm   = "/metrics/prometheus"
	strideApps        = "/stride/v1/apps"
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.guard.check(w, r) {
		return
	}
	p := r.URL.Path
	if p != "/ping" && !s.info.Auth.Check(w, r) {
		return
	}
	switch {
	case p == "/ping":
		s.ping(w, r)
	case p == pathMetrics || p == pathMetricsProm:
		s.metrics(w, r)
	case p == pathSubscriptions || p == pathSubscriptions+"/":
		s.subscriptions(w, r)
	case p == "/v2/info":
		s.getInfo(w, r)
	case p == "/v2/leader":
		s.leader(w, r)
	case p == pathApps || p == pathApps+"/":
		s.apps(w, r)
	case strings.HasPrefix(p, pathApps+"/"):
		s.appsSub(w, r, p[len(pathApps)+1:])
	case p == pathGroups || strings.HasPrefix(p, pathGroups+"/"):
		s.groups(w, r, strings.TrimPrefix(p, pathGroups))
	case p == pathTasks || p == pathTasks+"/":
		s.tasksList(w, r)
	case p == pathTasks+"/delete":
		s.tasksDelete(w, r)
	case p == pathDeployments || p == pathDeployments+"/":
		s.deploymentsList(w, r)
	case strings.HasPrefix(p, pathDeployments+"/"):
		s.deploymentDelete(w, r, strings.Trim(p[len(pathDeployments)+1:], "/"))
	case p == pathQueue || p == pathQueue+"/":
		s.queue(w, r)
	case strings.HasPrefix(p, pathQueue+"/"):
		s.queueSub(w, r, p[len(pathQueue)+1:])
	case p == "/v2/events":
		s.events(w, r)
	case p == strideApps || p == strideApps+"/":
		s.appsStatus(w, r)
	case p == "/stride/v1/state":
		s.state(w, r)
	case p == "/stride/v1/info":
		s.strideInfo(w, r)
	case p == "/stride/v1/plan":
		s.plan(w, r)
	case p == "/stride/v1/apply":
		s.apply(w, r)
	case strings.HasPrefix(p, strideDeploy+"/"):
		s.deploymentGet(w, r, strings.Trim(p[len(strideDeploy)+1:], "/"))
	case p == strideDeploy:
		s.deploymentsOverview(w, r)
	case p == strideQueue:
		s.strideQueueList(w, r)
	case p == "/stride/v1/cluster":
		s.cluster(w, r)
	case strings.HasPrefix(p, strideApps+"/"):
		s.strideAppsSub(w, r, p[len(strideApps)+1:])
	case p == uiPath || strings.HasPrefix(p, uiPath+"/"):
		s.serveUI(w, r)
	case p == "/":
		s.root(w, r)
	default:
		writeError(w, http.StatusNotFound, "Not found: "+p)
	}
}

// snap returns the encodings of the current View.
func (s *Server) snap() *snapshot { return s.cache.get(s.b.View()) }

// Error bodies.

// errorBody is Marathon's error shape.
type errorBody struct {
	Message     string              `json:"message"`
	Details     []engine.FieldError `json:"details,omitempty"`
	Deployments []deploymentRef     `json:"deployments,omitempty"`
}

// deploymentRef is {"id": ...}, how AppInfo and the 409 "locked" error name a
// deployment.
type deploymentRef struct {
	ID string `json:"id"`
}

// Messages of errors the API itself raises.
const (
	msgInvalidJSON    = "Invalid JSON"
	msgInvalidObject  = "Object is not valid"
	msgLocked         = "App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/%s'."
	msgAppNotFound    = "App '%s' does not exist"
	msgAppVersionGone = "App '%s' does not exist in version %s"
	msgAppExists      = "An app with id [%s] already exists."
	msgGroupNotFound  = "Group '%s' does not exist"
	msgGroupVersion   = "Group '%s' does not exist in version %s"
	msgGroupExists    = "Group %s is already created. Use PUT to change this group."
	msgNotChild       = "identifier %s is not child of %s. Hint: use relative paths."
	msgDeployNotFound = "DeploymentPlan %s does not exist"
	msgTaskNotFound   = "Task '%s' does not exist"
	msgInvalidTask    = "Invalid task id %s"
	msgNoDelay        = "Application %s not found in tasks queue."
	msgBusy           = "the executor is busy: %v"
)

const contentJSON = "application/json; charset=utf-8"

// writeJSON encodes v as the response body. Like Marathon, and unlike
// json.Marshal, it leaves <, > and & unescaped.
func writeJSON(w http.ResponseWriter, code int, v any) {
	raw, err := marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	writeRaw(w, code, append(raw, '\n'))
}

// writeRaw writes an already encoded JSON body.
func writeRaw(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Message: msg})
}

// allow answers 405 unless r's method is one of methods (HEAD is allowed with GET).
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	list := strings.Join(methods, ", ")
	w.Header().Set("Allow", list)
	msg := "HTTP method " + r.Method + " is not supported by this URL"
	if list != "" {
		msg += " (supported: " + list + ")"
	}
	writeError(w, http.StatusMethodNotAllowed, msg)
	return false
}

// Small endpoints.

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	_, _ = w.Write([]byte("pong"))
}

// leaderAddr is the host:port clients are told to use.
func (s *Server) leaderAddr() string {
	if s.info.Advertise != "" {
		return s.info.Advertise
	}
	if s.info.Hostname == "" {
		return s.info.HTTPAddr
	}
	_, port, err := net.SplitHostPort(s.info.HTTPAddr)
	if err != nil {
		return s.info.Hostname
	}
	return net.JoinHostPort(s.info.Hostname, port)
}

// leader is GET /v2/leader (the leader's address) and DELETE /v2/leader (the
// leader abdicates, as Marathon's: 200 {"message": "Leadership abdicated"}; the
// election starts once the response is sent).
func (s *Server) leader(w http.ResponseWriter, r *http.Request) {
	methods := []string{http.MethodGet}
	if s.info.Leadership != nil {
		methods = append(methods, http.MethodDelete)
	}
	if !allow(w, r, methods...) {
		return
	}
	if r.Method == http.MethodDelete {
		writeJSON(w, http.StatusOK, map[string]string{"message": "Leadership abdicated"})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.info.Leadership.Abdicate()
		return
	}
	if !s.elected() {
		writeError(w, http.StatusNotFound, "There is no leader")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"leader": s.leaderAddr()})
}

// elected reports whether this server leads now.
func (s *Server) elected() bool {
	return s.info.Leadership == nil || s.info.Leadership.Elected()
}

// info is GET /v2/info (§4.8). Marathon's configuration fields that have no Stride
// equivalent carry Marathon's defaults.
type info struct {
	Name            string           `json:"name"`
	Version         string           `json:"version"`
	Buildref        string           `json:"buildref"`
	Elected         bool             `json:"elected"`
	Leader          string           `json:"leader"`
	FrameworkID     string           `json:"frameworkId"`
	MarathonConfig  marathonConfig   `json:"marathon_config"`
	ZookeeperConfig zookeeperConfig  `json:"zookeeper_config"`
	HTTPConfig      httpConfig       `json:"http_config"`
	EventSubscriber *json.RawMessage `json:"event_subscriber"`
}

type marathonConfig struct {
	Checkpoint                     bool    `json:"checkpoint"`
	Executor                       string  `json:"executor"`
	FailoverTimeout                int     `json:"failover_timeout"`
	FrameworkName                  string  `json:"framework_name"`
	HA                             bool    `json:"ha"`
	Hostname                       string  `json:"hostname"`
	LeaderProxyConnectionTimeoutMs int     `json:"leader_proxy_connection_timeout_ms"`
	LeaderProxyReadTimeoutMs       int     `json:"leader_proxy_read_timeout_ms"`
	LocalPortMin                   int     `json:"local_port_min"`
	LocalPortMax                   int     `json:"local_port_max"`
	Master                         string  `json:"master"`
	MesosLeaderUIURL               string  `json:"mesos_leader_ui_url"`
	WebuiURL                       *string `json:"webui_url"`
	MesosRole                      *string `json:"mesos_role"`
	MesosUser                      string  `json:"mesos_user"`
	ReconciliationInitialDelay     int     `json:"reconciliation_initial_delay"`
	ReconciliationInterval         int     `json:"reconciliation_interval"`
	TaskLaunchTimeout              int     `json:"task_launch_timeout"`
	TaskReservationTimeout         int     `json:"task_reservation_timeout"`
}

type zookeeperConfig struct {
	ZK               string `json:"zk"`
	ZKTimeout        int    `json:"zk_timeout"`
	ZKSessionTimeout int    `json:"zk_session_timeout"`
	ZKMaxVersions    int    `json:"zk_max_versions"`
}

type httpConfig struct {
	HTTPPort  int `json:"http_port"`
	HTTPSPort int `json:"https_port"`
}

// httpConfig is /v2/info's http_config: the one port the API is served on,
// as https_port with TLS.
func (s *Server) httpConfig(port int) httpConfig {
	if s.info.TLS {
		return httpConfig{HTTPSPort: port}
	}
	return httpConfig{HTTPPort: port}
}

// eventSubscriber is /v2/info's event_subscriber: Marathon's http_callback
// subscriber with the subscribed URLs (without password and query), null when
// there is none.
func eventSubscriber(v *executor.View) *json.RawMessage {
	if len(v.Subscribers) == 0 {
		return nil
	}
	urls := make([]string, len(v.Subscribers))
	for i, sub := range v.Subscribers {
		urls[i] = engine.RedactURL(sub.CallbackURL)
	}
	raw, err := marshal(struct {
		Type          string   `json:"type"`
		HTTPEndpoints []string `json:"http_endpoints"`
	}{"http_callback", urls})
	if err != nil {
		return nil
	}
	m := json.RawMessage(raw)
	return &m
}

// StrideInfo is GET /stride/v1/info: what /v2/info cannot carry.
type StrideInfo struct {
	Version        string `json:"version"`
	StateSerial    uint64 `json:"state_serial"`
	DataDir        string `json:"data_dir,omitempty"`
	MesosConnected bool   `json:"mesos_connected"`
	Elected        bool   `json:"elected"`
	Leader         string `json:"leader,omitempty"`
}

func (s *Server) strideInfo(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	out := StrideInfo{Version: version.Version, StateSerial: v.Serial, DataDir: s.info.DataDir, MesosConnected: v.Connected, Elected: s.elected()}
	if out.Elected {
		out.Leader = s.leaderAddr()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	v := s.b.View()
	host, port, _ := net.SplitHostPort(s.info.HTTPAddr)
	if s.info.Hostname != "" {
		host = s.info.Hostname
	}
	p, _ := strconv.Atoi(port)
	elected := s.elected()
	leader := s.leaderAddr()
	if !elected {
		leader = ""
	}
	writeJSON(w, http.StatusOK, info{
		Name: "stride", Version: version.Version, Buildref: "unknown", Elected: elected,
		Leader: leader, FrameworkID: v.FrameworkID,
		MarathonConfig: marathonConfig{
			Checkpoint: true, Executor: "//cmd", FailoverTimeout: 604800, FrameworkName: "stride",
			Hostname: host, LeaderProxyConnectionTimeoutMs: 5000, LeaderProxyReadTimeoutMs: 10000,
			LocalPortMin: s.info.ServicePorts.Min, LocalPortMax: s.info.ServicePorts.Max, Master: s.info.MesosURL, MesosLeaderUIURL: s.info.MesosURL,
			MesosUser: "root", ReconciliationInitialDelay: 15000, ReconciliationInterval: 600000,
			TaskLaunchTimeout: 300000, TaskReservationTimeout: 20000,
		},
		ZookeeperConfig: zookeeperConfig{ZKTimeout: 10000, ZKSessionTimeout: 10000, ZKMaxVersions: 50},
		HTTPConfig:      s.httpConfig(p),
		EventSubscriber: eventSubscriber(v),
	})
}

// canonicalPath turns the rest of a URL path into an absolute id: empty segments
// (a missing or doubled slash, a trailing one) are dropped, "shop//api/" →
// "/shop/api".
func canonicalPath(rest string) string {
	if !strings.Contains(rest, "//") && !strings.HasSuffix(rest, "/") {
		return engine.CanonicalID(rest)
	}
	segs := strings.Split(rest, "/")
	out := segs[:0]
	for _, s := range segs {
		if s != "" {
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// queryBool reads a Marathon boolean query parameter ("true", "1"; absent: false).
func queryBool(r *http.Request, name string) bool {
	v := strings.ToLower(r.URL.Query().Get(name))
	return v == "true" || v == "1" || v == "yes"
}
