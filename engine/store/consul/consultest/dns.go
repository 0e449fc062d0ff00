package consultest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
)

// Resolver returns a resolver that asks the agent's DNS interface (what `dig @127.0.0.1
// -p <port>` does), for lookups of NAME.service.consul.
func Resolver(a *Agent) *net.Resolver {
	addr := a.DNSAddr()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// LookupService returns what the agent's DNS answers for NAME.service.consul SRV
// (what `dig @127.0.0.1 -p <dns port> NAME.service.consul SRV` shows), as sorted
// "address:port" with each target resolved through the same DNS server; none
// when the name does not exist.
func LookupService(ctx context.Context, a *Agent, service string) ([]string, error) {
	res := Resolver(a)
	_, srvs, err := res.LookupSRV(ctx, "", "", service+".service.consul.")
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range srvs {
		addrs, err := res.LookupHost(ctx, s.Target)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", s.Target, err)
		}
		for _, h := range addrs {
			out = append(out, net.JoinHostPort(h, strconv.Itoa(int(s.Port))))
		}
	}
	sort.Strings(out)
	return out, nil
}
