// Package payments keeps customers' payment accounts as event streams ("customer-<id>"):
// credits fund an account, and the saga's debits and refunds move its balance. It reads an
// account by folding its stream, and funds one outside any saga (for the dev stack, tests
// and the API's CreditAccount).
package payments

import (
	"context"
	"encoding/json"
	"math"
	"sync"

	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ordersaga/ordersaga"
)

// Store is what accounts need from the event store.
type Store interface {
	// Append: EINVALID, ECONFLICT, EUNAVAILABLE, EINTERNAL.
	Append(ctx context.Context, stream ordersaga.Stream, expected ordersaga.ExpectedVersion, events []ordersaga.EventData) (ordersaga.AppendResult, error)
	// ReadStream: EINVALID, EUNAVAILABLE, EINTERNAL.
	ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error)
}

// Accounts reads and funds accounts.
type Accounts struct {
	Store Store
	// Cache, if set, keeps the accounts folded last, so that folding one again reads only
	// the events appended since (from any process). nil folds every account from its
	// first event each time.
	Cache *AccountCache
}

// Get folds the customer's account. An account with no events has balance 0.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (a Accounts) Get(ctx context.Context, customerID string) (ordersaga.Account, error) {
	stream, err := ordersaga.CustomerStream(customerID)
	if err != nil {
		return ordersaga.Account{}, err
	}
	account, _ := a.Cache.get(customerID)
	if account.CustomerID == "" {
		account = ordersaga.Account{CustomerID: customerID}
	}
	events, err := ordersaga.ReadStreamFrom(ctx, a.Store, stream, account.Version+1)
	if err != nil {
		return ordersaga.Account{}, err
	}
	account, err = account.Extend(events)
	if err != nil {
		return ordersaga.Account{}, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "the account of " + customerID + " does not fold", Err: err}
	}
	a.Cache.put(account)
	return account, nil
}

// DefaultAccountCacheSize is how many accounts an AccountCache keeps by default.
const DefaultAccountCacheSize = 10_000

// AccountCache keeps folded accounts, the least recently used going first when it is
// full. An account's events never change once stored, so a kept fold is never wrong, only
// behind: Get reads what was appended since. Each kept account holds its balance and the
// ids of its events. Safe for concurrent use.
type AccountCache struct {
	mu       sync.Mutex // makes put's look and store one step
	accounts *lru.Cache[string, ordersaga.Account]
}

// NewAccountCache returns a cache of up to size accounts (DefaultAccountCacheSize if size
// is not positive).
func NewAccountCache(size int) *AccountCache {
	if size <= 0 {
		size = DefaultAccountCacheSize
	}
	accounts, _ := lru.New[string, ordersaga.Account](size) // errs only for size <= 0
	return &AccountCache{accounts: accounts}
}

func (c *AccountCache) get(customerID string) (ordersaga.Account, bool) {
	if c == nil {
		return ordersaga.Account{}, false
	}
	return c.accounts.Get(customerID)
}

// put keeps account unless a fold further along is kept already.
func (c *AccountCache) put(account ordersaga.Account) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.accounts.Peek(account.CustomerID); !ok || kept.Version < account.Version {
		c.accounts.Add(account.CustomerID, account)
	}
}

// creditNamespace scopes the name-based UUIDs of credits.
var creditNamespace = uuid.MustParse("0d4f8a61-2b7e-4c3d-8e9f-5a6b7c8d9e0f")

// Credit adds amount (minor units, positive) in currency to the customer's account.
// reference identifies the credit (a bank transfer id, say): crediting again with the
// same reference and amount changes nothing, so callers may retry.
//
// Errors: EINVALID (bad amount, currency or reference; a currency other than the
// account's; a balance that would pass 64 bits), ECONFLICT (the reference was used for
// another credit), EUNAVAILABLE, EINTERNAL.
func (a Accounts) Credit(ctx context.Context, customerID string, amount int64, currency, reference string) (ordersaga.Account, error) {
	stream, err := ordersaga.CustomerStream(customerID)
	if err != nil {
		return ordersaga.Account{}, err
	}
	if err := ordersaga.ValidateCurrency("currency", currency); err != nil {
		return ordersaga.Account{}, err
	}
	switch {
	case amount <= 0:
		return ordersaga.Account{}, ordersaga.Invalidf("amount", "must be a positive amount in minor units (cents), got %d", amount)
	case amount > MaxCredit:
		return ordersaga.Account{}, ordersaga.Invalidf("amount", "%s is more than one credit may be (%s); credit it in parts",
			ordersaga.FormatMoney(amount, currency), ordersaga.FormatMoney(MaxCredit, currency))
	case reference == "":
		return ordersaga.Account{}, ordersaga.Invalidf("reference", "required (an id of the credit that stays the same on retries)")
	}
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: customerID, Amount: amount, Currency: currency, Reference: reference})
	event := ordersaga.EventData{ID: uuid.NewSHA1(creditNamespace, []byte(customerID+"/"+reference)), Type: ordersaga.EventAccountCredited, Data: data}
	for race := 0; ; race++ {
		account, err := a.Get(ctx, customerID)
		if err != nil {
			return ordersaga.Account{}, err
		}
		// Appended at the version just folded, so that what was checked still holds: a
		// concurrent first credit in another currency, or one that fills the account,
		// makes this append lose the race and decide again.
		expected := ordersaga.ExpectedVersion(account.Version)
		if account.Contains(event.ID) {
			expected = ordersaga.AnyVersion // the store tells a retry from another credit
		} else if err := mayCredit(account, amount, currency); err != nil {
			return ordersaga.Account{}, err
		}
		_, err = a.Store.Append(ctx, stream, expected, []ordersaga.EventData{event})
		switch {
		case err == nil:
			return a.Get(ctx, customerID)
		case ordersaga.ErrorCode(err) != ordersaga.ECONFLICT:
			return ordersaga.Account{}, err
		case expected == ordersaga.AnyVersion:
			return ordersaga.Account{}, ordersaga.Errorf(ordersaga.ECONFLICT, "reference %q was already used for a different credit", reference)
		case race >= maxCreditRaces:
			return ordersaga.Account{}, ordersaga.Errorf(ordersaga.EUNAVAILABLE, "the account of %s changed %d times while crediting it; retry", customerID, race+1)
		}
	}
}

// MaxCredit is the most one credit may be, in minor units: 1,000,000.00 of a currency with
// cents. A typo of a few zeros stops here instead of in the books.
const MaxCredit = 100_000_000

// maxCreditRaces is how often a credit folds the account again after another writer
// appended first, before it gives up (EUNAVAILABLE: the caller may retry).
const maxCreditRaces = 50

// mayCredit returns an EINVALID error unless amount in currency can be added to account.
func mayCredit(account ordersaga.Account, amount int64, currency string) error {
	if account.Currency != "" && account.Currency != currency {
		return ordersaga.Invalidf("currency", "the account of %s is in %s", account.CustomerID, account.Currency)
	}
	if account.Balance > math.MaxInt64-amount {
		return ordersaga.Invalidf("amount", "would take the balance of %s past the most an account can hold", account.CustomerID)
	}
	return nil
}
