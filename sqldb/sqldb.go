// Package sqldb connects to CockroachDB or PostgreSQL and runs retried SERIALIZABLE
// transactions on either.
//
// Every transaction goes through cockroach-go's crdb.ExecuteInTx retry loop. On CockroachDB
// that loop is used exactly as crdbpgxv5.ExecuteTx uses it (the SAVEPOINT cockroach_restart
// protocol). PostgreSQL has no such protocol: there, RELEASE of that savepoint does not
// commit, a serialization failure raised by COMMIT would be ignored, and rolling back to the
// savepoint keeps the transaction's stale snapshot, so a retry could never succeed. On
// PostgreSQL this package therefore translates the protocol: RELEASE commits for real (so a
// commit-time 40001 is seen and retried) and a restart begins a fresh transaction.
package sqldb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// DB is a connection pool that knows which database product it talks to. Every statement
// goes through InTx or InStatement (or Exec and QueryRow, which use InStatement), so every
// one of them is retried on serialization failures; the pool itself is not exposed.
type DB struct {
	pool *pgxpool.Pool
	// CockroachDB is true when the server is CockroachDB rather than PostgreSQL.
	CockroachDB bool

	retries atomic.Int64
	meters  metric.MeterProvider
	tracers trace.TracerProvider
}

// Meters is the meter provider of Config, for the components built on this database (a
// no-op one when none was given).
func (db *DB) Meters() metric.MeterProvider { return db.meters }

// Tracers is the tracer provider of Config, for the components built on this database (a
// no-op one when none was given).
func (db *DB) Tracers() trace.TracerProvider { return db.tracers }

// Retries returns how many transaction attempts InTx has repeated since Open, a measure of
// contention.
func (db *DB) Retries() int64 { return db.retries.Load() }

// Config says how to connect.
type Config struct {
	// URL is a libpq connection string or postgres:// URL.
	URL string
	// MaxConns caps the pool size; 0 keeps pgx's default (max(4, number of CPUs)).
	MaxConns int32
	// Meters, when set, receive the pool's statistics and every statement's duration
	// (otelpgx), and the store's and projections' own metrics.
	Meters metric.MeterProvider
	// Tracers, when set, trace every statement as a span of the caller's trace (otelpgx).
	Tracers trace.TracerProvider
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("sqldb: database URL is required")
	}
	if c.MaxConns < 0 {
		return errors.New("sqldb: MaxConns must not be negative")
	}
	return nil
}

// Open connects, checks the connection and detects the product. Every session defaults to
// SERIALIZABLE isolation, the isolation CockroachDB always uses.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("sqldb: parse database URL: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	pcfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "serializable"
	db := &DB{meters: cfg.Meters, tracers: cfg.Tracers}
	if db.meters == nil {
		db.meters = metricnoop.NewMeterProvider()
	}
	if db.tracers == nil {
		db.tracers = tracenoop.NewTracerProvider()
	}
	if cfg.Meters != nil || cfg.Tracers != nil {
		// A span per statement, named by its first words; not the whole text (the append
		// statement alone is a few kilobytes), nor a span per pool acquire: they made
		// tracing cost more than the statements (docs/benchmarks.md).
		pcfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(db.tracers), otelpgx.WithMeterProvider(db.meters),
			otelpgx.WithSpanNameFunc(statementName), otelpgx.WithDisableSQLStatementInAttributes(),
			otelpgx.WithDisableAcquireTracer(), otelpgx.WithDisableConnectionDetailsInAttributes())
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("sqldb: connect: %w", err)
	}
	var version string
	if err := pool.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqldb: connect to %s: %w", pcfg.ConnConfig.Host, err)
	}
	if cfg.Meters != nil {
		if err := otelpgx.RecordStats(pool, otelpgx.WithStatsMeterProvider(cfg.Meters)); err != nil {
			pool.Close()
			return nil, fmt.Errorf("sqldb: pool statistics: %w", err)
		}
	}
	db.pool, db.CockroachDB = pool, strings.Contains(version, "CockroachDB")
	return db, nil
}

// Close closes the pool.
func (db *DB) Close() { db.pool.Close() }

// serializable are the options of every transaction this package begins.
var serializable = pgx.TxOptions{IsoLevel: pgx.Serializable}

// InTx runs fn in a SERIALIZABLE transaction and commits it, retrying the whole transaction
// on serialization failures (SQLSTATE 40001) through crdb.ExecuteInTx. fn may run several
// times: it must touch only the database and wrap errors with %w so that a retryable error
// stays recognisable.
func (db *DB) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	attempts := 0
	counted := func(tx pgx.Tx) error {
		if attempts++; attempts > 1 {
			db.retries.Add(1)
		}
		return fn(tx)
	}
	if db.CockroachDB {
		return crdbpgx.ExecuteTx(ctx, db.pool, serializable, counted)
	}
	tx, err := db.pool.BeginTx(ctx, serializable)
	if err != nil {
		return err
	}
	pt := &postgresTx{begin: db.pool.BeginTx, tx: tx}
	return crdb.ExecuteInTx(ctx, pt, func() error { return counted(pt.tx) })
}

// Querier sends a statement: the pool (outside a transaction) or a pgx.Tx.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InStatement runs fn, which sends exactly one statement and reads its result, as a
// transaction of its own, through crdb.ExecuteInTx's retry loop like InTx. The statement
// goes to the pool, outside an explicit transaction, so the server commits it in the same
// round trip (at the connections' SERIALIZABLE default): one round trip instead of the
// three of BEGIN, statement and COMMIT. A serialization failure (40001) makes the loop run
// fn again, after the same short backoff as InTx's restarts; CockroachDB retries most of
// them itself before they reach us. fn may run several times and must wrap errors with %w.
func (db *DB) InStatement(ctx context.Context, fn func(Querier) error) error {
	attempts := 0
	return crdb.ExecuteInTx(ctx, &statementTx{}, func() error {
		if attempts++; attempts > 1 {
			db.retries.Add(1)
		}
		return fn(db.pool)
	})
}

// Exec runs one statement as its own transaction, retried like InStatement, and returns
// its command tag.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := db.InStatement(ctx, func(q Querier) (err error) {
		tag, err = q.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

// QueryRow returns a one-row read whose Scan runs it as its own transaction, retried like
// InStatement. pgx.ErrNoRows comes back from Scan as from pgx.
func (db *DB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retriedRow{db: db, ctx: ctx, sql: sql, args: args}
}

type retriedRow struct {
	db   *DB
	ctx  context.Context
	sql  string
	args []any
}

func (r retriedRow) Scan(dest ...any) error {
	return r.db.InStatement(r.ctx, func(q Querier) error { return q.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...) })
}

// statementTx is the crdb.Tx of a transaction that is a single statement: the server has
// committed it (or rolled it back) by the time fn returns, so of crdb's savepoint protocol
// only the restart remains, which waits before fn runs again.
type statementTx struct{ restarts int }

var _ crdb.Tx = (*statementTx)(nil)

// Exec implements crdb.Tx; crdb.ExecuteInTx only sends it the savepoint statements.
func (s *statementTx) Exec(ctx context.Context, sql string, _ ...any) error {
	switch sql {
	case "SAVEPOINT cockroach_restart", "RELEASE SAVEPOINT cockroach_restart":
		return nil
	case "ROLLBACK TO SAVEPOINT cockroach_restart":
		s.restarts++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(restartBackoff(s.restarts)):
			return nil
		}
	}
	return fmt.Errorf("sqldb: unexpected %q in a single-statement transaction", sql)
}

// Commit implements crdb.Tx: the statement committed itself.
func (s *statementTx) Commit(context.Context) error { return nil }

// Rollback implements crdb.Tx: a failed statement rolled itself back.
func (s *statementTx) Rollback(context.Context) error { return nil }

// postgresTx adapts crdb's SAVEPOINT cockroach_restart protocol to PostgreSQL semantics.
//
// Before a restart it waits a short, growing, jittered time. PostgreSQL's SSI tracks reads
// of B-tree indexes per page, so transactions touching neighbouring keys can abort each
// other although they never conflict logically; retrying at once lets the same
// transactions collide again and again, while spreading the retries out resolves it.
type postgresTx struct {
	begin     func(context.Context, pgx.TxOptions) (pgx.Tx, error)
	tx        pgx.Tx
	committed bool
	restarts  int
}

// restartBackoff returns how long to wait before restart n (1, 2, ...): from 0.5–1.5 ms,
// doubling, up to 50–150 ms.
func restartBackoff(n int) time.Duration {
	base := time.Millisecond << min(n-1, 7)
	base = min(base, 100*time.Millisecond)
	return base/2 + rand.N(base)
}

var _ crdb.Tx = (*postgresTx)(nil)

// Exec implements crdb.Tx; crdb.ExecuteInTx only sends it the savepoint statements.
func (p *postgresTx) Exec(ctx context.Context, sql string, args ...any) error {
	switch sql {
	case "SAVEPOINT cockroach_restart":
		return nil // a restart begins a new transaction instead
	case "RELEASE SAVEPOINT cockroach_restart":
		if err := p.tx.Commit(ctx); err != nil {
			return err
		}
		p.committed = true
		return nil
	case "ROLLBACK TO SAVEPOINT cockroach_restart":
		_ = p.tx.Rollback(ctx)
		p.restarts++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(restartBackoff(p.restarts)):
		}
		tx, err := p.begin(ctx, serializable)
		if err != nil {
			return err
		}
		p.tx = tx
		return nil
	}
	_, err := p.tx.Exec(ctx, sql, args...)
	return err
}

// Commit implements crdb.Tx. The commit already happened at RELEASE.
func (p *postgresTx) Commit(ctx context.Context) error {
	if p.committed {
		return nil
	}
	return p.tx.Commit(ctx)
}

// Rollback implements crdb.Tx.
func (p *postgresTx) Rollback(ctx context.Context) error {
	if p.committed {
		return nil
	}
	return p.tx.Rollback(ctx)
}

// SQLState returns the SQLSTATE code of the first PostgreSQL error in err's chain, or "".
func SQLState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Unreachable reports whether err means the database could not be reached or went away
// (connection failures, server shutdown, too many connections), as opposed to a failed
// statement.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	state := SQLState(err)
	switch {
	case state == "":
		var connErr *pgconn.ConnectError
		return errors.As(err, &connErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
			errors.Is(err, pgx.ErrTxClosed) || isNetError(err)
	case strings.HasPrefix(state, "08"), // connection exception
		strings.HasPrefix(state, "53"),                       // insufficient resources
		state == "57P01", state == "57P02", state == "57P03": // shutdown, cannot connect now
		return true
	}
	return false
}

// passwordParam matches the password of a keyword/value connection string.
var passwordParam = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns the connection string url with its password hidden, for logs and
// banners: a postgres:// URL's user info, or a keyword/value string's password=.
func Redact(connString string) string {
	if u, err := url.Parse(connString); err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	return passwordParam.ReplaceAllString(connString, "${1}xxxxx")
}

// statementName names a statement's span: its first words, spaces collapsed, at most 60
// characters (the statements are constants, so the names are few).
func statementName(sql string) string {
	name := strings.Join(strings.Fields(sql), " ")
	if len(name) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + "…"
	}
	return name
}
