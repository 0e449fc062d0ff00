package localmesos

import (
	"archive/tar"
	"archive/zip"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// fetchTimeout bounds one download.
const fetchTimeout = 10 * time.Minute

// fetchURI fetches one CommandInfo.URI into the sandbox as the Mesos fetcher
// does: file:// URIs and plain absolute paths are copied, http(s):// URIs
// downloaded; the file is named by output_file or the URI's last path
// component; with extract (the default) a recognised archive (.tar, .tar.gz,
// .tgz, .tar.bz2, .tbz2, .tar.xz, .txz, .zip) is unpacked into the sandbox;
// with executable the file is made executable (and not extracted). The cache
// flag is ignored: every fetch downloads. What it writes is private to the
// user: directories 0700, downloads 0600 (0700 executable), extracted files
// with their archive's permissions less group and world write.
func fetchURI(ctx context.Context, uri mesos.CommandInfo_URI, sandbox string) error {
	name := uri.GetOutputFile()
	if name == "" {
		name = uriBase(uri.Value)
	}
	if name == "" || name == "." || name == "/" {
		return errors.New("cannot tell a file name from the URI; set output_file")
	}
	dst := filepath.Join(sandbox, filepath.FromSlash(name))
	if !within(sandbox, dst) {
		return fmt.Errorf("output file %q is outside the sandbox", name)
	}
	if err := os.MkdirAll(filepath.Dir(dst), dirMode); err != nil {
		return err
	}
	if err := download(ctx, uri.Value, dst); err != nil {
		return err
	}
	if uri.GetExecutable() {
		return os.Chmod(dst, 0o700)
	}
	if uri.GetExtract() {
		if kind := archiveKind(name); kind != "" {
			if err := extract(ctx, dst, kind, sandbox); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		}
	}
	return nil
}

// uriBase returns the last path component of a URI or path.
func uriBase(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		return path.Base(u.Path)
	}
	return filepath.Base(raw)
}

// download copies the content at raw (file://, plain path, http, https) to dst.
func download(ctx context.Context, raw, dst string) error {
	var src io.ReadCloser
	u, err := url.Parse(raw)
	switch {
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		src = resp.Body
	case err == nil && u.Scheme == "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return err
		}
		src = f
	case err == nil && u.Scheme != "":
		return fmt.Errorf("unsupported URI scheme %q (the stand-in fetches file, http and https)", u.Scheme)
	case filepath.IsAbs(raw):
		f, err := os.Open(raw)
		if err != nil {
			return err
		}
		src = f
	default:
		return fmt.Errorf("%q is neither a URI nor an absolute path", raw)
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, contextReader{ctx, src}); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// contextReader stops a copy when its context is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// archiveKind tells an archive by its file name; "" is not an archive.
func archiveKind(name string) string {
	lower := strings.ToLower(name)
	for _, k := range []string{".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip"} {
		if strings.HasSuffix(lower, k) {
			return k
		}
	}
	return ""
}

// extract unpacks an archive into dir.
func extract(ctx context.Context, archive, kind, dir string) error {
	switch kind {
	case ".zip":
		return extractZip(archive, dir)
	case ".tar.xz", ".txz":
		tarBin, err := exec.LookPath("tar")
		if err != nil {
			return errors.New(".tar.xz archives need the tar program, which is not on PATH")
		}
		out, err := exec.CommandContext(ctx, tarBin, "-xJf", archive, "-C", dir).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tar: %v: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	switch kind {
	case ".tar.gz", ".tgz":
		gz, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		defer gz.Close()
		r = gz
	case ".tar.bz2", ".tbz2":
		r = bzip2.NewReader(f)
	}
	return extractTar(ctx, r, dir)
}

// within reports whether p is dir or inside it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// extractTar unpacks a tar stream into dir, refusing entries that would land
// outside it.
func extractTar(ctx context.Context, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !within(dir, target) {
			return fmt.Errorf("entry %q is outside the archive's directory", h.Name)
		}
		mode := os.FileMode(h.Mode).Perm() &^ noWrite
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirMode(target, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeFile(target, tr, mode); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if filepath.IsAbs(h.Linkname) || !within(dir, filepath.Join(filepath.Dir(target), h.Linkname)) {
				return fmt.Errorf("symlink %q points outside the archive's directory", h.Name)
			}
			if err := os.MkdirAll(filepath.Dir(target), dirMode); err != nil {
				return err
			}
			_ = os.Remove(target)
			if err := os.Symlink(h.Linkname, target); err != nil {
				return err
			}
		case tar.TypeLink:
			src := filepath.Join(dir, filepath.FromSlash(h.Linkname))
			if !within(dir, src) {
				return fmt.Errorf("link %q points outside the archive's directory", h.Name)
			}
			_ = os.Remove(target)
			if err := os.Link(src, target); err != nil {
				return err
			}
		default:
			// Devices, fifos and the like have no place in a sandbox.
		}
	}
}

// extractZip unpacks a zip archive into dir.
func extractZip(archive, dir string) error {
	zr, err := zip.OpenReader(archive)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, f := range zr.File {
		target := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !within(dir, target) {
			return fmt.Errorf("entry %q is outside the archive's directory", f.Name)
		}
		if f.FileInfo().IsDir() {
			if err := mkdirMode(target, (f.Mode().Perm()&^noWrite)|0o700); err != nil {
				return err
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		mode := f.Mode().Perm() &^ noWrite
		if mode == 0 {
			mode = fileMode
		}
		err = writeFile(target, rc, mode)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// noWrite are the permission bits an extracted file never keeps: group and
// world write.
const noWrite os.FileMode = 0o022

// writeFile writes r to path with mode (exactly, whatever the umask),
// creating parent directories 0700.
func writeFile(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mkdirMode creates a directory (and its parents, 0700) and gives it mode,
// whatever the umask.
func mkdirMode(path string, mode os.FileMode) error {
	if err := os.MkdirAll(path, dirMode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
