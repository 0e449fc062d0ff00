package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Service ports, as Marathon assigns them.
//
// An app's service ports are the ports of its port definitions or, for an app
// whose container maps ports, the servicePort of each mapping
// (container.portMappings, else the legacy docker.portMappings). They are not
// bound on any host: load balancers (marathon-lb, the HAProxy bridges reading
// the text/plain task list) listen on them and forward to the tasks' host ports.
// A service port of 0 asks for one: the write that stores the app gives it the
// lowest port of the server's range (Marathon's --local_port_min/max,
// 10000–20000 by default) that no app holds, and keeps it across later writes
// that leave the port 0 (matched by index). A non-zero port is taken as given,
// but no two apps may hold the same one.

// DefaultServicePortRange is Marathon's default range for assigned service
// ports (--local_port_min 10000, --local_port_max 20000).
var DefaultServicePortRange = PortRange{Min: 10000, Max: 20000}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Min, Max int
}

// String formats the range as ParsePortRange reads it: "10000-20000".
func (r PortRange) String() string { return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max) }

// Set reads the range from a command-line flag (flag.Value).
func (r *PortRange) Set(s string) error {
	v, err := ParsePortRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Contains reports whether p lies in the range.
func (r PortRange) Contains(p int) bool { return p >= r.Min && p <= r.Max }

// Size is the number of ports in the range.
func (r PortRange) Size() int { return r.Max - r.Min + 1 }

// ParsePortRange reads "MIN-MAX" (both between 1 and 65535, MIN ≤ MAX).
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return PortRange{}, fmt.Errorf("port range %q: want MIN-MAX, such as 10000-20000", s)
	}
	var r PortRange
	var err error
	if r.Min, err = strconv.Atoi(strings.TrimSpace(lo)); err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %q is not a port", s, lo)
	}
	if r.Max, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %q is not a port", s, hi)
	}
	if err := r.Check(); err != nil {
		return PortRange{}, fmt.Errorf("port range %q: %w", s, err)
	}
	return r, nil
}

// Check reports a range that is not MIN ≤ MAX within 1..65535.
func (r PortRange) Check() error {
	switch {
	case r.Min < 1 || r.Max > MaxPort:
		return fmt.Errorf("ports must be between 1 and %d", MaxPort)
	case r.Min > r.Max:
		return fmt.Errorf("the first port %d is above the last %d", r.Min, r.Max)
	}
	return nil
}

// MaxPort is the highest TCP/UDP port.
const MaxPort = 65535

// ServicePorts returns the app's service ports in order (0 where none is
// assigned yet); never nil.
func (a *App) ServicePorts() []int {
	out, _ := appendServicePorts([]int{}, a)
	return out
}

// servicePortSlots points at the app's service ports, with the JSON path of
// each one's parent list ("/portDefinitions", "/container/portMappings" or
// "/container/docker/portMappings") and the member name.
func servicePortSlots(a *App) ([]*int, servicePortPath) {
	if len(a.PortDefinitions) > 0 {
		out := make([]*int, len(a.PortDefinitions))
		for i := range a.PortDefinitions {
			out[i] = &a.PortDefinitions[i].Port
		}
		return out, servicePortPath{"/portDefinitions", "port"}
	}
	if c := a.Container; c != nil {
		m, path := c.PortMappings, "/container/portMappings"
		if len(m) == 0 && c.Docker != nil {
			m, path = c.Docker.PortMappings, "/container/docker/portMappings"
		}
		out := make([]*int, len(m))
		for i := range m {
			out[i] = &m[i].ServicePort
		}
		return out, servicePortPath{path, "servicePort"}
	}
	return nil, servicePortPath{}
}

type servicePortPath struct{ list, member string }

func (p servicePortPath) at(i int) string {
	return p.list + "/" + strconv.Itoa(i) + "/" + p.member
}

// ServicePortError is a write refused over service ports: a port another app
// holds (Holder), a port the app lists twice, or no free port left in the range
// (Exhausted). Path is the JSON pointer of the port within the app.
type ServicePortError struct {
	AppID string
	Path  string
	Port  int
	// Holder is the app that already holds Port ("" when the app itself lists
	// it twice).
	Holder    string
	Exhausted bool
	Range     PortRange
}

func (e *ServicePortError) Error() string {
	switch {
	case e.Exhausted:
		return fmt.Sprintf("app %s: no free service port left in %s (every port of the range is held by an app; widen the range with -service-ports or free some)", e.AppID, e.Range)
	case e.Holder != "":
		return fmt.Sprintf("app %s: service port %d is already used by app %s", e.AppID, e.Port, e.Holder)
	default:
		return fmt.Sprintf("app %s: service port %d is listed twice", e.AppID, e.Port)
	}
}

// ServicePortErrors are all the service port problems of one write, sorted by
// app and path.
type ServicePortErrors []*ServicePortError

func (es ServicePortErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Conflict reports whether the write conflicts with the state (a port another
// app holds, an exhausted range) rather than being invalid in itself.
func (es ServicePortErrors) Conflict() bool {
	for _, e := range es {
		if e.Exhausted || e.Holder != "" {
			return true
		}
	}
	return false
}

// FieldErrors lists the errors by path within the app, the message naming
// the app.
func (es ServicePortErrors) FieldErrors() FieldErrors {
	out := make(FieldErrors, len(es))
	for i, e := range es {
		out[i] = FieldError{Path: e.Path, Errors: []string{e.Error()}}
	}
	return out
}

// AsServicePortErrors finds ServicePortErrors in err's chain.
func AsServicePortErrors(err error) (ServicePortErrors, bool) {
	var es ServicePortErrors
	ok := errors.As(err, &es)
	return es, ok
}

// AssignServicePorts fills the service ports of a write's apps, as Marathon
// does (AssignDynamicServiceLogic): puts are the apps the write creates or
// replaces, others every other app the state will hold once it is done, and
// deployed returns an app's current definition (nil for a new app). puts is
// neither modified nor kept: the result has the same apps in the same order,
// each one that got ports replaced by a copy.
//
// A port of 0 keeps the port the deployed app has at the same index (when the
// app does not list that one elsewhere), else takes one the deployed app held
// and no longer lists, else the lowest port of r that no app holds nor held
// before the write (ports freed by the write are not reused by it), in the
// order of puts. A non-zero port is taken as given, but one that another app
// holds is refused (unless this app held it already: a state written before
// ports were checked keeps working), as is a port the app lists twice, and a
// range with no free port left. Errors are ServicePortErrors, all of them; on
// error no apps are returned.
func AssignServicePorts(puts, others []*App, deployed func(id string) *App, r PortRange) ([]*App, error) {
	a := newPortAssignment(puts, others, deployed)
	if errs := a.conflicts(); len(errs) > 0 {
		return nil, errs
	}
	return a.assign(r)
}

// CheckServicePorts reports what AssignServicePorts would refuse but for the
// range: ports held by other apps, ports listed twice (a plan's check; the
// range is the server's). It copies no app.
func CheckServicePorts(puts, others []*App, deployed func(id string) *App) error {
	if errs := newPortAssignment(puts, others, deployed).conflicts(); len(errs) > 0 {
		return errs
	}
	return nil
}

// portAssignment is the working state of AssignServicePorts.
type portAssignment struct {
	puts []*App
	// holders maps the ports of the other apps to one holder.
	holders map[int]string
	// ports[i] are the service ports puts[i] will have (0: to assign), after
	// keeping the deployed ones; held[i] those it holds now; paths[i] where
	// they are in the app.
	ports [][]int
	held  [][]int
	paths []servicePortPath
	// claims holds each port's first claimant among puts; shared lists the
	// ports claimed more than once (rare), with all their claimants.
	claims map[int]portClaim
	shared map[int][]portClaim
}

type portClaim struct{ app, slot int }

func newPortAssignment(puts, others []*App, deployed func(id string) *App) *portAssignment {
	pa := &portAssignment{
		puts: puts, holders: make(map[int]string, len(others)),
		ports: make([][]int, len(puts)), held: make([][]int, len(puts)), paths: make([]servicePortPath, len(puts)),
	}
	var scratch []int
	for _, a := range others {
		scratch, _ = appendServicePorts(scratch[:0], a)
		for _, p := range scratch {
			if _, ok := pa.holders[p]; !ok && p != 0 {
				pa.holders[p] = a.ID
			}
		}
	}
	// One backing array for all the lists.
	n := 0
	for _, a := range puts {
		n += len(a.PortDefinitions)
		if c := a.Container; c != nil {
			n += len(c.PortMappings)
			if c.Docker != nil {
				n += len(c.Docker.PortMappings)
			}
		}
	}
	buf := make([]int, 0, 2*n)
	for i, a := range puts {
		start := len(buf)
		buf, pa.paths[i] = appendServicePorts(buf, a)
		pa.ports[i] = buf[start:len(buf):len(buf)]
		if len(pa.ports[i]) == 0 {
			continue
		}
		if d := deployed(a.ID); d != nil {
			start := len(buf)
			buf, _ = appendServicePorts(buf, d)
			pa.held[i] = buf[start:len(buf):len(buf)]
			keepDeployed(pa.ports[i], pa.held[i])
		}
	}
	return pa
}

// conflicts finds the ports that cannot be had: held by another app, listed
// twice by one, claimed by two apps of the write.
func (pa *portAssignment) conflicts() ServicePortErrors {
	var errs ServicePortErrors
	pa.claims = make(map[int]portClaim, len(pa.puts))
	for i, ps := range pa.ports {
		for j, p := range ps {
			switch {
			case p == 0:
			case slices.Contains(ps[:j], p):
				errs = append(errs, &ServicePortError{AppID: pa.puts[i].ID, Path: pa.paths[i].at(j), Port: p})
			default:
				if h, ok := pa.holders[p]; ok && !slices.Contains(pa.held[i], p) {
					errs = append(errs, &ServicePortError{AppID: pa.puts[i].ID, Path: pa.paths[i].at(j), Port: p, Holder: h})
				} else if first, ok := pa.claims[p]; !ok {
					pa.claims[p] = portClaim{i, j}
				} else {
					if pa.shared == nil {
						pa.shared = map[int][]portClaim{}
					}
					if len(pa.shared[p]) == 0 {
						pa.shared[p] = []portClaim{first}
					}
					pa.shared[p] = append(pa.shared[p], portClaim{i, j})
				}
			}
		}
	}
	for p, cs := range pa.shared {
		// Those that held the port keep it; when none did, the first does.
		owner := -1
		for k, c := range cs {
			if slices.Contains(pa.held[c.app], p) {
				owner = k
				break
			}
		}
		for k, c := range cs {
			if k == owner || (owner < 0 && k == 0) || slices.Contains(pa.held[c.app], p) {
				continue
			}
			h := cs[max(owner, 0)].app
			errs = append(errs, &ServicePortError{AppID: pa.puts[c.app].ID, Path: pa.paths[c.app].at(c.slot), Port: p, Holder: pa.puts[h].ID})
		}
	}
	if len(errs) > 0 {
		return sortPortErrors(errs)
	}
	return nil
}

// assign gives every 0 left the lowest free port of r, and returns the apps
// with their ports (a copy of each app whose ports changed).
func (pa *portAssignment) assign(r PortRange) ([]*App, error) {
	// Ports freed by this write stay taken for it (Marathon: from ∪ to).
	taken := make(map[int]bool, len(pa.holders)+len(pa.claims))
	for p := range pa.holders {
		taken[p] = true
	}
	for p := range pa.claims {
		taken[p] = true
	}
	for _, ps := range pa.held {
		for _, p := range ps {
			taken[p] = true
		}
	}
	next := r.Min
	for i, ps := range pa.ports {
		for j, p := range ps {
			if p != 0 {
				continue
			}
			for next <= r.Max && taken[next] {
				next++
			}
			if next > r.Max {
				return nil, ServicePortErrors{{AppID: pa.puts[i].ID, Path: pa.paths[i].at(j), Exhausted: true, Range: r}}
			}
			ps[j] = next
			taken[next] = true
		}
	}
	out := make([]*App, len(pa.puts))
	var scratch []int
	for i, a := range pa.puts {
		out[i] = a
		scratch, _ = appendServicePorts(scratch[:0], a)
		if len(pa.ports[i]) > 0 && !slices.Equal(pa.ports[i], scratch) {
			out[i] = a.withOwnPorts()
			slots, _ := servicePortSlots(out[i])
			for j, p := range slots {
				*p = pa.ports[i][j]
			}
		}
	}
	return out, nil
}

// appendServicePorts appends the app's service ports to dst, and says where
// they are.
func appendServicePorts(dst []int, a *App) ([]int, servicePortPath) {
	if len(a.PortDefinitions) > 0 {
		for _, p := range a.PortDefinitions {
			dst = append(dst, p.Port)
		}
		return dst, servicePortPath{"/portDefinitions", "port"}
	}
	if c := a.Container; c != nil {
		m, path := c.PortMappings, "/container/portMappings"
		if len(m) == 0 && c.Docker != nil {
			m, path = c.Docker.PortMappings, "/container/docker/portMappings"
		}
		for _, p := range m {
			dst = append(dst, p.ServicePort)
		}
		return dst, servicePortPath{path, "servicePort"}
	}
	return dst, servicePortPath{}
}

// withOwnPorts returns a copy of a whose port definitions and port mappings
// are its own, to assign ports in; everything else is shared with a, which
// nothing changes in place (apps are replaced, never edited).
func (a *App) withOwnPorts() *App {
	c := *a
	c.PortDefinitions = slices.Clone(a.PortDefinitions)
	if a.Container != nil {
		cc := *a.Container
		cc.PortMappings = slices.Clone(cc.PortMappings)
		if cc.Docker != nil {
			dc := *cc.Docker
			dc.PortMappings = slices.Clone(dc.PortMappings)
			cc.Docker = &dc
		}
		c.Container = &cc
	}
	return &c
}

// keepDeployed gives each 0 of ports the deployed port at the same index when
// the app does not list that port elsewhere, then the deployed ports the app no
// longer lists, in order.
func keepDeployed(ports, before []int) {
	if len(before) == 0 {
		return
	}
	listed := func(p int) bool { return slices.Contains(ports, p) }
	for i, p := range ports {
		if p == 0 && i < len(before) && before[i] != 0 && !listed(before[i]) {
			ports[i] = before[i]
		}
	}
	for _, b := range before {
		if b == 0 || listed(b) {
			continue
		}
		i := slices.Index(ports, 0)
		if i < 0 {
			return
		}
		ports[i] = b
	}
}

func sortPortErrors(es ServicePortErrors) ServicePortErrors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].AppID != es[j].AppID {
			return es[i].AppID < es[j].AppID
		}
		return es[i].Path < es[j].Path
	})
	return es
}
