package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/jackc/pgx/v5"
)

// Migrate applies, in order, the migrations in dir of fsys that component has not applied
// yet, and records each in schema_migrations. Migration files are named
// "<version>_<name>.sql"; their statements are separated by a semicolon at the end of a line
// and must be idempotent (IF NOT EXISTS), so that roles starting at the same time may race
// to apply them. Each statement runs on its own: CockroachDB does not run schema changes
// reliably inside a transaction that also writes.
func (db *DB) Migrate(ctx context.Context, component string, fsys fs.FS, dir string) error {
	migrations, err := readMigrations(fsys, dir)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	// An up-to-date schema needs no statement that changes it, so that the long-running
	// roles can run as a user that may only read and write rows.
	if err := db.CheckMigrated(ctx, component, fsys, dir); err == nil {
		return nil
	}
	// Another role may create the same object at the same moment: then look again.
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	_, err = backoff.Retry(ctx, func() (struct{}, error) {
		err := db.migrateOnce(ctx, component, migrations)
		if err != nil && !raceWithOtherMigrator(err) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(5))
	return err
}

// ErrSchemaBehind is the error CheckMigrated wraps when the database's schema is older than
// the code's: run `ordersaga migrate` (or any long-running role) against it first.
var ErrSchemaBehind = errors.New("the database schema is behind this version of ordersaga; run `ordersaga migrate` first")

// CheckMigrated returns an error wrapping ErrSchemaBehind, naming the version the schema
// is at and the one needed, unless every migration in dir of fsys has been applied for
// component. It changes nothing: read-only tools (verify, rebuild, load) call it instead
// of Migrate.
func (db *DB) CheckMigrated(ctx context.Context, component string, fsys fs.FS, dir string) error {
	migrations, err := readMigrations(fsys, dir)
	if err != nil || len(migrations) == 0 {
		return fmt.Errorf("check schema of %s: %w", component, err)
	}
	need := migrations[len(migrations)-1].version
	var exists bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations')`).Scan(&exists); err != nil {
		return fmt.Errorf("check schema of %s: %w", component, err)
	}
	var have int
	if exists {
		if err := db.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1`, component).Scan(&have); err != nil {
			return fmt.Errorf("check schema of %s: %w", component, err)
		}
	}
	if have < need {
		return fmt.Errorf("%s schema is at version %d, this ordersaga needs version %d: %w", component, have, need, ErrSchemaBehind)
	}
	return nil
}

type migration struct {
	version    int
	name       string
	statements []string
}

func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration file %q is not named <version>_<name>.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		m := migration{version: version, name: name}
		for _, stmt := range strings.Split(withoutCommentLines(string(body)), ";\n") {
			if s := strings.TrimSpace(stmt); s != "" {
				m.statements = append(m.statements, s)
			}
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("two migrations have version %d", out[i].version)
		}
	}
	return out, nil
}

// withoutCommentLines drops the lines that are only a comment, so that a semicolon at the
// end of one does not split a statement.
func withoutCommentLines(body string) string {
	lines := strings.Split(body, "\n")
	kept := lines[:0]
	for _, line := range lines {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}

func (db *DB) migrateOnce(ctx context.Context, component string, migrations []migration) error {
	if _, err := db.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT        NOT NULL,
		version    INT8        NOT NULL,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		CONSTRAINT schema_migrations_pkey PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", component, err)
	}
	rows, err := db.pool.Query(ctx, `SELECT version FROM schema_migrations WHERE component = $1`, component)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	done := make(map[int64]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range migrations {
		if done[int64(m.version)] {
			continue
		}
		for _, stmt := range m.statements {
			if _, err := db.pool.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s %d_%s: %w", component, m.version, m.name, err)
			}
		}
		if _, err := db.pool.Exec(ctx, `INSERT INTO schema_migrations (component, version, name)
			VALUES ($1, $2, $3) ON CONFLICT (component, version) DO NOTHING`, component, m.version, m.name); err != nil {
			return fmt.Errorf("migrate %s %d_%s: record: %w", component, m.version, m.name, err)
		}
	}
	return nil
}

// raceWithOtherMigrator reports errors that PostgreSQL raises when two sessions create the
// same object at once despite IF NOT EXISTS.
func raceWithOtherMigrator(err error) bool {
	switch SQLState(err) {
	case "23505", "42P07", "42710", "40001":
		return true
	}
	return false
}
