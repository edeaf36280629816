// Package probe connects through one PostgreSQL driver and reports what the server says the
// session is: the tests' oracle for how that driver reads a connection string and an sslmode.
//
// Input: one JSON object a line on stdin, {"dsn": "..."}. Output: one JSON line each.
package probe

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"time"
)

type request struct {
	DSN string `json:"dsn"`
}

// Result is the session the server reports, or the driver's error.
type Result struct {
	OK       bool   `json:"ok"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	SSL      bool   `json:"ssl"`
	Error    string `json:"error,omitempty"`
}

// Open opens a connection the way a program linking the driver does.
type Open func(ctx context.Context, dsn string) (*sql.Conn, error)

func run(open Open, dsn string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := open(ctx, dsn)
	if err != nil {
		return Result{Error: err.Error()}
	}
	defer conn.Close()
	var r Result
	err = conn.QueryRowContext(ctx, `SELECT current_user, current_database(),
		coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)`,
	).Scan(&r.User, &r.Database, &r.SSL)
	if err != nil {
		return Result{Error: err.Error()}
	}
	r.OK = true
	return r
}

// Serve answers every request line on stdin.
func Serve(open Open) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req request
		r := Result{}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			r.Error = "probe: " + err.Error()
		} else {
			r = run(open, req.DSN)
		}
		if err := out.Encode(r); err != nil {
			os.Exit(1)
		}
	}
}
