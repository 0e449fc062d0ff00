package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/stride-run/stride/engine"
)

// apiError is an answer decided inside a write (an Edit runs on the executor's
// actor and finds, say, that the app already exists): writeBackendError sends it
// as is.
type apiError struct {
	code int
	body errorBody
}

func (e *apiError) Error() string { return e.body.Message }

func notFound(format string, args ...any) error {
	return &apiError{code: http.StatusNotFound, body: errorBody{Message: fmt.Sprintf(format, args...)}}
}

func conflict(format string, args ...any) error {
	return &apiError{code: http.StatusConflict, body: errorBody{Message: fmt.Sprintf(format, args...)}}
}

// invalid is a 422 "Object is not valid" with details.
func invalid(details ...engine.FieldError) error {
	return &apiError{code: http.StatusUnprocessableEntity, body: errorBody{Message: msgInvalidObject, Details: details}}
}

// invalidAt is invalid with one message at path.
func invalidAt(path, format string, args ...any) error {
	return invalid(engine.FieldError{Path: path, Errors: []string{fmt.Sprintf(format, args...)}})
}

// decodeError turns an error of engine's strict decoders into the answer:
// malformed JSON and values of the wrong type are 400 "Invalid JSON" (as
// Marathon answers them); members the server does not know are 422 "Object is
// not valid" (Marathon dropped them silently; Stride names them, unless the
// request or the server opts out). prefix is put before every path ("/3" for
// the fourth app of a list).
func decodeError(raw []byte, err error, prefix string) error {
	var fe engine.FieldErrors
	if errors.As(err, &fe) {
		code, msg := http.StatusUnprocessableEntity, msgInvalidObject
		for _, e := range fe {
			for _, m := range e.Errors {
				if m != engine.ErrUnknownField && m != engine.ErrNotSupported {
					code, msg = http.StatusBadRequest, msgInvalidJSON
				}
			}
		}
		return &apiError{code: code, body: errorBody{Message: msg, Details: prefixPaths(prefix, fe)}}
	}
	var syn *engine.SyntaxError
	if errors.As(err, &syn) {
		return &apiError{code: http.StatusBadRequest, body: errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{{
			Path: "/", Errors: []string{syn.Error()},
		}}}}
	}
	return &apiError{code: http.StatusBadRequest, body: errorBody{Message: msgInvalidJSON, Details: []engine.FieldError{jsonErrorDetail(raw, err)}}}
}

// prefixPaths puts prefix before every path ("" keeps them), without a
// trailing slash.
func prefixPaths(prefix string, fe []engine.FieldError) []engine.FieldError {
	out := make([]engine.FieldError, len(fe))
	for i, e := range fe {
		p := prefix + strings.TrimSuffix(e.Path, "/")
		if p == "" {
			p = "/"
		}
		out[i] = engine.FieldError{Path: p, Errors: e.Errors}
	}
	return out
}

// decodeOptions says how strictly the request's app and group bodies are read:
// members Stride does not know are rejected, unless the server allows them
// (-api-allow-unknown-fields) or the request says ?strict=false; ?strict=true
// makes a request strict on a lenient server.
func (s *Server) decodeOptions(r *http.Request) engine.DecodeOptions {
	allow := s.info.AllowUnknownFields
	switch strings.ToLower(r.URL.Query().Get("strict")) {
	case "false", "0", "no":
		allow = true
	case "true", "1", "yes":
		allow = false
	}
	return engine.DecodeOptions{AllowUnknown: allow}
}

// members splits a JSON object (known to be valid, without duplicate keys) into
// its members.
func members(raw []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// only reports whether obj holds exactly key and, at most, the keys of also.
func only(obj map[string]json.RawMessage, key string, also ...string) bool {
	if _, ok := obj[key]; !ok {
		return false
	}
	for k := range obj {
		if k != key && !slices.Contains(also, k) {
			return false
		}
	}
	return true
}
