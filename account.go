package ordersaga

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// Account is a customer's payment account, folded from the events of its stream.
type Account struct {
	CustomerID string
	// Currency is set by the first credit; every entry must use it.
	Currency string
	// Balance is in minor units; it never goes below zero.
	Balance int64
	// Version is the stream version the fold reached, the expected version of the next append.
	Version int64
	// events holds the ids seen, so a retried debit or refund can tell it already happened.
	events map[uuid.UUID]bool
}

// Contains reports whether the event with this id is part of the account.
func (a Account) Contains(id uuid.UUID) bool { return a.events[id] }

// FoldAccount folds the events of a customer stream, in version order, into an Account.
func FoldAccount(customerID string, events []RecordedEvent) (Account, error) {
	a := Account{CustomerID: customerID, events: make(map[uuid.UUID]bool, len(events))}
	for _, e := range events {
		if err := a.apply(e); err != nil {
			return Account{}, fmt.Errorf("account %s version %d: %w", customerID, e.Version, err)
		}
	}
	return a, nil
}

func (a *Account) apply(e RecordedEvent) error {
	a.Version = e.Version
	a.events[e.ID] = true
	var entry AccountEntry
	switch e.Type {
	case EventAccountCredited, EventAccountDebited, EventAccountRefunded:
		if err := json.Unmarshal(e.Data, &entry); err != nil {
			return err
		}
	default:
		return nil // not a balance change
	}
	if a.Currency == "" {
		a.Currency = entry.Currency
	}
	if entry.Currency != a.Currency {
		return fmt.Errorf("entry in %s on an account in %s", entry.Currency, a.Currency)
	}
	switch e.Type {
	case EventAccountCredited, EventAccountRefunded:
		a.Balance += entry.Amount
	case EventAccountDebited:
		a.Balance -= entry.Amount
	}
	return nil
}
