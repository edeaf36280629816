// Package lexprobe is the request loop shared by the atlas-lex probes: one JSON request a line
// on stdin ({"name": "...", "text": "..."}), one JSON answer a line on stdout, in order:
//
//	{"name": "...", "stmts": [{"pos": <byte offset in the file>, "text": "..."}], "txmode": [...]}
//	{"name": "...", "error": "<the lexer's error>", "txmode": [...]}
//
// "stmts" is always present (empty when the file holds no statement) unless "error" is.
// "txmode" is what the CLI's apply reads to choose a file's transaction mode:
// LocalFile.Directive("txmode"), the values of the directives in the file's header (null for none).
package lexprobe

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"ariga.io/atlas/sql/migrate"
)

type request struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

type stmt struct {
	Pos  int    `json:"pos"`
	Text string `json:"text"`
}

type answer struct {
	Name  string `json:"name"`
	Stmts []stmt `json:"stmts,omitempty"`
	Error string `json:"error,omitempty"`
	// Txmode is LocalFile.Directive("txmode").
	Txmode []string `json:"txmode"`
}

// Run answers every request with scan, the way one Atlas release splits a migration file.
func Run(scan func(f *migrate.LocalFile) ([]*migrate.Stmt, error)) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<20), 64<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			fmt.Fprintf(os.Stderr, "bad request: %v\n", err)
			os.Exit(2)
		}
		if err := enc.Encode(answerFor(req, scan)); err != nil {
			fmt.Fprintf(os.Stderr, "write: %v\n", err)
			os.Exit(2)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "read: %v\n", err)
		os.Exit(2)
	}
}

func answerFor(req request, scan func(f *migrate.LocalFile) ([]*migrate.Stmt, error)) (a answer) {
	a.Name = req.Name
	// A panic in the lexer is an answer too (the CLI would fail the file with it).
	defer func() {
		if r := recover(); r != nil {
			a.Stmts, a.Error = nil, fmt.Sprintf("panic: %v", r)
		}
	}()
	f := migrate.NewLocalFile(req.Name, []byte(req.Text))
	a.Txmode = f.Directive("txmode")
	stmts, err := scan(f)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	a.Stmts = make([]stmt, 0, len(stmts))
	for _, s := range stmts {
		a.Stmts = append(a.Stmts, stmt{Pos: s.Pos, Text: s.Text})
	}
	return a
}
