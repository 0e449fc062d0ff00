package api

import "net/http"

// metrics serves /metrics (Marathon's JSON) and /metrics/prometheus.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	if s.info.Metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are not enabled on this server")
		return
	}
	if r.URL.Path == pathMetricsProm {
		s.promHandler.ServeHTTP(w, r)
		return
	}
	s.jsonHandler.ServeHTTP(w, r)
}
