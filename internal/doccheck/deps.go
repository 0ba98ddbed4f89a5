//go:build doccheck

package doccheck

// The packages the documented examples import, so that this module
// requires them and the examples compile here.
import (
	_ "compress/gzip"

	_ "github.com/jmoiron/sqlx"
	_ "github.com/nats-io/nats.go"
	_ "go.opentelemetry.io/otel/metric"

	_ "github.com/trailmark/audit"
	_ "github.com/trailmark/audit/api"
	_ "github.com/trailmark/audit/auditslog"
	_ "github.com/trailmark/audit/middleware"
	_ "github.com/trailmark/audit/ocsf"
	_ "github.com/trailmark/audit/otelaudit"
	_ "github.com/trailmark/audit/siem"
	_ "github.com/trailmark/audit/spool"
	_ "github.com/trailmark/audit/store/jetstream"
	_ "github.com/trailmark/audit/store/memory"
	_ "github.com/trailmark/audit/store/postgres"
	_ "github.com/trailmark/audit/store/sqlite"
	_ "github.com/trailmark/audit/storekit"
	_ "github.com/trailmark/audit/storetest"
	_ "github.com/trailmark/audit/viewer"
)
