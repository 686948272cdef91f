package api

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ordersaga/ordersaga"
)

// Status converts an error from the application into the gRPC status the caller sees. It is
// the one place where application error codes become gRPC codes:
//
//	invalid     → InvalidArgument (with a google.rpc.BadRequest naming the field)
//	not_found   → NotFound
//	conflict    → Aborted (a concurrency conflict: re-read, then decide again)
//	failed_precondition → FailedPrecondition (not in a state that allows it)
//	unauthenticated → Unauthenticated (no credentials, or ones that do not verify)
//	permission_denied → PermissionDenied (not the caller's to see or change)
//	unavailable → Unavailable (retry the same call later)
//	internal    → Internal, with a generic message; the cause is logged, not returned
//
// Context cancellation and deadlines become Canceled and DeadlineExceeded, and an error that
// already is a gRPC status passes through.
func Status(logger *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	msg := ordersaga.ErrorMessage(err)
	switch code := ordersaga.ErrorCode(err); code {
	case ordersaga.EINVALID:
		st := status.New(codes.InvalidArgument, msg)
		var appErr *ordersaga.Error
		if errors.As(err, &appErr) && appErr.Field != "" {
			if withDetails, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
				{Field: appErr.Field, Description: msg},
			}}); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	case ordersaga.ENOTFOUND:
		return status.Error(codes.NotFound, msg)
	case ordersaga.ECONFLICT:
		return status.Error(codes.Aborted, msg)
	case ordersaga.EEXISTS:
		return status.Error(codes.AlreadyExists, msg)
	case ordersaga.EPRECONDITION:
		return status.Error(codes.FailedPrecondition, msg)
	case ordersaga.EUNAUTHENTICATED:
		return status.Error(codes.Unauthenticated, msg)
	case ordersaga.EFORBIDDEN:
		return status.Error(codes.PermissionDenied, msg)
	case ordersaga.EUNAVAILABLE:
		logger.Warn("dependency unavailable", "method", method, "err", err)
		return status.Error(codes.Unavailable, msg)
	default:
		logger.Error("internal error", "method", method, "err", err)
		return status.Error(codes.Internal, "internal error")
	}
}
