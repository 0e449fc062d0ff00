package api

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/stride-run/stride/engine"
)

// The hot encoders: task JSON and Marathon's text/plain endpoint list are written
// by hand, appending to a byte slice, because GET /v2/tasks on a large cluster is
// the endpoint Marathon was slowest at (12 s for 1,000 tasks on 2 vCPUs).
// appendTask produces exactly what encoding/json (with HTML escaping off, as in
// writeJSON) would produce for the task once its nil lists are replaced by empty
// ones and its Stride-only message is dropped (TestAppendTaskMatchesEncodingJSON).

func appendInts(b []byte, v []int) []byte {
	b = append(b, '[')
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return append(b, ']')
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return engine.AppendJSONString(b, *s)
}

// appendTask appends Marathon's task JSON (§4.4). servicePorts replaces the task's
// own list when that is empty: Marathon reports the app's service ports on every
// task. Lists are never null; health results carry taskId and instanceId (the
// task id when the executor left them empty). The last Mesos status message
// (Task.Message) is Stride's and not written.
func appendTask(b []byte, t *engine.Task, servicePorts []int) []byte {
	b = append(b, `{"id":`...)
	b = engine.AppendJSONString(b, t.ID)
	b = append(b, `,"appId":`...)
	b = engine.AppendJSONString(b, t.AppID)
	b = append(b, `,"host":`...)
	b = engine.AppendJSONString(b, t.Host)
	b = append(b, `,"ports":`...)
	b = appendInts(b, t.Ports)
	b = append(b, `,"servicePorts":`...)
	if len(t.ServicePorts) > 0 {
		servicePorts = t.ServicePorts
	}
	b = appendInts(b, servicePorts)
	b = append(b, `,"slaveId":`...)
	b = engine.AppendJSONString(b, t.SlaveID)
	if t.StagedAt != "" {
		b = append(b, `,"stagedAt":`...)
		b = engine.AppendJSONString(b, t.StagedAt)
	}
	if t.StartedAt != "" {
		b = append(b, `,"startedAt":`...)
		b = engine.AppendJSONString(b, t.StartedAt)
	}
	b = append(b, `,"version":`...)
	b = engine.AppendJSONString(b, t.Version)
	b = append(b, `,"state":`...)
	b = engine.AppendJSONString(b, t.State)
	b = append(b, `,"ipAddresses":[`...)
	for i, ip := range t.IPAddresses {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"ipAddress":`...)
		b = engine.AppendJSONString(b, ip.IPAddress)
		b = append(b, `,"protocol":`...)
		b = engine.AppendJSONString(b, ip.Protocol)
		b = append(b, '}')
	}
	b = append(b, `],"healthCheckResults":[`...)
	for i := range t.HealthCheckResults {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHealth(b, &t.HealthCheckResults[i], t.ID)
	}
	b = append(b, ']')
	if t.Role != "" {
		b = append(b, `,"role":`...)
		b = engine.AppendJSONString(b, t.Role)
	}
	b = append(b, `,"localVolumes":`...)
	if len(t.LocalVolumes) == 0 {
		b = append(b, "[]"...)
	} else if raw, err := marshal(t.LocalVolumes); err == nil {
		b = append(b, raw...)
	} else {
		b = append(b, "[]"...)
	}
	return append(b, '}')
}

func appendHealth(b []byte, h *engine.HealthResult, taskID string) []byte {
	b = append(b, `{"alive":`...)
	b = strconv.AppendBool(b, h.Alive)
	b = append(b, `,"consecutiveFailures":`...)
	b = strconv.AppendInt(b, int64(h.ConsecutiveFailures), 10)
	b = append(b, `,"firstSuccess":`...)
	b = appendOptString(b, h.FirstSuccess)
	b = append(b, `,"lastSuccess":`...)
	b = appendOptString(b, h.LastSuccess)
	b = append(b, `,"lastFailure":`...)
	b = appendOptString(b, h.LastFailure)
	b = append(b, `,"lastFailureCause":`...)
	b = appendOptString(b, h.LastFailureCause)
	tid, iid := h.TaskID, h.InstanceID
	if tid == "" {
		tid = taskID
	}
	if iid == "" {
		iid = tid
	}
	b = append(b, `,"taskId":`...)
	b = engine.AppendJSONString(b, tid)
	b = append(b, `,"instanceId":`...)
	b = engine.AppendJSONString(b, iid)
	return append(b, '}')
}

// servicePorts returns the app's service ports (engine.App.ServicePorts).
func servicePorts(a *engine.App) []int { return a.ServicePorts() }

// appendEndpoints appends one app's lines of Marathon's text/plain task list (§4.5,
// EndpointsHelper.appsToEndpointString of Marathon 1.11):
//
//   - one line per service port i: safeId \t servicePort_i \t host:port_i \t ... \n,
//     one address per running task (port_i is the task's i-th host port, 0 when it
//     has none);
//   - an app without service ports: safeId \t <space> \t host \t host \t ... \n;
//   - every address is followed by a tab, addresses are sorted (as Marathon does, for
//     deterministic output).
//
// tasks are the app's tasks; only TASK_RUNNING ones are listed. sc is scratch
// space reused across calls.
func appendEndpoints(b []byte, a *engine.App, tasks []*engine.Task, sc *endpointScratch) []byte {
	if sc == nil {
		sc = &endpointScratch{}
	}
	safe := engine.SafeID(a.ID)
	sps := servicePorts(a)
	if len(sps) == 0 {
		b = append(b, safe...)
		b = append(b, "\t \t"...)
		sc.reset()
		for _, t := range tasks {
			if t.State == engine.TaskRunning {
				sc.add(t.Host, -1)
			}
		}
		return append(sc.appendSorted(b), '\n')
	}
	for i, sp := range sps {
		b = append(b, safe...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(sp), 10)
		b = append(b, '\t')
		sc.reset()
		for _, t := range tasks {
			if t.State != engine.TaskRunning {
				continue
			}
			port := 0
			if i < len(t.Ports) {
				port = t.Ports[i]
			}
			sc.add(t.Host, port)
		}
		b = append(sc.appendSorted(b), '\n')
	}
	return b
}

// endpointScratch collects the addresses of one line in one buffer, to sort them
// without allocating a string each.
type endpointScratch struct {
	buf   []byte
	spans []span
}

func (sc *endpointScratch) reset() { sc.buf, sc.spans = sc.buf[:0], sc.spans[:0] }

// add records "host:port", or "host" when port < 0.
func (sc *endpointScratch) add(host string, port int) {
	start := len(sc.buf)
	sc.buf = append(sc.buf, host...)
	if port >= 0 {
		sc.buf = append(sc.buf, ':')
		sc.buf = strconv.AppendInt(sc.buf, int64(port), 10)
	}
	sc.spans = append(sc.spans, span{start, len(sc.buf)})
}

// appendSorted appends the addresses in byte order, each followed by a tab.
func (sc *endpointScratch) appendSorted(b []byte) []byte {
	slices.SortFunc(sc.spans, func(x, y span) int {
		return bytes.Compare(sc.buf[x.start:x.end], sc.buf[y.start:y.end])
	})
	for _, sp := range sc.spans {
		b = append(b, sc.buf[sp.start:sp.end]...)
		b = append(b, '\t')
	}
	return b
}
