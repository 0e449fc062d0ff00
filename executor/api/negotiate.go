package api

import (
	"strconv"
	"strings"
)

// wantsText reports whether the Accept header asks for text/plain rather than JSON
// on the endpoints that offer both. Marathon declares text/plain with qs=0.1, so
// JSON wins unless the client gives text/plain a strictly higher quality than
// JSON: "text/plain" alone, "text/plain, application/json;q=0.5". No Accept, "*/*",
// or a header that accepts neither: JSON.
func wantsText(accept string) bool {
	if accept == "" {
		return false
	}
	textQ := acceptQuality(accept, "text", "plain")
	jsonQ := acceptQuality(accept, "application", "json")
	return textQ > jsonQ
}

// acceptQuality returns the quality the Accept header gives typ/sub: the q of the
// most specific media range that matches (exact, then typ/*, then */*), 0 when
// none does.
func acceptQuality(accept, typ, sub string) float64 {
	best, bestSpec := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		t, s, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		spec := -1
		switch {
		case t == typ && s == sub:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec < bestSpec || spec < 0 {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		if spec > bestSpec || q > best {
			best, bestSpec = q, spec
		}
	}
	return best
}
