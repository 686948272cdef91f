package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
)

// TestStuckOptionsTakeTheirDefaultsAndRefuseNegatives pins what counts as stuck when
// nothing is said (3 attempts, a minute, 1000 sagas in pages of 1000), that settings given are kept, that
// zero is a setting's default rather than a refusal, and that a negative one is refused.
func TestStuckOptionsTakeTheirDefaultsAndRefuseNegatives(t *testing.T) {
	if err := (StuckOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if d := (StuckOptions{}).withDefaults(); d.Attempts != 3 || d.Grace != time.Minute || d.Limit != 1000 || d.PageSize != 1000 {
		t.Errorf("defaults = %+v, want 3 attempts, a minute, 1000 sagas in pages of 1000", d)
	}
	given := StuckOptions{Attempts: 1, Grace: time.Second, Limit: 1, PageSize: maxStuckPage}
	if err := given.Validate(); err != nil {
		t.Errorf("options at their limits %+v: %v", given, err)
	}
	if d := given.withDefaults(); d != given {
		t.Errorf("options given = %+v, want them kept: %+v", d, given)
	}
	for _, c := range []struct {
		field string
		opts  StuckOptions
	}{
		{"attempts", StuckOptions{Attempts: -1}}, {"grace", StuckOptions{Grace: -time.Nanosecond}}, {"limit", StuckOptions{Limit: -1}},
		{"page_size", StuckOptions{PageSize: -1}}, {"page_size", StuckOptions{PageSize: maxStuckPage + 1}},
	} {
		if err := c.opts.Validate(); ordersaga.ErrorCode(err) != ordersaga.EINVALID || !containsField(err, c.field) {
			t.Errorf("%+v: %v, want a refusal naming %s", c.opts, err, c.field)
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
