package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

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
	const maxAttempts = 5
	for attempt := 1; ; attempt++ {
		err = db.migrateOnce(ctx, component, migrations)
		if err == nil || attempt == maxAttempts || !raceWithOtherMigrator(err) {
			return err
		}
		select { // another role created the same object at the same moment; look again
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
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
		for _, stmt := range strings.Split(string(body), ";\n") {
			if s := strings.TrimSpace(stmt); s != "" && !onlyComments(s) {
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

func onlyComments(stmt string) bool {
	for _, line := range strings.Split(stmt, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}

func (db *DB) migrateOnce(ctx context.Context, component string, migrations []migration) error {
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT        NOT NULL,
		version    INT8        NOT NULL,
		name       TEXT        NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
		CONSTRAINT schema_migrations_pkey PRIMARY KEY (component, version))`); err != nil {
		return fmt.Errorf("migrate %s: create schema_migrations: %w", component, err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT version FROM schema_migrations WHERE component = $1`, component)
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
			if _, err := db.Pool.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s %d_%s: %w", component, m.version, m.name, err)
			}
		}
		if _, err := db.Pool.Exec(ctx, `INSERT INTO schema_migrations (component, version, name)
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
