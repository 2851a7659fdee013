import { test } from "node:test";
import assert from "node:assert/strict";
import { candidateRTT, combinedScore, endpointStatsMessage, inboundCounters, levelOf, outboundCounters, ownPeerStats, parseEndpointStats, summarize, zeroCounters } from "../src/quality";

test("EndpointStats from a peer: numbers clamped, nonsense left out, nothing usable is null", () => {
  assert.deepEqual(parseEndpointStats({ bitrate: { upload: 812, download: 1500 }, packetLoss: { upload: 1.5, download: 0 }, connectionQuality: 93.4, jvbRTT: 12, maxEnabledResolution: { width: 640, height: 360 } }), {
    bitrate: { upload: 812, download: 1500 },
    packetLoss: { upload: 1.5, download: 0 },
    connectionQuality: 93.4,
    jvbRTT: 12,
    maxEnabledResolution: { width: 640, height: 360 },
  });
  // A hostile peer: huge, negative, infinite-looking, wrong types.
  const s = parseEndpointStats({ bitrate: { upload: 1e300, download: -5 }, packetLoss: { upload: 1e9, download: "lots" }, connectionQuality: -40, jvbRTT: 1e12, maxEnabledResolution: { width: 1e9, height: "x" } });
  assert.deepEqual(s, { bitrate: { upload: 1_000_000, download: 0 }, packetLoss: { upload: 100, download: undefined }, connectionQuality: 0, jvbRTT: 60_000 });
  assert.equal(parseEndpointStats({ bitrate: "fast", packetLoss: [1, 2], connectionQuality: null }), null);
  assert.equal(parseEndpointStats({}), null);
});

test("our EndpointStats carries lib-jitsi-meet's field names and reads back the same", () => {
  const up = { ...summarize({ ...zeroCounters(0), rtt: 20 }, { ...zeroCounters(2000), bytes: 250_000, packets: 300, frames: 60, width: 640, height: 360, rtt: 20 }) };
  const stats = ownPeerStats(up, 1200.4, 0.25);
  const msg = JSON.parse(endpointStatsMessage(stats));
  assert.equal(msg.colibriClass, "EndpointStats");
  assert.deepEqual(msg.bitrate, { upload: 1000, download: 1200 });
  assert.deepEqual(msg.packetLoss, { upload: 0, download: 0.3 });
  assert.equal(msg.connectionQuality, 100);
  assert.equal(msg.jvbRTT, 20);
  assert.deepEqual(msg.maxEnabledResolution, { width: 640, height: 360 });
  assert.deepEqual(parseEndpointStats(msg), stats);
});

test("summaries: bitrate, loss, frame rate and freezes over an interval, and the level they make", () => {
  const prev = { ...zeroCounters(0), bytes: 1000, packets: 100, lost: 0, frames: 100, rtt: 30 };
  const good = summarize(prev, { ...prev, at: 2000, bytes: 1000 + 200_000, packets: 300, lost: 2, frames: 160, height: 360, width: 640, jitter: 5 });
  assert.equal(good.bitrate, 800);
  assert.equal(Math.round(good.loss * 100) / 100, 0.99);
  assert.equal(good.fps, 30);
  assert.equal(good.level, "good");
  // 8% loss: fair; two freezes: poor; a browser holding back for bandwidth: fair.
  assert.equal(summarize(prev, { ...prev, at: 2000, packets: 192, lost: 8 }).level, "fair");
  assert.equal(summarize(prev, { ...prev, at: 2000, packets: 200, frames: 150, freezes: 2 }).level, "poor");
  assert.equal(summarize(prev, { ...prev, at: 2000, packets: 200, frames: 160, limitation: "bandwidth" }).level, "fair");
  assert.equal(summarize(prev, { ...prev, at: 2000, packets: 200, rtt: 900 }).level, "poor");
  // No frames in the interval (video paused or off) is not a bad frame rate.
  assert.equal(summarize(prev, { ...prev, at: 2000, packets: 150 }).level, "good");
  assert.equal(levelOf(70), "good");
  assert.equal(levelOf(69), "fair");
  assert.equal(levelOf(39), "poor");
});

test("a remote tile's score is the worse of what reaches us and what they report", () => {
  const s = summarize(zeroCounters(0), { ...zeroCounters(1000), packets: 100 });
  assert.equal(combinedScore(s, undefined), 100);
  assert.equal(combinedScore(s, { bitrate: {}, packetLoss: {}, connectionQuality: 35 }), 35);
  assert.equal(combinedScore(undefined, { bitrate: {}, packetLoss: {} }), undefined);
});

test("counters from getStats: inbound by owner, outbound with the bridge's reports, RTT of the selected pair", () => {
  const stats = [
    { id: "T", type: "transport", selectedCandidatePairId: "P" },
    { id: "P", type: "candidate-pair", currentRoundTripTime: 0.042 },
    { id: "v1", type: "inbound-rtp", kind: "video", mid: "3", bytesReceived: 5000, packetsReceived: 10, packetsLost: 1, framesDecoded: 30, freezeCount: 1, frameWidth: 320, frameHeight: 180, jitter: 0.004 },
    { id: "a1", type: "inbound-rtp", kind: "audio", mid: "4", bytesReceived: 1000, packetsReceived: 50, packetsLost: 0, jitter: 0.012 },
    { id: "x", type: "inbound-rtp", kind: "video", mid: "9", bytesReceived: 99999 },
    { id: "o1", type: "outbound-rtp", kind: "video", bytesSent: 3000, packetsSent: 20, frameWidth: 160, frameHeight: 120, framesSent: 10 },
    { id: "o2", type: "outbound-rtp", kind: "video", bytesSent: 9000, packetsSent: 40, frameWidth: 640, frameHeight: 480, framesSent: 12, qualityLimitationReason: "bandwidth" },
    { id: "r1", type: "remote-inbound-rtp", kind: "video", packetsLost: 3, jitter: 0.002, roundTripTime: 0.05 },
  ];
  assert.equal(candidateRTT(stats), 42);
  const owners: Record<string, string> = { "3": "alice", "4": "alice" };
  const inbound = inboundCounters(stats, (s) => owners[String(s.mid)] ?? "", 1000);
  assert.deepEqual([...inbound.keys()], ["alice"]);
  assert.deepEqual(inbound.get("alice"), { at: 1000, bytes: 6000, packets: 60, lost: 1, frames: 30, freezes: 1, jitter: 12, width: 320, height: 180, rtt: 42, limitation: "" });
  assert.deepEqual(outboundCounters(stats, 1000), { at: 1000, bytes: 12000, packets: 60, lost: 3, frames: 12, freezes: 0, jitter: 2, width: 640, height: 480, rtt: 42, limitation: "bandwidth" });
});
