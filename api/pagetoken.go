package api

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/ordersaga/ordersaga"
)

// Page tokens, one format for both services: a fingerprint of the request's selection (its
// filters), so that a token is refused with other filters, then where the next page starts,
// in base64url. Clients pass them back unchanged and learn nothing from them.

// fingerprintBytes is how much of the selection's SHA-256 a token carries.
const fingerprintBytes = 8

func fingerprint(selection string) []byte {
	sum := sha256.Sum256([]byte(selection))
	return sum[:fingerprintBytes]
}

// encodePageToken returns the token of the page that starts at cursor within selection.
func encodePageToken(selection string, cursor []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(fingerprint(selection), cursor...))
}

// decodePageToken returns the cursor of token, or an EINVALID error naming page_token when
// token is malformed or belongs to another selection.
func decodePageToken(token, selection string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) <= fingerprintBytes {
		return nil, ordersaga.Invalidf("page_token", "malformed; pass next_page_token from the previous response unchanged")
	}
	if string(b[:fingerprintBytes]) != string(fingerprint(selection)) {
		return nil, ordersaga.Invalidf("page_token", "belongs to other filters; keep every other field of the request unchanged while paging")
	}
	return b[fingerprintBytes:], nil
}
