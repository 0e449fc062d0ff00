// Package planner turns a desired engine.Spec and the deployed engine.State into
// an engine.Plan: it diffs every app field by field and classifies the change
// (create, destroy, scale, restart, update), orders the changes into steps by the
// dependency graph, and previews each rollout in waves that honour the app's
// upgrade strategy. It is pure: no clock, no I/O, no randomness; the same input
// gives the same plan, byte for byte. See README.md for the vocabulary.
package planner
