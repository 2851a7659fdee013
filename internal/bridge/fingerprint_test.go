package bridge

import (
	"crypto"
	"crypto/x509"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
)

// upperFingerprint is RFC 8122 §5's fingerprint: upper-case hex pairs joined by colons. Firefox's SDP
// parser refuses the whole offer on lower-case hex ("Malformed fingerprint token").
var upperFingerprint = regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`)

// TestOfferFingerprintUpperCase: the bridge offers its certificate's sha-256 fingerprint in upper case
// (pion writes it in lower case), and takes a client's answer with either case.
func TestOfferFingerprintUpperCase(t *testing.T) {
	checkNoLeaks(t)
	tb := newTestBridge(t, testConfig())
	alloc, err := tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: "e1"})
	must(t, err)
	if !upperFingerprint.MatchString(alloc.DTLS.Fingerprint) {
		t.Fatalf("offered fingerprint %q is not upper-case sha-256 hex", alloc.DTLS.Fingerprint)
	}
	x, err := x509.ParseCertificate(tb.cert.Certificate[0])
	must(t, err)
	want, err := fingerprint.Fingerprint(x, crypto.SHA256)
	must(t, err)
	if alloc.DTLS.Fingerprint != strings.ToUpper(want) {
		t.Fatalf("offered fingerprint %q, certificate's is %q", alloc.DTLS.Fingerprint, want)
	}

	for i, fp := range []string{strings.Repeat("ab:", 31) + "cd", strings.Repeat("AB:", 31) + "CD"} {
		id := []string{"lower", "upper"}[i]
		_, err := tb.AllocateEndpoint(AllocateRequest{ConferenceID: "room", EndpointID: id})
		must(t, err)
		err = tb.SetAnswer(Answer{ConferenceID: "room", EndpointID: id,
			ICE:  ICE{Ufrag: "abcd", Pwd: strings.Repeat("p", 22)},
			DTLS: DTLS{Hash: "sha-256", Fingerprint: fp, Setup: "active"}})
		if err != nil {
			t.Errorf("%s-case answer fingerprint refused: %v", id, err)
		}
	}
}
