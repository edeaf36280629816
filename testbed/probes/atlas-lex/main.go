// atlas-lex-probe prints the statements Atlas 1.2.3 (go.mod; the release the production image
// runs) sends to PostgreSQL for each migration file, as `atlas migrate apply` splits them:
// the executor calls migrate.FileStmtDecls(drv, f) with the PostgreSQL driver and a
// *migrate.LocalFile, which uses the driver's own scanner (postgres.Driver.ScanStmts: BEGIN
// blocks, BEGIN ATOMIC, dollar quotes, E'' strings), not the generic migrate.Stmts.
// Requests and answers: see package lexprobe. The library's exported API only.
package main

import (
	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"

	"local/atlas-lex-probe/lexprobe"
)

func main() {
	// Open returns a *postgres.Driver for PostgreSQL (CockroachDB aside); ScanStmts reads no
	// connection state, so the zero value splits exactly as a connected one.
	var drv migrate.Driver = &postgres.Driver{}
	lexprobe.Run(func(f *migrate.LocalFile) ([]*migrate.Stmt, error) {
		return migrate.FileStmtDecls(drv, f)
	})
}
