// HPKE base mode (RFC 9180) for one suite only: DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-128-GCM, single-shot (sequence number 0), over
// WebCrypto's X25519. The key leader seals each epoch secret to each
// member's public key with it (agent.ts).
//
//   Encap:  dh = X25519(skE, pkR); kem_context = enc ‖ pkR
//           shared_secret = LabeledExpand(LabeledExtract("", "eae_prk", dh), "shared_secret", kem_context, 32)
//   KeySchedule(mode 0): key, base_nonce from shared_secret and info
//   Seal:   AES-128-GCM(key, base_nonce, aad, pt)
import { concat, equal, uintBE, utf8, type Bytes } from "./bytes";
import { hkdfExpand, hkdfExtract } from "./kdf";

const kemID = 0x0020;
const kdfID = 0x0001;
const aeadID = 0x0001;
const kemSuite = concat(utf8("KEM"), uintBE(kemID, 2));
const hpkeSuite = concat(utf8("HPKE"), uintBE(kemID, 2), uintBE(kdfID, 2), uintBE(aeadID, 2));
const v1 = utf8("HPKE-v1");

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Promise<Bytes> {
  return hkdfExtract(salt, concat(v1, suite, utf8(label), ikm));
}

function labeledExpand(suite: Uint8Array, prk: Uint8Array, label: string, info: Uint8Array, length: number): Promise<Bytes> {
  return hkdfExpand(prk, concat(uintBE(length, 2), v1, suite, utf8(label), info), length);
}

/** An X25519 key pair with its public key's 32 raw bytes. */
export interface KeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  pub: Bytes;
}

/** A fresh X25519 key pair; the private key cannot be exported. */
export async function generateKeyPair(): Promise<KeyPair> {
  const kp = (await crypto.subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
  const pub = new Uint8Array(await crypto.subtle.exportKey("raw", kp.publicKey));
  return { privateKey: kp.privateKey, publicKey: kp.publicKey, pub };
}

/** Whether this browser's WebCrypto has X25519. */
export async function x25519Supported(): Promise<boolean> {
  try {
    await generateKeyPair();
    return true;
  } catch {
    return false;
  }
}

function b64url(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A key pair from fixed private bytes (the RFC's test vectors; JWK, since WebCrypto imports no raw X25519 private keys). */
export async function importKeyPair(sk: Uint8Array, pk: Uint8Array): Promise<KeyPair> {
  const jwk = { kty: "OKP", crv: "X25519", d: b64url(sk), x: b64url(pk) };
  const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "X25519" }, false, ["deriveBits"]);
  const publicKey = await crypto.subtle.importKey("raw", pk as Bytes, { name: "X25519" }, true, []);
  return { privateKey, publicKey, pub: concat(pk) };
}

async function dh(sk: CryptoKey, pkRaw: Uint8Array): Promise<Bytes> {
  if (pkRaw.length !== 32) throw new Error("HPKE: an X25519 public key is 32 bytes");
  const pk = await crypto.subtle.importKey("raw", pkRaw as Bytes, { name: "X25519" }, false, []);
  const out = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pk }, sk, 256));
  if (equal(out, new Uint8Array(32))) throw new Error("HPKE: X25519 gave the all-zero value (a low-order public key)");
  return out;
}

async function sharedSecret(dhOut: Uint8Array, enc: Uint8Array, pkR: Uint8Array): Promise<Bytes> {
  const prk = await labeledExtract(kemSuite, new Uint8Array(0), "eae_prk", dhOut);
  return labeledExpand(kemSuite, prk, "shared_secret", concat(enc, pkR), 32);
}

/** Base mode's key schedule: the AEAD key and base nonce. */
async function keySchedule(shared: Uint8Array, info: Uint8Array): Promise<{ key: Bytes; nonce: Bytes }> {
  const empty = new Uint8Array(0);
  const pskIDHash = await labeledExtract(hpkeSuite, empty, "psk_id_hash", empty);
  const infoHash = await labeledExtract(hpkeSuite, empty, "info_hash", info);
  const context = concat(Uint8Array.of(0), pskIDHash, infoHash);
  const secret = await labeledExtract(hpkeSuite, shared, "secret", empty);
  return { key: await labeledExpand(hpkeSuite, secret, "key", context, 16), nonce: await labeledExpand(hpkeSuite, secret, "base_nonce", context, 12) };
}

async function aead(op: "encrypt" | "decrypt", k: { key: Bytes; nonce: Bytes }, aad: Uint8Array, data: Uint8Array): Promise<Bytes> {
  const key = await crypto.subtle.importKey("raw", k.key, { name: "AES-GCM" }, false, [op]);
  const params = { name: "AES-GCM", iv: k.nonce, additionalData: aad as Bytes, tagLength: 128 };
  return new Uint8Array(op === "encrypt" ? await crypto.subtle.encrypt(params, key, data as Bytes) : await crypto.subtle.decrypt(params, key, data as Bytes));
}

/** Seals pt to the public key pkR: enc (32 bytes) and ct. `ephemeral` is for test vectors only; a fresh pair is made otherwise. */
export async function seal(pkR: Uint8Array, info: Uint8Array, aad: Uint8Array, pt: Uint8Array, ephemeral?: KeyPair): Promise<{ enc: Bytes; ct: Bytes }> {
  const e = ephemeral ?? (await generateKeyPair());
  const shared = await sharedSecret(await dh(e.privateKey, pkR), e.pub, pkR);
  return { enc: e.pub, ct: await aead("encrypt", await keySchedule(shared, info), aad, pt) };
}

/** Opens what seal gave for our key pair; rejects when it does not authenticate. */
export async function open(own: KeyPair, enc: Uint8Array, info: Uint8Array, aad: Uint8Array, ct: Uint8Array): Promise<Bytes> {
  const shared = await sharedSecret(await dh(own.privateKey, enc), enc, own.pub);
  return aead("decrypt", await keySchedule(shared, info), aad, ct);
}
