package api

import "strings"

// Route returns the route template of a request path, for metrics: ids,
// versions and task ids are replaced by placeholders, so that the number of
// distinct routes is bounded whatever clients ask for ("/v2/apps/shop/api/tasks"
// → "/v2/apps/{id}/tasks"). It knows every path of Marathon's /v2 surface
// (MARATHON-API.md), served or not; anything else is "other".
func Route(path string) string {
	switch path {
	case "/ping", "/metrics", "/metrics/prometheus", "/v2/info", "/v2/leader", "/v2/events",
		"/v2/eventSubscriptions", "/v2/apps", "/v2/tasks", "/v2/tasks/delete", "/v2/deployments",
		"/v2/groups", "/v2/queue", "/v2/pods", "/v2/plugins", "/stride/v1/state", "/stride/v1/plan", "/stride/v1/apply":
		return path
	case "/", "":
		return "/"
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if strings.HasPrefix(path, "/stride/v1/deployments/") {
			return "/stride/v1/deployments/{id}"
		}
		return "other"
	}
	kind, rest, _ := strings.Cut(rest, "/")
	rest = strings.Trim(rest, "/")
	switch kind {
	case "apps":
		return appRoute(rest)
	case "groups":
		return groupRoute(rest)
	case "deployments":
		if rest == "" {
			return "/v2/deployments"
		}
		return "/v2/deployments/{id}"
	case "queue":
		switch {
		case rest == "":
			return "/v2/queue"
		case strings.HasSuffix(rest, "/delay"):
			return "/v2/queue/{id}/delay"
		}
		return "other"
	case "tasks", "info", "leader", "events", "eventSubscriptions":
		if rest == "" {
			return "/v2/" + kind
		}
		return "other"
	case "pods":
		if rest == "" {
			return "/v2/pods"
		}
		for _, s := range []string{"::status", "::versions", "::instances"} {
			if strings.Contains(rest, s) {
				return "/v2/pods/{id}" + s
			}
		}
		return "/v2/pods/{id}"
	}
	return "other"
}

// appRoute classifies the rest of /v2/apps/...: the app id is everything up to
// a reserved segment (tasks, versions, restart; Marathon forbids them in ids).
func appRoute(rest string) string {
	if rest == "" {
		return "/v2/apps"
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		if i == 0 {
			continue
		}
		switch s {
		case "tasks":
			if i == len(segs)-1 {
				return "/v2/apps/{id}/tasks"
			}
			return "/v2/apps/{id}/tasks/{taskId}"
		case "versions":
			if i == len(segs)-1 {
				return "/v2/apps/{id}/versions"
			}
			return "/v2/apps/{id}/versions/{version}"
		case "restart":
			return "/v2/apps/{id}/restart"
		case "*":
			return "/v2/apps/{id}/*"
		}
	}
	return "/v2/apps/{id}"
}

// groupRoute classifies the rest of /v2/groups/....
func groupRoute(rest string) string {
	if rest == "" {
		return "/v2/groups"
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		switch s {
		case "versions":
			if i == len(segs)-1 {
				return "/v2/groups/{id}/versions"
			}
			return "/v2/groups/{id}/versions/{version}"
		case "apps":
			if i == len(segs)-1 && i > 0 {
				return "/v2/groups/{id}/apps"
			}
		}
	}
	return "/v2/groups/{id}"
}

// RouteMethod bounds a request method for metrics labels.
func RouteMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "OTHER"
}
