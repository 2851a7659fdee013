// Connection quality: what getStats says about each participant's media and
// our own, summed up as a score and three levels (good, fair, poor), and
// the EndpointStats message (protocol/jitsi-dialect.md §6.2) in which every
// endpoint tells the others how its own upload fares, as lib-jitsi-meet's
// ConnectionQuality does: bitrate and packetLoss in kbit/s and percent,
// connectionQuality 0–100, jvbRTT in ms.
//
//   getStats ─► countersOf (per remote owner: inbound-rtp of its camera
//   and microphone; ours: outbound-rtp and remote-inbound-rtp; RTT from the
//   selected candidate pair) ─► summarize(previous, current) ─► Summary
//   with a score ─► the tile's bars; our Summary ─► EndpointStats ─► the
//   bridge relays it ─► parseEndpointStats (clamped) ─► their tiles'
//   upload side.
//
// No DOM here: ui/meeting/quality.ts draws it.

/** What an EndpointStats says, with every number checked and clamped. */
export interface PeerStats {
  /** kbit/s. */
  bitrate: { upload?: number; download?: number };
  /** Percent, 0–100. */
  packetLoss: { upload?: number; download?: number };
  /** 0 (unusable) to 100 (perfect). */
  connectionQuality?: number;
  /** Round trip to the bridge, ms. */
  jvbRTT?: number;
  maxEnabledResolution?: { width: number; height: number };
}

/** Clamping limits: a peer may send anything; nothing beyond these is believed. */
const MAX_KBPS = 1_000_000;
const MAX_RTT_MS = 60_000;
const MAX_PIXELS = 16_384;

/** A finite number of JSON clamped into [0, max], or undefined. */
function clamp(v: unknown, max: number): number | undefined {
  if (typeof v !== "number" || !Number.isFinite(v)) return undefined;
  return Math.min(max, Math.max(0, v));
}

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * Reads another endpoint's EndpointStats. Values that are not finite
 * numbers are left out, the others clamped; null when nothing usable is
 * left (a message without any of the known fields).
 */
export function parseEndpointStats(o: Record<string, unknown>): PeerStats | null {
  const bitrate = record(o.bitrate);
  const loss = record(o.packetLoss);
  const res = record(o.maxEnabledResolution);
  const s: PeerStats = {
    bitrate: { upload: clamp(bitrate.upload, MAX_KBPS), download: clamp(bitrate.download, MAX_KBPS) },
    packetLoss: { upload: clamp(loss.upload, 100), download: clamp(loss.download, 100) },
    connectionQuality: clamp(o.connectionQuality, 100),
    jvbRTT: clamp(o.jvbRTT, MAX_RTT_MS),
  };
  const w = clamp(res.width, MAX_PIXELS);
  const h = clamp(res.height, MAX_PIXELS);
  if (w !== undefined && h !== undefined) s.maxEnabledResolution = { width: Math.round(w), height: Math.round(h) };
  const known = [s.bitrate.upload, s.bitrate.download, s.packetLoss.upload, s.packetLoss.download, s.connectionQuality, s.jvbRTT];
  return known.some((v) => v !== undefined) ? s : null;
}

/** Our EndpointStats (§6.2): the fields lib-jitsi-meet sends, so Jitsi Meet's indicator reads it too. */
export function endpointStatsMessage(s: PeerStats): string {
  return JSON.stringify({ colibriClass: "EndpointStats", ...s });
}

/** Cumulative counters of one direction of media at one moment, summed over a participant's streams. */
export interface Counters {
  /** When, in ms (the stats' timestamp). */
  at: number;
  bytes: number;
  packets: number;
  /** Packets lost: inbound as counted by us, outbound as the bridge reports in remote-inbound-rtp. */
  lost: number;
  /** Video frames decoded (inbound) or sent (outbound). */
  frames: number;
  /** Video freezes (inbound, Chromium's freezeCount). */
  freezes: number;
  /** The largest jitter of the streams, ms. */
  jitter: number;
  width: number;
  height: number;
  /** Round trip to the bridge, ms; -1 when unknown. */
  rtt: number;
  /** Why the browser sends less than it could ("bandwidth", "cpu"; outbound video only). */
  limitation: string;
}

export function zeroCounters(at = 0): Counters {
  return { at, bytes: 0, packets: 0, lost: 0, frames: 0, freezes: 0, jitter: 0, width: 0, height: 0, rtt: -1, limitation: "" };
}

type Stat = Record<string, unknown>;
const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** The selected candidate pair's round trip in ms, -1 before there is one. */
export function candidateRTT(stats: Stat[]): number {
  const byId = new Map(stats.map((s) => [String(s.id), s]));
  for (const s of stats) {
    if (s.type !== "transport" || typeof s.selectedCandidatePairId !== "string") continue;
    const pair = byId.get(s.selectedCandidatePairId);
    if (pair && typeof pair.currentRoundTripTime === "number") return pair.currentRoundTripTime * 1000;
  }
  // Firefox has no transport stats: its pair says it is selected.
  for (const s of stats) {
    if (s.type === "candidate-pair" && (s.selected === true || s.nominated === true) && s.state === "succeeded" && typeof s.currentRoundTripTime === "number") return s.currentRoundTripTime * 1000;
  }
  return -1;
}

/**
 * Inbound counters per owner: `ownerOf` names the participant an
 * inbound-rtp entry belongs to (by its mid or track identifier), "" for
 * streams of nobody we show.
 */
export function inboundCounters(stats: Stat[], ownerOf: (s: Stat) => string, at: number): Map<string, Counters> {
  const out = new Map<string, Counters>();
  const rtt = candidateRTT(stats);
  for (const s of stats) {
    if (s.type !== "inbound-rtp") continue;
    const owner = ownerOf(s);
    if (!owner) continue;
    let c = out.get(owner);
    if (!c) {
      c = { ...zeroCounters(at), rtt };
      out.set(owner, c);
    }
    c.bytes += n(s.bytesReceived);
    c.packets += n(s.packetsReceived);
    c.lost += Math.max(0, n(s.packetsLost));
    c.jitter = Math.max(c.jitter, n(s.jitter) * 1000);
    if (s.kind === "video") {
      c.frames += n(s.framesDecoded);
      c.freezes += n(s.freezeCount);
      c.width = Math.max(c.width, n(s.frameWidth));
      c.height = Math.max(c.height, n(s.frameHeight));
    }
  }
  return out;
}

/** Our sending counters: every outbound-rtp (all simulcast layers) and what the bridge reports back about them. */
export function outboundCounters(stats: Stat[], at: number): Counters {
  const c = { ...zeroCounters(at), rtt: candidateRTT(stats) };
  for (const s of stats) {
    if (s.type === "outbound-rtp") {
      c.bytes += n(s.bytesSent);
      c.packets += n(s.packetsSent);
      if (s.kind === "video" && n(s.frameHeight) >= c.height) {
        // The tallest layer being sent: what the best-served receiver can see.
        c.width = n(s.frameWidth);
        c.height = n(s.frameHeight);
        c.frames = Math.max(c.frames, n(s.framesSent));
        if (typeof s.qualityLimitationReason === "string" && s.qualityLimitationReason !== "none") c.limitation = s.qualityLimitationReason;
      }
    } else if (s.type === "remote-inbound-rtp") {
      c.lost += Math.max(0, n(s.packetsLost));
      c.jitter = Math.max(c.jitter, n(s.jitter) * 1000);
      if (c.rtt < 0 && typeof s.roundTripTime === "number") c.rtt = s.roundTripTime * 1000;
    }
  }
  return c;
}

export type Level = "good" | "fair" | "poor";

/** One participant's media over the last interval, and what it amounts to. */
export interface Summary {
  /** kbit/s over the interval. */
  bitrate: number;
  /** Percent of packets lost over the interval. */
  loss: number;
  jitter: number;
  /** Video frames per second over the interval. */
  fps: number;
  width: number;
  height: number;
  /** Freezes that started in the interval. */
  freezes: number;
  /** ms, -1 unknown. */
  rtt: number;
  limitation: string;
  /** 0–100: the worst of the marks below. */
  score: number;
  level: Level;
}

/** The level of a score: 70 and up good, 40 and up fair. */
export function levelOf(score: number): Level {
  return score >= 70 ? "good" : score >= 40 ? "fair" : "poor";
}

/**
 * What one interval (prev → cur, the same owner's counters) amounts to.
 * The score is the worst mark: loss (up to 2% is perfect, up to 5% still
 * good, up to 10% fair, more poor), round trip (300/600 ms), jitter (30/80 ms), frame rate while
 * frames flow (15/8 fps), freezes in the interval (one is fair, two poor)
 * and a browser holding its video back for bandwidth or CPU (fair).
 */
export function summarize(prev: Counters, cur: Counters): Summary {
  const secs = Math.max(0.001, (cur.at - prev.at) / 1000);
  const dPackets = Math.max(0, cur.packets - prev.packets);
  const dLost = Math.max(0, cur.lost - prev.lost);
  const dFrames = Math.max(0, cur.frames - prev.frames);
  const s: Summary = {
    bitrate: Math.max(0, ((cur.bytes - prev.bytes) * 8) / 1000 / secs),
    loss: dPackets + dLost > 0 ? (100 * dLost) / (dPackets + dLost) : 0,
    jitter: cur.jitter,
    fps: dFrames / secs,
    width: cur.width,
    height: cur.height,
    freezes: Math.max(0, cur.freezes - prev.freezes),
    rtt: cur.rtt,
    limitation: cur.limitation,
    score: 100,
    level: "good",
  };
  s.score = scoreOf(s);
  s.level = levelOf(s.score);
  return s;
}

function ladder(v: number, good: number, fair: number): number {
  return v <= good ? 100 : v <= fair ? 60 : 25;
}

export function scoreOf(s: Omit<Summary, "score" | "level">): number {
  const lossMark = s.loss <= 2 ? 100 : s.loss <= 5 ? 75 : s.loss <= 10 ? 50 : 25;
  const marks = [lossMark, ladder(s.jitter, 30, 80), s.freezes === 0 ? 100 : s.freezes === 1 ? 60 : 25];
  if (s.rtt >= 0) marks.push(ladder(s.rtt, 300, 600));
  if (s.fps > 0) marks.push(s.fps >= 15 ? 100 : s.fps >= 8 ? 60 : 25);
  if (s.limitation === "bandwidth" || s.limitation === "cpu") marks.push(60);
  return Math.min(...marks);
}

/**
 * A remote participant's level: the worse of what reaches us from them
 * (download side) and what they report of their own upload.
 */
export function combinedScore(download: Summary | undefined, peer: PeerStats | undefined): number | undefined {
  const scores = [download?.score, peer?.connectionQuality].filter((v): v is number => v !== undefined);
  return scores.length ? Math.min(...scores) : undefined;
}

/** Our EndpointStats from our sending and receiving summaries. */
export function ownPeerStats(up: Summary, downKbps: number, downLoss: number): PeerStats {
  const s: PeerStats = {
    bitrate: { upload: Math.round(up.bitrate), download: Math.round(downKbps) },
    packetLoss: { upload: Math.round(up.loss * 10) / 10, download: Math.round(downLoss * 10) / 10 },
    connectionQuality: Math.round(up.score),
  };
  if (up.rtt >= 0) s.jvbRTT = Math.round(up.rtt);
  if (up.height > 0) s.maxEnabledResolution = { width: up.width, height: up.height };
  return s;
}
