package chaos

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ordersaga/ordersaga/internal/localcluster"
)

// The bus's counters, as the roles export them (eventbus.Instruments).
const (
	redeliveriesMetric = "ordersaga_bus_redeliveries_total"
	deadLettersMetric  = "ordersaga_bus_dead_letters_total"
)

// busCounts are a process's bus counters at one moment.
type busCounts struct{ redeliveries, deadLetters float64 }

// scrapeBus reads every role's redeliveries and dead letters from its /metrics. A process
// that does not answer (killed, paused) is left out.
func scrapeBus(ctx context.Context, c *localcluster.Cluster) map[string]busCounts {
	out := map[string]busCounts{}
	client := http.Client{Timeout: time.Second}
	for _, p := range c.Processes {
		if p.MetricsAddr == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.MetricsAddr+"/metrics", nil)
		if err != nil {
			continue
		}
		res, err := client.Do(req)
		if err != nil {
			continue
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(res.Body)
		res.Body.Close()
		if err != nil {
			continue
		}
		var counts busCounts
		for name, sum := range map[string]*float64{redeliveriesMetric: &counts.redeliveries, deadLettersMetric: &counts.deadLetters} {
			if f, ok := families[name]; ok {
				for _, m := range f.GetMetric() {
					*sum += m.GetCounter().GetValue()
				}
			}
		}
		out[p.Name] = counts
	}
	return out
}

// busDelta is what the roles counted between two scrapes. A process whose counter went
// down was restarted: all it counted since is new (what it counted before it died, after
// the first scrape, is lost with it).
func busDelta(before, after map[string]busCounts) busCounts {
	var d busCounts
	for name, a := range after {
		b := before[name]
		d.redeliveries += delta(b.redeliveries, a.redeliveries)
		d.deadLetters += delta(b.deadLetters, a.deadLetters)
	}
	return d
}

func delta(before, after float64) float64 {
	if after < before {
		return after
	}
	return after - before
}

// String is the counts as a report line.
func (b busCounts) String() string {
	return fmt.Sprintf("%.0f redeliveries, %.0f dead letters", b.redeliveries, b.deadLetters)
}
