package sasl

import (
	"encoding/base64"
	"strings"
)

// MaxMessage bounds one decoded client message (initial response or
// <response/>) in bytes. Real SCRAM and PLAIN messages are a few hundred;
// a PLAIN message carrying a JWT (auth.MaxTokenBytes) needs more.
const MaxMessage = 10 << 10

// maxEncoded is the base64 length of MaxMessage bytes.
var maxEncoded = base64.StdEncoding.EncodedLen(MaxMessage)

// DecodePayload turns the XML character data of <auth/>, <response/> (or
// <challenge/>, <success/>) into bytes (RFC 6120 §6.4.2): no text means no
// data (nil), "=" means present but empty, anything else is strict standard
// base64 (RFC 4648 §4, padding required, no characters outside the alphabet
// in between, RFC 4648 §3.3). Leading and trailing XML whitespace is
// formatting around the element's text, not part of the encoding, and is
// ignored. Bad encoding is ErrIncorrectEncoding; more than MaxMessage bytes is
// ErrMalformedRequest.
func DecodePayload(text string) ([]byte, error) {
	text = strings.Trim(text, " \t\r\n")
	switch {
	case text == "":
		return nil, nil
	case text == "=":
		return []byte{}, nil
	case len(text) > maxEncoded:
		return nil, fail(ErrMalformedRequest, "message too large", nil)
	case len(text)%4 != 0:
		return nil, fail(ErrIncorrectEncoding, "base64 length is not a multiple of 4", nil)
	}
	// encoding/base64 skips CR and LF even in strict mode, so check the
	// alphabet first; Strict then refuses non-zero padding bits.
	body := strings.TrimRight(text, "=")
	if len(text)-len(body) > 2 {
		return nil, fail(ErrIncorrectEncoding, "too much base64 padding", nil)
	}
	for i := 0; i < len(body); i++ {
		if !isBase64(body[i]) {
			return nil, fail(ErrIncorrectEncoding, "character outside the base64 alphabet", nil)
		}
	}
	b, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return nil, fail(ErrIncorrectEncoding, "invalid base64", nil)
	}
	if len(b) > MaxMessage { // the last quantum can still carry 2 bytes too many
		return nil, fail(ErrMalformedRequest, "message too large", nil)
	}
	return b, nil
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}

// EncodePayload is the inverse of DecodePayload for server data: "=" for
// empty data (RFC 6120 §6.4.2, §6.3.10), standard base64 otherwise. Callers
// send no text at all when there is no data (nil from Step).
func EncodePayload(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}
