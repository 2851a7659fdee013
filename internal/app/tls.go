package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-im/parley/internal/config"
)

// loadTLS returns the server certificate: the configured files, or a
// self-signed one generated once into the data directory and reused, so that
// browsers get a secure context on localhost (after accepting it once).
func loadTLS(certFile, keyFile, dataDir, domain string) (*tls.Config, error) {
	if certFile == "" {
		certFile = filepath.Join(dataDir, "tls-cert.pem")
		keyFile = filepath.Join(dataDir, "tls-key.pem")
		if err := ensureSelfSigned(certFile, keyFile, domain); err != nil {
			return nil, fmt.Errorf("self-signed certificate in %s: %w", dataDir, err)
		}
	}
	cert, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// loadKeyPair reads the certificate and key files; an error names the key
// (tls-cert or tls-key, as the flag and PARLEY_TLS_* are spelled) and the
// file, and carries crypto/tls's reason without its "tls: " prefix.
func loadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &config.KeyError{Key: "tls-cert", Problem: err.Error()}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &config.KeyError{Key: "tls-key", Problem: err.Error()}
	}
	if !hasPEM(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return tls.Certificate{}, &config.KeyError{Key: "tls-cert", Problem: certFile + " holds no PEM CERTIFICATE block"}
	}
	if !hasPEM(keyPEM, func(t string) bool { return t == "PRIVATE KEY" || strings.HasSuffix(t, " PRIVATE KEY") }) {
		return tls.Certificate{}, &config.KeyError{Key: "tls-key", Problem: keyFile + " holds no PEM PRIVATE KEY block"}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &config.KeyError{Key: "tls-cert",
			Problem: certFile + " with tls-key " + keyFile + ": " + strings.TrimPrefix(err.Error(), "tls: ")}
	}
	return cert, nil
}

// hasPEM reports whether data holds a PEM block whose type is wanted.
func hasPEM(data []byte, wanted func(string) bool) bool {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if wanted(b.Type) {
			return true
		}
	}
}

func ensureSelfSigned(certFile, keyFile, domain string) error {
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && c.Leaf != nil &&
		time.Now().Add(24*time.Hour).Before(c.Leaf.NotAfter) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	names := []string{"localhost"}
	if domain != "localhost" {
		names = append(names, domain, "*."+domain)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"Parley self-signed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
