package witness

import (
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit/chain/checkpoint"
)

// BenchmarkAddCheckpoint measures one add-checkpoint round trip over
// loopback HTTP: parse, the log's signature, a consistency proof from
// 65,536 to 65,537 records, the cosignature, and the state file written
// and fsynced — with a fresh witness state for each step so that every
// step proves consistency.
func BenchmarkAddCheckpoint(b *testing.B) {
	log := newTestLog(b, "example.com/audit", 1)
	log.tree.AppendN("record", 1<<16+1)
	oldSigned, newSigned := log.signed(b, 1<<16), log.signed(b, 1<<16+1)
	proof := log.tree.ProveTree(1<<16+1, 1<<16)
	tw := newTestWitness(b, "witness.example/w1", 9, filepath.Join(b.TempDir(), "state.json"), log)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		tw.w.mu.Lock()
		tw.w.state = map[string]logState{}
		tw.w.mu.Unlock()
		if _, err := tw.client.AddCheckpoint(b.Context(), 0, nil, oldSigned); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := tw.client.AddCheckpoint(b.Context(), 1<<16, proof, newSigned); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCosignatures checks a checkpoint with the log's
// signature and three witness cosignatures, requiring all three.
func BenchmarkVerifyCosignatures(b *testing.B) {
	log := newTestLog(b, "example.com/audit", 1)
	log.tree.AppendN("record", 1000)
	msg := log.signed(b, 1000)
	body, _ := checkpoint.Text(msg)
	var vs []note.Verifier
	for i := range 3 {
		name := fmt.Sprintf("witness.example/w%d", i)
		s, _ := NewSigner(name, key(byte(20+i)), fixedClock)
		sig, err := s.Sign(body)
		if err != nil {
			b.Fatal(err)
		}
		msg = append(msg, signatureLines([]note.Signature{{Name: name, Hash: s.KeyHash(), Base64: sigBase64(s.KeyHash(), sig)}})...)
		vk, _ := VerifierKey(name, key(byte(20+i)).Public().(ed25519.PublicKey))
		v, _ := NewVerifier(vk)
		vs = append(vs, v)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyCosignatures(msg, log.origin, log.verifier, vs, 3); err != nil {
			b.Fatal(err)
		}
	}
}
