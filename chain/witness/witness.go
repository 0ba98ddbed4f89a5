package witness

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
)

// The errors of AddCheckpoint, one for each refusal of C2SP tlog-witness
// (with *ConflictError for 409). The Handler answers with the status in
// brackets; the Client returns the same errors for those statuses.
var (
	// ErrBadRequest: the request is malformed, or its old size is larger
	// than the checkpoint's size [400 Bad Request].
	ErrBadRequest = errors.New("audit: witness: malformed request")
	// ErrUnverified: the checkpoint bears no valid signature by the log's
	// key, or a bad one under the key's name and ID [403 Forbidden].
	ErrUnverified = errors.New("audit: witness: checkpoint not signed by the log's key")
	// ErrUnknownLog: the witness does not follow a log of that origin
	// [404 Not Found].
	ErrUnknownLog = errors.New("audit: witness: unknown log")
	// ErrInconsistent: the consistency proof does not prove that the
	// checkpoint extends the last one the witness cosigned: a fork, a
	// rewritten history, or a bad proof [422 Unprocessable Entity].
	ErrInconsistent = errors.New("audit: witness: checkpoint not consistent with the last one cosigned")
	// ErrTooLarge: the request body is larger than MaxRequestSize
	// [413 Content Too Large].
	ErrTooLarge = errors.New("audit: witness: request too large")
)

// A ConflictError is returned when the old size of a request is not the
// size of the checkpoint the witness last cosigned for the log [409
// Conflict]. Size is the witness's size: prove consistency from it and
// submit again.
type ConflictError struct {
	Size int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("audit: witness: conflict: the witness last cosigned size %d", e.Size)
}

// A Log is a log the witness follows.
type Log struct {
	// Origin is the log's checkpoint origin line.
	Origin string
	// Verifier checks the log's checkpoint signatures (for example
	// checkpoint.NewVerifier(origin, publicKey), or note.NewVerifier of
	// the log's verifier key).
	Verifier note.Verifier
}

// DefaultMaxRequestSize is the default of Options.MaxRequestSize: room
// for 63 proof lines and a checkpoint with 16 post-quantum signatures.
const DefaultMaxRequestSize = 128 << 10

// Options are the optional settings of New. The zero value (or nil)
// means the defaults.
type Options struct {
	// Now is the clock of the cosignature timestamps. Default time.Now.
	Now func() time.Time
	// OnError is told of checkpoints refused although validly signed by a
	// log (evidence that the log forked or rewrote history: the error
	// wraps ErrInconsistent or is a *ConflictError and holds the
	// checkpoint) and of failures to save the state. Default: print to
	// standard error.
	OnError func(error)
	// MaxRequestSize bounds an add-checkpoint request body, in bytes.
	// Default DefaultMaxRequestSize.
	MaxRequestSize int64
}

// A Witness cosigns the checkpoints of the logs it follows, each only if
// it is consistent with the last checkpoint it cosigned for that log, and
// keeps that last checkpoint in a state file. Its ServeHTTP speaks C2SP
// tlog-witness. A Witness is safe for concurrent use; requests are
// checked and saved one at a time, so that two concurrent submissions
// cannot roll the log back.
type Witness struct {
	signer note.Signer
	vkey   string
	path   string
	logs   map[string]Log
	opts   Options
	mux    *http.ServeMux

	mu    sync.Mutex
	state map[string]logState // guarded by mu
}

var _ http.Handler = (*Witness)(nil)

// New returns a witness named name (a key name: a schema-less URL such as
// "witness.example.com/w1") that signs with key, follows logs, and keeps
// its state in the file statePath. The state is read now; a missing file
// means a witness that never cosigned. A file that exists but cannot be
// read or parsed is an error: starting over would forget what the witness
// vouched for.
func New(name string, key ed25519.PrivateKey, logs []Log, statePath string, opts *Options) (*Witness, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	if o.MaxRequestSize <= 0 {
		o.MaxRequestSize = DefaultMaxRequestSize
	}
	signer, err := NewSigner(name, key, o.Now)
	if err != nil {
		return nil, err
	}
	vkey, err := VerifierKey(name, key.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	if statePath == "" {
		return nil, errors.New("audit: witness: no state file")
	}
	byOrigin := make(map[string]Log, len(logs))
	for _, l := range logs {
		if l.Origin == "" || l.Verifier == nil {
			return nil, fmt.Errorf("audit: witness: log %q: origin and verifier are required", l.Origin)
		}
		if _, dup := byOrigin[l.Origin]; dup {
			return nil, fmt.Errorf("audit: witness: log %q listed twice", l.Origin)
		}
		byOrigin[l.Origin] = l
	}
	state, err := loadState(statePath)
	if err != nil {
		return nil, err
	}
	w := &Witness{signer: signer, vkey: vkey, path: statePath, logs: byOrigin, opts: o, state: state}
	w.mux = http.NewServeMux()
	w.mux.HandleFunc("POST /add-checkpoint", w.serveAdd)
	w.mux.HandleFunc("GET /{originHash}/checkpoint", w.serveCheckpoint)
	return w, nil
}

// VerifierKey returns the witness's verifier key, the string a log's
// users configure to check its cosignatures (see NewVerifier).
func (w *Witness) VerifierKey() string { return w.vkey }

// AddCheckpoint is add-checkpoint without HTTP: it checks the signed
// checkpoint against the log's key and the consistency proof from
// oldSize, which must be the size the witness last cosigned for the log
// (0 if never), and returns the witness's cosignature as signature lines
// to append to the note. The checkpoint is saved before AddCheckpoint
// returns; nothing is cosigned if it cannot be saved.
func (w *Witness) AddCheckpoint(ctx context.Context, oldSize int64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: witness: %w", err)
	}
	text, ok := checkpoint.Text(signed)
	if !ok {
		return nil, fmt.Errorf("%w: the checkpoint is not a signed note", ErrBadRequest)
	}
	origin, _, _ := cutLine(text)
	log, ok := w.logs[origin]
	if !ok {
		return nil, fmt.Errorf("%w %.80q", ErrUnknownLog, origin)
	}
	c, n, err := checkpoint.Open(signed, log.Origin, log.Verifier)
	switch {
	case errors.Is(err, checkpoint.ErrUnverified):
		return nil, fmt.Errorf("%w: %w", ErrUnverified, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if oldSize > c.Size {
		return nil, fmt.Errorf("%w: old size %d is larger than the checkpoint's %d", ErrBadRequest, oldSize, c.Size)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.state[origin]
	if oldSize != last.Size {
		return nil, w.refused(&ConflictError{Size: last.Size}, c, signed)
	}
	if err := checkConsistent(last, oldSize, proof, c); err != nil {
		return nil, w.refused(err, c, signed)
	}
	body := []byte(n.Text)
	sig, err := w.signer.Sign(body)
	if err != nil {
		return nil, err
	}
	line := signatureLines([]note.Signature{{Name: w.signer.Name(), Hash: w.signer.KeyHash(), Base64: sigBase64(w.signer.KeyHash(), sig)}})
	kept := string(body) + "\n" + string(signatureLines(n.Sigs)) + string(line)
	next := make(map[string]logState, len(w.state)+1)
	for o, s := range w.state {
		next[o] = s
	}
	next[origin] = logState{Size: c.Size, Hash: c.Hash, Checkpoint: kept}
	if err := saveState(w.path, next); err != nil {
		w.opts.OnError(err)
		return nil, err
	}
	w.state = next
	return line, nil
}

// checkConsistent checks the rules of C2SP tlog-witness for a request
// whose old size matches the witness's state last.
func checkConsistent(last logState, oldSize int64, proof tlog.TreeProof, c checkpoint.Checkpoint) error {
	if c.Size == 0 {
		if c.Hash != emptyTreeHash {
			return fmt.Errorf("%w: size 0 with root %v, not the empty tree's", ErrInconsistent, c.Hash)
		}
	}
	if oldSize == 0 {
		if len(proof) != 0 {
			return fmt.Errorf("%w: a proof of %d hashes from size 0", ErrInconsistent, len(proof))
		}
		return nil
	}
	if err := tlog.CheckTree(proof, c.Size, c.Hash, oldSize, last.Hash); err != nil {
		if oldSize == c.Size {
			return fmt.Errorf("%w: size %d with root %v, but the witness cosigned root %v at that size", ErrInconsistent, c.Size, c.Hash, last.Hash)
		}
		return fmt.Errorf("%w: no proof that size %d (%v) extends size %d (%v): %w", ErrInconsistent, c.Size, c.Hash, oldSize, last.Hash, err)
	}
	return nil
}

// emptyTreeHash is the RFC 6962 root of the empty tree: SHA-256 of "".
var emptyTreeHash = tlog.Hash(sha256.Sum256(nil))

// refused reports a checkpoint that the log validly signed but the
// witness refuses (evidence of a fork) to OnError, and returns err.
func (w *Witness) refused(err error, c checkpoint.Checkpoint, signed []byte) error {
	var conflict *ConflictError
	if errors.As(err, &conflict) && conflict.Size < c.Size {
		return err // the usual case: the log does not know the witness's size yet
	}
	w.opts.OnError(fmt.Errorf("audit: witness: refused checkpoint of %q at size %d: %w\n%s", c.Origin, c.Size, err, signed))
	return err
}

// sigBase64 encodes a signature line's payload: key ID, then signature.
func sigBase64(id uint32, sig []byte) string {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(sig)), id)
	return base64.StdEncoding.EncodeToString(append(b, sig...))
}

// cutLine returns the first line of text and the rest.
func cutLine(text []byte) (string, []byte, bool) {
	for i, c := range text {
		if c == '\n' {
			return string(text[:i]), text[i+1:], true
		}
	}
	return string(text), nil, false
}

// ServeHTTP serves C2SP tlog-witness:
//
//	POST /add-checkpoint          cosign a checkpoint (see AddCheckpoint)
//	GET  /<hex SHA-256 of origin>/checkpoint
//	                              the last checkpoint cosigned for a log, with
//	                              the log's signatures and the cosignature
//
// Mount it under the witness's URL prefix with http.StripPrefix. Refusals
// carry the status codes of the specification: 400, 403, 404, 409 (body:
// the witness's size and a newline, Content-Type text/x.tlog.size), 422,
// and 413 for a body larger than Options.MaxRequestSize.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mux.ServeHTTP(rw, r)
}

func (w *Witness) serveAdd(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.opts.MaxRequestSize))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(rw, fmt.Sprintf("%v: more than %d bytes", ErrTooLarge, w.opts.MaxRequestSize), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(rw, "audit: witness: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	oldSize, proof, signed, err := parseRequest(body)
	if err == nil {
		var line []byte
		if line, err = w.AddCheckpoint(r.Context(), oldSize, proof, signed); err == nil {
			rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rw.Write(line)
			return
		}
	}
	var conflict *ConflictError
	switch {
	case errors.As(err, &conflict):
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", conflict.Size)
	case errors.Is(err, ErrBadRequest):
		http.Error(rw, err.Error(), http.StatusBadRequest)
	case errors.Is(err, ErrUnverified):
		http.Error(rw, err.Error(), http.StatusForbidden)
	case errors.Is(err, ErrUnknownLog):
		http.Error(rw, err.Error(), http.StatusNotFound)
	case errors.Is(err, ErrInconsistent):
		http.Error(rw, err.Error(), http.StatusUnprocessableEntity)
	default:
		http.Error(rw, "audit: witness: internal error", http.StatusInternalServerError)
	}
}

func (w *Witness) serveCheckpoint(rw http.ResponseWriter, r *http.Request) {
	want := r.PathValue("originHash")
	w.mu.Lock()
	var kept string
	for origin, s := range w.state {
		if originHash(origin) == want {
			kept = s.Checkpoint
			break
		}
	}
	w.mu.Unlock()
	if kept == "" {
		http.NotFound(rw, r)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Content-Length", strconv.Itoa(len(kept)))
	io.WriteString(rw, kept)
}

// originHash is the lowercase hex SHA-256 of a log's origin, the path
// element of the monitoring endpoint.
func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}
