package payments_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/payments"
)

// TestSnapshotDifferencesSaysHowASnapshotDiffersFromItsStream compares snapshots of a
// three-event account (credit 500, debit 200, refund 200 of EUR) with its stream: true
// ones at every version, the last included, differ in nothing; another balance, another
// currency, a version past the stream, a state that does not decode, and a stream that
// does not fold up to the snapshot are each named.
func TestSnapshotDifferencesSaysHowASnapshotDiffersFromItsStream(t *testing.T) {
	stream := []ordersaga.RecordedEvent{
		accountEvent(1, ordersaga.EventAccountCredited, 500, "EUR"),
		accountEvent(2, ordersaga.EventAccountDebited, 200, "EUR"),
		accountEvent(3, ordersaga.EventAccountRefunded, 200, "EUR"),
	}
	snap := func(version int64, state string) ordersaga.Snapshot {
		return ordersaga.Snapshot{Stream: "customer-c", Version: version, State: []byte(state)}
	}
	for version, balance := range map[int64]int64{1: 500, 2: 300, 3: 500} {
		state, _ := json.Marshal(map[string]any{"currency": "EUR", "balance": balance})
		if diff := payments.SnapshotDifferences("c", snap(version, string(state)), stream); diff != "" {
			t.Errorf("a true snapshot of version %d: %q, want no difference", version, diff)
		}
	}
	broken := append(stream[:1:1], accountEvent(2, ordersaga.EventAccountDebited, 0, "EUR"))
	for _, c := range []struct {
		name     string
		snapshot ordersaga.Snapshot
		events   []ordersaga.RecordedEvent
		want     string
	}{
		{"another balance", snap(2, `{"currency":"EUR","balance":301}`), stream, "snapshot of version 2 holds 301 EUR, the stream up to it 300 EUR"},
		{"another currency", snap(2, `{"currency":"USD","balance":300}`), stream, "snapshot of version 2 holds 300 USD, the stream up to it 300 EUR"},
		{"past the stream", snap(4, `{"currency":"EUR","balance":500}`), stream, "snapshot of version 4, ahead of the stream's 3"},
		{"not an account", snap(2, `"x"`), stream, "snapshot of version 2 does not decode"},
		{"a stream that does not fold", snap(2, `{"currency":"EUR","balance":500}`), broken, "the stream up to the snapshot's version 2 does not fold"},
	} {
		if diff := payments.SnapshotDifferences("c", c.snapshot, c.events); !strings.HasPrefix(diff, c.want) {
			t.Errorf("%s: %q, want %q", c.name, diff, c.want)
		}
	}
}

// accountEvent is an account entry at version of customer c's stream.
func accountEvent(version int64, typ string, amount int64, currency string) ordersaga.RecordedEvent {
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: "c", Amount: amount, Currency: currency})
	return ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "customer-c", Version: version, Type: typ, Data: data}
}
