package projections

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ordersaga/ordersaga"
)

// TestReadErrorsSayWhetherToRetry: an unreachable database and a serialization failure
// are EUNAVAILABLE (retry), a failed statement EINTERNAL, a cancelled caller its own error.
func TestReadErrorsSayWhetherToRetry(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&pgconn.ConnectError{}, ordersaga.EUNAVAILABLE},
		{&pgconn.PgError{Code: "40001"}, ordersaga.EUNAVAILABLE},
		{&pgconn.PgError{Code: "42P01"}, ordersaga.EINTERNAL},
	} {
		if got := ordersaga.ErrorCode(readError(c.err)); got != c.want {
			t.Errorf("readError(%v) has code %s, want %s", c.err, got, c.want)
		}
	}
	if got := readError(context.Canceled); got != context.Canceled {
		t.Errorf("a cancelled read came back as %v", got)
	}
}
