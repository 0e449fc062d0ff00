package hcl

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/stride-run/stride/engine"
)

// Options are the inputs that do not come from the files.
type Options struct {
	// Vars are "-var" flags, "name=value", in order (later wins); a flag without
	// "=" is an error, as is one naming an undeclared variable.
	Vars []string
	// VarFiles are "-var-file" paths, in order; each holds `name = value`
	// attributes in HCL syntax (or JSON when the name ends in ".json").
	VarFiles []string
	// Environ is os.Environ(): STRIDE_VAR_<name>=value sets variable <name>;
	// entries naming undeclared variables are ignored.
	Environ []string
	// Scope overrides the stride { scope } setting ("" = use it).
	Scope string
	// Limits bound the apps and groups of the configuration and the numbers of
	// each app (engine.DefaultLimits when zero).
	Limits engine.Limits
}

// Config is a loaded configuration. It is returned (non-nil) even with errors, so
// diagnostics can be rendered with their source snippets.
type Config struct {
	// Spec is the desired configuration; nil if there were errors.
	Spec *engine.Spec
	// Files holds every parsed file (configuration and variable files), by the
	// name used in diagnostics, for rendering them: the source, and the syntax
	// of variables, locals and the stride block. Of decoded groups and apps
	// only the group and app blocks' headers and ranges are kept (attributes
	// and nested blocks are dropped once decoded, to keep the memory of a
	// large configuration down).
	Files map[string]*hcl2.File
}

// source is one input file.
type source struct {
	name string
	src  []byte
}

// Load reads a directory (every *.hcl in it, not recursive, in name order) or one
// file, with the variable values of opts, and returns the Spec it declares.
// Diagnostics name files by the path as given: Load("dir") reports dir/main.hcl.
func Load(path string, opts Options) (*Config, hcl2.Diagnostics) {
	cfg := &Config{Files: map[string]*hcl2.File{}}
	info, err := os.Stat(path)
	if err != nil {
		return cfg, hcl2.Diagnostics{{
			Severity: hcl2.DiagError,
			Summary:  "Failed to read configuration",
			Detail:   fmt.Sprintf("Cannot read %q: %s.", path, err),
		}}
	}
	var srcs []source
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return cfg, hcl2.Diagnostics{{
				Severity: hcl2.DiagError,
				Summary:  "Failed to read configuration",
				Detail:   fmt.Sprintf("Cannot list directory %q: %s.", path, err),
			}}
		}
		for _, e := range entries { // os.ReadDir sorts by name
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
				continue
			}
			srcs = append(srcs, source{name: filepath.Join(path, e.Name())})
		}
		if len(srcs) == 0 {
			return cfg, hcl2.Diagnostics{{
				Severity: hcl2.DiagError,
				Summary:  "No configuration files",
				Detail:   fmt.Sprintf("The directory %q holds no *.hcl files.", path),
			}}
		}
	} else {
		srcs = []source{{name: path}}
	}
	var diags hcl2.Diagnostics
	for i := range srcs {
		b, err := readBounded(srcs[i].name, "configuration")
		if err != nil {
			diags = append(diags, &hcl2.Diagnostic{
				Severity: hcl2.DiagError,
				Summary:  "Failed to read configuration",
				Detail:   fmt.Sprintf("Cannot read %q: %s.", srcs[i].name, err),
			})
			continue
		}
		srcs[i].src = b
	}
	if diags.HasErrors() {
		return cfg, diags
	}
	return load(srcs, opts, nil)
}

// MaxSourceBytes bounds the configuration files of one Load together, and each
// variables file (16 MiB).
const MaxSourceBytes = 16 << 20

// readBounded reads a file of at most MaxSourceBytes; what names it in errors.
func readBounded(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSourceBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSourceBytes {
		return nil, fmt.Errorf("the %s file is larger than the limit of %d bytes", what, MaxSourceBytes)
	}
	return b, nil
}

// LoadSources is Load over in-memory files (name -> contents), for tests and
// fuzzing. Files are read in name order. A name that is also listed in
// opts.VarFiles is a variable file, not configuration; other variable files are
// read from disk.
func LoadSources(srcs map[string][]byte, opts Options) (*Config, hcl2.Diagnostics) {
	varFiles := map[string][]byte{}
	for _, vf := range opts.VarFiles {
		if b, ok := srcs[vf]; ok {
			varFiles[vf] = b
		}
	}
	names := make([]string, 0, len(srcs))
	for name := range srcs {
		if _, ok := varFiles[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	list := make([]source, len(names))
	for i, name := range names {
		list[i] = source{name: name, src: srcs[name]}
	}
	return load(list, opts, varFiles)
}

// Format returns the canonical formatting of one file: hclwrite.Format once the
// file is known to parse. A syntax error is returned as diagnostics and nothing is
// formatted.
func Format(src []byte, filename string) ([]byte, hcl2.Diagnostics) {
	if d := nestingDiag(src, filename, false); d != nil {
		return nil, hcl2.Diagnostics{d}
	}
	if _, diags := hclsyntax.ParseConfig(src, filename, hcl2.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// load parses and decodes the configuration files. varFiles holds in-memory
// variable files by name (others are read from disk).
//
// The groups and apps of large files are parsed as they are decoded (see
// deferredBody). When one of them turns out not to parse in chunks, which
// parsing it whole would (a heredoc that spans a cut, say), everything is
// loaded again with every file parsed up front, so that the result is exactly
// that of parsing each file whole.
func load(srcs []source, opts Options, varFiles map[string][]byte) (*Config, hcl2.Diagnostics) {
	if cfg, diags, ok := loadOnce(srcs, opts, varFiles, true); ok {
		return cfg, diags
	}
	cfg, diags, _ := loadOnce(srcs, opts, varFiles, false)
	return cfg, diags
}

// loadOnce is load, deferring the parsing of large groups and apps or not; ok
// is false when a deferred one could not be parsed in chunks (and the result
// is to be thrown away).
func loadOnce(srcs []source, opts Options, varFiles map[string][]byte, deferring bool) (_ *Config, _ hcl2.Diagnostics, ok bool) {
	l := newLoader(opts, varFiles)
	cfg := &Config{Files: l.files}
	total := 0
	for _, s := range srcs {
		total += len(s.src)
	}
	if total > MaxSourceBytes {
		// Parsing costs about 60 bytes of memory per byte of source at the peak:
		// the cap keeps validate and plan well under a gigabyte.
		l.errorf(nil, "Configuration too large", "The configuration files hold %d bytes together; the limit is %d (about 35,000 apps).", total, MaxSourceBytes)
		return cfg, l.diags, true
	}
	bodies, late := parseAll(srcs, l.budget, deferring)
	for i, s := range srcs {
		l.files[s.name] = bodies[i].file
		l.add(bodies[i].diags)
	}
	files := make([]*hcl2.File, len(bodies))
	for i := range bodies {
		files[i] = bodies[i].file
	}
	if len(srcs) == 0 {
		l.errorf(nil, "No configuration files", "There are no configuration files to load.")
	}
	if l.diags.HasErrors() {
		if !late.empty() {
			// The deferred parts may hold errors too: report them all.
			return nil, nil, false
		}
		// A file that does not parse would only add noise further on.
		sortDiagnostics(l.diags)
		return cfg, l.diags, true
	}
	l.late = late
	l.fileOrder = make(map[string]int, len(srcs))
	for i, s := range srcs {
		l.fileOrder[s.name] = i
	}
	spec := l.decode(files)
	if l.unparsed.Load() {
		return nil, nil, false
	}
	l.diags = l.secrets.redact(dedupDiagnostics(l.budget.finish(stableSuggestions(l.diags, l.funcs))))
	if !l.diags.HasErrors() {
		cfg.Spec = spec
	}
	return cfg, l.diags, true
}

// stableSuggestions rewrites hcl's "Call to unknown function" errors with a
// suggestion that does not depend on map order: hcl suggests the first
// function it meets within an edit distance of 3, in the random order of the
// evaluation context's map, so the same file could get "Did you mean "max"?"
// on one run and "Did you mean "can"?" on the next. The closest name is
// suggested instead, the first in alphabetical order among equals.
func stableSuggestions(diags hcl2.Diagnostics, funcs map[string]function.Function) hcl2.Diagnostics {
	var names []string
	for _, d := range diags {
		call, ok := d.Expression.(*hclsyntax.FunctionCallExpr)
		if !ok || d.Summary != "Call to unknown function" || strings.Contains(call.Name, "::") {
			continue
		}
		if names == nil {
			names = sortedKeys(funcs)
		}
		d.Detail = fmt.Sprintf("There is no function named %q.%s", call.Name, didYouMean(suggest(call.Name, names)))
	}
	return diags
}

// dedupDiagnostics sorts diagnostics and drops repeats (the same error from
// every iteration of a for expression, say).
func dedupDiagnostics(diags hcl2.Diagnostics) hcl2.Diagnostics {
	sortDiagnostics(diags)
	out := diags[:0]
	for i, d := range diags {
		if i > 0 {
			p := diags[i-1]
			if p.Severity == d.Severity && p.Summary == d.Summary && p.Detail == d.Detail &&
				(p.Subject == nil) == (d.Subject == nil) && (p.Subject == nil || *p.Subject == *d.Subject) {
				continue
			}
		}
		out = append(out, d)
	}
	return out
}

// sortDiagnostics orders diagnostics by file, line and column (those without a
// range first), then by text, so that output does not depend on map order inside
// hcl.
func sortDiagnostics(diags hcl2.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i], diags[j]
		if (a.Subject == nil) != (b.Subject == nil) {
			return a.Subject == nil
		}
		if a.Subject != nil {
			ra, rb := a.Subject, b.Subject
			if ra.Filename != rb.Filename {
				return ra.Filename < rb.Filename
			}
			if ra.Start.Byte != rb.Start.Byte {
				return ra.Start.Byte < rb.Start.Byte
			}
		}
		if a.Summary != b.Summary {
			return a.Summary < b.Summary
		}
		return a.Detail < b.Detail
	})
}

// parsed is one parsed file.
type parsed struct {
	file  *hcl2.File
	diags hcl2.Diagnostics
}

// parseAll parses and instruments the files for the budget, in parallel
// (parsing is most of the cost of a large configuration): large files in
// chunks (chunks.go), up to one chunk per CPU at a time. A file that nests too
// deeply for the parser (see budget_scan.go) is not parsed: it has a file with
// no body, for the diagnostic's snippet. Results keep the order of srcs. With
// deferring, large groups and apps are left to parse (and instrument) as they
// are decoded: the pending result holds them.
func parseAll(srcs []source, b *budget, deferring bool) ([]parsed, *pending) {
	out := make([]parsed, len(srcs))
	tooDeep := make([]*hcl2.Diagnostic, len(srcs))
	parallel(len(srcs), func(i int) { tooDeep[i] = nestingDiag(srcs[i].src, srcs[i].name, false) })
	var todo []source
	var at []int
	for i, s := range srcs {
		if d := tooDeep[i]; d != nil {
			out[i] = parsed{file: &hcl2.File{Body: hcl2.EmptyBody(), Bytes: s.src}, diags: hcl2.Diagnostics{d}}
			continue
		}
		todo = append(todo, s)
		at = append(at, i)
	}
	chunked, late := parseDeferred(todo, deferring)
	for k, p := range chunked {
		out[at[k]] = p
	}
	parallel(len(at), func(k int) { b.instrumentFile(out[at[k]].file) })
	return out, late
}
