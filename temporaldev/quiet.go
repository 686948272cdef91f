package temporaldev

import (
	"log/slog"

	"go.temporal.io/sdk/log"
)

// quietLogger keeps the SDK quiet while waiting for the server.
var quietLogger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))
