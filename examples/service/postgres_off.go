//go:build nopostgres

package main

import (
	"context"
	"errors"
)

// openPostgres reports that this build leaves PostgreSQL out.
func openPostgres(context.Context, string) (backend, func(context.Context) error, error) {
	return nil, nil, errors.New("audit: example: built with -tags nopostgres; unset DATABASE_URL to use the memory store")
}
