// HKDF (RFC 5869) with SHA-256 as separate Extract and Expand steps, which
// SFrame, HPKE and Parley's key schedule each name; WebCrypto's HKDF only
// runs both at once, so they are built on HMAC here.
import { concat, type Bytes } from "./bytes";

const hashLen = 32;

/** HMAC-SHA-256. An empty key is the same as hashLen zero bytes (RFC 2104 pads keys with zeros), which WebCrypto accepts. */
export async function hmac(key: Uint8Array, data: Uint8Array): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", (key.length === 0 ? new Uint8Array(hashLen) : key) as Bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data as Bytes));
}

/** HKDF-Extract(salt, ikm); an empty salt means hashLen zeros (RFC 5869 §2.2). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Promise<Bytes> {
  return hmac(salt, ikm);
}

/** HKDF-Expand(prk, info, length), length ≤ 255·32. */
export async function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Promise<Bytes> {
  if (length > 255 * hashLen) throw new Error(`HKDF-Expand: ${length} bytes is too long`);
  const k = await crypto.subtle.importKey("raw", prk as Bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const out = new Uint8Array(length);
  let t: Uint8Array = new Uint8Array(0);
  for (let i = 1, at = 0; at < length; i++) {
    t = new Uint8Array(await crypto.subtle.sign("HMAC", k, concat(t, info, Uint8Array.of(i))));
    out.set(t.subarray(0, Math.min(hashLen, length - at)), at);
    at += hashLen;
  }
  return out;
}

export async function sha256(data: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Bytes));
}
