// Package payments keeps customers' payment accounts as event streams ("customer-<id>"):
// credits fund an account, and the saga's debits and refunds move its balance. It reads an
// account by folding its stream, and funds one outside any saga (for the dev stack, tests
// and the API's CreditAccount).
package payments

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// Store is what accounts need from the event store.
type Store interface {
	// Append: EINVALID, ECONFLICT, EUNAVAILABLE, EINTERNAL.
	Append(ctx context.Context, stream string, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream string, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
}

// Accounts reads and funds accounts.
type Accounts struct {
	Store Store
}

// Get folds the customer's account. An account with no events has balance 0.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (a Accounts) Get(ctx context.Context, customerID string) (ordersaga.Account, error) {
	if err := ordersaga.ValidateID("customer_id", customerID); err != nil {
		return ordersaga.Account{}, err
	}
	events, err := ordersaga.ReadWholeStream(ctx, a.Store, ordersaga.CustomerStream(customerID))
	if err != nil {
		return ordersaga.Account{}, err
	}
	account, err := ordersaga.FoldAccount(customerID, events)
	if err != nil {
		return ordersaga.Account{}, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "internal error", Err: err}
	}
	return account, nil
}

// creditNamespace scopes the name-based UUIDs of credits.
var creditNamespace = uuid.MustParse("0d4f8a61-2b7e-4c3d-8e9f-5a6b7c8d9e0f")

// Credit adds amount (minor units, positive) in currency to the customer's account.
// reference identifies the credit (a bank transfer id, say): crediting again with the
// same reference and amount changes nothing, so callers may retry.
//
// Errors: EINVALID (bad amount, currency or reference; a currency other than the
// account's), ECONFLICT (the reference was used for another credit), EUNAVAILABLE, EINTERNAL.
func (a Accounts) Credit(ctx context.Context, customerID string, amount int64, currency, reference string) (ordersaga.Account, error) {
	if err := ordersaga.ValidateID("customer_id", customerID); err != nil {
		return ordersaga.Account{}, err
	}
	if err := ordersaga.ValidateCurrency("currency", currency); err != nil {
		return ordersaga.Account{}, err
	}
	switch {
	case amount <= 0:
		return ordersaga.Account{}, ordersaga.Invalidf("amount", "must be a positive amount in minor units (cents), got %d", amount)
	case reference == "":
		return ordersaga.Account{}, ordersaga.Invalidf("reference", "required (an id of the credit that stays the same on retries)")
	}
	account, err := a.Get(ctx, customerID)
	if err != nil {
		return ordersaga.Account{}, err
	}
	if account.Currency != "" && account.Currency != currency {
		return ordersaga.Account{}, ordersaga.Invalidf("currency", "the account of %s is in %s", customerID, account.Currency)
	}
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: customerID, Amount: amount, Currency: currency, Reference: reference})
	event := ordersaga.EventData{ID: uuid.NewSHA1(creditNamespace, []byte(customerID+"/"+reference)), Type: ordersaga.EventAccountCredited, Data: data}
	if _, err := a.Store.Append(ctx, ordersaga.CustomerStream(customerID), ordersaga.AnyVersion, []ordersaga.EventData{event}); err != nil {
		if ordersaga.ErrorCode(err) == ordersaga.ECONFLICT {
			return ordersaga.Account{}, ordersaga.Errorf(ordersaga.ECONFLICT, "reference %q was already used for a different credit", reference)
		}
		return ordersaga.Account{}, err
	}
	return a.Get(ctx, customerID)
}
