import { test } from "node:test";
import assert from "node:assert/strict";
import { xml } from "@xmpp/xml";
import { iceServersFrom, NS_EXTDISCO, NS_REGION, regionFromSearch, servicesRequest } from "../src/extdisco";

test("the request asks the domain for extdisco:2 services", () => {
  const r = servicesRequest("meet.example");
  assert.equal(r.attrs.to, "meet.example");
  assert.equal(r.attrs.type, "get");
  assert.ok(r.getChild("services", NS_EXTDISCO));
});

test("services become RTCIceServers", () => {
  const res = xml(
    "iq",
    { type: "result" },
    xml(
      "services",
      { xmlns: NS_EXTDISCO },
      xml("service", { type: "stun", host: "turn.example", port: "3478", transport: "udp" }),
      xml("service", { type: "turn", host: "turn.example", port: "3478", transport: "udp", username: "1767312000:a@b", password: "pw=" }),
      xml("service", { type: "turn", host: "2001:db8::1", port: "3478", transport: "tcp", username: "u", password: "p" }),
      xml("service", { type: "turns", host: "turn.example", port: "443", transport: "tcp", username: "u", password: "p" }),
      xml("service", { type: "ftp", host: "x", port: "21" }),
      xml("service", { type: "turn", host: "bad host", port: "3478" }),
      xml("service", { type: "turn", host: "x", port: "70000" }),
    ),
  );
  assert.deepEqual(iceServersFrom(res), [
    { urls: "stun:turn.example:3478" },
    { urls: "turn:turn.example:3478", username: "1767312000:a@b", credential: "pw=" },
    { urls: "turn:[2001:db8::1]:3478?transport=tcp", username: "u", credential: "p" },
    { urls: "turns:turn.example:443?transport=tcp", username: "u", credential: "p" },
  ]);
  assert.deepEqual(iceServersFrom(xml("iq", { type: "result" })), []);
});

test("the meeting URL's ?region= goes into the request as Parley's region hint", () => {
  const r = servicesRequest("meet.example", "eu-west");
  assert.equal(r.getChild("services", NS_EXTDISCO)?.getChildText("region", NS_REGION), "eu-west");
  assert.equal(servicesRequest("meet.example").getChild("services", NS_EXTDISCO)?.getChild("region", NS_REGION), undefined);
});

test("?region= is a region only when it is a region name", () => {
  assert.equal(regionFromSearch("?region=eu"), "eu");
  assert.equal(regionFromSearch("?jwt=x&region=us-east_1.a"), "us-east_1.a");
  for (const bad of ["", "?region=", "?region=e%20u", "?region=%3Ceu%3E", "?region=" + "a".repeat(65), "?other=eu"]) {
    assert.equal(regionFromSearch(bad), undefined, bad);
  }
});
