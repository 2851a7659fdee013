// Parley's key schedule (docs/e2ee.md "Keys"): the epoch ratchet on a join,
// the passphrase key and the mixed secret, the SFrame base key, the roster
// hash and the security code everyone compares.
//
//   epoch secret ─(ratchet on join)─► next epoch secret
//   mixed = HKDF-Extract(salt = pk or "", epoch secret)    pk = PBKDF2(passphrase, room)
//   base_key = HKDF-Expand(mixed, "Parley SFrame base key", 16)   → frame.ts / sframe.ts
//   code = HKDF-Expand(HKDF-Extract("", mixed), "Parley security code" ‖ roster hash, 24)
import { concat, uintBE, utf8, type Bytes } from "./bytes";
import { hkdfExpand, hkdfExtract, sha256 } from "./kdf";

export const secretLength = 32;
export const pbkdf2Iterations = 600_000;

/** The next epoch's secret after a join: HKDF-Expand(HKDF-Extract("", secret), "Parley epoch ratchet", 32). */
export async function ratchet(secret: Uint8Array): Promise<Bytes> {
  return hkdfExpand(await hkdfExtract(new Uint8Array(0), secret), utf8("Parley epoch ratchet"), secretLength);
}

/** PBKDF2-HMAC-SHA256(passphrase, "parley-e2ee-v1 " ‖ room bare JID, 600000, 32 bytes): once per meeting. */
export async function passphraseKey(passphrase: string, roomJid: string, iterations = pbkdf2Iterations): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", utf8(passphrase), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: utf8("parley-e2ee-v1 " + roomJid), iterations }, k, 256);
  return new Uint8Array(bits);
}

/** The epoch's mixed secret: HKDF-Extract(salt = passphrase key, or "" without one, ikm = epoch secret). */
export function mixSecret(secret: Uint8Array, pk: Uint8Array | null): Promise<Bytes> {
  return hkdfExtract(pk ?? new Uint8Array(0), secret);
}

/** The SFrame base key of an epoch: HKDF-Expand(mixed, "Parley SFrame base key", 16). */
export function baseKey(mixed: Uint8Array): Promise<Bytes> {
  return hkdfExpand(mixed, utf8("Parley SFrame base key"), 16);
}

/** One roster entry: the member's index, MUC nickname and X25519 public key (32 raw bytes). */
export interface Member {
  index: number;
  nick: string;
  pub: Uint8Array;
}

/** SHA-256 over the members in index order, each index (2) ‖ len(nick) (1) ‖ nick ‖ pub (32). */
export async function rosterHash(members: Member[]): Promise<Bytes> {
  const parts = [...members]
    .sort((a, b) => a.index - b.index)
    .map((m) => {
      const nick = utf8(m.nick);
      if (nick.length > 255) throw new RangeError(`nickname of member ${m.index} is longer than 255 bytes`);
      if (m.pub.length !== 32) throw new RangeError(`public key of member ${m.index} is not 32 bytes`);
      return concat(uintBE(m.index, 2), Uint8Array.of(nick.length), nick, m.pub);
    });
  return sha256(concat(...parts));
}

/** The 24 bytes behind the security code. */
export async function securityCodeBytes(mixed: Uint8Array, hash: Uint8Array): Promise<Bytes> {
  return hkdfExpand(await hkdfExtract(new Uint8Array(0), mixed), concat(utf8("Parley security code"), hash), 24);
}

/** Six groups of five digits: group i is bytes 4i…4i+3 as a big-endian uint32, mod 100000, zero-padded. */
export function formatCode(b: Uint8Array): string[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Array.from({ length: 6 }, (_, i) => String(dv.getUint32(4 * i) % 100000).padStart(5, "0"));
}

export async function securityCode(mixed: Uint8Array, hash: Uint8Array): Promise<string[]> {
  return formatCode(await securityCodeBytes(mixed, hash));
}

/** HPKE info for a sealed epoch secret: "parley-e2ee-v1" ‖ room bare JID ‖ epoch (4, BE) ‖ recipient index (2, BE). */
export function sealInfo(roomJid: string, epoch: number, index: number): Bytes {
  return concat(utf8("parley-e2ee-v1"), utf8(roomJid), uintBE(epoch, 4), uintBE(index, 2));
}
