package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Definitions whose JSON form is not their OpenAPI type: a quantity ("250m", but also 1)
// and an int-or-string (a port's name or number) take a string or a number.
var numberOrString = map[string]bool{
	"io.k8s.apimachinery.pkg.api.resource.Quantity":   true,
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": true,
}

// writeSchemas writes one standalone JSON schema per kind of the OpenAPI document into
// dir, named as kubeconform's template in run expects, and returns how many it wrote.
func writeSchemas(spec map[string]any, dir string) (int, error) {
	defs, ok := spec["definitions"].(map[string]any)
	if !ok {
		return 0, fmt.Errorf("the OpenAPI document has no definitions")
	}
	n := 0
	for name, def := range defs {
		gvks, _ := def.(map[string]any)["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk := g.(map[string]any)
			group, version, kind := gvk["group"].(string), gvk["version"].(string), gvk["kind"].(string)
			schema := map[string]any{"definitions": map[string]any{}}
			reachable(defs, name, schema["definitions"].(map[string]any))
			for k, v := range strict(def).(map[string]any) {
				schema[k] = v
			}
			file := fmt.Sprintf("%s_%s_%s.json", strings.ToLower(kind), first(group, version), version)
			raw, err := json.Marshal(schema)
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(filepath.Join(dir, file), raw, 0o644); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// first is kubeconform's Group: the API group, or for the core group its version.
func first(group, version string) string {
	if group == "" {
		return version
	}
	return group
}

// reachable copies into out, made strict, every definition that name refers to, directly
// or through others.
func reachable(defs map[string]any, name string, out map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				target := strings.TrimPrefix(ref, "#/definitions/")
				if _, done := out[target]; !done {
					out[target] = strict(defs[target])
					walk(defs[target])
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(defs[name])
	for target := range out {
		if numberOrString[target] {
			out[target] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
		}
	}
}

// strict returns a copy of a schema in which every object that lists its properties
// allows no others, and the OpenAPI extensions (x-...) are dropped.
func strict(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if strings.HasPrefix(k, "x-") {
				continue
			}
			out[k] = strict(x)
		}
		if props, ok := v["properties"].(map[string]any); ok {
			if _, set := v["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
			// The properties map's keys are field names, not keywords: keep them all.
			kept := map[string]any{}
			for k, x := range props {
				kept[k] = strict(x)
			}
			out["properties"] = kept
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = strict(x)
		}
		return out
	}
	return v
}
