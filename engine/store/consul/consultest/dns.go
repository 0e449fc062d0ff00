package consultest

import (
	"context"
	"net"
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
