package localmesos

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// unreserved is the reservation key of resources any role may use.
const unreserved = "*"

// Resource names the stand-in's agents have.
const (
	resCpus  = "cpus"
	resMem   = "mem"
	resDisk  = "disk"
	resPorts = "ports"
)

// pool is an amount of the four kinds of resource an agent has. Scalars are
// kept in Mesos' fixed point (three decimals), so that sums and differences of
// the same amounts come back exactly; ports are sorted, squashed ranges.
type pool struct {
	cpus, mem, disk float64
	ports           mesos.Ranges
}

// round3 rounds x to the three decimals Mesos keeps of a scalar.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// clone returns a copy of p that shares no memory with it.
func (p pool) clone() pool {
	p.ports = append(mesos.Ranges(nil), p.ports...)
	return p
}

// isEmpty reports whether p holds nothing at all.
func (p pool) isEmpty() bool {
	return p.cpus <= 0 && p.mem <= 0 && p.disk <= 0 && len(p.ports) == 0
}

// plus returns p + q.
func (p pool) plus(q pool) pool {
	r := pool{
		cpus:  round3(p.cpus + q.cpus),
		mem:   round3(p.mem + q.mem),
		disk:  round3(p.disk + q.disk),
		ports: append(append(mesos.Ranges(nil), p.ports...), q.ports...),
	}
	r.ports = r.ports.Sort().Squash()
	return r
}

// minus returns p - q; callers check p.contains(q) first.
func (p pool) minus(q pool) pool {
	r := pool{
		cpus:  math.Max(0, round3(p.cpus-q.cpus)),
		mem:   math.Max(0, round3(p.mem-q.mem)),
		disk:  math.Max(0, round3(p.disk-q.disk)),
		ports: append(mesos.Ranges(nil), p.ports...),
	}
	for _, rg := range q.ports {
		r.ports = r.ports.Remove(rg)
	}
	if len(r.ports) == 0 {
		r.ports = nil
	}
	return r
}

// contains reports whether q fits in p.
func (p pool) contains(q pool) bool {
	if q.cpus > p.cpus || q.mem > p.mem || q.disk > p.disk {
		return false
	}
	return rangesContain(p.ports, q.ports)
}

// rangesContain reports whether every port of sub is in set (both sorted and
// squashed).
func rangesContain(set, sub mesos.Ranges) bool {
	for _, r := range sub {
		i := sort.Search(len(set), func(i int) bool { return set[i].End >= r.Begin })
		if i == len(set) || set[i].Begin > r.Begin || set[i].End < r.End {
			return false
		}
	}
	return true
}

// String renders p the way Mesos renders resources: "cpus:1; mem:128;
// ports:[31000-31001]".
func (p pool) String() string {
	var parts []string
	if p.cpus > 0 {
		parts = append(parts, fmt.Sprintf("cpus:%g", p.cpus))
	}
	if p.mem > 0 {
		parts = append(parts, fmt.Sprintf("mem:%g", p.mem))
	}
	if p.disk > 0 {
		parts = append(parts, fmt.Sprintf("disk:%g", p.disk))
	}
	if len(p.ports) > 0 {
		parts = append(parts, "ports:"+formatRanges(p.ports))
	}
	return strings.Join(parts, "; ")
}

// formatRanges renders ranges as Mesos does: "[31000-31001, 31005-31005]".
func formatRanges(rs mesos.Ranges) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%d-%d", r.Begin, r.End)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// resourceSet is an amount of resources by reservation: the key is the role the
// resources are reserved for, or unreserved ("*").
type resourceSet map[string]pool

// clone returns a deep copy of s.
func (s resourceSet) clone() resourceSet {
	c := make(resourceSet, len(s))
	for k, p := range s {
		c[k] = p.clone()
	}
	return c
}

// isEmpty reports whether s holds nothing.
func (s resourceSet) isEmpty() bool {
	for _, p := range s {
		if !p.isEmpty() {
			return false
		}
	}
	return true
}

// add adds o to s.
func (s resourceSet) add(o resourceSet) {
	for k, p := range o {
		s[k] = s[k].plus(p)
	}
}

// sub subtracts o from s; callers check s.contains(o) first.
func (s resourceSet) sub(o resourceSet) {
	for k, p := range o {
		s[k] = s[k].minus(p)
		if s[k].isEmpty() {
			delete(s, k)
		}
	}
}

// contains reports whether o fits in s, reservation by reservation.
func (s resourceSet) contains(o resourceSet) bool {
	for k, p := range o {
		if !s[k].contains(p) {
			return false
		}
	}
	return true
}

// total returns the sum over every reservation.
func (s resourceSet) total() pool {
	var t pool
	for _, k := range sortedKeys(s) {
		t = t.plus(s[k])
	}
	return t
}

// String renders s, unreserved resources first, reserved ones per role after.
func (s resourceSet) String() string {
	var parts []string
	for _, k := range sortedKeys(s) {
		if s[k].isEmpty() {
			continue
		}
		if k == unreserved {
			parts = append([]string{s[k].String()}, parts...)
			continue
		}
		parts = append(parts, fmt.Sprintf("reserved for %s: %s", k, s[k]))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// reservationRole returns the role r is reserved for, or unreserved. It
// understands both formats Mesos uses: the "pre-refinement" role field and the
// reservations stack.
func reservationRole(r *mesos.Resource) string {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].GetRole()
	}
	if r.Reservation != nil && r.Reservation.GetRole() != "" {
		return r.Reservation.GetRole()
	}
	if role := r.GetRole(); role != "" && role != unreserved {
		return role
	}
	return unreserved
}

// parseResources sums Mesos resources into a resourceSet. It fails on a
// resource the stand-in's agents do not have, of the wrong type, or with a
// negative or non-finite amount.
func parseResources(rs []mesos.Resource) (resourceSet, error) {
	set := resourceSet{}
	for i := range rs {
		r := &rs[i]
		var p pool
		switch r.Name {
		case resCpus, resMem, resDisk:
			if r.GetType() != mesos.SCALAR || r.Scalar == nil {
				return nil, fmt.Errorf("resource %q must be a SCALAR", r.Name)
			}
			v := r.Scalar.Value
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("resource %q has the invalid amount %v", r.Name, v)
			}
			switch r.Name {
			case resCpus:
				p.cpus = round3(v)
			case resMem:
				p.mem = round3(v)
			default:
				p.disk = round3(v)
			}
		case resPorts:
			if r.GetType() != mesos.RANGES || r.Ranges == nil {
				return nil, fmt.Errorf("resource %q must be RANGES", r.Name)
			}
			for _, rg := range r.Ranges.Range {
				if rg.Begin > rg.End || rg.End > 65535 {
					return nil, fmt.Errorf("resource %q has the invalid range [%d-%d]", r.Name, rg.Begin, rg.End)
				}
				p.ports = append(p.ports, rg)
			}
			p.ports = p.ports.Sort().Squash()
		default:
			return nil, fmt.Errorf("resource %q is not one the stand-in's agents have (cpus, mem, disk, ports)", r.Name)
		}
		role := reservationRole(r)
		set[role] = set[role].plus(p)
	}
	return set, nil
}

// mesosResources renders s as Mesos resources allocated to role. Reserved
// resources use the reservations stack when refinement is true (the framework
// has the RESERVATION_REFINEMENT capability) and the legacy role field
// otherwise, as a master does.
func (s resourceSet) mesosResources(role string, refinement bool) []mesos.Resource {
	var out []mesos.Resource
	for _, k := range sortedKeys(s) {
		p := s[k]
		scalar := func(name string, v float64) {
			if v <= 0 {
				return
			}
			out = append(out, resource(name, k, role, refinement, func(r *mesos.Resource) {
				r.Type = mesos.SCALAR.Enum()
				r.Scalar = &mesos.Value_Scalar{Value: v}
			}))
		}
		// Ports first, as a Mesos 1.11 master lists an agent's resources.
		if len(p.ports) > 0 {
			out = append(out, resource(resPorts, k, role, refinement, func(r *mesos.Resource) {
				r.Type = mesos.RANGES.Enum()
				r.Ranges = &mesos.Value_Ranges{Range: append([]mesos.Value_Range(nil), p.ports...)}
			}))
		}
		scalar(resCpus, p.cpus)
		scalar(resMem, p.mem)
		scalar(resDisk, p.disk)
	}
	return out
}

// mesosString renders resources as a Mesos master quotes them in messages,
// each allocated to role: "cpus(allocated: *):1; ports(allocated: *):[31000-31001]".
// Reservations follow the allocation: "(allocated: web)(reservations: [(STATIC,web)])".
func mesosString(rs []mesos.Resource, role string) string {
	parts := make([]string, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		var b strings.Builder
		fmt.Fprintf(&b, "%s(allocated: %s)", r.Name, role)
		if reserved := reservationRole(r); reserved != unreserved {
			fmt.Fprintf(&b, "(reservations: [(STATIC,%s)])", reserved)
		}
		b.WriteString(":")
		switch r.GetType() {
		case mesos.SCALAR:
			b.WriteString(strconv.FormatFloat(r.GetScalar().GetValue(), 'f', -1, 64))
		case mesos.RANGES:
			b.WriteString(formatRanges(r.GetRanges().GetRange()))
		case mesos.SET:
			b.WriteString("{" + strings.Join(r.GetSet().GetItem(), ", ") + "}")
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "; ")
}

// resource builds one Mesos resource reserved for reservedFor (or unreserved)
// and allocated to role (none when role is empty).
func resource(name, reservedFor, role string, refinement bool, set func(*mesos.Resource)) mesos.Resource {
	r := mesos.Resource{Name: name}
	set(&r)
	switch {
	case reservedFor == unreserved:
		if !refinement {
			r.Role = proto(unreserved)
		}
	case refinement:
		r.Reservations = []mesos.Resource_ReservationInfo{{
			Type: mesos.Resource_ReservationInfo_STATIC.Enum(),
			Role: proto(reservedFor),
		}}
	default:
		r.Role = proto(reservedFor)
	}
	if role != "" {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto(role)}
	}
	return r
}

// proto returns a pointer to v, for the optional fields of generated types.
func proto[T any](v T) *T { return &v }
