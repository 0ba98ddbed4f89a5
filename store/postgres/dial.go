package postgres

import (
	"context"
	"net"
	"time"
)

// handshakeDialer makes lib/pq honour the deadline of the context a
// connection is opened in during the start-up handshake too, not only
// while dialing: a server (or proxy) that accepts a connection and then
// does not answer would otherwise hold the caller until connect_timeout.
//
// lib/pq sets a deadline of connect_timeout on the new connection and
// clears it once the handshake is done. handshakeConn lowers that
// deadline to the context's until it is cleared.
type handshakeDialer struct{ d net.Dialer }

func (h handshakeDialer) Dial(network, address string) (net.Conn, error) {
	return h.d.Dial(network, address)
}

func (h handshakeDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	d := h.d
	d.Timeout = timeout
	return d.Dial(network, address)
}

func (h handshakeDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := h.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if limit, ok := ctx.Deadline(); ok {
		return &handshakeConn{Conn: c, limit: limit}, nil
	}
	return c, nil
}

// handshakeConn caps deadlines at limit until the first call that clears
// them. lib/pq sets deadlines only from the goroutine that opens the
// connection.
type handshakeConn struct {
	net.Conn
	limit time.Time
	done  bool
}

func (c *handshakeConn) SetDeadline(t time.Time) error {
	if !c.done {
		if t.IsZero() {
			c.done = true
		} else if c.limit.Before(t) {
			t = c.limit
		}
	}
	return c.Conn.SetDeadline(t)
}
