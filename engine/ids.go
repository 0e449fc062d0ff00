package engine

import (
	"fmt"
	"strings"
)

// ValidSegment reports whether s is a valid path segment of an app or group id:
// Marathon's ^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$
// — lowercase letters, digits, inner dashes, dot-separated labels.
func ValidSegment(s string) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// SegmentRule is the human wording of ValidSegment, used in error messages.
const SegmentRule = "must be lowercase letters, digits, dashes (not at either end) and dots, e.g. \"web\" or \"db-1\""

// reservedSegments cannot be the last segment of an app id: the REST API routes
// /v2/apps/{id}/tasks, /versions and /restart by them.
var reservedSegments = map[string]bool{"restart": true, "tasks": true, "versions": true}

// CheckID returns nil when id is a valid absolute app or group id ("/" alone is the
// root group and valid only when root is true), or an error saying what is wrong.
func CheckID(id string, root bool) error {
	if id == "/" {
		if root {
			return nil
		}
		return fmt.Errorf("the root group \"/\" is not an app id")
	}
	if !strings.HasPrefix(id, "/") {
		return fmt.Errorf("id %q is not absolute (it must start with \"/\")", id)
	}
	segs := strings.Split(id[1:], "/")
	for i, s := range segs {
		if !ValidSegment(s) {
			return fmt.Errorf("id %q: segment %q %s", id, s, SegmentRule)
		}
		if !root && i == len(segs)-1 && reservedSegments[s] {
			return fmt.Errorf("id %q: %q is a reserved name", id, s)
		}
	}
	return nil
}

// ResolveID turns ref into an absolute id relative to the group base ("/" or
// "/shop"): absolute refs are cleaned, relative ones may use "." and "..":
// ResolveID("/shop", "db") = "/shop/db", ResolveID("/shop", "../infra") = "/infra".
// Going above the root is an error.
func ResolveID(base, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("empty id")
	}
	var parts []string
	if !strings.HasPrefix(ref, "/") {
		for _, s := range strings.Split(strings.Trim(base, "/"), "/") {
			if s != "" {
				parts = append(parts, s)
			}
		}
	}
	for _, s := range strings.Split(ref, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return "", fmt.Errorf("id %q goes above the root group", ref)
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, s)
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}

// CanonicalID adds the leading slash Marathon clients may leave out and drops a
// trailing one: "shop/api/" → "/shop/api".
func CanonicalID(id string) string {
	id = strings.TrimRight(id, "/")
	if !strings.HasPrefix(id, "/") {
		id = "/" + id
	}
	return id
}

// ParentID returns the id of the group holding id: "/shop/api" → "/shop", "/api" → "/".
func ParentID(id string) string {
	i := strings.LastIndexByte(id, '/')
	if i <= 0 {
		return "/"
	}
	return id[:i]
}

// SafeID is the app id as it appears in task ids and Marathon's text task list:
// without the leading slash, "/" replaced by "_" ("/tools/docker/registry" →
// "tools_docker_registry").
func SafeID(id string) string {
	return strings.ReplaceAll(strings.TrimPrefix(id, "/"), "/", "_")
}

// AppIDFromTaskID recovers the app id from a task id of the form
// "<SafeID>.<uuid>" the way Marathon clients do: everything before the last ".",
// "_" replaced by "/".
func AppIDFromTaskID(taskID string) string {
	i := strings.LastIndexByte(taskID, '.')
	if i < 0 {
		return ""
	}
	return "/" + strings.ReplaceAll(taskID[:i], "_", "/")
}

// DefaultServiceName is the Consul service name of an app that sets none: the id's
// segments reversed and joined by "-", as Mesos-DNS names apps ("/shop/api" →
// "api-shop").
func DefaultServiceName(id string) string {
	segs := strings.Split(strings.Trim(id, "/"), "/")
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "-")
}
