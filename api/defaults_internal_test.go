package api

import (
	"log/slog"
	"testing"
	"time"
)

// TestZeroSettingsTakeTheDefaultsAndSetOnesAreKept: every documented default fills a
// zero setting, and a setting given is never replaced by it.
func TestZeroSettingsTakeTheDefaultsAndSetOnesAreKept(t *testing.T) {
	d := Config{}.withDefaults()
	if d.Logger == nil || d.DefaultTimeout != 30*time.Second || d.MaxMessageBytes != 4<<20 || d.MaxStreams != 100 ||
		d.MaxConnectionAge != 30*time.Minute || d.MaxWatch != 10*time.Minute {
		t.Errorf("defaults: %+v", d)
	}
	logger := slog.New(slog.DiscardHandler)
	set := Config{Logger: logger, DefaultTimeout: time.Second, MaxMessageBytes: 1024, MaxStreams: 3, MaxConnectionAge: time.Minute, MaxWatch: time.Hour}
	if got := set.withDefaults(); got.Logger != logger || got.DefaultTimeout != time.Second || got.MaxMessageBytes != 1024 ||
		got.MaxStreams != 3 || got.MaxConnectionAge != time.Minute || got.MaxWatch != time.Hour {
		t.Errorf("set values came back as %+v", got)
	}
}
