package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/trailmark/audit/otelaudit"
)

// telemetry is the service's OpenTelemetry metrics, exposed to Prometheus
// at GET /metrics through the OpenTelemetry Prometheus exporter.
type telemetry struct {
	audit    *otelaudit.Metrics // the audit pipeline's instruments
	provider *sdkmetric.MeterProvider
	handler  http.Handler // GET /metrics
}

// newTelemetry builds a MeterProvider whose reader is the Prometheus
// exporter, registered on a registry of its own (not the global one, so
// that several apps in one process, as in tests, do not collide), and
// the audit instruments on it. A real service would pass its own
// MeterProvider, the one its other instruments use.
func newTelemetry() (*telemetry, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	m, err := otelaudit.New(&otelaudit.Options{MeterProvider: mp})
	if err != nil {
		mp.Shutdown(context.Background())
		return nil, err
	}
	return &telemetry{audit: m, provider: mp, handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}, nil
}

func (t *telemetry) close(ctx context.Context) error {
	return errors.Join(t.audit.Close(ctx), t.provider.Shutdown(ctx))
}
