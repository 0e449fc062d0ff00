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
package hcl
