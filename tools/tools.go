// Package tools pins the versions of the code generators and command-line tools that
// ordersaga's build uses, apart from the service's own module so that their dependency
// graphs never reach the service's go.mod. Run them with `go tool -modfile=tools/go.mod NAME`.
package tools
