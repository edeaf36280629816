// gorm-oracle runs GORM AutoMigrate the way developers-italia-api does at startup
// (shared/design/app.md §1.1) against the database in $DATABASE_URL, and prints every SQL
// statement GORM executes as one JSON line on stdout: {"sql": "...", "rows": n, "error": "..."}.
//
// The models are our own declarations of the schema facts in app.md §1.3, one package per
// release whose schema changed. -release picks the set: v1.1.0 (also v1.0.0), v1.2.0,
// v1.3.0, v1.4.0 (= main, the default).
//
// Exit status: 0 when every step succeeded, 1 when a step failed (the failing statement is
// still printed, with its error), 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"local/gorm-oracle/models/r110"
	"local/gorm-oracle/models/r120"
	"local/gorm-oracle/models/r130"
	"local/gorm-oracle/models/r140"
)

const (
	softwareGIN = "CREATE INDEX IF NOT EXISTS idx_software_analysis_gin ON software USING GIN (analysis)"
	catalogsGIN = "CREATE INDEX IF NOT EXISTS idx_catalogs_analysis_gin ON catalogs USING GIN (analysis)"
)

type release struct {
	// models in the order the app passes them to AutoMigrate, one call each.
	models []any
	// log is migrated only when the probe `SELECT entity FROM logs LIMIT 1` fails.
	log any
	// hand-written statements run after AutoMigrate (Postgres only).
	raw []string
}

var releases = map[string]release{
	"v1.1.0": {
		models: []any{&r110.Publisher{}, &r110.Event{}, &r110.CodeHosting{}, &r110.Software{}, &r110.SoftwareURL{}, &r110.Webhook{}},
		log:    &r110.Log{},
	},
	"v1.2.0": {
		models: []any{&r120.Catalog{}, &r120.CatalogSource{}, &r120.Publisher{}, &r110.Event{}, &r110.CodeHosting{}, &r120.Software{}, &r110.SoftwareURL{}, &r110.Webhook{}},
		log:    &r110.Log{},
		raw:    []string{softwareGIN},
	},
	"v1.3.0": {
		models: []any{&r130.Catalog{}, &r120.CatalogSource{}, &r130.Publisher{}, &r110.Event{}, &r130.CodeHosting{}, &r130.Software{}, &r130.SoftwareURL{}, &r110.Webhook{}},
		log:    &r130.Log{},
		raw:    []string{softwareGIN},
	},
	"v1.4.0": {
		models: []any{&r140.Catalog{}, &r120.CatalogSource{}, &r130.Publisher{}, &r110.Event{}, &r130.CodeHosting{}, &r130.Software{}, &r130.SoftwareURL{}, &r110.Webhook{}},
		log:    &r130.Log{},
		raw:    []string{softwareGIN, catalogsGIN},
	},
}

// sqlLogger is a gorm logger that prints every traced statement as a JSON line.
type sqlLogger struct {
	mu  sync.Mutex
	enc *json.Encoder
}

type line struct {
	SQL   string `json:"sql"`
	Rows  int64  `json:"rows"`
	Error string `json:"error,omitempty"`
}

func (l *sqlLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l *sqlLogger) Info(context.Context, string, ...any)     {}
func (l *sqlLogger) Warn(context.Context, string, ...any)     {}
func (l *sqlLogger) Error(_ context.Context, msg string, args ...any) {
	fmt.Fprintf(os.Stderr, "gorm: "+msg+"\n", args...)
}
func (l *sqlLogger) Trace(_ context.Context, _ time.Time, fc func() (string, int64), err error) {
	sql, rows := fc()
	out := line{SQL: sql, Rows: rows}
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		out.Error = err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.enc.Encode(out)
}

func main() {
	name := flag.String("release", "v1.4.0", "model set: v1.1.0, v1.2.0, v1.3.0 or v1.4.0 (= main)")
	flag.Parse()
	rel, ok := releases[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "gorm-oracle: unknown release %q\n", *name)
		os.Exit(2)
	}
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		fmt.Fprintln(os.Stderr, "gorm-oracle: set DATABASE_URL")
		os.Exit(2)
	}
	if err := run(dsn, rel); err != nil {
		fmt.Fprintf(os.Stderr, "gorm-oracle: %v\n", err)
		os.Exit(1)
	}
}

func run(dsn string, rel release) error {
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: &sqlLogger{enc: json.NewEncoder(os.Stdout)}})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	defer sqlDB.Close()

	for _, m := range rel.models {
		if err := db.AutoMigrate(m); err != nil {
			return fmt.Errorf("automigrate %T: %w", m, err)
		}
	}
	// The GORM issue 5534 workaround: Log is migrated only while logs.entity cannot be read.
	rows, probeErr := db.Raw("SELECT entity FROM logs LIMIT 1").Rows()
	if probeErr == nil {
		_ = rows.Close()
	} else if err := db.AutoMigrate(rel.log); err != nil {
		return fmt.Errorf("automigrate %T: %w", rel.log, err)
	}
	for _, stmt := range rel.raw {
		if err := db.Exec(stmt).Error; err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}
