package eventstore

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ordersaga/ordersaga"
)

// TestStoreErrorsBecomeApplicationErrors maps each kind of database failure: nothing
// stays nothing, a cancelled caller gets its own error back, an application error passes
// unchanged, a serialization failure and an unreachable server are EUNAVAILABLE (retry),
// a value the database cannot hold is EINVALID, and anything else EINTERNAL.
func TestStoreErrorsBecomeApplicationErrors(t *testing.T) {
	conflict := ordersaga.Errorf(ordersaga.ECONFLICT, "stale")
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"none", nil, ""},
		{"conflict", fmt.Errorf("append: %w", conflict), ordersaga.ECONFLICT},
		{"serialization failure", &pgconn.PgError{Code: "40001"}, ordersaga.EUNAVAILABLE},
		{"not UTF-8", &pgconn.PgError{Code: "22021"}, ordersaga.EINVALID},
		{"a bug", &pgconn.PgError{Code: "42703"}, ordersaga.EINTERNAL},
		{"unreachable", &pgconn.ConnectError{}, ordersaga.EUNAVAILABLE},
	} {
		got := storeError("append", c.err)
		if code := ordersaga.ErrorCode(got); code != c.want {
			t.Errorf("%s: storeError(%v) has code %q, want %q", c.name, c.err, code, c.want)
		}
	}
	if got := storeError("append", context.Canceled); got != context.Canceled {
		t.Errorf("a cancelled caller got %v, want context.Canceled itself", got)
	}
	if got := storeError("append", conflict); !errors.Is(got, conflict) || got.Error() != conflict.Error() {
		t.Errorf("an application error came back as %v, want it unchanged", got)
	}
}
