// The connection indicator on each camera tile: three bars (good, fair,
// poor) from getStats every two seconds, and on click the numbers behind
// them. A remote tile's level is the worse of what reaches us from that
// participant (inbound-rtp of their camera and microphone, the round trip
// of our candidate pair) and what they report of their own upload in
// EndpointStats; our own tile's is our sending side (outbound-rtp,
// remote-inbound-rtp). Every tenth second we send our summary as
// EndpointStats for the others' indicators (quality.ts has the arithmetic).
import { combinedScore, inboundCounters, levelOf, outboundCounters, ownPeerStats, scoreOf, summarize, type Counters, type PeerStats, type Summary } from "../../quality";
import { h } from "../dom";
import { qualityWords as w } from "../wording";
import { nameOf, type Meeting, type TileEntry } from "./state";
import type { TileExtra } from "./tiles";

/** How often getStats is read, and every how many samples our EndpointStats goes out (the first after two). */
export const SAMPLE_MS = 2000;
const BROADCAST_EVERY = 5;
/** A peer's EndpointStats older than this no longer counts. */
const PEER_STATS_TTL_MS = 30_000;

export interface QualityIndicators extends TileExtra {
  teardown(): void;
}

interface PeerEntry {
  stats: PeerStats;
  at: number;
}

type Row = [stat: string, label: string, text: string, value: number];

export function createQuality(m: Meeting, sampleMs = SAMPLE_MS): QualityIndicators {
  const { session, conf } = m;
  let prevIn = new Map<string, Counters>();
  let prevOut: Counters | null = null;
  let prevPC: RTCPeerConnection | null = null;
  const remote = new Map<string, Summary>();
  let local: Summary | null = null;
  const peers = new Map<string, PeerEntry>();
  const buttons = new Map<string, HTMLButtonElement>();
  const tilesByKey = new Map<string, { tile: HTMLElement; e: TileEntry }>();
  let detailsFor = "";
  let details: HTMLElement | null = null;
  let samples = 0;
  /** When each participant's camera was last left out of ForwardedSources: the gap before it comes back is no freeze of theirs. */
  const pausedAt = new Map<string, number>();
  let stopped = false;

  const offStats = session.on("endpointStats", (from, stats) => {
    const p = conf.participants.get(from);
    if (!p || p.local) return; // only people in the room, and never a claim about us
    peers.set(from, { stats, at: Date.now() });
    refresh(from);
  });

  /** The participant that an inbound-rtp entry carries (camera or microphone), by mid or track. */
  const ownerResolver = (pc: RTCPeerConnection) => {
    const byTrack = new Map<string, string>();
    for (const [owner, r] of session.remotes) {
      if (r.video) byTrack.set(r.video.id, owner);
      if (r.audio) byTrack.set(r.audio.id, owner);
    }
    const byMid = new Map<string, string>();
    for (const t of pc.getTransceivers()) {
      const owner = byTrack.get(t.receiver.track.id);
      if (t.mid && owner) byMid.set(t.mid, owner);
    }
    return (s: Record<string, unknown>) => byMid.get(String(s.mid ?? "")) ?? byTrack.get(String(s.trackIdentifier ?? "")) ?? "";
  };

  const sample = async () => {
    const pc = session.pc;
    if (!pc || pc.connectionState !== "connected") return;
    if (pc !== prevPC) {
      // A new session: its counters start from zero.
      prevPC = pc;
      prevIn = new Map();
      prevOut = null;
    }
    const ownerOf = ownerResolver(pc);
    const list: Record<string, unknown>[] = [];
    (await pc.getStats()).forEach((s) => list.push(s as Record<string, unknown>));
    if (stopped || pc !== session.pc) return;
    const now = performance.now();
    const inbound = inboundCounters(list, ownerOf, now);
    remote.clear();
    for (const [owner, cur] of inbound) {
      const prev = prevIn.get(owner);
      if (session.forwarded && !session.forwarded.has(`${owner}-v0`)) pausedAt.set(owner, now);
      if (!prev || cur.bytes < prev.bytes) continue;
      const s = summarize(prev, cur);
      if (s.freezes > 0 && now - (pausedAt.get(owner) ?? -Infinity) <= 2 * sampleMs) {
        s.freezes = 0;
        s.score = scoreOf(s);
        s.level = levelOf(s.score);
      }
      remote.set(owner, s);
    }
    prevIn = inbound;
    const out = outboundCounters(list, now);
    if (prevOut && out.bytes >= prevOut.bytes) local = summarize(prevOut, out);
    prevOut = out;
    samples++;
    if (local && samples >= 2 && (samples - 2) % BROADCAST_EVERY === 0) broadcast(local);
    for (const key of tilesByKey.keys()) refresh(key);
  };

  const broadcast = (up: Summary) => {
    const down = [...remote.values()];
    const kbps = down.reduce((a, s) => a + s.bitrate, 0);
    const loss = down.length ? down.reduce((a, s) => a + s.loss, 0) / down.length : 0;
    session.channel?.sendEndpointStats(ownPeerStats(up, kbps, loss));
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = () => {
    timer = setTimeout(async () => {
      try {
        await sample();
      } catch (err) {
        console.warn("reading connection stats failed:", err);
      }
      if (!stopped) loop();
    }, sampleMs);
  };
  loop();

  const peerOf = (id: string): PeerStats | undefined => {
    const e = peers.get(id);
    return e && Date.now() - e.at < PEER_STATS_TTL_MS ? e.stats : undefined;
  };

  /** The tile's score: ours from what we send, theirs from what reaches us and what they report. */
  const scoreFor = (e: TileEntry): number | undefined => (e.p.local ? local?.score : combinedScore(remote.get(e.p.id), peerOf(e.p.id)));

  /** The details' rows: [stat, label, text, the number a test reads]. */
  const rowsFor = (e: TileEntry): Row[] => {
    const rows: Row[] = [];
    const score = scoreFor(e);
    rows.push(["level", w.title, score === undefined ? w.measuring : w.level(levelOf(score)), score ?? -1]);
    const s = e.p.local ? local : remote.get(e.p.id);
    const peer = e.p.local ? undefined : peerOf(e.p.id);
    const dir = e.p.local ? w.up : w.down;
    if (s) {
      const up = peer?.bitrate.upload;
      rows.push(["bitrate", w.bitrate, `${w.kbps(s.bitrate)} ${dir}` + (up !== undefined ? ` · ${w.kbps(up)} ${w.theirUpload}` : ""), Math.round(s.bitrate)]);
      const upLoss = peer?.packetLoss.upload;
      rows.push(["loss", w.loss, `${w.percent(s.loss)} ${dir}` + (upLoss !== undefined ? ` · ${w.percent(upLoss)} ${w.theirUpload}` : ""), s.loss]);
      rows.push(["resolution", w.resolution, s.height > 0 ? w.size(s.width, s.height) : w.none, s.height]);
      rows.push(["fps", w.frameRate, s.fps > 0 ? w.fps(s.fps) : w.none, Math.round(s.fps)]);
      rows.push(["rtt", w.rtt, s.rtt >= 0 ? w.ms(s.rtt) : w.none, s.rtt >= 0 ? Math.max(1, Math.round(s.rtt)) : -1]);
      if (s.freezes > 0) rows.push(["freezes", w.freezes, String(s.freezes), s.freezes]);
      if (s.limitation) rows.push(["limited", w.limited, w.limitedBy(s.limitation), 1]);
    } else if (peer?.bitrate.upload !== undefined) {
      rows.push(["bitrate", w.bitrate, `${w.kbps(peer.bitrate.upload)} ${w.theirUpload}`, Math.round(peer.bitrate.upload)]);
    }
    return rows;
  };

  const renderDetails = (key: string) => {
    const t = tilesByKey.get(key);
    if (!t) return;
    if (!details) {
      details = h("div", { class: "tile-quality-details", attrs: { role: "dialog" } });
      // Clicks inside must neither pin the tile nor close the details.
      details.addEventListener("click", (ev) => ev.stopPropagation());
    }
    details.setAttribute("aria-label", `${w.title}: ${nameOf(t.e.p)}`);
    const dl = h("dl", {});
    for (const [stat, label, text, value] of rowsFor(t.e)) {
      dl.append(h("dt", { text: label }), h("dd", { text, attrs: { "data-stat": stat, "data-value": String(value) } }));
    }
    details.replaceChildren(dl);
    if (details.parentElement !== t.tile) t.tile.append(details);
  };

  const closeDetails = () => {
    if (!detailsFor) return;
    buttons.get(detailsFor)?.setAttribute("aria-expanded", "false");
    detailsFor = "";
    details?.remove();
  };
  const onDocClick = () => closeDetails();
  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === "Escape" && detailsFor) {
      const b = buttons.get(detailsFor);
      closeDetails();
      b?.focus();
    }
  };
  document.addEventListener("click", onDocClick);
  document.addEventListener("keydown", onKey);

  const buttonFor = (key: string): HTMLButtonElement => {
    let b = buttons.get(key);
    if (!b) {
      b = h("button", { class: "tile-quality", attrs: { type: "button", "aria-expanded": "false" } }, h("i", {}), h("i", {}), h("i", {}));
      b.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (detailsFor === key) return closeDetails();
        closeDetails();
        detailsFor = key;
        b!.setAttribute("aria-expanded", "true");
        renderDetails(key);
      });
      buttons.set(key, b);
    }
    return b;
  };

  /** Updates one tile's bars (and its open details) from the latest numbers. */
  const refresh = (key: string) => {
    const t = tilesByKey.get(key);
    const b = buttons.get(key);
    if (!t || !b) return;
    const score = scoreFor(t.e);
    const level = score === undefined ? "unknown" : levelOf(score);
    b.dataset.level = level;
    const text = score === undefined ? w.measuring : w.level(levelOf(score));
    b.setAttribute("aria-label", w.indicator(text));
    b.title = `${w.title}: ${text}`;
    if (detailsFor === key) renderDetails(key);
  };

  return {
    decorate(tile, e) {
      if (e.screen) return;
      tilesByKey.set(e.key, { tile, e });
      tile.classList.add("has-quality");
      tile.append(buttonFor(e.key));
      refresh(e.key);
    },
    forget(key) {
      if (detailsFor === key) closeDetails();
      tilesByKey.delete(key);
      buttons.delete(key);
      peers.delete(key);
      pausedAt.delete(key);
    },
    teardown() {
      stopped = true;
      clearTimeout(timer);
      offStats();
      document.removeEventListener("click", onDocClick);
      document.removeEventListener("keydown", onKey);
    },
  };
}
