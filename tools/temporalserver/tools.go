// Package temporalserver pins the Temporal server (go.temporal.io/server/cmd/server) and its
// SQL schema tool (cmd/tools/sql) apart from the service's module: the server's packages pin
// an older go.temporal.io/api than the SDK the service uses. internal/temporalserver builds
// them once into the user's cache and runs the server's four services as processes of
// their own (`ordersaga chaos`); `go build -o DIR go.temporal.io/server/cmd/server` here
// builds it by hand.
package temporalserver
