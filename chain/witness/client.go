package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain/checkpoint"
)

// maxResponseSize bounds what the Client reads of a witness's answer.
const maxResponseSize = 64 << 10

// ClientOptions are the optional settings of NewClient. The zero value
// (or nil) means the defaults.
type ClientOptions struct {
	// HTTPClient sends the requests. Default http.DefaultClient; set one
	// with a Timeout.
	HTTPClient *http.Client
}

// A Client submits a log's checkpoints to one witness over C2SP
// tlog-witness and returns the witness's cosignatures. It is safe for
// concurrent use.
type Client struct {
	url     string
	witness note.Verifier
	hc      *http.Client
}

// NewClient returns a client of the witness at submissionPrefix (the URL
// under which it serves /add-checkpoint) whose cosignatures witness
// verifies (see NewVerifier).
func NewClient(submissionPrefix string, witness note.Verifier, opts *ClientOptions) (*Client, error) {
	if !strings.HasPrefix(submissionPrefix, "http://") && !strings.HasPrefix(submissionPrefix, "https://") {
		return nil, fmt.Errorf("audit: witness: client: %q is not an http(s) URL", submissionPrefix)
	}
	if witness == nil {
		return nil, errors.New("audit: witness: client: nil witness verifier")
	}
	c := &Client{url: strings.TrimSuffix(submissionPrefix, "/") + "/add-checkpoint", witness: witness, hc: http.DefaultClient}
	if opts != nil && opts.HTTPClient != nil {
		c.hc = opts.HTTPClient
	}
	return c, nil
}

// AddCheckpoint submits the signed checkpoint with a consistency proof
// from oldSize, the size the log believes the witness last cosigned, and
// returns the witness's cosignature as signature lines to append to the
// note. It returns only signatures that verify with the client's witness
// key, and an error if there is none.
//
// Refusals come back as the errors of Witness.AddCheckpoint:
// *ConflictError (holding the witness's size) for 409, ErrBadRequest
// (400), ErrUnverified (403), ErrUnknownLog (404), ErrInconsistent (422),
// ErrTooLarge (413). Any other status is an error naming it.
func (c *Client) AddCheckpoint(ctx context.Context, oldSize int64, proof tlog.TreeProof, signed []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(formatRequest(oldSize, proof, signed)))
	if err != nil {
		return nil, fmt.Errorf("audit: witness: client: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("audit: witness: client: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("audit: witness: client: reading the answer of %s: %w", c.url, err)
	}
	if len(body) > maxResponseSize {
		return nil, fmt.Errorf("audit: witness: client: the answer of %s is larger than %d bytes", c.url, maxResponseSize)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(c.url, resp, body)
	}
	// Check the answer as C2SP tlog-witness suggests: append it to the
	// checkpoint and open the note with the witness's key. The
	// checkpoint's own signatures are left out, so that an old
	// cosignature by the same witness cannot stand in for the new one.
	text, ok := checkpoint.Text(signed)
	if !ok {
		return nil, fmt.Errorf("%w: the checkpoint is not a signed note", ErrBadRequest)
	}
	answer := append(append(append([]byte(nil), text...), '\n'), body...)
	n, err := note.Open(answer, note.VerifierList(c.witness))
	if err != nil {
		return nil, fmt.Errorf("audit: witness: client: no valid cosignature by %s in the answer of %s: %w", c.witness.Name(), c.url, err)
	}
	return signatureLines(n.Sigs), nil
}

// statusError turns a refusal into the error Witness.AddCheckpoint
// would have returned.
func statusError(url string, resp *http.Response, body []byte) error {
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	switch resp.StatusCode {
	case http.StatusConflict:
		s := strings.TrimSuffix(string(body), "\n")
		size, err := strconv.ParseInt(s, 10, 64)
		if err != nil || size < 0 || resp.Header.Get("Content-Type") != "text/x.tlog.size" {
			return fmt.Errorf("audit: witness: client: %s answered 409 without a size: %q", url, msg)
		}
		return &ConflictError{Size: size}
	case http.StatusBadRequest:
		return fmt.Errorf("%w (%s: %q)", ErrBadRequest, url, msg)
	case http.StatusForbidden:
		return fmt.Errorf("%w (%s: %q)", ErrUnverified, url, msg)
	case http.StatusNotFound:
		return fmt.Errorf("%w (%s: %q)", ErrUnknownLog, url, msg)
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("%w (%s: %q)", ErrInconsistent, url, msg)
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%w (%s: %q)", ErrTooLarge, url, msg)
	}
	return fmt.Errorf("audit: witness: client: %s answered %s: %q", url, resp.Status, msg)
}

// A ProveFunc returns the consistency proof from the log's tree of size
// oldSize to its tree of size newSize (0 < oldSize < newSize), for
// example tlog.ProveTree(newSize, oldSize, hashReader).
type ProveFunc func(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)

// Cosign gets the witness's cosignature of a signed checkpoint: it
// submits it with a proof from oldSize (what the log last knew of the
// witness: 0 at first) and, if the witness answers that it last cosigned
// another size, proves consistency from that size and submits once more.
// It returns the cosignature lines and the size the witness now holds.
// prove is called only with 0 < oldSize < newSize.
func (c *Client) Cosign(ctx context.Context, signed []byte, oldSize int64, prove ProveFunc) (lines []byte, size int64, err error) {
	text, ok := checkpoint.Text(signed)
	if !ok {
		return nil, 0, fmt.Errorf("%w: the checkpoint is not a signed note", ErrBadRequest)
	}
	cp, err := checkpoint.Parse(text)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: witness: cosign: %w", err)
	}
	for attempt := 0; ; attempt++ {
		var proof tlog.TreeProof
		if oldSize > 0 && oldSize < cp.Size {
			if proof, err = prove(ctx, oldSize, cp.Size); err != nil {
				return nil, 0, fmt.Errorf("audit: witness: cosign: proving %d to %d: %w", oldSize, cp.Size, err)
			}
		}
		lines, err = c.AddCheckpoint(ctx, oldSize, proof, signed)
		var conflict *ConflictError
		if attempt == 0 && errors.As(err, &conflict) && conflict.Size <= cp.Size {
			oldSize = conflict.Size
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		return lines, cp.Size, nil
	}
}
