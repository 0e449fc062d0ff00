package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/engine/store/bolt"
)

// startHTTPOnly starts a server whose API has the given HTTP limits, against the
// test's stand-in.
func (e *testEnv) startWithHTTP(hl HTTPLimits) *Server {
	e.t.Helper()
	if e.srv != nil {
		_ = e.srv.Close()
	}
	srv, err := Start(context.Background(), Config{
		Listen: "127.0.0.1:0", DataDir: e.dataDir, MesosURL: e.master.URL(), Logf: e.logf, HTTP: hl,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = srv
	e.t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// TestSlowBodyIsCutOff: a client that sends its body a byte at a time is
// disconnected once the read timeout passes, and the apply never runs.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := newEnv(t, 1)
	srv := e.startWithHTTP(HTTPLimits{ReadTimeout: time.Second, ReadHeaderTimeout: time.Second})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"spec": {"scope": "/", "apps": []}}`
	fmt.Fprintf(c, "POST /stride/v1/apply HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", srv.Addr(), len(body))
	// One byte every 100ms: the body would take 3.6 s; the server must hang up
	// (the write fails or the read sees EOF/a response) well before the client
	// is done. Bounded: the loop ends after the body.
	cut := false
	for i := 0; i < len(body); i++ {
		if _, err := c.Write([]byte{body[i]}); err != nil {
			cut = true
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil && !isTimeout(err) {
			cut = true // EOF or reset: the server closed the connection
			break
		} else if err == nil {
			// A response (the server's 408, or an error) before the body ended.
			cut = true
			break
		}
	}
	if !cut {
		t.Fatal("the server read the whole slow body")
	}
	if v := srv.Executor().View(); len(v.Deployments) != 0 || v.Serial != 0 {
		t.Fatalf("the slow request changed state: serial %d, %d deployments", v.Serial, len(v.Deployments))
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestConnectionCaps: connections beyond the per-client cap are closed at once;
// those within it are served, and idle ones are closed after the idle timeout.
func TestConnectionCaps(t *testing.T) {
	e := newEnv(t, 1)
	srv := e.startWithHTTP(HTTPLimits{MaxConnsPerClient: 4, MaxConns: 16, IdleTimeout: 500 * time.Millisecond})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	served := 0
	for i := 0; i < 8; i++ {
		c, err := net.Dial("tcp", srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "GET /ping HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Addr())
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			served++
		}
	}
	if served != 4 {
		t.Fatalf("%d of 8 connections from one client were served, want 4", served)
	}
	// Idle connections are closed by the server: the slots come back.
	for _, c := range conns[:4] {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("idle connection not closed by the server: %v", err)
		}
	}
	resp, err := http.Get(srv.URL() + "/ping")
	if err != nil {
		t.Fatalf("a new connection after the idle ones closed: %v", err)
	}
	resp.Body.Close()
}

// TestDataDirIsPrivate: the data dir is created 0700, an existing one is made
// 0700, and the state file is the server's user's only.
func TestDataDirIsPrivate(t *testing.T) {
	e := newEnv(t, 1)
	existing := filepath.Join(t.TempDir(), "existing")
	if err := os.Mkdir(existing, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(t.TempDir(), "new", "data"), existing} {
		srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: dir, MesosURL: e.master.URL(), Logf: e.logf})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", dir, m)
		}
		st, err := os.Stat(filepath.Join(dir, bolt.StateFile))
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("state file mode %v is open to others", m)
		}
	}
}

// TestCrossSiteRequestsRunNothing: against a real server, the requests a web page
// can make — a text/plain form POST, a JSON POST from a foreign origin, and a
// request through a re-bound DNS name — are refused with a 403 and change nothing.
func TestCrossSiteRequestsRunNothing(t *testing.T) {
	e := newEnv(t, 1)
	marker := filepath.Join(t.TempDir(), "pwned")
	body := fmt.Sprintf(`{"spec": {"scope": "/", "apps": [{"id": "/pwned", "cmd": "touch %s", "instances": 1, "cpus": 0.1, "mem": 16}]}}`, marker)
	send := func(name string, mod func(r *http.Request)) {
		r, err := http.NewRequest(http.MethodPost, e.srv.URL()+"/stride/v1/apply", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		mod(r)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(out), `"message":`) {
			t.Fatalf("%s: %d %s, want a 403 error body", name, resp.StatusCode, out)
		}
	}
	send("text/plain form POST", func(r *http.Request) {
		r.Header.Set("Content-Type", "text/plain")
		r.Header.Set("Origin", "http://evil.example")
	})
	send("text/plain without Origin", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") })
	send("foreign origin", func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://evil.example")
	})
	send("DNS rebinding", func(r *http.Request) {
		r.Header.Set("Content-Type", "application/json")
		r.Host = "evil.example:" + strings.Split(e.srv.Addr(), ":")[1]
	})
	// The same body from a local client is a good request: the refusals above were
	// the guard's, not a broken body (plan, so that nothing runs).
	pr, err := http.Post(e.srv.URL()+"/stride/v1/plan", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	if pr.StatusCode != http.StatusOK {
		t.Fatalf("the same body from a local client: %d", pr.StatusCode)
	}
	if v := e.srv.Executor().View(); len(v.Apps) != 0 || len(e.master.Tasks()) != 0 {
		t.Fatalf("a refused request changed state: %d apps, %d tasks", len(v.Apps), len(e.master.Tasks()))
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("the command ran: %v", err)
	}
}
