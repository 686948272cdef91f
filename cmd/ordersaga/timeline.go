package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	ordersagav1 "github.com/ordersaga/ordersaga/gen/ordersaga/v1"
)

// waterfallWidth is how many columns the waterfall spans from the first entry to the last.
const waterfallWidth = 40

// printTimeline writes an order's timeline as a table (tab-separated, for a tabwriter):
// each entry's time since the first, the gap since the one before, where it is recorded,
// what happened, and a waterfall bar that places it (and what it lasted) on the order's
// whole span.
func printTimeline(w io.Writer, entries []*ordersagav1.TimelineEntry) {
	fmt.Fprintln(w, "AT\tGAP\tSOURCE\tWHAT\tTOOK\tWATERFALL\tDETAIL")
	if len(entries) == 0 {
		return
	}
	start := entries[0].GetAt().AsTime()
	span := entries[len(entries)-1].GetAt().AsTime().Sub(start)
	for _, e := range entries {
		at := e.GetAt().AsTime().Sub(start)
		took := e.GetDuration().AsDuration()
		what := e.GetWhat()
		if e.GetAttempt() > 1 {
			what += fmt.Sprintf(" (attempt %d)", e.GetAttempt())
		}
		fmt.Fprintf(w, "+%s\t%s\t%s\t%s\t%s\t%s\t%s\n", short(at), short(e.GetSincePrevious().AsDuration()), e.GetSource(), what,
			short(took), bar(at-took, took, span), e.GetDetail())
	}
}

// bar draws [from, from+length] on a line of waterfallWidth columns spanning span: spaces,
// then one block a column it covers (at least one, so that an instant shows).
func bar(from, length, span time.Duration) string {
	if span <= 0 {
		return "█"
	}
	col := func(d time.Duration) int {
		return min(max(int(int64(d)*waterfallWidth/int64(span)), 0), waterfallWidth)
	}
	first, last := col(from), col(from+length)
	return strings.Repeat(" ", first) + strings.Repeat("█", max(last-first, 1))
}

// short writes a duration to the millisecond, "" for none.
func short(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.Round(time.Millisecond).String()
}
