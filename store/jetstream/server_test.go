package jetstream_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// natsServer is a nats-server with JetStream embedded in the test
// process, from the Go module github.com/nats-io/nats-server/v2 (the
// version in go.mod), alone or as a node of a cluster on loopback. Its
// ports and store directory stay the same across kill and restart, as
// those of a server process restarted on its machine would.
type natsServer struct {
	name              string
	port, clusterPort int
	dir               string
	clusterName       string
	routes            []*url.URL
	srv               *server.Server
}

// freePort returns a TCP port on 127.0.0.1 nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start starts (or restarts) the server and waits until it accepts
// clients.
func (n *natsServer) start(t testing.TB) {
	t.Helper()
	o := &server.Options{
		ServerName: n.name, Host: "127.0.0.1", Port: n.port,
		JetStream: true, StoreDir: n.dir, JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
		NoLog: true, NoSigs: true,
	}
	if n.clusterName != "" {
		o.Cluster = server.ClusterOpts{Name: n.clusterName, Host: "127.0.0.1", Port: n.clusterPort}
		o.Routes = n.routes
	}
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats-server %s not ready", n.name)
	}
	n.srv = s
}

// kill stops the server at once, as a crash of its process would, but
// keeps its store directory for a restart.
func (n *natsServer) kill() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

func (n *natsServer) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// embeddedServer starts one JetStream server of the current version,
// stopped when t ends, and returns its URL.
func embeddedServer(t testing.TB) string {
	t.Helper()
	n := &natsServer{name: "solo", port: freePort(t), dir: t.TempDir()}
	n.start(t)
	t.Cleanup(n.kill)
	return n.url()
}

// natsCluster is a JetStream cluster of embedded servers on loopback.
type natsCluster struct {
	nodes []*natsServer
}

// newCluster starts a cluster of size servers, stopped when t ends, and
// waits until JetStream answers through it.
func newCluster(t testing.TB, size int) *natsCluster {
	t.Helper()
	c := &natsCluster{}
	var routes []*url.URL
	for i := range size {
		n := &natsServer{name: fmt.Sprintf("n%d", i+1), port: freePort(t), clusterPort: freePort(t), dir: t.TempDir(), clusterName: "trailmark"}
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: fmt.Sprintf("127.0.0.1:%d", n.clusterPort)})
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
		}
	})
	for _, n := range c.nodes {
		n.routes = routes
		n.start(t)
	}
	waitFor(t, "the JetStream meta leader", time.Minute, c.metaCurrent)
	return c
}

// metaCurrent reports whether the cluster has a JetStream meta leader
// and every running node is current with it.
func (c *natsCluster) metaCurrent() bool {
	leader := false
	for _, n := range c.nodes {
		if n.srv == nil {
			continue
		}
		if !n.srv.JetStreamIsCurrent() {
			return false
		}
		leader = leader || n.srv.JetStreamIsLeader()
	}
	return leader
}

// urls returns the client URLs of every node, for nats.Connect.
func (c *natsCluster) urls() string {
	var us []string
	for _, n := range c.nodes {
		us = append(us, n.url())
	}
	return strings.Join(us, ",")
}

func (c *natsCluster) node(name string) *natsServer {
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// streamCluster returns the stream's cluster info as its leader reports
// it, or nil while it has no leader or does not answer.
func streamCluster(ctx context.Context, j natsjs.JetStream, stream string) *natsjs.ClusterInfo {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := j.Stream(ctx, stream)
	if err != nil {
		return nil
	}
	ci := st.CachedInfo().Cluster
	if ci == nil || ci.Leader == "" {
		return nil
	}
	return ci
}

// healthy reports whether ci has a leader and every replica is online
// and current.
func healthy(ci *natsjs.ClusterInfo, size int) bool {
	if ci == nil || len(ci.Replicas) != size-1 {
		return false
	}
	for _, r := range ci.Replicas {
		if !r.Current || r.Offline {
			return false
		}
	}
	return true
}
