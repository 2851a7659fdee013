// The E2EE building blocks against published vectors (RFC 9605's JSON,
// RFC 9180 Appendix A.1.1), Parley's frame layout, and the Go side's
// frames (internal/e2ee/testdata/go-frames.json); TS's own frames go to
// test/fixtures/ts-frames.json for the Go tests (rewritten with
// PARLEY_UPDATE_FIXTURES=1, compared byte for byte otherwise).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { concat, fromHex, toHex, utf8, type Bytes } from "../src/e2ee/bytes";
import { Context, FrameDecryptor, FrameEncryptor, kidParts, makeKid, maxHeldEpochs, prefixLength, previousEpochMs, ReplayWindow } from "../src/e2ee/frame";
import { decodeHeader, deriveKeySalt, encodeHeader, importFrameKey, nonceFor, open as sframeOpen, seal as sframeSeal, suiteAES128GCM } from "../src/e2ee/sframe";
import * as hpke from "../src/e2ee/hpke";
import { keysMismatch } from "../src/e2ee/controller";
import { conferenceIQ } from "../src/focus";
import { readOverrides, readPassphrase } from "../src/hashparams";
import { joinPresence } from "../src/muc";
import { baseKey, formatCode, mixSecret, passphraseKey, ratchet, rosterHash, sealInfo, securityCode } from "../src/e2ee/schedule";

const testdata = "../internal/e2ee/testdata";

/** RFC 9605's test vectors: the Go side's copy (the repository keeps one). */
const vectorsFile = `${testdata}/rfc9605-test-vectors.json`;

/** The JSON with its 64-bit kid/ctr values as strings (JSON.parse would round them). */
function parseVectors(text: string): { header: { kid: string; ctr: string; encoded: string }[]; sframe: Record<string, string | number>[] } {
  return JSON.parse(text.replace(/"(kid|ctr)":\s*(\d+)/g, '"$1": "$2"'));
}

const vectorsPath = existsSync(vectorsFile) ? vectorsFile : null;

test("RFC 9605 header vectors", { skip: vectorsPath ? false : "RFC 9605 test vectors not found under internal/e2ee/testdata (the Go side commits them)" }, () => {
  const v = parseVectors(readFileSync(vectorsPath!, "utf8"));
  assert.ok(v.header.length >= 289, `only ${v.header.length} header cases`);
  for (const c of v.header) {
    const kid = BigInt(c.kid);
    const ctr = BigInt(c.ctr);
    assert.equal(toHex(encodeHeader(kid, ctr)), c.encoded, `encode kid ${kid} ctr ${ctr}`);
    const d = decodeHeader(concat(fromHex(c.encoded), Uint8Array.of(0xaa)));
    assert.deepEqual(d, { kid, ctr, length: c.encoded.length / 2 }, `decode ${c.encoded}`);
    assert.equal(decodeHeader(fromHex(c.encoded).subarray(0, c.encoded.length / 2 - 1)), null, `truncated ${c.encoded}`);
  }
});

test("RFC 9605 SFrame vector for AES_128_GCM_SHA256_128", { skip: vectorsPath ? false : "RFC 9605 test vectors not found under internal/e2ee/testdata" }, async () => {
  const v = parseVectors(readFileSync(vectorsPath!, "utf8"));
  const c = v.sframe.find((x) => Number(x.cipher_suite) === suiteAES128GCM);
  assert.ok(c, "no case for suite 4");
  const hex = (k: string) => fromHex(String(c[k]));
  const kid = BigInt(c.kid!);
  const ctr = BigInt(c.ctr!);
  const raw = await deriveKeySalt(hex("base_key"), kid);
  assert.equal(toHex(raw.secret), c.sframe_secret);
  assert.equal(toHex(raw.key), c.sframe_key);
  assert.equal(toHex(raw.salt), c.sframe_salt);
  assert.equal(toHex(nonceFor(raw.salt, ctr)), c.nonce);
  assert.equal(toHex(concat(encodeHeader(kid, ctr), hex("metadata"))), c.aad);
  const ct = await sframeSeal(await importFrameKey(raw, "encrypt"), kid, ctr, hex("metadata"), hex("pt"));
  assert.equal(toHex(ct), c.ct);
  const h = decodeHeader(ct)!;
  const pt = await sframeOpen(await importFrameKey(raw, "decrypt"), ct.subarray(0, h.length), h.ctr, hex("metadata"), ct.subarray(h.length));
  assert.equal(toHex(pt), c.pt);
  const flipped = concat(hex("metadata"));
  flipped[0]! ^= 1;
  await assert.rejects(sframeOpen(await importFrameKey(raw, "decrypt"), ct.subarray(0, h.length), h.ctr, flipped, ct.subarray(h.length)));
});

test("RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base mode", async () => {
  const info = fromHex("4f6465206f6e2061204772656369616e2055726e");
  const eph = await hpke.importKeyPair(
    fromHex("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736"),
    fromHex("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431"),
  );
  const recipient = await hpke.importKeyPair(
    fromHex("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8"),
    fromHex("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d"),
  );
  const pt = fromHex("4265617574792069732074727574682c20747275746820626561757479");
  const aad = fromHex("436f756e742d30");
  const sealed = await hpke.seal(recipient.pub, info, aad, pt, eph);
  assert.equal(toHex(sealed.enc), "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431");
  assert.equal(toHex(sealed.ct), "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a");
  assert.equal(toHex(await hpke.open(recipient, sealed.enc, info, aad, sealed.ct)), toHex(pt));
  await assert.rejects(hpke.open(recipient, sealed.enc, utf8("another info"), aad, sealed.ct));
  // A fresh ephemeral key each time, and only the recipient opens it.
  const a = await hpke.seal(recipient.pub, info, aad, pt);
  const b = await hpke.seal(recipient.pub, info, aad, pt);
  assert.notEqual(toHex(a.enc), toHex(b.enc));
  assert.equal(toHex(await hpke.open(recipient, a.enc, info, aad, a.ct)), toHex(pt));
  await assert.rejects(hpke.open(await hpke.generateKeyPair(), a.enc, info, aad, a.ct));
});

test("X25519 key pairs are not extractable", async () => {
  const kp = await hpke.generateKeyPair();
  assert.equal(kp.privateKey.extractable, false);
  assert.equal(kp.pub.length, 32);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", kp.privateKey));
});

test("KID layout: context << 13 | index << 4 | epoch mod 16", () => {
  assert.equal(makeKid(Context.camera, 3, 17), (1 << 13) | (3 << 4) | 1);
  assert.deepEqual(kidParts(makeKid(Context.screen, 511, 15)), { context: 2, index: 511, epochBits: 15 });
  assert.throws(() => makeKid(0, 512, 1));
  // Up to 2 bytes of KID: with a counter below 2^24 the header is at most 1 + 2 + 3 bytes.
  assert.equal(encodeHeader(BigInt(makeKid(2, 511, 15)), 0xffffffn).length, 6);
});

test("clear prefix: VP8 10 bytes on a key frame, 1 on a delta frame, Opus none", () => {
  assert.equal(prefixLength("video", Uint8Array.of(0x10, 0, 0)), 10); // P bit 0: key frame
  assert.equal(prefixLength("video", Uint8Array.of(0x11, 0, 0)), 1);
  assert.equal(prefixLength("audio", Uint8Array.of(0x10)), 0);
});

async function pair(epoch = 1, base = fromHex("00112233445566778899aabbccddeeff")) {
  const enc = new FrameEncryptor();
  enc.setSendKey(epoch, 7, base);
  let t = 0;
  const dec = new FrameDecryptor(() => t);
  dec.addKey(epoch, base);
  return { enc, dec, clock: (ms: number) => (t += ms) };
}

function vp8(key: boolean, n: number): Bytes {
  const f = new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
  f[0] = key ? 0x10 : 0x11;
  return f;
}

test("frames round-trip with the prefix in the clear", async () => {
  const { enc, dec } = await pair();
  for (const [kind, f] of [["video", vp8(true, 300)], ["video", vp8(false, 50)], ["audio", new Uint8Array(80).fill(9)]] as const) {
    const p = prefixLength(kind, f);
    const out = (await enc.encrypt(kind, kind === "audio" ? Context.audio : Context.camera, f))!;
    assert.deepEqual(out.subarray(0, p), f.subarray(0, p), "prefix in the clear");
    assert.equal(out.length, f.length + decodeHeader(out, p)!.length + 16);
    assert.notDeepEqual(out.subarray(p + 2, p + 20), f.subarray(p, p + 18));
    assert.deepEqual(await dec.decrypt(kind, out), f);
  }
  assert.equal(dec.counts.decrypted, 3);
  // Empty frames pass; a frame shorter than its prefix goes whole into the prefix.
  assert.deepEqual(await enc.encrypt("video", 1, new Uint8Array(0)), new Uint8Array(0));
  const short = vp8(true, 6);
  const sent = (await enc.encrypt("video", 1, short))!;
  assert.deepEqual(sent.subarray(0, 6), short);
  assert.deepEqual(await dec.decrypt("video", sent), short);
});

test("counters: one per KID, from 0 in each epoch", async () => {
  const { enc } = await pair();
  const ctrs = async (ctx: number) => decodeHeader((await enc.encrypt("audio", ctx, Uint8Array.of(1, 2, 3)))!)!.ctr;
  assert.equal(await ctrs(0), 0n);
  assert.equal(await ctrs(0), 1n);
  assert.equal(await ctrs(2), 0n);
  enc.setSendKey(2, 7, fromHex("ffeeddccbbaa99887766554433221100"));
  assert.equal(await ctrs(0), 0n);
  const h = decodeHeader((await enc.encrypt("audio", 0, Uint8Array.of(1)))!)!;
  assert.deepEqual(kidParts(Number(h.kid)), { context: 0, index: 7, epochBits: 2 });
});

test("no send key: frames are dropped, never sent in the clear", async () => {
  assert.equal(await new FrameEncryptor().encrypt("video", 1, vp8(true, 100)), null);
});

test("dropped: wrong key, plaintext, replay, flipped prefix bit, unknown epoch", async () => {
  const { enc, dec } = await pair();
  const f = (await enc.encrypt("video", 1, vp8(true, 200)))!;
  assert.deepEqual(await dec.decrypt("video", f), vp8(true, 200));
  assert.equal(await dec.decrypt("video", f), "replay");
  const flipped = (await enc.encrypt("video", 1, vp8(true, 200)))!;
  flipped[3]! ^= 0x40; // inside the 10 clear bytes
  assert.equal(await dec.decrypt("video", flipped), "auth");
  const pbit = (await enc.encrypt("video", 1, vp8(false, 200)))!;
  pbit[0]! ^= 1; // the P bit: a delta frame made to look like a key frame
  assert.ok(typeof (await dec.decrypt("video", pbit)) === "string");
  const plain = await dec.decrypt("video", vp8(true, 200)); // plaintext: its bytes parse as some header, but nothing authenticates
  assert.ok(plain === "auth" || plain === "unknown-key", `plaintext: ${plain}`);
  assert.equal(await dec.decrypt("audio", Uint8Array.of(0xff)), "malformed");
  const other = new FrameEncryptor();
  other.setSendKey(1, 8, fromHex("0f0e0d0c0b0a09080706050403020100"));
  assert.equal(await dec.decrypt("video", (await other.encrypt("video", 1, vp8(false, 40)))!), "auth");
  other.setSendKey(3, 8, fromHex("0f0e0d0c0b0a09080706050403020100"));
  assert.equal(await dec.decrypt("video", (await other.encrypt("video", 1, vp8(false, 40)))!), "unknown-key");
  const d = dec.counts.dropped;
  assert.deepEqual([dec.counts.decrypted, d.auth + d["unknown-key"], d.replay, d.malformed], [1, 5, 1, 1]);
});

test("replay window of 128 counters", () => {
  const w = new ReplayWindow();
  for (const c of [0, 5, 3, 200]) {
    assert.ok(w.check(c));
    w.accept(c);
  }
  assert.ok(!w.check(5) && !w.check(200));
  assert.ok(!w.check(72), "older than the window");
  assert.ok(w.check(73) && w.check(199) && w.check(201));
});

test("only the first sending key asks for a key frame", () => {
  const enc = new FrameEncryptor();
  const k = fromHex("00112233445566778899aabbccddeeff");
  assert.equal(enc.setSendKey(1, 7, k), true, "before it every frame was dropped");
  assert.equal(enc.setSendKey(2, 7, k), false, "a later switch keeps the stream decodable");
  assert.equal(enc.setSendKey(9, 7, k), false);
});

test("an epoch kept until 10 s after a later one is first used", async () => {
  const oldKey = fromHex("00112233445566778899aabbccddeeff");
  const newKey = fromHex("ffeeddccbbaa99887766554433221100");
  const { enc, dec, clock } = await pair(1, oldKey);
  const late = (await enc.encrypt("audio", 0, Uint8Array.of(1, 2)))!;
  const late2 = (await enc.encrypt("audio", 0, Uint8Array.of(1, 2)))!;
  dec.addKey(2, newKey);
  assert.deepEqual(dec.held, [2, 1]);
  assert.deepEqual(await dec.decrypt("audio", late), Uint8Array.of(1, 2), "the old epoch still decrypts");
  enc.setSendKey(2, 7, newKey);
  assert.ok((await dec.decrypt("audio", (await enc.encrypt("audio", 0, Uint8Array.of(3)))!)) instanceof Uint8Array);
  clock(previousEpochMs);
  assert.equal(await dec.decrypt("audio", late2), "unknown-key");
  assert.deepEqual(dec.held, [2]);
  dec.addKey(3, oldKey);
  dec.addKey(4, oldKey);
  assert.deepEqual(dec.held, [4, 3, 2], "2 stays until a later epoch has decrypted for 10 s");
  dec.addKey(19, newKey);
  assert.deepEqual(dec.held, [19, 4, 2], "19 replaces 3, which has the same low 4 bits");
});

test("epochs that come quickly: senders still on one several epochs old decrypt, until a later one has decrypted for 10 s", async () => {
  const key = (e: number) => fromHex(e.toString(16).padStart(2, "0").repeat(16));
  const { enc, dec, clock } = await pair(1, key(1));
  const frames = new Map<number, Uint8Array>();
  frames.set(1, (await enc.encrypt("audio", 0, Uint8Array.of(1)))!);
  for (const e of [2, 3]) {
    clock(300);
    dec.addKey(e, key(e));
    enc.setSendKey(e, 0, key(e));
    frames.set(e, (await enc.encrypt("audio", 0, Uint8Array.of(e)))!);
  }
  for (const e of [1, 2, 3]) assert.deepEqual(await dec.decrypt("audio", frames.get(e)!), Uint8Array.of(e), `epoch ${e}`);
  dec.addKey(4, key(4));
  dec.addKey(5, key(5));
  assert.deepEqual(dec.held, [5, 4, 3, 2, 1], "none is in use for 10 s yet");
  enc.setSendKey(2, 0, key(2));
  const again = (await enc.encrypt("audio", 0, Uint8Array.of(9)))!;
  clock(previousEpochMs);
  assert.deepEqual(await dec.decrypt("audio", again), "unknown-key", "2 goes once 3 has decrypted for 10 s");
  assert.deepEqual(dec.held, [5, 4, 3]);
});

test("a join storm: an epoch a second, each used at once by its newcomer; a starved sender five epochs behind still decrypts", async () => {
  const key = (e: number) => fromHex(e.toString(16).padStart(2, "0").repeat(16));
  const { enc, dec, clock } = await pair(1, key(1));
  const starved = (await enc.encrypt("audio", 0, Uint8Array.of(1)))!; // member 7, still on epoch 1
  for (let e = 2; e <= 6; e++) {
    clock(1000);
    dec.addKey(e, key(e));
    const newcomer = new FrameEncryptor();
    newcomer.setSendKey(e, e, key(e));
    assert.ok((await dec.decrypt("audio", (await newcomer.encrypt("audio", 0, Uint8Array.of(e)))!)) instanceof Uint8Array, `the newcomer of epoch ${e}`);
  }
  assert.deepEqual(await dec.decrypt("audio", starved), Uint8Array.of(1), `epoch 1 with 6 learnt (a bound of 4 dropped it)`);
  clock(previousEpochMs - 4000); // 10 s after epoch 2 first decrypted
  assert.equal(await dec.decrypt("audio", (await enc.encrypt("audio", 0, Uint8Array.of(1)))!), "unknown-key");
  assert.deepEqual(dec.held, [6, 5, 4, 3, 2]);
  for (let e = 7; e <= 17; e++) dec.addKey(e, key(e));
  assert.equal(dec.held.length, maxHeldEpochs, "one per value of the 4 epoch bits");
  assert.deepEqual([dec.held[0], dec.held.at(-1)], [17, 2]);
  dec.addKey(18, key(18));
  assert.deepEqual([dec.held[0], dec.held.at(-1), dec.held.length], [18, 3, 16], "18 takes the place of 2 (the same low 4 bits)");
});

test("key schedule: ratchet, passphrase mix, base key, roster hash, security code", async () => {
  const secret = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const next = await ratchet(secret);
  assert.equal(next.length, 32);
  assert.notEqual(toHex(next), toHex(secret));
  assert.equal(toHex(await ratchet(secret)), toHex(next));
  const room = "fixture@conference.parley.test";
  const pk = await passphraseKey("correct horse", room, 1000);
  assert.notEqual(toHex(pk), toHex(await passphraseKey("correct horse", "other@conference.parley.test", 1000)));
  const mixed = await mixSecret(secret, pk);
  const plain = await mixSecret(secret, null);
  assert.notEqual(toHex(await baseKey(mixed)), toHex(await baseKey(plain)));
  assert.equal((await baseKey(mixed)).length, 16);
  const pub = (b: number) => new Uint8Array(32).fill(b);
  const roster = [{ index: 1, nick: "bbbbbbbb", pub: pub(2) }, { index: 0, nick: "aaaaaaaa", pub: pub(1) }];
  const hash = await rosterHash(roster);
  assert.equal(toHex(hash), toHex(await rosterHash([...roster].reverse())), "index order, not list order");
  const swapped = await rosterHash([roster[0]!, { ...roster[1]!, pub: pub(9) }]);
  const code = await securityCode(mixed, hash);
  assert.equal(code.length, 6);
  assert.ok(code.every((g) => /^\d{5}$/.test(g)));
  assert.notDeepEqual(await securityCode(mixed, swapped), code, "a substituted key changes the code");
  assert.deepEqual(formatCode(fromHex("000000010001869f0001869f" + "ffffffff".repeat(3))), ["00001", "99999", "99999", "67295", "67295", "67295"]);
  assert.equal(toHex(sealInfo("r@c", 258, 3)), toHex(concat(utf8("parley-e2ee-v1r@c"), Uint8Array.of(0, 0, 1, 2, 0, 3))));
});

// Cross-language frames, in the layout of internal/e2ee/testdata/go-frames.json
// and from the same fixed inputs (internal/e2ee/fixture_test.go): room,
// passphrase, epoch 7 with secret 00 01 … 1f, members alice/bob/carol-ü
// whose private keys are 32 bytes of 0x11/0x22/0x33, frames sent by index 2.
// AES-GCM is deterministic, so both sides must write the same frames; only
// the HPKE seal differs (its ephemeral key is random).
const fixtureRoom = "e2ee-fixture@conference.parley.test";
const fixturePassphrase = "correct horse battery staple";
const fixtureEpoch = 7;
const fixtureSecret = new Uint8Array(32).map((_, i) => i);
const fixtureMembers = [
  { index: 0, nick: "alice", priv: 0x11 },
  { index: 1, nick: "bob", priv: 0x22 },
  { index: 2, nick: "carol-ü", priv: 0x33 },
];
const fixtureCanary = "PARLEY-PLAINTEXT-CANARY-00000000";

interface FixtureKeys {
  epoch: number;
  epoch_secret: string;
  mixed_secret: string;
  base_key: string;
  security_code: string;
}

interface FixtureFrame {
  name: string;
  codec: "opus" | "vp8";
  context: number;
  sender_index: number;
  epoch: number;
  passphrase: boolean;
  kid: number;
  ctr: number;
  plaintext: string;
  frame: string;
}

interface Fixture {
  about: string;
  room: string;
  passphrase: string;
  passphrase_key: string;
  epoch: number;
  epoch_secret: string;
  mixed_secret: string;
  base_key: string;
  roster: { index: number; nick: string; pub: string; priv: string }[];
  roster_hash: string;
  security_code: string;
  no_passphrase: FixtureKeys;
  ratchet: FixtureKeys;
  seal: { to_index: number; to_nick: string; info: string; enc: string; ct: string };
  frames: FixtureFrame[];
}

/** The X25519 public key of a raw private key: X25519(sk, 9), since WebCrypto exports no public key from a private one. */
async function pubOf(sk: Uint8Array): Promise<Bytes> {
  const pkcs8 = concat(fromHex("302e020100300506032b656e04220420"), sk);
  const priv = await crypto.subtle.importKey("pkcs8", pkcs8, { name: "X25519" }, false, ["deriveBits"]);
  const base = await crypto.subtle.importKey("raw", concat(Uint8Array.of(9), new Uint8Array(31)), { name: "X25519" }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: base }, priv, 256));
}

async function fixtureRoster() {
  return Promise.all(
    fixtureMembers.map(async (m) => {
      const sk = new Uint8Array(32).fill(m.priv);
      return { index: m.index, nick: m.nick, sk, pub: await pubOf(sk) };
    }),
  );
}

function fixturePlaintexts(): { name: string; context: number; pt: Bytes }[] {
  const canary = utf8(fixtureCanary);
  const key = concat(Uint8Array.of(0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01), canary, new Uint8Array(80).map((_, i) => (i % 2 ? 0x5a : 0xa5)));
  const delta = concat(Uint8Array.of(0x31), canary, new Uint8Array(30).fill(0x3c));
  return [
    { name: "audio", context: Context.audio, pt: Uint8Array.of(0xfc, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05) },
    { name: "vp8-key", context: Context.camera, pt: key },
    { name: "vp8-delta", context: Context.camera, pt: delta },
    { name: "screen-delta", context: Context.screen, pt: concat(Uint8Array.of(0x71), utf8("screen share")) },
    { name: "vp8-delta-1-byte", context: Context.camera, pt: Uint8Array.of(0x31) },
  ];
}

async function keysOf(epoch: number, secret: Uint8Array, pk: Uint8Array | null, hash: Uint8Array): Promise<FixtureKeys & { mixed: Bytes; base: Bytes }> {
  const mixed = await mixSecret(secret, pk);
  const base = await baseKey(mixed);
  return { epoch, epoch_secret: toHex(secret), mixed_secret: toHex(mixed), base_key: toHex(base), security_code: (await securityCode(mixed, hash)).join(" "), mixed, base };
}

function b64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64");
}

/** Every value of the fixture as this code computes it; the seal is random. */
async function buildFixture(about: string): Promise<Fixture> {
  const roster = await fixtureRoster();
  const hash = await rosterHash(roster);
  const pk = await passphraseKey(fixturePassphrase, fixtureRoom);
  const { mixed, base, ...withPass } = await keysOf(fixtureEpoch, fixtureSecret, pk, hash);
  const { mixed: _m1, base: plainBase, ...noPass } = await keysOf(fixtureEpoch, fixtureSecret, null, hash);
  const { mixed: _m2, base: nextBase, ...next } = await keysOf(fixtureEpoch + 1, await ratchet(fixtureSecret), pk, hash);
  const to = roster[1]!;
  const info = sealInfo(fixtureRoom, fixtureEpoch, to.index);
  const sealed = await hpke.seal(to.pub, info, new Uint8Array(0), concat(fixtureSecret, hash));
  const frames: FixtureFrame[] = [];
  for (const ks of [
    { epoch: fixtureEpoch, base, pass: true, only: "" },
    { epoch: fixtureEpoch + 1, base: nextBase, pass: true, only: "vp8-delta" },
    { epoch: fixtureEpoch, base: plainBase, pass: false, only: "audio" },
  ]) {
    const enc = new FrameEncryptor();
    enc.setSendKey(ks.epoch, 2, ks.base);
    for (const p of fixturePlaintexts()) {
      if (ks.only && p.name !== ks.only) continue;
      const kind = p.context === Context.audio ? "audio" : "video";
      const frame = (await enc.encrypt(kind, p.context, p.pt))!;
      const h = decodeHeader(frame, Math.min(prefixLength(kind, p.pt), p.pt.length))!;
      frames.push({ name: p.name, codec: kind === "audio" ? "opus" : "vp8", context: p.context, sender_index: 2, epoch: ks.epoch, passphrase: ks.pass, kid: Number(h.kid), ctr: Number(h.ctr), plaintext: toHex(p.pt), frame: toHex(frame) });
    }
  }
  return {
    about,
    room: fixtureRoom,
    passphrase: fixturePassphrase,
    passphrase_key: toHex(pk),
    epoch: fixtureEpoch,
    epoch_secret: withPass.epoch_secret,
    mixed_secret: withPass.mixed_secret,
    base_key: withPass.base_key,
    roster: roster.map((m) => ({ index: m.index, nick: m.nick, pub: b64(m.pub), priv: toHex(m.sk) })),
    roster_hash: toHex(hash),
    security_code: withPass.security_code,
    no_passphrase: noPass,
    ratchet: next,
    seal: { to_index: to.index, to_nick: to.nick, info: toHex(info), enc: b64(sealed.enc), ct: b64(sealed.ct) },
    frames,
  };
}

/** Checks a fixture written by either side against this code: keys, roster, the seal, every frame. */
async function checkFixture(file: string, f: Fixture) {
  const built = await buildFixture("");
  const same = (name: string, got: unknown, want: unknown) => assert.equal(JSON.stringify(got), JSON.stringify(want), `${file}: ${name}`);
  same("room", f.room, built.room);
  same("passphrase key", f.passphrase_key, built.passphrase_key);
  same("mixed secret", f.mixed_secret, built.mixed_secret);
  same("base key", f.base_key, built.base_key);
  same("roster", f.roster, built.roster);
  same("roster hash", f.roster_hash, built.roster_hash);
  same("security code", f.security_code, built.security_code);
  same("no passphrase", f.no_passphrase, built.no_passphrase);
  same("ratchet", f.ratchet, built.ratchet);
  same("frames (AES-GCM is deterministic: both sides write the same bytes)", f.frames, built.frames);
  // The seal opens with bob's key to the epoch secret and the roster hash.
  const to = f.roster.find((m) => m.index === f.seal.to_index)!;
  const kp = await hpke.importKeyPair(fromHex(to.priv), Buffer.from(to.pub, "base64"));
  const opened = await hpke.open(kp, Buffer.from(f.seal.enc, "base64"), fromHex(f.seal.info), new Uint8Array(0), Buffer.from(f.seal.ct, "base64"));
  assert.equal(toHex(opened), f.epoch_secret + f.roster_hash, `${file}: the seal`);
  assert.equal(f.seal.info, toHex(sealInfo(f.room, f.epoch, f.seal.to_index)), `${file}: the seal's info`);
  // Every frame decrypts with the receiver keys it names, to its plaintext.
  const withPass = new FrameDecryptor();
  withPass.addKey(f.epoch, fromHex(f.base_key));
  withPass.addKey(f.ratchet.epoch, fromHex(f.ratchet.base_key));
  const noPass = new FrameDecryptor();
  noPass.addKey(f.no_passphrase.epoch, fromHex(f.no_passphrase.base_key));
  for (const fr of f.frames) {
    const out = await (fr.passphrase ? withPass : noPass).decrypt(fr.codec === "opus" ? "audio" : "video", fromHex(fr.frame));
    assert.ok(out instanceof Uint8Array, `${file}: ${fr.name} epoch ${fr.epoch}: ${out}`);
    assert.equal(toHex(out), fr.plaintext, `${file}: ${fr.name} epoch ${fr.epoch}`);
    assert.deepEqual(kidParts(fr.kid), { context: fr.context, index: fr.sender_index, epochBits: fr.epoch & 15 }, `${file}: ${fr.name} KID`);
  }
  assert.ok(f.frames.some((x) => x.epoch === f.ratchet.epoch) && f.frames.some((x) => !x.passphrase), `${file}: frames of every key set`);
}

const tsFixture = "test/fixtures/ts-frames.json";
const goFixture = `${testdata}/go-frames.json`;

test("TS frames for the Go side (test/fixtures/ts-frames.json) check out", async () => {
  if (process.env.PARLEY_UPDATE_FIXTURES === "1") {
    const about = "Frames encrypted by the TypeScript client (web/src/e2ee, Parley SFrame v1, docs/e2ee.md) from the fixed inputs of internal/e2ee/testdata/go-frames.json, in its layout. Hex unless named base64. Regenerate: PARLEY_UPDATE_FIXTURES=1 node build.mjs --test";
    writeFileSync(tsFixture, JSON.stringify(await buildFixture(about), null, 2) + "\n");
  }
  await checkFixture("ts-frames.json", JSON.parse(readFileSync(tsFixture, "utf8")));
});

test("Go frames (internal/e2ee/testdata/go-frames.json) decrypt here", { skip: existsSync(goFixture) ? false : "internal/e2ee/testdata/go-frames.json is not there yet (the Go side writes it)" }, async () => {
  await checkFixture("go-frames.json", JSON.parse(readFileSync(goFixture, "utf8")));
});

test("#k=PASSPHRASE: read as typed, URL-decoded, never as JSON", () => {
  assert.equal(readPassphrase("#config.prejoinConfig.enabled=false&k=correct%20horse"), "correct horse");
  assert.equal(readPassphrase("#k=1.50"), "1.50");
  assert.equal(readPassphrase("#k=a+b&userInfo.displayName=%22x%22"), "a+b");
  assert.equal(readPassphrase("#kk=x&config.k=y"), "");
  assert.equal(readOverrides("#k=s3cret&config.e2eeTransform=%22legacy%22").e2eePassphrase, "s3cret");
  assert.equal(readOverrides("#config.e2eeTransform=%22legacy%22").e2eeTransform, "legacy");
  assert.equal(readOverrides("#config.prejoinConfig.enabled=false").e2eePassphrase, undefined);
});

test("the conference request asks for E2EE with a #k= link, and presence carries our key", () => {
  const iq = conferenceIQ({ focus: "focus.x", room: "r@conference.x", machineUid: "m", e2ee: true });
  const props = iq.getChild("conference")!.getChildren("property").map((p) => `${p.attrs.name}=${p.attrs.value}`);
  assert.ok(props.includes("e2ee=true"));
  assert.ok(!conferenceIQ({ focus: "focus.x", room: "r@conference.x", machineUid: "m" }).toString().includes("e2ee"));
  const pres = joinPresence("r@conference.x", "abcd1234", { displayName: "A", audioMuted: true, videoMuted: true, e2eeKey: "AAAA" });
  const el = pres.getChild("e2ee", "urn:parley:e2ee:0")!;
  assert.deepEqual([el.attrs.kem, el.attrs.pub], ["x25519", "AAAA"]);
});

test("the keys do not match after 5 s of frames that all fail, not before, not while some decrypt", () => {
  const s = (at: number, decrypted: number, failed: number) => ({ at, decrypted, failed });
  assert.equal(keysMismatch([s(0, 0, 0), s(4000, 0, 80)], 4000), false, "not 5 s yet");
  assert.equal(keysMismatch([s(0, 0, 0), s(5000, 0, 100)], 5000), true);
  assert.equal(keysMismatch([s(0, 10, 0), s(5000, 11, 100)], 5000), false, "some decrypt");
  assert.equal(keysMismatch([s(0, 0, 0), s(5000, 0, 0)], 5000), false, "no frames arrive");
});
