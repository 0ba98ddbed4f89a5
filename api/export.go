package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/safetext"
	"github.com/trailmark/audit/ocsf"
)

// csvHeader returns the first row of a CSV export: every field of a
// record, named and ordered as in its JSON form.
func csvHeader() []string {
	return []string{
		"id", "timestamp", "recorded_at", "user_id", "user_email", "ip_address", "user_agent",
		"action", "resource_type", "resource_id", "details", "changes",
		"request_id", "session_id", "status", "error_message",
		"tenant_id", "trace_id", "span_id",
	}
}

// recordScanner is a store that streams every record matching a filter
// from one query (store/postgres): an export then reads the table once,
// instead of once per page.
type recordScanner interface {
	ScanRecords(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error
}

// export streams every record that matches the query: from one query if
// the store is a recordScanner, else page by page. It holds one page of
// records (audit.MaxLimit) at most and a 64 KiB buffer at a time, whatever
// the size of the result.
//
// It records two events, linked by the first one's ID: before any data is
// read, phase "start" (who, format, query), written as the Logger's Policy
// says — Sync by default, and if it cannot be written the export is
// refused with 503; after the stream, phase "end", with the row count and
// the outcome. A HEAD request records the start too (it reveals that the
// caller may export) and reads no record. A store error in mid-stream
// aborts the connection, so that the client sees a truncated transfer
// rather than a short file that looks complete.
func (h *Handler) export(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	const action = audit.ActionAuditLogExport
	q, perr := h.parse(endpointExport, r, a)
	if perr != nil {
		h.refuse(w, r, a, action, perr)
		return
	}
	startID, ok := h.startExport(w, r, a, &q, q.format, nil)
	if !ok {
		return
	}
	if r.Method == http.MethodHead {
		h.exportHeaders(w, q.format)
		w.WriteHeader(http.StatusOK)
		return
	}
	end := h.event(r, a, action, audit.StatusSuccess, "")
	end.Details["phase"] = "end"
	end.Details["start_event_id"] = startID.String()
	end.Details["format"] = q.format

	ctx := r.Context()
	f := q.filter
	f.Limit = h.pageSize
	var (
		bw   *bufio.Writer
		rw   rowWriter // nil until the status line is sent
		rc   = http.NewResponseController(w)
		rows int
		werr error
	)
	begin := func() {
		h.exportHeaders(w, q.format)
		w.WriteHeader(http.StatusOK)
		bw = bufio.NewWriterSize(w, 64<<10)
		rw = newRowWriter(q.format, bw)
	}
	flush := func() error {
		if err := rw.flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
	write := func(rec *audit.Record) error {
		if rw == nil {
			begin()
		}
		readable(rec)
		if werr = rw.write(rec); werr == nil {
			rows++
			if rows%f.Limit == 0 {
				werr = flush()
			}
		}
		return werr
	}
	var qerr error
	if a.Scope.narrow(&f) { // else nothing in the caller's scope matches
		qerr = h.scan(ctx, f, write)
	}
	if werr != nil && errors.Is(qerr, werr) {
		qerr = nil // the client's, not the store's
	}
	if qerr != nil && rw == nil {
		h.endExport(r, end, 0, nil, qerr)
		if errors.Is(qerr, audit.ErrInvalidFilter) {
			perr := filterParamError(qerr)
			writeProblem(w, r, http.StatusBadRequest, perr.Param+" "+perr.Msg, perr.Param)
		} else if ctx.Err() == nil {
			writeProblem(w, r, http.StatusInternalServerError, "the audit log could not be read", "")
		}
		return
	}
	if rw == nil {
		begin()
	}
	if werr == nil {
		werr = flush()
	}
	h.endExport(r, end, rows, werr, qerr)
	if qerr != nil && ctx.Err() == nil {
		// The status line has gone: abort the connection so that the
		// client cannot take a truncated export for a complete one.
		panic(http.ErrAbortHandler)
	}
}

// startExport records the start of an export of format before any data
// is read (phase "head" for a HEAD request), with more details if any,
// and returns its ID. If it cannot be recorded it answers (503) and
// returns false.
func (h *Handler) startExport(w http.ResponseWriter, r *http.Request, a Caller, q *query, format string, more map[string]any) (uuid.UUID, bool) {
	const action = audit.ActionAuditLogExport
	startID, err := uuid.NewV7()
	if err != nil {
		h.failed(w, r, a, action, q, err)
		return startID, false
	}
	start := h.event(r, a, action, audit.StatusSuccess, "")
	start.ID = startID
	start.Details["phase"] = "start"
	start.Details["format"] = format
	start.Details["query"] = q.params
	if r.Method == http.MethodHead {
		start.Details["phase"] = "head"
	}
	for k, v := range more {
		start.Details[k] = v
	}
	return startID, h.recordRead(w, r, start)
}

// scan calls fn for every record that matches f, newest first: from one
// query if the store can, else page by page with f.Limit records per
// page. It returns fn's error as is.
func (h *Handler) scan(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	if s, ok := h.store.(recordScanner); ok {
		return s.ScanRecords(ctx, f, fn)
	}
	for {
		page, err := h.store.Query(ctx, f)
		if err != nil {
			return err
		}
		for i := range page.Records {
			if err := fn(&page.Records[i]); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		f.Cursor = page.NextCursor
	}
}

// endExport records the end of an export: rows written, and why it
// stopped early if it did (werr: writing to the client; qerr: the store).
func (h *Handler) endExport(r *http.Request, ev audit.Event, rows int, werr, qerr error) {
	ev.Details["rows"] = rows
	switch {
	case r.Context().Err() != nil:
		ev.Status, ev.ErrorMessage = audit.StatusFailure, "client went away: "+r.Context().Err().Error()
	case werr != nil:
		ev.Status, ev.ErrorMessage = audit.StatusFailure, "writing to the client: "+werr.Error()
	case qerr != nil:
		ev.Status, ev.ErrorMessage = audit.StatusError, "reading the store: "+qerr.Error()
		h.o.OnError(fmt.Errorf("audit: api: export: %w", qerr))
	}
	h.note(r, ev, fmt.Sprintf("the end (%d rows) of an", rows))
}

func (h *Handler) exportHeaders(w http.ResponseWriter, format string) {
	ct, ext := "application/x-ndjson", "ndjson"
	switch format {
	case formatCSV:
		ct, ext = "text/csv; charset=utf-8", "csv"
	case formatOCSF:
		ext = "ocsf.ndjson"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition",
		fmt.Sprintf(`attachment; filename="audit-logs-%s.%s"`, h.o.Now().UTC().Format("20060102T150405Z"), ext))
}

// rowWriter writes records in one export format.
type rowWriter interface {
	write(r *audit.Record) error
	flush() error
}

func newRowWriter(format string, bw *bufio.Writer) rowWriter {
	switch format {
	case formatCSV:
		hdr := csvHeader()
		w := &csvWriter{bw: bw, row: make([]string, len(hdr))}
		w.writeRow(hdr) // an error is kept by the bufio.Writer and returned by flush
		return w
	case formatOCSF:
		enc := ocsf.NewEncoder(safetext.NewJSONWriter(bw), nil)
		return &lineWriter{bw: bw, encode: enc.Encode}
	}
	enc := json.NewEncoder(safetext.NewJSONWriter(bw))
	return &lineWriter{bw: bw, encode: func(r *audit.Record) error { return enc.Encode(r) }}
}

// lineWriter writes one JSON value per line: a record exactly as the
// list endpoint returns it (NDJSON), or its OCSF event as package ocsf
// maps it with its default options. C1 controls, bidi controls, DEL,
// U+2028 and U+2029 are written as \uXXXX escapes (safetext.JSONWriter), so that a terminal or
// an editor showing the file is not steered by them; the values are
// unchanged.
type lineWriter struct {
	bw     *bufio.Writer
	encode func(*audit.Record) error
}

func (w *lineWriter) write(r *audit.Record) error { return w.encode(r) }
func (w *lineWriter) flush() error                { return w.bw.Flush() }

// csvWriter writes one record per row, with every cell made safe to open
// in a spreadsheet (see SafeCell) and quoted (RFC 4180), so that a cell
// holding a semicolon stays one cell where ';' separates columns.
type csvWriter struct {
	bw  *bufio.Writer
	row []string
	buf bytes.Buffer // for compacting JSON
}

// writeRow writes cells, each between double quotes, doubling the quotes
// inside, separated by commas; rows end with CRLF.
func (w *csvWriter) writeRow(cells []string) error {
	for i, c := range cells {
		if i > 0 {
			w.bw.WriteByte(',')
		}
		w.bw.WriteByte('"')
		for {
			j := strings.IndexByte(c, '"')
			if j < 0 {
				break
			}
			w.bw.WriteString(c[:j+1])
			w.bw.WriteByte('"')
			c = c[j+1:]
		}
		w.bw.WriteString(c)
		w.bw.WriteByte('"')
	}
	_, err := w.bw.WriteString("\r\n")
	return err
}

func (w *csvWriter) write(r *audit.Record) error {
	ip := ""
	if r.IPAddress.IsValid() {
		ip = r.IPAddress.String()
	}
	row := w.row
	row[0] = r.ID.String()
	row[1] = r.OccurredAt.UTC().Format(time.RFC3339Nano)
	row[2] = r.RecordedAt.UTC().Format(time.RFC3339Nano)
	row[3] = r.UserID
	row[4] = r.UserEmail
	row[5] = ip
	row[6] = r.UserAgent
	row[7] = string(r.Action)
	row[8] = r.ResourceType
	row[9] = r.ResourceID
	row[10] = w.compact(r.Details)
	row[11] = w.compact(r.Changes)
	row[12] = r.RequestID
	row[13] = r.SessionID
	row[14] = string(r.Status)
	row[15] = r.ErrorMessage
	row[16] = r.TenantID
	row[17] = r.TraceID
	row[18] = r.SpanID
	for i := range row {
		row[i] = SafeCell(row[i])
	}
	return w.writeRow(row)
}

// compact returns raw JSON without insignificant whitespace, as NDJSON
// has it (PostgreSQL's jsonb adds some), with every character SafeCell
// would replace escaped, so that the cell parses to the same value as the
// NDJSON export.
func (w *csvWriter) compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	w.buf.Reset()
	if json.Compact(&w.buf, raw) != nil {
		return string(raw)
	}
	// Compacted valid JSON holds no raw C0 control; AppendJSON writes DEL,
	// U+2028, U+2029, C1 and bidi controls as \uXXXX: the JSON means the
	// same, and SafeCell finds nothing to replace (invalid UTF-8, which it
	// turns into U+FFFD, decodes to U+FFFD anyway).
	return string(safetext.AppendJSON(nil, w.buf.Bytes()))
}

func (w *csvWriter) flush() error { return w.bw.Flush() }

// SafeCell returns s made safe for a spreadsheet cell and for a reader
// of the file:
//
//   - Control characters that could break or rewrite the text shown (C0
//     controls other than tab, such as ESC, CR and LF; DEL; C1 controls;
//     bidi embeddings, overrides, isolates and marks; the line and paragraph
//     separators) are replaced by U+FFFD.
//   - After the OWASP guidance on CSV injection, a value that begins with
//     =, +, -, @, a tab or a carriage return (or the fullwidth ＝ ＋ －
//     ＠, which some spreadsheets fold to ASCII), once leading white space
//     and invisible characters (NBSP, U+3000, BOM, zero-width space,
//     controls) are skipped as a spreadsheet may skip them, is prefixed
//     with a single quote, so that a spreadsheet shows it as text instead
//     of evaluating it as a formula.
//
// The CSV export also quotes every cell, so that a value such as "x;=cmd"
// stays one cell in a spreadsheet that splits columns at semicolons. The
// NDJSON export is exact; use it where the values must survive unchanged.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	formula := s[0] == '\t' || s[0] == '\r'
	if t := strings.TrimLeftFunc(s, invisible); t != "" {
		switch r, _ := utf8.DecodeRuneInString(t); r {
		case '=', '+', '-', '@', '＝', '＋', '－', '＠':
			formula = true
		}
	}
	if strings.IndexFunc(s, controlChar) >= 0 {
		s = strings.Map(func(r rune) rune {
			if controlChar(r) {
				return utf8.RuneError
			}
			return r
		}, s)
	}
	if formula {
		return "'" + s
	}
	return s
}

// controlChar reports whether SafeCell replaces r.
func controlChar(r rune) bool {
	return r < 0x20 && r != '\t' || r == 0x7F || r == 0x2028 || r == 0x2029 || safetext.Unsafe(r)
}

// invisible reports whether a spreadsheet may skip r before a formula.
func invisible(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError
}

// readable makes r encodable when its Details or Changes are not JSON: a
// record that entered the store around every door (an unsealable record,
// see docs/operations.md). Such a value is served as a JSON string of the
// text stored, so that one record does not make a page, a lookup or an
// export fail, and the reader sees what is there.
func readable(r *audit.Record) {
	for _, j := range []*json.RawMessage{&r.Details, &r.Changes} {
		if len(*j) > 0 && !json.Valid(*j) {
			*j, _ = json.Marshal(string(*j)) // a string always encodes
		}
	}
}
