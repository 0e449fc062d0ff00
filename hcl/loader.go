package hcl

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	hcl2 "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/stride-run/stride/engine"
)

// rootSchema is the top level of a configuration file.
var rootSchema = &hcl2.BodySchema{
	Blocks: []hcl2.BlockHeaderSchema{
		{Type: "stride"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "group", LabelNames: []string{"name"}},
		{Type: "app", LabelNames: []string{"name"}},
	},
}

var strideSchema = &hcl2.BodySchema{
	Attributes: []hcl2.AttributeSchema{{Name: "scope"}},
}

// loader holds the state of one Load: the files, the diagnostics collected so far,
// variables and locals, and every id declared.
type loader struct {
	opts     Options
	varFiles map[string][]byte // in-memory variable files (LoadSources)
	files    map[string]*hcl2.File
	diags    hcl2.Diagnostics
	nerr     int // errors among diags

	funcs map[string]function.Function
	// budget limits evaluation (see budget.go); shared by the forks.
	budget *budget
	// ctx is the evaluation context of everything after variables and locals:
	// var.*, local.* and the functions. Built once.
	ctx *hcl2.EvalContext

	vars     map[string]*variable
	varNames []string // declaration order
	locals   map[string]*localValue
	varVal   cty.Value // the value of `var`, once variables are settled

	scope      string
	scopeRange *hcl2.Range // where the scope was set; nil for the default or -scope

	decls map[string]decl // every declared id
	// late holds the groups and apps not parsed yet (see deferredChunk and
	// deferredBody); unparsed is set when one of them does not parse as
	// expected. fileOrder numbers the configuration files in load order.
	late      *pending
	unparsed  atomic.Bool
	fileOrder map[string]int
	// spareAttrs is a list of attribute ranges to reuse (see fields.ranges).
	spareAttrs []engine.KeyRange
	// forked: a loader decoding one top-level block on its own goroutine; it
	// lists declarations in declared instead of checking them (see decodeAll).
	forked bool
	// secrets are the strings diagnostics must not show (shared with forks).
	secrets  *secretSet
	declared []declared
	apps     []*engine.App
	groups   []*engine.Group
	deps     []depRef // dependencies to check once every id is known
}

// declared is one declaration recorded by a forked loader.
type declared struct {
	id, kind string
	rng      hcl2.Range
}

// decl is the first declaration of an id.
type decl struct {
	kind string // "app" or "group"
	rng  hcl2.Range
}

func newLoader(opts Options, varFiles map[string][]byte) *loader {
	b := newBudget()
	return &loader{
		opts:     opts,
		varFiles: varFiles,
		files:    map[string]*hcl2.File{},
		funcs:    budgetFunctions(functions(), b),
		budget:   b,
		vars:     map[string]*variable{},
		locals:   map[string]*localValue{},
		decls:    map[string]decl{},
		scope:    "/",
		secrets:  &secretSet{},
	}
}

// add records diagnostics, counting the errors. The budget's diagnostics are
// counted but not recorded: they may come several times, or not at all (try
// swallows errors), so the budget's own list is reported at the end instead.
func (l *loader) add(diags hcl2.Diagnostics) {
	for _, d := range diags {
		if d.Severity == hcl2.DiagError {
			l.nerr++
		}
		if !isBudgetDiag(d) {
			l.diags = append(l.diags, d)
		}
	}
}

// errorf records an error diagnostic at rng (nil for none).
func (l *loader) errorf(rng *hcl2.Range, summary, format string, args ...any) {
	l.nerr++
	l.diags = append(l.diags, &hcl2.Diagnostic{
		Severity: hcl2.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng,
	})
}

// warnf records a warning diagnostic at rng (nil for none).
func (l *loader) warnf(rng *hcl2.Range, summary, format string, args ...any) {
	l.diags = append(l.diags, &hcl2.Diagnostic{
		Severity: hcl2.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng,
	})
}

// errorCount counts the error diagnostics so far.
func (l *loader) errorCount() int { return l.nerr }

// decode turns the parsed files into a Spec (meaningful only without errors).
func (l *loader) decode(files []*hcl2.File) *engine.Spec {
	var strides, variables, locals, tops []*hcl2.Block
	for _, f := range files {
		content, diags := f.Body.Content(rootSchema)
		l.add(diags)
		for _, b := range content.Blocks {
			switch b.Type {
			case "stride":
				strides = append(strides, b)
			case "variable":
				variables = append(variables, b)
			case "locals":
				locals = append(locals, b)
			default:
				tops = append(tops, b)
			}
		}
	}

	l.decodeVariables(variables)
	l.decodeLocals(locals)
	l.ctx = &hcl2.EvalContext{
		Variables: map[string]cty.Value{
			"var":   l.varVal,
			"local": l.localObject(),
		},
		Functions: l.funcs,
	}
	l.decodeStride(strides)

	l.decodeAll(tops)
	l.checkDependencies()

	sort.Slice(l.apps, func(i, j int) bool { return l.apps[i].ID < l.apps[j].ID })
	sort.Slice(l.groups, func(i, j int) bool { return l.groups[i].ID < l.groups[j].ID })
	spec := &engine.Spec{Scope: l.scope, Apps: l.apps, Groups: l.groups}
	lim := l.opts.Limits.WithDefaults()
	for _, fe := range spec.CheckSize(lim) {
		// The first declaration past the limit is where the configuration grew
		// too large.
		var rng *hcl2.Range
		if fe.Path == "/apps" && l.apps[lim.MaxApps].Source != nil {
			rng = &l.apps[lim.MaxApps].Source.DeclRange
		} else if fe.Path == "/groups" && l.groups[lim.MaxGroups].Source != nil {
			rng = &l.groups[lim.MaxGroups].Source.DeclRange
		}
		l.errorf(rng, "Too many "+strings.TrimPrefix(fe.Path, "/"), "%s", sentence(capitalize(fe.Errors[0])))
	}
	return spec
}

// decodeAll decodes the top-level groups and apps, several at a time: each on a
// fork of the loader that shares the (read-only) variables, locals and evaluation
// context and collects its own diagnostics, apps, groups and declarations. The
// forks are merged in source order, so the result is what decoding them one
// after the other gives; duplicate ids are found during the merge.
//
// The groups and apps not parsed yet are parsed here, in source order too, so
// that only the blocks being parsed or decoded have a whole syntax tree: a
// chunk of whole blocks (deferredChunk) is parsed and decoded by one job, its
// blocks then joining their file's body; a block cut inside (deferredBody)
// has a job per part (so that one large block still uses every CPU), and
// whichever worker parses its last part decodes it.
func (l *loader) decodeAll(tops []*hcl2.Block) {
	// A unit is decoded by one fork: a top-level block, or a deferred chunk.
	type unit struct {
		file, at int // for the source order
		block    *hcl2.Block
		chunk    *deferredChunk
	}
	units := make([]unit, 0, len(tops)+len(l.late.chunks))
	for _, t := range tops {
		units = append(units, unit{file: l.fileOrder[t.DefRange.Filename], at: t.DefRange.Start.Byte, block: t})
	}
	for _, c := range l.late.chunks {
		units = append(units, unit{file: l.fileOrder[c.filename], at: c.start.Byte, chunk: c})
	}
	slices.SortStableFunc(units, func(a, b unit) int {
		if a.file != b.file {
			return a.file - b.file
		}
		return a.at - b.at
	})
	forks := make([]*loader, len(units))
	decoded := make([]hclsyntax.Blocks, len(units)) // of the chunks
	decodeBlock := func(f *loader, b *hcl2.Block) {
		if b.Type == "group" {
			f.decodeGroup(b, nil)
		} else {
			f.decodeApp(b, nil)
		}
		stripBody(b.Body)
	}
	decodeUnit := func(i int) {
		f := l.fork()
		forks[i] = f
		u := units[i]
		if u.chunk == nil {
			decodeBlock(f, u.block)
			return
		}
		body, ok := u.chunk.parse()
		if !ok {
			l.unparsed.Store(true)
			return
		}
		l.budget.instrumentBody(body, true)
		for _, b := range body.Blocks {
			decodeBlock(f, b.AsHCLBlock())
		}
		decoded[i] = body.Blocks
	}
	type job struct {
		unit int
		part int // of a deferred body; -1 for none
	}
	jobs := make([]job, 0, len(units))
	for i, u := range units {
		var d *deferredBody
		if u.block != nil {
			d = l.late.bodies[bodyOf(u.block)]
		}
		if d == nil {
			jobs = append(jobs, job{i, -1})
			continue
		}
		for k := range d.parts {
			jobs = append(jobs, job{i, k})
		}
	}
	parallel(len(jobs), func(j int) {
		jb := jobs[j]
		if l.unparsed.Load() {
			return // everything is loaded again
		}
		if jb.part >= 0 {
			d := l.late.bodies[bodyOf(units[jb.unit].block)]
			if !d.parse(jb.part) {
				return
			}
			if !d.fill() {
				l.unparsed.Store(true)
				return
			}
			l.budget.instrumentBody(d.body, false)
		}
		decodeUnit(jb.unit)
	})
	if l.unparsed.Load() {
		return
	}
	var chunks []*deferredChunk
	var blocks []hclsyntax.Blocks
	for i, u := range units {
		if u.chunk != nil {
			chunks, blocks = append(chunks, u.chunk), append(blocks, decoded[i])
		}
	}
	joinChunks(chunks, blocks)
	for _, f := range forks {
		for _, d := range f.declared {
			l.register(d.id, d.kind, d.rng)
		}
		l.add(f.diags)
		l.apps = append(l.apps, f.apps...)
		l.groups = append(l.groups, f.groups...)
		l.deps = append(l.deps, f.deps...)
	}
}

// bodyOf is the syntax of a block's body (nil if it has none).
func bodyOf(b *hcl2.Block) *hclsyntax.Body {
	body, _ := b.Body.(*hclsyntax.Body)
	return body
}

// stripBody drops the attributes of a decoded block's body and every nested
// block but the groups and apps, keeping their headers and ranges: all that
// diagnostics need afterwards (blockContext names the app or group a snippet
// is in), and a fraction of the syntax tree, which a large configuration would
// otherwise hold until planning is done.
func stripBody(body hcl2.Body) {
	b, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	b.Attributes = nil
	kept := b.Blocks[:0]
	for _, nested := range b.Blocks {
		if contextBlocks[nested.Type] {
			stripBody(nested.Body)
			kept = append(kept, nested)
		}
	}
	clear(b.Blocks[len(kept):])
	if len(kept) == 0 {
		kept = nil
	}
	b.Blocks = kept
}

// fork returns a loader for decoding one top-level block concurrently with others.
func (l *loader) fork() *loader {
	return &loader{
		opts:       l.opts,
		files:      l.files,
		funcs:      l.funcs,
		budget:     l.budget,
		ctx:        l.ctx,
		vars:       l.vars,
		varNames:   l.varNames,
		locals:     l.locals,
		varVal:     l.varVal,
		scope:      l.scope,
		scopeRange: l.scopeRange,
		forked:     true,
		secrets:    l.secrets,
	}
}

// decodeStride reads the stride { scope } block (at most one across all files) and
// settles the scope, which Options.Scope overrides.
func (l *loader) decodeStride(blocks []*hcl2.Block) {
	for i, b := range blocks {
		if i > 0 {
			l.errorf(b.DefRange.Ptr(), "Duplicate stride block",
				"A configuration has at most one stride block; the first is at %s.", pos(blocks[0].DefRange))
			continue
		}
		content, diags := b.Body.Content(strideSchema)
		l.add(diags)
		attr := content.Attributes["scope"]
		if attr == nil {
			continue
		}
		var scope string
		if !l.str(attr, &scope) {
			continue
		}
		if err := engine.CheckID(scope, true); err != nil {
			l.errorf(attr.Expr.Range().Ptr(), "Invalid scope",
				"The scope must be \"/\" or an absolute group id: %s.", err)
			continue
		}
		l.scope = scope
		l.scopeRange = attr.Range.Ptr()
	}
	if l.opts.Scope != "" {
		if err := engine.CheckID(l.opts.Scope, true); err != nil {
			l.errorf(nil, "Invalid -scope option",
				"The scope must be \"/\" or an absolute group id: %s.", err)
			return
		}
		l.scope = l.opts.Scope
		l.scopeRange = nil
	}
}

// scopeOrigin says where the scope came from, for messages.
func (l *loader) scopeOrigin() string {
	switch {
	case l.scopeRange != nil:
		return fmt.Sprintf("the scope %q (set at %s)", l.scope, pos(*l.scopeRange))
	case l.opts.Scope != "":
		return fmt.Sprintf("the scope %q (set by -scope)", l.scope)
	}
	return fmt.Sprintf("the scope %q", l.scope)
}

// pos formats the start of a range as file:line:col.
func pos(r hcl2.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// suggest returns the candidate closest to given (edit distance below 3, the
// threshold hcl uses), or "".
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein(given, c, bestDist); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean formats a suggestion as a sentence to append, or "".
func didYouMean(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", s)
}

// levenshtein is the edit distance between a and b; it gives up (returning max)
// once the distance reaches max.
func levenshtein(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= max {
			return max
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}
