package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stride-run/stride/cmd/stride/internal/importer"
	"github.com/stride-run/stride/engine"
	"github.com/stride-run/stride/executor/api"
	"github.com/stride-run/stride/hcl"
)

// maxImportBytes bounds what import reads from a file or a server.
const maxImportBytes = 256 << 20

// import: stride import [-address URL | FILE.json] [-out DIR] [-scope P].
func (c *cli) importCmd(args []string) int {
	fs := c.flagSet("import", "import [options] [FILE.json]\n\nWrites the apps and groups of a running Marathon-compatible server (-address,\n$STRIDE_ADDR) or of a file holding their JSON (GET /v2/groups, GET /v2/apps, a\nlist of apps or one app) as HCL files in DIR, one per top-level group, so that\n`stride plan DIR` against that server says \"No changes.\". Existing files are\nnever overwritten.")
	var out, scope string
	var noColor bool
	var sc serverConn
	sc.register(fs)
	fs.StringVar(&out, "out", ".", "the directory to write the files to (created if missing)")
	fs.StringVar(&scope, "scope", "/", "import only the apps and groups under this group; the files own it (stride { scope })")
	fs.BoolVar(&noColor, "no-color", false, "disable coloured output")
	pos, err := parse(fs, args)
	if err != nil {
		return exitError
	}
	if len(pos) > 1 || (len(pos) == 1 && sc.address != "") {
		fmt.Fprintln(c.stderr, "stride import: give a FILE.json or -address, not both")
		fs.Usage()
		return exitError
	}
	scope = engine.CanonicalID(scope)
	if err := engine.CheckID(scope, true); err != nil {
		return c.errorf(noColor, "-scope: %v", err)
	}
	var (
		tree    importer.Tree
		from    string
		skipped []string
	)
	if len(pos) == 1 {
		from = pos[0]
		data, err := readLimited(pos[0])
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
		tree, skipped, err = parseImport(data)
		if err != nil {
			return c.errorf(noColor, "%s: %v", pos[0], err)
		}
	} else {
		from = c.serverAddress(sc.address)
		client, err := c.newClient(sc)
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
		ctx, cancel := context.WithTimeout(c.ctx, 60*time.Second)
		defer cancel()
		tree, skipped, err = fetchImport(ctx, client)
		if err != nil {
			return c.errorf(noColor, "%v", err)
		}
	}
	files, warnings, err := importer.Render(tree, scope)
	if err != nil {
		return c.errorf(noColor, "%v", err)
	}
	if len(files) == 0 {
		return c.errorf(noColor, "nothing to import under %s", scope)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return c.errorf(noColor, "%v", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			return c.errorf(noColor, "%s already exists: import writes into an empty directory (choose another -out)", filepath.Join(out, name))
		}
	}
	for _, name := range names {
		if err := writeFileAtomic(filepath.Join(out, name), files[name]); err != nil {
			return c.errorf(noColor, "%v", err)
		}
	}
	s := c.errStyles(noColor)
	for _, w := range append(skipped, warnings...) {
		fmt.Fprintf(c.stderr, "%s %s\n", s.Warn.Sprint("Warning:"), w)
	}
	n := 0
	for _, a := range tree.Apps {
		if engine.InScope(a.ID, scope) {
			n++
		}
	}
	fmt.Fprintf(c.stdout, "Imported %d %s under %s from %s into %s: %s\n", n, pluralWord(n, "app"), scope, from, out, strings.Join(names, ", "))
	// The files must load; if they do not (a dependency on nothing, say), say
	// why now rather than at the next plan.
	if cfg, diags := hcl.Load(out, hcl.Options{}); diags.HasErrors() {
		c.printDiags(cfg, diags, noColor)
		return exitError
	}
	return exitOK
}

func pluralWord(n int, w string) string {
	if n == 1 {
		return w
	}
	return w + "s"
}

func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxImportBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxImportBytes)
	}
	return data, nil
}

// fetchImport reads the server's groups and apps (GET /v2/groups) and, from a
// Stride server, the fields only Stride has (GET /stride/v1/state).
func fetchImport(ctx context.Context, client *api.Client) (importer.Tree, []string, error) {
	raw, err := client.Groups(ctx)
	if err != nil {
		return importer.Tree{}, nil, fmt.Errorf("read the groups: %w", err)
	}
	tree, skipped, err := parseImport(raw)
	if err != nil {
		return importer.Tree{}, nil, fmt.Errorf("GET /v2/groups: %w", err)
	}
	st, err := client.State(ctx)
	var ae *api.Error
	switch {
	case errors.As(err, &ae) && ae.Status == 404:
		return tree, skipped, nil // not a Stride server: Marathon's fields are all
	case err != nil:
		return importer.Tree{}, nil, fmt.Errorf("read the deployed state: %w", err)
	}
	full := make(map[string]*engine.App, len(st.Apps))
	for _, a := range st.Apps {
		full[a.ID] = a
	}
	for i, a := range tree.Apps {
		if f := full[a.ID]; f != nil {
			cp := f.Clone()
			cp.Dependencies = a.Dependencies // the app's own; its groups' are on them
			tree.Apps[i] = cp
		}
	}
	return tree, skipped, nil
}

// parseImport reads Marathon's JSON: a group (GET /v2/groups, with its apps
// and groups), {"apps": [...]} (GET /v2/apps), a list of apps, {"app": ...} or
// one app. Members Stride does not know are skipped (and listed); anything
// else wrong is an error naming the path.
func parseImport(data []byte) (importer.Tree, []string, error) {
	var tree importer.Tree
	var skipped []string
	addApp := func(raw json.RawMessage, path, base string) error {
		a, err := engine.UnmarshalApp(raw, engine.DecodeOptions{})
		var fe engine.FieldErrors
		if errors.As(err, &fe) && onlyUnknown(fe) {
			for _, e := range fe {
				skipped = append(skipped, fmt.Sprintf("%s%s: skipped (a field Stride does not know)", path, e.Path))
			}
			a, err = engine.UnmarshalApp(raw, engine.DecodeOptions{AllowUnknown: true})
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if strings.HasPrefix(a.ID, "/") || a.ID == "" {
			a.ID = engine.CanonicalID(a.ID)
		} else if a.ID, err = engine.ResolveID(base, a.ID); err != nil {
			return fmt.Errorf("%s/id: %w", path, err)
		}
		if err := engine.CheckID(a.ID, false); err != nil {
			return fmt.Errorf("%s/id: %w", path, err)
		}
		a.ApplyDefaults()
		tree.Apps = append(tree.Apps, a)
		return nil
	}
	var group func(raw json.RawMessage, path, parent string) error
	group = func(raw json.RawMessage, path, parent string) error {
		var g struct {
			ID           string            `json:"id"`
			Apps         []json.RawMessage `json:"apps"`
			Groups       []json.RawMessage `json:"groups"`
			Dependencies []string          `json:"dependencies"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		id, err := engine.ResolveID(parent, g.ID)
		if err != nil {
			return fmt.Errorf("%s/id: %w", path, err)
		}
		if err := engine.CheckID(id, true); err != nil {
			return fmt.Errorf("%s/id: %w", path, err)
		}
		deps := make([]string, 0, len(g.Dependencies))
		for _, d := range g.Dependencies {
			if abs, err := engine.ResolveID(id, d); err == nil {
				deps = append(deps, abs)
			}
		}
		slices.Sort(deps)
		decl := &engine.Group{ID: id, Dependencies: slices.Compact(deps)}
		if len(decl.Dependencies) == 0 {
			decl.Dependencies = nil
		}
		tree.Groups = append(tree.Groups, decl)
		for i, a := range g.Apps {
			if err := addApp(a, fmt.Sprintf("%s/apps/%d", path, i), id); err != nil {
				return err
			}
		}
		for i, sub := range g.Groups {
			if err := group(sub, fmt.Sprintf("%s/groups/%d", path, i), id); err != nil {
				return err
			}
		}
		return nil
	}

	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return tree, nil, err
		}
		for i, raw := range list {
			if err := addApp(raw, fmt.Sprintf("/%d", i), "/"); err != nil {
				return tree, nil, err
			}
		}
		return tree, skipped, nil
	case len(trimmed) > 0 && trimmed[0] == '{':
	default:
		return tree, nil, errors.New("not Marathon JSON: a group, {\"apps\": [...]}, a list of apps or an app")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return tree, nil, err
	}
	_, hasGroups := top["groups"]
	_, hasCmd := top["cmd"]
	switch {
	case top["app"] != nil:
		return tree, skipped, addApp(top["app"], "/app", "/")
	case top["apps"] != nil && top["id"] == nil:
		var list []json.RawMessage
		if err := json.Unmarshal(top["apps"], &list); err != nil {
			return tree, nil, fmt.Errorf("/apps: %w", err)
		}
		for i, raw := range list {
			if err := addApp(raw, fmt.Sprintf("/apps/%d", i), "/"); err != nil {
				return tree, nil, err
			}
		}
		return tree, skipped, nil
	case hasGroups || (top["apps"] != nil && !hasCmd):
		return tree, skipped, group(trimmed, "", "/")
	default:
		return tree, skipped, addApp(trimmed, "", "/")
	}
}

// onlyUnknown reports whether every error is an unknown field.
func onlyUnknown(fe engine.FieldErrors) bool {
	for _, e := range fe {
		for _, m := range e.Errors {
			if m != engine.ErrUnknownField {
				return false
			}
		}
	}
	return true
}
