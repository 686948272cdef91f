package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"
)

// What deploy/ watches must be what the running stack exports: every metric an alert rule
// or a dashboard panel names is in dev's /metrics (checked after TestAsAUser's orders, so
// that the counters of compensations and refusals have counted).

// deployedExpressions returns the PromQL of every alert rule and dashboard panel in deploy/.
func deployedExpressions() (map[string]string, error) {
	exprs := map[string]string{}
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "alerts.yml"))
	if err != nil {
		return nil, err
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		return nil, err
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	raw, err = os.ReadFile(filepath.Join("..", "deploy", "grafana-dashboard.json"))
	if err != nil {
		return nil, err
	}
	var dashboard struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dashboard); err != nil {
		return nil, err
	}
	for _, p := range dashboard.Panels {
		for i, target := range p.Targets {
			// Grafana's own variables become what it would put there.
			exprs[fmt.Sprintf("panel %q target %d", p.Title, i)] = strings.ReplaceAll(target.Expr, "$__rate_interval", "1m")
		}
	}
	return exprs, nil
}

// metricNames returns the metric names that expr selects.
func metricNames(expr string) ([]string, error) {
	parsed, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(parsed, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			names = append(names, vs.Name)
		}
		return nil
	})
	return names, nil
}

// exported returns the names of the series dev's /metrics serves: each family's, and a
// histogram's _bucket, _sum and _count.
func (s *system) exported() map[string]bool {
	s.t.Helper()
	resp, err := http.Get("http://" + s.metricsAddr + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /metrics: HTTP %d, %v", resp.StatusCode, err)
	}
	textParser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := textParser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		s.t.Fatalf("dev's /metrics is not the Prometheus text format: %v", err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

// assertDeployedMetricsExported checks every metric that deploy/ names against dev's
// /metrics; the monitor's and the saga's counters may take a few seconds to appear.
func (s *system) assertDeployedMetricsExported() {
	s.t.Helper()
	exprs, err := deployedExpressions()
	if err != nil {
		s.t.Fatal(err)
	}
	if len(exprs) < 20 {
		s.t.Fatalf("deploy/ holds %d expressions; the rules or the dashboard were not read", len(exprs))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		have := s.exported()
		var missing []string
		for where, expr := range exprs {
			names, err := metricNames(expr)
			if err != nil {
				s.t.Fatalf("%s: %q is not PromQL: %v", where, expr, err)
			}
			if len(names) == 0 {
				s.t.Errorf("%s: %q names no metric", where, expr)
			}
			for _, name := range names {
				if !have[name] {
					missing = append(missing, fmt.Sprintf("%s (%s)", name, where))
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			s.t.Fatalf("deploy/ names metrics that dev does not export:\n  %s", strings.Join(missing, "\n  "))
		}
		time.Sleep(time.Second)
	}
}
