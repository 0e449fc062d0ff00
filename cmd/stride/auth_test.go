package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stride-run/stride/executor/api"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1.
func writeSelfSigned(t *testing.T, dir string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stride cli test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, keyFile
}

// TestDevWithAuthAndTLS: stride dev with basic auth, a token file and TLS
// applies its directory through its own API, and the commands that talk to a
// server get in with -http-credentials, $STRIDE_HTTP_CREDENTIALS,
// $STRIDE_HTTP_TOKEN or credentials in the address, trusting $STRIDE_CACERT;
// without them they say why. No password shows in any output.
func TestDevWithAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# cli\ntok-CLI-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	dev := newCLI(strings.NewReader(""), &out, &out)
	dev.ctx = ctx
	// The password from the environment: it stays out of the process list.
	dev.getenv = func(k string) string {
		if k == envCredentials {
			return "admin:pw-CLI-2"
		}
		return ""
	}
	example, _ := filepath.Abs("../../examples/hello-world")
	first := devFirstPort(t, 3)
	done := make(chan int, 1)
	go func() {
		done <- dev.run([]string{"dev", "-no-color", "-listen", addr, "-data-dir", filepath.Join(dir, "data"), "-first-port", first,
			"-http-token-file", tokens, "-tls-cert", cert, "-tls-key", key, example})
	}()
	client := api.NewClient("https://" + addr)
	client.Token = "tok-CLI-1"
	if err := client.TrustCAFile(cert); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		apps, err := client.Apps(context.Background())
		if err == nil && len(apps) == 1 && apps[0].TasksRunning == 2 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("stride dev exited %d:\n%s", code, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello-world not running in time: %v %v\n%s", apps, err, out.String())
		}
		time.Sleep(100 * time.Millisecond) // polling interval
	}

	base := map[string]string{envAddr: "https://" + addr, envCACert: cert}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	cases := map[string]struct {
		env  map[string]string
		args []string
		ok   bool
	}{
		"token":                   {with(map[string]string{envToken: "tok-CLI-1"}), []string{"status", "-no-color"}, true},
		"credentials":             {with(map[string]string{envCredentials: "admin:pw-CLI-2"}), []string{"tasks", "-no-color"}, true},
		"flag":                    {base, []string{"plan", "-no-color", "-http-credentials", "admin:pw-CLI-2", example}, true},
		"flag wins over a token":  {with(map[string]string{envToken: "bad-token"}), []string{"status", "-no-color", "-http-credentials", "admin:pw-CLI-2"}, true},
		"in the address":          {map[string]string{envAddr: "https://admin:pw-CLI-2@" + addr, envCACert: cert}, []string{"status", "-no-color"}, true},
		"none":                    {base, []string{"status", "-no-color"}, false},
		"wrong password":          {base, []string{"plan", "-no-color", "-http-credentials", "admin:wrong-CLI-3", example}, false},
		"wrong password in addr":  {map[string]string{envAddr: "https://admin:wrong-CLI-3@" + addr, envCACert: cert}, []string{"tasks", "-no-color"}, false},
		"untrusted certificate":   {map[string]string{envAddr: "https://" + addr, envToken: "tok-CLI-1"}, []string{"status", "-no-color"}, false},
		"apply with a token":      {with(map[string]string{envToken: "tok-CLI-1"}), []string{"apply", "-no-color", "-auto-approve", example}, true},
		"destroy without secrets": {base, []string{"destroy", "-no-color", "-auto-approve", example}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runIn(t, dir, tc.env, tc.args...)
			if (code == exitOK) != tc.ok {
				t.Fatalf("exit %d, want ok %v\n%s%s", code, tc.ok, stdout, stderr)
			}
			if !tc.ok && name != "untrusted certificate" && !strings.Contains(stderr, "Unauthorized") {
				t.Errorf("the error does not say what is missing: %s", stderr)
			}
			for _, secret := range []string{"pw-CLI-2", "tok-CLI-1", "wrong-CLI-3"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("the output holds %q:\n%s%s", secret, stdout, stderr)
				}
			}
		})
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("stride dev exited %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("stride dev did not stop")
	}
	if o := out.String(); strings.Contains(o, "pw-CLI-2") || strings.Contains(o, "tok-CLI-1") || !strings.Contains(o, `HTTP basic auth (user "admin")`) || !strings.Contains(o, "https://"+addr) {
		t.Errorf("stride dev's output:\n%s", o)
	}
}
