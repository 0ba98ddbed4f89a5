package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
)

// noTree answers 501 for the proof endpoints of a store without a tree.
func (h *Handler) noTree(w http.ResponseWriter, r *http.Request) bool {
	if h.tree != nil {
		return false
	}
	writeProblem(w, r, http.StatusNotImplemented, "this store keeps no Merkle tree (storekit.TreeStore): it has no proofs", "")
	return true
}

// proof answers GET {base}/{id}/proof: the record's inclusion proof
// (chain.InclusionProof, with the record), to whoever may read the
// record, as /{id} answers it: out of the caller's scope is 404, as an id
// that does not exist, and the read is recorded.
func (h *Handler) proof(w http.ResponseWriter, r *http.Request, raw string) {
	need := func() bool { return h.noTree(w, r) }
	a, rec, ok := h.lookup(w, r, raw, need)
	if !ok {
		return
	}
	action, id := audit.ActionAuditLogRead, rec.ID
	p, err := chain.ProveRecord(r.Context(), h.tree, &rec)
	// the caller may read the record: saying why there is no proof is no leak
	refuse := func(status int, why, detail string) {
		ev := h.event(r, a, action, audit.StatusFailure, why)
		ev.ResourceID = id.String()
		h.note(r, ev, "a failed")
		writeProblem(w, r, status, detail, "")
	}
	switch {
	case errors.Is(err, chain.ErrOtherLeaf):
		// never another record's salt: the store holds two records of
		// this ID, and none of its leaves is of this one's time
		refuse(http.StatusConflict, "the leaf of this ID may be another record's",
			"the log holds no leaf of this record's ID and time, and the leaf of its ID does not open for it: another record has its ID, or this one changed since it was sealed (run Verify)")
		return
	case errors.Is(err, audit.ErrNotFound):
		refuse(http.StatusNotFound, "not in a signed checkpoint yet",
			"this record is not in a signed checkpoint yet: it is sealed within the sealer's interval; try again")
		return
	}
	if err != nil {
		h.failed(w, r, a, action, nil, err)
		return
	}
	readable(&rec)
	p.Record = &rec
	body, err := json.Marshal(p)
	if err != nil {
		h.failed(w, r, a, action, nil, fmt.Errorf("encoding: %w", err))
		return
	}
	ev := h.event(r, a, action, audit.StatusSuccess, "")
	ev.ResourceID = id.String()
	ev.Details["proof"] = map[string]any{"index": p.Index, "tree_size": p.TreeSize}
	if !h.recordRead(w, r, ev) {
		return
	}
	writeJSON(w, body)
}

// checkpoint answers GET {base}/checkpoint: the newest signed checkpoint
// of the tree, a C2SP signed note, as text/plain. It says how many
// records the log holds and its root hash, nothing of any record: every
// caller the Authorizer accepts may read it, whatever its scope.
func (h *Handler) checkpoint(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	action := audit.ActionAuditLogRead
	if _, perr := parseQuery(endpointGet, r.URL.RawQuery, h.o.Now()); perr != nil {
		h.refuse(w, r, a, action, perr)
		return
	}
	if h.noTree(w, r) {
		return
	}
	c, err := h.tree.TreeCheckpoint(r.Context(), -1)
	if errors.Is(err, audit.ErrNotFound) {
		h.note(r, h.event(r, a, action, audit.StatusFailure, "no checkpoint"), "a failed")
		writeProblem(w, r, http.StatusNotFound, "the log has no signed checkpoint yet", "")
		return
	}
	if err != nil {
		h.failed(w, r, a, action, nil, err)
		return
	}
	ev := h.event(r, a, action, audit.StatusSuccess, "")
	ev.Details["tree_size"] = c.Size
	if !h.recordRead(w, r, ev) {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.Note)))
	w.Write(c.Note)
}

// consistency answers GET {base}/consistency?from=&to=: the proof
// (chain.ConsistencyProof) that the tree of from records is a prefix of
// the tree of the signed checkpoint at to (the newest without to). Like
// the checkpoint, it reveals nothing of any record.
func (h *Handler) consistency(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	action := audit.ActionAuditLogRead
	q, perr := parseQuery(endpointConsistency, r.URL.RawQuery, h.o.Now())
	if perr == nil && q.from == 0 {
		perr = badParam("from", "is required: the size of the tree of the checkpoint you hold")
	}
	if perr == nil && q.to != 0 && q.from > q.to {
		perr = badParam("to", "must be at least from")
	}
	if perr != nil {
		h.refuse(w, r, a, action, perr)
		return
	}
	if h.noTree(w, r) {
		return
	}
	p, err := chain.ProveConsistency(r.Context(), h.tree, q.from, q.to)
	if errors.Is(err, audit.ErrNotFound) {
		h.note(r, h.event(r, a, action, audit.StatusFailure, "no checkpoint at to"), "a failed")
		writeProblem(w, r, http.StatusNotFound, "the log has no signed checkpoint of this size", "")
		return
	}
	if err == nil && p.From != q.from {
		err = errors.New("the proof is not from the size asked")
	}
	if errors.Is(err, chain.ErrTreeSize) {
		h.refuse(w, r, a, action, badParam("from", "is larger than the tree of the checkpoint at to"))
		return
	}
	if err != nil {
		h.failed(w, r, a, action, &q, err)
		return
	}
	body, err := json.Marshal(p)
	if err != nil {
		h.failed(w, r, a, action, &q, fmt.Errorf("encoding: %w", err))
		return
	}
	ev := h.event(r, a, action, audit.StatusSuccess, "")
	ev.Details["query"] = q.params
	if !h.recordRead(w, r, ev) {
		return
	}
	writeJSON(w, body)
}
