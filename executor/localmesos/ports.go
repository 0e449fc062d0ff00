package localmesos

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
)

// FreePortBase returns a FirstPort for agents agents of portsPerAgent ports
// each under which every port is free now on its agent's address: for tests
// and tools that run several stand-ins on one machine (test runs of several
// checkouts at once, say), where a fixed range meets the tasks of another run.
// It looks below Linux's ephemeral range (32768 and up, where connections
// take their ports), from a random start so that concurrent callers spread. A
// range free now may be taken later; it is a probe, not a reservation.
func FreePortBase(agents, portsPerAgent int) (int, error) {
	const lo, hi = 10000, 32768
	if agents <= 0 || portsPerAgent <= 0 {
		return 0, errors.New("localmesos: FreePortBase needs agents and ports")
	}
	size := agents * portsPerAgent
	slots := (hi - lo - size) / portsPerAgent
	if slots <= 0 {
		return 0, errors.New("localmesos: too many ports asked for")
	}
	start := rand.IntN(slots)
	for k := 0; k < slots; k++ {
		base := lo + ((start+k)%slots)*portsPerAgent
		if rangeFree(base, agents, portsPerAgent) {
			return base, nil
		}
	}
	return 0, errors.New("localmesos: no free port range")
}

// rangeFree reports whether every agent's ports can be bound on its address.
func rangeFree(base, agents, perAgent int) bool {
	for i := 0; i < agents; i++ {
		host := agentAddress(i)
		for p := base + i*perAgent; p < base+(i+1)*perAgent; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
			if err != nil {
				return false
			}
			_ = l.Close()
		}
	}
	return true
}
