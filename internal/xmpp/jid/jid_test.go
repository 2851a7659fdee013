package jid

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"localhost", "localhost"},
		{"LocalHost.", "localhost"},
		{"Alice@Example.COM/Res", "alice@example.com/Res"},
		{"a@b/c/d@e", "a@b/c/d@e"},
		{"3f2a9c1e-aa@localhost/x", "3f2a9c1e-aa@localhost/x"},
		{"room@conference.localhost/3f2a9c1e", "room@conference.localhost/3f2a9c1e"},
		{"ÄLICE@localhost", "älice@localhost"},
		{"user@[::1]", "user@[::1]"},
		{"a@bücher.example", "a@bücher.example"},
	} {
		j, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if j.String() != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, j, tc.want)
		}
		again, err := Parse(j.String())
		if err != nil || again != j {
			t.Errorf("round trip of %q: %v %v", j, again, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		"", "@localhost", "a@", "a@b/", "/res", "a b@localhost", "a\"@localhost", "a:b@localhost",
		"a@b@c", "a@[::1", "a@[1.2.3.4]", "a@-bad-.example", strings.Repeat("x", 1024) + "@localhost",
		"a@localhost/" + strings.Repeat("r", 1024), "a\u202e@localhost", "a@localhost/\u0000",
	} {
		if j, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, j)
		} else if !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) error %v does not wrap ErrMalformed", in, err)
		}
	}
}

func TestParts(t *testing.T) {
	j := MustParse("a@b/c")
	if j.Bare().String() != "a@b" || j.IsBare() || !j.Bare().IsBare() || j.IsDomain() || !MustParse("b").IsDomain() {
		t.Fatal("Bare/IsBare/IsDomain")
	}
	if j.WithResource("d").String() != "a@b/d" || (JID{}).String() != "" || !(JID{}).IsZero() {
		t.Fatal("WithResource/zero")
	}
}

// FuzzParse: parsing never panics, and whatever parses is a fixed point.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a@b/c", "localhost", "user@[::1]/r", "ÄLICE@Example.COM", "a@b@c/d/e", "\xff@x", "x@xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			return
		}
		k, err := Parse(j.String())
		if err != nil || k != j {
			t.Fatalf("%q parsed to %q, which reparses to %q (%v)", s, j, k, err)
		}
	})
}
