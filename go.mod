module github.com/trailmark/audit

go 1.26.0

require (
	github.com/DATA-DOG/go-sqlmock v1.5.2
	github.com/felixge/httpsnoop v1.1.0
	github.com/google/uuid v1.6.0
	github.com/jmoiron/sqlx v1.4.0
	github.com/lib/pq v1.12.3
	go.uber.org/goleak v1.3.0
)

require golang.org/x/text v0.44.0

require golang.org/x/crypto v0.59.0
