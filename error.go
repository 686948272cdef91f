package ordersaga

import (
	"errors"
	"fmt"
)

// Application error codes. Adapters translate them into their own vocabulary (gRPC status
// codes, HTTP statuses, exit codes) in exactly one place each.
const (
	// EINVALID means the caller sent something malformed; retrying the same request fails again.
	EINVALID = "invalid"
	// ENOTFOUND means the named thing does not exist.
	ENOTFOUND = "not_found"
	// ECONFLICT means the request lost a race or contradicts what is stored: a stale expected
	// version, or an event id reused with different content.
	ECONFLICT = "conflict"
	// EEXISTS means the caller tried to create what exists already with other content
	// (an order id placed before with other items, say); the same request again is a no-op.
	EEXISTS = "already_exists"
	// EPRECONDITION means the thing is not in a state that allows the request (for example
	// a decision for an order that is not awaiting one); retrying it as is fails again.
	EPRECONDITION = "failed_precondition"
	// EUNAUTHENTICATED means the caller sent no credentials, or ones that do not verify
	// (forged, expired, for another audience).
	EUNAUTHENTICATED = "unauthenticated"
	// EFORBIDDEN means the caller may not do this, or may not see the thing it names (the
	// two answer alike, so that ids cannot be probed).
	EFORBIDDEN = "permission_denied"
	// EUNAVAILABLE means a dependency (database, bus) cannot be reached now; retrying later may work.
	EUNAVAILABLE = "unavailable"
	// EINTERNAL means a bug or an unexpected failure; details are logged, not returned.
	EINTERNAL = "internal"
)

// ErrorCodes returns every application error code, for adapters and tests that must
// cover each one.
func ErrorCodes() []string {
	return []string{EINVALID, ENOTFOUND, ECONFLICT, EEXISTS, EPRECONDITION, EUNAUTHENTICATED, EFORBIDDEN, EUNAVAILABLE, EINTERNAL}
}

// Error is the application error. Code is machine-readable, Message is safe to show to the
// caller and names the offending field where there is one; Field repeats that field's path
// for adapters that report it separately. Err keeps the underlying cause for logs.
type Error struct {
	Code    string
	Field   string
	Message string
	Err     error
}

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the underlying cause, so errors.Is and errors.As see through an Error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalidf returns an EINVALID error about field; the message is prefixed with the field's path.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first Error in err's chain, EINTERNAL for any other
// non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of the first Error in err's chain, and a
// generic text for any other error so that internal details never reach callers.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
