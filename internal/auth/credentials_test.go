package auth

import (
	"encoding/base64"
	"testing"

	"github.com/xdg-go/scram"
)

// TestDeriveCredentialsRFCVectors runs the RFC 5802 §5 and RFC 7677 §3
// exchanges (user "user", password "pencil") with credentials from
// DeriveCredentials and checks every message against the RFC's.
func TestDeriveCredentialsRFCVectors(t *testing.T) {
	tests := []struct {
		name           string
		hash           Hash
		gen            scram.HashGeneratorFcn
		salt           string
		cnonce, snonce string
		c1, s1, c2, s2 string
	}{
		{
			name: "RFC 5802", hash: SHA1, gen: scram.SHA1, salt: "QSXCR+Q6sek8bf92",
			cnonce: "fyko+d2lbbFgONRv9qkxdawL", snonce: "3rfcNHYJY1ZVvWVs7j",
			c1: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			s1: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			c2: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			s2: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name: "RFC 7677", hash: SHA256, gen: scram.SHA256, salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
			cnonce: "rOprNGfwEbeRWgbNEkqO", snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			c1: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			s1: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			c2: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			s2: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			salt, _ := base64.StdEncoding.DecodeString(tt.salt)
			cred, err := DeriveCredentials(tt.hash, "pencil", salt, 4096)
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := tt.gen.NewServer(func(string) (scram.StoredCredentials, error) {
				return scram.StoredCredentials{
					KeyFactors: scram.KeyFactors{Salt: string(cred.Salt), Iters: cred.Iterations},
					StoredKey:  cred.StoredKey, ServerKey: cred.ServerKey,
				}, nil
			})
			conv := srv.WithNonceGenerator(func() string { return tt.snonce }).NewConversation()
			for _, step := range [][2]string{{tt.c1, tt.s1}, {tt.c2, tt.s2}} {
				got, err := conv.Step(step[0])
				if err != nil || got != step[1] {
					t.Fatalf("Step(%q) = %q, %v; want %q", step[0], got, err, step[1])
				}
			}
			if !conv.Valid() {
				t.Fatal("conversation not valid")
			}
		})
	}
}

func TestDeriveCredentialsRejects(t *testing.T) {
	if _, err := DeriveCredentials(Hash(9), "x", []byte("salt"), 1); err == nil {
		t.Error("unknown hash accepted")
	}
	if _, err := DeriveCredentials(SHA256, "x", []byte("salt"), 0); err == nil {
		t.Error("zero iterations accepted")
	}
}
