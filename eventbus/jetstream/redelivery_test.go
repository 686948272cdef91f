package jetstream

import (
	"strings"
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

// TestReplicasAreOneToFive: the events stream is kept on 1 to 5 servers (0 is the
// default, one); anything else is refused, naming the field.
func TestReplicasAreOneToFive(t *testing.T) {
	for replicas, ok := range map[int]bool{-1: false, 0: true, 1: true, 3: true, 5: true, 6: false} {
		err := Config{URL: "nats://127.0.0.1:4222", Replicas: replicas}.Validate()
		if (err == nil) != ok {
			t.Errorf("Replicas %d: %v, want accepted %v", replicas, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "Replicas") {
			t.Errorf("Replicas %d: %v does not name the field", replicas, err)
		}
	}
}
