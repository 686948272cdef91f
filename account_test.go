package ordersaga_test

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// accountStream returns n events of a customer stream: credits, debits, refunds and, now
// and then, an event that does not move the balance.
func accountStream(rng *rand.Rand, n int) []ordersaga.RecordedEvent {
	types := []string{ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded, "account-noted"}
	events := make([]ordersaga.RecordedEvent, n)
	for i := range events {
		typ := types[rng.IntN(len(types))]
		if i == 0 {
			typ = ordersaga.EventAccountCredited
		}
		data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: "c", Amount: rng.Int64N(1000) + 1, Currency: "EUR"})
		events[i] = ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "customer-c", Version: int64(i + 1), Type: typ, Data: data}
	}
	return events
}

// sameAccount fails unless got and want have the same balance, currency and version and
// tell the same about every event of the stream (and about an unknown one).
func sameAccount(t *testing.T, what string, got, want ordersaga.Account, stream []ordersaga.RecordedEvent) {
	t.Helper()
	if got.Balance != want.Balance || got.Currency != want.Currency || got.Version != want.Version || got.CustomerID != want.CustomerID {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
	for _, e := range append(stream, ordersaga.RecordedEvent{ID: uuid.New()}) {
		if got.Contains(e.ID) != want.Contains(e.ID) {
			t.Fatalf("%s: Contains(event %d) = %v, want %v", what, e.Version, got.Contains(e.ID), want.Contains(e.ID))
		}
	}
}

// TestExtendingAFoldMatchesFoldingAtOnce folds streams in two steps, from every prefix,
// and checks each result against one fold of the whole stream; the fold extended from
// stays as it was, although the two share their record of event ids.
func TestExtendingAFoldMatchesFoldingAtOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20 {
		stream := accountStream(rng, 1+rng.IntN(40))
		whole, err := ordersaga.FoldAccount("c", stream)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k <= len(stream); k++ {
			prefix, err := ordersaga.FoldAccount("c", stream[:k])
			if err != nil {
				t.Fatal(err)
			}
			before, _ := ordersaga.FoldAccount("c", stream[:k])
			extended, err := prefix.Extend(stream[k:])
			if err != nil {
				t.Fatal(err)
			}
			sameAccount(t, "extended", extended, whole, stream)
			sameAccount(t, "the fold extended from", prefix, before, stream)
			again, err := prefix.Extend(stream[k:])
			if err != nil {
				t.Fatal(err)
			}
			sameAccount(t, "extended twice from the same fold", again, whole, stream)
		}
	}
	if whole, _ := ordersaga.FoldAccount("c", nil); whole.Version != 0 || whole.Balance != 0 || whole.Contains(uuid.New()) {
		t.Errorf("empty account = %+v", whole)
	}
}

// TestExtendRefusesEventsThatDoNotFollow checks that a fold is only extended by the very
// next versions: a gap or a repeat is an error, not a wrong balance.
func TestExtendRefusesEventsThatDoNotFollow(t *testing.T) {
	stream := accountStream(rand.New(rand.NewPCG(1, 2)), 5)
	prefix, err := ordersaga.FoldAccount("c", stream[:2])
	if err != nil {
		t.Fatal(err)
	}
	for name, events := range map[string][]ordersaga.RecordedEvent{"gap": stream[3:], "repeat": stream[1:]} {
		if _, err := prefix.Extend(events); err == nil {
			t.Errorf("%s: Extend accepted versions %d.. after version %d", name, events[0].Version, prefix.Version)
		}
	}
}
