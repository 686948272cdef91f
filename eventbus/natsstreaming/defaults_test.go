package natsstreaming

import (
	"slices"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
)

// TestZeroSettingsTakeTheDefaultsAndSetOnesAreKept: every documented default fills a
// zero setting, and a setting given is never replaced by it.
func TestZeroSettingsTakeTheDefaultsAndSetOnesAreKept(t *testing.T) {
	d := Config{}.withDefaults()
	if d.PublishTimeout != 5*time.Second || d.ConnectTimeout != time.Minute || d.PingInterval != 5 || d.PingMaxOut != 6 ||
		!slices.Equal(d.Channels, ordersaga.EventTypes()) || d.Logger == nil {
		t.Errorf("defaults: publish %s, connect %s, pings %d×%d, %d channels, logger %v; want 5s, 1m, 5×6, the catalog, a logger",
			d.PublishTimeout, d.ConnectTimeout, d.PingInterval, d.PingMaxOut, len(d.Channels), d.Logger)
	}
	set := Config{PublishTimeout: time.Second, ConnectTimeout: 2 * time.Second, PingInterval: 1, PingMaxOut: 2, Channels: []string{"order-created"}}.withDefaults()
	if set.PublishTimeout != time.Second || set.ConnectTimeout != 2*time.Second || set.PingInterval != 1 || set.PingMaxOut != 2 ||
		!slices.Equal(set.Channels, []string{"order-created"}) {
		t.Errorf("set values came back as publish %s, connect %s, pings %d×%d, channels %v",
			set.PublishTimeout, set.ConnectTimeout, set.PingInterval, set.PingMaxOut, set.Channels)
	}
}
