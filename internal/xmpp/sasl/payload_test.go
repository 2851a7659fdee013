package sasl

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	tests := []struct {
		in   string
		want []byte // nil with cond "" means absent
		cond string
	}{
		{"", nil, ""},
		{"  \n", nil, ""},
		{"=", []byte{}, ""},
		{" =\n", []byte{}, ""},
		{"AGFsaWNlAHBlbmNpbA==", []byte("\x00alice\x00pencil"), ""},
		{"\n  AGFsaWNlAHBlbmNpbA==\n", []byte("\x00alice\x00pencil"), ""},
		{"YWJj", []byte("abc"), ""},
		{"YWI=", []byte("ab"), ""},
		{"YQ==", []byte("a"), ""},
		{"YQ", nil, "incorrect-encoding"},       // padding required
		{"YQ=", nil, "incorrect-encoding"},      // length
		{"YR==", nil, "incorrect-encoding"},     // non-zero padding bits
		{"YQ==YQ==", nil, "incorrect-encoding"}, // padding in the middle
		{"YW\nJj", nil, "incorrect-encoding"},   // line break inside
		{"YW\rJj", nil, "incorrect-encoding"},   // CR inside (Go's decoder skips it)
		{"YW Jj", nil, "incorrect-encoding"},    // space inside
		{"YWJ-", nil, "incorrect-encoding"},     // URL alphabet
		{"YWJ_", nil, "incorrect-encoding"},     // URL alphabet
		{"YWJj!", nil, "incorrect-encoding"},    // outside the alphabet
		{"====", nil, "incorrect-encoding"},     // only padding
		{"A===", nil, "incorrect-encoding"},     // three padding characters
		{"==", nil, "incorrect-encoding"},       // not the "=" marker
		{"YWJj\x00", nil, "incorrect-encoding"}, // NUL
		{"YWJjé", nil, "incorrect-encoding"},    // non-ASCII
		// Just over MaxMessage, and far over it.
		{strings.Repeat("QUFB", MaxMessage/3+1), nil, "malformed-request"},
		{strings.Repeat("QUFB", MaxMessage), nil, "malformed-request"},
	}
	for _, tt := range tests {
		got, err := DecodePayload(tt.in)
		wantCondition(t, "DecodePayload("+short(tt.in)+")", err, tt.cond)
		if err == nil && (!bytes.Equal(got, tt.want) || (got == nil) != (tt.want == nil)) {
			t.Errorf("DecodePayload(%q) = %q (nil %v), want %q (nil %v)", short(tt.in), short(string(got)), got == nil, tt.want, tt.want == nil)
		}
	}
	// The limit itself decodes.
	if b, err := DecodePayload(EncodePayload(make([]byte, MaxMessage))); err != nil || len(b) != MaxMessage {
		t.Errorf("MaxMessage bytes: %d, %v", len(b), err)
	}
}

func TestEncodePayload(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want string
	}{
		{nil, "="},
		{[]byte{}, "="},
		{[]byte("abc"), "YWJj"},
		{[]byte("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="), "dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9"},
	} {
		if got := EncodePayload(tt.in); got != tt.want {
			t.Errorf("EncodePayload(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
