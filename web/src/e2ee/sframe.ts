// SFrame (RFC 9605) with cipher suite 0x0004 AES_128_GCM_SHA256_128 over
// WebCrypto: the header (§4.3), key and salt derivation (§4.4.2), and
// encryption with metadata as part of the AAD (§4.4.3). Parley's frame
// layout on top of it is in frame.ts.
//
//   header = config byte X|K|Y|C, then KID, then CTR (minimal big-endian)
//   nonce  = sframe_salt XOR CTR (left-padded to Nn)
//   aad    = header ‖ metadata
//   output = header ‖ AES-GCM(key, nonce, aad, plaintext) ‖ tag
import { concat, uintBE, utf8, type Bytes } from "./bytes";
import { hkdfExpand, hkdfExtract } from "./kdf";

/** AES_128_GCM_SHA256_128 (§4.5). */
export const suiteAES128GCM = 0x0004;
export const Nk = 16;
export const Nn = 12;
export const Nt = 16;

const maxValue = (1n << 64n) - 1n;

/** Minimal big-endian bytes of v (at least one). */
function minimalBytes(v: bigint): Bytes {
  let len = 1;
  while (len < 8 && v >> BigInt(8 * len) !== 0n) len++;
  return uintBE(v, len);
}

/** The SFrame header for kid and ctr (each < 2^64). */
export function encodeHeader(kid: bigint, ctr: bigint): Bytes {
  if (kid < 0n || kid > maxValue || ctr < 0n || ctr > maxValue) throw new RangeError("SFrame KID and CTR are 64-bit unsigned");
  let config = 0;
  const parts: Bytes[] = [];
  if (kid < 8n) config |= Number(kid) << 4;
  else {
    const b = minimalBytes(kid);
    config |= 0x80 | ((b.length - 1) << 4);
    parts.push(b);
  }
  if (ctr < 8n) config |= Number(ctr);
  else {
    const b = minimalBytes(ctr);
    config |= 0x08 | (b.length - 1);
    parts.push(b);
  }
  return concat(Uint8Array.of(config), ...parts);
}

export interface Header {
  kid: bigint;
  ctr: bigint;
  /** The header's length in bytes. */
  length: number;
}

/** Reads the header at data[offset]; null when data ends inside it. */
export function decodeHeader(data: Uint8Array, offset = 0): Header | null {
  if (offset >= data.length) return null;
  const config = data[offset]!;
  let at = offset + 1;
  const field = (extended: boolean, inline: number): bigint | null => {
    if (!extended) return BigInt(inline);
    const len = inline + 1;
    if (at + len > data.length) return null;
    let v = 0n;
    for (let i = 0; i < len; i++) v = (v << 8n) | BigInt(data[at + i]!);
    at += len;
    return v;
  };
  const kid = field((config & 0x80) !== 0, (config >> 4) & 7);
  if (kid === null) return null;
  const ctr = field((config & 0x08) !== 0, config & 7);
  if (ctr === null) return null;
  return { kid, ctr, length: at - offset };
}

/** The key, salt and secret RFC 9605 §4.4.2 derives for one KID from a base key. */
export async function deriveKeySalt(baseKey: Uint8Array, kid: bigint, suite = suiteAES128GCM): Promise<{ secret: Bytes; key: Bytes; salt: Bytes }> {
  const secret = await hkdfExtract(new Uint8Array(0), baseKey);
  const tail = concat(uintBE(kid, 8), uintBE(suite, 2));
  const key = await hkdfExpand(secret, concat(utf8("SFrame 1.0 Secret key "), tail), Nk);
  const salt = await hkdfExpand(secret, concat(utf8("SFrame 1.0 Secret salt "), tail), Nn);
  return { secret, key, salt };
}

/** A KID's sending or receiving key: the AES key (one use only, as §4.4.4 asks) and the salt. */
export interface FrameKey {
  key: CryptoKey;
  salt: Bytes;
}

/** Imports what deriveKeySalt gave for one direction ("encrypt" or "decrypt"). */
export async function importFrameKey(raw: { key: Bytes; salt: Bytes }, use: "encrypt" | "decrypt"): Promise<FrameKey> {
  const key = await crypto.subtle.importKey("raw", raw.key, { name: "AES-GCM" }, false, [use]);
  return { key, salt: raw.salt };
}

/** salt XOR ctr, with ctr big-endian in the last bytes. */
export function nonceFor(salt: Uint8Array, ctr: bigint): Bytes {
  const n = uintBE(ctr, Nn);
  for (let i = 0; i < Nn; i++) n[i]! ^= salt[i]!;
  return n;
}

/** header(kid, ctr) ‖ ciphertext ‖ tag, with header ‖ metadata authenticated. */
export async function seal(k: FrameKey, kid: bigint, ctr: bigint, metadata: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
  const header = encodeHeader(kid, ctr);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonceFor(k.salt, ctr), additionalData: concat(header, metadata), tagLength: Nt * 8 }, k.key, plaintext as Bytes);
  return concat(header, new Uint8Array(ct));
}

/**
 * The plaintext of ciphertext ‖ tag under the given header bytes (as
 * received) and metadata; rejects (OperationError) when it does not
 * authenticate.
 */
export async function open(k: FrameKey, header: Uint8Array, ctr: bigint, metadata: Uint8Array, ciphertext: Uint8Array): Promise<Bytes> {
  const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonceFor(k.salt, ctr), additionalData: concat(header, metadata), tagLength: Nt * 8 }, k.key, ciphertext as Bytes);
  return new Uint8Array(pt);
}
