package sqldb

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestRestartBackoffGrowsWithinItsBounds: restart n waits between half and one and a half
// times a base of 1 ms doubling per restart, capped at 100 ms.
func TestRestartBackoffGrowsWithinItsBounds(t *testing.T) {
	for n, base := range map[int]time.Duration{1: time.Millisecond, 2: 2 * time.Millisecond, 4: 8 * time.Millisecond,
		7: 64 * time.Millisecond, 8: 100 * time.Millisecond, 1000: 100 * time.Millisecond} {
		for range 200 {
			if got := restartBackoff(n); got < base/2 || got >= base/2+base {
				t.Fatalf("restart %d waits %s, want [%s, %s)", n, got, base/2, base/2+base)
			}
		}
	}
}

// TestUnreachableTellsAnOutageFromAFailedStatement: connection failures, a server
// shutting down or out of connections are outages; a statement the server refused is not.
func TestUnreachableTellsAnOutageFromAFailedStatement(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nothing", nil, false},
		{"cannot connect", &pgconn.ConnectError{}, true},
		{"network", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"query canceled", &pgconn.PgError{Code: "57014"}, false},
		{"a plain error", errors.New("bug"), false},
	} {
		if got := Unreachable(c.err); got != c.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
