// Package auth is ordersaga's trust boundary: who a caller is (a Principal, named by a
// signed bearer token that Verifier checks against a JSON Web Key Set) and what each kind
// of caller may do (the policy functions). It uses go-jose for every cryptographic step.
package auth

import (
	"context"
	"fmt"

	"github.com/ordersaga/ordersaga"
)

// Role is the kind of caller.
type Role string

// The roles.
const (
	// Customer acts on its own account and orders only.
	Customer Role = "customer"
	// Restaurant sees and decides only its own restaurant's orders.
	Restaurant Role = "restaurant"
	// Operator may do everything, including crediting accounts and using the event store.
	Operator Role = "operator"
)

// Principal is an authenticated caller: its role and its id (the customer's or the
// restaurant's id, or the operator's name).
type Principal struct {
	Role Role
	ID   string
}

// String is "role:id".
func (p Principal) String() string { return string(p.Role) + ":" + p.ID }

// Validate returns an EINVALID error unless p is a known role with a valid id.
func (p Principal) Validate() error {
	switch p.Role {
	case Customer, Restaurant, Operator:
	default:
		return ordersaga.Invalidf("role", "%q is not customer, restaurant or operator", p.Role)
	}
	return ordersaga.ValidateID("id", p.ID)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries, or an EUNAUTHENTICATED error when it
// carries none.
func FromContext(ctx context.Context) (Principal, error) {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p, nil
	}
	return Principal{}, ordersaga.Errorf(ordersaga.EUNAUTHENTICATED, "no credentials: send a bearer token (authorization: Bearer ...)")
}

// Denied is the EFORBIDDEN error of a caller acting on what it may not: it names the
// thing, not why, so that what exists cannot be told from what the caller may not see.
func Denied(what string, args ...any) error {
	return ordersaga.Errorf(ordersaga.EFORBIDDEN, "%s is not yours to see or change", fmt.Sprintf(what, args...))
}
