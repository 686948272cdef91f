package projections

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/instrument"
	"github.com/ordersaga/ordersaga/sqldb"
)

// What a projector measures, through the providers of its database (sqldb.Config): how
// long after an event was recorded a read model reflects it (the projection lag), and how
// often a read model had to fill a gap in a stream from the store. Its spans are the bus's
// delivery spans (eventbus.Instruments) and the statements' (sqldb).

type instruments struct {
	lag        metric.Float64Histogram
	gapsFilled metric.Int64Counter
}

func newInstruments(db *sqldb.DB) instruments {
	m := db.Meters().Meter("github.com/ordersaga/ordersaga/projections")
	in := instruments{
		lag: instrument.Must(m.Float64Histogram("ordersaga.projection.lag", metric.WithUnit("s"),
			metric.WithDescription("Seconds from an event's recorded_at to the commit that made a read model reflect it, by read model"))),
		gapsFilled: instrument.Must(m.Int64Counter("ordersaga.projection.gaps_filled",
			metric.WithDescription("Stream gaps a read model filled by reading the missing events from the store, by read model and by how (delivery or reconcile)"))),
	}
	// Counted from zero, so that the series exist (and rate() works) before the first gap.
	for _, rm := range readModels {
		for _, how := range []string{"delivery", "reconcile"} {
			in.gapsFilled.Add(context.Background(), 0, metric.WithAttributes(attribute.String("read_model", rm.table), attribute.String("by", how)))
		}
	}
	return in
}

// applied records the lag of an event a read model now reflects.
func (in instruments) applied(ctx context.Context, rm *readModel, e ordersaga.RecordedEvent) {
	in.lag.Record(ctx, max(time.Since(e.RecordedAt), 0).Seconds(), metric.WithAttributes(attribute.String("read_model", rm.table)))
}

// filled counts a gap of rm filled on a delivery or by Reconcile (how).
func (in instruments) filled(ctx context.Context, rm *readModel, how string) {
	in.gapsFilled.Add(ctx, 1, metric.WithAttributes(attribute.String("read_model", rm.table), attribute.String("by", how)))
}
