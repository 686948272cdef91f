package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga"
)

// VerifyStore is what Verify reads from the event store.
type VerifyStore interface {
	Store
	// VersionGaps: EUNAVAILABLE, EINTERNAL.
	VersionGaps(ctx context.Context, limit int) ([]string, error)
	// Unpublished: EINVALID, EUNAVAILABLE, EINTERNAL.
	Unpublished(ctx context.Context, olderThan time.Duration, limit int) ([]ordersaga.RecordedEvent, error)
}

// Report lists what Verify found wrong; an empty report means the read models equal the
// fold of the store, no stream has a version gap, and every event older than the grace
// period was published.
type Report struct {
	StreamsChecked int
	Problems       []string
}

// OK reports whether nothing was wrong.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify folds every order and customer stream of the store and compares the result with
// the read models, checks that versions are gap-free, and that no committed event older
// than grace is still unpublished. It is the system's standing proof that nothing was lost
// or duplicated (DESIGN.md, invariant 5).
func (p *Projector) Verify(ctx context.Context, store VerifyStore, grace time.Duration) (Report, error) {
	var r Report
	for _, streamType := range []string{"order", "customer"} {
		for after := ""; ; {
			page, err := store.StreamVersions(ctx, streamType, after, 1000)
			if err != nil {
				return r, err
			}
			for _, sv := range page {
				if err := p.verifyStream(ctx, store, sv.Stream, &r); err != nil {
					return r, err
				}
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Stream
		}
	}
	gaps, err := store.VersionGaps(ctx, 100)
	if err != nil {
		return r, err
	}
	for _, s := range gaps {
		r.Problems = append(r.Problems, fmt.Sprintf("%s: versions are not 1..n without gaps", s))
	}
	unpublished, err := store.Unpublished(ctx, grace, 100)
	if err != nil {
		return r, err
	}
	for _, e := range unpublished {
		r.Problems = append(r.Problems, fmt.Sprintf("%s version %d (%s, %s): committed at %s but never published",
			e.StreamID, e.Version, e.Type, e.ID, e.RecordedAt.Format(time.RFC3339)))
	}
	return r, nil
}

func (p *Projector) verifyStream(ctx context.Context, store Store, stream string, r *Report) error {
	events, err := ordersaga.ReadWholeStream(ctx, store, stream)
	if err != nil {
		return err
	}
	r.StreamsChecked++
	id, _ := modelFor(stream)
	switch ordersaga.StreamTypeOf(stream) {
	case "order":
		want := FoldOrder(events)
		want.OrderID = id
		got, err := p.Order(ctx, id)
		if ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: no read model row (the store has version %d)", stream, want.Version))
			return nil
		}
		if err != nil {
			return err
		}
		if diff := diffOrders(got, want); diff != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: read model differs from the store: %s", stream, diff))
		}
	case "customer":
		want := FoldBalance(id, events)
		got, err := p.Balance(ctx, id)
		if ordersaga.ErrorCode(err) == ordersaga.ENOTFOUND {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: no read model row (the store has version %d)", stream, want.Version))
			return nil
		}
		if err != nil {
			return err
		}
		if got.Balance != want.Balance || got.Currency != want.Currency || got.Version != want.Version {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: read model has balance %d %s at version %d, the store %d %s at version %d",
				stream, got.Balance, got.Currency, got.Version, want.Balance, want.Currency, want.Version))
		}
	}
	return nil
}

// diffOrders names the fields in which two orders differ.
func diffOrders(got, want Order) string {
	diff := ""
	add := func(field string, g, w any) {
		if fmt.Sprint(g) != fmt.Sprint(w) {
			diff += fmt.Sprintf("%s %v (store: %v); ", field, g, w)
		}
	}
	add("status", got.Status, want.Status)
	add("reason", got.Reason, want.Reason)
	add("version", got.Version, want.Version)
	add("amount", got.Amount, want.Amount)
	add("currency", got.Currency, want.Currency)
	add("customer", got.CustomerID, want.CustomerID)
	add("restaurant", got.RestaurantID, want.RestaurantID)
	add("items", got.Items, want.Items)
	return diff
}
