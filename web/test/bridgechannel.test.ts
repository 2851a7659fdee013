import { test } from "node:test";
import assert from "node:assert/strict";
import { channelURL, constraintsMessage, heightFor, parseBridgeMessage } from "../src/bridgechannel";

test("the channel goes to the page's host, whatever the focus called the server", () => {
  assert.equal(channelURL("wss://meet.example:443/colibri-ws/default-id/c1/e1?pwd=x", "127.0.0.1:8443"), "wss://127.0.0.1:8443/colibri-ws/default-id/c1/e1?pwd=x");
  assert.equal(channelURL("ws://a/colibri-ws/x", "b:80", false), "ws://b/colibri-ws/x");
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
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"ab","previousSpeakers":[],"silence":false}'), {
    kind: "dominant",
    endpoint: "ab",
    silence: false,
  });
  assert.deepEqual(parseBridgeMessage('{"colibriClass":"ServerHello"}'), { kind: "other", colibriClass: "ServerHello" });
  assert.equal(parseBridgeMessage("not json"), null);
  assert.equal(parseBridgeMessage("[1]"), null);
  assert.equal(parseBridgeMessage("null"), null);
});

test("constraints from tile sizes", () => {
  assert.equal(heightFor(120), 180);
  assert.equal(heightFor(200), 360);
  assert.equal(heightFor(200, 2), 720);
  assert.equal(heightFor(1000), 720);
  assert.deepEqual(JSON.parse(constraintsMessage(360)), { colibriClass: "ReceiverVideoConstraints", lastN: -1, defaultConstraints: { maxHeight: 360 } });
});
