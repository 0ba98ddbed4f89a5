package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
)

// slowProxy forwards to target, passing the server's bytes on at bps
// bytes a second on each connection (a slow link), and counts the reads
// of records to seal the clients send.
type slowProxy struct {
	ln     net.Listener
	target string
	bps    int
	reads  atomic.Int32
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
}

var debugSlow = false

var toSealMark = []byte("ORDER BY e.xid, e.id LIMIT")

func newSlowProxy(t *testing.T, target string, bps int) *slowProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, target: target, bps: bps}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { // client to server, counting the reads
				defer p.wg.Done()
				defer s.Close()
				var carry []byte
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						w := append(carry, buf[:n]...)
						if k := bytes.Count(w, toSealMark); k > 0 {
							p.reads.Add(int32(k))
							if debugSlow {
								i := bytes.Index(w, toSealMark)
								println("read on", c.RemoteAddr().String(), k, time.Now().Format("05.000"), string(w[max(0, i-60):min(len(w), i+40)]))
							}
						}
						carry = append([]byte(nil), w[max(0, len(w)-len(toSealMark)+1):]...)
						if _, err := s.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() { // server to client, throttled
				defer p.wg.Done()
				defer c.Close()
				buf := make([]byte, 16<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(n) * time.Second / time.Duration(p.bps))
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *slowProxy) addr() string { return p.ln.Addr().String() }

// TestSlowReadAheadUsed: on a slow link (or with large records),
// reading a step's records takes longer than sealing the step before.
// A read ahead that has its connection is then waited for and used: a
// first version waited 1 s, cancelled it and read the same records again
// itself, slower than no read ahead at all and twice the server's reading.
func TestSlowReadAheadUsed(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	// 150 records of ~20 kB: steps of 40 (about 800 kB, 1.6 s at 500 kB/s)
	blob, _ := json.Marshal(map[string]string{"blob": strings.Repeat("x", 20000)})
	start := time.Now().Add(-time.Hour)
	recs := make([]audit.Record, 150)
	for i := range recs {
		recs[i] = benchRecord(start.Add(time.Duration(i) * time.Millisecond))
		recs[i].Details = blob
	}
	ctx := testCtx(t)
	if err := seed.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	p := newSlowProxy(t, serverAddr(t), 500_000)
	db, err := sqlx.Open("postgres", proxyDSN(t, p.addr(), randomName("trailmark_test_")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := postgres.New(db, &postgres.Options{Schema: schema, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	sl, err := chain.NewSealer(a, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	// wait until no transaction older than the records holds them back:
	// then one SealOnce seals them all, each read returning records
	for {
		lag, err := seed.SealLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Waiting == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.reads.Store(0)
	begin := time.Now()
	n, err := sl.SealOnce(ctx)
	if err != nil || n != 150 {
		t.Fatalf("SealOnce: %d, %v; want 150", n, err)
	}
	took := time.Since(begin)
	reads := p.reads.Load()
	t.Logf("sealed 150 records in steps of 40 in %v with %d reads of records to seal", took.Round(time.Millisecond), reads)
	// 4 steps: the first reads its records, the three others take the
	// records read ahead during the step before
	if reads > 4 {
		t.Errorf("%d reads of records to seal for 4 steps (want 4): reads ahead that were done soon after were dropped and read again; sealing took %v", reads, took.Round(time.Millisecond))
	}
}
