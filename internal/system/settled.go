package system

import (
	"context"
	"fmt"
	"time"

	"github.com/ordersaga/ordersaga/eventstore"
	"github.com/ordersaga/ordersaga/projections"
	"github.com/ordersaga/ordersaga/sqldb"
)

// VerifySettled runs verify until it comes back clean or within has passed, for a system
// that was just under load (or under faults) and may still be publishing and projecting:
// it says what it found, and returns an error if the system never settled clean.
func VerifySettled(ctx context.Context, db *sqldb.DB, within time.Duration) (string, error) {
	store, reads := eventstore.New(db), projections.NewReadModels(db)
	deadline := time.Now().Add(within)
	for {
		report, err := projections.Verify(ctx, reads, store, 3*time.Second)
		if err != nil {
			return "", err
		}
		if report.OK() {
			return fmt.Sprintf("clean (%d streams: nothing lost, nothing duplicated)", report.StreamsChecked), nil
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%d problems, first: %s", len(report.Problems), report.Problems[0]), fmt.Errorf("verify found %d problems", len(report.Problems))
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
