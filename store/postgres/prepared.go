package postgres

import (
	"context"
	"database/sql"
	"sync"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/trailmark/audit"
)

// Prepared queries.
//
// Planning a query of the partitioned table costs PostgreSQL more than
// running it: the planner opens every partition and weighs each of its
// indexes, and the Store keeps the current month's, the coming months'
// and a default partition, each with ten indexes. For a page of 20
// records of one user out of a million that is some 0.4 ms of planning
// for 0.1 ms of execution, and it was most of the server's time under
// the admin API's load (docs/benchmarks.md). A prepared statement is
// planned generically once per connection, after five executions, when
// PostgreSQL finds the generic plan no worse than the custom ones; it
// also saves the Parse round trip of every query.
//
// A generic plan is chosen without the parameters' values, so only the
// queries whose best plan does not depend on them are prepared: those
// that look up one identity (a user, a tenant, a tenant's user, a
// request, a trace, a resource by its type and id), by the index that
// leads with it, or no value at all; with or without a time range and a
// cursor. The others are planned for their values each time: an
// equality on a column of few values (status, resource type, action), an
// action prefix or a resource id alone, where a common value is best read
// one way and a rare one another (a generic plan would pick one for all:
// an action prefix matching half of the table once read every row), and
// two identities at once, where the rarer one's index is the one to read.

// maxPrepared bounds the statements a Store keeps prepared. Each is
// prepared on each connection that runs it, and each page size is a
// statement of its own; queries beyond the bound are not prepared.
const maxPrepared = 64

// prepared holds a Store's prepared statements, by query text.
type prepared struct {
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

// preparable reports whether a page query for f is prepared: whether its
// best plan is the same for any values of its parameters.
func preparable(f *audit.Filter) bool {
	if f.Action != "" || f.ActionPrefix != "" || f.Status != "" || f.After != "" {
		return false
	}
	if (f.ResourceType == "") != (f.ResourceID == "") {
		// a type alone has few values, served by the primary key or not;
		// an id alone is read by an index that is not in time order, then
		// sorted, or in time order, filtered, as it is rare or common
		return false
	}
	identities := 0
	for _, set := range []bool{f.UserID != "" || f.TenantID != "", f.RequestID != "", f.TraceID != "", f.ResourceID != ""} {
		if set {
			identities++
		}
	}
	return identities <= 1
}

// query runs q with args: through a statement prepared on the Store's
// pool when prepare is true and the Store prepares queries, as a plain
// query otherwise.
func (s *Store) query(ctx context.Context, prepare bool, q string, args ...any) (*sql.Rows, error) {
	if !prepare || s.cfg.unprepared {
		return s.db.QueryContext(ctx, q, args...)
	}
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, q, args...)
	}
	rows, err := st.QueryContext(ctx, args...)
	if s.lost(q, st, err) {
		return s.db.QueryContext(ctx, q, args...)
	}
	return rows, err
}

// exec runs the statement q with args, prepared on the Store's pool
// unless the Store is Unprepared (or keeps maxPrepared statements
// already).
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if !s.cfg.unprepared {
		st, err := s.stmt(ctx, q)
		if err != nil {
			return nil, err
		}
		if st != nil {
			res, err := st.ExecContext(ctx, args...)
			if !s.lost(q, st, err) {
				return res, err
			}
		}
	}
	return s.db.ExecContext(ctx, q, args...)
}

// lost reports whether the statement st of q failed with err because it
// is no longer usable, and the caller should run q plain instead (only
// queries, and statements that may run twice, come here):
//
//   - the server no longer knows st on the connection it ran on (SQLSTATE
//     26000: a DISCARD ALL or DEALLOCATE by other code on a pool given to
//     New, or a pooler that does not keep prepared statements). It ran
//     nothing then. st is forgotten and closed, so that the next call
//     prepares q again rather than failing on that connection for good;
//   - another caller forgot st so meanwhile, or the Store was closed:
//     st may have been closed under this call.
func (s *Store) lost(q string, st *sql.Stmt, err error) bool {
	if err == nil {
		return false
	}
	discarded := pq.As(err, pqerror.InvalidSQLStatementName) != nil
	p := &s.prepared
	p.mu.Lock()
	current := p.stmts[q] == st
	if discarded && current {
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	if discarded && current {
		st.Close()
	}
	return discarded || !current
}

// stmt returns the prepared statement of q, preparing it if needed, or
// nil when the Store keeps maxPrepared statements already or is closed.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	p := &s.prepared
	p.mu.Lock()
	st, ok := p.stmts[q]
	full := p.closed || len(p.stmts) >= maxPrepared
	p.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.stmts[q]; ok || p.closed || len(p.stmts) >= maxPrepared {
		// another caller prepared it meanwhile, or no room: this one
		// runs once and goes
		st.Close()
		if ok {
			return prev, nil
		}
		return nil, nil
	}
	if p.stmts == nil {
		p.stmts = map[string]*sql.Stmt{}
	}
	p.stmts[q] = st
	return st, nil
}

// close closes the prepared statements; later queries are not prepared.
func (p *prepared) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for q, st := range p.stmts {
		st.Close()
		delete(p.stmts, q)
	}
}
