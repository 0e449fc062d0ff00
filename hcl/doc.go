// Package hcl is the Stride language: it reads a directory of *.hcl files
// (variables, locals, groups, apps — the design notes' LANGUAGE.md) and returns the
// desired engine.Spec, or diagnostics that name file:line:col.
//
//	files ──parse (parallel)──► variable blocks ──► values: default < STRIDE_VAR_ env
//	                                                < -var-file files < -var flags
//	                        ──► locals (dependency order; cycles are errors)
//	                        ──► one EvalContext: var.*, local.*, functions
//	                        ──► stride { scope } (or -scope)
//	                        ──► groups and apps (top-level blocks decoded in
//	                            parallel, merged in source order):
//	                            engine.NewApp defaults, HCL attributes on top,
//	                            ApplyDefaults, Validate → diagnostics at the
//	                            attribute through Source.RangeFor
//	                        ──► dependencies checked against every declared id
//
// Every HCL attribute maps onto a field of Marathon's app JSON (snake_case for
// camelCase), so an app written here and the same app posted as JSON decode to
// equal engine.Apps; Source records, per JSON pointer, the HCL range that set it.
//
// Loading never stops at the first problem: all errors are reported, sorted by
// position, and a Spec is returned only when there are none. Problems that
// follow from another (a value that failed to evaluate, a field of a block with
// an unknown argument) are not reported twice. Syntax errors are the exception:
// every file is parsed and all of them reported, but nothing is decoded then.
//
// # Evaluation budget
//
// Evaluation is bounded, so that no input — configuration, -var, -var-file or
// STRIDE_VAR_ values — makes Load run for minutes or use gigabytes
// (budget.go). Every value produced while evaluating is measured, and one that
// exceeds a limit is an error at the expression that produced it (summary
// "Evaluation budget exceeded"):
//
//   - MaxValueElements (100,000): elements of one value, nested collections'
//     elements included;
//   - MaxStringLength (1 MiB): bytes of one string;
//   - MaxValueBytes (16 MiB): bytes of all the strings of one value;
//   - MaxNestingDepth (256): nesting of a value, of an expression and of the
//     source (brackets, braces, blocks, strings, template sequences, unary
//     operators, conditionals; checked before parsing, since hcl's parser
//     recurses per level and overflows the stack near 100,000);
//   - MaxNumberExponent (1000): numbers lie between 1e-1000 and 1e1000 in
//     magnitude (or are zero), so that none is a huge string once converted.
//
// The work of one Load is bounded by MaxWork (4,000,000 units): one unit per
// element produced, checked or passed to a function, per 64 bytes of string,
// per 16 steps of regular-expression matching, per 8 comparisons of types that
// cty's unification makes; 10 per iteration of a for expression, 16 per
// number written into a template, 100 per error inside a for expression; the
// operands of == and != count 4 times their size, the results of a
// conditional twice. An attribute's value is measured, and charged beyond 64
// units. The first expression to run out of work is reported, and evaluation
// stops there (hcl keeps iterating a for expression after an error, so the
// budget unwinds instead).
//
// cty unifies types by comparing every pair: tolist of a 60,000-element tuple
// took 40 seconds. So tuples and objects of one element type are converted to
// the list, set or map a conversion to list(any), set(any) or map(any) asks
// for (function arguments, tolist, toset, tomap, variable types) in linear
// time, and only the rest is charged; distinct is linear too.
//
// Functions whose result size follows from their arguments (setproduct, range,
// concat, merge, setunion, chunklist, format, formatlist, join, indent, split,
// replace, regex, regexall, jsondecode, jsonencode, csvdecode) are checked
// before they run; every function's result is checked after. try evaluates
// each alternative once, and an alternative that exceeded the budget still
// fails the configuration: try and can do not catch budget errors.
package hcl
