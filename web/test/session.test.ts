// The media session's SDP work: reading the focus's split offer (which
// m-lines we send on, which slot each other m-line carries), simulcast
// added to the browser's answer, and the session-accept built from it;
// and how Jingle requests are acknowledged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import parse from "@xmpp/xml/lib/parse.js";
import type { Element } from "@xmpp/xml";
import { parseJingle, toElement, toSDP } from "../src/jingle";
import { addDecoys, addRemoteSection, addSendSection, addSimulcast, decoyMids, keepSSRCs, needsDecoys, sections, sendingMids, slotsByMid, withoutSections } from "../src/sdp";
import { applyMappings, buildAccept, desktopSourceName, isDesktop, type MediaState, type SlotOwner, MediaSession, restartDelay, sourceChange, videoLayers } from "../src/session";

const golden = join(process.cwd(), "..", "internal", "xmpp", "jingle", "testdata");
const offerXML = readFileSync(join(golden, "session-initiate.xml"), "utf8");

// What Chromium answers to a split offer, cut down: audio and video sent on
// the first m-line of each kind, the other slots received only.
const answer = [
  "v=0",
  "o=- 1 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1 3 4",
  "a=msid-semantic: WMS",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdefghijklmn",
  "a=fingerprint:sha-256 AA:BB",
  "a=setup:active",
  "a=mid:0",
  "a=sendrecv",
  "a=msid:s1 t1",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "a=ssrc:11 cname:c",
  "a=ssrc:11 msid:s1 t1",
  "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=mid:1",
  "a=recvonly",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "m=video 9 UDP/TLS/RTP/SAVPF 100 96",
  "c=IN IP4 0.0.0.0",
  "a=mid:3",
  "a=sendrecv",
  "a=msid:s1 t2",
  "a=rtcp-mux",
  "a=rtpmap:100 VP8/90000",
  "a=rtpmap:96 rtx/90000",
  "a=fmtp:96 apt=100",
  "a=ssrc-group:FID 21 22",
  "a=ssrc:21 cname:c",
  "a=ssrc:21 msid:s1 t2",
  "a=ssrc:22 cname:c",
  "a=ssrc:22 msid:s1 t2",
  "m=video 9 UDP/TLS/RTP/SAVPF 100 96",
  "c=IN IP4 0.0.0.0",
  "a=mid:4",
  "a=recvonly",
  "a=rtcp-mux",
  "a=rtpmap:100 VP8/90000",
  "",
].join("\r\n");

const counter = (start: number) => () => start++;

test("the split offer: we send on the first m-line of each kind; the others are slots", () => {
  const offer = sections(toSDP(parseJingle(parse(offerXML)), { split: true }));
  assert.deepEqual(sendingMids(offer), { audio: "0", video: "3" });
  const slots = slotsByMid(offer);
  assert.equal(slots.get("1"), 1000001);
  assert.equal(slots.get("2"), 1000002);
  assert.equal(slots.get("4"), 2000001); // the primary, not its RTX partner 2000101
  assert.equal(slots.get("5"), 2000002);
  assert.equal(slots.has("6"), false); // data
});

test("simulcast: one SSRC and its RTX become a SIM group of three, each with an FID partner", () => {
  const out = addSimulcast(answer, "3", 3, counter(100));
  const v = sections(out).find((s) => s.mid === "3")!;
  assert.deepEqual(v.groups, [
    { semantics: "SIM", ssrcs: [21, 100, 102] },
    { semantics: "FID", ssrcs: [21, 22] },
    { semantics: "FID", ssrcs: [100, 101] },
    { semantics: "FID", ssrcs: [102, 103] },
  ]);
  assert.deepEqual(v.ssrcs.sort((a, b) => a - b), [21, 22, 100, 101, 102, 103]);
  // Every new SSRC carries the original's cname and msid.
  for (const s of [100, 101, 102, 103]) {
    assert.ok(out.includes(`a=ssrc:${s} cname:c\r\n`), `cname of ${s}`);
    assert.ok(out.includes(`a=ssrc:${s} msid:s1 t2\r\n`), `msid of ${s}`);
  }
  // The rest of the SDP is untouched, and still ends with CRLF.
  assert.equal(out.replace(/a=ssrc[^\r]*\r\n/g, ""), answer.replace(/a=ssrc[^\r]*\r\n/g, ""));
  assert.ok(out.endsWith("a=rtpmap:100 VP8/90000\r\n"));
  // Twice is once; audio, unknown mids and SSRC-less m-lines are left alone.
  assert.equal(addSimulcast(out, "3", 3, counter(500)), out);
  assert.equal(addSimulcast(answer, "0"), answer);
  assert.equal(addSimulcast(answer, "4"), answer);
  assert.equal(addSimulcast(answer, "9"), answer);
});

test("simulcast never reuses an SSRC the answer has", () => {
  const out = addSimulcast(answer, "3", 3, counter(21));
  const v = sections(out).find((s) => s.mid === "3")!;
  assert.equal(new Set(v.ssrcs).size, 6);
  assert.deepEqual(v.groups[0], { semantics: "SIM", ssrcs: [21, 23, 25] });
});

test("session-accept: the answer's transport with our own named sources", () => {
  const offer = parseJingle(parse(offerXML));
  const local = addSimulcast(answer, "3", 3, counter(100));
  const j = buildAccept(offer, local, "abcd1234", "abcd1234@guest.localhost/r1", { audio: "0", video: "3" });
  assert.equal(j.action, "session-accept");
  assert.equal(j.sid, offer.sid);
  assert.equal(j.initiator, offer.initiator);
  assert.equal(j.responder, "abcd1234@guest.localhost/r1");
  const audio = j.contents.find((c) => c.name === "audio")!.description!;
  assert.deepEqual(
    audio.sources.map((s) => [s.ssrc, s.name, s.msid]),
    [[11, "abcd1234-a0", "abcd1234-audio-0-1 abcd1234-audio-track"]],
  );
  const video = j.contents.find((c) => c.name === "video")!.description!;
  assert.ok(video.sources.every((s) => s.name === "abcd1234-v0" && s.videoType === "camera"));
  assert.equal(video.sources.length, 6);
  assert.deepEqual(video.ssrcGroups.map((g) => g.semantics), ["SIM", "FID", "FID", "FID"]);
  assert.equal(videoLayers(j), 3);
  assert.equal(j.contents.find((c) => c.name === "audio")!.transport!.candidates[0]!.ip, "127.0.0.1");
  // It serializes.
  const el = toElement(j);
  assert.equal(el.getChildren("content").length, 2);

  // Without simulcast: one layer; with the camera's m-line not sending, none.
  assert.equal(videoLayers(buildAccept(offer, answer, "e", "j", { audio: "0", video: "3" })), 1);
  const recvOnly = answer.replace("a=mid:3\r\na=sendrecv", "a=mid:3\r\na=recvonly");
  assert.equal(videoLayers(buildAccept(offer, recvOnly, "e", "j", { audio: "0", video: "3" })), 0);
});

/** A MediaSession with a signalling stub: the registered Jingle handler, the IQs sent. */
function stubSession() {
  let handler: ((iq: Element, payload: Element) => Element | object | undefined) | undefined;
  const sent: Element[] = [];
  const s = new MediaSession(
    {
      jid: "me@localhost/r",
      handleIQ: (_t, _ns, _name, fn) => void (handler = fn),
      iq: async (el) => {
        sent.push(el);
        return el;
      },
    },
    { roomJid: "room@conference.localhost", endpointId: () => "abcd1234", tracks: () => ({ audio: null, video: null }), host: "localhost:8443" },
  );
  const call = (xml: string) => {
    const iq = parse(xml);
    return handler!(iq, iq.getChildElements()[0]!);
  };
  return { s, call, sent };
}

test("Jingle requests: the focus's are acked, others refused, unknown sessions rejected", async () => {
  const { s, call } = stubSession();
  const warn = console.warn;
  const warnings: unknown[] = [];
  console.warn = (...a: unknown[]) => void warnings.push(a);
  try {
    // Not from the room: service-unavailable (the library's reply to undefined).
    const iq = (from: string) => `<iq type="set" id="i" from="${from}">${offerXML}</iq>`;
    assert.equal(call(iq("someone@localhost/x")), undefined);
    // From the room's focus: acked at once (an empty result), whatever happens next.
    assert.deepEqual(call(iq("room@conference.localhost/focus")), {});
    await new Promise((r) => setTimeout(r, 10));
    // No RTCPeerConnection in node: the session failed and closed.
    assert.equal(s.pc, null);
    assert.equal(s.connected, false);
    assert.ok(warnings.length >= 1);
    // An action for a session we do not have: item-not-found with unknown-session.
    const err = call(`<iq type="set" from="room@conference.localhost/focus" id="x"><jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="nope"/></iq>`) as Element;
    assert.equal(err.name, "error");
    assert.ok(err.getChild("unknown-session", "urn:xmpp:jingle:errors:1"));
    assert.deepEqual(call(`<iq type="set" from="room@conference.localhost/focus" id="y"><jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="nope"/></iq>`), {});
  } finally {
    console.warn = warn;
  }
});

test("sources maps: a slot takes its newest source; a source moved to another slot leaves the old one", () => {
  const owners = new Map<number, SlotOwner>();
  const m = (source: string, ssrc: number) => ({ source, owner: source.split("-")[0]!, ssrc, rtx: 0, videoType: "CAMERA" });
  applyMappings(owners, [m("aa-v0", 1), m("bb-v0", 2)]);
  assert.deepEqual([...owners].map(([k, v]) => [k, v.owner]), [[1, "aa"], [2, "bb"]]);
  // bb came back (a restart) and got slot 3; slot 1 now carries cc.
  applyMappings(owners, [m("bb-v0", 3), m("cc-v0", 1)]);
  assert.deepEqual(
    [...owners].map(([k, v]) => [k, v.owner]).sort((x, y) => (x[0] as number) - (y[0] as number)),
    [[1, "cc"], [3, "bb"]],
  );
});

test("the audio m-line we send on keeps ssrc-audio-level as extmap 1 (the bridge's speaker detection)", () => {
  const offer = toSDP(parseJingle(parse(offerXML)), { split: true });
  const audio = offer.split("m=").find((m) => m.startsWith("audio") && m.includes("a=sendrecv"))!;
  assert.match(audio, /a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n/);
});

test("screen share: one more m-line in our copy of the offer, recvonly on the bridge's side", () => {
  const offer = toSDP(parseJingle(parse(offerXML)), { split: true });
  const n = sections(offer).length;
  const next = addSendSection(offer, "video", String(n), 1);
  const secs = sections(next);
  assert.equal(secs.length, n + 1);
  const added = secs[n]!;
  assert.deepEqual([added.mid, added.kind, added.direction, added.ssrcs], [String(n), "video", "recvonly", []]);
  // The rest of the offer is unchanged; the BUNDLE group names the new mid; the version went up.
  assert.ok(next.startsWith(offer.split("\r\n").slice(0, 1).join("")));
  assert.match(next, new RegExp(`a=group:BUNDLE [0-9 ]* ${n}\r\n`));
  assert.match(next, /^o=- \S+ 1 /m);
  assert.deepEqual(sections(next).slice(0, n), sections(offer));
  // Codecs and transport come from the camera's m-line.
  const text = next.split("m=").pop()!;
  assert.match(text, /a=rtpmap:\d+ VP8\/90000/);
  assert.match(text, /a=ice-ufrag:/);
  assert.doesNotMatch(text, /a=ssrc/);
  assert.throws(() => addSendSection(next, "video", String(n), 2), /taken/);
});

test("a slot a sources map names: one more m-line the bridge sends on, with its SSRC and RTX partner", () => {
  const offer = toSDP(parseJingle(parse(offerXML)), { split: true });
  const n = sections(offer).length;
  const next = addRemoteSection(offer, "video", String(n), 3, 7000, 7001);
  const secs = sections(next);
  assert.equal(secs.length, n + 1);
  assert.deepEqual(secs.slice(0, n), sections(offer));
  const added = secs[n]!;
  assert.deepEqual([added.mid, added.kind, added.direction, added.ssrcs, added.groups], [String(n), "video", "sendonly", [7000, 7001], [{ semantics: "FID", ssrcs: [7000, 7001] }]]);
  assert.equal(slotsByMid(secs).get(String(n)), 7000);
  assert.match(next, new RegExp(`a=group:BUNDLE [0-9 ]* ${n}\r\n`));
  assert.match(next, /^o=- \S+ 3 /m);
  // One msid per slot, unlike any other m-line's (Chromium refuses duplicates).
  const text = next.split("m=").pop()!;
  assert.match(text, /a=ssrc:7000 msid:remote-video-7000 remote-video-7000\r\n/);
  assert.match(text, /a=ssrc:7001 msid:remote-video-7000 remote-video-7000\r\n/);
  assert.match(text, /a=rtpmap:\d+ VP8\/90000/);
  // Audio: no RTX.
  const audio = sections(addRemoteSection(next, "audio", String(n + 1), 4, 8000)).pop()!;
  assert.deepEqual([audio.kind, audio.direction, audio.ssrcs, audio.groups], ["audio", "sendonly", [8000], []]);
  assert.throws(() => addRemoteSection(next, "video", String(n), 5, 9000), /taken/);
});

test("Firefox's decoys: no payload type unique to one m-line, no sources, no change to what the focus hears", () => {
  const offer = toSDP(parseJingle(parse(offerXML)), { split: true });
  const n = sections(offer).length;
  const decoyed = addDecoys(offer);
  const secs = sections(decoyed);
  assert.equal(secs.length, n + 2);
  assert.deepEqual(secs.slice(0, n), sections(offer));
  assert.deepEqual(secs.slice(n).map((x) => [x.mid, x.kind, x.direction, x.ssrcs]), [["decoy-a", "audio", "sendonly", []], ["decoy-v", "video", "sendonly", []]]);
  assert.match(decoyed, /a=group:BUNDLE .* decoy-a decoy-v\r\n/);
  // Each decoy carries the payload types of the sending m-line of its kind, so none is unique to that one.
  for (const kind of ["audio", "video"]) {
    const lines = decoyed.split("m=").filter((m) => m.startsWith(kind));
    const pts = (m: string) => m.split("\r\n")[0]!.split(" ").slice(3).join(" ");
    const sending = lines.find((m) => m.includes("a=sendrecv"))!;
    assert.equal(pts(lines[lines.length - 1]!), pts(sending));
  }
  // The sending mids and the slots are those of the focus's offer.
  assert.deepEqual(sendingMids(secs), sendingMids(sections(offer)));
  assert.deepEqual(slotsByMid(secs), slotsByMid(sections(offer)));
  // Taken out again (for the session-accept), the SDP is the original.
  assert.equal(withoutSections(decoyed, decoyMids).replace(/^o=.*$/m, ""), offer.replace(/^o=.*$/m, ""));
  assert.ok(needsDecoys("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"));
  assert.ok(!needsDecoys("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36"));
});

test("a renegotiated answer keeps the SSRCs the focus was told", () => {
  const munged = addSimulcast(answer, "3", 3, counter(500));
  const fresh = answer.replace("a=ssrc-group:FID 21 22", "a=ssrc-group:FID 21 22"); // Chromium's own, without our SIM group
  const kept = keepSSRCs(fresh, munged, "3");
  assert.deepEqual(sections(kept).find((x) => x.mid === "3"), sections(munged).find((x) => x.mid === "3"));
  assert.deepEqual(sections(kept).find((x) => x.mid === "0"), sections(fresh).find((x) => x.mid === "0"));
  assert.equal(keepSSRCs(fresh, munged, "9"), fresh);
});

test("source-add and source-remove for the screen share", () => {
  const local = answer.replace("a=mid:4\r\na=recvonly", "a=mid:4\r\na=sendonly\r\na=ssrc-group:FID 31 32\r\na=ssrc:31 cname:c\r\na=ssrc:32 cname:c");
  const name = desktopSourceName("3f2a9c1e");
  assert.equal(name, "3f2a9c1e-v1");
  const add = sourceChange("source-add", "s1", local, "4", name, "desktop", "m t");
  const el = toElement(add);
  assert.equal(el.attrs.action, "source-add");
  assert.equal(el.attrs.sid, "s1");
  const d = el.getChild("content")!.getChild("description")!;
  assert.equal(d.attrs.media, "video");
  assert.deepEqual(
    d.getChildren("source").map((x) => [x.attrs.ssrc, x.attrs.name, x.attrs.videoType]),
    [
      ["31", name, "desktop"],
      ["32", name, "desktop"],
    ],
  );
  assert.equal(d.getChild("ssrc-group")!.attrs.semantics, "FID");
  assert.equal(sourceChange("source-remove", "s1", local, "4", name, "desktop", "m t").action, "source-remove");
  assert.throws(() => sourceChange("source-add", "s1", answer, "4", name, "desktop", "m t"), /no SSRC/);
});

test("a mapped video source is a screen share by its video type, else by its name", () => {
  assert.equal(isDesktop({ owner: "aa", source: "aa-v1", videoType: "DESKTOP" }), true);
  assert.equal(isDesktop({ owner: "aa", source: "aa-v1", videoType: "desktop_high_fps" }), true);
  assert.equal(isDesktop({ owner: "aa", source: "aa-v0", videoType: "CAMERA" }), false);
  assert.equal(isDesktop({ owner: "aa", source: "aa-v1" }), true);
  assert.equal(isDesktop({ owner: "aa", source: "aa-v0" }), false);
});

test("constraints follow the tiles, debounced, and are kept for the next bridge channel", async () => {
  const sig = { jid: "me@localhost/r", handleIQ() {}, iq: async () => parse("<iq/>") };
  const s = new MediaSession(sig, { roomJid: "room@conference.localhost", endpointId: () => "aa", tracks: () => ({ audio: null, video: null }), host: "h" });
  assert.deepEqual(s.videoConstraints.constraints, {});
  s.setTiles([{ source: "bb-v0", height: 300 }], 1, 1);
  s.setTiles([{ source: "bb-v0", height: 300, onStage: true }, { source: "cc-v0", height: 90 }], 2, 1);
  assert.deepEqual(s.videoConstraints.onStageSources, ["bb-v0"]);
  assert.deepEqual(s.videoConstraints.constraints, { "bb-v0": { maxHeight: 720 }, "cc-v0": { maxHeight: 180 } });
  await new Promise((r) => setTimeout(r, 5)); // the debounce fires without a channel: nothing to send
});

test("restart back-off: 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s, up to a fifth longer at random", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((n) => restartDelay(n, () => 0)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.deepEqual([0, 5].map((n) => restartDelay(n, () => 0.999999)), [1200, 36000]);
  // Five restarts in a row take more than 30 s, and the sixth comes a minute after the first: under the focus's five a minute.
  let t = 0;
  const at: number[] = [];
  for (let n = 0; n < 6; n++) at.push((t += restartDelay(n, () => 0)));
  assert.ok(at[4]! - at[0]! >= 30_000);
  assert.ok(at[5]! - at[0]! >= 60_000);
});

/** A MediaSession whose restart requests the focus answers with `reply` (an error condition, or "" for a result). */
function restartingSession(reply: () => string, delays: number[]) {
  const sent: Element[] = [];
  const s = new MediaSession(
    {
      jid: "me@localhost/r",
      handleIQ: () => {},
      iq: async (el) => {
        sent.push(el);
        const c = reply();
        if (c) throw Object.assign(new Error(c), { condition: c });
        return el;
      },
    },
    {
      roomJid: "room@conference.localhost",
      endpointId: () => "abcd1234",
      tracks: () => ({ audio: null, video: null }),
      host: "h",
      restartDelay: (n) => {
        delays.push(n);
        return 5;
      },
      inviteWaitMs: 20,
    },
  );
  // As after a session-initiate (no RTCPeerConnection in node).
  Object.assign(s as unknown as { sid: string; focus: string; bridgeSession: string }, { sid: "s1", focus: "room@conference.localhost/focus", bridgeSession: "b1" });
  const states: MediaState[] = [];
  s.on("state", (x) => states.push(x));
  return { s, sent, states };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a restart the focus refuses for lack of resources is tried again, each time later; a new session stops it", async () => {
  const info = console.info;
  console.info = () => {};
  try {
    const delays: number[] = [];
    const { s, sent, states } = restartingSession(() => "resource-constraint", delays);
    await s.restart();
    assert.equal(sent.length, 1);
    const j = sent[0]!.getChild("jingle", "urn:xmpp:jingle:1")!;
    assert.equal(j.attrs.action, "session-terminate");
    assert.equal(j.attrs.sid, "s1");
    assert.equal(j.getChild("bridge-session", "http://jitsi.org/protocol/focus")?.attrs.restart, "true");
    assert.deepEqual(states, ["reconnecting"]);
    while (sent.length < 4) await wait(5);
    // Each refused restart asked restartDelay for the next one with a higher count.
    assert.deepEqual(delays.slice(0, 3), [1, 2, 3]);
    assert.ok(sent.every((e) => e.getChild("jingle", "urn:xmpp:jingle:1")?.attrs.sid === "s1"));
    s.close();
    const n = sent.length;
    await wait(30);
    assert.ok(sent.length <= n + 1, "close() stops the restarts (one may be in flight)");
    const m = sent.length;
    await wait(30);
    assert.equal(sent.length, m);
  } finally {
    console.info = info;
  }
});

test("a restart refused with item-not-found (a restarted server) emits lost, and again while no session comes", async () => {
  const info = console.info;
  console.info = () => {};
  try {
    const { s, sent, states } = restartingSession(() => "item-not-found", []);
    let lost = 0;
    s.on("lost", () => lost++);
    await s.restart();
    assert.equal(lost, 1);
    assert.equal(sent.length, 1, "no second restart: the focus has no such session");
    assert.equal(s.state, "reconnecting");
    while (lost < 3) await wait(5);
    assert.equal(sent.length, 1);
    s.close();
    await wait(60);
    assert.equal(lost, 3, "close() stops asking");
    assert.deepEqual(states, ["reconnecting"]);
  } finally {
    console.info = info;
  }
});
