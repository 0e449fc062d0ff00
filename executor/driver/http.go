package driver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// HTTP header names of the scheduler API.
const (
	headerStreamID           = "Mesos-Stream-Id"
	headerMessageContentType = "Message-Content-Type"
	mediaRecordIO            = "application/recordio"
)

// maxErrorBody bounds how much of an error answer is kept for the message.
const maxErrorBody = 4 << 10

// CallError is a master's refusal of a call: an answer other than 202
// Accepted (or 200 OK for SUBSCRIBE), with the text the master sent.
type CallError struct {
	Call       string // the call type, e.g. "ACCEPT"
	Master     string // the URL of the master that answered
	StatusCode int    // e.g. 400
	Status     string // e.g. "400 Bad Request"
	Message    string // the answer's body, trimmed (at most 4 KiB)
}

// Error implements error.
func (e *CallError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(no message)"
	}
	return fmt.Sprintf("%s refused by %s: %s: %s", e.Call, e.Master, e.Status, msg)
}

// encode encodes a call with the driver's codec.
func (d *Driver) encode(call *scheduler.Call) ([]byte, error) {
	var buf bytes.Buffer
	if err := d.s.codec.NewEncoder(encoding.SinkWriter(&buf)).Encode(call); err != nil {
		return nil, fmt.Errorf("encode %v call: %w", call.Type, err)
	}
	return buf.Bytes(), nil
}

// post sends an encoded call to a master's scheduler endpoint; streamID is
// sent as Mesos-Stream-Id unless empty.
func (d *Driver) post(ctx context.Context, endpoint *url.URL, body []byte, streamID string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	ct := d.s.codec.Type.ContentType()
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", ct)
	if streamID != "" {
		req.Header.Set(headerStreamID, streamID)
	}
	if d.s.Secret != "" {
		req.SetBasicAuth(d.s.Principal, d.s.Secret)
	}
	return d.transport.RoundTrip(req)
}

// callError reads a refusal into a CallError (and closes the body).
func callError(call scheduler.Call_Type, endpoint *url.URL, resp *http.Response) *CallError {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &CallError{
		Call:       call.String(),
		Master:     baseURL(endpoint),
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Message:    strings.TrimSpace(string(b)),
	}
}

// openStream sends a SUBSCRIBE to endpoint, following a non-leading master's
// redirects to the leader, and returns the 200 response with its event stream
// and the endpoint that gave it.
func (d *Driver) openStream(ctx context.Context, endpoint *url.URL, call *scheduler.Call) (*http.Response, *url.URL, error) {
	body, err := d.encode(call)
	if err != nil {
		return nil, nil, err
	}
	for hop := 0; ; hop++ {
		resp, err := d.post(ctx, endpoint, body, "")
		if err != nil {
			return nil, nil, fmt.Errorf("SUBSCRIBE to %s: %w", baseURL(endpoint), err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			if err := d.checkStream(resp); err != nil {
				resp.Body.Close()
				return nil, nil, fmt.Errorf("SUBSCRIBE to %s: %w", baseURL(endpoint), err)
			}
			return resp, endpoint, nil
		case http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound, http.StatusMovedPermanently, http.StatusSeeOther:
			location := resp.Header.Get("Location")
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			next, err := resolveLocation(endpoint, location)
			if err != nil {
				return nil, nil, fmt.Errorf("SUBSCRIBE to %s: %s: %w", baseURL(endpoint), resp.Status, err)
			}
			if hop >= maxRedirects {
				return nil, nil, fmt.Errorf("SUBSCRIBE to %s: more than %d redirects (the last to %s)", baseURL(endpoint), maxRedirects, baseURL(next))
			}
			d.logf("%s is not the leading master: redirected to %s", baseURL(endpoint), baseURL(next))
			endpoint = next
		default:
			return nil, nil, callError(call.Type, endpoint, resp)
		}
	}
}

// checkStream checks that a SUBSCRIBE's 200 answer is an event stream the
// driver can read: the codec asked for (plain, or as RecordIO's message type)
// and a Mesos-Stream-Id.
func (d *Driver) checkStream(resp *http.Response) error {
	want := string(d.s.codec.Type)
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err == nil && mt == mediaRecordIO {
		mt, _, err = mime.ParseMediaType(resp.Header.Get(headerMessageContentType))
	}
	if err != nil || mt != want {
		return fmt.Errorf("the event stream's content type is %q, not %q", resp.Header.Get("Content-Type"), want)
	}
	if resp.Header.Get(headerStreamID) == "" {
		return fmt.Errorf("the answer has no %s header", headerStreamID)
	}
	return nil
}

// send makes a call on a subscription: framework_id and Mesos-Stream-Id of
// the session, to the master it is held with. A 403 (the master no longer
// takes the framework for subscribed) or a redirect (it is no longer the
// leader) also ends the subscription, so that the driver re-subscribes.
func (d *Driver) send(ctx context.Context, s *session, call *scheduler.Call) error {
	if s == nil {
		return fmt.Errorf("%v: %w", call.Type, ErrNotConnected)
	}
	call.FrameworkID = &mesos.FrameworkID{Value: s.frameworkID}
	body, err := d.encode(call)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := d.post(ctx, s.endpoint, body, s.streamID)
	if err != nil {
		return fmt.Errorf("%v to %s: %w", call.Type, s.base, err)
	}
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil
	}
	cerr := callError(call.Type, s.endpoint, resp)
	switch cerr.StatusCode {
	case http.StatusForbidden, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		d.logf("%v; dropping the subscription", cerr)
		s.cancel(fmt.Errorf("subscription lost: %w", cerr))
	}
	return cerr
}
