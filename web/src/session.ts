// The media session (protocol/jitsi-dialect.md §5, docs/protocol.md "Conference
// focus and Jingle"): the focus's Jingle offer becomes a PeerConnection with
// the bridge, the way lib-jitsi-meet and `parley bot` (internal/bot/media.go)
// run it.
//
//   session-initiate ─► ack ─► toSDP(split) ─► setRemoteDescription
//     ─► camera and microphone on the first audio and video m-lines
//     ─► answer (+ SIM group for 3 simulcast layers) ─► setLocalDescription
//     ─► session-accept with our sources ("<endpoint>-a0", "<endpoint>-v0")
//     ─► bridge channel ─► sources maps: slot SSRC → owner endpoint; a slot
//     not seen before ─► one more m-line (sendonly on the bridge's side) added
//     to the focus's offer ─► answer (a local renegotiation, ours only)
//   screen share ─► one more m-line added to the focus's offer (ours only:
//     the bridge learns sources from Jingle, not SDP) ─► answer ─► source-add
//     "<endpoint>-v1" videoType desktop ─► SourceVideoTypeMessage; stopped
//     ─► the sender's track removed, source-remove (the m-line stays for the next share)
//   session-initiate again ─► the old PeerConnection is closed, a new one built
//   session-terminate ─► closed
//   ICE failed ─► "reconnecting" ─► after restartDelay(n) ─► restart()
//   restart() ─► session-terminate with bridge-session restart="true" (§5.6)
//     ─► the focus re-invites ─► session-initiate
//     refused with item-not-found (the focus has no such session, e.g. a
//     restarted server) ─► "lost": the conference asks the focus for a new
//     conference; other refusals (resource-constraint) ─► the next restart,
//     later
//
// Restarts back off (restartDelay): 1 s, 2 s, 4 s, 8 s, 16 s, then every
// 30 s, each up to a fifth longer at random so that clients cut off together
// do not come back together; five in a row take over 30 s, under the focus's
// five a minute. The count starts over once a session has stayed connected
// for stableMs (10 s).
//
// The offer names only the bridge's feedback sources (jvb-a0, jvb-v0), as
// Jicofo offers them to a client with SSRC rewriting (§5.5). Each of the
// bridge's send slots gets its own m-line with its fixed SSRC once a
// VideoSourcesMap/AudioSourcesMap names it, as lib-jitsi-meet creates remote
// sources from the maps (§6.2); the bridge rewrites whatever it forwards
// onto a slot and the maps say whose media a slot carries.
import { xml, type Element } from "@xmpp/xml";
import type { PeerStats } from "./quality";
import { activeEncodings, BridgeChannel, capConstraints, channelURL, receiverConstraints, type BridgeMessage, type MappedSource, type TileView, type VideoConstraints } from "./bridgechannel";
import type { SessionCrypto } from "./e2ee/transforms";
import { Emitter } from "./emitter";
import { fromSDP, NSJ, parseJingle, toElement, toSDP, type Jingle, type Source } from "./jingle";
import { addDecoys, addRemoteSection, addSendSection, addSimulcast, decoyMids, keepSSRCs, needsDecoys, sections, sendingMids, slotsByMid, withoutSections } from "./sdp";
import { t } from "./i18n";

/**
 * The session-accept for an offer from the browser's local answer: the
 * transport and codecs from the answer (merged by kind), and as sources our
 * own, named as Jitsi names them ("<endpoint>-a0", "<endpoint>-v0"): the
 * audio SSRC, and for video every SSRC with the SIM and FID groups of the
 * sending m-line.
 */
export function buildAccept(offer: Jingle, localSDP: string, endpoint: string, responder: string, mids: { audio: string; video: string }): Jingle {
  const accept = fromSDP(localSDP, { responder: true, byKind: true, action: "session-accept" });
  accept.sid = offer.sid;
  accept.initiator = offer.initiator;
  accept.responder = responder;
  const local = sections(localSDP);
  const msid = (kind: string) => `${endpoint}-${kind}-0-1 ${endpoint}-${kind}-track`;
  for (const c of accept.contents) {
    const d = c.description;
    if (!d || (d.media !== "audio" && d.media !== "video")) continue;
    const kind = d.media;
    const s = local.find((x) => x.mid === mids[kind]);
    const sendsHere = s && (s.direction === "sendrecv" || s.direction === "sendonly");
    d.sources = [];
    d.ssrcGroups = [];
    d.ridGroups = [];
    if (!s || !sendsHere) continue;
    const name = `${endpoint}-${kind === "audio" ? "a0" : "v0"}`;
    const src = (ssrc: number): Source => ({ ssrc, rid: "", name, videoType: kind === "video" ? "camera" : "", msid: msid(kind), owner: "", params: [] });
    d.sources = s.ssrcs.map(src);
    if (kind === "video") {
      const sim = s.groups.filter((g) => g.semantics === "SIM");
      d.ssrcGroups = [...sim, ...s.groups.filter((g) => g.semantics === "FID")];
    }
  }
  return accept;
}

/** The source name of a participant's screen share (LJM's second video source). */
export function desktopSourceName(endpoint: string): string {
  return `${endpoint}-v1`;
}

/**
 * source-add or source-remove for the sources we send on m-line `mid` of our
 * local SDP (§5.6): one content with the description's sources, named
 * `name`, and their FID/SIM groups.
 */
export function sourceChange(action: "source-add" | "source-remove", sid: string, localSDP: string, mid: string, name: string, videoType: string, msid: string): Jingle {
  const s = sections(localSDP).find((x) => x.mid === mid);
  if (!s || s.ssrcs.length === 0) throw new Error(`no SSRC on m-line ${mid}`);
  const media = s.kind;
  return {
    action,
    sid,
    initiator: "",
    responder: "",
    contents: [
      {
        creator: "responder",
        name: media,
        senders: "both",
        description: {
          media,
          maxptime: 0,
          payloadTypes: [],
          feedback: [],
          hdrexts: [],
          extmapAllowMixed: false,
          rtcpMux: false,
          sources: s.ssrcs.map((ssrc) => ({ ssrc, rid: "", name, videoType, msid, owner: "", params: [] })),
          ssrcGroups: s.groups.filter((g) => g.semantics === "SIM" || g.semantics === "FID"),
          ridGroups: [],
        },
        transport: null,
      },
    ],
    groups: [],
    bridgeSession: null,
    startMuted: null,
  };
}

/** What a slot carries: the owner endpoint, its source name and video type. */
export interface SlotOwner {
  owner: string;
  source: string;
  videoType?: string;
}

/**
 * Applies a sources map to what each slot SSRC carries. The maps announce
 * new mappings only: a source moved to another slot (its sender came back
 * with a new endpoint, say) leaves its old slot stale, so that one is
 * forgotten.
 */
export function applyMappings(owners: Map<number, SlotOwner>, mapped: MappedSource[]): void {
  for (const s of mapped) {
    for (const [ssrc, o] of owners) if (o.source === s.source && ssrc !== s.ssrc) owners.delete(ssrc);
    owners.set(s.ssrc, { owner: s.owner, source: s.source, videoType: s.videoType });
  }
}

/** How many video layers a session-accept announces (the SIM group's size, else 1). */
export function videoLayers(j: Jingle): number {
  const d = j.contents.find((c) => c.description?.media === "video")?.description;
  const sim = d?.ssrcGroups.find((g) => g.semantics === "SIM");
  return sim ? sim.ssrcs.length : d && d.sources.length > 0 ? 1 : 0;
}

/**
 * The delay before restart n (0-based) of a run of restarts: 1 s, 2 s, 4 s,
 * 8 s, 16 s, then 30 s each, times 1 to 1.2 at random (random() in [0, 1)).
 */
export function restartDelay(n: number, random: () => number = Math.random): number {
  const base = Math.min(1000 * 2 ** Math.min(Math.max(n, 0), 10), 30_000);
  return Math.round(base * (1 + 0.2 * random()));
}

/** How long a session must stay connected before the restart count starts over. */
export const stableMs = 10_000;

/** Whether a refused restart means the focus has no session of ours (item-not-found): only a new conference request helps. */
export function sessionUnknown(err: unknown): boolean {
  return (err as { condition?: string }).condition === "item-not-found";
}

/**
 * What the meeting shows of media: "connecting" until the first session
 * connects, "connected", and "reconnecting" while a lost session is being
 * restarted or replaced; "idle" before any session and after close().
 */
export type MediaState = "idle" | "connecting" | "connected" | "reconnecting";

/** What the session needs from the XMPP connection (Connection in xmpp.ts). */
export interface Signaling {
  readonly jid: string;
  handleIQ(type: "get" | "set", ns: string, name: string, fn: (iq: Element, payload: Element) => Element | object | undefined): void;
  iq(el: Element, timeoutMs?: number): Promise<Element>;
}

export interface SessionOptions {
  /** The room's bare JID: Jingle is taken only from its occupants (the focus). */
  roomJid: string;
  endpointId: () => string;
  /** The current local tracks (null when that device is off). */
  tracks: () => { audio: MediaStreamTrack | null; video: MediaStreamTrack | null };
  /** The host the page was loaded from; the bridge channel of this server's own bridge goes there. */
  host: string;
  /** The XMPP domain: a channel URL on it and the page's port names this server's own front (channelURL). */
  domain?: string;
  simulcast?: boolean;
  /** STUN/TURN servers (XEP-0215) and whether to use relays only. */
  iceServers?: () => Promise<RTCIceServer[]>;
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** The delay before restart n of a run (restartDelay by default). */
  restartDelay?: (n: number) => number;
  /** How long to wait for the focus's session-initiate after "lost" before asking again (15 s). */
  inviteWaitMs?: number;
  /** End-to-end encryption for the next session, null for none (asked as each session starts; e2ee/controller.ts). */
  e2ee?: () => SessionCrypto | null;
}

/** One remote participant's media as the bridge forwards it to us. */
export interface Remote {
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
  /** The screen share (source "<endpoint>-v1", videoType desktop). */
  desktop: MediaStreamTrack | null;
}

/** Whether a mapped video source is a screen share: its video type, else its name ("-v0" is the camera). */
export function isDesktop(o: SlotOwner): boolean {
  if (o.videoType) return o.videoType.toLowerCase().startsWith("desktop");
  return !/-v0$/.test(o.source);
}

/** The media session with the bridge, one PeerConnection at a time. */
export class MediaSession extends Emitter<{
  /** Whether media flows (the PeerConnection is connected). */
  connected: [boolean];
  /** The remote tracks' owners changed (see remotes). */
  remotes: [];
  /** The bridge's active speaker ("" in silence) and the ones before. */
  dominant: [string, string[], boolean];
  /** The screen share stopped or failed to start (its error, or null when stopped on purpose or by the browser). */
  desktop: [Error | null];
  /** What the meeting shows of media (see MediaState). */
  state: [MediaState];
  /** A session-initiate could not be set up (its error; the meeting says so). */
  failed: [Error];
  /** The focus has no session of ours (a restart was refused with item-not-found): ask it for the conference again. */
  lost: [];
  /** Another endpoint's EndpointMessage through the bridge channel: its endpoint ID and msgPayload. */
  endpointMessage: [string, Record<string, unknown>];
  /** The bridge's ForwardedSources changed (see forwarded). */
  forwarded: [];
  /** Another endpoint's EndpointStats: its endpoint ID and the stats, clamped (quality.ts). */
  endpointStats: [string, PeerStats];
}> {
  pc: RTCPeerConnection | null = null;
  channel: BridgeChannel | null = null;
  connected = false;
  state: MediaState = "idle";
  /** Restarts asked for since the last session that stayed connected stableMs. */
  restarts = 0;
  private everConnected = false;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private stableTimer: ReturnType<typeof setTimeout> | undefined;
  /** How many video layers the last session-accept announced. */
  layers = 0;
  /** Remote media by owner endpoint id. */
  remotes = new Map<string, Remote>();
  private sid = "";
  private focus = "";
  private bridgeSession = "";
  private generation = 0;
  private mids = { audio: "", video: "" };
  private slots = new Map<string, number>(); // mid → slot SSRC
  private tracksBySSRC = new Map<number, MediaStreamTrack>();
  private owners = new Map<number, SlotOwner>(); // slot SSRC → what it carries
  private senders: { audio: RTCRtpSender | null; video: RTCRtpSender | null } = { audio: null, video: null };
  private stream: MediaStream | null = null;
  /** The tallest video any receiver wants of our camera (SenderSourceConstraints; -1 unlimited). */
  private senderMaxHeight = -1;
  private encodingsQueue: Promise<void> = Promise.resolve();
  private constraints: VideoConstraints = receiverConstraints([]);
  private constraintsTimer: ReturnType<typeof setTimeout> | undefined;
  /** A cap on lastN below what the layout shows (-1 none; setLastNLimit). */
  private lastNLimit = -1;
  /**
   * The video sources the bridge forwards to us (its last ForwardedSources),
   * null until this session's channel has said: a remote video whose source
   * is missing shows its owner's avatar.
   */
  forwarded: Set<string> | null = null;
  /** The preferred video quality's height cap and frame rate (setReceiveCap; 0 and -1: none), and the tiles they apply to. */
  private receiveCap = 0;
  private receiveFPS = -1;
  private lastTiles: { tiles: TileView[]; pixelRatio: number } = { tiles: [], pixelRatio: 1 };
  /** The focus's offer as our PeerConnection has it (with the screen share m-line once added). */
  private offerSDP = "";
  private offerVersion = 0;
  /** The screen share: the track we are asked to send, its m-line and sender, whether the focus knows it. */
  desktop: MediaStreamTrack | null = null;
  private desktopMid = "";
  private desktopSender: RTCRtpSender | null = null;
  private desktopSignalled = false;
  private desktopQueue: Promise<void> = Promise.resolve();
  /** The current session's frame encryption (null: none). */
  private crypto: SessionCrypto | null = null;
  /** Local renegotiations (a screen share's m-line, the slots' m-lines), one at a time. */
  private sdpQueue: Promise<void> = Promise.resolve();
  private accepted = false;

  constructor(
    private sig: Signaling,
    private opts: SessionOptions,
  ) {
    super();
    sig.handleIQ("set", NSJ.jingle, "jingle", (iq, el) => this.onJingle(iq, el));
  }

  private onJingle(iq: Element, el: Element): Element | object | undefined {
    const from = iq.attrs.from ?? "";
    if (from.split("/")[0] !== this.opts.roomJid) return undefined; // service-unavailable
    const action = el.attrs.action ?? "";
    const sid = el.attrs.sid ?? "";
    switch (action) {
      case "session-initiate":
        // Acked at once; the answer goes back as its own session-accept.
        queueMicrotask(() => {
          this.start(iq, from).catch((err) => {
            console.warn("media session failed:", err);
            this.close();
            this.setState(this.everConnected ? "reconnecting" : "idle");
            this.emit("failed", err instanceof Error ? err : new Error(String(err)));
          });
        });
        return {};
      case "session-terminate":
        if (sid === this.sid) {
          this.close();
          this.setState(this.everConnected ? "reconnecting" : "idle");
        }
        return {};
      default:
        // transport-info, source-add/-remove: the bridge's slots are fixed,
        // its candidates came with the offer, and others' screen shares
        // arrive on slots like their cameras.
        return sid === this.sid ? {} : xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }), xml("unknown-session", { xmlns: "urn:xmpp:jingle:errors:1" }));
    }
  }

  private async start(iq: Element, focus: string): Promise<void> {
    this.close();
    this.setState(this.everConnected ? "reconnecting" : "connecting");
    const gen = ++this.generation;
    const offer = parseJingle(iq);
    this.sid = offer.sid;
    this.focus = focus;
    this.bridgeSession = offer.bridgeSession?.id ?? "";
    let offerSDP = toSDP(offer, { split: true });
    if (typeof navigator !== "undefined" && needsDecoys(navigator.userAgent)) offerSDP = addDecoys(offerSDP);
    this.offerSDP = offerSDP;
    this.offerVersion = 0;
    this.desktopMid = "";
    this.desktopSender = null;
    this.desktopSignalled = false;
    const offered = sections(offerSDP);
    this.mids = sendingMids(offered);
    this.slots = slotsByMid(offered);
    const iceServers = (await this.opts.iceServers?.()) ?? [];
    if (gen !== this.generation) return; // replaced while waiting
    const crypto = (this.crypto = this.opts.e2ee?.() ?? null);
    const pc = new RTCPeerConnection({
      ...crypto?.rtcConfig,
      bundlePolicy: "max-bundle",
      rtcpMuxPolicy: "require",
      iceServers,
      iceTransportPolicy: this.opts.iceTransportPolicy ?? "all",
    });
    this.pc = pc;
    pc.addEventListener("track", (ev) => {
      crypto?.decryptReceiver(ev.receiver, ev.track.kind === "audio" ? "audio" : "video"); // inside ontrack, before any frame (docs/e2ee.md)
      const ssrc = this.slots.get(ev.transceiver.mid ?? "");
      if (ssrc === undefined) return;
      this.tracksBySSRC.set(ssrc, ev.track);
      this.updateRemotes();
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this.pc !== pc) return;
      this.setConnected(pc.connectionState === "connected");
      switch (pc.connectionState) {
        case "connected":
          this.everConnected = true;
          this.setState("connected");
          clearTimeout(this.stableTimer);
          this.stableTimer = setTimeout(() => (this.restarts = 0), stableMs);
          break;
        case "disconnected": // ICE may come back by itself; "failed" if not
          clearTimeout(this.stableTimer);
          this.setState("reconnecting");
          break;
        case "failed":
          clearTimeout(this.stableTimer);
          this.scheduleRestart();
          break;
      }
    });
    await pc.setRemoteDescription({ type: "offer", sdp: offerSDP });
    if (gen !== this.generation) return;

    this.stream = new MediaStream();
    for (const t of pc.getTransceivers()) {
      crypto?.prepare(t);
      const kind = t.mid === this.mids.audio ? "audio" : t.mid === this.mids.video ? "video" : "";
      if (!kind) continue;
      crypto?.encryptSender(t.sender, kind, kind === "audio" ? 0 : 1);
      t.direction = "sendrecv";
      this.senders[kind] = t.sender;
      t.sender.setStreams(this.stream);
    }
    await this.updateTracks();
    const answer = await pc.createAnswer();
    let sdp = answer.sdp ?? "";
    if (this.opts.simulcast !== false && this.mids.video) sdp = addSimulcast(sdp, this.mids.video);
    await pc.setLocalDescription({ type: "answer", sdp });
    void this.applySenderHeight(); // the encodings exist now; a new session starts with all of them
    await gathered(pc, 3000);
    if (gen !== this.generation) return;

    const accept = buildAccept(offer, withoutSections(pc.localDescription!.sdp, decoyMids), this.opts.endpointId(), this.sig.jid, this.mids);
    this.layers = videoLayers(accept);
    await this.sig.iq(xml("iq", { type: "set", to: focus }, toElement(accept)), 15_000);
    if (gen !== this.generation) return;
    this.accepted = true;

    const ws = offer.contents.map((c) => c.transport?.webSockets[0]).find((u) => !!u);
    if (ws) {
      const ch = new BridgeChannel(channelURL(ws, this.opts.host, true, this.opts.domain), this.constraints);
      ch.on("message", (m) => this.onBridgeMessage(m));
      this.channel = ch;
      this.setForwarded(null);
    }
    // A screen share that was running before this session (a restart) goes on in it.
    if (this.desktop) void this.shareDesktop(this.desktop).catch(() => {});
  }

  /**
   * Starts (track) or stops (null) sending a screen share. The first share
   * in a session adds an m-line by a local renegotiation; later ones reuse
   * it. Rejects when the focus refuses the source-add (the share is then
   * stopped and "desktop" emitted with the error).
   */
  shareDesktop(track: MediaStreamTrack | null): Promise<void> {
    this.desktop = track;
    const run = this.desktopQueue.then(() => this.applyDesktop());
    this.desktopQueue = run.catch(() => {});
    return run;
  }

  private async applyDesktop(): Promise<void> {
    const pc = this.pc;
    const gen = this.generation;
    if (!pc || !this.accepted) return; // the next session picks it up
    const track = this.desktop;
    const name = desktopSourceName(this.opts.endpointId());
    const msid = `${this.opts.endpointId()}-video-1-1 ${this.opts.endpointId()}-desktop-track`;
    if (track) {
      try {
        if (!this.desktopSender) await this.negotiate(() => this.addDesktopSection(pc, track));
        else await this.desktopSender.replaceTrack(track);
        if (gen !== this.generation || this.desktopSignalled) return;
        const add = sourceChange("source-add", this.sid, pc.localDescription!.sdp, this.desktopMid, name, "desktop", msid);
        await this.sig.iq(xml("iq", { type: "set", to: this.focus }, toElement(add)), 15_000);
        if (gen !== this.generation) return;
        this.desktopSignalled = true;
        this.channel?.setVideoType(name, "desktop");
      } catch (err) {
        if (gen !== this.generation) return;
        await this.desktopSender?.replaceTrack(null).catch(() => {});
        if (this.desktop === track) this.desktop = null;
        const e = new Error(describeSourceError(err));
        this.emit("desktop", e);
        throw e;
      }
      return;
    }
    await this.desktopSender?.replaceTrack(null).catch(() => {});
    if (!this.desktopSignalled) return;
    this.desktopSignalled = false;
    this.channel?.setVideoType(name, "none");
    const remove = sourceChange("source-remove", this.sid, pc.localDescription!.sdp, this.desktopMid, name, "desktop", msid);
    try {
      await this.sig.iq(xml("iq", { type: "set", to: this.focus }, toElement(remove)), 15_000);
    } catch (err) {
      console.warn("the focus refused source-remove:", err);
    }
  }

  /** The local renegotiation that gives the screen share an m-line of its own. */
  private async addDesktopSection(pc: RTCPeerConnection, track: MediaStreamTrack): Promise<void> {
    const mid = String(sections(this.offerSDP).length);
    const offer = addSendSection(this.offerSDP, "video", mid, ++this.offerVersion);
    const prev = pc.localDescription!.sdp;
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    const t = pc.getTransceivers().find((x) => x.mid === mid);
    if (!t) throw new Error("the browser did not take the screen share's m-line");
    t.direction = "sendonly";
    this.crypto?.encryptSender(t.sender, "video", 2);
    await t.sender.replaceTrack(track);
    t.sender.setStreams(new MediaStream());
    const answer = await pc.createAnswer();
    let sdp = answer.sdp ?? "";
    if (this.mids.video) sdp = keepSSRCs(sdp, prev, this.mids.video);
    await pc.setLocalDescription({ type: "answer", sdp });
    this.offerSDP = offer;
    this.desktopMid = mid;
    this.desktopSender = t.sender;
  }

  /** Runs fn after every local renegotiation queued before it. */
  private negotiate(fn: () => Promise<void>): Promise<void> {
    const run = this.sdpQueue.then(fn);
    this.sdpQueue = run.catch(() => {});
    return run;
  }

  /**
   * Gives each slot a sources map names for the first time its m-line
   * (addRemoteSection), all in one local renegotiation; the track event
   * then files its track under the slot's SSRC.
   */
  private async addRemoteSources(kind: "audio" | "video", mapped: MappedSource[]): Promise<void> {
    const pc = this.pc;
    const gen = this.generation;
    if (!pc || !this.accepted) return;
    const known = new Set(this.slots.values());
    let offer = this.offerSDP;
    const added: [string, number][] = [];
    for (const s of mapped) {
      if (known.has(s.ssrc) || (s.rtx && known.has(s.rtx))) continue;
      const mid = String(sections(offer).length);
      offer = addRemoteSection(offer, kind, mid, ++this.offerVersion, s.ssrc, s.rtx);
      known.add(s.ssrc);
      added.push([mid, s.ssrc]);
    }
    if (added.length === 0) return;
    for (const [mid, ssrc] of added) this.slots.set(mid, ssrc);
    const prev = pc.localDescription!.sdp;
    await pc.setRemoteDescription({ type: "offer", sdp: offer });
    if (gen !== this.generation) return;
    this.offerSDP = offer;
    const answer = await pc.createAnswer();
    let sdp = answer.sdp ?? "";
    if (this.mids.video) sdp = keepSSRCs(sdp, prev, this.mids.video);
    await pc.setLocalDescription({ type: "answer", sdp });
  }

  private onBridgeMessage(m: BridgeMessage) {
    switch (m.kind) {
      case "sources":
        applyMappings(this.owners, m.mapped);
        this.updateRemotes();
        void this.negotiate(() => this.addRemoteSources(m.media, m.mapped)).catch((err) => console.warn("adding the bridge's slots failed:", err));
        break;
      case "dominant":
        this.emit("dominant", m.silence ? "" : m.endpoint, m.previous, m.silence);
        break;
      case "endpoint":
        this.emit("endpointMessage", m.from, m.payload);
        break;
      case "forwarded":
        this.setForwarded(new Set(m.sources));
        break;
      case "endpointStats":
        this.emit("endpointStats", m.from, m.stats);
        break;
      case "senderConstraints":
        if (m.source !== `${this.opts.endpointId()}-v0`) break; // the screen share is one encoding
        this.senderMaxHeight = m.maxHeight;
        void this.applySenderHeight();
        break;
    }
  }

  /**
   * Stops the camera's simulcast encodings taller than any receiver wants
   * and restarts them when someone does (activeEncodings), one change at a time.
   */
  private applySenderHeight(): Promise<void> {
    this.encodingsQueue = this.encodingsQueue.then(async () => {
      const s = this.senders.video;
      const track = s?.track;
      if (!s || !track) return;
      const p = s.getParameters();
      if (!p.encodings || p.encodings.length < 2) return;
      const want = activeEncodings(p.encodings.length, track.getSettings().height ?? 720, this.senderMaxHeight);
      if (p.encodings.every((e, i) => e.active === want[i])) return;
      p.encodings.forEach((e, i) => (e.active = want[i]!));
      try {
        await s.setParameters(p);
      } catch (err) {
        console.warn("changing the camera's simulcast encodings failed:", err);
      }
    });
    return this.encodingsQueue;
  }

  /** Rebuilds remotes from the slot tracks and the bridge's owners. */
  private updateRemotes() {
    const next = new Map<string, Remote>();
    for (const [ssrc, track] of this.tracksBySSRC) {
      const o = this.owners.get(ssrc);
      const owner = o?.owner;
      if (!o || !owner || owner === "jvb" || owner === this.opts.endpointId()) continue;
      const r = next.get(owner) ?? { audio: null, video: null, desktop: null };
      if (track.kind === "audio") r.audio = track;
      else if (isDesktop(o)) r.desktop = track;
      else r.video = track;
      next.set(owner, r);
    }
    const same =
      next.size === this.remotes.size &&
      [...next].every(([k, v]) => {
        const r = this.remotes.get(k);
        return r?.audio === v.audio && r?.video === v.video && r?.desktop === v.desktop;
      });
    if (same) return;
    this.remotes = next;
    this.emit("remotes");
  }

  /** Puts the current local tracks on the senders (after a device starts, stops or changes). */
  async updateTracks(): Promise<void> {
    const t = this.opts.tracks();
    for (const kind of ["audio", "video"] as const) {
      const s = this.senders[kind];
      if (!s || s.track === t[kind]) continue;
      try {
        await s.replaceTrack(t[kind]);
        if (kind === "video") await this.applySenderHeight();
      } catch (err) {
        console.warn(`replacing the ${kind} track failed:`, err);
      }
    }
  }

  /**
   * The remote videos on screen and their tiles' heights; the bridge is
   * asked for matching ReceiverVideoConstraints once the layout has been
   * still for debounceMs (a window being dragged asks once).
   */
  setTiles(tiles: TileView[], pixelRatio = 1, debounceMs = 300): void {
    this.lastTiles = { tiles, pixelRatio };
    this.constraints = capConstraints(receiverConstraints(tiles, pixelRatio, this.lastNLimit), this.receiveCap, this.receiveFPS);
    clearTimeout(this.constraintsTimer);
    this.constraintsTimer = setTimeout(() => this.channel?.setConstraints(this.constraints), debounceMs);
  }

  /**
   * Caps every video we receive at this height (the preferred video
   * quality: 180, 360 or 720; 0 for no cap beyond the tiles') and frame
   * rate (-1: none), and asks the bridge again at once.
   */
  setReceiveCap(maxHeight: number, maxFrameRate = -1): void {
    this.receiveCap = maxHeight;
    this.receiveFPS = maxFrameRate;
    this.setTiles(this.lastTiles.tiles, this.lastTiles.pixelRatio, 0);
  }

  /**
   * Caps lastN below what the layout shows (-1: no cap), for a user who
   * wants to save bandwidth, or a test; asked at once.
   */
  setLastNLimit(limit: number): void {
    this.lastNLimit = Number.isInteger(limit) && limit >= 0 ? limit : -1;
    this.setTiles(this.lastTiles.tiles, this.lastTiles.pixelRatio, 0);
  }

  private setForwarded(f: Set<string> | null): void {
    const prev = this.forwarded;
    const same = f === prev || (f !== null && prev !== null && f.size === prev.size && [...f].every((s) => prev.has(s)));
    if (same) return;
    this.forwarded = f;
    this.emit("forwarded");
  }

  /** The constraints last computed (what the bridge has, or gets when the channel opens). */
  get videoConstraints(): VideoConstraints {
    return this.constraints;
  }

  private setState(s: MediaState) {
    if (s === this.state) return;
    this.state = s;
    this.emit("state", s);
  }

  /** Restarts the session after restartDelay(restarts), unless a restart is already due. */
  private scheduleRestart(): void {
    this.setState("reconnecting");
    if (this.restartTimer !== undefined) return;
    const delay = (this.opts.restartDelay ?? restartDelay)(this.restarts);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  /**
   * Emits "lost" (the conference asks the focus again), and again after
   * max(inviteWaitMs, restartDelay) each time no session-initiate has come by then.
   */
  private lose(): void {
    this.setState("reconnecting");
    this.emit("lost");
    clearTimeout(this.restartTimer);
    const delay = Math.max(this.opts.inviteWaitMs ?? 15_000, (this.opts.restartDelay ?? restartDelay)(this.restarts));
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.lose();
    }, delay);
  }

  private setConnected(c: boolean) {
    if (c === this.connected) return;
    this.connected = c;
    this.emit("connected", c);
  }

  /**
   * Ends the current session and asks the focus for a new one, as LJM does
   * when ICE fails: session-terminate with <bridge-session restart="true"/>.
   * A refusal with item-not-found emits "lost" (the focus has no such
   * session: a restarted server); any other (resource-constraint, no
   * answer) schedules the next restart, later.
   */
  async restart(): Promise<void> {
    const { sid, focus, bridgeSession } = this;
    if (!sid || !focus) return;
    this.close();
    this.restarts++;
    this.setState("reconnecting");
    const gen = this.generation;
    const terminate = xml(
      "jingle",
      { xmlns: NSJ.jingle, action: "session-terminate", sid },
      xml("reason", {}, xml("success"), xml("text", {}, "restart")),
      xml("bridge-session", { xmlns: NSJ.focus, ...(bridgeSession ? { id: bridgeSession } : {}), restart: "true" }),
    );
    try {
      await this.sig.iq(xml("iq", { type: "set", to: focus }, terminate), 10_000);
    } catch (err) {
      if (gen !== this.generation) return; // a new session came meanwhile
      if (sessionUnknown(err)) {
        console.info("the focus has no such session; asking for the conference again");
        this.lose();
        return;
      }
      console.info("the focus refused a session restart; trying again later:", (err as { condition?: string }).condition ?? err);
      // restart() needs the session it restarts: keep the old one's names.
      this.sid = sid;
      this.scheduleRestart();
    }
  }

  /** Whether the current session encrypts its frames end to end. */
  get encrypting(): boolean {
    return this.crypto !== null;
  }

  /** Sends an EndpointMessage through the bridge channel to one endpoint ("" for all); false without an open channel. */
  sendEndpointMessage(to: string, payload: Record<string, unknown>): boolean {
    return this.channel?.sendEndpointMessage(to, payload) ?? false;
  }

  /** Ends the current PeerConnection and bridge channel, if any. */
  close(): void {
    this.generation++;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    clearTimeout(this.stableTimer);
    this.channel?.close();
    this.channel = null;
    this.pc?.close();
    this.pc = null;
    this.sid = "";
    this.accepted = false;
    this.desktopSender = null;
    this.desktopSignalled = false;
    this.senders = { audio: null, video: null };
    this.tracksBySSRC.clear();
    this.owners.clear();
    this.setConnected(false);
    if (this.remotes.size > 0) {
      this.remotes = new Map();
      this.emit("remotes");
    }
  }
}

function describeSourceError(err: unknown): string {
  const c = (err as { condition?: string }).condition;
  const text = (err as { text?: string }).text;
  if (c) return text ? t("share.refusedWhy", { condition: c, text }) : t("share.refused", { condition: c });
  if ((err as Error).name === "TimeoutError") return t("share.noAnswer");
  console.warn("the screen share could not start:", err);
  return t("share.failed");
}

/** Resolves when ICE gathering completes, or after timeoutMs. */
function gathered(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
