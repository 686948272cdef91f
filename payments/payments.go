// Package payments keeps customers' payment accounts as event streams ("customer-<id>"):
// credits fund an account, and the saga's debits and refunds move its balance. It reads an
// account by folding its stream, and funds one outside any saga (for the dev stack, tests
// and the API's CreditAccount).
package payments

import (
	"context"
	"encoding/json"
	"fmt"
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
	// EventVersion: EINVALID, EUNAVAILABLE, EINTERNAL.
	EventVersion(ctx context.Context, stream ordersaga.Stream, id uuid.UUID) (version int64, found bool, err error)
	// Snapshot: EINVALID, EUNAVAILABLE, EINTERNAL.
	Snapshot(ctx context.Context, stream ordersaga.Stream) (version int64, state []byte, err error)
	// SaveSnapshot: EINVALID, EUNAVAILABLE, EINTERNAL.
	SaveSnapshot(ctx context.Context, stream ordersaga.Stream, version int64, state []byte) error
}

// Accounts reads and funds accounts.
type Accounts struct {
	Store Store
	// Cache, if set, keeps the accounts folded last, so that folding one again reads only
	// the events appended since (from any process). nil folds every account from its
	// snapshot each time.
	Cache *AccountCache
	// SnapshotEvery: a fold that reaches this many events past the account's snapshot
	// saves a new one, so that a fold with nothing cached reads at most about this many
	// events; not positive: DefaultSnapshotEvery.
	SnapshotEvery int64
}

// DefaultSnapshotEvery is how many events an account's snapshot may fall behind.
const DefaultSnapshotEvery = 200

// Get folds the customer's account: from the fold cached, or else from its snapshot, on
// with the events appended since; a fold that went far past the snapshot saves a new one.
// An account with no events has balance 0.
//
// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
func (a Accounts) Get(ctx context.Context, customerID string) (ordersaga.Account, error) {
	stream, err := ordersaga.CustomerStream(customerID)
	if err != nil {
		return ordersaga.Account{}, err
	}
	kept, ok := a.Cache.get(customerID)
	if !ok {
		if kept, err = a.snapshot(ctx, stream, customerID); err != nil {
			return ordersaga.Account{}, err
		}
	}
	events, err := ordersaga.ReadStreamFrom(ctx, a.Store, stream, kept.account.Version+1)
	if err != nil {
		return ordersaga.Account{}, err
	}
	account, err := kept.account.Extend(events)
	if err != nil {
		return ordersaga.Account{}, &ordersaga.Error{Code: ordersaga.EINTERNAL, Message: "the account of " + customerID + " does not fold", Err: err}
	}
	snapshotAt := kept.snapshotAt
	every := a.SnapshotEvery
	if every <= 0 {
		every = DefaultSnapshotEvery
	}
	if account.Version-snapshotAt >= every {
		// Best effort: a snapshot not saved now is saved by a later fold.
		state, _ := json.Marshal(accountState{Currency: account.Currency, Balance: account.Balance})
		if a.Store.SaveSnapshot(ctx, stream, account.Version, state) == nil {
			snapshotAt = account.Version
		}
	}
	a.Cache.put(keptAccount{account: account, snapshotAt: snapshotAt})
	return account, nil
}

// accountState is what an account's snapshot holds besides its version.
type accountState struct {
	Currency string `json:"currency"`
	Balance  int64  `json:"balance"`
}

// snapshot returns the account as its snapshot has it (empty at version 0 if it has none).
// A snapshot that does not decode is ignored: the account is folded from its first event.
func (a Accounts) snapshot(ctx context.Context, stream ordersaga.Stream, customerID string) (keptAccount, error) {
	version, data, err := a.Store.Snapshot(ctx, stream)
	if err != nil {
		return keptAccount{}, err
	}
	var state accountState
	if version == 0 || json.Unmarshal(data, &state) != nil {
		return keptAccount{account: ordersaga.Account{CustomerID: customerID}}, nil
	}
	return keptAccount{account: ordersaga.Account{CustomerID: customerID, Currency: state.Currency, Balance: state.Balance, Version: version},
		snapshotAt: version}, nil
}

// SnapshotDifferences compares a snapshot of the customer's account with the fold of
// events (the account's stream, from its first event, as far as it is known) up to the
// snapshot's version, and says how they differ ("" when they do not): the check verify
// makes, since a debit trusts the snapshot's balance.
func SnapshotDifferences(customerID string, snapshot ordersaga.Snapshot, events []ordersaga.RecordedEvent) string {
	if snapshot.Version > int64(len(events)) {
		return fmt.Sprintf("snapshot of version %d, ahead of the stream's %d", snapshot.Version, len(events))
	}
	var state accountState
	if err := json.Unmarshal(snapshot.State, &state); err != nil {
		return fmt.Sprintf("snapshot of version %d does not decode: %v", snapshot.Version, err)
	}
	want, err := ordersaga.FoldAccount(customerID, events[:snapshot.Version])
	if err != nil {
		return fmt.Sprintf("the stream up to the snapshot's version %d does not fold: %v", snapshot.Version, err)
	}
	if state.Balance != want.Balance || state.Currency != want.Currency {
		return fmt.Sprintf("snapshot of version %d holds %d %s, the stream up to it %d %s",
			snapshot.Version, state.Balance, state.Currency, want.Balance, want.Currency)
	}
	return ""
}

// DefaultAccountCacheSize is how many accounts an AccountCache keeps by default.
const DefaultAccountCacheSize = 10_000

// AccountCache keeps folded accounts, the least recently used going first when it is
// full. An account's events never change once stored, so a kept fold is never wrong, only
// behind: Get reads what was appended since. Safe for concurrent use.
type AccountCache struct {
	mu       sync.Mutex // makes put's look and store one step
	accounts *lru.Cache[string, keptAccount]
}

// keptAccount is a fold and the version of the account's snapshot when it was made.
type keptAccount struct {
	account    ordersaga.Account
	snapshotAt int64
}

// NewAccountCache returns a cache of up to size accounts (DefaultAccountCacheSize if size
// is not positive).
func NewAccountCache(size int) *AccountCache {
	if size <= 0 {
		size = DefaultAccountCacheSize
	}
	accounts, _ := lru.New[string, keptAccount](size) // errs only for size <= 0
	return &AccountCache{accounts: accounts}
}

func (c *AccountCache) get(customerID string) (keptAccount, bool) {
	if c == nil {
		return keptAccount{}, false
	}
	return c.accounts.Get(customerID)
}

// put keeps k unless a fold further along is kept already.
func (c *AccountCache) put(k keptAccount) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.accounts.Peek(k.account.CustomerID); !ok || kept.account.Version < k.account.Version {
		c.accounts.Add(k.account.CustomerID, k)
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
		// Looked up after the fold, so that a credit the fold holds is found. Appended at
		// the version just folded, so that what was checked still holds: a concurrent
		// first credit in another currency, or one that fills the account, makes this
		// append lose the race and decide again.
		_, credited, err := a.Store.EventVersion(ctx, stream, event.ID)
		if err != nil {
			return ordersaga.Account{}, err
		}
		expected := ordersaga.ExpectedVersion(account.Version)
		if credited {
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
