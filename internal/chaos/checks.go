package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/internal/system"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/sqldb"
)

// eventsOf are the events an order's stream holds at the end, by the outcome the load
// asked for (DESIGN.md's event catalog).
func eventsOf(o loadgen.Outcome) []string {
	switch {
	case o.Status == ordersaga.StatusApproved:
		return []string{ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventOrderApproved}
	case o.Reason == ordersaga.ReasonPaymentDeclined:
		return []string{ordersaga.EventOrderCreated, ordersaga.EventOrderRejected}
	case o.Status == ordersaga.StatusCancelled:
		return []string{ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventPaymentRefunded, ordersaga.EventOrderCancelled}
	}
	return []string{ordersaga.EventOrderCreated, ordersaga.EventPaymentDebited, ordersaga.EventPaymentRefunded, ordersaga.EventOrderRejected}
}

// checkSystem lets the system settle and checks DESIGN.md's invariants over the run's
// orders, from the event store itself.
func checkSystem(ctx context.Context, cfg Config, db *sqldb.DB, results []loadgen.OrderResult) []Check {
	var checks []Check
	add := func(name string, ok bool, format string, args ...any) {
		checks = append(checks, Check{Name: name, OK: ok, Figure: fmt.Sprintf(format, args...)})
	}
	verified, err := system.VerifySettled(ctx, db, cfg.Settle)
	add("verify clean after the faults", err == nil, "%s", verified)

	asked, failed := 0, []string{}
	for _, o := range results {
		if o.Err == nil && o.Final == o.Want {
			asked++
		} else if len(failed) < 3 {
			failed = append(failed, fmt.Sprintf("%s: want %s, got %s (%v)", o.ID, o.Want, o.Final, o.Err))
		}
	}
	add("every order ended as asked", asked == cfg.Orders && len(results) == cfg.Orders, "%d of %d %s", asked, cfg.Orders, strings.Join(failed, "; "))

	store := eventstore.New(db)
	exact, wrong := 0, []string{}
	customers := map[string]int64{} // customer -> the amounts of its approved orders
	for _, o := range results {
		stream, err := ordersaga.OrderStream(o.ID)
		if err != nil {
			wrong = append(wrong, err.Error())
			continue
		}
		events, err := ordersaga.ReadWholeStream(ctx, store, stream)
		if err != nil {
			wrong = append(wrong, err.Error())
			continue
		}
		var types []string
		for _, e := range events {
			types = append(types, e.Type)
			if e.Type == ordersaga.EventOrderCreated {
				var created ordersaga.OrderCreated
				if json.Unmarshal(e.Data, &created) == nil {
					customers[created.CustomerID] += 0
					if o.Want.Status == ordersaga.StatusApproved {
						customers[created.CustomerID] += created.Amount
					}
				}
			}
		}
		if slices.Equal(types, eventsOf(o.Want)) {
			exact++
		} else if len(wrong) < 3 {
			wrong = append(wrong, fmt.Sprintf("%s: %v", o.ID, types))
		}
	}
	add("each order's stream holds exactly the events its outcome needs", exact == cfg.Orders,
		"%d of %d %s", exact, cfg.Orders, strings.Join(wrong, "; "))

	debits, refunds, balances := checkAccounts(ctx, store, customers, results)
	add("one debit for each paid order, none for a declined one", debits.bad == 0, "%d debits for %d paid orders, %d orders wrong %s",
		debits.count, debits.want, debits.bad, debits.first)
	add("one refund for each compensated order, none for an approved one", refunds.bad == 0, "%d refunds for %d compensated orders, %d orders wrong %s",
		refunds.count, refunds.want, refunds.bad, refunds.first)
	add("each balance is its credits minus its approved orders", balances.bad == 0, "%d customers, %d wrong %s",
		len(customers), balances.bad, balances.first)

	var deadLetters, parked int64
	if err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM projection_dead_letters), (SELECT count(*) FROM event_outbox_parked)`).
		Scan(&deadLetters, &parked); err != nil {
		add("no dead letters, no parked events", false, "%v", err)
	} else {
		add("no dead letters, no parked events", deadLetters == 0 && parked == 0, "%d dead letters, %d parked", deadLetters, parked)
	}
	return checks
}

// tally counts one kind of account entry against what the orders need.
type tally struct {
	count, want, bad int
	first            string
}

func (t *tally) wrong(format string, args ...any) {
	t.bad++
	if t.first == "" {
		t.first = "(first: " + fmt.Sprintf(format, args...) + ")"
	}
}

// checkAccounts folds every customer's account stream and counts its debits and refunds
// per order against the orders' outcomes, and its balance against its credits minus the
// amounts of its approved orders (customers maps each customer to that sum).
func checkAccounts(ctx context.Context, store *eventstore.Store, customers map[string]int64, results []loadgen.OrderResult) (debits, refunds, balances tally) {
	debited, refunded := map[string]int{}, map[string]int{}
	for customer, approvedSum := range customers {
		stream, err := ordersaga.CustomerStream(customer)
		if err != nil {
			balances.wrong("%s: %v", customer, err)
			continue
		}
		events, err := ordersaga.ReadWholeStream(ctx, store, stream)
		if err != nil {
			balances.wrong("%s: %v", customer, err)
			continue
		}
		var credits int64
		for _, e := range events {
			var entry ordersaga.AccountEntry
			if err := json.Unmarshal(e.Data, &entry); err != nil {
				balances.wrong("%s version %d: %v", customer, e.Version, err)
				continue
			}
			switch e.Type {
			case ordersaga.EventAccountCredited:
				credits += entry.Amount
			case ordersaga.EventAccountDebited:
				debited[entry.OrderID]++
				debits.count++
			case ordersaga.EventAccountRefunded:
				refunded[entry.OrderID]++
				refunds.count++
			}
		}
		account, err := ordersaga.FoldAccount(customer, events)
		if err != nil || account.Balance != credits-approvedSum {
			balances.wrong("%s: balance %d (%v), credits %d minus approved orders %d", customer, account.Balance, err, credits, approvedSum)
		}
	}
	for _, o := range results {
		paid := o.Want.Reason != ordersaga.ReasonPaymentDeclined
		compensated := paid && o.Want.Status != ordersaga.StatusApproved
		if paid {
			debits.want++
		}
		if compensated {
			refunds.want++
		}
		if want := map[bool]int{true: 1}[paid]; debited[o.ID] != want {
			debits.wrong("%s debited %d times", o.ID, debited[o.ID])
		}
		if want := map[bool]int{true: 1}[compensated]; refunded[o.ID] != want {
			refunds.wrong("%s refunded %d times", o.ID, refunded[o.ID])
		}
	}
	return debits, refunds, balances
}
