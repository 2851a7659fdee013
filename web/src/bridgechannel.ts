// The bridge channel (protocol/jitsi-dialect.md §6): a WebSocket to the
// bridge whose URL the focus puts in the offer's transport. What the client
// uses of it:
//
//   open ─► ReceiverVideoConstraints (the bridge forwards no video before it)
//   VideoSourcesMap / AudioSourcesMap ─► slot SSRC → owner endpoint (§6.2)
//   DominantSpeakerEndpointChangeEvent ─► the active speaker
//
// The host in the focus's URL is the one the server calls itself; the page
// reaches the server by location.host, so the channel uses that.
import { Emitter } from "./emitter";

export interface MappedSource {
  source: string;
  owner: string;
  ssrc: number;
  rtx: number;
  videoType: string;
}

export type BridgeMessage =
  | { kind: "sources"; media: "audio" | "video"; mapped: MappedSource[] }
  | { kind: "dominant"; endpoint: string; silence: boolean }
  | { kind: "other"; colibriClass: string };

/** The channel URL: the focus's URL with its host replaced and a secure scheme when the page has one. */
export function channelURL(raw: string, host: string, secure = true): string {
  const u = new URL(raw);
  u.host = host;
  u.protocol = secure ? "wss:" : "ws:";
  return u.toString();
}

const str = (v: unknown) => (typeof v === "string" ? v : "");
const u32 = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32 ? v : 0);

/** Reads one message; null for what is not a colibri JSON object. */
export function parseBridgeMessage(text: string): BridgeMessage | null {
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
      return { kind: "dominant", endpoint: str(o.dominantSpeakerEndpoint), silence: o.silence === true };
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

/** ReceiverVideoConstraints asking every source at maxHeight, all of them forwarded (lastN -1). */
export function constraintsMessage(maxHeight: number): string {
  return JSON.stringify({ colibriClass: "ReceiverVideoConstraints", lastN: -1, defaultConstraints: { maxHeight } });
}

/** One bridge channel; reconnects are the media session's business (a new session, a new channel). */
export class BridgeChannel extends Emitter<{
  message: [BridgeMessage];
  open: [];
  close: [];
}> {
  private ws: WebSocket;
  private maxHeight: number;
  private closed = false;

  constructor(url: string, maxHeight: number) {
    super();
    this.maxHeight = maxHeight;
    this.ws = new WebSocket(url);
    this.ws.addEventListener("open", () => {
      this.ws.send(constraintsMessage(this.maxHeight));
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

  /** Asks for another default height; sent now if the channel is open, else on open. */
  setMaxHeight(h: number): void {
    if (h === this.maxHeight) return;
    this.maxHeight = h;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(constraintsMessage(h));
  }

  close(): void {
    this.closed = true;
    this.ws.close();
  }
}
