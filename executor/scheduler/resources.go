package scheduler

import (
	"math"
	"slices"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/roles"

	"github.com/stride-run/stride/engine"
)

// kind is a resource the scheduler allocates. The order is the order of checks
// (and of Marathon's reasons) and of the resources in a Placement.
type kind uint8

const (
	kindCpus kind = iota
	kindMem
	kindDisk
	kindGpus
	kindPorts
	numKinds
	numScalars = kindPorts
)

var kindNames = [numKinds]string{"cpus", "mem", "disk", "gpus", "ports"}

func kindOf(name string) (kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return kind(k), true
		}
	}
	return 0, false
}

// piece is one resource of an offer as the scheduler consumes it: scalars in
// Mesos' fixed-point milli units (three decimals, as Mesos computes), ports as
// the ranges still free. Taking from a piece never touches the caller's offer.
type piece struct {
	src       *mesos.Resource
	kind      kind
	allocRole string // allocation_info.role; "" when the offer carries none
	resRole   string // reservation role; "*" when unreserved
	left      int64
	ranges    []mesos.Value_Range // sorted, disjoint
	free      uint64              // ports left in ranges
}

// pool is what is left of one offer. pieces are grouped by kind
// (pieces[at[k]:at[k+1]]); within a kind reserved pieces come first (they are
// worth nothing to anyone else), then unreserved ones, each in offer order.
type pool struct {
	// id is the offer id (the agent id for a Sim's simulated offers).
	id     string
	pieces []piece
	at     [numKinds + 1]int
	// allocRoles are the distinct allocation roles of pieces, in first-seen order.
	// An offer has one; a task never mixes two (Mesos rejects that).
	allocRoles []string
	used       bool
}

// milli converts a scalar to Mesos' fixed point.
func milli(v float64) int64 { return int64(math.Round(v * 1000)) }

// usable reports whether the scheduler may hand r to a plain task: not revocable,
// not shared, not a persistent volume or a MOUNT/PATH/provider disk, and not a
// labelled reservation (those belong to a particular claim, Marathon's resident
// tasks).
func usable(r *mesos.Resource) bool {
	if r.Revocable != nil || r.Shared != nil || r.ProviderID != nil {
		return false
	}
	if d := r.Disk; d != nil && (d.Persistence != nil || d.Source != nil) {
		return false
	}
	if len(r.Reservation.GetLabels().GetLabels()) > 0 {
		return false
	}
	if n := len(r.Reservations); n > 0 && len(r.Reservations[n-1].GetLabels().GetLabels()) > 0 {
		return false
	}
	return true
}

// builder builds the pools of a round into shared backing arrays: one
// allocation for all pieces, port ranges and allocation roles instead of a few
// per offer. Every pool holds capacity-limited slices of them, so a later append
// (a port range split in two) reallocates privately.
type builder struct {
	pieces []piece
	ranges []mesos.Value_Range
	roles  []string
}

func newBuilder(resources, ranges, pools int) *builder {
	return &builder{
		pieces: make([]piece, 0, resources),
		ranges: make([]mesos.Value_Range, 0, ranges),
		roles:  make([]string, 0, pools),
	}
}

// pool builds the pool of one offer's resources.
func (b *builder) pool(id string, resources []mesos.Resource) pool {
	start := len(b.pieces)
	p := pool{id: id}
	nports := 0
	for i := range resources {
		r := &resources[i]
		k, ok := kindOf(r.Name)
		if !ok || !usable(r) {
			continue
		}
		pc := piece{src: r, kind: k, resRole: "*"}
		if r.AllocationInfo != nil && r.AllocationInfo.Role != nil {
			pc.allocRole = *r.AllocationInfo.Role
		}
		if !r.IsUnreserved() {
			pc.resRole = r.ReservationRole()
		}
		if k == kindPorts {
			at := len(b.ranges)
			b.ranges = append(b.ranges, r.Ranges.GetRange()...)
			pc.ranges = normRanges(b.ranges[at:len(b.ranges):len(b.ranges)])
			for _, rg := range pc.ranges {
				pc.free += rg.End - rg.Begin + 1
			}
			if pc.free == 0 {
				continue
			}
			nports++
		} else if pc.left = milli(r.Scalar.GetValue()); pc.left <= 0 {
			continue
		}
		b.pieces = append(b.pieces, pc)
	}
	p.pieces = b.pieces[start:len(b.pieces):len(b.pieces)]
	if !slices.IsSortedFunc(p.pieces, comparePieces) {
		slices.SortStableFunc(p.pieces, comparePieces)
	}
	k := kind(0)
	for i := range p.pieces {
		for k <= p.pieces[i].kind {
			p.at[k] = i
			k++
		}
	}
	for ; k <= numKinds; k++ {
		p.at[k] = len(p.pieces)
	}
	if nports > 1 {
		// A host port is one port whatever resource offers it: a port that two
		// ports resources of the offer both list stays with the first (reserved
		// first).
		ports := p.kind(kindPorts)
		for i := 1; i < len(ports); i++ {
			for j := 0; j < i; j++ {
				ports[i].ranges = subtractRanges(ports[i].ranges, ports[j].ranges)
			}
			ports[i].free = 0
			for _, rg := range ports[i].ranges {
				ports[i].free += rg.End - rg.Begin + 1
			}
		}
	}
	rstart := len(b.roles)
	for i := range p.pieces {
		if r := p.pieces[i].allocRole; !slices.Contains(b.roles[rstart:], r) {
			b.roles = append(b.roles, r)
		}
	}
	p.allocRoles = b.roles[rstart:len(b.roles):len(b.roles)]
	return p
}

// comparePieces orders pieces by kind, reserved before unreserved.
func comparePieces(a, b piece) int {
	if a.kind != b.kind {
		return int(a.kind) - int(b.kind)
	}
	return reservedRank(&a) - reservedRank(&b)
}

func reservedRank(p *piece) int {
	if p.resRole == "*" {
		return 1
	}
	return 0
}

// normRanges sorts and merges port ranges in place (dropping inverted ones).
func normRanges(rs []mesos.Value_Range) []mesos.Value_Range {
	out := rs[:0]
	for _, r := range rs {
		if r.Begin <= r.End {
			out = append(out, r)
		}
	}
	cmp := func(a, b mesos.Value_Range) int { return cmpU64(a.Begin, b.Begin) }
	if !slices.IsSortedFunc(out, cmp) {
		slices.SortFunc(out, cmp)
	}
	j := 0
	for i := range out {
		if j > 0 && out[i].Begin <= out[j-1].End+1 {
			out[j-1].End = max(out[j-1].End, out[i].End)
			continue
		}
		out[j] = out[i]
		j++
	}
	return out[:j]
}

// subtractRanges returns the ports of a that are not in b (both sorted and
// disjoint).
func subtractRanges(a, b []mesos.Value_Range) []mesos.Value_Range {
	if len(b) == 0 {
		return a
	}
	var out []mesos.Value_Range
	j := 0
	for _, r := range a {
		for j < len(b) && b[j].End < r.Begin {
			j++
		}
		begin := r.Begin
		for k := j; k < len(b) && b[k].Begin <= r.End; k++ {
			if b[k].Begin > begin {
				out = append(out, mesos.Value_Range{Begin: begin, End: b[k].Begin - 1})
			}
			if b[k].End >= r.End {
				begin = r.End + 1
				break
			}
			begin = max(begin, b[k].End+1)
		}
		if begin <= r.End {
			out = append(out, mesos.Value_Range{Begin: begin, End: r.End})
		}
	}
	return out
}

func (p *pool) kind(k kind) []piece { return p.pieces[p.at[k]:p.at[k+1]] }

// roleFilter decides which pieces an app may use (see the package doc, Roles).
type roleFilter struct {
	appRole string
	// accepted is app.AcceptedResourceRoles; nil means "*" or the task's role.
	accepted  []string
	framework []string
	// task is the role a task runs as when the offer carries no allocation info.
	task string
}

func newRoleFilter(app *engine.App, framework []string) *roleFilter {
	if len(framework) == 0 {
		framework = []string{"*"}
	}
	rf := &roleFilter{appRole: app.Role, accepted: app.AcceptedResourceRoles, framework: framework, task: app.Role}
	if rf.task == "" {
		rf.task = "*"
		if len(framework) == 1 {
			rf.task = framework[0]
		}
	}
	return rf
}

func (rf *roleFilter) ok(p *piece) bool {
	task := p.allocRole
	switch {
	case task == "":
		task = rf.task
	case rf.appRole != "":
		if task != rf.appRole {
			return false
		}
	case !slices.Contains(rf.framework, task):
		return false
	}
	if rf.accepted != nil {
		return slices.Contains(rf.accepted, p.resRole)
	}
	return p.resRole == "*" || p.resRole == task || roles.IsStrictSubroleOf(task, p.resRole)
}

// demand is what one instance of an app takes.
type demand struct {
	scalar [numScalars]int64
	// ports holds one entry per host port, in port-definition order then port
	// mappings: 0 = any port, else exactly that one.
	ports []uint64
	// dupFixed: two entries need the same fixed port; never satisfiable.
	dupFixed bool
}

func newDemand(app *engine.App) *demand {
	d := &demand{}
	d.scalar[kindCpus] = milli(app.Cpus)
	d.scalar[kindMem] = milli(app.Mem)
	d.scalar[kindDisk] = milli(app.Disk)
	d.scalar[kindGpus] = int64(app.Gpus) * 1000
	d.ports = hostPorts(app)
	seen := map[uint64]bool{}
	for _, p := range d.ports {
		if p != 0 {
			d.dupFixed = d.dupFixed || seen[p]
			seen[p] = true
		}
	}
	return d
}

// hostPorts lists the host ports one instance needs: every port definition (its
// number only with requirePorts; otherwise Marathon treats it as a service port
// and any host port does), then container port mappings when the container is
// bridged (hostPort 0: any port, else exactly it). On user ("container")
// networks a mapping needs a host port only when it names one, since the
// model cannot tell an absent hostPort from 0 there.
func hostPorts(app *engine.App) []uint64 {
	var out []uint64
	for _, pd := range app.PortDefinitions {
		if app.RequirePorts && pd.Port > 0 {
			out = append(out, uint64(pd.Port))
		} else {
			out = append(out, 0)
		}
	}
	c := app.Container
	if c == nil {
		return out
	}
	mappings := c.PortMappings
	if len(mappings) == 0 && c.Docker != nil {
		mappings = c.Docker.PortMappings
	}
	bridge := c.Docker != nil && c.Docker.Network == "BRIDGE"
	user := c.Docker != nil && c.Docker.Network == "USER"
	for _, n := range app.Networks {
		switch n.Mode {
		case "container/bridge":
			bridge = true
		case "container":
			user = true
		}
	}
	for _, m := range mappings {
		switch {
		case bridge && m.HostPort <= 0:
			out = append(out, 0)
		case (bridge || user) && m.HostPort > 0:
			out = append(out, uint64(m.HostPort))
		}
	}
	return out
}

// stage is how far an offer got through the checks; the order is Marathon's
// order of reasons.
type stage uint8

const (
	stageRole stage = iota
	stageConstraint
	stageCpus
	stageMem
	stageDisk
	stageGpus
	stagePorts
	stageFits
)

// fit reports whether one instance fits in what is left of p, and with which
// allocation role; otherwise the furthest stage any allocation role reached.
func (p *pool) fit(d *demand, rf *roleFilter) (string, stage) {
	best := stageRole
	for _, role := range p.allocRoles {
		st := p.fitRole(d, rf, role)
		if st == stageFits {
			return role, st
		}
		best = max(best, st)
	}
	return "", best
}

func (p *pool) fitRole(d *demand, rf *roleFilter, role string) stage {
	var sum [numScalars]int64
	var free uint64
	any := false
	for i := range p.pieces {
		pc := &p.pieces[i]
		if pc.allocRole != role || !rf.ok(pc) {
			continue
		}
		any = true
		if pc.kind == kindPorts {
			free += pc.free
		} else {
			sum[pc.kind] += pc.left
		}
	}
	if !any {
		return stageRole
	}
	for k := kind(0); k < numScalars; k++ {
		if sum[k] < d.scalar[k] {
			return stageCpus + stage(k)
		}
	}
	if len(d.ports) == 0 {
		return stageFits
	}
	if d.dupFixed || free < uint64(len(d.ports)) {
		return stagePorts
	}
	for _, want := range d.ports {
		if want != 0 && p.findPort(rf, role, want) < 0 {
			return stagePorts
		}
	}
	return stageFits
}

// findPort returns the index in p.pieces of the first usable ports piece that
// still holds port, or -1.
func (p *pool) findPort(rf *roleFilter, role string, port uint64) int {
	for i := p.at[kindPorts]; i < p.at[kindPorts+1]; i++ {
		pc := &p.pieces[i]
		if pc.allocRole == role && rf.ok(pc) && rangeIndex(pc.ranges, port) >= 0 {
			return i
		}
	}
	return -1
}

// rangeIndex returns the index of the range holding port, or -1.
func rangeIndex(rs []mesos.Value_Range, port uint64) int {
	i, _ := slices.BinarySearchFunc(rs, port, func(r mesos.Value_Range, p uint64) int {
		switch {
		case r.End < p:
			return -1
		case r.Begin > p:
			return 1
		}
		return 0
	})
	if i < len(rs) && rs[i].Begin <= port && port <= rs[i].End {
		return i
	}
	return -1
}

// removePort takes port out of pc (it must be there).
func (pc *piece) removePort(port uint64) {
	i := rangeIndex(pc.ranges, port)
	r := pc.ranges[i]
	switch {
	case r.Begin == r.End:
		pc.ranges = slices.Delete(pc.ranges, i, i+1)
	case port == r.Begin:
		pc.ranges[i].Begin++
	case port == r.End:
		pc.ranges[i].End--
	default:
		pc.ranges[i].End = port - 1
		pc.ranges = slices.Insert(pc.ranges, i+1, mesos.Value_Range{Begin: port + 1, End: r.End})
	}
	pc.free--
}

// take allocates one instance from p with the given allocation role (fit must
// have said yes) and returns the TaskInfo resources and host ports.
func (p *pool) take(d *demand, rf *roleFilter, role string) ([]mesos.Resource, []uint64) {
	out := make([]mesos.Resource, 0, numKinds)
	for k := kind(0); k < numScalars; k++ {
		need := d.scalar[k]
		for i := p.at[k]; i < p.at[k+1] && need > 0; i++ {
			pc := &p.pieces[i]
			if pc.allocRole != role || !rf.ok(pc) || pc.left == 0 {
				continue
			}
			t := min(need, pc.left)
			pc.left -= t
			need -= t
			r := cloneMeta(pc.src)
			r.Type = mesos.SCALAR.Enum()
			r.Scalar = &mesos.Value_Scalar{Value: float64(t) / 1000}
			out = append(out, r)
		}
	}
	if len(d.ports) == 0 {
		return out, nil
	}
	ports := make([]uint64, len(d.ports))
	from := make([]int, len(d.ports)) // piece index per port
	for j, want := range d.ports {
		if want != 0 {
			i := p.findPort(rf, role, want)
			p.pieces[i].removePort(want)
			ports[j], from[j] = want, i
		}
	}
	for j, want := range d.ports {
		if want != 0 {
			continue
		}
		for i := p.at[kindPorts]; i < p.at[kindPorts+1]; i++ {
			pc := &p.pieces[i]
			if pc.allocRole == role && pc.free > 0 && rf.ok(pc) {
				port := pc.ranges[0].Begin
				pc.removePort(port)
				ports[j], from[j] = port, i
				break
			}
		}
	}
	for i := p.at[kindPorts]; i < p.at[kindPorts+1]; i++ {
		var mine []uint64
		for j := range ports {
			if from[j] == i {
				mine = append(mine, ports[j])
			}
		}
		if len(mine) == 0 {
			continue
		}
		r := cloneMeta(p.pieces[i].src)
		r.Type = mesos.RANGES.Enum()
		r.Ranges = &mesos.Value_Ranges{Range: mesos.NewRanges(mine...)}
		out = append(out, r)
	}
	return out, ports
}

// cloneMeta copies a resource's identity (name, role, allocation info,
// reservations, disk info) without its value, sharing nothing with src; the
// caller sets type and value. The
// common unreserved case is copied by hand; anything rarer goes through the
// protobuf deep copy.
func cloneMeta(src *mesos.Resource) mesos.Resource {
	if src.Reservation != nil || len(src.Reservations) > 0 || src.Disk != nil {
		r := mesos.Resources{*src}.Clone()[0]
		r.Scalar, r.Ranges, r.Set = nil, nil, nil
		return r
	}
	r := mesos.Resource{Name: src.Name}
	if src.Role != nil {
		s := *src.Role
		r.Role = &s
	}
	if a := src.AllocationInfo; a != nil {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{}
		if a.Role != nil {
			s := *a.Role
			r.AllocationInfo.Role = &s
		}
	}
	return r
}
