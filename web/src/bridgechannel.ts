// The bridge channel (protocol/jitsi-dialect.md §6): a WebSocket to the
// bridge whose URL the focus puts in the offer's transport. What the client
// uses of it:
//
//   open ─► ReceiverVideoConstraints (the bridge forwards no video before it),
//           SourceVideoTypeMessage for a screen share already running
//   tiles laid out again ─► ReceiverVideoConstraints: a maxHeight per source
//           from its tile's height (0 for a tile scrolled out of sight), the
//           stage's source in onStageSources, lastN = the videos the layout
//           shows
//   ForwardedSources ─► which videos the bridge sends us now (the others
//           show their owner's avatar)
//   EndpointStats ◄─► each endpoint's own connection summary (quality.ts)
//   VideoSourcesMap / AudioSourcesMap ─► slot SSRC → owner endpoint (§6.2)
//   DominantSpeakerEndpointChangeEvent ─► the active speaker
//
// The host in the focus's URL is the one the server calls itself; the page
// reaches the server by location.host, so the channel uses that.
import { Emitter } from "./emitter";
import { endpointStatsMessage, parseEndpointStats, type PeerStats } from "./quality";

export interface MappedSource {
  source: string;
  owner: string;
  ssrc: number;
  rtx: number;
  videoType: string;
}

export type BridgeMessage =
  | { kind: "sources"; media: "audio" | "video"; mapped: MappedSource[] }
  | { kind: "dominant"; endpoint: string; previous: string[]; silence: boolean }
  | { kind: "senderConstraints"; source: string; maxHeight: number }
  /** Another endpoint's EndpointMessage, relayed by the bridge with "from" (§6). */
  | { kind: "endpoint"; from: string; payload: Record<string, unknown> }
  /** The video sources the bridge forwards to us now (§6.2); a source missing from it is suspended or beyond lastN. */
  | { kind: "forwarded"; sources: string[] }
  /** Another endpoint's EndpointStats, relayed with "from", its values checked and clamped (quality.ts). */
  | { kind: "endpointStats"; from: string; stats: PeerStats }
  | { kind: "other"; colibriClass: string };

/**
 * The channel URL: the focus's URL with a secure scheme when the page has one, on the page's host when
 * the focus named the server by its XMPP domain (`domain`; any URL without it), as it does without a
 * public URL, which the browser may know by another name (127.0.0.1 for the domain localhost, a
 * proxy's port). A bridge node of a cluster, named by its own public URL, keeps its host.
 */
export function channelURL(raw: string, host: string, secure = true, domain?: string): string {
  const u = new URL(raw);
  if (domain === undefined || u.hostname === domain) u.host = host;
  u.protocol = secure ? "wss:" : "ws:";
  return u.toString();
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const u32 = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32 ? v : 0);

/** Longer messages are dropped unread: a sources map of 500 endpoints is under 100 KB. */
export const MAX_MESSAGE_LENGTH = 1 << 20;

/** Reads one message; null for what is not a colibri JSON object. */
export function parseBridgeMessage(text: string): BridgeMessage | null {
  if (text.length > MAX_MESSAGE_LENGTH) return null;
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return null;
  }
  if (!m || typeof m !== "object") return null;
  const o = m as Record<string, unknown>;
  const cls = str(o.colibriClass);
  switch (cls) {
    case "VideoSourcesMap":
    case "AudioSourcesMap": {
      const list = Array.isArray(o.mappedSources) ? o.mappedSources : [];
      const mapped: MappedSource[] = [];
      for (const e of list) {
        if (!e || typeof e !== "object") continue;
        const r = e as Record<string, unknown>;
        const ssrc = u32(r.ssrc);
        if (!ssrc) continue;
        const source = str(r.source);
        // An owner-less entry names the endpoint in its source name ("<endpoint>-v0").
        const owner = str(r.owner) || source.split("-")[0]!;
        mapped.push({ source, owner, ssrc, rtx: u32(r.rtx), videoType: str(r.videoType) });
      }
      return { kind: "sources", media: cls === "VideoSourcesMap" ? "video" : "audio", mapped };
    }
    case "DominantSpeakerEndpointChangeEvent":
      return {
        kind: "dominant",
        endpoint: str(o.dominantSpeakerEndpoint),
        previous: (Array.isArray(o.previousSpeakers) ? o.previousSpeakers : []).map(str).filter((x) => x !== ""),
        silence: o.silence === true,
      };
    case "SenderSourceConstraints": {
      const h = o.maxHeight;
      if (!str(o.sourceName) || typeof h !== "number" || !Number.isInteger(h) || h < -1) return { kind: "other", colibriClass: cls };
      return { kind: "senderConstraints", source: str(o.sourceName), maxHeight: h };
    }
    case "EndpointMessage": {
      const p = o.msgPayload;
      if (!str(o.from) || !p || typeof p !== "object" || Array.isArray(p)) return { kind: "other", colibriClass: cls };
      return { kind: "endpoint", from: str(o.from), payload: p as Record<string, unknown> };
    }
    case "ForwardedSources": {
      const list = Array.isArray(o.forwardedSources) ? o.forwardedSources : [];
      return { kind: "forwarded", sources: list.map(str).filter((x) => x !== "") };
    }
    case "EndpointStats": {
      const stats = parseEndpointStats(o);
      if (!str(o.from) || str(o.from).length > 64 || !stats) return { kind: "other", colibriClass: cls };
      return { kind: "endpointStats", from: str(o.from), stats };
    }
    case "":
      return null;
    default:
      return { kind: "other", colibriClass: cls };
  }
}

/** The video height to ask for a tile of this CSS height: the next step of 180, 360, 720. */
export function heightFor(tileHeight: number, pixelRatio = 1): number {
  const h = tileHeight * pixelRatio;
  for (const step of [180, 360]) if (h <= step) return step;
  return 720;
}

/**
 * What the bridge is asked for one remote video: its source name, its
 * tile's CSS height, whether it is on the stage, and whether the tile is in
 * sight (a tile scrolled out of the grid is not: its source gets height 0).
 */
export interface TileView {
  source: string;
  height: number;
  onStage?: boolean;
  desktop?: boolean;
  /** False for a tile the grid does not show (scrolled away); absent means shown. */
  visible?: boolean;
}

export interface VideoConstraints {
  colibriClass: "ReceiverVideoConstraints";
  lastN: number;
  onStageSources: string[];
  defaultConstraints: VideoConstraint;
  constraints: Record<string, VideoConstraint>;
}

/**
 * One source's (or the default) constraint: maxHeight, and maxFrameRate
 * when a rate is asked for. The default always carries maxFrameRate (-1:
 * no limit), since the bridge keeps a field a message leaves out.
 */
export interface VideoConstraint {
  maxHeight: number;
  maxFrameRate?: number;
}

/** The height asked for sources without a tile yet (someone who just joined): a thumbnail, as LJM starts. */
export const DEFAULT_MAX_HEIGHT = 180;

/**
 * ReceiverVideoConstraints for the tiles (§6.2): each source in sight gets
 * the step of 180/360/720 that covers its tile's height in device pixels; a
 * screen share on stage gets at least 720 (text must stay legible); a tile
 * out of sight gets 0, which the bridge neither sends nor counts in lastN;
 * sources that have no tile yet (someone who just joined) fall back to
 * defaultConstraints. lastN is how many videos the layout shows (-1 before
 * there is any remote tile), and at most `limit` when that is not -1 (the
 * bridge then forwards the first ones in its order: stage, speakers).
 */
export function receiverConstraints(tiles: TileView[], pixelRatio = 1, limit = -1): VideoConstraints {
  const constraints: Record<string, VideoConstraint> = {};
  const onStageSources: string[] = [];
  for (const t of tiles) {
    if (!t.source) continue;
    if (t.visible === false) {
      constraints[t.source] ??= { maxHeight: 0 };
      continue;
    }
    if (!(t.height > 0)) continue;
    let maxHeight = heightFor(t.height, pixelRatio);
    if (t.onStage && t.desktop) maxHeight = Math.max(maxHeight, 720);
    constraints[t.source] = { maxHeight: Math.max(maxHeight, constraints[t.source]?.maxHeight ?? 0) };
    if (t.onStage && !onStageSources.includes(t.source)) onStageSources.push(t.source);
  }
  const shown = Object.values(constraints).filter((c) => c.maxHeight > 0).length;
  let lastN = tiles.length > 0 ? shown : -1;
  if (limit >= 0) lastN = lastN < 0 ? limit : Math.min(lastN, limit);
  return { colibriClass: "ReceiverVideoConstraints", lastN, onStageSources, defaultConstraints: { maxHeight: DEFAULT_MAX_HEIGHT, maxFrameRate: -1 }, constraints };
}

/**
 * Constraints no taller than cap and no faster than fps frames a second
 * (the preferred video quality of the settings dialog): every source's,
 * the stage's and a screen share's included, and the default for sources
 * without a tile. The bridge then forwards no layer above them. A cap of 0
 * or less, and an fps of 0 or less, leave that part as it is.
 */
export function capConstraints(c: VideoConstraints, cap: number, fps = -1): VideoConstraints {
  if (!(cap > 0) && !(fps > 0)) return c;
  const limit = (x: VideoConstraint): VideoConstraint => {
    const out: VideoConstraint = { ...x };
    if (cap > 0) out.maxHeight = Math.min(x.maxHeight, cap);
    if (fps > 0) out.maxFrameRate = x.maxFrameRate !== undefined && x.maxFrameRate > 0 ? Math.min(x.maxFrameRate, fps) : fps;
    return out;
  };
  const constraints: Record<string, VideoConstraint> = {};
  for (const [source, x] of Object.entries(c.constraints)) constraints[source] = limit(x);
  return { ...c, defaultConstraints: limit(c.defaultConstraints), constraints };
}

/**
 * Which of a camera's simulcast encodings (low to high, each half the
 * height of the next, the top one the track's height) to keep sending when
 * the tallest any receiver wants is maxHeight (SenderSourceConstraints; -1
 * unlimited, 0 nobody): those no taller than it, and always the lowest, so
 * the stream stays up and a new viewer starts at once. The bridge picks the
 * same way (the tallest layer within a receiver's limit).
 */
export function activeEncodings(count: number, trackHeight: number, maxHeight: number): boolean[] {
  const out: boolean[] = [];
  for (let i = 0; i < count; i++) {
    const height = trackHeight / 2 ** (count - 1 - i);
    out.push(i === 0 || maxHeight < 0 || height <= maxHeight);
  }
  return out;
}

/** SourceVideoTypeMessage: what kind of video a local source carries (§6.2). */
export function videoTypeMessage(sourceName: string, videoType: "camera" | "desktop" | "none"): string {
  return JSON.stringify({ colibriClass: "SourceVideoTypeMessage", sourceName, videoType });
}

/** How many sent messages a channel keeps in `sent`. */
const SENT_LOG = 50;

/** One bridge channel; reconnects are the media session's business (a new session, a new channel). */
export class BridgeChannel extends Emitter<{
  message: [BridgeMessage];
  open: [];
  close: [];
}> {
  private ws: WebSocket;
  private constraints: string;
  private videoTypes = new Map<string, string>(); // source name → SourceVideoTypeMessage
  private closed = false;
  /** The last messages sent, oldest first (at most SENT_LOG): what a test or a curious user reads to see what the bridge was asked. */
  readonly sent: string[] = [];

  constructor(url: string, constraints: VideoConstraints) {
    super();
    this.constraints = JSON.stringify(constraints);
    this.ws = new WebSocket(url);
    this.ws.addEventListener("open", () => {
      if (this.closed) return; // closed while connecting: close() closes it now
      this.send(this.constraints);
      for (const m of this.videoTypes.values()) this.send(m);
      this.emit("open");
    });
    this.ws.addEventListener("message", (ev) => {
      if (typeof ev.data !== "string") return;
      const m = parseBridgeMessage(ev.data);
      if (m) this.emit("message", m);
    });
    this.ws.addEventListener("close", () => {
      if (!this.closed) this.emit("close");
      this.closed = true;
    });
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Asks for other constraints; sent now if the channel is open and they changed, else on open. */
  setConstraints(c: VideoConstraints): void {
    const text = JSON.stringify(c);
    if (text === this.constraints) return;
    this.constraints = text;
    if (this.open) this.send(text);
  }

  /** Tells the bridge what a local source carries; sent now if open, and again on open. */
  setVideoType(sourceName: string, videoType: "camera" | "desktop" | "none"): void {
    const m = videoTypeMessage(sourceName, videoType);
    this.videoTypes.set(sourceName, m);
    if (this.open) this.send(m);
  }

  /** Sends an EndpointMessage to one endpoint ("" for everyone); false when the channel is not open (nothing is queued). */
  sendEndpointMessage(to: string, payload: Record<string, unknown>): boolean {
    if (!this.open) return false;
    this.send(JSON.stringify({ colibriClass: "EndpointMessage", to, msgPayload: payload }));
    return true;
  }

  /** Sends our EndpointStats (the bridge relays it to everyone); false when the channel is not open. */
  sendEndpointStats(stats: PeerStats): boolean {
    if (!this.open) return false;
    this.send(endpointStatsMessage(stats));
    return true;
  }

  private send(text: string): void {
    this.ws.send(text);
    this.sent.push(text);
    if (this.sent.length > SENT_LOG) this.sent.splice(0, this.sent.length - SENT_LOG);
  }

  close(): void {
    this.closed = true;
    // Closing a socket that is still connecting makes Chromium log an error
    // ("closed before the connection is established"): close it once open.
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.addEventListener("open", () => this.ws.close(), { once: true });
    else this.ws.close();
  }
}
