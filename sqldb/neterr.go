package sqldb

import (
	"errors"
	"io"
	"net"
)

// isNetError reports whether err comes from the network below the driver.
func isNetError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
