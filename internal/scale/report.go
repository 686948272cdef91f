package scale

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Row is what the scale benchmark measured at one size of the store.
type Row struct {
	// Events in the store when measured.
	Events int
	// FillRate is events/s appended by Fill.
	FillRate float64
	// AppendRate and RawRate are single-event appends/s and single-row inserts/s into a
	// copy of the events table (the baseline), measured alternately.
	AppendRate, RawRate float64
	// GetOrder, ListByCustomer, ListByStatus and Health are p50 and p99 of calls over a
	// real gRPC listener (Health, the gRPC health check, is the floor).
	GetOrder, ListByCustomer, ListByStatus, Health Latency
	// ColdDebit debits the long-history customer with no fold cached; ColdDebitBaseline
	// debits a customer with one credit the same way.
	ColdDebit, ColdDebitBaseline Latency
	// LongHistory is how many events the long-history customer's account has.
	LongHistory int
	// RebuildRate and VerifyRate are events/s through rebuild and verify.
	RebuildRate, VerifyRate float64
	// RelayRate is events/s a relay publishes from a backlog of Backlog events.
	RelayRate float64
	Backlog   int
}

// AppendRatio is the store's single-event append rate over the raw insert's.
func (r Row) AppendRatio() float64 { return r.AppendRate / r.RawRate }

// Latency is a p50 and a p99.
type Latency struct{ P50, P99 time.Duration }

// LatencyOf returns the p50 and p99 of samples (which it sorts).
func LatencyOf(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	at := func(q float64) time.Duration { return samples[min(len(samples)-1, int(q*float64(len(samples))))] }
	return Latency{P50: at(0.50), P99: at(0.99)}
}

func (l Latency) String() string { return fmt.Sprintf("%s / %s", ms(l.P50), ms(l.P99)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// Table returns rows as a Markdown table, one column per size.
func Table(rows []Row) string {
	lines := []struct {
		name string
		cell func(Row) string
	}{
		{"events in the store", func(r Row) string { return fmt.Sprint(r.Events) }},
		{"fill (batched appends), events/s", func(r Row) string { return fmt.Sprintf("%.0f", r.FillRate) }},
		{"single-event append / raw insert", func(r Row) string {
			return fmt.Sprintf("%.2f (%.0f / %.0f per s)", r.AppendRatio(), r.AppendRate, r.RawRate)
		}},
		{"GetOrder p50 / p99, ms", func(r Row) string { return r.GetOrder.String() }},
		{"ListOrders by customer p50 / p99, ms", func(r Row) string { return r.ListByCustomer.String() }},
		{"ListOrders by status p50 / p99, ms", func(r Row) string { return r.ListByStatus.String() }},
		{"gRPC health check p50 / p99, ms (floor)", func(r Row) string { return r.Health.String() }},
		{"cold debit, long history p50 / p99, ms", func(r Row) string {
			return fmt.Sprintf("%s (%d events)", r.ColdDebit, r.LongHistory)
		}},
		{"cold debit, one credit p50 / p99, ms (baseline)", func(r Row) string { return r.ColdDebitBaseline.String() }},
		{"rebuild, events/s", func(r Row) string { return fmt.Sprintf("%.0f", r.RebuildRate) }},
		{"verify, events/s", func(r Row) string { return fmt.Sprintf("%.0f", r.VerifyRate) }},
		{"relay from a backlog, events/s", func(r Row) string { return fmt.Sprintf("%.0f (backlog %d)", r.RelayRate, r.Backlog) }},
	}
	var b strings.Builder
	for i, l := range lines {
		b.WriteString("| " + l.name + " |")
		for _, r := range rows {
			b.WriteString(" " + l.cell(r) + " |")
		}
		b.WriteString("\n")
		if i == 0 {
			b.WriteString("|---|" + strings.Repeat("---:|", len(rows)) + "\n")
		}
	}
	return b.String()
}

// series is one line of a panel: a name and a value per row.
type series struct {
	name  string
	value func(Row) float64
}

// Plot draws rows as three panels over the store's size (log scale) into a PNG at path:
// the append ratio, the p99 latencies in ms, and the throughputs in events/s.
func Plot(rows []Row, path string) error {
	panels := []struct {
		title, unit string
		lines       []series
	}{
		{"single-event append / raw insert", "ratio", []series{{"append / raw", Row.AppendRatio}}},
		{"p99 latency", "ms", []series{
			{"GetOrder", func(r Row) float64 { return msOf(r.GetOrder.P99) }},
			{"ListOrders by customer", func(r Row) float64 { return msOf(r.ListByCustomer.P99) }},
			{"ListOrders by status", func(r Row) float64 { return msOf(r.ListByStatus.P99) }},
			{"cold debit, long history", func(r Row) float64 { return msOf(r.ColdDebit.P99) }},
			{"cold debit, one credit", func(r Row) float64 { return msOf(r.ColdDebitBaseline.P99) }},
		}},
		{"throughput", "events/s", []series{
			{"fill", func(r Row) float64 { return r.FillRate }},
			{"rebuild", func(r Row) float64 { return r.RebuildRate }},
			{"verify", func(r Row) float64 { return r.VerifyRate }},
			{"relay", func(r Row) float64 { return r.RelayRate }},
		}},
	}
	plots := make([][]*plot.Plot, 1)
	for _, panel := range panels {
		p := plot.New()
		p.Title.Text = panel.title
		p.X.Label.Text, p.Y.Label.Text = "events in the store", panel.unit
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.Y.Min = 0
		p.Legend.Top = true
		var args []any
		for _, s := range panel.lines {
			xys := make(plotter.XYs, len(rows))
			for i, r := range rows {
				xys[i] = plotter.XY{X: float64(r.Events), Y: s.value(r)}
			}
			args = append(args, s.name, xys)
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return err
		}
		plots[0] = append(plots[0], p)
	}
	img := vgimg.New(vg.Points(1500), vg.Points(480))
	canvases := plot.Align(plots, draw.Tiles{Rows: 1, Cols: len(plots[0]), PadX: vg.Millimeter * 6, PadY: vg.Millimeter,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}, draw.New(img))
	for i, p := range plots[0] {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
