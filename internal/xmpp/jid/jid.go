// Package jid parses and normalises XMPP addresses (RFC 7622).
//
// A JID is [localpart@]domainpart[/resourcepart]. Parsing splits at the first
// '/' (everything after it is the resource), then at the first '@' of what is
// left. The localpart is normalised with the PRECIS UsernameCaseMapped profile,
// the resourcepart with OpaqueString, and the domainpart is lower-cased and
// checked as an IDNA label sequence (or an IP literal). Each part is at most
// 1023 bytes. A zero JID is the empty value; use IsZero to test for it.
//
// Normalised JIDs compare with ==, which is what the router and MUC rely on.
package jid

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// maxPart is the byte limit RFC 7622 §3.1 sets for each part.
const maxPart = 1023

// ErrMalformed is wrapped by every parse error; XMPP maps it to jid-malformed.
var ErrMalformed = errors.New("jid-malformed")

// JID is a normalised XMPP address. The zero value is "no address".
type JID struct {
	Local, Domain, Resource string
}

// Parse parses and normalises s.
func Parse(s string) (JID, error) {
	if s == "" {
		return JID{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	rest, res, hasRes := strings.Cut(s, "/")
	local, domain, hasLocal := strings.Cut(rest, "@")
	if !hasLocal {
		local, domain = "", rest
	}
	if hasLocal && local == "" {
		return JID{}, fmt.Errorf("%w: empty localpart", ErrMalformed)
	}
	if hasRes && res == "" {
		return JID{}, fmt.Errorf("%w: empty resourcepart", ErrMalformed)
	}
	return New(local, domain, res)
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// New normalises and checks the three parts; local and resource may be empty.
func New(local, domain, resource string) (JID, error) {
	var err error
	var j JID
	if j.Local, err = NormalizeLocal(local); err != nil {
		return JID{}, err
	}
	if j.Domain, err = normalizeDomain(domain); err != nil {
		return JID{}, err
	}
	if j.Resource, err = NormalizeResource(resource); err != nil {
		return JID{}, err
	}
	return j, nil
}

// NormalizeLocal applies the UsernameCaseMapped profile and RFC 7622's extra
// exclusions to a localpart. The empty string is returned unchanged.
func NormalizeLocal(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	out := s
	if !simpleASCII(s, true) {
		var err error
		if out, err = precis.UsernameCaseMapped.String(s); err != nil {
			return "", fmt.Errorf("%w: localpart: %v", ErrMalformed, err)
		}
	}
	if len(out) > maxPart {
		return "", fmt.Errorf("%w: localpart longer than %d bytes", ErrMalformed, maxPart)
	}
	if strings.ContainsAny(out, "\"&'/:<>@ ") {
		return "", fmt.Errorf("%w: localpart contains a forbidden character", ErrMalformed)
	}
	return out, nil
}

// NormalizeResource applies the OpaqueString profile to a resourcepart.
func NormalizeResource(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	out := s
	if !simpleASCII(s, false) {
		var err error
		if out, err = precis.OpaqueString.String(s); err != nil {
			return "", fmt.Errorf("%w: resourcepart: %v", ErrMalformed, err)
		}
	}
	if len(out) > maxPart {
		return "", fmt.Errorf("%w: resourcepart longer than %d bytes", ErrMalformed, maxPart)
	}
	return out, nil
}

func normalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty domainpart", ErrMalformed)
	}
	if len(s) > maxPart {
		return "", fmt.Errorf("%w: domainpart longer than %d bytes", ErrMalformed, maxPart)
	}
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return "", fmt.Errorf("%w: unterminated IPv6 literal", ErrMalformed)
		}
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("%w: bad IPv6 literal", ErrMalformed)
		}
		return "[" + a.String() + "]", nil
	}
	if simpleDomain(s) {
		return strings.ToLower(s), nil
	}
	out, err := idna.Lookup.ToUnicode(strings.ToLower(s))
	if err != nil {
		return "", fmt.Errorf("%w: domainpart: %v", ErrMalformed, err)
	}
	if out == "" || strings.HasSuffix(out, ".") || strings.ContainsAny(out, "@/[] ") {
		return "", fmt.Errorf("%w: domainpart", ErrMalformed)
	}
	return out, nil
}

// simpleASCII reports whether s needs no PRECIS mapping: printable ASCII with
// no upper case (for localparts, where case is folded) and no space.
func simpleASCII(s string, foldCase bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || (foldCase && c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// simpleDomain reports whether s is a plain LDH host name.
func simpleDomain(s string) bool {
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		if strings.HasPrefix(strings.ToLower(label), "xn--") {
			return false
		}
	}
	return true
}

// String renders the JID.
func (j JID) String() string {
	if j.Domain == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(j.Local) + len(j.Domain) + len(j.Resource) + 2)
	if j.Local != "" {
		b.WriteString(j.Local)
		b.WriteByte('@')
	}
	b.WriteString(j.Domain)
	if j.Resource != "" {
		b.WriteByte('/')
		b.WriteString(j.Resource)
	}
	return b.String()
}

// Bare returns the JID without its resource.
func (j JID) Bare() JID { return JID{Local: j.Local, Domain: j.Domain} }

// WithResource returns the JID with its resource replaced.
func (j JID) WithResource(r string) JID { return JID{Local: j.Local, Domain: j.Domain, Resource: r} }

// IsZero reports whether j is the empty address.
func (j JID) IsZero() bool { return j.Domain == "" }

// IsBare reports whether j has no resource.
func (j JID) IsBare() bool { return j.Resource == "" }

// IsDomain reports whether j is a bare domain (no localpart, no resource).
func (j JID) IsDomain() bool { return j.Local == "" && j.Resource == "" && j.Domain != "" }
