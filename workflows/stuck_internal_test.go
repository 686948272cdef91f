package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
)

// TestStuckOptionsTakeTheirDefaultsAndRefuseNegatives pins what counts as stuck when
// nothing is said (3 attempts, a minute, 1000 sagas), that settings given are kept, that
// zero is a setting's default rather than a refusal, and that a negative one is refused.
func TestStuckOptionsTakeTheirDefaultsAndRefuseNegatives(t *testing.T) {
	if err := (StuckOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if d := (StuckOptions{}).withDefaults(); d.Attempts != 3 || d.Grace != time.Minute || d.Limit != 1000 {
		t.Errorf("defaults = %+v, want 3 attempts, a minute, 1000 sagas", d)
	}
	given := StuckOptions{Attempts: 1, Grace: time.Second, Limit: 1}
	if d := given.withDefaults(); d != given {
		t.Errorf("options given = %+v, want them kept: %+v", d, given)
	}
	for field, o := range map[string]StuckOptions{"attempts": {Attempts: -1}, "grace": {Grace: -time.Nanosecond}, "limit": {Limit: -1}} {
		if err := o.Validate(); ordersaga.ErrorCode(err) != ordersaga.EINVALID || !containsField(err, field) {
			t.Errorf("%+v: %v, want a refusal naming %s", o, err, field)
		}
	}
}

// TestAHistoryOfABadOrderIDIsRefusedBeforeTemporalIsAsked: History refuses an order id
// that is not one, naming the field, without calling Temporal (the client has none).
func TestAHistoryOfABadOrderIDIsRefusedBeforeTemporalIsAsked(t *testing.T) {
	if _, err := (Client{}).History(context.Background(), "not an id!"); ordersaga.ErrorCode(err) != ordersaga.EINVALID || !containsField(err, "order_id") {
		t.Errorf("History of a bad id: %v, want a refusal naming order_id", err)
	}
}

// containsField says whether err names field.
func containsField(err error, field string) bool {
	return err != nil && strings.Contains(err.Error(), field)
}
