package ordersaga

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/google/uuid"
)

// Account is a customer's payment account, folded from the events of its stream.
type Account struct {
	CustomerID string
	// Currency is set by the first entry; every entry must use it.
	Currency string
	// Balance is in minor units; it never goes below zero.
	Balance int64
	// Version is the stream version the fold reached, the expected version of the next append.
	Version int64
	// ids says at which version each event seen so far sits, so that a retried debit or
	// refund can tell it already happened. Accounts extended from one another share it:
	// an event's version never changes, so an entry added by a later fold cannot mislead
	// an earlier one, which only counts entries up to its own Version.
	ids *eventVersions
}

// Contains reports whether the event with this id is part of the account.
func (a Account) Contains(id uuid.UUID) bool {
	_, ok := a.VersionOf(id)
	return ok
}

// VersionOf returns the version at which the event with this id sits in the account's
// stream, if it is part of the account.
func (a Account) VersionOf(id uuid.UUID) (int64, bool) {
	v, ok := a.ids.version(id)
	if !ok || v > a.Version {
		return 0, false
	}
	return v, true
}

// FoldAccount folds the events of a customer stream, in version order, into an Account.
func FoldAccount(customerID string, events []RecordedEvent) (Account, error) {
	a := Account{CustomerID: customerID, ids: &eventVersions{byID: make(map[uuid.UUID]int64, len(events))}}
	return a.Extend(events)
}

// Extend returns the account with events applied: the events that follow a.Version in its
// stream, in version order (none: a itself). Folding a stream in two steps gives the same
// account as folding it at once, so a fold kept from earlier needs only the events
// appended since. a itself is left as it was and stays usable.
func (a Account) Extend(events []RecordedEvent) (Account, error) {
	if a.ids == nil {
		a.ids = &eventVersions{byID: make(map[uuid.UUID]int64, len(events))}
	}
	for _, e := range events {
		if e.Version != a.Version+1 {
			return Account{}, fmt.Errorf("account %s: event %s has version %d, want %d", a.CustomerID, e.ID, e.Version, a.Version+1)
		}
		if err := a.apply(e); err != nil {
			return Account{}, fmt.Errorf("account %s version %d: %w", a.CustomerID, e.Version, err)
		}
	}
	return a, nil
}

func (a *Account) apply(e RecordedEvent) error {
	a.Version = e.Version
	a.ids.add(e.ID, e.Version)
	var entry AccountEntry
	switch e.Type {
	case EventAccountCredited, EventAccountDebited, EventAccountRefunded:
		if err := json.Unmarshal(e.Data, &entry); err != nil {
			return err
		}
	default:
		return nil // not a balance change
	}
	// What cannot be true is refused, not added up: the account stops folding, and so
	// stops moving money, until someone looks.
	if entry.Amount <= 0 {
		return fmt.Errorf("%s of %d: an amount must be positive", e.Type, entry.Amount)
	}
	// The first entry fixes the currency; a later one that equals it needs no check.
	if entry.Currency != a.Currency || a.Currency == "" {
		switch {
		case ValidateCurrency("currency", entry.Currency) != nil:
			return fmt.Errorf("%s in %q, which is not a currency code", e.Type, entry.Currency)
		case a.Currency != "":
			return fmt.Errorf("entry in %s on an account in %s", entry.Currency, a.Currency)
		}
		a.Currency = entry.Currency
	}
	switch e.Type {
	case EventAccountCredited, EventAccountRefunded:
		if a.Balance > 0 && entry.Amount > math.MaxInt64-a.Balance {
			return fmt.Errorf("%s of %d on a balance of %d would overflow", e.Type, entry.Amount, a.Balance)
		}
		a.Balance += entry.Amount
	case EventAccountDebited:
		if a.Balance < math.MinInt64+entry.Amount {
			return fmt.Errorf("%s of %d on a balance of %d would overflow", e.Type, entry.Amount, a.Balance)
		}
		a.Balance -= entry.Amount
	}
	return nil
}

// eventVersions maps event ids to their versions in one stream. It only grows, and is
// safe for concurrent use.
type eventVersions struct {
	mu   sync.RWMutex
	byID map[uuid.UUID]int64
}

func (ev *eventVersions) add(id uuid.UUID, version int64) {
	ev.mu.Lock()
	ev.byID[id] = version
	ev.mu.Unlock()
}

func (ev *eventVersions) version(id uuid.UUID) (int64, bool) {
	if ev == nil {
		return 0, false
	}
	ev.mu.RLock()
	defer ev.mu.RUnlock()
	v, ok := ev.byID[id]
	return v, ok
}
