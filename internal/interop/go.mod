module github.com/trailmark/audit/internal/interop

go 1.26.0

replace github.com/trailmark/audit => ../..

require (
	filippo.io/torchwood v0.6.1
	github.com/trailmark/audit v0.0.0-00010101000000-000000000000
	github.com/transparency-dev/formats v0.1.1
	go.uber.org/goleak v1.3.0
	golang.org/x/mod v0.42.0
)

require (
	filippo.io/mldsa v0.0.0-20260215214346-43d0283efc3e // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/crypto v0.52.0 // indirect
	golang.org/x/sync v0.14.0 // indirect
)
