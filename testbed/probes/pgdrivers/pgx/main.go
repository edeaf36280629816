// Command pgx is the probe for pgx, the API's driver, opened as GORM's PostgreSQL driver
// opens it (pgx.ParseConfig, then database/sql through pgx's stdlib).
package main

import (
	"context"
	"database/sql"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"local/pgdrivers/probe"
)

func main() {
	probe.Serve(func(ctx context.Context, dsn string) (*sql.Conn, error) {
		config, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, err
		}
		return stdlib.OpenDB(*config).Conn(ctx)
	})
}
