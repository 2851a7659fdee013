// The client's Jingle → SDP translation against the server's golden files
// (internal/xmpp/jingle/testdata, README there): both sides read every
// message the same way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import parse from "@xmpp/xml/lib/parse.js";
import { candidateSDP, fromSDP, parseCandidateSDP, parseJingle, toElement, toSDP, JingleError, type Jingle } from "../src/jingle";

// node --test runs from web/ (build.mjs --test, go test ./web).
const golden = join(process.cwd(), "..", "internal", "xmpp", "jingle", "testdata");

interface Case {
  name: string;
  responder: boolean;
  split: boolean;
  byKind: boolean;
  action: string;
}

const cases = JSON.parse(readFileSync(join(golden, "cases.json"), "utf8")) as Case[];

test("golden cases are there", () => {
  assert.ok(cases.length >= 6, `only ${cases.length} cases`);
});

for (const c of cases) {
  test(`Jingle → SDP: ${c.name}`, () => {
    const xml = readFileSync(join(golden, c.name + ".xml"), "utf8");
    const want = readFileSync(join(golden, c.name + ".sdp"), "utf8");
    const j = parseJingle(parse(xml));
    assert.equal(j.action, c.action);
    const got = toSDP(j, { responder: c.responder, split: c.split, sessionId: 1, sessionVersion: 2 });
    assert.equal(got, want);
  });
}

/** j without what SDP cannot carry (the Go golden test's withoutNonSDP), session fields from `from`. */
function withoutNonSDP(j: Jingle, from: Jingle): Jingle {
  const c = structuredClone(j);
  Object.assign(c, { action: from.action, sid: from.sid, initiator: from.initiator, responder: from.responder, bridgeSession: from.bridgeSession, startMuted: from.startMuted });
  for (const ct of c.contents) {
    if (ct.transport) {
      ct.transport.webSockets = [];
      ct.transport.iceGeneration = 0;
      for (const cand of ct.transport.candidates) cand.id = "";
    }
    for (const s of ct.description?.sources ?? []) {
      s.owner = "";
      s.params = [];
    }
  }
  return c;
}

for (const c of cases) {
  test(`SDP → Jingle → SDP: ${c.name}`, () => {
    const sdp = readFileSync(join(golden, c.name + ".sdp"), "utf8");
    const xmlText = readFileSync(join(golden, c.name + ".xml"), "utf8");
    const back = fromSDP(sdp, { responder: c.responder, byKind: c.byKind, action: c.action });
    const parsed = parseJingle(parse(xmlText));
    assert.deepEqual(back, withoutNonSDP(parsed, back));
    assert.equal(toSDP(back, { responder: c.responder, split: c.split, sessionId: 1, sessionVersion: 2 }), sdp);
  });

  test(`Jingle → XML: ${c.name}`, () => {
    const xmlText = readFileSync(join(golden, c.name + ".xml"), "utf8");
    const j = parseJingle(parse(xmlText));
    const el = toElement(j);
    // The element reads back to the same value (sources inline instead of json-message).
    assert.deepEqual(parseJingle(parse(el.toString())), j);
    if (!xmlText.includes("json-message")) {
      // Byte for byte what the server writes, but for the golden file's indentation.
      assert.equal(el.toString(), xmlText.replace(/>\s+</g, "><").trim());
    }
  });
}

test("SDP candidates read back", () => {
  const line = "a=candidate:842163049 1 UDP 1686052607 198.51.100.7 61002 typ srflx raddr 192.168.1.23 rport 54321 generation 0 network-id 1";
  const c = parseCandidateSDP(line);
  assert.equal(candidateSDP(c), "842163049 1 udp 1686052607 198.51.100.7 61002 typ srflx raddr 192.168.1.23 rport 54321 generation 0 network-id 1");
  assert.throws(() => parseCandidateSDP("candidate:1 1 udp 5 1.2.3.4 9 host"), JingleError);
  assert.throws(() => parseCandidateSDP("candidate:1 1 udp 99999999999 1.2.3.4 9 typ host"), JingleError);
});

test("malformed SDP is refused", () => {
  assert.throws(() => fromSDP("v=0\r\nm=text 9 X 0\r\n"), JingleError);
  assert.throws(() => fromSDP("v=0\r\nnot sdp\r\n"), JingleError);
  assert.throws(() => fromSDP("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/x\r\n"), JingleError);
  assert.throws(() => fromSDP("v=0\r\na=group:BUNDLE 0 9\r\nm=audio 9 UDP/TLS/RTP/SAVPF\r\na=mid:0\r\n"), JingleError);
});

test("session fields the SDP cannot carry are read", () => {
  const j = parseJingle(parse(readFileSync(join(golden, "session-initiate.xml"), "utf8")));
  assert.deepEqual(j.bridgeSession, { id: "3b6c0f2e", region: "eu-west" });
  assert.deepEqual(j.startMuted, { audio: true, video: false });
  assert.equal(j.contents[0]!.transport!.webSockets[0], "wss://meet.example.com/colibri-ws/default-id/9d1e77ab/3f2a9c1e?pwd=hT3xk29a");
  const owners = new Set(j.contents.flatMap((c) => c.description?.sources.map((s) => s.owner) ?? []));
  assert.deepEqual([...owners], ["jvb"]);
});

test("an IQ wrapper is accepted; other elements are not", () => {
  const iq = parse(`<iq type="set"><jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="s"/></iq>`);
  assert.equal(parseJingle(iq).action, "session-terminate");
  assert.throws(() => parseJingle(parse(`<iq type="set"/>`)), JingleError);
  assert.throws(() => parseJingle(parse(`<jingle xmlns="urn:xmpp:jingle:0"/>`)), JingleError);
});

test("no control character reaches the SDP", () => {
  const bad = (frag: string) =>
    parseJingle(
      parse(`<jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="s"><content creator="initiator" name="audio"><transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ${frag}/></content></jingle>`),
    );
  assert.match(toSDP(bad(`ufrag="fine" pwd="alsofine"`)), /a=ice-ufrag:fine\r\na=ice-pwd:alsofine\r\n/);
  assert.throws(() => toSDP(bad(`ufrag="a&#13;&#10;a=evil"`)), JingleError);
  assert.throws(() => toSDP(bad(`pwd="x&#9;y"`)), JingleError);
  assert.throws(() => parseJingle(parse(`<jingle xmlns="urn:xmpp:jingle:1"><content name="audio"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="200" name="x"/></description></content></jingle>`)), JingleError);
  assert.throws(() => toSDP(parseJingle(parse(`<jingle xmlns="urn:xmpp:jingle:1"><content name="audio"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="100" name="a b" clockrate="1"/></description></content></jingle>`))), JingleError);
});

test("unknown header extensions are dropped", () => {
  const j = parseJingle(
    parse(`<jingle xmlns="urn:xmpp:jingle:1"><content name="audio"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><rtp-hdrext xmlns="urn:xmpp:jingle:apps:rtp:rtp-hdrext:0" id="7" uri="urn:example:evil"/><rtp-hdrext xmlns="urn:xmpp:jingle:apps:rtp:rtp-hdrext:0" id="1" uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"/></description></content></jingle>`),
  );
  assert.deepEqual(j.contents[0]!.description!.hdrexts.map((h) => h.id), [1]);
});

test("candidate lines", () => {
  const c = { component: 1, foundation: "f", generation: 0, id: "", network: 2, priority: 5, protocol: "TCP", type: "host", ip: "192.0.2.1", port: 9, relAddr: "", relPort: 0, tcptype: "active" };
  assert.equal(candidateSDP(c), "f 1 tcp 5 192.0.2.1 9 typ host tcptype active generation 0 network-id 2");
});
