package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"

	"github.com/stride-run/stride/hcl"
)

// fmt: stride fmt [-check] [-recursive] [DIR|FILE...]. Rewrites files into the
// canonical format and lists the ones it changed; with -check it changes nothing,
// lists the files that are not formatted and exits 3 if there are any.
func (c *cli) fmt(args []string) int {
	fset := c.flagSet("fmt", "fmt [options] [DIR|FILE...]\n\nRewrites *.hcl files into the canonical format and lists the files it changed.")
	check := fset.Bool("check", false, "change nothing; list unformatted files and exit with status 3 if there are any")
	recursive := fset.Bool("recursive", false, "also process files in subdirectories")
	noColor := fset.Bool("no-color", false, "disable coloured output")
	pos, err := parse(fset, args)
	if err != nil {
		return exitError
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	var files []string
	for _, p := range pos {
		found, err := hclFiles(p, *recursive)
		if err != nil {
			return c.errorf(*noColor, "%v", err)
		}
		files = append(files, found...)
	}
	unformatted := 0
	failed := false
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			c.errorf(*noColor, "read %s: %v", name, err)
			failed = true
			continue
		}
		out, diags := hcl.Format(src, name)
		if diags.HasErrors() {
			c.printDiags(&hcl.Config{Files: map[string]*hcl2.File{name: {Bytes: src}}}, diags, *noColor)
			failed = true
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		unformatted++
		fmt.Fprintln(c.stdout, name)
		if *check {
			continue
		}
		if err := writeFileAtomic(name, out); err != nil {
			c.errorf(*noColor, "%v", err)
			failed = true
		}
	}
	switch {
	case failed:
		return exitError
	case *check && unformatted > 0:
		return exitFmt
	}
	return exitOK
}

// hclFiles lists the *.hcl files at path: the file itself, or those in the
// directory (and below it with recursive), sorted.
func hclFiles(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && (!recursive || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".hcl") {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// writeFileAtomic replaces name with data through a temporary file and a rename,
// keeping the file's mode, so an interrupted write never leaves half a file.
func writeFileAtomic(name string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(name); err == nil {
		mode = st.Mode().Perm()
	}
	return writeFileMode(name, data, mode)
}

// writeFileMode is writeFileAtomic with the file's mode given: the file is
// never readable with another mode, not even while it is written.
func writeFileMode(name string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
