// Jingle (XEP-0166 in Jitsi's dialect, protocol/jitsi-dialect.md §5, §7.2) to SDP, the way
// lib-jitsi-meet reads the focus's offer, so a browser PeerConnection can take it. The same
// translation as internal/xmpp/jingle (ToSDP), checked against its golden files
// (internal/xmpp/jingle/testdata, see test/jingle.test.ts): the server and the client share one
// reading of every message.
//
//   session-initiate ─► parseJingle ─► toSDP({ split: true }) = remote offer (one m-line per source)
//   transport-info, source-add ─► parseJingle ─► toSDP() = fragments (candidates, new sources)
//
//   browser answer ─► fromSDP({ responder: true, byKind: true }) ─► toElement = session-accept
//   (toElement writes sources inline; the compact json-message form is only read)
// Every value written is checked: no control character can reach an SDP line.
import { xml, type Element } from "@xmpp/xml";
import { parseSDP, SDPError, type SDPAttr, type SDPMedia } from "./sdp";

export const NSJ = {
  jingle: "urn:xmpp:jingle:1",
  rtp: "urn:xmpp:jingle:apps:rtp:1",
  rtcpfb: "urn:xmpp:jingle:apps:rtp:rtcp-fb:0",
  hdrext: "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0",
  ssma: "urn:xmpp:jingle:apps:rtp:ssma:0",
  ice: "urn:xmpp:jingle:transports:ice-udp:1",
  dtls: "urn:xmpp:jingle:apps:dtls:0",
  sctp: "urn:xmpp:jingle:transports:dtls-sctp:1",
  group: "urn:xmpp:jingle:apps:grouping:0",
  colibri: "http://jitsi.org/protocol/colibri",
  focus: "http://jitsi.org/protocol/focus",
  jitmeet: "http://jitsi.org/jitmeet",
  startMuted: "http://jitsi.org/jitmeet/start-muted",
} as const;

export interface Param {
  name: string;
  value: string;
}
export interface Feedback {
  type: string;
  subtype: string;
}
export interface PayloadType {
  id: number;
  name: string;
  clockrate: number;
  channels: number; // 0 when absent
  params: Param[];
  feedback: Feedback[];
}
export interface HdrExt {
  id: number;
  uri: string;
  senders: string;
}
export interface Source {
  ssrc: number;
  rid: string;
  name: string;
  videoType: string;
  msid: string;
  owner: string;
  params: Param[];
}
export interface SSRCGroup {
  semantics: string;
  ssrcs: number[];
}
export interface RIDGroup {
  semantics: string;
  rids: string[];
}
export interface Description {
  media: string;
  maxptime: number;
  payloadTypes: PayloadType[];
  feedback: Feedback[];
  hdrexts: HdrExt[];
  extmapAllowMixed: boolean;
  rtcpMux: boolean;
  sources: Source[];
  ssrcGroups: SSRCGroup[];
  ridGroups: RIDGroup[];
}
export interface Fingerprint {
  hash: string;
  setup: string;
  value: string;
  required: boolean;
  cryptex: boolean;
}
export interface Candidate {
  component: number;
  foundation: string;
  generation: number;
  id: string;
  network: number;
  priority: number;
  protocol: string;
  type: string;
  ip: string;
  port: number;
  relAddr: string;
  relPort: number;
  tcptype: string;
}
export interface Transport {
  ufrag: string;
  pwd: string;
  iceGeneration: number;
  rtcpMux: boolean;
  fingerprints: Fingerprint[];
  candidates: Candidate[];
  sctp: { number: number; protocol: string; streams: number } | null;
  webSockets: string[];
}
export interface Content {
  creator: string;
  name: string;
  senders: string;
  description: Description | null;
  transport: Transport | null;
}
export interface Jingle {
  action: string;
  sid: string;
  initiator: string;
  responder: string;
  contents: Content[];
  groups: { semantics: string; contents: string[] }[];
  bridgeSession: { id: string; region: string } | null;
  startMuted: { audio: boolean; video: boolean } | null;
}

/** Header extensions we keep (as the server does); others are dropped. */
export const knownHdrExts = new Set([
  "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
  "urn:ietf:params:rtp-hdrext:toffset",
  "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
  "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
  "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
  "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
  "http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
  "http://tools.ietf.org/html/draft-ietf-avtext-framemarking-07",
  "urn:ietf:params:rtp-hdrext:sdes:mid",
  "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension",
  "http://www.webrtc.org/experiments/rtp-hdrext/video-layers-allocation00",
  "urn:3gpp:video-orientation",
  "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
  "http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
  "http://www.webrtc.org/experiments/rtp-hdrext/color-space",
  "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
]);

export class JingleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JingleError";
  }
}

const MAX_SOURCES = 512;
// An answer to the focus's split offer has an m-line per bridge slot (Go: jingle.OfferLimits).
const MAX_MEDIA_SECTIONS = 1100;

function int(el: Element, name: string, min: number, max: number, def = 0): number {
  const v = el.attrs[name];
  if (v === undefined) return def;
  if (!/^\d{1,10}$/.test(v)) throw new JingleError(`${el.name}: bad ${name}`);
  const n = Number(v);
  if (n < min || n > max) throw new JingleError(`${el.name}: ${name} out of range`);
  return n;
}

const attr = (el: Element, name: string) => el.attrs[name] ?? "";
const children = (el: Element, name: string, ns?: string) => el.getChildElements().filter((c) => c.name === name && (ns === undefined || c.attrs.xmlns === ns));

/** Reads a <jingle/> element (or an IQ holding one). */
export function parseJingle(el: Element): Jingle {
  if (el.name === "iq") {
    const j = el.getChild("jingle", NSJ.jingle);
    if (!j) throw new JingleError("no jingle element");
    el = j;
  }
  if (!el.is("jingle", NSJ.jingle)) throw new JingleError("not a jingle element");
  const j: Jingle = {
    action: attr(el, "action"),
    sid: attr(el, "sid"),
    initiator: attr(el, "initiator"),
    responder: attr(el, "responder"),
    contents: [],
    groups: [],
    bridgeSession: null,
    startMuted: null,
  };
  let json: string | null = null;
  for (const c of el.getChildElements()) {
    const ns = c.attrs.xmlns;
    if (c.name === "content" && (ns === undefined || ns === NSJ.jingle)) j.contents.push(parseContent(c));
    else if (c.name === "group" && ns === NSJ.group) {
      j.groups.push({ semantics: attr(c, "semantics") || attr(c, "type"), contents: children(c, "content").map((x) => attr(x, "name")) });
    } else if (c.name === "bridge-session" && ns === NSJ.focus) j.bridgeSession = { id: attr(c, "id"), region: attr(c, "region") };
    else if (c.name === "startmuted" && ns === NSJ.startMuted) j.startMuted = { audio: c.attrs.audio === "true", video: c.attrs.video === "true" };
    else if (c.name === "json-message" && ns === NSJ.jitmeet) json = c.getText();
  }
  if (j.contents.length > 64) throw new JingleError("too many contents");
  if (json !== null) expandJSONSources(j, json);
  return j;
}

function parseContent(el: Element): Content {
  const c: Content = { creator: attr(el, "creator"), name: attr(el, "name"), senders: attr(el, "senders"), description: null, transport: null };
  for (const ch of el.getChildElements()) {
    if (ch.name === "description" && ch.attrs.xmlns === NSJ.rtp) c.description = parseDescription(ch);
    else if (ch.name === "transport" && ch.attrs.xmlns === NSJ.ice) c.transport = parseTransport(ch);
  }
  return c;
}

function emptyDescription(media: string): Description {
  return { media, maxptime: 0, payloadTypes: [], feedback: [], hdrexts: [], extmapAllowMixed: false, rtcpMux: false, sources: [], ssrcGroups: [], ridGroups: [] };
}

function parseDescription(el: Element): Description {
  const d = emptyDescription(attr(el, "media"));
  d.maxptime = int(el, "maxptime", 1, 10000);
  for (const ch of el.getChildElements()) {
    const ns = ch.attrs.xmlns;
    if (ch.name === "payload-type" && (ns === undefined || ns === NSJ.rtp)) d.payloadTypes.push(parsePayloadType(ch));
    else if (ch.name === "rtcp-fb" && ns === NSJ.rtcpfb) d.feedback.push({ type: attr(ch, "type"), subtype: attr(ch, "subtype") });
    else if (ch.name === "rtp-hdrext" && ns === NSJ.hdrext) {
      const id = int(ch, "id", 1, 255);
      if (knownHdrExts.has(attr(ch, "uri"))) d.hdrexts.push({ id, uri: attr(ch, "uri"), senders: attr(ch, "senders") });
    } else if (ch.name === "extmap-allow-mixed" && ns === NSJ.hdrext) d.extmapAllowMixed = true;
    else if (ch.name === "rtcp-mux") d.rtcpMux = true;
    else if (ch.name === "source" && ns === NSJ.ssma) d.sources.push(parseSource(ch));
    else if (ch.name === "ssrc-group" && ns === NSJ.ssma) {
      d.ssrcGroups.push({ semantics: attr(ch, "semantics"), ssrcs: children(ch, "source").map((s) => int(s, "ssrc", 0, 0xffffffff)) });
    } else if (ch.name === "rid-group" && ns === NSJ.ssma) {
      d.ridGroups.push({ semantics: attr(ch, "semantics"), rids: children(ch, "source").map((s) => attr(s, "rid")) });
    }
  }
  if (d.sources.length > MAX_SOURCES) throw new JingleError("too many sources");
  return d;
}

function parsePayloadType(el: Element): PayloadType {
  const pt: PayloadType = { id: int(el, "id", 0, 127), name: attr(el, "name"), clockrate: int(el, "clockrate", 1, 2 ** 31 - 1), channels: int(el, "channels", 1, 255), params: [], feedback: [] };
  for (const ch of el.getChildElements()) {
    if (ch.name === "parameter" && (ch.attrs.xmlns === undefined || ch.attrs.xmlns === NSJ.rtp)) pt.params.push({ name: attr(ch, "name"), value: attr(ch, "value") });
    else if (ch.name === "rtcp-fb" && ch.attrs.xmlns === NSJ.rtcpfb) pt.feedback.push({ type: attr(ch, "type"), subtype: attr(ch, "subtype") });
  }
  return pt;
}

function parseSource(el: Element): Source {
  const s: Source = { ssrc: 0, rid: attr(el, "rid"), name: attr(el, "name"), videoType: attr(el, "videoType"), msid: "", owner: "", params: [] };
  if (el.attrs.ssrc !== undefined || !s.rid) s.ssrc = int(el, "ssrc", 0, 0xffffffff);
  for (const ch of el.getChildElements()) {
    if (ch.name === "parameter") {
      const name = attr(ch, "name");
      if (name === "msid" && !s.msid) s.msid = attr(ch, "value");
      else s.params.push({ name, value: attr(ch, "value") });
    } else if (ch.name === "ssrc-info" && ch.attrs.xmlns === NSJ.jitmeet) s.owner = attr(ch, "owner");
  }
  return s;
}

function parseTransport(el: Element): Transport {
  const t: Transport = { ufrag: attr(el, "ufrag"), pwd: attr(el, "pwd"), iceGeneration: int(el, "ice-generation", 0, 65536), rtcpMux: false, fingerprints: [], candidates: [], sctp: null, webSockets: [] };
  for (const ch of el.getChildElements()) {
    const ns = ch.attrs.xmlns;
    if (ch.name === "rtcp-mux") t.rtcpMux = true;
    else if (ch.name === "fingerprint" && ns === NSJ.dtls) {
      t.fingerprints.push({ hash: attr(ch, "hash"), setup: attr(ch, "setup"), value: ch.getText(), required: ch.attrs.required === "true", cryptex: ch.attrs.cryptex === "true" });
    } else if (ch.name === "candidate" && (ns === undefined || ns === NSJ.ice)) t.candidates.push(parseCandidate(ch));
    else if (ch.name === "sctpmap" && ns === NSJ.sctp) t.sctp = { number: int(ch, "number", 0, 65535), protocol: attr(ch, "protocol"), streams: int(ch, "streams", 0, 65535) };
    else if (ch.name === "web-socket" && ns === NSJ.colibri) t.webSockets.push(attr(ch, "url"));
  }
  return t;
}

function parseCandidate(el: Element): Candidate {
  const c: Candidate = {
    component: int(el, "component", 1, 256),
    foundation: attr(el, "foundation"),
    generation: int(el, "generation", 0, 65536),
    id: attr(el, "id"),
    network: int(el, "network", 0, 65536),
    priority: int(el, "priority", 0, 0xffffffff),
    protocol: attr(el, "protocol"),
    type: attr(el, "type"),
    ip: attr(el, "ip"),
    port: int(el, "port", 0, 65535),
    relAddr: attr(el, "rel-addr"),
    relPort: int(el, "rel-port", 0, 65535),
    tcptype: attr(el, "tcptype"),
  };
  if (!c.relAddr) c.relPort = 0;
  return c;
}

/** The compact source form (§5.3): {"sources":{owner:[videoSources,videoGroups,audioSources,audioGroups]}}. */
function expandJSONSources(j: Jingle, text: string) {
  let msg: { sources?: Record<string, unknown[]> };
  try {
    msg = JSON.parse(text);
  } catch {
    throw new JingleError("json-message: not JSON");
  }
  const owners = Object.keys(msg.sources ?? {}).sort();
  for (const owner of owners) {
    const lists = msg.sources![owner]!;
    if (!Array.isArray(lists) || lists.length > 4) throw new JingleError("json-message: bad source lists");
    lists.forEach((list, i) => {
      if (!Array.isArray(list)) throw new JingleError("json-message: bad list");
      if (list.length === 0) return;
      const d = descriptionFor(j, i >= 2 ? "audio" : "video");
      if (i % 2 === 0) {
        for (const s of list as { s: number; n?: string; m?: string; v?: string }[]) {
          if (typeof s?.s !== "number") throw new JingleError("json-message: bad source");
          if (s.v !== undefined && s.v !== "d") throw new JingleError("json-message: bad video type");
          d.sources.push({ ssrc: s.s, rid: "", name: s.n ?? "", videoType: s.v === "d" ? "desktop" : "", msid: s.m ?? "", owner, params: [] });
        }
      } else {
        for (const g of list as unknown[][]) {
          if (!Array.isArray(g) || g.length < 2 || (g[0] !== "s" && g[0] !== "f")) throw new JingleError("json-message: bad group");
          d.ssrcGroups.push({ semantics: g[0] === "s" ? "SIM" : "FID", ssrcs: g.slice(1).map(Number) });
        }
      }
      if (d.sources.length > MAX_SOURCES) throw new JingleError("too many sources");
    });
  }
}

function descriptionFor(j: Jingle, media: string): Description {
  let c = j.contents.find((x) => kindOf(x) === media);
  if (!c) {
    c = { creator: "", name: media, senders: "", description: null, transport: null };
    j.contents.push(c);
  }
  c.description ??= emptyDescription(media);
  return c.description;
}

/** The media kind of a content: description media, "application" for data, or its name. */
export function kindOf(c: Content): string {
  if (c.description?.media) return c.description.media;
  if (c.transport?.sctp || c.name === "data") return "application";
  if (c.name === "audio" || c.name === "video") return c.name;
  return "";
}

export interface SDPOptions {
  /** The SDP is the responder's (an answer); decides how senders map to directions. */
  responder?: boolean;
  /** One m-line per remote source track, mids renumbered 0, 1, … (LJM with the focus's offer). */
  split?: boolean;
  sessionId?: number;
  sessionVersion?: number;
}

function direction(senders: string, responder: boolean): string {
  switch (senders) {
    case "both":
      return "sendrecv";
    case "none":
      return "inactive";
    case "initiator":
      return responder ? "recvonly" : "sendonly";
    case "responder":
      return responder ? "sendonly" : "recvonly";
  }
  return "";
}

/** The a=candidate value (without "candidate:"). */
export function candidateSDP(c: Candidate): string {
  let s = `${c.foundation} ${c.component} ${c.protocol.toLowerCase()} ${c.priority} ${c.ip} ${c.port} typ ${c.type}`;
  if (c.relAddr) s += ` raddr ${c.relAddr} rport ${c.relPort}`;
  if (c.tcptype) s += ` tcptype ${c.tcptype}`;
  s += ` generation ${c.generation}`;
  if (c.network) s += ` network-id ${c.network}`;
  return s;
}

const isText = (s: string) => !/[\u0000-\u001f\u007f]/.test(s) && s.length <= 4096;
const isToken = (s: string) => s.length > 0 && s.length <= 4096 && /^[\u0021-\u007e]+$/.test(s);

interface Track {
  sources: Source[];
  groups: SSRCGroup[];
}

/** Sources sharing a name (else msid) or an SSRC group form one track; the bridge's mixedmslabel track first. */
function tracks(d: Description): Track[] {
  const parent = d.sources.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) {
      if (ra < rb) parent[rb] = ra;
      else parent[ra] = rb;
    }
  };
  const byKey = new Map<string, number>();
  const bySSRC = new Map<number, number>();
  d.sources.forEach((s, i) => {
    bySSRC.set(s.ssrc, i);
    if (!s.name && !s.msid) return;
    const key = s.name || "msid " + s.msid;
    const j = byKey.get(key);
    if (j !== undefined) union(i, j);
    else byKey.set(key, i);
  });
  for (const g of d.ssrcGroups) {
    const first = bySSRC.get(g.ssrcs[0]!);
    for (const s of g.ssrcs.slice(1)) {
      const other = bySSRC.get(s);
      if (first !== undefined && other !== undefined) union(first, other);
    }
  }
  const index = new Map<number, number>();
  let out: Track[] = [];
  d.sources.forEach((s, i) => {
    if (s.rid) return;
    const r = find(i);
    let k = index.get(r);
    if (k === undefined) {
      k = out.length;
      index.set(r, k);
      out.push({ sources: [], groups: [] });
    }
    out[k]!.sources.push(s);
  });
  for (const g of d.ssrcGroups) {
    const first = bySSRC.get(g.ssrcs[0]!);
    const k = first === undefined ? undefined : index.get(find(first));
    if (k !== undefined) out[k]!.groups.push(g);
  }
  const mixed = out.findIndex((t, k) => k > 0 && t.sources[0]!.msid.startsWith("mixedmslabel"));
  if (mixed > 0) out = [out[mixed]!, ...out.slice(0, mixed), ...out.slice(mixed + 1)];
  if (out.length === 0) out.push({ sources: [], groups: [] });
  out[0]!.sources.push(...d.sources.filter((s) => s.rid));
  return out;
}

/** Renders j as an SDP session description (CRLF lines), as internal/xmpp/jingle.ToSDP does. */
export function toSDP(j: Jingle, opt: SDPOptions = {}): string {
  const responder = !!opt.responder;
  let nextMid = 0;
  let cryptex = false;
  const mid = () => String(nextMid++);
  const sections: { mid: string; content: string; lines: string[]; rtp: boolean }[] = [];

  const section = (c: Content, midValue: string, senders: string, d: Description | null) => {
    const kind = kindOf(c) || "audio";
    const data = kind === "application";
    const t = c.transport;
    const port = senders === "rejected" ? 0 : 9;
    const formats = data ? ["webrtc-datachannel"] : (d?.payloadTypes ?? []).map((p) => String(p.id));
    const lines = [`m=${kind} ${port} ${data ? "UDP/DTLS/SCTP" : "UDP/TLS/RTP/SAVPF"} ${formats.join(" ")}`, "c=IN IP4 0.0.0.0"];
    const a = (k: string, v?: string) => {
      if (!isToken(k) || (v !== undefined && !isText(v))) throw new JingleError("value not allowed in SDP");
      lines.push(v === undefined ? `a=${k}` : `a=${k}:${v}`);
    };
    if (t) {
      if (t.ufrag) a("ice-ufrag", t.ufrag);
      if (t.pwd) a("ice-pwd", t.pwd);
      for (const f of t.fingerprints) {
        a("fingerprint", `${f.hash} ${f.value}`);
        cryptex ||= f.cryptex;
      }
      if (t.fingerprints[0]?.setup) a("setup", t.fingerprints[0].setup);
    }
    a("mid", midValue);
    if (d && !data) {
      for (const h of d.hdrexts) a("extmap", `${h.id}${h.senders ? "/" + direction(h.senders, responder) : ""} ${h.uri}`);
      if (d.extmapAllowMixed) a("extmap-allow-mixed");
    }
    const dir = direction(senders, responder);
    if (dir && senders !== "rejected") a(dir);
    if (!data && (d?.rtcpMux || t?.rtcpMux)) a("rtcp-mux");
    if (d && !data) {
      for (const pt of d.payloadTypes) {
        if (!isToken(pt.name)) throw new JingleError("bad payload type name");
        a("rtpmap", `${pt.id} ${pt.name}/${pt.clockrate}${pt.channels > 1 ? "/" + pt.channels : ""}`);
        if (pt.params.length > 0) {
          a("fmtp", `${pt.id} ${pt.params.map((p) => (p.name ? `${p.name}=${p.value}` : p.value)).join(";").replace(/;+$/, "")}`);
        }
        for (const fb of pt.feedback) a("rtcp-fb", `${pt.id} ${fb.subtype ? `${fb.type} ${fb.subtype}` : fb.type}`);
      }
      for (const fb of d.feedback) a("rtcp-fb", `* ${fb.subtype ? `${fb.type} ${fb.subtype}` : fb.type}`);
      if (d.maxptime) a("maxptime", String(d.maxptime));
      for (const g of d.ssrcGroups) a("ssrc-group", [g.semantics, ...g.ssrcs].join(" "));
      const rids: string[] = [];
      for (const s of d.sources) {
        if (s.rid) {
          rids.push(s.rid);
          continue;
        }
        const before = lines.length;
        if (s.msid) a("ssrc", `${s.ssrc} msid:${s.msid}`);
        if (s.name) a("ssrc", `${s.ssrc} name:${s.name}`);
        if (s.videoType) a("ssrc", `${s.ssrc} videoType:${s.videoType}`);
        for (const p of s.params) a("ssrc", `${s.ssrc} ${p.name}:${p.value}`);
        if (lines.length === before) a("ssrc", `${s.ssrc} cname:-`);
      }
      for (const r of rids) a("rid", `${r} send`);
      for (const g of d.ridGroups) a("simulcast", `send ${g.rids.join(";")}`);
    }
    if (t) {
      for (const cand of t.candidates) a("candidate", candidateSDP(cand));
      if (data && t.sctp) {
        a("sctp-port", String(t.sctp.number));
        a("max-message-size", "262144");
      }
    }
    sections.push({ mid: midValue, content: c.name, lines, rtp: !data });
  };

  for (const c of j.contents) {
    const d = c.description;
    if (!opt.split || !d || d.sources.length === 0) {
      section(c, opt.split ? mid() : c.name, c.senders, d);
      continue;
    }
    tracks(d).forEach((tr, i) => {
      const dd: Description = { ...d, sources: tr.sources, ssrcGroups: tr.groups, ridGroups: i === 0 ? d.ridGroups : [] };
      section(c, mid(), i === 0 ? c.senders : "initiator", dd);
    });
  }

  const bundled = new Set(j.groups.find((g) => g.semantics === "BUNDLE")?.contents ?? []);
  const bundleMids = sections.filter((s) => bundled.has(s.content)).map((s) => s.mid);
  const out = ["v=0", `o=- ${opt.sessionId ?? 0} ${opt.sessionVersion ?? 0} IN IP4 0.0.0.0`, "s=-", "t=0 0"];
  for (const g of j.groups) {
    let mids = g.contents;
    if (g.semantics === "BUNDLE") mids = bundleMids;
    else if (opt.split) continue; // other groups name contents whose mids were renumbered
    const v = [g.semantics, ...mids].join(" ");
    if (!isText(v)) throw new JingleError("value not allowed in SDP");
    out.push(`a=group:${v}`);
  }
  if (sections.some((s) => s.rtp)) out.push("a=msid-semantic:WMS *");
  if (cryptex) out.push("a=cryptex");
  for (const s of sections) out.push(...s.lines);
  return out.join("\r\n") + "\r\n";
}

// ---- SDP → Jingle (the browser's answer, new sources, trickled candidates) ----

export interface FromSDPOptions {
  responder?: boolean;
  /** Merge the m-lines of one kind into a content named audio, video or data (LJM towards the focus). */
  byKind?: boolean;
  /** The action of the result; default session-initiate, or session-accept when responder. */
  action?: string;
}

function cut(s: string, sep: string): [string, string, boolean] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, "", false] : [s.slice(0, i), s.slice(i + sep.length), true];
}

function sendersOf(dir: string, responder: boolean): string {
  for (const s of ["both", "none", "initiator", "responder"]) if (direction(s, responder) === dir) return s;
  return "";
}

/** Reads an SDP candidate ("candidate:…", with or without "a="). */
export function parseCandidateSDP(s: string): Candidate {
  s = s.replace(/^a=/, "").replace(/^candidate:/, "");
  const f = s.trim().split(/\s+/);
  if (s.length > 1024 || f.length < 8 || f[6] !== "typ" || f.length % 2 !== 0) throw new JingleError("malformed candidate");
  const num = (v: string, max: number) => {
    if (!/^\d{1,10}$/.test(v) || Number(v) > max) throw new JingleError("malformed candidate number");
    return Number(v);
  };
  const c: Candidate = {
    foundation: f[0]!,
    component: num(f[1]!, 256),
    protocol: f[2]!.toLowerCase(),
    priority: num(f[3]!, 0xffffffff),
    ip: f[4]!,
    port: num(f[5]!, 65535),
    type: f[7]!,
    generation: 0,
    id: "",
    network: 0,
    relAddr: "",
    relPort: 0,
    tcptype: "",
  };
  for (let i = 8; i + 1 < f.length; i += 2) {
    const v = f[i + 1]!;
    switch (f[i]) {
      case "raddr":
        c.relAddr = v;
        break;
      case "rport":
        c.relPort = num(v, 65535);
        break;
      case "tcptype":
        c.tcptype = v;
        break;
      case "generation":
        c.generation = num(v, 65536);
        break;
      case "network-id":
        c.network = num(v, 65536);
        break;
    }
  }
  if (!c.relAddr) c.relPort = 0;
  for (const v of [c.foundation, c.protocol, c.ip, c.type]) if (!isToken(v)) throw new JingleError("malformed candidate");
  return c;
}

/** Translates an SDP (the browser's answer or a fragment) to Jingle, as internal/xmpp/jingle.FromSDP does. */
export function fromSDP(text: string, opt: FromSDPOptions = {}): Jingle {
  const responder = !!opt.responder;
  let parsed: { session: SDPAttr[]; media: SDPMedia[] };
  try {
    parsed = parseSDP(text, MAX_MEDIA_SECTIONS);
  } catch (err) {
    throw err instanceof SDPError ? new JingleError(err.message) : err;
  }
  const { session, media } = parsed;
  const j: Jingle = {
    action: opt.action || (responder ? "session-accept" : "session-initiate"),
    sid: "",
    initiator: "",
    responder: "",
    contents: [],
    groups: [],
    bridgeSession: null,
    startMuted: null,
  };
  const attrOf = (m: SDPMedia, key: string): string | null => {
    const a = m.attrs.find((x) => x.key === key) ?? session.find((x) => x.key === key);
    return a ? (a.value ?? "") : null;
  };
  const midToContent = new Map<string, string>();
  media.forEach((m, i) => {
    const kind = m.kind;
    if (kind !== "audio" && kind !== "video" && kind !== "application") throw new JingleError(`m-line ${i}: unsupported media`);
    const midAttr = m.attrs.find((a) => a.key === "mid");
    const mid = midAttr ? (midAttr.value ?? "") : String(i);
    if (!isToken(mid) || mid.length > 64) throw new JingleError(`m-line ${i}: bad mid`);
    const name = opt.byKind ? (kind === "application" ? "data" : kind) : mid;
    midToContent.set(mid, name);
    const existing = j.contents.find((c) => c.name === name);
    if (existing) {
      if (!opt.byKind) throw new JingleError("a mid appears twice");
      if (kind !== "application") {
        const d = sdpDescription(m, true, responder, attrOf);
        if (d) {
          existing.description ??= emptyDescription(kind);
          existing.description.sources.push(...d.sources);
          existing.description.ssrcGroups.push(...d.ssrcGroups);
          existing.description.ridGroups.push(...d.ridGroups);
        }
      }
      return;
    }
    const c: Content = { creator: responder ? "responder" : "initiator", name, senders: sdpSenders(m, responder, attrOf), description: null, transport: null };
    if (kind === "application") {
      if (!responder) c.description = emptyDescription("application");
    } else {
      c.description = sdpDescription(m, false, responder, attrOf);
    }
    c.transport = sdpTransport(m, session, responder && opt.action === "transport-info", attrOf);
    if (c.transport && kind !== "application" && m.attrs.some((a) => a.key === "rtcp-mux")) c.transport.rtcpMux = true;
    j.contents.push(c);
  });
  for (const a of session) {
    if (a.key !== "group" || !a.value) continue;
    const f = a.value.split(/\s+/);
    if (f[0] !== "BUNDLE") continue;
    const names: string[] = [];
    for (const mid of f.slice(1)) {
      const name = midToContent.get(mid);
      if (name === undefined) throw new JingleError("BUNDLE names an unknown mid");
      if (!names.includes(name)) names.push(name);
    }
    j.groups.push({ semantics: "BUNDLE", contents: names });
  }
  return j;
}

function sdpSenders(m: SDPMedia, responder: boolean, attrOf: (m: SDPMedia, k: string) => string | null): string {
  if (m.port === 0 && attrOf(m, "bundle-only") === null) return "rejected";
  for (const a of m.attrs) {
    switch (a.key) {
      case "sendrecv":
        return "both";
      case "inactive":
        return "none";
      case "sendonly":
      case "recvonly":
        return (a.key === "sendonly") !== responder ? "initiator" : "responder";
    }
  }
  return "";
}

function sdpDescription(m: SDPMedia, sourcesOnly: boolean, responder: boolean, attrOf: (m: SDPMedia, k: string) => string | null): Description | null {
  const d = emptyDescription(m.kind);
  const ptIndex = new Map<number, number>();
  if (!sourcesOnly) {
    const rtpmaps = new Map<number, PayloadType>();
    for (const a of m.attrs) {
      if (a.key !== "rtpmap" || a.value === null) continue;
      const [id, enc] = cut(a.value, " ");
      const parts = enc.split("/");
      if (!/^\d{1,3}$/.test(id) || Number(id) > 127 || parts.length < 2 || parts.length > 3 || !/^\d+$/.test(parts[1]!) || Number(parts[1]) === 0) {
        throw new JingleError("bad rtpmap");
      }
      const channels = parts.length === 3 ? Number(parts[2]) : 0;
      if (parts.length === 3 && !(channels >= 1 && channels <= 255)) throw new JingleError("bad rtpmap channels");
      rtpmaps.set(Number(id), { id: Number(id), name: parts[0]!, clockrate: Number(parts[1]), channels: channels > 1 ? channels : 0, params: [], feedback: [] });
    }
    for (const f of m.formats) {
      const pt = rtpmaps.get(Number(f));
      if (pt && /^\d+$/.test(f)) {
        ptIndex.set(pt.id, d.payloadTypes.length);
        d.payloadTypes.push(pt);
      }
    }
  }
  const ssrcIndex = new Map<number, number>();
  const fb = (v: string): Feedback => {
    const f = v.trim().split(/\s+/);
    return { type: f[0] ?? "", subtype: f[1] ?? "" };
  };
  for (const a of m.attrs) {
    const v = a.value ?? "";
    switch (a.key) {
      case "fmtp":
      case "rtcp-fb": {
        if (sourcesOnly) break;
        const [id, rest] = cut(v, " ");
        if (a.key === "rtcp-fb" && id === "*") {
          d.feedback.push(fb(rest));
          break;
        }
        const k = /^\d+$/.test(id) ? ptIndex.get(Number(id)) : undefined;
        if (k === undefined) break;
        const pt = d.payloadTypes[k]!;
        if (a.key === "rtcp-fb") {
          pt.feedback.push(fb(rest));
          break;
        }
        for (let p of rest.split(";")) {
          p = p.trim();
          if (!p) continue;
          const [name, value, ok] = cut(p, "=");
          pt.params.push(ok ? { name, value } : { name: "", value: p });
        }
        break;
      }
      case "extmap": {
        if (sourcesOnly) break;
        const f = v.split(/\s+/);
        if (f.length < 2 || !knownHdrExts.has(f[1]!)) break;
        const [idStr, dir] = cut(f[0]!, "/");
        if (!/^\d{1,3}$/.test(idStr)) throw new JingleError("bad extmap id");
        const h: HdrExt = { id: Number(idStr), uri: f[1]!, senders: "" };
        if (dir) {
          h.senders = sendersOf(dir, responder);
          if (!h.senders) throw new JingleError("bad extmap direction");
        }
        d.hdrexts.push(h);
        break;
      }
      case "extmap-allow-mixed":
        d.extmapAllowMixed = true;
        break;
      case "rtcp-mux":
        d.rtcpMux = !sourcesOnly;
        break;
      case "maxptime":
        if (sourcesOnly) break;
        if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 10000) throw new JingleError("bad maxptime");
        d.maxptime = Number(v);
        break;
      case "ssrc": {
        const [id, rest] = cut(v, " ");
        if (!/^\d{1,10}$/.test(id) || Number(id) === 0 || Number(id) > 0xffffffff) throw new JingleError("bad ssrc");
        const n = Number(id);
        let k = ssrcIndex.get(n);
        if (k === undefined) {
          k = d.sources.length;
          ssrcIndex.set(n, k);
          d.sources.push({ ssrc: n, rid: "", name: "", videoType: "", msid: "", owner: "", params: [] });
        }
        const s = d.sources[k]!;
        const [attrName, value] = cut(rest, ":");
        if (attrName === "msid") s.msid = value;
        else if (attrName === "name") s.name = value;
        else if (attrName === "videoType") s.videoType = value;
        break;
      }
      case "ssrc-group": {
        const f = v.split(/\s+/);
        if (f.length < 2 || f.length > 17 || f.slice(1).some((x) => !/^\d{1,10}$/.test(x))) throw new JingleError("bad ssrc-group");
        d.ssrcGroups.push({ semantics: f[0]!, ssrcs: f.slice(1).map(Number) });
        break;
      }
      case "rid": {
        const f = v.split(/\s+/);
        if (f.length >= 2 && f[1] === "send") d.sources.push({ ssrc: 0, rid: f[0]!, name: "", videoType: "", msid: "", owner: "", params: [] });
        break;
      }
      case "simulcast": {
        const [dir, list] = cut(v, " ");
        if (dir !== "send" || d.ridGroups.length > 0) break;
        d.ridGroups.push({ semantics: "SIM", rids: list.split(";").map((alt) => cut(alt, ",")[0].replace(/^~/, "")) });
        break;
      }
    }
  }
  if (d.sources.length > MAX_SOURCES) throw new JingleError("too many sources");
  const msid = m.attrs.find((a) => a.key === "msid")?.value;
  if (msid) for (const s of d.sources) if (!s.msid && !s.rid) s.msid = msid;
  if (!sourcesOnly && attrOf(m, "extmap-allow-mixed") !== null) d.extmapAllowMixed = true;
  if (d.payloadTypes.length === 0 && d.sources.length === 0 && d.hdrexts.length === 0 && d.feedback.length === 0) return null;
  return d;
}

function sdpTransport(m: SDPMedia, session: SDPAttr[], required: boolean, attrOf: (m: SDPMedia, k: string) => string | null): Transport | null {
  const t: Transport = { ufrag: attrOf(m, "ice-ufrag") ?? "", pwd: attrOf(m, "ice-pwd") ?? "", iceGeneration: 0, rtcpMux: false, fingerprints: [], candidates: [], sctp: null, webSockets: [] };
  const setup = attrOf(m, "setup") ?? "";
  const cryptex = attrOf(m, "cryptex") !== null;
  const fps = m.attrs.some((a) => a.key === "fingerprint") ? m.attrs : session;
  for (const a of fps) {
    if (a.key !== "fingerprint" || a.value === null) continue;
    const [hash, value] = cut(a.value, " ");
    t.fingerprints.push({ hash: hash.toLowerCase(), setup, value, required, cryptex });
  }
  for (const a of m.attrs) {
    const v = a.value ?? "";
    if (a.key === "candidate") t.candidates.push(parseCandidateSDP(v));
    else if (a.key === "sctp-port") {
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new JingleError("bad sctp-port");
      t.sctp = { number: Number(v), protocol: "webrtc-datachannel", streams: 0 };
    } else if (a.key === "sctpmap" && !t.sctp) {
      const f = v.split(/\s+/);
      if (f.length < 2) continue;
      t.sctp = { number: Number(f[0]), protocol: f[1]!, streams: f.length > 2 ? Number(f[2]) : 0 };
      if (!Number.isInteger(t.sctp.number) || !Number.isInteger(t.sctp.streams)) throw new JingleError("bad sctpmap");
    }
  }
  if (!t.ufrag && !t.pwd && t.fingerprints.length === 0 && t.candidates.length === 0 && !t.sctp) return null;
  return t;
}

// ---- Jingle → XML (what the client sends: session-accept, source-add/-remove, transport-info) ----

/** The <jingle/> element for j, attributes in the server's order; empty attributes are left out. */
export function toElement(j: Jingle): Element {
  const A = (o: Record<string, string | number | undefined>) => {
    const out: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(o)) if (v !== "" && v !== undefined) out[k] = String(v);
    return out;
  };
  const fbs = (list: Feedback[]) => list.map((f) => xml("rtcp-fb", A({ xmlns: NSJ.rtcpfb, type: f.type, subtype: f.subtype })));
  const description = (d: Description) =>
    xml(
      "description",
      A({ xmlns: NSJ.rtp, media: d.media, maxptime: d.maxptime || undefined }),
      ...d.payloadTypes.map((pt) =>
        xml(
          "payload-type",
          A({ id: pt.id, name: pt.name, clockrate: pt.clockrate || undefined, channels: pt.channels || undefined }),
          ...pt.params.map((p) => xml("parameter", A({ name: p.name, value: p.value }))),
          ...fbs(pt.feedback),
        ),
      ),
      ...fbs(d.feedback),
      ...d.hdrexts.map((h) => xml("rtp-hdrext", A({ xmlns: NSJ.hdrext, id: h.id, uri: h.uri, senders: h.senders }))),
      d.extmapAllowMixed ? xml("extmap-allow-mixed", { xmlns: NSJ.hdrext }) : null,
      ...d.sources.map((s) =>
        xml(
          "source",
          A({ xmlns: NSJ.ssma, ...(s.rid ? { rid: s.rid } : { ssrc: s.ssrc }), name: s.name, videoType: s.videoType }),
          s.msid ? xml("parameter", { name: "msid", value: s.msid }) : null,
          ...s.params.map((p) => xml("parameter", A({ name: p.name, value: p.value }))),
          s.owner ? xml("ssrc-info", { xmlns: NSJ.jitmeet, owner: s.owner }) : null,
        ),
      ),
      ...d.ssrcGroups.map((g) => xml("ssrc-group", { xmlns: NSJ.ssma, semantics: g.semantics }, ...g.ssrcs.map((s) => xml("source", { ssrc: String(s) })))),
      ...d.ridGroups.map((g) => xml("rid-group", { xmlns: NSJ.ssma, semantics: g.semantics }, ...g.rids.map((r) => xml("source", { rid: r })))),
      d.rtcpMux ? xml("rtcp-mux") : null,
    );
  const transport = (t: Transport) =>
    xml(
      "transport",
      A({ xmlns: NSJ.ice, ufrag: t.ufrag, pwd: t.pwd, "ice-generation": t.iceGeneration || undefined }),
      t.rtcpMux ? xml("rtcp-mux") : null,
      ...t.fingerprints.map((f) =>
        xml("fingerprint", A({ xmlns: NSJ.dtls, hash: f.hash, setup: f.setup, required: f.required ? "true" : undefined, cryptex: f.cryptex ? "true" : undefined }), f.value),
      ),
      ...t.candidates.map((c) =>
        xml(
          "candidate",
          A({
            component: c.component,
            foundation: c.foundation,
            generation: c.generation,
            id: c.id,
            network: c.network,
            priority: c.priority,
            protocol: c.protocol,
            type: c.type,
            ip: c.ip,
            port: c.port,
            "rel-addr": c.relAddr,
            "rel-port": c.relAddr ? c.relPort : undefined,
            tcptype: c.tcptype,
          }),
        ),
      ),
      t.sctp ? xml("sctpmap", A({ xmlns: NSJ.sctp, number: t.sctp.number, protocol: t.sctp.protocol, streams: t.sctp.streams })) : null,
      ...t.webSockets.map((u) => xml("web-socket", { xmlns: NSJ.colibri, url: u })),
    );
  return xml(
    "jingle",
    A({ xmlns: NSJ.jingle, action: j.action, initiator: j.initiator, responder: j.responder, sid: j.sid }),
    ...j.contents.map((c) =>
      xml("content", A({ creator: c.creator, name: c.name, senders: c.senders }), c.description ? description(c.description) : null, c.transport ? transport(c.transport) : null),
    ),
    ...j.groups.map((g) => xml("group", { xmlns: NSJ.group, semantics: g.semantics }, ...g.contents.map((n) => xml("content", { name: n })))),
    j.bridgeSession ? xml("bridge-session", A({ xmlns: NSJ.focus, id: j.bridgeSession.id, region: j.bridgeSession.region })) : null,
    j.startMuted ? xml("startmuted", { xmlns: NSJ.startMuted, audio: String(j.startMuted.audio), video: String(j.startMuted.video) }) : null,
  );
}
