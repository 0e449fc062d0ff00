package server

import (
	"net"
	"sync"
)

// limitListener caps the connections a server holds: at most total at once (Accept
// waits for one to close), and at most perClient from one IP address (further ones
// are closed at once). With the http.Server's timeouts, neither a slow client nor a
// pile of idle connections can exhaust the server's file descriptors or memory.
type limitListener struct {
	net.Listener
	perClient int
	slots     chan struct{}

	mu     sync.Mutex
	byAddr map[string]int
}

func newLimitListener(ln net.Listener, total, perClient int) *limitListener {
	return &limitListener{Listener: ln, perClient: perClient, slots: make(chan struct{}, total), byAddr: map[string]int{}}
}

// Accept returns the next connection within the limits.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		l.slots <- struct{}{}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		host, _, err := net.SplitHostPort(c.RemoteAddr().String())
		if err != nil {
			host = c.RemoteAddr().String()
		}
		l.mu.Lock()
		if l.byAddr[host] >= l.perClient {
			l.mu.Unlock()
			_ = c.Close()
			<-l.slots
			continue
		}
		l.byAddr[host]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, host: host}, nil
	}
}

// limitedConn gives its slot back when closed (once).
type limitedConn struct {
	net.Conn
	l    *limitListener
	host string
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		if c.l.byAddr[c.host]--; c.l.byAddr[c.host] <= 0 {
			delete(c.l.byAddr, c.host)
		}
		c.l.mu.Unlock()
		<-c.l.slots
	})
	return err
}
