package driver

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
)

// Config describes the framework the driver registers and the masters it talks
// to. The zero value of every field but Master means "the default" documented
// next to it.
type Config struct {
	// Master is the HTTP address of a Mesos master, "http://host:5050" (a bare
	// "host:5050" means http). Several comma-separated masters are tried in
	// turn until one answers; a non-leading master's 307 redirect is followed
	// to the leader. ZooKeeper URLs (zk://) are not supported: list the
	// masters instead.
	Master string
	// FrameworkID is the persisted framework id to re-subscribe with ("" = a
	// new framework). The driver keeps the id it is given by SUBSCRIBED from
	// then on; FrameworkID reports it.
	FrameworkID string
	// FrameworkName is framework_info.name (default "stride").
	FrameworkName string
	// User is the user tasks run as unless they name one (default: the current
	// user).
	User string
	// Hostname is framework_info.hostname (optional; the master fills in the
	// address it sees).
	Hostname string
	// WebUIURL is framework_info.webui_url: the Stride API URL (optional).
	WebUIURL string
	// Roles are the roles the framework subscribes in (default ["*"]), sent
	// as framework_info.roles with the MULTI_ROLE capability.
	Roles []string
	// FailoverTimeout is how long the master keeps the framework's tasks
	// running after the framework disconnects (default 7 days, as Marathon).
	FailoverTimeout time.Duration
	// Checkpoint is framework_info.checkpoint: agents checkpoint the tasks so
	// that they survive an agent restart. nil means the default, true.
	Checkpoint *bool
	// Principal is framework_info.principal: who the framework is to the
	// master's authorization (roles it may use, quota). With Secret, every
	// call also authenticates as it (HTTP basic authentication, what a master
	// started with --authenticate_frameworks and the basic HTTP framework
	// authenticator checks).
	Principal string
	// Secret is the principal's secret; it is sent in calls' Authorization
	// header only, never logged.
	Secret string
	// GPUResources declares the GPU_RESOURCES capability. Without it a Mesos
	// master never offers the resources of agents that have GPUs, so apps that
	// ask for gpus cannot run; with it every task, GPU or not, may land on
	// those agents (which is why Mesos makes it opt-in, as Marathon does with
	// its gpu_resources feature). Default false.
	GPUResources bool
	// Codec is the encoding of calls and events: "protobuf" (default) or
	// "json".
	Codec string
	// HeartbeatMisses: when no event arrived for this many heartbeat intervals
	// (the interval SUBSCRIBED announces), the driver gives up on the
	// connection and re-subscribes. Default 5: the "bunch (e.g., 5)" of the
	// Mesos scheduler API documentation and Marathon's
	// mesos_heartbeat_failure_threshold (mesos-go itself does not watch
	// heartbeats).
	HeartbeatMisses int
	// MinBackoff and MaxBackoff bound the wait between subscription attempts:
	// exponential from MinBackoff (default 500ms) to MaxBackoff (default 15s),
	// back to MinBackoff after a successful subscription.
	MinBackoff, MaxBackoff time.Duration
	// Logf receives the driver's log lines; nil discards them.
	Logf func(format string, args ...any)
}

// Defaults of Config.
const (
	defaultFrameworkName   = "stride"
	defaultRole            = "*"
	defaultFailoverTimeout = 7 * 24 * time.Hour
	defaultHeartbeatMisses = 5
	defaultMinBackoff      = 500 * time.Millisecond
	defaultMaxBackoff      = 15 * time.Second
	// defaultHeartbeat is the heartbeat interval assumed until SUBSCRIBED
	// says otherwise (a Mesos master's, 15s).
	defaultHeartbeat = 15 * time.Second
	// callTimeout bounds every HTTP exchange with a master: the response
	// headers of a SUBSCRIBE, the whole of any other call (the Mesos
	// documentation suggests 75s, five heartbeats).
	callTimeout = 75 * time.Second
	// maxRedirects bounds the 307 hops of one subscription attempt.
	maxRedirects = 8
	// maxEventBytes is the largest event accepted on the stream (Mesos'
	// protobuf message limit).
	maxEventBytes = 64 << 20
	// schedulerPath is the scheduler endpoint of a master.
	schedulerPath = "/api/v1/scheduler"
)

// settings is a Config with defaults applied and the parts the driver uses
// parsed.
type settings struct {
	Config
	masters    []*url.URL // scheduler endpoints, in the order given
	codec      encoding.Codec
	checkpoint bool
}

// withDefaults applies the defaults and checks the config; the error names
// every field that cannot be used.
func (c Config) withDefaults() (settings, error) {
	s := settings{Config: c}
	if s.FrameworkName == "" {
		s.FrameworkName = defaultFrameworkName
	}
	if len(s.Roles) == 0 {
		s.Roles = []string{defaultRole}
	} else {
		s.Roles = append([]string(nil), s.Roles...)
	}
	if s.FailoverTimeout == 0 {
		s.FailoverTimeout = defaultFailoverTimeout
	}
	s.checkpoint = c.Checkpoint == nil || *c.Checkpoint
	if s.HeartbeatMisses == 0 {
		s.HeartbeatMisses = defaultHeartbeatMisses
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = defaultMinBackoff
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = defaultMaxBackoff
	}
	if s.Logf == nil {
		s.Logf = func(string, ...any) {}
	}

	var errs []error
	masters, err := parseMasters(c.Master)
	if err != nil {
		errs = append(errs, err)
	}
	s.masters = masters
	switch strings.ToLower(c.Codec) {
	case "", codecs.NameProtobuf:
		s.codec = codecs.ByMediaType[codecs.MediaTypeProtobuf]
	case codecs.NameJSON:
		s.codec = codecs.ByMediaType[codecs.MediaTypeJSON]
	default:
		errs = append(errs, fmt.Errorf("codec: %q is neither %q nor %q", c.Codec, codecs.NameProtobuf, codecs.NameJSON))
	}
	if s.User == "" {
		name, err := currentUser()
		if err != nil {
			errs = append(errs, fmt.Errorf("user: %w", err))
		}
		s.User = name
	}
	seen := map[string]bool{}
	for _, r := range s.Roles {
		if r == "" || strings.ContainsAny(r, " \t\n") {
			errs = append(errs, fmt.Errorf("roles: %q is not a role name", r))
		}
		if seen[r] {
			errs = append(errs, fmt.Errorf("roles: %q is listed twice", r))
		}
		seen[r] = true
	}
	if c.Secret != "" && c.Principal == "" {
		errs = append(errs, errors.New("secret: given without a principal"))
	}
	if s.FailoverTimeout < 0 {
		errs = append(errs, fmt.Errorf("failover timeout: %v is negative", s.FailoverTimeout))
	}
	if s.HeartbeatMisses < 0 {
		errs = append(errs, fmt.Errorf("heartbeat misses: %d is negative", s.HeartbeatMisses))
	}
	if s.MinBackoff < 0 || s.MaxBackoff < 0 {
		errs = append(errs, fmt.Errorf("backoff: %v..%v is negative", s.MinBackoff, s.MaxBackoff))
	} else if s.MaxBackoff < s.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff: the maximum %v is below the minimum %v", s.MaxBackoff, s.MinBackoff))
	}
	if err := errors.Join(errs...); err != nil {
		return s, fmt.Errorf("mesos driver: invalid config: %w", err)
	}
	return s, nil
}

// currentUser returns the name of the user the process runs as.
func currentUser() (string, error) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	if name := os.Getenv("USER"); name != "" {
		return name, nil
	}
	return "", errors.New("cannot determine the current user; set Config.User")
}

// parseMasters turns Config.Master into the scheduler endpoints of the
// masters: "http://host:5050", "host:5050" or "https://host/prefix" become
// ".../api/v1/scheduler" (kept as is when already given).
func parseMasters(list string) ([]*url.URL, error) {
	var out []*url.URL
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("master: %w", err)
		}
		switch {
		case u.Scheme == "zk":
			return nil, fmt.Errorf("master: %q: ZooKeeper master detection is not supported; list the masters' HTTP addresses, comma-separated", raw)
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("master: %q: the scheme must be http or https", raw)
		case u.Host == "":
			return nil, fmt.Errorf("master: %q has no host", raw)
		}
		u.RawQuery, u.Fragment, u.User = "", "", nil
		if !strings.HasSuffix(u.Path, schedulerPath) {
			u.Path = strings.TrimSuffix(u.Path, "/") + schedulerPath
		}
		u.RawPath = ""
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("master: no master address given")
	}
	return out, nil
}

// baseURL returns the master URL of a scheduler endpoint: the endpoint without
// its /api/v1/scheduler suffix.
func baseURL(endpoint *url.URL) string {
	u := *endpoint
	u.Path = strings.TrimSuffix(u.Path, schedulerPath)
	u.RawPath = ""
	return u.String()
}

// resolveLocation returns the endpoint a 307 redirect's Location names. Mesos
// sends the leader as "//host:port/api/v1/scheduler" (or "//host:port", or, in
// its documentation's example, a bare "host:port"); an absolute URL is taken
// as is. The scheduler path and, unless the Location gives one, the scheme of
// the current endpoint are kept.
func resolveLocation(current *url.URL, location string) (*url.URL, error) {
	location = strings.TrimSpace(location)
	if location == "" {
		return nil, errors.New("the redirect has no Location")
	}
	if !strings.Contains(location, "//") {
		location = "//" + location
	}
	loc, err := url.Parse(location)
	if err != nil {
		return nil, fmt.Errorf("the redirect's Location %q: %w", location, err)
	}
	if loc.Host == "" {
		return nil, fmt.Errorf("the redirect's Location %q names no host", location)
	}
	next := current.ResolveReference(loc)
	if loc.Path == "" || loc.Path == "/" {
		next.Path = current.Path
		next.RawPath = ""
	}
	next.RawQuery, next.Fragment = "", ""
	return next, nil
}

// capabilities are the framework capabilities the driver declares. Being
// PARTITION_AWARE, the framework hears TASK_UNREACHABLE, TASK_GONE,
// TASK_GONE_BY_OPERATOR, TASK_UNKNOWN and TASK_DROPPED instead of TASK_LOST.
func (s *settings) capabilities() []mesos.FrameworkInfo_Capability {
	types := []mesos.FrameworkInfo_Capability_Type{
		mesos.FrameworkInfo_Capability_MULTI_ROLE,
		mesos.FrameworkInfo_Capability_TASK_KILLING_STATE,
		mesos.FrameworkInfo_Capability_PARTITION_AWARE,
	}
	if s.GPUResources {
		types = append(types, mesos.FrameworkInfo_Capability_GPU_RESOURCES)
	}
	out := make([]mesos.FrameworkInfo_Capability, len(types))
	for i, t := range types {
		out[i] = mesos.FrameworkInfo_Capability{Type: t}
	}
	return out
}

// frameworkInfo is the framework_info of a SUBSCRIBE with framework id id
// ("" for a new framework).
func (s *settings) frameworkInfo(id string) *mesos.FrameworkInfo {
	failover := s.FailoverTimeout.Seconds()
	checkpoint := s.checkpoint
	info := &mesos.FrameworkInfo{
		User:            s.User,
		Name:            s.FrameworkName,
		FailoverTimeout: &failover,
		Checkpoint:      &checkpoint,
		Roles:           append([]string(nil), s.Roles...),
		Capabilities:    s.capabilities(),
	}
	if id != "" {
		info.ID = &mesos.FrameworkID{Value: id}
	}
	if s.Hostname != "" {
		h := s.Hostname
		info.Hostname = &h
	}
	if s.WebUIURL != "" {
		w := s.WebUIURL
		info.WebUiURL = &w
	}
	if s.Principal != "" {
		p := s.Principal
		info.Principal = &p
	}
	return info
}

// refuseFilters returns the Filters of an ACCEPT or DECLINE: refuse_seconds
// set when secs is not negative, nil (the master's default, 5s) otherwise.
func refuseFilters(secs float64) (*mesos.Filters, error) {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return nil, fmt.Errorf("refuse seconds %v is not a number of seconds", secs)
	}
	if secs < 0 {
		return nil, nil
	}
	return &mesos.Filters{RefuseSeconds: &secs}, nil
}
