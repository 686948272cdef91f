package ordersaga_test

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
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

// sameAccount fails unless got and want are the same account.
func sameAccount(t *testing.T, what string, got, want ordersaga.Account) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: %+v, want %+v", what, got, want)
	}
}

// TestExtendingAFoldMatchesFoldingAtOnce folds streams in two steps, from every prefix,
// and checks each result against one fold of the whole stream (what a snapshot or a
// cached fold extended with what came after gives); the fold extended from stays as it
// was.
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
			sameAccount(t, "extended", extended, whole)
			sameAccount(t, "the fold extended from", prefix, before)
			again, err := prefix.Extend(stream[k:])
			if err != nil {
				t.Fatal(err)
			}
			sameAccount(t, "extended twice from the same fold", again, whole)
		}
	}
	if whole, _ := ordersaga.FoldAccount("c", nil); whole.Version != 0 || whole.Balance != 0 || whole.Currency != "" {
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

// entry is one account event of the fold tests.
func entry(version int64, typ string, amount int64, currency string) ordersaga.RecordedEvent {
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: "c", Amount: amount, Currency: currency})
	return ordersaga.RecordedEvent{ID: uuid.New(), StreamID: "customer-c", Version: version, Type: typ, Data: data}
}

// TestAFoldRefusesWhatCannotBeTrue folds streams with one impossible entry after a credit:
// each fold fails, naming the problem, instead of adding it up.
func TestAFoldRefusesWhatCannotBeTrue(t *testing.T) {
	credit := entry(1, ordersaga.EventAccountCredited, 1000, "EUR")
	for _, c := range []struct {
		name string
		bad  ordersaga.RecordedEvent
		want string
	}{
		{"a credit of zero", entry(2, ordersaga.EventAccountCredited, 0, "EUR"), "must be positive"},
		{"a negative debit", entry(2, ordersaga.EventAccountDebited, -500, "EUR"), "must be positive"},
		{"a negative refund", entry(2, ordersaga.EventAccountRefunded, -1, "EUR"), "must be positive"},
		{"another currency", entry(2, ordersaga.EventAccountCredited, 5, "USD"), "on an account in EUR"},
		{"no currency", entry(2, ordersaga.EventAccountRefunded, 5, ""), "not a currency code"},
		{"a credit past 64 bits", entry(2, ordersaga.EventAccountCredited, math.MaxInt64-999, "EUR"), "overflow"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ordersaga.FoldAccount("c", []ordersaga.RecordedEvent{credit, c.bad})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("fold: %v, want an error saying %q", err, c.want)
			}
		})
	}
	if a, err := ordersaga.FoldAccount("c", []ordersaga.RecordedEvent{credit, entry(2, ordersaga.EventAccountCredited, math.MaxInt64-1000, "EUR")}); err != nil || a.Balance != math.MaxInt64 {
		t.Errorf("a credit up to the largest balance: %+v, %v", a, err)
	}
}

// TestAFoldAddsUpExactlyOrRefuses folds random streams with amounts of every size, some
// of them impossible: the fold succeeds exactly when every entry is positive, in the
// account's currency, and every running balance fits in 64 bits, and its balance is then
// the exact sum of credits and refunds minus debits.
func TestAFoldAddsUpExactlyOrRefuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 14))
	amounts := []func() int64{
		func() int64 { return rng.Int64N(1000) + 1 },
		func() int64 { return rng.Int64N(math.MaxInt64/3) + 1 },
		func() int64 { return math.MaxInt64 - rng.Int64N(10) },
		func() int64 { return -rng.Int64N(5) },
	}
	types := []string{ordersaga.EventAccountCredited, ordersaga.EventAccountDebited, ordersaga.EventAccountRefunded}
	for range 2000 {
		n := rng.IntN(8) + 1
		stream := make([]ordersaga.RecordedEvent, n)
		sum, possible, accountCurrency := new(big.Int), true, ""
		for i := range stream {
			typ, amount, currency := types[rng.IntN(len(types))], amounts[rng.IntN(len(amounts))](), "EUR"
			if rng.IntN(40) == 0 {
				currency = "USD"
			}
			stream[i] = entry(int64(i+1), typ, amount, currency)
			if typ == ordersaga.EventAccountDebited {
				sum.Sub(sum, big.NewInt(amount))
			} else {
				sum.Add(sum, big.NewInt(amount))
			}
			if i == 0 {
				accountCurrency = currency // the first entry fixes it
			}
			possible = possible && amount > 0 && currency == accountCurrency && sum.IsInt64()
		}
		a, err := ordersaga.FoldAccount("c", stream)
		if possible != (err == nil) {
			t.Fatalf("stream %v: fold error %v, but possible = %v", amountsOf(stream), err, possible)
		}
		if possible && a.Balance != sum.Int64() {
			t.Fatalf("stream %v: balance %d, want %s", amountsOf(stream), a.Balance, sum)
		}
	}
}

// amountsOf shows a stream's entries for a failure message.
func amountsOf(stream []ordersaga.RecordedEvent) []string {
	out := make([]string, len(stream))
	for i, e := range stream {
		out[i] = e.Type + " " + string(e.Data)
	}
	return out
}
