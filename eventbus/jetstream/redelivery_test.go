package jetstream

import (
	"testing"
	"time"
)

// TestRedeliveryBacksOffUpToTheAckWait: a failing message comes back after 100 ms, then
// twice as late each time, never later than the ack wait, and the doubling stops before
// it could overflow however often the message was delivered.
func TestRedeliveryBacksOffUpToTheAckWait(t *testing.T) {
	const ackWait = 30 * time.Second
	for _, c := range []struct {
		deliveries int
		ackWait    time.Duration
		want       time.Duration
	}{
		{1, ackWait, 100 * time.Millisecond},
		{2, ackWait, 200 * time.Millisecond},
		{3, ackWait, 400 * time.Millisecond},
		{9, ackWait, 25600 * time.Millisecond},
		{10, ackWait, ackWait},
		{11, time.Hour, 102400 * time.Millisecond},
		{1_000_000, time.Hour, 102400 * time.Millisecond},
		{3, 250 * time.Millisecond, 250 * time.Millisecond},
	} {
		if got := redeliveryDelay(c.deliveries, c.ackWait); got != c.want {
			t.Errorf("delivery %d, ack wait %s: redelivered after %s, want %s", c.deliveries, c.ackWait, got, c.want)
		}
	}
}
