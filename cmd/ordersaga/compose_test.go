package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"

	"github.com/ordersaga/ordersaga/internal/topology"
	"github.com/ordersaga/ordersaga/natsembed"
	"github.com/ordersaga/ordersaga/temporaldev"
	"github.com/ordersaga/ordersaga/workflows"
)

// composeFile is the part of docker-compose.yml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Expose      []string          `yaml:"expose"`
	} `yaml:"services"`
}

// readCompose reads docker-compose.yml.
func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// readsEnv returns the environment variables cmd reads: those its flags default from.
func readsEnv(cmd *cobra.Command) map[string]bool {
	read := map[string]bool{}
	note := func(f *pflag.Flag) {
		for _, env := range f.Annotations[envAnnotation] {
			read[env] = true
		}
	}
	cmd.Flags().VisitAll(note)
	cmd.InheritedFlags().VisitAll(note)
	return read
}

// everyCommand calls visit for cmd and every command below it.
func everyCommand(cmd *cobra.Command, visit func(*cobra.Command)) {
	visit(cmd)
	for _, sub := range cmd.Commands() {
		everyCommand(sub, visit)
	}
}

// No Docker engine runs here, so this checks docker-compose.yml against the binary instead:
// every ordersaga service runs a real command with flags it accepts, sets only environment
// variables the binary reads (and the connection ones its role needs), points them at the
// services that provide them, and publishes the ports it listens on.
func TestDockerComposeMatchesTheBinary(t *testing.T) {
	c := readCompose(t)
	// The dev server registers the saga's search attributes.
	for _, key := range []temporal.SearchAttributeKeyKeyword{workflows.OrderStatusAttribute, workflows.CustomerIDAttribute} {
		if !slices.Contains(temporaldev.SearchAttributes(), key.GetName()+"=Keyword") {
			t.Errorf("the dev server does not register the saga's search attribute %s", key.GetName())
		}
	}
	// The Temporal service starts like the dev server that `ordersaga dev` runs.
	temporalCommand := strings.Join(c.Services["temporal"].Command, " ")
	for _, sa := range temporaldev.SearchAttributes() {
		if !strings.Contains(temporalCommand, "--search-attribute "+sa) {
			t.Errorf("the temporal service does not register search attribute %s", sa)
		}
	}
	for _, kv := range temporaldev.DynamicConfig() {
		if !strings.Contains(temporalCommand, "--dynamic-config-value "+kv) {
			t.Errorf("the temporal service does not set %s", kv)
		}
	}
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	known := map[string]bool{}
	everyCommand(m.commands(), func(cmd *cobra.Command) {
		for name := range readsEnv(cmd) {
			known[name] = true
		}
	})
	// What each service listens on for the others (published to the host or only exposed
	// on the compose network), and what it publishes on every host interface.
	published, everywhere := map[string][]string{}, map[string][]string{}
	for name, svc := range c.Services {
		for _, p := range svc.Ports {
			published[name] = append(published[name], p[strings.LastIndex(p, ":")+1:])
			if !strings.HasPrefix(p, "127.0.0.1:") {
				everywhere[name] = append(everywhere[name], p)
			}
		}
		published[name] = append(published[name], svc.Expose...)
	}
	// Only the API, which authenticates every call, faces every host interface.
	for name, ports := range everywhere {
		if name != "api" {
			t.Errorf("%s publishes %v on every host interface; publish on 127.0.0.1, or only expose", name, ports)
		}
	}
	clientIDs := map[string]string{}
	ordersagaServices := 0
	var scraped []string // what Prometheus should scrape: host:port of every role that serves metrics
	for name, svc := range c.Services {
		if svc.Image != "ordersaga:dev" {
			continue
		}
		ordersagaServices++
		if len(svc.Command) == 0 {
			t.Errorf("%s: no command", name)
			continue
		}
		role, rest, err := m.commands().Find(svc.Command)
		if err != nil || !role.HasParent() {
			t.Errorf("%s: command %q is not an ordersaga command: %v", name, svc.Command[0], err)
			continue
		}
		role.SetOut(io.Discard)
		role.SetErr(io.Discard)
		if err := role.ParseFlags(rest); err != nil || role.ValidateArgs(role.Flags().Args()) != nil {
			t.Errorf("%s: %v is not accepted: %v %v", name, svc.Command, err, role.Flags().Args())
		}
		reads := readsEnv(role)
		for env := range svc.Environment {
			if !known[env] {
				t.Errorf("%s: environment variable %s is read by no ordersaga command", name, env)
			}
		}
		for _, needed := range []string{"DATABASE_URL", "NATS_URL", "NATS_MONITOR_URL", "TEMPORAL_ADDRESS"} {
			if reads[needed] && svc.Environment[needed] == "" {
				t.Errorf("%s: %s runs %s, which needs %s", name, name, svc.Command[0], needed)
			}
		}
		if reads["ORDERSAGA_STAN_CLIENT_ID"] && svc.Command[0] != "migrate" {
			id := svc.Environment["ORDERSAGA_STAN_CLIENT_ID"]
			if other, dup := clientIDs[id]; dup || id == "" {
				t.Errorf("%s: NATS Streaming client id %q is missing or shared with %s; it must be unique per process", name, id, other)
			}
			clientIDs[id] = name
		}
		if addr := svc.Environment["ORDERSAGA_METRICS_ADDR"]; addr != "" && reads["ORDERSAGA_METRICS_ADDR"] {
			_, port, _ := net.SplitHostPort(addr)
			scraped = append(scraped, name+":"+port)
		}
		if addr := svc.Environment["ORDERSAGA_GRPC_ADDR"]; addr != "" {
			_, port, _ := net.SplitHostPort(addr)
			if !slices.Contains(published[name], port) {
				t.Errorf("%s listens on %s but publishes %v", name, addr, published[name])
			}
		}
		// Connection settings point at compose services on the ports those publish.
		for env, service := range map[string]string{"DATABASE_URL": "cockroach", "NATS_URL": "nats", "NATS_MONITOR_URL": "nats", "TEMPORAL_ADDRESS": "temporal"} {
			v := svc.Environment[env]
			if v == "" {
				continue
			}
			host := v
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				host = u.Host
			}
			h, port, err := net.SplitHostPort(host)
			if err != nil || h != service || !slices.Contains(published[service], port) {
				t.Errorf("%s: %s=%s does not point at service %s on one of its ports %v", name, env, v, service, published[service])
			}
		}
	}
	// The ordersaga services are the topology's roles, as many of each as it says, with its
	// commands and flags; keys (which makes the signing key the API trusts) is compose's own.
	want := map[string][]string{"keys": {"keys", "--dir", "/keys"}}
	for _, r := range topology.Roles() {
		if r.Replicas == 1 {
			want[r.Name] = r.Args
			continue
		}
		for i := 1; i <= r.Replicas; i++ {
			want[fmt.Sprintf("%s-%d", r.Name, i)] = r.Args
		}
	}
	for name, svc := range c.Services {
		args, ok := want[name]
		switch {
		case svc.Image != "ordersaga:dev":
		case !ok:
			t.Errorf("%s: an ordersaga service that is no role of internal/topology", name)
		case !slices.Equal(svc.Command, args):
			t.Errorf("%s runs %q; internal/topology says %q", name, svc.Command, args)
		}
	}
	for name := range want {
		if c.Services[name].Image != "ordersaga:dev" {
			t.Errorf("no ordersaga service %s, which internal/topology runs", name)
		}
	}
	if ordersagaServices != len(want) {
		t.Errorf("%d ordersaga services, want %d", ordersagaServices, len(want))
	}
	// Exactly the roles that only receive events connect to NATS as the reader.
	for name, svc := range c.Services {
		role, ok := topology.Named(strings.TrimRight(strings.TrimRight(name, "0123456789"), "-"))
		if user := svc.Environment["NATS_USER"]; ok && user != "" && (user == "ordersaga-reader") != role.Reader {
			t.Errorf("%s connects to NATS as %s; internal/topology says reader: %v", name, user, role.Reader)
		}
	}
	// Prometheus scrapes exactly the roles that serve metrics, where they serve them.
	if targets := prometheusTargets(t); !sameSet(targets, scraped) {
		t.Errorf("deploy/prometheus.yml scrapes %v; the roles serve metrics at %v", targets, scraped)
	}
}

// prometheusTargets reads the scrape targets of deploy/prometheus.yml.
func prometheusTargets(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	return targets
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// TestComposeNATSGivesReadersThePermissionsDevGives reads deploy/nats.conf, as the NATS
// server in docker-compose.yml does: the reader may not publish what dev's readers may not
// (natsembed.ReaderPublishDeny), the writer may publish, NATS Streaming connects as the
// writer, and exactly the roles that only receive events (projectors, the restaurant)
// connect as the reader.
func TestComposeNATSGivesReadersThePermissionsDevGives(t *testing.T) {
	t.Setenv("NATS_PASSWORD", "writer-secret")
	t.Setenv("NATS_READER_PASSWORD", "reader-secret")
	cfg, err := conf.ParseFile("../../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	users, _ := cfg["authorization"].(map[string]any)["users"].([]any)
	denied := map[string][]string{}
	passwords := map[string]string{}
	for _, u := range users {
		user := u.(map[string]any)
		name := user["user"].(string)
		passwords[name] = fmt.Sprint(user["password"])
		var deny []string
		if perms, ok := user["permissions"].(map[string]any); ok {
			for _, d := range perms["publish"].(map[string]any)["deny"].([]any) {
				deny = append(deny, d.(string))
			}
		}
		denied[name] = deny
	}
	if len(denied) != 2 || len(denied["ordersaga"]) != 0 || !slices.Equal(denied["ordersaga-reader"], natsembed.ReaderPublishDeny) {
		t.Errorf("NATS users and their publish denials = %v; want ordersaga with none and ordersaga-reader with %v", denied, natsembed.ReaderPublishDeny)
	}
	if passwords["ordersaga"] != "writer-secret" || passwords["ordersaga-reader"] != "reader-secret" {
		t.Errorf("passwords = %v, want them from NATS_PASSWORD and NATS_READER_PASSWORD", passwords)
	}
	streaming, _ := cfg["streaming"].(map[string]any)
	if streaming["username"] != "ordersaga" || streaming["password"] != "writer-secret" || streaming["cluster_id"] != "ordersaga" {
		t.Errorf("NATS Streaming's own connection: %v, want it as the writer, cluster ordersaga", streaming)
	}
	c := readCompose(t)
	for name, svc := range c.Services {
		user, ok := svc.Environment["NATS_USER"]
		if !ok {
			continue
		}
		reader := strings.HasPrefix(name, "projector") || name == "restaurant"
		if want := map[bool]string{true: "ordersaga-reader", false: "ordersaga"}[reader]; user != want {
			t.Errorf("%s connects to NATS as %s, want %s", name, user, want)
		}
	}
}
