// AV moderation of the microphone (avmoderation.ts and the conference, protocol/jitsi-dialect.md §4.8).
import { test } from "node:test";
import assert from "node:assert/strict";
import parse from "@xmpp/xml/lib/parse.js";
import { avModerationMessage, parseAVModeration } from "../src/avmoderation";

const room = "standup@conference.x";
const comp = "avmoderation.x";
const msg = (json: string, from = comp) => parse(`<message from="${from}" to="a@x/r"><json-message xmlns="http://jitsi.org/jitmeet">${json}</json-message></message>`);

test("commands to the component", () => {
  assert.equal(avModerationMessage(comp, "audio", { enable: true }).toString(), `<message to="${comp}"><av_moderation mediaType="audio" enable="true"/></message>`);
  assert.equal(avModerationMessage(comp, "audio", { allow: `${room}/b0b0b0b0` }).toString(), `<message to="${comp}"><av_moderation mediaType="audio" jidToWhitelist="${room}/b0b0b0b0"/></message>`);
  assert.equal(avModerationMessage(comp, "video", { disallow: `${room}/b` }).toString(), `<message to="${comp}"><av_moderation mediaType="video" jidToBlacklist="${room}/b"/></message>`);
});

test("the component's messages, and only the component's, about this room", () => {
  assert.deepEqual(parseAVModeration(msg(`{"type":"av_moderation","room":"${room}","enabled":true,"mediaType":"audio","actor":"${room}/aaaa0001"}`), comp, room), {
    mediaType: "audio",
    enabled: true,
    actor: `${room}/aaaa0001`,
  });
  assert.deepEqual(parseAVModeration(msg(`{"type":"av_moderation","room":"${room}","mediaType":"audio","approved":true}`), comp, room), { mediaType: "audio", approved: true, actor: "" });
  assert.deepEqual(parseAVModeration(msg(`{"type":"av_moderation","room":"${room}","mediaType":"audio","whitelists":{"audio":["${room}/b",7],"bogus":["x"]}}`), comp, room), {
    mediaType: "audio",
    whitelists: { audio: [`${room}/b`] },
    actor: "",
  });
  // Not from the component (an occupant, the room, another host), another room, another type, bad JSON or medium.
  assert.equal(parseAVModeration(msg(`{"type":"av_moderation","room":"${room}","mediaType":"audio","approved":true}`, `${room}/mallory`), comp, room), null);
  assert.equal(parseAVModeration(msg(`{"type":"av_moderation","room":"${room}","mediaType":"audio","approved":true}`, "evil.example"), comp, room), null);
  assert.equal(parseAVModeration(msg(`{"type":"av_moderation","room":"other@conference.x","mediaType":"audio","approved":true}`), comp, room), null);
  assert.equal(parseAVModeration(msg(`{"type":"polls","room":"${room}","mediaType":"audio"}`), comp, room), null);
  assert.equal(parseAVModeration(msg(`{not json`), comp, room), null);
  assert.equal(parseAVModeration(msg(`{"type":"av_moderation","mediaType":"smell"}`), comp, room), null);
  assert.equal(parseAVModeration(msg(`{"type":"av_moderation","mediaType":"audio","enabled":true}`), "", room), null);
});
