package relay

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestZeroSettingsTakeTheDocumentedDefaults pins Config's documented defaults, and that a
// negative setting is refused while zero is not.
func TestZeroSettingsTakeTheDocumentedDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.BatchSize != 200 || c.GracePeriod != 2*time.Second || c.PollInterval != 500*time.Millisecond || c.MaxBackoff != time.Second || c.Logger == nil ||
		c.Lease != 30*time.Second || c.PublishTimeout != 2*time.Second || c.ID == "" {
		t.Errorf("defaults = %+v, want batches of 200, a 2s grace period, a 500ms poll, backoff up to 1s, a 30s lease, a 2s publish timeout and an ID", c)
	}
	if other := (Config{}).withDefaults(); other.ID == c.ID {
		t.Errorf("two relays of one process are both called %q", c.ID)
	}
	set := Config{BatchSize: 7, GracePeriod: time.Second, PollInterval: time.Minute, MaxBackoff: time.Hour, Lease: time.Minute, PublishTimeout: time.Hour,
		ID: "relay-1"}.withDefaults()
	if set.BatchSize != 7 || set.GracePeriod != time.Second || set.PollInterval != time.Minute || set.MaxBackoff != time.Hour || set.Lease != time.Minute ||
		set.PublishTimeout != time.Hour || set.ID != "relay-1" {
		t.Errorf("settings given = %+v, want them kept", set)
	}
	base := Config{Outbox: nopOutbox{}, Publisher: nopPublisher{}}
	if err := base.Validate(); err != nil {
		t.Errorf("zero settings: %v", err)
	}
	for name, c := range map[string]Config{"batch size": {BatchSize: -1}, "grace period": {GracePeriod: -1}, "poll interval": {PollInterval: -1}, "backoff": {MaxBackoff: -1},
		"lease": {Lease: -1}, "publish timeout": {PublishTimeout: -1}, "ID over 200 bytes": {ID: strings.Repeat("r", 201)}, "ID with a NUL byte": {ID: "relay\x00"}} {
		c.Outbox, c.Publisher = base.Outbox, base.Publisher
		if c.Validate() == nil {
			t.Errorf("a negative %s was accepted", name)
		}
	}
	longest := base
	longest.ID = strings.Repeat("r", 200)
	if err := longest.Validate(); err != nil {
		t.Errorf("an ID of 200 bytes: %v", err)
	}
}

type nopOutbox struct{ Outbox }

type nopPublisher struct{ Publisher }

// TestTheDefaultIDNamesTheHost: a relay's default ID starts with the host's name, and two
// differ.
func TestTheDefaultIDNamesTheHost(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Skipf("no host name here (%v)", err)
	}
	a, b := DefaultID(), DefaultID()
	if !strings.HasPrefix(a, host+"-") || a == b {
		t.Errorf("default IDs %q and %q, want two different ones starting with %q", a, b, host+"-")
	}
}
