package localmesos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// HTTP header and media type names of the scheduler API.
const (
	headerStreamID           = "Mesos-Stream-Id"
	headerMessageAccept      = "Message-Accept"
	headerMessageContentType = "Message-Content-Type"
	mediaJSON                = string(codecs.MediaTypeJSON)
	mediaProtobuf            = string(codecs.MediaTypeProtobuf)
	mediaRecordIO            = "application/recordio"
	maxCallBytes             = 64 << 20
)

// routes returns the master's HTTP handler.
func (m *Master) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/scheduler", m.handleScheduler)
	mux.HandleFunc("/master/state", m.handleState)
	mux.HandleFunc("/master/state.json", m.handleState)
	mux.HandleFunc("/state", m.handleState)
	mux.HandleFunc("/master/slaves", m.handleSlaves)
	mux.HandleFunc("/slaves", m.handleSlaves)
	mux.HandleFunc("/master/redirect", m.handleRedirect)
	mux.HandleFunc("/redirect", m.handleRedirect)
	mux.HandleFunc("/health", m.handleHealth)
	mux.HandleFunc("/master/health", m.handleHealth)
	mux.HandleFunc("/version", m.handleVersion)
	mux.HandleFunc("/stride/agents/", m.handleLoseAgent)
	return browserGuard(mux, m.host)
}

// httpError answers with a status code and a plain-text message, as Mesos does.
func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintf(w, format, args...)
}

// handleScheduler serves POST /api/v1/scheduler, following the checks of
// Mesos' master in its order: method, Content-Type, body, call validation,
// Accept (SUBSCRIBE only), then framework, subscription and Mesos-Stream-Id.
func (m *Master) handleScheduler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "Expecting one of { 'POST' }, but received '%s'", r.Method)
		return
	}
	codec, status, err := requestCodec(r.Header)
	if err != nil {
		httpError(w, status, "%v", err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBytes+1))
	if err != nil {
		httpError(w, http.StatusBadRequest, "Failed to read the request body: %v", err)
		return
	}
	if len(body) > maxCallBytes {
		httpError(w, http.StatusRequestEntityTooLarge, "The request body is larger than %d bytes", maxCallBytes)
		return
	}
	var call scheduler.Call
	if err := decodeCall(codec, body, &call); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err := validateCall(&call); err != nil {
		httpError(w, http.StatusBadRequest, "Failed to validate scheduler::Call: %v", err)
		return
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		m.handleSubscribe(w, r, &call)
		return
	}
	m.handleCall(w, r, &call)
}

// requestCodec picks the codec of a call's body from its Content-Type (or, for
// a RecordIO request, its Message-Content-Type).
func requestCodec(h http.Header) (encoding.Codec, int, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		return encoding.Codec{}, http.StatusBadRequest, errors.New("Expecting 'Content-Type' to be present")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == mediaRecordIO {
		mt, _, err = mime.ParseMediaType(h.Get(headerMessageContentType))
	}
	if err == nil {
		if c, ok := codecs.ByMediaType[encoding.MediaType(mt)]; ok {
			return c, 0, nil
		}
	}
	return encoding.Codec{}, http.StatusUnsupportedMediaType,
		fmt.Errorf("Expecting 'Content-Type' of %s or %s", mediaJSON, mediaProtobuf)
}

// decodeCall decodes one Call from a body (plain, or a single RecordIO record).
func decodeCall(codec encoding.Codec, body []byte, call *scheduler.Call) error {
	if codec.Type == codecs.MediaTypeProtobuf {
		if err := call.Unmarshal(body); err != nil {
			return fmt.Errorf("Failed to parse body into Call protobuf: %v", err)
		}
		return nil
	}
	if err := json.Unmarshal(body, call); err != nil {
		return fmt.Errorf("Failed to convert JSON into Call protobuf: %v", err)
	}
	return nil
}

// responseCodec negotiates the encoding of a SUBSCRIBE stream from Accept
// (JSON preferred when both are acceptable, as Mesos does; no Accept means
// anything). A client asking for application/recordio names the record type
// in Message-Accept. It also returns the Content-Type headers to answer with.
func responseCodec(h http.Header) (encoding.Codec, http.Header, bool) {
	accept := h.Values("Accept")
	if acceptsMedia(accept, mediaRecordIO) && !acceptsMedia(accept, mediaJSON) && !acceptsMedia(accept, mediaProtobuf) {
		msg := h.Values(headerMessageAccept)
		for _, mt := range []string{mediaJSON, mediaProtobuf} {
			if acceptsMedia(msg, mt) {
				return codecs.ByMediaType[encoding.MediaType(mt)], http.Header{
					"Content-Type":           {mediaRecordIO},
					headerMessageContentType: {mt},
				}, true
			}
		}
		return encoding.Codec{}, nil, false
	}
	for _, mt := range []string{mediaJSON, mediaProtobuf} {
		if acceptsMedia(accept, mt) {
			return codecs.ByMediaType[encoding.MediaType(mt)], http.Header{"Content-Type": {mt}}, true
		}
	}
	return encoding.Codec{}, nil, false
}

// acceptsMedia reports whether the Accept header values admit media type mt
// (with a non-zero quality). No values admit everything.
func acceptsMedia(values []string, mt string) bool {
	if len(values) == 0 {
		return true
	}
	major, _, _ := strings.Cut(mt, "/")
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			t, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f <= 0 {
					continue
				}
			}
			if t == mt || t == "*/*" || t == major+"/*" {
				return true
			}
		}
	}
	return false
}

// validateCall makes the structural checks Mesos makes of every call before
// it looks at frameworks.
func validateCall(c *scheduler.Call) error {
	if c.Type == scheduler.Call_UNKNOWN {
		return errors.New("Expecting 'type' to be present")
	}
	if c.Type == scheduler.Call_SUBSCRIBE {
		if c.Subscribe == nil || c.Subscribe.FrameworkInfo == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
		if c.Subscribe.FrameworkInfo.GetID().GetValue() != c.GetFrameworkID().GetValue() {
			return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	if c.GetFrameworkID().GetValue() == "" {
		return errors.New("Expecting 'framework_id' to be present")
	}
	missing := func(field string) error { return fmt.Errorf("Expecting '%s' to be present", field) }
	switch c.Type {
	case scheduler.Call_ACCEPT:
		if c.Accept == nil {
			return missing("accept")
		}
	case scheduler.Call_DECLINE:
		if c.Decline == nil {
			return missing("decline")
		}
	case scheduler.Call_ACCEPT_INVERSE_OFFERS:
		if c.AcceptInverseOffers == nil {
			return missing("accept_inverse_offers")
		}
	case scheduler.Call_DECLINE_INVERSE_OFFERS:
		if c.DeclineInverseOffers == nil {
			return missing("decline_inverse_offers")
		}
	case scheduler.Call_KILL:
		if c.Kill == nil {
			return missing("kill")
		}
	case scheduler.Call_SHUTDOWN:
		if c.Shutdown == nil {
			return missing("shutdown")
		}
	case scheduler.Call_ACKNOWLEDGE:
		if c.Acknowledge == nil {
			return missing("acknowledge")
		}
		if len(c.Acknowledge.UUID) != 16 {
			return fmt.Errorf("Invalid UUID of %d bytes in 'acknowledge.uuid'", len(c.Acknowledge.UUID))
		}
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		if c.AcknowledgeOperationStatus == nil {
			return missing("acknowledge_operation_status")
		}
	case scheduler.Call_RECONCILE:
		if c.Reconcile == nil {
			return missing("reconcile")
		}
	case scheduler.Call_RECONCILE_OPERATIONS:
		if c.ReconcileOperations == nil {
			return missing("reconcile_operations")
		}
	case scheduler.Call_MESSAGE:
		if c.Message == nil {
			return missing("message")
		}
	case scheduler.Call_REQUEST:
		if c.Request == nil {
			return missing("request")
		}
	case scheduler.Call_UPDATE_FRAMEWORK:
		if c.UpdateFramework == nil {
			return missing("update_framework")
		}
	case scheduler.Call_TEARDOWN, scheduler.Call_REVIVE, scheduler.Call_SUPPRESS:
	default:
		return fmt.Errorf("Unsupported call type %v", c.Type)
	}
	return nil
}

// handleSubscribe answers a SUBSCRIBE with 200 and the event stream.
func (m *Master) handleSubscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	codec, headers, ok := responseCodec(r.Header)
	if !ok {
		httpError(w, http.StatusNotAcceptable, "Expecting 'Accept' to allow '%s' or '%s'", mediaProtobuf, mediaJSON)
		return
	}
	if r.Header.Get(headerStreamID) != "" {
		httpError(w, http.StatusBadRequest, "Subscribe calls should not include the '%s' header", headerStreamID)
		return
	}
	s := newStream(codec)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "The master is shutting down")
		return
	}
	m.subscribe(s, call.Subscribe)
	m.mu.Unlock()

	for k, v := range headers {
		w.Header()[k] = v
	}
	w.Header().Set(headerStreamID, s.id)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s.serve(r.Context(), w, m.cfg.HeartbeatInterval)
	m.streamEnded(s)
}

// handleCall answers every call but SUBSCRIBE: 202 (200 for UPDATE_FRAMEWORK)
// once the call is accepted for processing; its effects arrive as events.
func (m *Master) handleCall(w http.ResponseWriter, r *http.Request, call *scheduler.Call) {
	m.mu.Lock()
	fw := m.frameworks[call.GetFrameworkID().GetValue()]
	var (
		code = http.StatusAccepted
		msg  string
	)
	switch sid := r.Header.Get(headerStreamID); {
	case m.closed:
		code, msg = http.StatusServiceUnavailable, "The master is shutting down"
	case fw == nil:
		code, msg = http.StatusBadRequest, "Framework cannot be found"
	case fw.stream == nil:
		code, msg = http.StatusForbidden, "Framework is not subscribed"
	case sid == "":
		code, msg = http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
	case sid != fw.stream.id:
		code, msg = http.StatusBadRequest, fmt.Sprintf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", sid, fw.id)
	default:
		if err := m.dispatch(fw, call); err != nil {
			code, msg = http.StatusBadRequest, err.Error()
		} else if call.Type == scheduler.Call_UPDATE_FRAMEWORK {
			code = http.StatusOK
		}
	}
	m.mu.Unlock()
	switch {
	case msg != "":
		httpError(w, code, "%s", msg)
	case code == http.StatusOK:
		// Mesos answers UPDATE_FRAMEWORK with an empty 200; the Content-Type is
		// set so that clients checking it (mesos-go's httpcli) accept it.
		if _, headers, ok := responseCodec(r.Header); ok {
			w.Header().Set("Content-Type", headers.Get("Content-Type"))
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
	default:
		w.WriteHeader(code)
	}
}

// dispatch carries out an accepted call. Called with m.mu held.
func (m *Master) dispatch(fw *framework, call *scheduler.Call) error {
	switch call.Type {
	case scheduler.Call_TEARDOWN:
		m.removeFramework(fw, "the framework sent TEARDOWN")
	case scheduler.Call_ACCEPT:
		m.accept(fw, call.Accept)
	case scheduler.Call_DECLINE:
		m.decline(fw, call.Decline)
	case scheduler.Call_REVIVE:
		m.revive(fw, call.Revive.GetRoles())
	case scheduler.Call_SUPPRESS:
		m.suppress(fw, call.Suppress.GetRoles())
	case scheduler.Call_KILL:
		m.kill(fw, call.Kill)
	case scheduler.Call_ACKNOWLEDGE:
		m.acknowledge(fw, call.Acknowledge)
	case scheduler.Call_RECONCILE:
		m.reconcile(fw, call.Reconcile.Tasks)
	case scheduler.Call_UPDATE_FRAMEWORK:
		return m.updateFramework(fw, call.UpdateFramework)
	case scheduler.Call_SHUTDOWN:
		// Command tasks have no executor of their own to shut down.
		m.logf("framework %s: SHUTDOWN of executor %s ignored (no custom executors)", fw.id, call.Shutdown.ExecutorID.Value)
	case scheduler.Call_MESSAGE, scheduler.Call_REQUEST,
		scheduler.Call_ACCEPT_INVERSE_OFFERS, scheduler.Call_DECLINE_INVERSE_OFFERS,
		scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS, scheduler.Call_RECONCILE_OPERATIONS:
		// Accepted and ignored: there are no executors to message, no
		// inverse offers and no operations with feedback.
	}
	return nil
}

// handleRedirect answers GET /master/redirect with a 307 to the leading
// master, which a lone stand-in always is.
func (m *Master) handleRedirect(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Location", fmt.Sprintf("//%s:%d", m.host, m.port))
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// handleHealth answers 200: the master is up.
func (m *Master) handleHealth(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusOK)
}

// handleVersion answers GET /version with the Mesos version the stand-in follows.
func (m *Master) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]string{
		"version":    version,
		"git_tag":    "stride-localmesos",
		"build_user": "stride",
	})
}

// handleLoseAgent serves POST /stride/agents/<agent-id>/lose, .../partition
// and .../heal (Master.LoseAgent, PartitionAgent and HealAgent for tools).
func (m *Master) handleLoseAgent(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/stride/agents/")
	id, action, ok := strings.Cut(rest, "/")
	ops := map[string]func(string) error{"lose": m.LoseAgent, "partition": m.PartitionAgent, "heal": m.HealAgent}
	op := ops[action]
	if !ok || op == nil || id == "" {
		httpError(w, http.StatusNotFound, "Not found: %s", r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "Expecting one of { 'POST' }, but received '%s'", r.Method)
		return
	}
	m.mu.Lock()
	_, known := m.agentByID[id]
	m.mu.Unlock()
	if !known {
		httpError(w, http.StatusNotFound, "No agent %s", id)
		return
	}
	if err := op(id); err != nil {
		httpError(w, http.StatusConflict, "%v", err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// writeJSON answers 200 with v as indented JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", mediaJSON)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
