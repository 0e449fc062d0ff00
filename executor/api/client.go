package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/stride-run/stride/internal/version"

	"github.com/stride-run/stride/engine"
)

// Client talks to a Stride server.
type Client struct {
	// Base is the server's URL, "http://127.0.0.1:8080".
	Base string
	// HTTP is the HTTP client (a 60 s timeout by default).
	HTTP *http.Client
	// Credentials ("user:password") are sent as HTTP basic auth, and Token as a
	// bearer token (it wins when both are set). Neither appears in an error.
	Credentials, Token string
}

// NewClient returns a client for base (a URL; "host:port" is taken as http).
// Credentials in the URL ("https://user:password@host:8080") become the
// client's Credentials and leave Base.
func NewClient(base string) *Client {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
	if u, err := url.Parse(c.Base); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			c.Credentials = u.User.Username() + ":" + pw
		}
		u.User = nil
		c.Base = u.String()
	}
	return c
}

// TrustCAFile makes the client trust the CA certificates (PEM) in file besides
// the system's, for a server with a private or self-signed certificate.
func (c *Client) TrustCAFile(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("CA certificates: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("CA certificates: %s holds no PEM certificate", file)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	c.HTTP.Transport = tr
	return nil
}

// authorize sets the request's credentials.
func (c *Client) authorize(req *http.Request) {
	switch {
	case c.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Token)
	case c.Credentials != "":
		user, pass, _ := strings.Cut(c.Credentials, ":")
		req.SetBasicAuth(user, pass)
	}
}

// Error is an error answer of the server.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is Marathon's "message" (or the body, when it is not JSON).
	Message string
	// Details are the field errors of a 400 or 422.
	Details []engine.FieldError
	// Deployments name the deployments that lock an app (409).
	Deployments []string
}

// Error returns the message and, one per line, the field errors.
func (e *Error) Error() string {
	msg := e.Message
	for _, d := range e.Details {
		msg += fmt.Sprintf("\n  %s: %s", d.Path, strings.Join(d.Errors, ", "))
	}
	return msg
}

// UserAgent is what Stride's HTTP clients (the CLI's, the UI's requests to
// Mesos) send: "Stride/" and the one version (internal/version).
func UserAgent() string { return "Stride/" + version.Version }

// ErrUnreachable wraps connection failures, so callers can say "is a server running?".
var ErrUnreachable = errors.New("cannot reach the Stride server")

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", UserAgent())
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.Base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 400 {
		var eb errorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Message == "" {
			eb.Message = strings.TrimSpace(string(raw))
		}
		e := &Error{Status: resp.StatusCode, Message: eb.Message, Details: eb.Details}
		for _, d := range eb.Deployments {
			e.Deployments = append(e.Deployments, d.ID)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return nil
}

// State returns the deployed state (serial and apps).
func (c *Client) State(ctx context.Context) (*engine.State, error) {
	var out StateResponse
	if err := c.do(ctx, http.MethodGet, "/stride/v1/state", nil, &out); err != nil {
		return nil, err
	}
	for _, a := range out.Apps {
		a.ApplyDefaults()
	}
	return &engine.State{Serial: out.Serial, Apps: out.Apps}, nil
}

// Cluster returns the cluster snapshot (GET /stride/v1/cluster?placed=true):
// the agents, their free resources and the tasks placed on them.
func (c *Client) Cluster(ctx context.Context) (*ClusterResponse, error) {
	var out ClusterResponse
	if err := c.do(ctx, http.MethodGet, "/stride/v1/cluster?placed=true", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Apply starts a deployment.
func (c *Client) Apply(ctx context.Context, req ApplyRequest) (*ApplyResponse, error) {
	var out ApplyResponse
	if err := c.do(ctx, http.MethodPost, "/stride/v1/apply", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deployment returns a deployment's status and its apps' progress.
func (c *Client) Deployment(ctx context.Context, id string) (*DeploymentResponse, error) {
	var out DeploymentResponse
	if err := c.do(ctx, http.MethodGet, "/stride/v1/deployments/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AppInfo is the part of Marathon's AppInfo the CLI shows.
type AppInfo struct {
	ID              string                `json:"id"`
	Instances       int                   `json:"instances"`
	Cmd             string                `json:"cmd"`
	Version         string                `json:"version"`
	TasksStaged     int                   `json:"tasksStaged"`
	TasksRunning    int                   `json:"tasksRunning"`
	TasksHealthy    int                   `json:"tasksHealthy"`
	TasksUnhealthy  int                   `json:"tasksUnhealthy"`
	HealthChecks    []json.RawMessage     `json:"healthChecks"`
	Deployments     []struct{ ID string } `json:"deployments"`
	Tasks           []engine.Task         `json:"tasks"`
	LastTaskFailure *struct {
		State     string `json:"state"`
		Message   string `json:"message"`
		Timestamp string `json:"timestamp"`
		TaskID    string `json:"taskId"`
	} `json:"lastTaskFailure"`
	// Extras is what Stride knows beyond Marathon (GET /stride/v1/apps): nil
	// when the server is not a Stride server, or knows nothing more.
	Extras *AppExtras `json:"-"`
}

// Apps lists apps with their tasks and last failures, and Stride's extras
// (why instances wait) when the server has them.
func (c *Client) Apps(ctx context.Context) ([]AppInfo, error) {
	var out struct {
		Apps []AppInfo `json:"apps"`
	}
	if err := c.do(ctx, http.MethodGet, "/v2/apps?embed=apps.tasks&embed=apps.lastTaskFailure&embed=apps.counts", nil, &out); err != nil {
		return nil, err
	}
	var extras struct {
		Apps []AppExtras `json:"apps"`
	}
	if err := c.do(ctx, http.MethodGet, strideApps, nil, &extras); err == nil {
		byID := make(map[string]*AppExtras, len(extras.Apps))
		for i := range extras.Apps {
			byID[extras.Apps[i].ID] = &extras.Apps[i]
		}
		for i := range out.Apps {
			out.Apps[i].Extras = byID[out.Apps[i].ID]
		}
	}
	return out.Apps, nil
}

// App returns one app (id with or without its leading slash), with Stride's
// extras when the server has them.
func (c *Client) App(ctx context.Context, id string) (*AppInfo, error) {
	var out struct {
		App AppInfo `json:"app"`
	}
	path := escapePath(engine.CanonicalID(id))
	if err := c.do(ctx, http.MethodGet, "/v2/apps"+path, nil, &out); err != nil {
		return nil, err
	}
	var extras struct {
		App AppExtras `json:"app"`
	}
	if err := c.do(ctx, http.MethodGet, strideApps+path, nil, &extras); err == nil {
		out.App.Extras = &extras.App
	}
	return &out.App, nil
}

// AppsStatus returns every app's Stride status (GET /stride/v1/apps).
func (c *Client) AppsStatus(ctx context.Context) ([]AppStatus, error) {
	var out struct {
		Apps []AppStatus `json:"apps"`
	}
	err := c.do(ctx, http.MethodGet, "/stride/v1/apps", nil, &out)
	return out.Apps, err
}

// Revert starts the revert of a running deployment (DELETE
// /v2/deployments/{id}, as in Marathon) and returns the revert's id.
func (c *Client) Revert(ctx context.Context, id string) (string, error) {
	var out deploymentResult
	err := c.do(ctx, http.MethodDelete, "/v2/deployments/"+url.PathEscape(id), nil, &out)
	return out.DeploymentID, err
}

// Plan returns the plan an apply of req would carry out now.
func (c *Client) Plan(ctx context.Context, req ApplyRequest) (*engine.Plan, error) {
	var out engine.Plan
	if err := c.do(ctx, http.MethodPost, "/stride/v1/plan", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deployments lists the running deployments (Marathon's GET /v2/deployments).
func (c *Client) Deployments(ctx context.Context) ([]DeploymentInfo, error) {
	var out []DeploymentInfo
	err := c.do(ctx, http.MethodGet, "/v2/deployments", nil, &out)
	return out, err
}

// Cancel stops a running deployment where it is (DELETE
// /v2/deployments/{id}?force=true).
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v2/deployments/"+url.PathEscape(id)+"?force=true", nil, nil)
}

// escapePath escapes each segment of an absolute id for a URL path.
func escapePath(id string) string {
	segs := strings.Split(id, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Tasks lists every task.
func (c *Client) Tasks(ctx context.Context) ([]engine.Task, error) {
	var out struct {
		Tasks []engine.Task `json:"tasks"`
	}
	err := c.do(ctx, http.MethodGet, "/v2/tasks", nil, &out)
	return out.Tasks, err
}

// Leader returns the address of the leading server (GET /v2/leader), "" when
// there is none (an election is under way).
func (c *Client) Leader(ctx context.Context) (string, error) {
	var out struct {
		Leader string `json:"leader"`
	}
	err := c.do(ctx, http.MethodGet, "/v2/leader", nil, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return "", nil
	}
	return out.Leader, err
}

// DeploymentResult is Marathon's answer to a deployable write.
type DeploymentResult struct {
	DeploymentID string `json:"deploymentId"`
	Version      string `json:"version"`
}

// Get returns the body of a GET of path (a JSON document), for callers that
// decode it themselves.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, path, nil, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// Groups returns the root group with every group and app under it (GET
// /v2/groups), as Marathon's JSON.
func (c *Client) Groups(ctx context.Context) ([]byte, error) {
	return c.Get(ctx, "/v2/groups?embed=group.groups&embed=group.apps")
}

// AppVersions lists an app's recorded versions, newest first.
func (c *Client) AppVersions(ctx context.Context, id string) ([]string, error) {
	var out struct {
		Versions []string `json:"versions"`
	}
	err := c.do(ctx, http.MethodGet, "/v2/apps"+escapePath(engine.CanonicalID(id))+"/versions", nil, &out)
	return out.Versions, err
}

// Rollback deploys an app's recorded version (PUT /v2/apps/{id} {"version"}).
func (c *Client) Rollback(ctx context.Context, id, version string, force bool) (*DeploymentResult, error) {
	path := "/v2/apps" + escapePath(engine.CanonicalID(id))
	if force {
		path += "?force=true"
	}
	var out DeploymentResult
	if err := c.do(ctx, http.MethodPut, path, map[string]string{"version": version}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
