package projections_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/ordersaga/ordersaga"
)

// BenchmarkApplyInOrder applies account credits delivered in order, each its stream's next
// version (the projector's one-statement path), to 100 customers in turn:
//
//	go test ./projections -run '^$' -bench ApplyInOrder -benchtime 2000x -count 3
func BenchmarkApplyInOrder(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	const customers = 100
	data := []byte(`{"customer_id":"c","amount":1,"currency":"EUR"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		stream := ordersaga.MustParseStream("customer-bench-" + string(rune('a'+i%customers/26)) + string(rune('a'+i%customers%26)))
		batch := []ordersaga.EventData{{ID: uuid.New(), Type: ordersaga.EventAccountCredited, Data: data}}
		res, err := f.store.Append(ctx, stream, ordersaga.AnyVersion, batch)
		if err != nil {
			b.Fatal(err)
		}
		e := res.Recorded(stream, batch)[0]
		b.StartTimer()
		if err := f.projector.Apply(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}
