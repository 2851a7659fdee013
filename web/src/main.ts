// Parley's browser client: routes "/" to the home page and "/<Room>" to the
// pre-join screen and the meeting. See conference.ts for the protocol side.
import { serviceURL, tokenDisplayName, tokenFromSearch } from "./access";
import { iceServersFrom, regionFromSearch, servicesRequest } from "./extdisco";
import { Conference, type EndReason } from "./conference";
import { E2EE } from "./e2ee/controller";
import { loadConfig, type ServerConfig } from "./config";
import { readOverrides } from "./hashparams";
import { LocalMedia, type MediaKind, type MediaProblem } from "./media";
import { Prefs } from "./prefs";
import { MediaSession } from "./session";
import { isValidRoomName, roomFromPath, roomNode } from "./roomname";
import { prompt } from "./ui/dialog";
import { clear, h } from "./ui/dom";
import { renderHome } from "./ui/home";
import { showKnock, showKnocking } from "./ui/lobby";
import { mountE2EE } from "./ui/e2ee";
import { renderMeeting } from "./ui/meeting";
import { showNotice } from "./ui/notice";
import { renderPrejoin, type JoinChoice } from "./ui/prejoin";
import { toast } from "./ui/toast";
import { showWaitingHost, type WaitingScreen } from "./ui/waiting";
import { Connection } from "./xmpp";
import { pickLanguage, setLanguage, t } from "./i18n";

const root = document.getElementById("app")!;
const prefs = new Prefs();
const home = () => location.assign("/");

/** What a browser must have; the first thing missing, or "" if none. */
function missingFeature(): string {
  if (typeof WebSocket !== "function") return "WebSocket";
  if (typeof RTCPeerConnection !== "function") return "WebRTC";
  if (!window.isSecureContext) return t("boot.missing.https");
  if (!navigator.mediaDevices?.getUserMedia) return t("boot.missing.devices");
  if (typeof crypto?.randomUUID !== "function") return "Web Crypto";
  if (typeof HTMLDialogElement !== "function" || typeof ResizeObserver !== "function") return t("boot.missing.browser");
  return "";
}

function boot() {
  // The language first: ?lang=de in the address, else the browser's preferred languages.
  setLanguage(pickLanguage(navigator.languages ?? [navigator.language], new URLSearchParams(location.search).get("lang")));
  const room = roomFromPath(location.pathname);
  if (!room) {
    renderHome(root, prefs, (name) => location.assign("/" + encodeURIComponent(name)));
    return;
  }
  const missing = missingFeature();
  if (missing) {
    showNotice(root, t("boot.unsupported.title"), t("boot.unsupported.text", { missing }), [{ label: t("common.home"), primary: true, run: home }], "unsupported");
    return;
  }
  if (!isValidRoomName(room)) {
    showNotice(root, t("boot.invalidRoom.title"), t("boot.invalidRoom.text"), [{ label: t("boot.startMeeting"), primary: true, run: home }], "invalid-room");
    return;
  }
  startRoom(room).catch((err) => {
    showNotice(root, t("boot.failed.title"), String((err as Error)?.message ?? err), [{ label: t("common.tryAgain"), primary: true, run: () => location.reload() }, { label: t("common.home"), run: home }]);
  });
}

async function startRoom(room: string) {
  let cfg: ServerConfig;
  try {
    cfg = await loadConfig();
  } catch {
    showUnreachable();
    return;
  }
  const overrides = readOverrides(location.hash);
  const media = new LocalMedia();
  media.noiseSuppression = prefs.noiseSuppression;
  let choice: JoinChoice = {
    displayName: overrides.displayName ?? (prefs.displayName || tokenDisplayName(tokenFromSearch(location.search))),
    audioMuted: overrides.startAudioMuted ?? false,
    videoMuted: overrides.startVideoMuted ?? false,
  };
  const problems: MediaProblem[] = [];
  if (overrides.prejoin === false) {
    for (const kind of ["audio", "video"] as MediaKind[]) {
      if (kind === "audio" ? choice.audioMuted : choice.videoMuted) continue;
      try {
        await media.start(kind);
      } catch (p) {
        problems.push(p as MediaProblem);
        if (kind === "audio") choice.audioMuted = true;
        else choice.videoMuted = true;
      }
    }
  } else {
    choice = await renderPrejoin(root, room, media, prefs, choice);
  }
  if (overrides.displayName && !prefs.displayName) prefs.displayName = overrides.displayName;

  showJoining(room);
  // A JWT on the meeting URL (?jwt=) goes to the WebSocket as ?token= and into the conference request (§10).
  const token = tokenFromSearch(location.search);
  const conn = new Connection({ service: serviceURL(cfg.websocket, token, roomNode(room)), domain: cfg.hosts.domain });
  const e2ee = await E2EE.create({ passphrase: overrides.e2eePassphrase, transform: overrides.e2eeTransform });
  // ?region= on the meeting URL: the bridge (join presence) and the TURN servers (XEP-0215) of that region.
  const region = regionFromSearch(location.search);
  const conf = new Conference(conn, cfg, room, roomNode(room), { ...choice, e2eeKey: e2ee.presenceKey, region }, prefs.machineUid(), { token, e2ee: e2ee.requested });
  // STUN/TURN servers (XEP-0215), asked again with every new XMPP session;
  // a media session waits for the answer (at most a few seconds).
  let iceServers: Promise<RTCIceServer[]> = Promise.resolve([]);
  conn.on("session", () => {
    iceServers = conn
      .iq(servicesRequest(cfg.hosts.domain, region), 5_000)
      .then(iceServersFrom)
      .catch(() => []);
  });
  const session = new MediaSession(conn, {
    iceServers: () => iceServers,
    iceTransportPolicy: overrides.iceTransportPolicy,
    roomJid: conf.roomJid,
    endpointId: () => conf.endpointId,
    tracks: () => ({ audio: media.audio, video: conf.local.videoMuted ? null : media.video }),
    host: location.host,
    domain: cfg.hosts.domain,
    e2ee: () => e2ee.sessionCrypto(),
  });
  session.on("connected", (c) => conf.setMediaConnected(c));
  session.on("state", (s) => conf.setMediaState(s));
  session.on("failed", (err) => conf.setMediaFailure(err.message));
  // The focus has no session of ours (a restarted server): ask it for the conference again.
  session.on("lost", () => void conf.requestMedia());
  // Reactions travel as EndpointMessages through the bridge channel (reactions.ts); a lower-hand request may come that way too (from Jitsi Meet).
  session.on("endpointMessage", (from, payload) => conf.onEndpointMessage(from, payload));
  conf.sendEndpointMessage = (to, payload) => session.sendEndpointMessage(to, payload);
  e2ee.attach(conn, conf, session);
  (window as unknown as { parley?: unknown }).parley = { conference: conf, connection: conn, session, e2ee };
  let teardown: (() => void) | null = null;
  let leaving = false;
  let waiting: WaitingScreen | null = null;

  const leave = async () => {
    leaving = true;
    await conf.leave();
  };
  addEventListener("pagehide", () => {
    if (!leaving) conf.leave();
  });

  conf.on("phase", async (p) => {
    if (p.phase !== "waiting-host" && waiting) {
      waiting.remove();
      waiting = null;
    }
    switch (p.phase) {
      case "waiting-host":
        waiting ??= showWaitingHost(root, room, { leave: () => void leave(), signIn: (u, pw) => conf.signIn(u, pw) });
        waiting.update(p.retryInMs);
        break;
      case "lobby":
        showKnock(root, room, conf.local.displayName, { knock: (name) => conf.knock(name), password: (pw) => conf.joinWithPassword(pw), leave: () => void leave() });
        break;
      case "knocking":
        showKnocking(root, room, conf.local.displayName, () => void leave());
        break;
      case "joining":
        if (!teardown && !document.getElementById("joining")) showJoining(room);
        break;
      case "joined":
        if (!teardown) {
          prefs.addRecentRoom(room);
          const invite = `${location.origin}/${encodeURIComponent(room)}`;
          teardown = renderMeeting(root, conf, media, session, invite, leave);
          const meeting = teardown, e2eeUI = mountE2EE(root, e2ee, cfg.hosts.focus);
          teardown = () => (e2eeUI(), meeting());
          for (const pr of problems) toast(pr.message, "error", 8000);
        }
        break;
      case "password": {
        const pw = await prompt({
          id: "password-dialog",
          title: t("password.title"),
          message: t("password.text"),
          error: p.detail && p.wrong ? t("password.refused", { detail: p.detail }) : p.wrong ? t("password.wrong") : undefined,
          label: t("common.password"),
          type: "password",
          confirm: t("common.join"),
          cancel: t("common.cancel"),
        });
        if (pw) conf.joinWithPassword(pw);
        else {
          leaving = true;
          await conf.leave();
        }
        break;
      }
      case "ended":
        teardown?.();
        teardown = null;
        session.close();
        media.stopAll();
        showEnded(room, p.reason, p.detail, leaving);
        break;
    }
  });
  await conf.start();
}

function showJoining(room: string) {
  clear(root);
  document.title = t("title.room", { room });
  root.append(
    h("main", { class: "joining", attrs: { id: "joining", "aria-busy": "true" } }, h("div", { class: "spinner", attrs: { "aria-hidden": "true" } }), h("p", { text: t("boot.joining", { room }) })),
  );
}

function showUnreachable() {
  showNotice(root, t("unreachable.title"), t("unreachable.text"), [
    { label: t("common.tryAgain"), primary: true, run: () => location.reload() },
    { label: t("common.home"), run: home },
  ], "unreachable");
}

function showEnded(room: string, reason: EndReason, detail: string, byUs: boolean) {
  const rejoin = { label: t("ended.rejoin"), primary: true, run: () => location.reload() };
  const goHome = { label: t("common.home"), run: home };
  const tryAgain = { label: t("common.tryAgain"), run: () => location.reload() };
  const goHomeFirst = { ...goHome, primary: true };
  const because = detail ? t("ended.reason", { reason: detail.replace(/[.\s]+$/, "") }) : "";
  switch (reason) {
    case "left":
      if (byUs) showNotice(root, t("ended.left.title"), t("ended.left.text", { room }), [rejoin, goHome], "left");
      else showNotice(root, t("ended.gone.title"), t("ended.gone.text"), [rejoin, goHome], "left");
      return;
    case "kicked":
      showNotice(root, t("ended.kicked.title"), t("ended.kicked.text", { because }), [goHomeFirst, { label: t("ended.rejoin"), run: () => location.reload() }], "kicked");
      return;
    case "banned":
      showNotice(root, t("ended.banned.title"), t("ended.banned.text", { because }), [goHomeFirst], "banned");
      return;
    case "full":
      showNotice(root, t("ended.full.title"), t("ended.full.text"), [{ ...tryAgain, primary: true }, goHome], "full");
      return;
    case "destroyed":
      // The server's reason ("The meeting has been terminated" from end for all), else a plain line.
      showNotice(root, t("ended.destroyed.title"), detail ? t("ended.destroyed.withReason", { reason: detail.replace(/[.\s]+$/, "") }) : t("ended.destroyed.text"), [goHomeFirst, { label: t("ended.destroyed.again"), run: () => location.reload() }], "ended");
      return;
    case "denied":
      showNotice(root, t("ended.denied.title"), t("ended.denied.text"), [goHomeFirst, { label: t("ended.denied.again"), run: () => location.reload() }], "lobby-denied");
      return;
    case "login-failed":
      // A refused token stays refused on a reload: the way on is a new link.
      showNotice(root, t("ended.login.title"), t("ended.login.text", { because }), [goHomeFirst, tryAgain], "login-failed");
      return;
    case "members-only":
      showNotice(root, t("ended.membersOnly.title"), t("ended.membersOnly.text"), [{ ...tryAgain, primary: true }, goHome], "members-only");
      return;
    case "unreachable":
      showUnreachable();
      return;
    case "auth-required":
      showNotice(root, t("ended.authRequired.title"), t("ended.authRequired.text"), [{ ...tryAgain, primary: true }, goHome], "auth-required");
      return;
    default:
      showNotice(root, t("boot.failed.title"), detail || t("ended.error.text"), [rejoin, goHome], "error");
  }
}

boot();
