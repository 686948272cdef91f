// Package temporal pins the `temporal` CLI (the Temporal dev server with its Web UI, and
// the client users start workflows with) apart from the service's module: the CLI's server
// packages pin an older go.temporal.io/api than the SDK the service uses. Build it with
// `go build -modfile=tools/temporal/go.mod -o bin/temporal github.com/temporalio/cli/cmd/temporal`.
package temporal
