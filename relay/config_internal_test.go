package relay

import (
	"testing"
	"time"
)

// TestZeroSettingsTakeTheDocumentedDefaults pins Config's documented defaults, and that a
// negative setting is refused while zero is not.
func TestZeroSettingsTakeTheDocumentedDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.BatchSize != 200 || c.GracePeriod != 2*time.Second || c.PollInterval != 500*time.Millisecond || c.MaxBackoff != 30*time.Second || c.Logger == nil {
		t.Errorf("defaults = %+v, want batches of 200, a 2s grace period, a 500ms poll and backoff up to 30s", c)
	}
	set := Config{BatchSize: 7, GracePeriod: time.Second, PollInterval: time.Minute, MaxBackoff: time.Hour}.withDefaults()
	if set.BatchSize != 7 || set.GracePeriod != time.Second || set.PollInterval != time.Minute || set.MaxBackoff != time.Hour {
		t.Errorf("settings given = %+v, want them kept", set)
	}
	base := Config{Outbox: nopOutbox{}, Publisher: nopPublisher{}}
	if err := base.Validate(); err != nil {
		t.Errorf("zero settings: %v", err)
	}
	for name, c := range map[string]Config{"batch size": {BatchSize: -1}, "grace period": {GracePeriod: -1}, "poll interval": {PollInterval: -1}, "backoff": {MaxBackoff: -1}} {
		c.Outbox, c.Publisher = base.Outbox, base.Publisher
		if c.Validate() == nil {
			t.Errorf("a negative %s was accepted", name)
		}
	}
}

type nopOutbox struct{ Outbox }

type nopPublisher struct{ Publisher }
