import { test } from "node:test";
import assert from "node:assert/strict";
import { activeEncodings, channelURL, heightFor, parseBridgeMessage, receiverConstraints, videoTypeMessage } from "../src/bridgechannel";

test("the channel goes to the page's host, whatever the focus called the server", () => {
  assert.equal(channelURL("wss://meet.example:443/colibri-ws/default-id/c1/e1?pwd=x", "127.0.0.1:8443"), "wss://127.0.0.1:8443/colibri-ws/default-id/c1/e1?pwd=x");
  assert.equal(channelURL("ws://a/colibri-ws/x", "b:80", false), "ws://b/colibri-ws/x");
  // With the domain: a URL on it (the server without a public URL) goes to the page's host; a bridge
  // node named by its own public URL keeps its host and port.
  assert.equal(channelURL("wss://localhost:8443/colibri-ws/b/c1/e1?pwd=x", "127.0.0.1:8443", true, "localhost"), "wss://127.0.0.1:8443/colibri-ws/b/c1/e1?pwd=x");
  assert.equal(channelURL("wss://127.0.0.1:9443/colibri-ws/b/c1/e1?pwd=x", "127.0.0.1:8443", true, "localhost"), "wss://127.0.0.1:9443/colibri-ws/b/c1/e1?pwd=x");
  assert.equal(channelURL("wss://bridge1.example/colibri-ws/b/c1/e1?pwd=x", "meet.example", true, "meet.example"), "wss://bridge1.example/colibri-ws/b/c1/e1?pwd=x");
  assert.equal(channelURL("wss://meet.example/colibri-ws/b/c1/e1?pwd=x", "meet.example", true, "meet.example"), "wss://meet.example/colibri-ws/b/c1/e1?pwd=x");
});

test("sources maps: slot SSRC → owner; owner-less entries are named after the endpoint", () => {
  const m = parseBridgeMessage(
    JSON.stringify({
      colibriClass: "VideoSourcesMap",
      mappedSources: [
        { source: "77aa01bc-v0", owner: "77aa01bc", ssrc: 8800112, rtx: 8800113, videoType: "CAMERA" },
        { source: "3f2a9c1e-v0", ssrc: 2000002 },
        { source: "bad", ssrc: -1 },
        "junk",
      ],
    }),
  );
  assert.deepEqual(m, {
    kind: "sources",
    media: "video",
    mapped: [
      { source: "77aa01bc-v0", owner: "77aa01bc", ssrc: 8800112, rtx: 8800113, videoType: "CAMERA" },
      { source: "3f2a9c1e-v0", owner: "3f2a9c1e", ssrc: 2000002, rtx: 0, videoType: "" },
    ],
  });
  const a = parseBridgeMessage('{"colibriClass":"AudioSourcesMap","mappedSources":[{"source":"x-a0","owner":"x","ssrc":5}]}');
  assert.equal(a?.kind === "sources" && a.media, "audio");
});

test("other messages", () => {
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"ab","previousSpeakers":["cd",7,""],"silence":false}'), {
    kind: "dominant",
    endpoint: "ab",
    previous: ["cd"],
    silence: false,
  });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"ab","silence":true}'), {
    kind: "dominant",
    endpoint: "ab",
    previous: [],
    silence: true,
  });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"ServerHello"}'), { kind: "other", colibriClass: "ServerHello" });
  assert.equal(parseBridgeMessage("not json"), null);
  // EndpointMessages relayed by the bridge (§6): from and msgPayload; without either it is not one we can use.
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointMessage","to":"","from":"ab","msgPayload":{"name":"endpoint-reaction","reactions":["like"]}}'), {
    kind: "endpoint",
    from: "ab",
    payload: { name: "endpoint-reaction", reactions: ["like"] },
  });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointMessage","msgPayload":{"name":"x"}}'), { kind: "other", colibriClass: "EndpointMessage" });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointMessage","from":"ab","msgPayload":[1]}'), { kind: "other", colibriClass: "EndpointMessage" });
  assert.equal(parseBridgeMessage("[1]"), null);
  assert.equal(parseBridgeMessage("null"), null);
});

test("constraints from tile sizes", () => {
  assert.equal(heightFor(120), 180);
  assert.equal(heightFor(200), 360);
  assert.equal(heightFor(200, 2), 720);
  assert.equal(heightFor(1000), 720);
});

test("ReceiverVideoConstraints: a height per tile, the stage, a default for the rest", () => {
  // Nothing on screen yet: every source at the default height, all forwarded.
  assert.deepEqual(receiverConstraints([]), {
    colibriClass: "ReceiverVideoConstraints",
    lastN: -1,
    onStageSources: [],
    defaultConstraints: { maxHeight: 180, maxFrameRate: -1 },
    constraints: {},
  });
  // A grid of two tiles 300 px high on a 2× screen, and one hidden tile.
  assert.deepEqual(
    receiverConstraints(
      [
        { source: "aa-v0", height: 300 },
        { source: "bb-v0", height: 170 },
        { source: "cc-v0", height: 0 },
      ],
      2,
    ).constraints,
    { "aa-v0": { maxHeight: 720 }, "bb-v0": { maxHeight: 360 } },
  );
  // Stage view: the big tile is on stage; a screen share on stage gets 720 even in a small window.
  const stage = receiverConstraints([
    { source: "aa-v1", height: 300, onStage: true, desktop: true },
    { source: "aa-v0", height: 90 },
    { source: "bb-v0", height: 90 },
  ]);
  assert.deepEqual(stage.onStageSources, ["aa-v1"]);
  assert.deepEqual(stage.constraints, { "aa-v1": { maxHeight: 720 }, "aa-v0": { maxHeight: 180 }, "bb-v0": { maxHeight: 180 } });
  // A camera on stage is asked for what its tile needs.
  assert.deepEqual(receiverConstraints([{ source: "bb-v0", height: 500, onStage: true }]).constraints, { "bb-v0": { maxHeight: 720 } });
  assert.deepEqual(receiverConstraints([{ source: "bb-v0", height: 250, onStage: true }]).constraints, { "bb-v0": { maxHeight: 360 } });
});

test("SourceVideoTypeMessage", () => {
  assert.deepEqual(JSON.parse(videoTypeMessage("aa-v1", "desktop")), { colibriClass: "SourceVideoTypeMessage", sourceName: "aa-v1", videoType: "desktop" });
});

test("SenderSourceConstraints: parsed, and the encodings a camera keeps", () => {
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"SenderSourceConstraints","sourceName":"ab-v0","maxHeight":360}'), {
    kind: "senderConstraints",
    source: "ab-v0",
    maxHeight: 360,
  });
  for (const bad of ['{"colibriClass":"SenderSourceConstraints","sourceName":"ab-v0","maxHeight":"360"}', '{"colibriClass":"SenderSourceConstraints","maxHeight":360}', '{"colibriClass":"SenderSourceConstraints","sourceName":"ab-v0","maxHeight":-7}']) {
    assert.deepEqual(parseBridgeMessage(bad), { kind: "other", colibriClass: "SenderSourceConstraints" }, bad);
  }
  assert.deepEqual(activeEncodings(3, 720, -1), [true, true, true]);
  assert.deepEqual(activeEncodings(3, 720, 720), [true, true, true]);
  assert.deepEqual(activeEncodings(3, 720, 360), [true, true, false]);
  assert.deepEqual(activeEncodings(3, 720, 200), [true, false, false]);
  assert.deepEqual(activeEncodings(3, 720, 0), [true, false, false]); // nobody watches: the lowest stays up
  assert.deepEqual(activeEncodings(3, 480, 360), [true, true, false]);
  assert.deepEqual(activeEncodings(1, 720, 0), [true]);
});

test("lastN: the videos in sight, none for tiles scrolled away, capped by a limit", () => {
  const tiles = [
    { source: "aa-v0", height: 200 },
    { source: "bb-v0", height: 200 },
    { source: "cc-v0", height: 200, visible: false },
    { source: "dd-v0", height: 200, visible: false },
  ];
  const c = receiverConstraints(tiles);
  assert.equal(c.lastN, 2);
  assert.deepEqual(c.constraints, { "aa-v0": { maxHeight: 360 }, "bb-v0": { maxHeight: 360 }, "cc-v0": { maxHeight: 0 }, "dd-v0": { maxHeight: 0 } });
  assert.equal(receiverConstraints(tiles, 1, 1).lastN, 1);
  assert.equal(receiverConstraints(tiles, 1, 5).lastN, 2);
  // Alone: no limit from the layout; a user's cap still counts.
  assert.equal(receiverConstraints([]).lastN, -1);
  assert.equal(receiverConstraints([], 1, 3).lastN, 3);
  // All scrolled away: nothing.
  assert.equal(receiverConstraints([{ source: "aa-v0", height: 200, visible: false }]).lastN, 0);
});

test("ForwardedSources and EndpointStats from the bridge", () => {
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"ForwardedSources","forwardedSources":["aa-v0","",7,"bb-v1"]}'), { kind: "forwarded", sources: ["aa-v0", "bb-v1"] });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"ForwardedSources"}'), { kind: "forwarded", sources: [] });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointStats","from":"aa","connectionQuality":250,"bitrate":{"upload":900}}'), {
    kind: "endpointStats",
    from: "aa",
    stats: { bitrate: { upload: 900, download: undefined }, packetLoss: { upload: undefined, download: undefined }, connectionQuality: 100, jvbRTT: undefined },
  });
  // Without a sender, or with nothing usable: not stats.
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointStats","connectionQuality":50}'), { kind: "other", colibriClass: "EndpointStats" });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"EndpointStats","from":"aa","bitrate":"x"}'), { kind: "other", colibriClass: "EndpointStats" });
  // A message over a megabyte is not read at all.
  assert.equal(parseBridgeMessage(`{"colibriClass":"EndpointStats","from":"aa","pad":"${"x".repeat(1 << 20)}"}`), null);
});
