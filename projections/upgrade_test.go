package projections_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/upgradetest"
	"github.com/ordersaga/ordersaga/projections"
)

// recordedOutcomes are the saga outcomes whose streams earlier releases recorded into
// testdata/streams (ORDERSAGA_RECORD_HISTORIES=1 go test ./worker writes them): every
// version must keep one per outcome.
var recordedOutcomes = []string{"happy", "placed-happy", "held-update", "held-signal", "declined",
	"restaurant-rejected", "restaurant-timeout", "cancelled"}

// TestStreamsWrittenByEarlierReleasesStillFoldProjectRebuildAndVerify loads the streams
// that earlier code wrote for every saga outcome into a fresh store, as they were, and
// checks that today's code folds each order to the status it ended in and each account to
// a valid balance, that the projector builds read models equal to those folds, that a
// rebuild gives the same read models, and that verify finds nothing wrong: a store written
// before an upgrade keeps working after it.
func TestStreamsWrittenByEarlierReleasesStillFoldProjectRebuildAndVerify(t *testing.T) {
	recordings, err := upgradetest.Load(filepath.Join("testdata", "streams"))
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []string{"v1-", "v2-"} {
		for _, outcome := range recordedOutcomes {
			if _, ok := recordings[version+outcome+".json"]; !ok {
				t.Errorf("no recording %s%s.json in testdata/streams", version, outcome)
			}
		}
	}
	f := newFixture(t)
	ctx := context.Background()
	var all []ordersaga.RecordedEvent
	for name, rec := range recordings {
		for _, s := range rec.Streams {
			stream := ordersaga.MustParseStream(s.Stream)
			res, err := f.store.Append(ctx, stream, ordersaga.NoStream, s.EventData())
			if err != nil {
				t.Fatalf("%s: appending %s: %v", name, s.Stream, err)
			}
			events := res.Recorded(stream, s.EventData())
			all = append(all, events...)
			switch stream.Type() {
			case "order":
				if got := projections.FoldOrder(events); got.Status != rec.Outcome || got.Reason != rec.Reason {
					t.Errorf("%s: %s folds to %s (%s), want %s (%s)", name, s.Stream, got.Status, got.Reason, rec.Outcome, rec.Reason)
				}
			case "customer":
				account, err := ordersaga.FoldAccount(stream.ID(), events)
				if err != nil || account.Version != int64(len(events)) || account.Balance < 0 {
					t.Errorf("%s: %s folds to %+v, %v", name, s.Stream, account, err)
				}
			}
		}
	}
	for _, e := range all {
		if err := f.projector.Apply(ctx, e); err != nil {
			t.Fatalf("projecting %s v%d: %v", e.StreamID, e.Version, err)
		}
	}
	assertFold(t, f, all)
	live := snapshot(t, f)
	if err := projections.Rebuild(ctx, f.db, f.store, nil); err != nil {
		t.Fatal(err)
	}
	if got := snapshot(t, f); got != live {
		t.Errorf("rebuilt read models differ from the projected ones:\n%s\nwant\n%s", got, live)
	}
	report, err := projections.Verify(ctx, f.reads, f.store, time.Hour)
	if err != nil || !report.OK() {
		t.Errorf("verify: %v, %v", strings.Join(report.Problems, "\n"), err)
	}
	if want := len(streamsOf(all)); report.StreamsChecked != want {
		t.Errorf("verify checked %d streams, want %d", report.StreamsChecked, want)
	}
}
