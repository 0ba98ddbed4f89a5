package postgres_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lib/pq"
)

// proxyMode is what a proxy does with a new connection.
type proxyMode int

const (
	forward proxyMode = iota // pass it on to the server
	refuse                   // close it at once: the server is down
	stall                    // keep it open and never answer: the server hangs
)

// proxy is a TCP proxy on 127.0.0.1 in front of the test server, that a
// test can cut: it simulates lost connections and outages without
// touching the server, which other tests share.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	// loseCommits is how many more COMMITs to lose: the proxy passes the
	// COMMIT on, waits for the server to confirm it, and cuts the
	// connection instead of passing the confirmation back. lostCommits
	// counts the COMMITs the server confirmed and the client never saw.
	loseCommits, lostCommits atomic.Int32

	// hooks, set with setHooks before the connections they are for
	hooks proxyHooks
}

// proxyHooks watch and shape forwarded connections.
type proxyHooks struct {
	// up sees each frontend message (its type, 0 for the startup
	// packet, and body) before it is passed on.
	up func(l *proxyLink, typ byte, body []byte)
	// down sees each chunk of the server's bytes before it is passed on
	// (it may sleep: a slow link), and drops it if it returns false.
	down func(l *proxyLink, chunk []byte) bool
}

// proxyLink is what the hooks may keep of one forwarded connection.
type proxyLink struct{ marked, frozen atomic.Bool }

// setHooks sets the hooks of the connections forwarded from now on.
func (p *proxy) setHooks(h proxyHooks) {
	p.mu.Lock()
	p.hooks = h
	p.mu.Unlock()
}

// newProxy starts a proxy to target, closed when t ends.
func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		if mode != refuse {
			p.conns[c] = struct{}{}
		}
		p.mu.Unlock()
		switch mode {
		case refuse:
			c.Close()
		case stall:
			p.wg.Add(1)
			go func() { // read and drop until cut
				defer p.wg.Done()
				io.Copy(io.Discard, c)
			}()
		case forward:
			p.wg.Add(1)
			go p.forward(c)
		}
	}
}

func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		p.drop(c)
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	h := p.hooks
	p.mu.Unlock()
	var hold atomic.Bool // a COMMIT is to be lost on this connection
	l := new(proxyLink)
	done := make(chan struct{}, 2)
	go func() { // client to server, message by message
		p.clientToServer(s, c, &hold, h, l)
		done <- struct{}{}
	}()
	go func() {
		p.serverToClient(c, s, &hold, h, l)
		done <- struct{}{}
	}()
	<-done
	p.drop(c)
	p.drop(s)
	<-done
}

// commitQuery is a simple-protocol COMMIT, as lib/pq sends it.
var commitQuery = append([]byte("COMMIT"), 0)

// commitDone is the server's confirmation of a COMMIT.
var commitDone = []byte("C\x00\x00\x00\x0bCOMMIT\x00")

// clientToServer copies the frontend messages of the PostgreSQL protocol
// and arms hold when it passes a COMMIT that is to be lost.
func (p *proxy) clientToServer(dst, src net.Conn, hold *atomic.Bool, h proxyHooks, l *proxyLink) {
	var head [5]byte
	// the startup packet has no type byte
	if _, err := io.ReadFull(src, head[1:]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n < 4 {
		return
	}
	startup := make([]byte, n-4)
	if _, err := io.ReadFull(src, startup); err != nil {
		return
	}
	if h.up != nil {
		h.up(l, 0, startup)
	}
	if _, err := dst.Write(append(head[1:], startup...)); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(src, head[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(head[1:])
		if n < 4 {
			return
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(src, body); err != nil {
			return
		}
		if h.up != nil {
			h.up(l, head[0], body)
		}
		if head[0] == 'Q' && bytes.Equal(body, commitQuery) {
			for {
				k := p.loseCommits.Load()
				if k <= 0 || p.loseCommits.CompareAndSwap(k, k-1) {
					hold.Store(k > 0)
					break
				}
			}
		}
		if _, err := dst.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// serverToClient copies the server's bytes, unless hold is armed: then it
// waits for the confirmation of the COMMIT and cuts the connection.
func (p *proxy) serverToClient(dst, src net.Conn, hold *atomic.Bool, h proxyHooks, l *proxyLink) {
	buf := make([]byte, 32<<10)
	var held []byte
	for {
		n, err := src.Read(buf)
		if n > 0 && (h.down == nil || h.down(l, buf[:n])) {
			if hold.Load() {
				held = append(held, buf[:n]...)
				if bytes.Contains(held, commitDone) {
					p.lostCommits.Add(1)
					return // the caller cuts both sides
				}
			} else if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) drop(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// setMode sets what happens to new connections.
func (p *proxy) setMode(m proxyMode) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

// cut closes every open connection, in both directions, and returns how
// many it closed.
func (p *proxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		c.Close()
	}
	return n
}

// Close stops the proxy and waits for its goroutines.
func (p *proxy) Close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// serverAddr returns the host:port of the test server.
func serverAddr(t testing.TB) string {
	t.Helper()
	cfg, err := pq.NewConfig(dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

// proxyDSN returns the test server's DSN pointed at addr, with the given
// application_name.
func proxyDSN(t testing.TB, addr, app string) string {
	t.Helper()
	u, err := url.Parse(dsn(t))
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL: cannot point it at a proxy", envDSN)
	}
	u.Host = addr
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}
