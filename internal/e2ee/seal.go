package e2ee

import (
	"crypto/ecdh"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"fmt"
)

// hpkeInfoStart begins the HPKE info of every epoch seal.
const hpkeInfoStart = "parley-e2ee-v1"

// encSize is the size of an encapsulated DHKEM(X25519) key.
const encSize = 32

// ErrRosterMismatch: the roster hash sealed to a member differs from the
// roster it received, or its own entry does not carry its own key.
var ErrRosterMismatch = errors.New("e2ee: roster does not match")

// KeyPair is a member's X25519 key pair for one session.
type KeyPair struct {
	priv *ecdh.PrivateKey
}

// GenerateKeyPair draws a new session key pair.
func GenerateKeyPair() (*KeyPair, error) {
	priv, err := ecdh.X25519().GenerateKey(nil)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X25519 key: %w", err)
	}
	return &KeyPair{priv: priv}, nil
}

// KeyPairFromBytes loads a key pair from a raw 32-byte X25519 private key
// (fixtures and tests; sessions use GenerateKeyPair).
func KeyPairFromBytes(b []byte) (*KeyPair, error) {
	priv, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X25519 key: %w", err)
	}
	return &KeyPair{priv: priv}, nil
}

// Public returns the raw 32-byte public key that goes into presence.
func (k *KeyPair) Public() []byte { return k.priv.PublicKey().Bytes() }

// sealInfo is "parley-e2ee-v1" ‖ room bare JID ‖ epoch (4 BE) ‖ index (2 BE).
func sealInfo(room string, epoch uint32, index uint16) []byte {
	b := append([]byte(hpkeInfoStart), room...)
	b = binary.BigEndian.AppendUint32(b, epoch)
	return binary.BigEndian.AppendUint16(b, index)
}

// SealEpoch seals an epoch secret and the roster hash to one member's public
// key with HPKE base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
// AES-128-GCM, empty AAD. It returns the encapsulated key and the ciphertext,
// the e2ee-key element's enc and ct.
func SealEpoch(pub []byte, room string, epoch uint32, index uint16, secret []byte, rosterHash [32]byte) (enc, ct []byte, err error) {
	if len(secret) != SecretSize {
		return nil, nil, fmt.Errorf("e2ee: seal: secret has %d bytes", len(secret))
	}
	ep, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("e2ee: seal: public key of index %d: %w", index, err)
	}
	pk, err := hpke.NewDHKEMPublicKey(ep)
	if err != nil {
		return nil, nil, fmt.Errorf("e2ee: seal: %w", err)
	}
	pt := append(append([]byte(nil), secret...), rosterHash[:]...)
	out, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), sealInfo(room, epoch, index), pt)
	if err != nil {
		return nil, nil, fmt.Errorf("e2ee: seal to index %d: %w", index, err)
	}
	return out[:encSize], out[encSize:], nil
}

// OpenEpoch opens what SealEpoch sealed to this key pair's owner at index,
// returning the epoch secret and the roster hash the leader sealed with it.
func (k *KeyPair) OpenEpoch(room string, epoch uint32, index uint16, enc, ct []byte) (secret []byte, rosterHash [32]byte, err error) {
	if len(enc) != encSize {
		return nil, rosterHash, fmt.Errorf("e2ee: open epoch %d: enc has %d bytes", epoch, len(enc))
	}
	priv, err := hpke.NewDHKEMPrivateKey(k.priv)
	if err != nil {
		return nil, rosterHash, fmt.Errorf("e2ee: open: %w", err)
	}
	sealed := append(append([]byte(nil), enc...), ct...)
	pt, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES128GCM(), sealInfo(room, epoch, index), sealed)
	if err != nil {
		return nil, rosterHash, fmt.Errorf("e2ee: open epoch %d at index %d: %w", epoch, index, err)
	}
	if len(pt) != SecretSize+32 {
		return nil, rosterHash, fmt.Errorf("e2ee: open epoch %d: payload has %d bytes", epoch, len(pt))
	}
	copy(rosterHash[:], pt[SecretSize:])
	return pt[:SecretSize], rosterHash, nil
}

// CheckRoster is what a member checks on an opened epoch: its own entry
// (at index, named nick) carries its own public key, and the sealed hash is
// the received roster's.
func (k *KeyPair) CheckRoster(r Roster, nick string, index uint16, sealedHash [32]byte) error {
	me, ok := r.ByNick(nick)
	if !ok {
		return fmt.Errorf("%w: %q is not in it", ErrRosterMismatch, nick)
	}
	if me.Index != index || string(me.Pub) != string(k.Public()) {
		return fmt.Errorf("%w: the entry of %q does not carry its own key", ErrRosterMismatch, nick)
	}
	h, err := r.Hash()
	if err != nil {
		return err
	}
	if h != sealedHash {
		return fmt.Errorf("%w: sealed hash differs from the roster's", ErrRosterMismatch)
	}
	return nil
}
