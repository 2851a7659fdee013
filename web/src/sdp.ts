// SDP as text, in one place: the browser's SDP read into m-sections
// (sections, and parseSDP for the Jingle translation in jingle.ts), cut
// into lines and joined again (splitSDP, joinSDP), and the edits the media
// session makes to the focus's offer and the browser's answer: simulcast
// SSRCs as lib-jitsi-meet adds them, one more m-line for a screen share or a
// bridge slot, Firefox's decoy m-lines, keeping our SSRCs across a
// renegotiation (session.ts).
//
// Line by line, not with a general SDP library (sdp-transform): the Jingle
// translation must give back the server's golden SDP byte for byte
// (internal/xmpp/jingle/testdata), which a parse-and-write library does not
// promise (it orders and normalises attributes its own way), and every edit
// here moves or adds whole a= lines, which a few functions over the lines do
// without the bundle carrying a grammar of every SDP attribute. parseSDP also
// bounds what it accepts (size, m-lines, control characters), since the
// answer it reads goes out to the server.
import type { SSRCGroup } from "./jingle";

/** A malformed SDP (parseSDP); jingle.ts reports it as a JingleError. */
export class SDPError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SDPError";
  }
}

const isSDPText = (s: string) => !/[\u0000-\u001f\u007f]/.test(s) && s.length <= 4096;

/** One m-section of an SDP as this module needs it. */
export interface Section {
  mid: string;
  kind: string;
  direction: string;
  ssrcs: number[]; // in order of first appearance
  groups: SSRCGroup[];
}

/** The m-sections of an SDP: mid, kind, direction, SSRCs and SSRC groups. */
export function sections(sdp: string): Section[] {
  const out: Section[] = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith("m=")) {
      out.push({ mid: "", kind: line.slice(2).split(" ")[0]!, direction: "sendrecv", ssrcs: [], groups: [] });
      continue;
    }
    const s = out[out.length - 1];
    if (!s || !line.startsWith("a=")) continue;
    const [key, value = ""] = splitAttr(line.slice(2));
    switch (key) {
      case "mid":
        s.mid = value;
        break;
      case "sendrecv":
      case "sendonly":
      case "recvonly":
      case "inactive":
        s.direction = key;
        break;
      case "ssrc": {
        const n = Number(value.split(" ")[0]);
        if (Number.isInteger(n) && n > 0 && !s.ssrcs.includes(n)) s.ssrcs.push(n);
        break;
      }
      case "ssrc-group": {
        const [semantics, ...rest] = value.split(" ");
        s.groups.push({ semantics: semantics!, ssrcs: rest.map(Number).filter((n) => Number.isInteger(n) && n > 0) });
        break;
      }
    }
  }
  return out;
}

function splitAttr(a: string): [string, string?] {
  const i = a.indexOf(":");
  return i < 0 ? [a] : [a.slice(0, i), a.slice(i + 1)];
}

/** The mids on which we send: the first sendrecv m-line of each kind in the (split) offer. */
export function sendingMids(offer: Section[]): { audio: string; video: string } {
  const first = (kind: string) => offer.find((s) => s.kind === kind && s.direction === "sendrecv")?.mid ?? "";
  return { audio: first("audio"), video: first("video") };
}

/** Slot SSRC by mid: the bridge's source that each receive-only m-line of the offer carries. */
export function slotsByMid(offer: Section[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of offer) if (s.ssrcs.length > 0) m.set(s.mid, primarySSRC(s));
  return m;
}

/** A section's primary SSRC: the first that is not the second member of an FID group. */
function primarySSRC(s: Section): number {
  const rtx = new Set(s.groups.filter((g) => g.semantics === "FID").map((g) => g.ssrcs[1]));
  return s.ssrcs.find((x) => !rtx.has(x)) ?? s.ssrcs[0]!;
}

export function randomSSRC(): number {
  const b = new Uint32Array(1);
  crypto.getRandomValues(b);
  return (b[0]! % 0xfffffffe) + 1;
}

/**
 * Adds simulcast to the video m-line `mid` of a browser's answer, as LJM
 * does for Chromium: the one SSRC (and its RTX partner) becomes `layers`
 * SSRCs in a SIM group, each with an FID partner, the same cname and msid.
 * Chromium then sends that many layers, lowest resolution first. An SDP
 * without a video SSRC on that mid, or with a SIM group already, comes back
 * unchanged.
 */
export function addSimulcast(sdp: string, mid: string, layers = 3, ssrc: () => number = randomSSRC): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  // Find the section holding a=mid:<mid>.
  let start = -1;
  let end = lines.length;
  for (let i = 0, cur = -1; i < lines.length; i++) {
    if (lines[i]!.startsWith("m=")) {
      if (start >= 0) {
        end = i;
        break;
      }
      cur = i;
    } else if (lines[i] === `a=mid:${mid}` && cur >= 0) start = cur;
  }
  if (start < 0) return sdp;
  const sec = lines.slice(start, end);
  if (sec.some((l) => l.startsWith("a=ssrc-group:SIM "))) return sdp;
  const parsed = sections(sec.join("\n"))[0]!;
  if (parsed.kind !== "video" || parsed.ssrcs.length === 0) return sdp;
  const primary = primarySSRC(parsed);
  const fid = parsed.groups.find((g) => g.semantics === "FID" && g.ssrcs[0] === primary);
  const attrsOf = (x: number) => sec.filter((l) => l.startsWith(`a=ssrc:${x} `)).map((l) => l.slice(`a=ssrc:${x} `.length));
  const taken = new Set(parsed.ssrcs);
  const fresh = () => {
    let x = ssrc();
    while (taken.has(x)) x = ssrc();
    taken.add(x);
    return x;
  };
  const sim = [primary];
  const pairs: [number, number][] = fid ? [[primary, fid.ssrcs[1]!]] : [];
  for (let i = 1; i < layers; i++) {
    const p = fresh();
    sim.push(p);
    if (fid) pairs.push([p, fresh()]);
  }
  const ssrcLines: string[] = [];
  for (const [i, p] of sim.entries()) {
    for (const a of attrsOf(primary)) ssrcLines.push(`a=ssrc:${p} ${a}`);
    const r = pairs[i]?.[1];
    if (r !== undefined) for (const a of attrsOf(fid!.ssrcs[1]!)) ssrcLines.push(`a=ssrc:${r} ${a}`);
  }
  const groupLines = [`a=ssrc-group:SIM ${sim.join(" ")}`, ...pairs.map(([p, r]) => `a=ssrc-group:FID ${p} ${r}`)];
  const rest = sec.filter((l) => !l.startsWith("a=ssrc:") && !l.startsWith("a=ssrc-group:"));
  // Keep a trailing empty line (the final CRLF) at the very end of the SDP.
  const tail = rest.length > 0 && rest[rest.length - 1] === "" ? rest.splice(rest.length - 1, 1) : [];
  const out = [...lines.slice(0, start), ...rest, ...groupLines, ...ssrcLines, ...tail, ...lines.slice(end)];
  return out.join(eol);
}

/** The lines of an SDP: the session part, and each m-section from its m= line (a final empty line dropped). */
export function splitSDP(sdp: string): { session: string[]; media: string[][] } {
  const lines = sdp.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  const session: string[] = [];
  const media: string[][] = [];
  for (const l of lines) {
    if (l.startsWith("m=")) media.push([l]);
    else if (media.length > 0) media[media.length - 1]!.push(l);
    else session.push(l);
  }
  return { session, media };
}

/** splitSDP's parts back into an SDP, CRLF after every line. */
export const joinSDP = (session: string[], media: string[][]): string => [...session, ...media.flat()].join("\r\n") + "\r\n";

/**
 * The focus's (split) offer with one more m-line of `kind` on which we send a
 * source the offer has no place for, as LJM adds a screen share: a copy of
 * the first sending m-line of that kind without its sources, recvonly on the
 * bridge's side, in the BUNDLE group; the o= line gets `version`. Only our
 * PeerConnection sees this offer: the bridge learns the source from
 * source-add and takes its packets on the BUNDLEd transport by SSRC.
 */
export function addSendSection(sdp: string, kind: "audio" | "video", mid: string, version: number): string {
  return addSection(sdp, kind, mid, version, "recvonly", []);
}

/**
 * The focus's (split) offer with one more m-line of `kind` on which the
 * bridge sends `ssrc` (with `rtx` as its RTX partner when not 0): a slot a
 * sources map named (§6.2). The focus offers only the bridge's feedback
 * sources, as Jicofo does for a client with SSRC rewriting (§5.5); the
 * slots come from the maps, each once, and keep their m-line for the
 * session. Like addSendSection, only our PeerConnection sees this offer.
 */
export function addRemoteSection(sdp: string, kind: "audio" | "video", mid: string, version: number, ssrc: number, rtx = 0): string {
  const msid = `remote-${kind}-${ssrc} remote-${kind}-${ssrc}`;
  const lines: string[] = [];
  if (rtx) lines.push(`a=ssrc-group:FID ${ssrc} ${rtx}`);
  for (const x of rtx ? [ssrc, rtx] : [ssrc]) lines.push(`a=ssrc:${x} cname:jvb`, `a=ssrc:${x} msid:${msid}`);
  return addSection(sdp, kind, mid, version, "sendonly", lines);
}

function addSection(sdp: string, kind: "audio" | "video", mid: string, version: number, direction: string, extra: string[]): string {
  const { session, media } = splitSDP(sdp);
  const isKind = (m: string[]) => m[0]!.startsWith(`m=${kind} `);
  const tmpl = media.find((m) => isKind(m) && m.includes("a=sendrecv")) ?? media.find(isKind);
  if (!tmpl) throw new Error(`the offer has no ${kind} m-line`);
  if (media.some((m) => m.includes(`a=mid:${mid}`))) throw new Error(`mid ${mid} is taken`);
  const drop = /^a=(ssrc|ssrc-group|mid|sendrecv|sendonly|recvonly|inactive|rid|simulcast|msid)(:|$)/;
  const added = [...tmpl.filter((l) => !drop.test(l)), `a=mid:${mid}`, `a=${direction}`, ...extra];
  const head = session.map((l) => {
    if (l.startsWith("o=")) {
      const f = l.split(" ");
      if (f.length >= 6) f[2] = String(version);
      return f.join(" ");
    }
    if (l.startsWith("a=group:BUNDLE")) return `${l} ${mid}`;
    return l;
  });
  return joinSDP(head, [...media, added]);
}

/** The mids of the decoy m-lines (addDecoys). */
export const decoyMids = ["decoy-a", "decoy-v"];

/**
 * The focus's (split) offer with one more audio and one more video m-line
 * that carry no sources. Firefox hands a packet whose SSRC no m-line
 * signals to the one m-line whose payload type it carries, and keeps it
 * there: the first slot audio the bridge forwarded before its sources map
 * had given it an m-line ended on the bridge's feedback line and was never
 * heard. With two m-lines per payload type none is unique, so such packets
 * wait (dropped) for the m-line with their SSRC. Only our PeerConnection
 * sees this offer; the session-accept leaves these m-lines out.
 */
export function addDecoys(sdp: string): string {
  return addSection(addSection(sdp, "audio", decoyMids[0]!, 0, "sendonly", []), "video", decoyMids[1]!, 0, "sendonly", []);
}

/** sdp without the m-lines `mids` (and without them in the BUNDLE group). */
export function withoutSections(sdp: string, mids: string[]): string {
  const { session, media } = splitSDP(sdp);
  const keep = media.filter((m) => !mids.some((mid) => m.includes(`a=mid:${mid}`)));
  const head = session.map((l) => (l.startsWith("a=group:BUNDLE") ? l.split(" ").filter((w) => !mids.includes(w)).join(" ") : l));
  return joinSDP(head, keep);
}

/** Whether this browser needs addDecoys (Firefox's payload-type demultiplexing). */
export function needsDecoys(userAgent: string): boolean {
  return /Firefox\//.test(userAgent);
}

/**
 * A new local answer with the SSRC lines of the m-line `mid` taken from the
 * previous one: the SIM group added by addSimulcast is not Chromium's own,
 * and a renegotiation must not change what the focus was told we send.
 */
export function keepSSRCs(sdp: string, prev: string, mid: string): string {
  const next = splitSDP(sdp);
  const old = splitSDP(prev).media.find((m) => m.includes(`a=mid:${mid}`));
  const i = next.media.findIndex((m) => m.includes(`a=mid:${mid}`));
  if (!old || i < 0) return sdp;
  const isSSRC = (l: string) => l.startsWith("a=ssrc:") || l.startsWith("a=ssrc-group:");
  const oldSSRC = old.filter(isSSRC);
  if (oldSSRC.length === 0) return sdp;
  next.media[i] = [...next.media[i]!.filter((l) => !isSSRC(l)), ...oldSSRC];
  return joinSDP(next.session, next.media);
}

export interface SDPAttr {
  key: string;
  value: string | null; // null for a property attribute (a=rtcp-mux)
}
export interface SDPMedia {
  kind: string;
  port: number;
  formats: string[];
  attrs: SDPAttr[];
}

/**
 * Reads an SDP into session attributes and m-sections for the Jingle
 * translation (jingle.ts fromSDP); rejects what is not SDP: a line that is
 * not "x=…", control characters, over 256 KiB, over maxSections m-lines.
 */
export function parseSDP(text: string, maxSections: number): { session: SDPAttr[]; media: SDPMedia[] } {
  if (text.length > 256 * 1024) throw new SDPError("SDP too large");
  const session: SDPAttr[] = [];
  const media: SDPMedia[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw === "") continue;
    if (!/^[a-z]=/.test(raw) || !isSDPText(raw)) throw new SDPError("malformed SDP line");
    const type = raw[0];
    const body = raw.slice(2);
    if (type === "m") {
      const f = body.split(" ");
      if (f.length < 3) throw new SDPError("malformed m-line");
      media.push({ kind: f[0]!, port: Number(f[1]!.split("/")[0]), formats: f.slice(3).filter((x) => x !== ""), attrs: [] });
    } else if (type === "a") {
      const i = body.indexOf(":");
      const a = i < 0 ? { key: body, value: null } : { key: body.slice(0, i), value: body.slice(i + 1) };
      (media.length ? media[media.length - 1]!.attrs : session).push(a);
    }
  }
  if (media.length > maxSections) throw new SDPError("too many m-lines");
  return { session, media };
}
