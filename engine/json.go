package engine

// The JSON codec: Marathon's app JSON <-> App. TODO(codec): implemented by the
// engine codec work; the signatures below are the contract.

// MarshalJSON encodes the app as Marathon app JSON. Always emitted: id, instances,
// cpus, mem, disk, gpus, portDefinitions (possibly []), requirePorts,
// upgradeStrategy, backoffSeconds, backoffFactor, maxLaunchDelaySeconds,
// killSelection, unreachableStrategy (when set); env merges Env and EnvSecrets
// ({"secret": name} values); constraints are [field, OPERATOR(, value)] arrays.
func (a *App) MarshalJSON() ([]byte, error) { panic("TODO(codec)") }

// UnmarshalJSON decodes Marathon app JSON strictly: it starts from NewApp's
// defaults (absent fields keep them), folds the deprecated "uris" into Fetch and
// "ports" into PortDefinitions, accepts and ignores Marathon's output-only AppInfo
// fields (tasks, tasksRunning, deployments, ...), and rejects unknown fields and
// wrong types with FieldErrors whose Path is a JSON pointer ("/healthChecks/0/path").
// It does not run ApplyDefaults or Validate.
func (a *App) UnmarshalJSON(data []byte) error { panic("TODO(codec)") }

// DecodeApp decodes one app (UnmarshalJSON) and applies defaults. The error, when
// not nil, is FieldErrors (or a syntax error wrapped with its offset).
func DecodeApp(data []byte) (*App, error) { panic("TODO(codec)") }

// DecodeState reads a state file {"serial": N, "apps": [<Marathon app JSON>...]},
// applying defaults to every app. Unknown top-level fields are rejected.
func DecodeState(data []byte) (*State, error) { panic("TODO(codec)") }

// Clone returns a deep copy of the app (Source is shared: it is immutable).
func (a *App) Clone() *App { panic("TODO(codec)") }
