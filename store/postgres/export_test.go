package postgres

import "github.com/trailmark/audit"

// QueryText returns the statement and arguments that s.Query(ctx, f)
// sends.
func QueryText(s *Store, f audit.Filter) (string, []any) {
	return buildQuery(s.sql.query, &f, f.PageSize()+1)
}

// LikePrefix is likePrefix, for tests.
var LikePrefix = likePrefix
