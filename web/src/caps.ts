// What this client tells the focus it can do, in answer to the focus's
// disco#info (jitsi-dialect.md §5.1). The focus builds the Jingle offer from
// it: RTX, transport-wide congestion control feedback (so the bridge can
// estimate this browser's bandwidth and send it only what its link carries),
// source names and SSRC rewriting, and RED audio where the browser decodes it
// (the bridge then repeats earlier audio packets when this browser's link
// loses packets). No dtls-sctp: the bridge channel is the WebSocket.

import { xml, type Element } from "@xmpp/xml";
import { NS } from "./muc";

export const clientFeatures: readonly string[] = [
  "urn:xmpp:jingle:1",
  "urn:xmpp:jingle:apps:rtp:1",
  "urn:xmpp:jingle:apps:rtp:audio",
  "urn:xmpp:jingle:apps:rtp:video",
  "urn:xmpp:jingle:transports:ice-udp:1",
  "urn:xmpp:jingle:apps:dtls:0",
  "urn:ietf:rfc:4588",
  "urn:ietf:rfc:5761",
  "urn:ietf:rfc:5888",
  "http://jitsi.org/tcc",
  "http://jitsi.org/source-name",
  "http://jitsi.org/ssrc-rewriting-1",
  "http://jitsi.org/receive-multiple-video-streams",
];

export const featureRED = "http://jitsi.org/opus-red";

/** Whether this browser can receive RED audio (RFC 2198): Chromium and Safari can. */
export function browserDecodesRED(): boolean {
  try {
    const caps = globalThis.RTCRtpReceiver?.getCapabilities?.("audio");
    return !!caps?.codecs.some((c) => c.mimeType.toLowerCase() === "audio/red");
  } catch {
    return false;
  }
}

/** The disco#info result payload listing clientFeatures (and opus-red when red is true). */
export function discoInfoResult(red = browserDecodesRED()): Element {
  const features = red ? [...clientFeatures, featureRED] : clientFeatures;
  return xml(
    "query",
    { xmlns: NS.discoInfo },
    xml("identity", { category: "client", type: "web", name: "Parley" }),
    ...features.map((f) => xml("feature", { var: f })),
  );
}
