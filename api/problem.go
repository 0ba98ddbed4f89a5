package api

import (
	"encoding/json"
	"net/http"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/safetext"
)

// ProblemDetails is the body of every error response: an RFC 9457 problem
// document, served as application/problem+json.
type ProblemDetails struct {
	// Type is "about:blank": the status code says what happened.
	Type string `json:"type"`
	// Title is the status code's text ("Bad Request").
	Title string `json:"title"`
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Detail says what went wrong, for a human.
	Detail string `json:"detail,omitempty"`
	// Parameter names the query parameter at fault, for a 400.
	Parameter string `json:"parameter,omitempty"`
	// RequestID is the request's id, when middleware has set one, for
	// finding the request in logs and in the audit trail.
	RequestID string `json:"request_id,omitempty"`
}

// writeProblem writes a problem response.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, detail, param string) {
	p := ProblemDetails{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Parameter: param,
		RequestID: audit.RequestInfoFrom(r.Context()).RequestID,
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Disposition")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON writes a 200 response with an encoded JSON body. It sets no
// Content-Length: a middleware that rewrites the body (compression) and
// leaves the header would send a wrong one.
func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(safetext.JSON(body))
}
