// Command k8scheck validates the Kubernetes manifests in deploy/kubernetes against the
// schemas of the Kubernetes API itself, with kubeconform, without a network beyond the Go
// module proxy: it takes the API's OpenAPI document (api/openapi-spec/swagger.json) from
// the k8s.io/kubernetes module of the version it names, turns each kind's definition into a
// standalone, strict JSON schema (no field the API does not know, as `kubectl apply
// --validate=strict` refuses them), and validates every resource the kustomization lists.
//
//	go run -C tools/k8scheck . ../../deploy/kubernetes
//
// Before it trusts a pass it checks that the schemas refuse two broken manifests (an
// unknown field, a wrong type), so a validator that accepts everything cannot pass.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/yannh/kubeconform/pkg/validator"
	"sigs.k8s.io/yaml"
)

// kubernetesModule is the Kubernetes release whose API the manifests are checked against.
const kubernetesModule = "k8s.io/kubernetes@v1.37.2"

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: k8scheck <directory with kustomization.yaml>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "k8scheck:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	spec, err := openAPIDocument()
	if err != nil {
		return err
	}
	schemas, err := os.MkdirTemp("", "k8scheck-schemas-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(schemas)
	n, err := writeSchemas(spec, schemas)
	if err != nil {
		return err
	}
	fmt.Printf("%d kinds' schemas from %s\n", n, kubernetesModule)
	v, err := validator.New([]string{filepath.Join(schemas, "{{ .ResourceKind }}_{{ .Group }}_{{ .ResourceAPIVersion }}.json")},
		validator.Opts{Strict: true})
	if err != nil {
		return err
	}
	if err := refusesBrokenManifests(v); err != nil {
		return err
	}
	files, err := kustomizationResources(dir)
	if err != nil {
		return err
	}
	failed := 0
	for _, file := range files {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		results := v.Validate(file, f)
		f.Close()
		for _, r := range results {
			sig, _ := r.Resource.Signature()
			name := file
			if sig != nil {
				name = fmt.Sprintf("%s: %s %s", file, sig.Kind, sig.Name)
			}
			switch r.Status {
			case validator.Valid:
				fmt.Printf("valid    %s\n", name)
			case validator.Empty:
			default:
				failed++
				fmt.Printf("INVALID  %s: %v\n", name, describe(r))
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d resources are not valid", failed)
	}
	return nil
}

// describe says why a resource failed: the schema's whole explanation, every leaf with
// its path, or why it could not be checked at all.
func describe(r validator.Result) string {
	switch r.Status {
	case validator.Skipped:
		return "no schema for its kind"
	case validator.Error:
		return fmt.Sprintf("could not be read: %v", r.Err)
	}
	return fmt.Sprint(r.Err)
}

// refusesBrokenManifests checks that the validator fails what the API server would refuse.
func refusesBrokenManifests(v validator.Validator) error {
	for name, doc := range map[string]string{
		"an unknown field": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n" +
			"  selector: {matchLabels: {a: b}}\n  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}\n",
		"a wrong type": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: \"many\"}]}\n",
	} {
		for _, r := range v.Validate(name, io.NopCloser(strings.NewReader(doc))) {
			if r.Status != validator.Invalid {
				return fmt.Errorf("the schemas do not refuse %s (status %d): they would not catch a broken manifest", name, r.Status)
			}
		}
	}
	return nil
}

// kustomizationResources lists the files dir/kustomization.yaml applies; every other YAML
// file in dir must be among them, so that none is left unchecked (or unapplied).
func kustomizationResources(dir string) ([]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	var k struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Resources  []string `json:"resources"`
	}
	if err := yaml.UnmarshalStrict(raw, &k); err != nil {
		return nil, fmt.Errorf("kustomization.yaml: %w", err)
	}
	listed := map[string]bool{}
	for _, r := range k.Resources {
		listed[r] = true
	}
	all, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range all {
		if base := filepath.Base(f); base != "kustomization.yaml" && !listed[base] {
			return nil, fmt.Errorf("%s is not in kustomization.yaml's resources", base)
		}
	}
	if len(k.Resources) == 0 {
		return nil, errors.New("kustomization.yaml lists no resources")
	}
	return k.Resources, nil
}

// openAPIDocument reads the Kubernetes API's OpenAPI (v2) document from the module cache,
// downloading the module through the proxy the first time.
func openAPIDocument() (map[string]any, error) {
	out, err := exec.Command("go", "mod", "download", "-json", kubernetesModule).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			err = fmt.Errorf("%w: %s%s", err, exit.Stderr, out)
		}
		return nil, fmt.Errorf("download %s: %w", kubernetesModule, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("download %s: no directory in %s", kubernetesModule, out)
	}
	raw, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return nil, err
	}
	var spec map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("swagger.json: %w", err)
	}
	return spec, nil
}
