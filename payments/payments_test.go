package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/dbtest"
	"github.com/ordersaga/ordersaga/payments"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func newAccounts(t testing.TB) payments.Accounts {
	t.Helper()
	_, store := dbtest.NewStore(t, 0)
	return payments.Accounts{Store: store}
}

func TestCreditIsIdempotentPerReference(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	for range 3 {
		if _, err := a.Credit(ctx, "c-1", 2500, "EUR", "transfer-1"); err != nil {
			t.Fatal(err)
		}
	}
	acct, err := a.Credit(ctx, "c-1", 1000, "EUR", "transfer-2")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Balance != 3500 || acct.Currency != "EUR" || acct.Version != 2 {
		t.Errorf("account = %+v, want 3500 EUR at version 2 (each reference credited once)", acct)
	}
	_, err = a.Credit(ctx, "c-1", 999, "EUR", "transfer-1")
	if ordersaga.ErrorCode(err) != ordersaga.ECONFLICT {
		t.Errorf("reusing a reference for another amount: %v, want a conflict", err)
	}
	if empty, err := a.Get(ctx, "nobody"); err != nil || empty.Balance != 0 || empty.Version != 0 || empty.CustomerID != "nobody" {
		t.Errorf("an account without events = %+v, %v; want customer nobody's, balance 0", empty, err)
	}
	// The most one credit may be is taken; a cent more is refused (TestCreditRejectsBadInput).
	if most, err := a.Credit(ctx, "c-most", payments.MaxCredit, "EUR", "most"); err != nil || most.Balance != payments.MaxCredit {
		t.Errorf("a credit of exactly MaxCredit: %+v, %v; want it taken", most, err)
	}
}

func TestCreditRejectsBadInput(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	if _, err := a.Credit(ctx, "c-usd", 100, "USD", "r"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                    string
		customer, currency, ref string
		amount                  int64
		field                   string
	}{
		{"no customer", "", "EUR", "r", 100, "customer_id"},
		{"bad customer", "c 1", "EUR", "r", 100, "customer_id"},
		{"zero amount", "c-2", "EUR", "r", 0, "amount"},
		{"negative amount", "c-2", "EUR", "r", -5, "amount"},
		{"bad currency", "c-2", "euro", "r", 100, "currency"},
		{"no reference", "c-2", "EUR", "", 100, "reference"},
		{"more than one credit may be", "c-2", "EUR", "r", payments.MaxCredit + 1, "amount"},
		{"another currency than the account's", "c-usd", "EUR", "r2", 100, "currency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Credit(ctx, tt.customer, tt.amount, tt.currency, tt.ref)
			var e *ordersaga.Error
			if !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != tt.field {
				t.Errorf("error = %v, want invalid naming %s", err, tt.field)
			}
		})
	}
}

// appendEntry appends an account entry to the customer's stream as another process would,
// and returns its event id.
func appendEntry(t testing.TB, store payments.Store, customer, typ string, amount int64) uuid.UUID {
	t.Helper()
	data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: customer, Amount: amount, Currency: "EUR"})
	id := uuid.New()
	if _, err := store.Append(context.Background(), ordersaga.MustParseStream("customer-"+customer), ordersaga.AnyVersion,
		[]ordersaga.EventData{{ID: id, Type: typ, Data: data}}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestACachedAccountFollowsOtherWriters interleaves writes from this process and from
// others, on three customers with room for two in the cache, and compares every cached
// read with a fold from the first event.
func TestACachedAccountFollowsOtherWriters(t *testing.T) {
	plain := newAccounts(t)
	cached := payments.Accounts{Store: plain.Store, Cache: payments.NewAccountCache(2)}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	customers := []string{"c-a", "c-b", "c-c"}
	for _, c := range customers {
		if _, err := plain.Credit(ctx, c, 100_000, "EUR", "opening"); err != nil {
			t.Fatal(err)
		}
	}
	for step := range 60 {
		c := customers[rng.IntN(len(customers))]
		var last uuid.UUID
		switch rng.IntN(3) {
		case 0:
			last = appendEntry(t, plain.Store, c, ordersaga.EventAccountDebited, rng.Int64N(500)+1)
		case 1:
			last = appendEntry(t, plain.Store, c, ordersaga.EventAccountRefunded, rng.Int64N(500)+1)
		default:
			if _, err := cached.Credit(ctx, c, rng.Int64N(500)+1, "EUR", fmt.Sprintf("step-%d", step)); err != nil {
				t.Fatal(err)
			}
		}
		got, err := cached.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		want, err := plain.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("step %d, %s: cached %+v, want %+v", step, c, got, want)
		}
		if at, ok, err := plain.Store.EventVersion(ctx, ordersaga.MustParseStream("customer-"+c), last); last != uuid.Nil && (err != nil || !ok || at != got.Version) {
			t.Fatalf("step %d, %s: the last entry is at %d (found: %v, %v), want at the account's version %d", step, c, at, ok, err, got.Version)
		}
	}
}

// TestCachedAccountsUnderConcurrentCredits credits one customer from several goroutines
// through one cache while others read it; run with -race.
func TestCachedAccountsUnderConcurrentCredits(t *testing.T) {
	plain := newAccounts(t)
	cached := payments.Accounts{Store: plain.Store, Cache: payments.NewAccountCache(0)}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := range 8 {
				if _, err := cached.Credit(ctx, "c-busy", 10, "EUR", fmt.Sprintf("w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
				if _, err := cached.Get(ctx, "c-busy"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := cached.Get(ctx, "c-busy")
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.Get(ctx, "c-busy")
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance != 480 || got.Balance != want.Balance || got.Version != want.Version || got.Version != 48 {
		t.Errorf("cached %+v, fold from the start %+v; want 480 at version 48", got, want)
	}
}

// BenchmarkGetAccount reads an account of 1,000 entries after another writer appended one
// more, the way each debit of a long-standing customer does: folded from its first event
// each time (cache=off, the baseline) or from the fold kept last time (cache=on).
func BenchmarkGetAccount(b *testing.B) {
	for _, withCache := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=1000/cache=%v", withCache), func(b *testing.B) {
			plain := newAccounts(b)
			ctx := context.Background()
			for i := range 1000 {
				appendEntry(b, plain.Store, "c-long", ordersaga.EventAccountCredited, int64(i+1))
			}
			a := plain
			if withCache {
				a.Cache = payments.NewAccountCache(0)
			}
			for b.Loop() {
				appendEntry(b, plain.Store, "c-long", ordersaga.EventAccountCredited, 1)
				if _, err := a.Get(ctx, "c-long"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFirstCreditsInTwoCurrenciesAtOnceLeaveOneCurrency races a EUR and a USD credit
// on new accounts: one wins, the other is refused naming the currency, and every account
// still folds (appended unchecked, both used to land, and the account never folded again).
func TestFirstCreditsInTwoCurrenciesAtOnceLeaveOneCurrency(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	for round := range 40 {
		customer := fmt.Sprintf("c-race-%d", round)
		start := make(chan struct{})
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		for _, currency := range []string{"EUR", "USD"} {
			wg.Go(func() {
				<-start
				_, err := a.Credit(ctx, customer, 100, currency, "first-"+currency)
				errs <- err
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		refused := 0
		for err := range errs {
			var e *ordersaga.Error
			switch {
			case err == nil:
			case errors.As(err, &e) && e.Code == ordersaga.EINVALID && e.Field == "currency":
				refused++
			default:
				t.Fatalf("%s: %v", customer, err)
			}
		}
		account, err := a.Get(ctx, customer)
		if err != nil || refused != 1 || account.Balance != 100 || account.Version != 1 {
			t.Fatalf("%s: %d refused, account %+v, %v; want one credit of 100 and one refusal", customer, refused, account, err)
		}
	}
}

// TestACreditThatWouldOverflowIsRefused fills an account to within 10 of the largest
// balance (appended directly: no one credit may be that large): a credit of 11 is refused
// naming the amount, and the account still folds.
func TestACreditThatWouldOverflowIsRefused(t *testing.T) {
	a := newAccounts(t)
	ctx := context.Background()
	appendEntry(t, a.Store, "c-full", ordersaga.EventAccountCredited, math.MaxInt64-10)
	var e *ordersaga.Error
	if _, err := a.Credit(ctx, "c-full", 11, "EUR", "r2"); !errors.As(err, &e) || e.Code != ordersaga.EINVALID || e.Field != "amount" {
		t.Errorf("a credit past 64 bits: %v, want invalid naming amount", err)
	}
	if account, err := a.Credit(ctx, "c-full", 10, "EUR", "r3"); err != nil || account.Balance != math.MaxInt64 {
		t.Errorf("a credit up to the largest balance: %+v, %v", account, err)
	}
}

// TestACreditThatKeepsLosingRacesGivesUpAfterItsLimit: a credit whose account changes
// before each of its appends tries 51 times (maxCreditRaces after the first), then says
// EUNAVAILABLE with how often it tried; one that loses 50 races lands on the 51st try.
func TestACreditThatKeepsLosingRacesGivesUpAfterItsLimit(t *testing.T) {
	_, store := dbtest.NewStore(t, 0)
	ctx := context.Background()
	anotherCredit := func(stream ordersaga.Stream) ordersaga.EventData {
		data, _ := json.Marshal(ordersaga.AccountEntry{CustomerID: stream.ID(), Amount: 1, Currency: "EUR", Reference: uuid.NewString()})
		return ordersaga.EventData{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: data}
	}
	losing := &dbtest.Contended{Store: store, N: 1000, Other: anotherCredit}
	_, err := payments.Accounts{Store: losing}.Credit(ctx, "c-busy", 100, "EUR", "busy")
	if ordersaga.ErrorCode(err) != ordersaga.EUNAVAILABLE || !strings.Contains(err.Error(), "changed 51 times") || losing.Appends != 51 {
		t.Errorf("a credit that always loses: %v after %d appends; want EUNAVAILABLE after 51, saying so", err, losing.Appends)
	}
	lucky := &dbtest.Contended{Store: store, N: 50, Other: anotherCredit}
	account, err := payments.Accounts{Store: lucky}.Credit(ctx, "c-lucky", 100, "EUR", "lucky")
	if err != nil || lucky.Appends != 51 || account.Balance != 150 {
		t.Errorf("a credit that wins its 51st try: %+v, %v after %d appends; want it landed after the 50 others", account, err, lucky.Appends)
	}
}

// readsFrom is the real store, noting from which version each stream read starts.
type readsFrom struct {
	payments.Store
	from []int64
}

func (s *readsFrom) ReadStream(ctx context.Context, stream ordersaga.Stream, fromVersion int64, limit int) ([]ordersaga.RecordedEvent, error) {
	s.from = append(s.from, fromVersion)
	return s.Store.ReadStream(ctx, stream, fromVersion, limit)
}

// TestACachedAccountReadsOnlyWhatWasAppendedSince folds an account, lets other writers
// append, and folds it again, twice: each fold reads from the version after the one the
// cache kept last (the cache moves forward with every fold, never stays behind).
func TestACachedAccountReadsOnlyWhatWasAppendedSince(t *testing.T) {
	_, store := dbtest.NewStore(t, 0)
	reads := &readsFrom{Store: store}
	a := payments.Accounts{Store: reads, Cache: payments.NewAccountCache(0)}
	ctx := context.Background()
	appendEntry(t, store, "c-1", ordersaga.EventAccountCredited, 100)
	for _, others := range []int{5, 1} {
		if _, err := a.Get(ctx, "c-1"); err != nil {
			t.Fatal(err)
		}
		for range others {
			appendEntry(t, store, "c-1", ordersaga.EventAccountCredited, 100)
		}
	}
	account, err := a.Get(ctx, "c-1")
	if err != nil || account.Version != 7 || account.Balance != 700 {
		t.Fatalf("account = %+v, %v; want 7.00 at version 7", account, err)
	}
	if fmt.Sprint(reads.from) != "[1 2 7]" {
		t.Errorf("the folds read from versions %v, want [1 2 7]: each from just after the last fold", reads.from)
	}
}
