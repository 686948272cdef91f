package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ordersaga/ordersaga/internal/topology"
	"github.com/ordersaga/ordersaga/probes"
)

// k8sObject is the part of a Kubernetes manifest the test reads.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas *int `yaml:"replicas"`
		Template struct {
			Spec struct {
				Containers []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Image   string   `yaml:"image"`
	Args    []string `yaml:"args"`
	EnvFrom []struct {
		ConfigMapRef struct {
			Name string `yaml:"name"`
		} `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		ContainerPort int `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
}

type k8sProbe struct {
	GRPC *struct {
		Port    int    `yaml:"port"`
		Service string `yaml:"service"`
	} `yaml:"grpc"`
}

// readManifests reads every object of deploy/kubernetes.
func readManifests(t *testing.T) []k8sObject {
	t.Helper()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var objects []k8sObject
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var o k8sObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			objects = append(objects, o)
		}
	}
	return objects
}

// The Kubernetes manifests run the topology's roles (tools/k8scheck checks them against
// the API's schemas; this checks them against the binary): each role a workload named
// after it, at least as many replicas, the topology's command and flags, only environment
// variables the binary reads, the connections its role needs, a NATS Streaming client id
// of its own, the reader's NATS user for exactly the roles that only receive, and probes
// on the health port the role serves (liveness and readiness).
func TestKubernetesManifestsRunTheTopology(t *testing.T) {
	m := &Main{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	known := map[string]bool{}
	everyCommand(m.commands(), func(cmd *cobra.Command) {
		for name := range readsEnv(cmd) {
			known[name] = true
		}
	})
	objects := readManifests(t)
	configMaps := map[string]map[string]string{}
	for _, o := range objects {
		if o.Kind == "ConfigMap" {
			configMaps[o.Metadata.Name] = o.Data
		}
	}
	seen := map[string]bool{}
	for _, o := range objects {
		if o.Kind != "Deployment" && o.Kind != "Job" {
			continue
		}
		name := o.Metadata.Name
		role, ok := topology.Named(name[len("ordersaga-"):])
		if !ok || name[:len("ordersaga-")] != "ordersaga-" {
			t.Errorf("%s %s runs no role of internal/topology", o.Kind, name)
			continue
		}
		seen[role.Name] = true
		if (o.Kind == "Job") != role.OneShot {
			t.Errorf("%s is a %s; internal/topology says one-shot: %v", name, o.Kind, role.OneShot)
		}
		if replicas := 1; o.Kind == "Deployment" {
			if o.Spec.Replicas != nil {
				replicas = *o.Spec.Replicas
			}
			if replicas < role.Replicas {
				t.Errorf("%s runs %d replicas, fewer than internal/topology's %d", name, replicas, role.Replicas)
			}
		}
		containers := o.Spec.Template.Spec.Containers
		if len(containers) != 1 {
			t.Errorf("%s: %d containers, want 1", name, len(containers))
			continue
		}
		c := containers[0]
		if c.Image == "" || !slices.Equal(c.Args, role.Args) {
			t.Errorf("%s runs image %q with %q; internal/topology says %q", name, c.Image, c.Args, role.Args)
		}
		cmd, rest, err := m.commands().Find(c.Args)
		if err != nil || !cmd.HasParent() {
			t.Errorf("%s: %q is not an ordersaga command", name, c.Args)
			continue
		}
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %q is not accepted: %v", name, c.Args, err)
		}
		env := map[string]string{}
		fromPod := map[string]bool{}
		for _, from := range c.EnvFrom {
			cm, ok := configMaps[from.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s reads ConfigMap %s, which deploy/kubernetes does not make", name, from.ConfigMapRef.Name)
			}
			for k, v := range cm {
				env[k] = v
			}
		}
		for _, e := range c.Env {
			env[e.Name] = e.Value
			if e.ValueFrom != nil {
				env[e.Name] = "(from " + e.Name + ")"
				fromPod[e.Name] = e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
			}
		}
		reads := readsEnv(cmd)
		for k := range env {
			if !known[k] {
				t.Errorf("%s: environment variable %s is read by no ordersaga command", name, k)
			}
		}
		for _, needed := range []string{"DATABASE_URL", "NATS_URL", "NATS_MONITOR_URL", "TEMPORAL_ADDRESS"} {
			if reads[needed] && env[needed] == "" {
				t.Errorf("%s runs %s, which needs %s", name, c.Args[0], needed)
			}
		}
		if reads["ORDERSAGA_STAN_CLIENT_ID"] && !fromPod["ORDERSAGA_STAN_CLIENT_ID"] {
			t.Errorf("%s: its NATS Streaming client id must be its pod's name (unique per process)", name)
		}
		if user := env["NATS_USER"]; reads["NATS_USER"] && (user == "ordersaga-reader") != role.Reader {
			t.Errorf("%s connects to NATS as %q; internal/topology says reader: %v", name, user, role.Reader)
		}
		if role.OneShot {
			continue
		}
		_, port, err := net.SplitHostPort(env["ORDERSAGA_HEALTH_ADDR"])
		healthPort, _ := strconv.Atoi(port)
		if err != nil || !reads["ORDERSAGA_HEALTH_ADDR"] {
			t.Errorf("%s serves no health port (ORDERSAGA_HEALTH_ADDR %q)", name, env["ORDERSAGA_HEALTH_ADDR"])
			continue
		}
		declared := false
		for _, p := range c.Ports {
			declared = declared || p.ContainerPort == healthPort
		}
		if !declared {
			t.Errorf("%s does not declare its health port %d", name, healthPort)
		}
		for probe, want := range map[string]struct {
			p       *k8sProbe
			service string
		}{"liveness": {c.LivenessProbe, probes.LivenessService}, "readiness": {c.ReadinessProbe, ""}} {
			if p := want.p; p == nil || p.GRPC == nil || p.GRPC.Port != healthPort || p.GRPC.Service != want.service {
				t.Errorf("%s: its %s probe must ask the gRPC health service on port %d for service %q", name, probe, healthPort, want.service)
			}
		}
	}
	for _, r := range topology.Roles() {
		if !seen[r.Name] {
			t.Errorf("deploy/kubernetes runs no ordersaga-%s, a role of internal/topology", r.Name)
		}
	}
}
