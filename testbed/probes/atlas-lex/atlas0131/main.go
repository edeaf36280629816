// The same probe against Atlas 0.13.1 (the test bed's binary), built with
// -modfile=atlas-0.13.1.mod. That release has no driver scanner: the executor splits a file
// with LocalFile.StmtDecls (migrate.Stmts, the generic lexer).
package main

import (
	"ariga.io/atlas/sql/migrate"

	"local/atlas-lex-probe/lexprobe"
)

func main() {
	lexprobe.Run(func(f *migrate.LocalFile) ([]*migrate.Stmt, error) {
		return f.StmtDecls()
	})
}
