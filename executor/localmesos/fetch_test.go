package localmesos

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// archiveFiles is what every test archive holds.
var archiveFiles = map[string]string{"app/run.sh": "#!/bin/sh\necho hi\n", "app/conf/settings.txt": "x=1\n"}

// writeArchive builds an archive of kind in dir and returns its path.
func writeArchive(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	switch kind := archiveKind(name); kind {
	case ".tar.gz", ".tgz":
		writeTarGz(t, path, archiveFiles)
	case ".zip":
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, n := range sortedKeys(archiveFiles) {
			w, err := zw.Create(n)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(archiveFiles[n]))
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	default: // .tar, then compressed with a program for .tar.bz2 and .tar.xz
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, n := range sortedKeys(archiveFiles) {
			tw.WriteHeader(&tar.Header{Name: n, Mode: 0o755, Size: int64(len(archiveFiles[n])), Typeflag: tar.TypeReg})
			tw.Write([]byte(archiveFiles[n]))
		}
		tw.Close()
		var prog string
		switch kind {
		case ".tar.bz2", ".tbz2":
			prog = "bzip2"
		case ".tar.xz", ".txz":
			prog = "xz"
		}
		if prog == "" {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			break
		}
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed", prog)
		}
		cmd := exec.Command(prog, "-c")
		cmd.Stdin = &buf
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestFetchArchives(t *testing.T) {
	for _, name := range []string{"b.tar", "b.tar.gz", "b.tgz", "b.tar.bz2", "b.tbz2", "b.tar.xz", "b.txz", "b.zip"} {
		t.Run(name, func(t *testing.T) {
			src := writeArchive(t, t.TempDir(), name)
			sandbox := t.TempDir()
			if err := fetchURI(context.Background(), mesos.CommandInfo_URI{Value: "file://" + src}, sandbox); err != nil {
				t.Fatal(err)
			}
			for n, want := range archiveFiles {
				if got := readFile(t, filepath.Join(sandbox, n)); got != want {
					t.Errorf("%s = %q, want %q", n, got, want)
				}
			}
			if _, err := os.Stat(filepath.Join(sandbox, name)); err != nil {
				t.Errorf("the archive itself is gone: %v", err)
			}
		})
	}
}

func TestFetchOptions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("served " + r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	src := t.TempDir()
	tarball := writeArchive(t, src, "pkg.tar.gz")
	evil := filepath.Join(src, "evil.tar")
	{
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Name: "../escaped.txt", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
		tw.Close()
		os.WriteFile(evil, buf.Bytes(), 0o644)
	}
	no, yes := proto(false), proto(true)
	cases := map[string]struct {
		uri     mesos.CommandInfo_URI
		file    string // expected file in the sandbox
		content string
		exec    bool
		wantErr string
	}{
		"http":                    {uri: mesos.CommandInfo_URI{Value: srv.URL + "/dir/tool"}, file: "tool", content: "served /dir/tool"},
		"output_file":             {uri: mesos.CommandInfo_URI{Value: srv.URL + "/x", OutputFile: proto("bin/renamed")}, file: "bin/renamed", content: "served /x"},
		"executable":              {uri: mesos.CommandInfo_URI{Value: srv.URL + "/run", Executable: yes}, file: "run", content: "served /run", exec: true},
		"executable archive kept": {uri: mesos.CommandInfo_URI{Value: tarball, Executable: yes}, file: "pkg.tar.gz", exec: true},
		"extract off":             {uri: mesos.CommandInfo_URI{Value: tarball, Extract: no}, file: "pkg.tar.gz"},
		"HTTP error":              {uri: mesos.CommandInfo_URI{Value: srv.URL + "/missing"}, wantErr: "404"},
		"unsupported scheme":      {uri: mesos.CommandInfo_URI{Value: "hdfs://namenode/file"}, wantErr: "unsupported URI scheme"},
		"relative path":           {uri: mesos.CommandInfo_URI{Value: "relative/file"}, wantErr: "neither a URI nor an absolute path"},
		"path traversal":          {uri: mesos.CommandInfo_URI{Value: evil}, wantErr: "outside"},
		"output outside sandbox":  {uri: mesos.CommandInfo_URI{Value: srv.URL + "/x", OutputFile: proto("../../x")}, wantErr: "outside the sandbox"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			sandbox := t.TempDir()
			err := fetchURI(context.Background(), tc.uri, sandbox)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(sandbox), "escaped.txt")); err == nil {
					t.Error("a file escaped the sandbox")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(sandbox, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tc.content != "" {
				if got := readFile(t, filepath.Join(sandbox, tc.file)); got != tc.content {
					t.Errorf("content %q, want %q", got, tc.content)
				}
			}
			if got := fi.Mode()&0o111 != 0; got != tc.exec {
				t.Errorf("executable = %v, want %v", got, tc.exec)
			}
			if _, err := os.Stat(filepath.Join(sandbox, "app")); err == nil && (tc.uri.Extract != nil || tc.uri.GetExecutable()) {
				t.Error("extracted although extract is false")
			}
		})
	}
}
