package cluster

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// The cluster link is TLS. The embedded server has a certificate of its own (cluster-tls.pem and
// cluster-tls-key.pem in the signal node's data folder, made on first start); cluster.creds carries
// the certificate, not the key, and the nodes accept exactly that certificate (pinned, so no name or
// CA has to fit the addresses the nodes use). The server never sees a node's seed: nkey sign-in signs
// a challenge.

// tlsFiles are where a signal node keeps the embedded server's certificate and key.
func tlsFiles(dataDir string) (cert, key string) {
	return filepath.Join(dataDir, "cluster-tls.pem"), filepath.Join(dataDir, "cluster-tls-key.pem")
}

// loadOrCreateServerTLS returns the embedded server's certificate, making it on first start. hosts
// (names or IP addresses) go into a new certificate's subject alternative names: nats-server's routes
// check them when the NATS servers of a cluster of their own (WriteCredentials) connect to each other
// with it; Parley's nodes pin the certificate and check no name.
func loadOrCreateServerTLS(dataDir string, hosts ...string) (tls.Certificate, error) {
	certFile, keyFile := tlsFiles(dataDir)
	if c, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("cluster: tls certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: tls key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "parley cluster"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(20, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client too: nats-server routes present the same certificate when they dial each other.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: tls key: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: write tls key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("cluster: write tls certificate: %w", err)
	}
	return tls.LoadX509KeyPair(certFile, keyFile)
}

// pinCertificate makes sure the credentials file names the server's certificate, adding it once.
func pinCertificate(credsFile string, cert tls.Certificate) error {
	data, err := os.ReadFile(credsFile)
	if err != nil {
		return fmt.Errorf("cluster: read credentials: %w", err)
	}
	if pinned, _ := pinnedCert(data); pinned != nil {
		if bytes.Equal(pinned.Raw, cert.Certificate[0]) {
			return nil
		}
		return fmt.Errorf("cluster: credentials %s pin another server certificate than %s", credsFile, "cluster-tls.pem")
	}
	f, err := os.OpenFile(credsFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cluster: credentials: %w", err)
	}
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cluster: credentials: %w", err)
	}
	return nil
}

// pinnedCert is the server certificate a credentials file pins, nil when it pins none.
func pinnedCert(creds []byte) (*x509.Certificate, error) {
	for rest := creds; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, nil
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// pinnedTLS is a client configuration that accepts exactly cert: the cluster's nodes reach the
// server by addresses no certificate name need match.
func pinnedTLS(cert *x509.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], cert.Raw) {
				return errors.New("cluster: the NATS server's certificate is not the one the credentials pin")
			}
			return nil
		},
	}
}
