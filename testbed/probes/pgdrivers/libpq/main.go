// Command libpq is the probe for lib/pq, the driver inside Atlas. go.mod pins the version
// production's Atlas image pins; pq-1.10.7.mod the one inside the test bed's Atlas 0.13.1.
package main

import (
	"context"
	"database/sql"

	"github.com/lib/pq"

	"local/pgdrivers/probe"
)

func main() {
	probe.Serve(func(ctx context.Context, dsn string) (*sql.Conn, error) {
		connector, err := pq.NewConnector(dsn)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(connector).Conn(ctx)
	})
}
