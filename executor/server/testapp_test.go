package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the app the integration tests deploy: started with
// STRIDE_TESTAPP=1 it serves HTTP on $HOST:$PORT0 with /health, and behaves as
// the environment says:
//
//	EXIT_AFTER=<duration>   exit with status 3 after that long (a crash loop)
//	HEALTH_FAIL_AFTER=<dur> /health answers 500 once that long has passed
//	and /health answers 500 while a file "unhealthy" exists in the sandbox;
//	/ready answers 503 until a file "ready" exists in the sandbox.
//	IGNORE_SIGTERM=1        on SIGTERM, write "sigterm" in the sandbox and go on
//	                        serving (until SIGKILL)
//	CONSUL_AT_SIGTERM=<consul http addr>,<service>: on SIGTERM, write to
//	                        "at-sigterm" in the sandbox whether Consul's
//	                        catalog still had this task ("registered"/"absent")
//
// It needs nothing installed on the machine, unlike python or netcat.
//
// Started with STRIDE_TESTSERVER=1 it is a Stride server (for the tests that kill
// one with SIGKILL): LISTEN, DATA_DIR and MESOS_URL configure it.
func TestMain(m *testing.M) {
	if os.Getenv("STRIDE_TESTAPP") == "1" {
		os.Exit(runTestApp())
	}
	if os.Getenv("STRIDE_TESTSERVER") == "1" {
		os.Exit(runTestServer())
	}
	os.Exit(m.Run())
}

func runTestServer() int {
	srv, err := Start(context.Background(), Config{
		Listen: os.Getenv("LISTEN"), DataDir: os.Getenv("DATA_DIR"), MesosURL: os.Getenv("MESOS_URL"),
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		return 2
	}
	fmt.Fprintln(os.Stderr, "testserver: listening on", srv.URL())
	return func() int { <-srv.Done(); return 1 }()
}

func runTestApp() int {
	start := time.Now()
	failAfter, _ := time.ParseDuration(os.Getenv("HEALTH_FAIL_AFTER"))
	if d, err := time.ParseDuration(os.Getenv("EXIT_AFTER")); err == nil {
		time.AfterFunc(d, func() { os.Exit(3) })
	}
	sandbox := os.Getenv("MESOS_SANDBOX")
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(filepath.Join(sandbox, "unhealthy")); err == nil {
			http.Error(w, "told to be unhealthy", http.StatusInternalServerError)
			return
		}
		if failAfter > 0 && time.Since(start) > failAfter {
			http.Error(w, "worn out", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat(filepath.Join(sandbox, "ready")); err != nil {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	port, err := strconv.Atoi(os.Getenv("PORT0"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp: no PORT0")
		return 2
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(os.Getenv("HOST"), strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		return 2
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { _ = srv.Serve(ln) }()
	<-ctx.Done()
	_ = os.WriteFile(filepath.Join(sandbox, "sigterm"), nil, 0o644)
	if os.Getenv("IGNORE_SIGTERM") == "1" {
		signal.Ignore(syscall.SIGTERM, os.Interrupt)
		select {}
	}
	if addr, svc, ok := strings.Cut(os.Getenv("CONSUL_AT_SIGTERM"), ","); ok {
		_ = os.WriteFile(filepath.Join(sandbox, "at-sigterm"), []byte(inCatalog(addr, svc, os.Getenv("MESOS_TASK_ID"))), 0o644)
	}
	_ = srv.Close()
	return 0
}

// inCatalog says whether Consul's catalog has task id among service's instances.
func inCatalog(addr, service, id string) string {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/v1/catalog/service/" + service)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	var entries []struct{ ServiceID string }
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		return "error: " + err.Error()
	}
	for _, e := range entries {
		if e.ServiceID == id {
			return "registered"
		}
	}
	return "absent"
}
