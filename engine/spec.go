package engine

// Spec is the desired configuration read from a directory of HCL files: every app
// and group the files declare, under one scope.
type Spec struct {
	// Scope is the absolute group path the files own ("/" by default). Deployed apps
	// under it that the files do not declare are destroyed; apps outside it are never
	// touched.
	Scope string `json:"scope"`
	// Apps are sorted by ID.
	Apps []*App `json:"apps"`
	// Groups are sorted by ID; only groups the files declare appear.
	Groups []*Group `json:"groups,omitempty"`
}

// State is the deployed side of a plan: the apps as they are now, and the serial of
// the state they were read at. Every write to the state store increments Serial; a
// saved plan records it so that apply can refuse a plan made against older state.
type State struct {
	Serial uint64 `json:"serial"`
	// Apps are the deployed apps (any order; the planner sorts).
	Apps []*App `json:"apps"`
}

// InScope reports whether id lies at or under scope. scope "/" holds everything.
func InScope(id, scope string) bool {
	if scope == "" || scope == "/" {
		return true
	}
	return id == scope || (len(id) > len(scope) && id[:len(scope)] == scope && id[len(scope)] == '/')
}
