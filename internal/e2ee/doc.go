// Package e2ee is Parley's end-to-end media encryption, the Go side of the
// contract in docs/e2ee.md ("Parley SFrame v1").
//
// It has four layers, each usable on its own:
//
//   - SFrame (RFC 9605): the header (§4.3), derive_key_salt (§4.4.2) and the
//     cipher suite 0x0004 AES_128_GCM_SHA256_128 with metadata (§4.4.3).
//   - The Parley frame layout: a codec's clear prefix (VP8: 10 bytes on a key
//     frame, else 1; Opus: none) that the bridge reads, authenticated as
//     SFrame metadata; the KID layout of RFC 9605 §5.2 with 4 epoch bits,
//     9 index bits and the media context above them.
//   - A Sender (one counter per KID) and a Receiver (the current and the
//     previous epoch's keys, an anti-replay window of 128 per KID, drops
//     counted by reason).
//   - The key schedule: the epoch secret the key leader draws or ratchets,
//     mixed with an optional passphrase, the base key and security code made
//     from it, the roster hash, and the HPKE (RFC 9180) seal that carries an
//     epoch secret to one member.
//
// The flow of one epoch: the leader draws or ratchets a secret, sends the
// roster to the room and SealEpoch's payload to each member that needs it;
// a member opens it (OpenEpoch), checks the roster hash, mixes the secret
// with its passphrase key (Mix), hands NewEpochKeys to its Receiver at once
// and to its Sender 2 s later.
//
// The XML elements of the contract live in the sub-package e2eexml; this
// package knows nothing of XMPP or RTP.
package e2ee
