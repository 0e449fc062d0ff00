// Package engine holds Stride's domain model: the App (one-to-one with Marathon's
// app JSON), groups, the desired Spec read from HCL, the deployed State, the Plan the
// planner produces, and the runtime records (tasks, deployments) the executor keeps.
// It also declares the interfaces the rest of Stride plugs into (the state store).
//
// engine imports nothing of Stride's own: hcl/, planner/, executor/ and cmd/ depend on
// it, never the other way round.
package engine
