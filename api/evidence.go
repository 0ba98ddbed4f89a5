package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// evidenceSource is the store as chain.WriteTenantEvidence reads it.
type evidenceSource struct {
	audit.Querier
	storekit.TreeReader
}

// startWriter sends the status line and headers on the first Write, so
// that an error before any byte (no checkpoint yet) is still answered
// with a problem document.
type startWriter struct {
	w       http.ResponseWriter
	begin   func()
	started bool
}

func (s *startWriter) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.begin()
	}
	return s.w.Write(p)
}

// forbid records and answers a request the caller's scope does not allow:
// 403.
func (h *Handler) forbid(w http.ResponseWriter, r *http.Request, a Caller, action audit.Action, detail string) {
	ev := h.event(r, a, action, audit.StatusFailure, detail)
	ev.Details["refused"] = "forbidden"
	ev.Details["http_status"] = http.StatusForbidden
	ev.Details["query"] = queryDetails(r.URL.RawQuery)
	h.note(r, ev, "a refused")
	writeProblem(w, r, http.StatusForbidden, detail, "")
}

// evidence answers GET {base}/evidence?tenant_id=&since=&until=: the
// tenant's evidence (chain.WriteTenantEvidence, NDJSON), which the tenant
// checks with the log's public key alone. A caller scoped to a tenant
// gets its own tenant's (tenant_id may be left out) and is refused (403)
// any other, whether or not it exists; a caller scoped more narrowly (to
// a user or a resource) is refused, for evidence covers a whole tenant;
// an unscoped caller names the tenant. It is recorded as an export: a
// start before any data (fail closed, 503, if it cannot be), an end with
// the counts.
func (h *Handler) evidence(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	const action = audit.ActionAuditLogExport
	q, perr := parseQuery(endpointEvidence, r.URL.RawQuery, h.o.Now())
	if perr != nil {
		h.refuse(w, r, a, action, perr)
		return
	}
	tenant, sc := q.filter.TenantID, a.Scope
	switch {
	case sc.UserID != "" || sc.ResourceType != "" || sc.ResourceID != "":
		h.forbid(w, r, a, action, "evidence covers a whole tenant; this caller may read part of one only")
		return
	case sc.TenantID != "" && tenant == "":
		tenant = sc.TenantID
	case sc.TenantID != "" && tenant != sc.TenantID:
		h.forbid(w, r, a, action, "a caller of a tenant may have its own tenant's evidence only")
		return
	case tenant == "":
		h.refuse(w, r, a, action, badParam("tenant_id", "is required: evidence is of one tenant"))
		return
	}
	if h.noTree(w, r) {
		return
	}
	startID, ok := h.startExport(w, r, a, &q, "evidence", map[string]any{"tenant_id": tenant})
	if !ok {
		return
	}
	begin := func() {
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition",
			fmt.Sprintf(`attachment; filename="audit-evidence-%s.ndjson"`, h.o.Now().UTC().Format("20060102T150405Z")))
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		// as GET answers: 404 while the log has no signed checkpoint
		if _, err := h.tree.TreeCheckpoint(r.Context(), -1); errors.Is(err, audit.ErrNotFound) {
			writeProblem(w, r, http.StatusNotFound, "the log has no signed checkpoint yet", "")
			return
		} else if err != nil {
			h.o.OnError(fmt.Errorf("audit: api: evidence: %w", err))
			writeProblem(w, r, http.StatusInternalServerError, "the audit log could not be read", "")
			return
		}
		begin()
		return
	}
	end := h.event(r, a, action, audit.StatusSuccess, "")
	end.Details["phase"] = "end"
	end.Details["start_event_id"] = startID.String()
	end.Details["format"] = "evidence"
	end.Details["tenant_id"] = tenant
	sw := &startWriter{w: w, begin: begin}
	st, err := chain.WriteTenantEvidence(r.Context(), evidenceSource{h.store, h.tree}, tenant,
		&chain.EvidenceOptions{Since: q.filter.Since, Until: q.filter.Until, Now: h.o.Now}, sw)
	end.Details["rows"] = st.Records
	end.Details["pending"] = st.Pending
	end.Details["tree_size"] = st.TreeSize
	switch {
	case err == nil:
		h.note(r, end, fmt.Sprintf("the end (%d records) of an", st.Records))
	case r.Context().Err() != nil:
		end.Status, end.ErrorMessage = audit.StatusFailure, "client went away: "+r.Context().Err().Error()
		h.note(r, end, "the end of an")
	case !sw.started && errors.Is(err, audit.ErrNotFound):
		end.Status, end.ErrorMessage = audit.StatusFailure, "no signed checkpoint yet"
		h.note(r, end, "the end of an")
		writeProblem(w, r, http.StatusNotFound, "the log has no signed checkpoint yet", "")
	default:
		end.Status, end.ErrorMessage = audit.StatusError, err.Error()
		h.note(r, end, "the end of an")
		h.o.OnError(fmt.Errorf("audit: api: evidence: %w", err))
		if !sw.started {
			writeProblem(w, r, http.StatusInternalServerError, "the audit log could not be read", "")
			return
		}
		// The status line has gone: abort the connection so that the
		// client cannot take a truncated bundle for a complete one.
		panic(http.ErrAbortHandler)
	}
}
