package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeUsername(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"alice", "alice"},
		{"Alice", "alice"},
		{"ÅSA", "åsa"},
		{"\uFF41bc", "abc"}, // fullwidth a is mapped by width mapping
		{"o'brien", ""},
		{"a@b", ""},
		{"a/b", ""},
		{"a:b", ""},
		{"a<b", ""},
		{"a>b", ""},
		{"a&b", ""},
		{`a"b`, ""},
		{"a b", ""},
		{"", ""},
		{"a\x00b", ""},
		{"\u200b", ""}, // zero-width space: disallowed by PRECIS
		{"\u202eevil", ""},
		{strings.Repeat("a", 1023), strings.Repeat("a", 1023)},
		{strings.Repeat("a", 1024), ""},
		{"a,b=c", "a,b=c"}, // allowed in a localpart; SCRAM escapes them
	}
	for _, tt := range tests {
		got, err := NormalizeUsername(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrInvalidUsername) {
				t.Errorf("NormalizeUsername(%q) = %q, %v; want ErrInvalidUsername", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeUsername(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizePassword(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"pencil", "pencil", true},
		{"pass word", "pass word", true},
		{"pass\u00a0word", "pass word", true}, // non-ASCII space maps to U+0020
		{"", "", false},
		{"a\x00b", "", false},
		{"a\x07b", "", false},
		{strings.Repeat("x", MaxPassword), strings.Repeat("x", MaxPassword), true},
		{strings.Repeat("x", MaxPassword+1), "", false},
	}
	for _, tt := range tests {
		got, err := normalizePassword(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("normalizePassword(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidPassword) || (tt.in != "" && strings.Contains(err.Error(), tt.in))) {
			t.Errorf("normalizePassword(%q) error %q: want ErrInvalidPassword without the password", tt.in, err)
		}
	}
}
