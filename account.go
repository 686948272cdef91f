package ordersaga

import (
	"encoding/json"
	"fmt"
	"math"
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
}

// FoldAccount folds the events of a customer stream, in version order, into an Account.
func FoldAccount(customerID string, events []RecordedEvent) (Account, error) {
	return Account{CustomerID: customerID}.Extend(events)
}

// Extend returns the account with events applied: the events that follow a.Version in its
// stream, in version order (none: a itself). Folding a stream in two steps gives the same
// account as folding it at once, so a fold kept from earlier needs only the events
// appended since (or a snapshot). a itself is left as it was.
func (a Account) Extend(events []RecordedEvent) (Account, error) {
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
