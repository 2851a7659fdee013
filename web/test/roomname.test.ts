import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanRoomName, generateRoomName, generatedNameBits, isValidRoomName, roomFromPath, roomNode, wordLists } from "../src/roomname";

test("generated names are several capitalised words and valid", () => {
  for (let i = 0; i < 200; i++) {
    const n = generateRoomName();
    assert.match(n, /^([A-Z][a-z]+){5}$/);
    assert.ok(isValidRoomName(n), n);
  }
});

test("generated names are hard to guess", () => {
  assert.ok(generatedNameBits() >= 32, `only ${generatedNameBits()} bits`);
  for (const [name, list] of Object.entries(wordLists)) {
    assert.equal(new Set(list).size, list.length, `${name} has duplicates`);
    for (const w of list) assert.match(w, /^[a-z]+$/, `${name}: ${w}`);
  }
});

test("generation is uniform over the source words (deterministic source)", () => {
  let x = 0;
  const seq = () => (x++ * 2654435761) >>> 0;
  const a = generateRoomName(seq);
  assert.match(a, /^([A-Z][a-z]+){5}$/);
});

test("typed names are cleaned like Jitsi's", () => {
  assert.equal(cleanRoomName("My Meeting!"), "MyMeeting");
  assert.equal(cleanRoomName("team/standup@x"), "teamstandupx");
  assert.equal(cleanRoomName("réunion-équipe"), "réunion-équipe");
  assert.equal(cleanRoomName("..."), "");
  assert.equal(cleanRoomName("ｆｕｌｌ"), "full");
});

test("room names from paths", () => {
  assert.equal(roomFromPath("/"), "");
  assert.equal(roomFromPath("/SomeRoom"), "SomeRoom");
  assert.equal(roomFromPath("/r%C3%A9union"), "réunion");
  assert.equal(isValidRoomName(roomFromPath("/%E0%A4%A")), false);
  assert.equal(isValidRoomName("a b"), false);
  assert.equal(isValidRoomName("x@y"), false);
  assert.equal(roomNode("SomeRoom"), "someroom");
});
