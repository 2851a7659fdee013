// One lib-jitsi-meet participant, driven by ljm.test.js through window.ljm.
// It is configured as jitsi-meet configures LJM: Parley's own config.js
// (jitsi-dialect.md §1.3) when the server serves one, else the same
// defaults jitsi-meet's config.js has; then what the test needs on top:
// the WebSocket with ?room=, SSRC rewriting on, P2P off, and the bridge
// channel over SCTP or WebSocket as the query asks.
//
// Query: parley=https://HOST:PORT (the server), domain=DOMAIN, room=ROOM,
// name=DISPLAY NAME, sctp=1|0 (bridgeChannel.preferSctp), extra=JSON (a
// developer's options, merged over everything else, to try a setting).
/* global JitsiMeetJS */
"use strict";

const q = new URLSearchParams(location.search);
const PARLEY = q.get("parley");
const ROOM = q.get("room");
const NAME = q.get("name");
const PREFER_SCTP = q.get("sctp") !== "0";

const state = {
  phase: "loading", // loading → connecting → connected → joining → joined → left | failed
  failure: "",
  myId: "",
  config: null, // the options LJM was given
  configSource: "",
  bridgeChannel: "", // "open" once LJM's bridge channel is up
  seen: {}, // participant id → { name, joined, left }
  messages: [], // { from, text }
  log: [], // connection and conference events, in order
};

function note(what) {
  state.log.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
  document.getElementById("status").textContent = `${state.phase}: ${what}`;
}

function fail(why) {
  state.phase = "failed";
  state.failure = String(why);
  note(`failed: ${why}`);
}

/** Loads Parley's config.js (it defines `config`, as jitsi-meet's does); resolves to it or null. */
function loadParleyConfig() {
  return new Promise((resolve) => {
    const s = document.createElement("script");
    s.src = `${PARLEY}/config.js`;
    s.onload = () => resolve(typeof window.config === "object" && window.config ? window.config : null);
    s.onerror = () => resolve(null);
    document.head.appendChild(s);
  });
}

/** jitsi-meet's config.js defaults for what this page needs, when Parley serves none. */
function defaultConfig() {
  const domain = q.get("domain");
  const wsHost = new URL(PARLEY).host;
  return {
    hosts: { domain, muc: `conference.${domain}`, focus: `focus.${domain}` },
    serviceUrl: `wss://${wsHost}/xmpp-websocket`,
    enableWebsocketResume: true,
  };
}

/** Merges plain objects (b over a), as jitsi-meet merges URL overrides into config. */
function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === "object" && !Array.isArray(v) && a[k] && typeof a[k] === "object" ? merge(a[k], v) : v;
  }
  return out;
}

async function start() {
  let config = await loadParleyConfig();
  state.configSource = config ? `${PARLEY}/config.js` : "defaults (the server serves no config.js)";
  if (!config) config = defaultConfig();
  config = structuredClone(config);
  // jitsi-meet connects to config.websocket (else serviceUrl) with the room appended.
  const base = config.websocket || config.serviceUrl || defaultConfig().serviceUrl;
  const u = new URL(base);
  u.searchParams.set("room", ROOM);
  config.serviceUrl = u.toString();
  config.hosts = { ...defaultConfig().hosts, ...(config.hosts || {}) };
  config.flags = { ...(config.flags || {}), ssrcRewritingEnabled: true };
  // No STUN server from the internet, no peer-to-peer: everything goes through the bridge on loopback.
  config.p2p = { ...(config.p2p || {}), enabled: false, stunServers: [] };
  config.bridgeChannel = { ...(config.bridgeChannel || {}), preferSctp: PREFER_SCTP };
  config.analytics = { disabled: true, rtcstatsEnabled: false };
  config.disableThirdPartyRequests = true;
  config.websocketKeepAlive = -1;
  if (q.get("extra")) config = merge(config, JSON.parse(q.get("extra")));
  state.config = config;
  note(`config from ${state.configSource}: ${JSON.stringify(config)}`);

  JitsiMeetJS.init(config);
  JitsiMeetJS.setLogLevel(JitsiMeetJS.logLevels.INFO);

  const CE = JitsiMeetJS.events.connection;
  const E = JitsiMeetJS.events.conference;
  const connection = new JitsiMeetJS.JitsiConnection(null, null, config);
  state.phase = "connecting";
  await new Promise((resolve, reject) => {
    connection.addEventListener(CE.CONNECTION_ESTABLISHED, resolve);
    connection.addEventListener(CE.CONNECTION_FAILED, (err, msg) => reject(new Error(`connection failed: ${err} ${msg ?? ""}`)));
    connection.connect();
  });
  state.phase = "connected";
  note("XMPP connection established");

  const tracks = await JitsiMeetJS.createLocalTracks({ devices: ["audio", "video"] });
  note(`local tracks: ${tracks.map((t) => t.getType()).join(", ")}`);

  const conference = connection.initJitsiConference(ROOM, config);
  window.ljm.conference = conference;
  conference.on(E.CONFERENCE_JOINED, () => {
    state.phase = "joined";
    state.myId = conference.myUserId();
    note(`conference joined as ${state.myId}`);
  });
  conference.on(E.CONFERENCE_FAILED, (err, ...rest) => fail(`conference failed: ${err} ${JSON.stringify(rest)}`));
  conference.on(E.CONFERENCE_ERROR, (err, ...rest) => note(`conference error: ${err} ${JSON.stringify(rest)}`));
  conference.on(E.USER_JOINED, (id, user) => {
    state.seen[id] = { name: user.getDisplayName() ?? "", joined: true, left: false };
    note(`user joined: ${id} ${user.getDisplayName()}`);
  });
  conference.on(E.DISPLAY_NAME_CHANGED, (id, name) => {
    if (state.seen[id]) state.seen[id].name = name;
  });
  conference.on(E.USER_LEFT, (id) => {
    state.seen[id] = { ...(state.seen[id] ?? { name: "", joined: false }), left: true };
    note(`user left: ${id}`);
  });
  conference.on(E.MESSAGE_RECEIVED, (id, text) => {
    state.messages.push({ from: id, text });
    note(`message from ${id}: ${text}`);
  });
  conference.on(E.DATA_CHANNEL_OPENED, () => {
    state.bridgeChannel = "open";
    note("bridge channel open");
  });
  conference.on(E.TRACK_ADDED, (t) => {
    if (t.isLocal()) return;
    note(`remote track added: ${t.getType()} ssrc ${t.getSsrc()} owner ${t.getParticipantId()}`);
    // Play each remote track, as a client would: a <video> decodes, an <audio> plays.
    const el = document.createElement(t.getType() === "video" ? "video" : "audio");
    el.autoplay = true;
    el.muted = t.getType() === "video";
    el.playsInline = true;
    el.dataset.ssrc = String(t.getSsrc());
    document.getElementById("remote").appendChild(el);
    t.attach(el);
  });
  conference.on(E.TRACK_REMOVED, (t) => {
    if (!t.isLocal()) note(`remote track removed: ${t.getType()} ssrc ${t.getSsrc()} owner ${t.getParticipantId()}`);
  });
  for (const t of tracks) await conference.addTrack(t);
  conference.setDisplayName(NAME);
  state.phase = "joining";
  conference.join();
}

/**
 * Per remote participant: its video tracks' frames decoded and audio tracks'
 * packets received (getStats of each track's receiver), and every remote
 * track the peer connection has, with its owner as LJM sees it.
 */
async function mediaStats() {
  const c = window.ljm.conference;
  const out = { byOwner: {}, tracks: [], sending: 0, ice: "" };
  const tpc = c?.jvbJingleSession?.peerconnection;
  const pc = tpc?.peerconnection;
  if (!pc) return out;
  out.ice = pc.iceConnectionState;
  for (const t of tpc.getRemoteTracks()) {
    const owner = t.getParticipantId();
    const kind = t.getType();
    let frames = 0;
    let packets = 0;
    try {
      (await pc.getStats(t.getTrack())).forEach((st) => {
        if (st.type !== "inbound-rtp") return;
        frames += st.framesDecoded ?? 0;
        packets += st.packetsReceived ?? 0;
      });
    } catch (e) {
      out.tracks.push({ owner, kind, ssrc: t.getSsrc(), error: String(e) });
      continue;
    }
    out.tracks.push({ owner, kind, ssrc: t.getSsrc(), frames, packets });
    const o = (out.byOwner[owner] ??= { frames: 0, packets: 0 });
    if (kind === "video") o.frames += frames;
    else o.packets += packets;
  }
  (await pc.getStats()).forEach((st) => {
    if (st.type === "outbound-rtp" && st.kind === "video" && st.framesEncoded > 0) out.sending++;
  });
  return out;
}

/** The JVB session's SDP, both ways, and which m-line LJM sends each local track on. */
function sessionSDP() {
  const tpc = window.ljm.conference?.jvbJingleSession?.peerconnection;
  const pc = tpc?.peerconnection;
  return {
    remote: pc?.remoteDescription?.sdp ?? "",
    local: pc?.localDescription?.sdp ?? "",
    localTrackMids: tpc?.localTrackTransceiverMids ? Object.fromEntries(tpc.localTrackTransceiverMids) : {},
  };
}

window.ljm = {
  state,
  conference: null,
  mediaStats,
  sessionSDP,
  sendChat: (text) => window.ljm.conference.sendTextMessage(text),
  leave: async () => {
    await window.ljm.conference?.leave();
    state.phase = "left";
  },
};

if (typeof JitsiMeetJS === "undefined") {
  fail("lib-jitsi-meet.min.js did not load");
} else {
  start().catch((e) => fail(e?.stack || e));
}
