// One conference as this participant sees it: connect, ask the focus for
// the conference (§3), join the room (§4.1), keep the participant list from
// presence, chat, local mute state, the room password (§4.4), and leave.
// No DOM here: the UI listens to the events and calls the methods.
//
//   connect ─► focus IQ ─► join presence ─► self-presence (110) ─► joined
//                 │ error: no media, join anyway   │ not-authorized ─► "password" ─► join(pw)
//                 │ not-authorized (secure domain) │ 407 + <lobbyroom> ─► "lobby" ─► knock() ─► "knocking"
//                 └► "waiting-host", asked again   │     invite from the room ─► join; kicked from the lobby ─► "denied"
//   connection lost ─► "reconnecting" ─► resumed (nothing to redo) or new session
//     ─► focus IQ and join again (a restarted server has neither the room nor
//     the conference: the focus must be asked, or media never comes back)
//   the media session lost (its restart refused, item-not-found) ─► requestMedia():
//     the focus IQ again; a focus that starts the conference invites us
// The lobby's and the moderators' stanzas are in lobby.ts and access.ts.
import type { Element } from "@xmpp/xml";
import { avModerationMessage, parseAVModeration, type AVModerationEvent } from "./avmoderation";
import { componentsFrom, domainInfoRequest, endConferenceMessage, grantOwnerIQ, hostWaitDelay } from "./access";
import { discoInfoResult } from "./caps";
import { ChatLog, type LoggedMessage } from "./chat";
import type { ServerConfig } from "./config";
import { Emitter } from "./emitter";
import { requestConference, type ConferenceRequest } from "./focus";
import { mediaPill, type MediaPill } from "./mediastatus";
import * as lobby from "./lobby";
import * as muc from "./muc";
import { LOWER_HAND_MESSAGE, parseEndpointPayload, reactionPayload, type ReactionId } from "./reactions";
import type { MediaState } from "./session";
import { randomHex8, type ConnState } from "./xmpp";
import { t, type Key } from "./i18n";

/** What the conference needs from the XMPP connection (Connection in xmpp.ts). */
export interface Transport {
  endpointId: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  send(el: Element): Promise<void>;
  iq(el: Element, timeoutMs?: number): Promise<Element>;
  on(event: "stanza", fn: (el: Element) => void): () => void;
  on(event: "state", fn: (s: ConnState) => void): () => void;
  on(event: "session", fn: (first: boolean) => void): () => void;
  on(event: "resumed", fn: () => void): () => void;
  on(event: "refused", fn: (reason: string) => void): () => void;
  handleIQ?(type: "get" | "set", ns: string, name: string, fn: (iq: Element, payload: Element) => Element | object | undefined): void;
  /** A new session signed in with an account (null: anonymous again); see Connection.signIn. */
  signIn?(credentials: { username: string; password: string } | null): Promise<void>;
}

/** The mute requests of §4.7, by what they mute. */
export const NSMute = {
  audio: "http://jitsi.org/jitmeet/audio",
  video: "http://jitsi.org/jitmeet/video",
} as const;
export type MuteKind = keyof typeof NSMute;

export type EndReason =
  | "left"
  | "kicked"
  | "banned"
  | "full"
  | "destroyed"
  | "members-only"
  | "unreachable"
  | "auth-required"
  | "login-failed" // the server refused the login (a bad or expired token): detail is its reason
  | "denied" // a moderator did not let us in from the lobby
  | "error";

export type Phase =
  | { phase: "connecting" }
  | { phase: "joining" }
  | { phase: "password"; wrong: boolean; detail: string }
  /** A secure domain and nobody has started the room: the focus is asked again in retryInMs. */
  | { phase: "waiting-host"; retryInMs: number }
  /** The lobby is on: knock() to ask to be let in. */
  | { phase: "lobby"; lobbyRoom: string }
  | { phase: "knocking" }
  | { phase: "joined" }
  | { phase: "reconnecting" }
  | { phase: "ended"; reason: EndReason; detail: string };

export interface Participant extends muc.Occupant {
  local: boolean;
}

export class Conference extends Emitter<{
  phase: [Phase];
  participants: [];
  local: [];
  room: [];
  chat: [LoggedMessage];
  notice: [string];
  /** The focus asked us to mute (a moderator's request, §4.7): what, and who asked (display name). */
  mutedBy: [MuteKind, string];
  /** The people knocking changed (moderators), or the lobby was turned on or off. */
  lobby: [];
  /** AV moderation of the microphone changed: on/off, or whether we may unmute ("approved"/"removed"), or who may (moderators). */
  avModeration: [what: "enabled" | "disabled" | "approved" | "removed" | "whitelist", actor: string];
  /** Someone else's hand went up (true) or down (false). */
  hand: [id: string, raised: boolean];
  /** A moderator lowered our hand (their display name). */
  handLowered: [actor: string];
  /** Someone reacted (our own reactions too, with our endpoint ID). */
  reaction: [from: string, reactions: ReactionId[]];
}> {
  readonly roomJid: string;
  phase: Phase = { phase: "connecting" };
  participants = new Map<string, Participant>();
  chat = new ChatLog();
  chatOpen = false;
  locked = false;
  /** Whether a focus answered ready, so a media session can be offered. */
  mediaAvailable = false;
  /** Whether audio and video flow (a Jingle session with the bridge); set by the media session (session.ts). */
  mediaConnected = false;
  /** Whether audio and video have flowed in this meeting before (a session in "reconnecting" is then coming back). */
  mediaEverConnected = false;
  /** Whether a media session that was lost is being restarted or replaced; set by the media session. */
  mediaReconnecting = false;
  /** The condition the focus failed with when media is not available. */
  mediaUnavailable = "";
  /** The media session's state; set by the media session. */
  mediaState: MediaState = "idle";
  /** Why the last media session could not be set up ("" if none failed); set by the media session. */
  mediaFailure = "";
  /** Whether the first media session has taken longer than mediaWaitMs since joining. */
  mediaOverdue = false;
  private mediaTimer: ReturnType<typeof setTimeout> | undefined;
  role: muc.Role = "none";
  /** Whether the lobby is on (the room is members-only, §4.5). */
  lobbyOn = false;
  /** People knocking, seen by moderators in the lobby room. */
  knockers = new Map<string, lobby.Knocker>();
  /** Component addresses by identity type (§2.5): "end_conference", "lobbyrooms" … */
  components = new Map<string, string>();
  /** Whether AV moderation holds the microphone (§4.8), whether we are allowed to unmute, and (moderators) who is. */
  micModerated = false;
  micApproved = false;
  micAllowed = new Set<string>(); // endpoint ids
  /**
   * Sends an EndpointMessage through the bridge channel ("" to everyone);
   * false when there is no channel. main.ts sets it to the media session's.
   */
  sendEndpointMessage: (to: string, payload: Record<string, unknown>) => boolean = () => false;
  private lobbyRoom = "";
  private knockedAs = ""; // the name we knocked with, to knock again after a new session
  private inLobby = false; // a moderator's seat in the lobby room
  private hostWaits = 0;
  private hostTimer: ReturnType<typeof setTimeout> | undefined;
  private focusJids = new Set<string>();
  private password = "";
  private triedPassword = false;
  private nick = "";
  private joinTimer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;
  private askingFocus = false;
  private off: (() => void)[] = [];

  constructor(
    private conn: Transport,
    private cfg: ServerConfig,
    readonly roomName: string,
    roomNode: string,
    public local: muc.LocalState,
    private machineUid: string,
    private opts: { token?: string; hostWait?: (attempt: number) => number; mediaWaitMs?: number; e2ee?: boolean } = {},
  ) {
    super();
    this.roomJid = `${roomNode}@${cfg.hosts.muc}`;
  }

  get endpointId(): string {
    return this.nick;
  }

  get isModerator(): boolean {
    return this.role === "moderator";
  }

  private setPhase(p: Phase) {
    this.phase = p;
    if (p.phase === "joined" && !this.mediaConnected && !this.mediaOverdue && this.mediaTimer === undefined) {
      // A first session takes a few seconds; only one that never comes is a failure (the pill, mediastatus.ts).
      this.mediaTimer = setTimeout(() => {
        this.mediaTimer = undefined;
        if (this.mediaConnected || this.phase.phase === "ended") return;
        this.mediaOverdue = true;
        this.emit("room");
      }, this.opts.mediaWaitMs ?? 20_000);
      (this.mediaTimer as { unref?: () => void }).unref?.(); // (Node, the unit tests: not what keeps them running)
    } else if (p.phase === "ended") {
      clearTimeout(this.mediaTimer);
      this.mediaTimer = undefined;
    }
    this.emit("phase", p);
  }

  /** Connects, asks the focus and joins; failures end in phase "ended". */
  async start(): Promise<void> {
    this.off.push(
      this.conn.on("stanza", (el) => this.onStanza(el)),
      this.conn.on("state", (s) => {
        if (s === "reconnecting" && this.phase.phase !== "ended") this.setPhase({ phase: "reconnecting" });
      }),
      this.conn.on("refused", (reason) => this.end("login-failed", reason)),
      this.conn.on("resumed", () => {
        if (this.phase.phase === "reconnecting") this.setPhase({ phase: "joined" });
      }),
      this.conn.on("session", (first) => {
        // Waiting for the host or at the knock screen there is nothing to redo; the next step uses the new session.
        if (!first && !["ended", "waiting-host", "lobby"].includes(this.phase.phase)) this.rejoin();
      }),
    );
    for (const kind of ["audio", "video"] as const) {
      this.conn.handleIQ?.("set", NSMute[kind], "mute", (iq, el) => this.onMuteRequest(kind, iq, el));
    }
    this.conn.handleIQ?.("get", muc.NS.discoInfo, "query", () => discoInfoResult());
    this.setPhase({ phase: "connecting" });
    try {
      await this.conn.connect();
    } catch (err) {
      this.end((err as { kind?: string }).kind === "auth" ? "login-failed" : "unreachable", String((err as Error).message ?? err));
      return;
    }
    this.nick = this.conn.endpointId || randomHex8();
    this.conn
      .iq(domainInfoRequest(this.cfg.hosts.domain), 10_000)
      .then((res) => {
        this.components = componentsFrom(res);
        this.emit("room");
      })
      .catch(() => {});
    await this.askFocusAndJoin();
  }

  private focusRequest(): ConferenceRequest {
    return {
      focus: this.cfg.hosts.focus,
      room: this.roomJid,
      machineUid: this.machineUid,
      startAudioMuted: this.local.audioMuted,
      startVideoMuted: this.local.videoMuted,
      token: this.opts.token,
      e2ee: this.opts.e2ee,
    };
  }

  private async askFocusAndJoin() {
    this.setPhase({ phase: "joining" });
    const outcome = await requestConference(this.focusRequest(), (iq) => this.conn.iq(iq, 10_000));
    if (this.phase.phase === "ended") return;
    switch (outcome.kind) {
      case "ready":
        this.mediaAvailable = true;
        this.mediaUnavailable = "";
        if (outcome.reply.focusJid) this.focusJids.add(outcome.reply.focusJid);
        break;
      case "auth-required":
        // A secure domain: guests wait until someone signed in starts the room (§3.3).
        this.waitForHost();
        return;
      case "unavailable":
        this.mediaAvailable = false;
        this.mediaUnavailable = outcome.condition;
        break;
    }
    this.emit("room");
    this.sendJoin();
  }

  private waitForHost() {
    const retryInMs = (this.opts.hostWait ?? hostWaitDelay)(this.hostWaits++);
    this.setPhase({ phase: "waiting-host", retryInMs });
    clearTimeout(this.hostTimer);
    this.hostTimer = setTimeout(() => {
      if (this.phase.phase === "waiting-host") this.askFocusAndJoin();
    }, retryInMs);
  }

  /**
   * "I am the host": while waiting for the host, signs in with an account
   * and asks the focus again, now as someone who may start the room. A
   * refused login throws a readable Error and the wait goes on as a guest.
   */
  async signIn(username: string, password: string): Promise<void> {
    if (this.phase.phase !== "waiting-host" || !this.conn.signIn) throw new Error(t("error.signInNotNow"));
    clearTimeout(this.hostTimer);
    this.setPhase({ phase: "connecting" });
    try {
      await this.conn.signIn({ username, password });
    } catch (err) {
      const why = String((err as Error).message ?? err);
      try {
        await this.conn.signIn(null);
      } catch (e) {
        this.end("unreachable", String((e as Error).message ?? e));
        throw new Error(why);
      }
      this.nick = this.conn.endpointId || randomHex8();
      this.waitForHost();
      throw new Error((err as { kind?: string }).kind === "auth" ? `${why.charAt(0).toUpperCase()}${why.slice(1).replace(/[.\s]+$/, "")}.` : why);
    }
    this.nick = this.conn.endpointId || randomHex8();
    this.hostWaits = 0;
    await this.askFocusAndJoin();
  }

  private sendJoin() {
    clearTimeout(this.joinTimer);
    this.triedPassword = !!this.password;
    this.conn.send(muc.joinPresence(this.roomJid, this.nick, this.local, this.password || undefined)).catch(() => {});
    this.joinTimer = setTimeout(() => {
      if (this.phase.phase === "joining") this.end("error", t("error.roomNoAnswer"));
    }, 20_000);
  }

  /** Joins again with a password (after phase "password"). */
  joinWithPassword(password: string): void {
    this.password = password;
    this.setPhase({ phase: "joining" });
    this.sendJoin();
  }

  private rejoin() {
    // A new session: the room forgot us (and the lobby room too), and the
    // server may have restarted with no conference at all. Ask the focus
    // again and join as the same endpoint.
    this.participants.clear();
    this.inLobby = false;
    this.knockers.clear();
    this.emit("participants");
    void this.askFocusAndJoin();
  }

  /**
   * Asks the focus for the conference again while joined, when the media
   * session learns that the focus has no session of ours (session.ts
   * "lost"): a focus that had no conference starts one, joins the room and
   * invites everyone in it. Nothing else changes; a refusal leaves the
   * meeting without media (the "unavailable" pill).
   */
  async requestMedia(): Promise<void> {
    if (this.phase.phase !== "joined" || this.askingFocus) return;
    this.askingFocus = true;
    try {
      const outcome = await requestConference(this.focusRequest(), (iq) => this.conn.iq(iq, 10_000));
      if (outcome.kind === "ready" && outcome.reply.focusJid) this.focusJids.add(outcome.reply.focusJid);
      const available = outcome.kind === "ready";
      this.mediaUnavailable = outcome.kind === "unavailable" ? outcome.condition : "";
      if (available !== this.mediaAvailable) {
        this.mediaAvailable = available;
        this.emit("room");
      }
    } finally {
      this.askingFocus = false;
    }
  }

  private onStanza(el: Element) {
    if (el.name === "presence") {
      const lev = lobby.parseLobbyPresence(el, this.lobbyRoom, this.nick);
      if (lev) this.onLobbyPresence(lev);
      else this.onPresence(el);
    } else if (el.name === "message") {
      const invite = lobby.inviteFrom(el, this.roomJid);
      const av = invite ? null : parseAVModeration(el, this.avComponent, this.roomJid);
      if (invite) this.onInvite(invite.password);
      else if (av) this.onAVModeration(av);
      else this.onMessage(el);
    }
  }

  private onPresence(el: Element) {
    const ev = muc.parsePresence(el, this.roomJid, this.nick);
    if (!ev) return;
    switch (ev.type) {
      case "error":
        if (ev.id !== this.nick) return;
        if (this.phase.phase === "joining" && lobby.displayNameRequired(el)) {
          // The lobby is on and we gave no name: ask for one; knocking joins again with it (then 407).
          clearTimeout(this.joinTimer);
          this.lobbyRoom = "";
          this.setPhase({ phase: "lobby", lobbyRoom: "" });
          return;
        }
        if (ev.error.kind === "members-only" && this.phase.phase === "joining") {
          const room = lobby.lobbyRoomOf(el);
          if (room) {
            clearTimeout(this.joinTimer);
            this.lobbyRoom = room;
            this.setPhase({ phase: "lobby", lobbyRoom: room });
            // Knocked before this session was lost: knock again rather than ask again.
            if (this.knockedAs) this.knock(this.knockedAs);
            return;
          }
        }
        this.onJoinError(ev.error);
        return;
      case "available": {
        const o = ev.occupant;
        if (muc.isFocus(o, this.focusJids)) return;
        if (ev.self) {
          const first = this.phase.phase === "joining";
          const promoted = !first && o.role === "moderator" && this.role !== "moderator";
          this.role = o.role;
          if (promoted) this.refreshRoomInfo();
          this.participants.set(o.id, { ...o, local: true, displayName: this.local.displayName, raisedHand: this.local.raisedHand ?? 0 });
          if (first) {
            clearTimeout(this.joinTimer);
            this.retries = 0;
            this.setPhase({ phase: "joined" });
            if (ev.codes.has("201")) {
              // We created the room (no focus did): accept the default configuration.
              this.conn.iq(muc.instantRoom(this.roomJid)).catch(() => {});
            }
            this.refreshRoomInfo();
          }
          this.emit("local");
        } else {
          const before = this.participants.get(o.id)?.raisedHand ?? 0;
          // A hand raised without a time ("true", older clients) keeps the time it was first seen.
          const raisedHand = o.raisedHand < 0 ? (before > 0 ? before : Date.now()) : o.raisedHand;
          this.participants.set(o.id, { ...o, local: false, raisedHand });
          if (raisedHand > 0 !== before > 0 && this.phase.phase === "joined") this.emit("hand", o.id, raisedHand > 0);
        }
        this.emit("participants");
        return;
      }
      case "unavailable":
        if (ev.self && ev.newNick === undefined) {
          const reasons: Record<muc.ExitReason, EndReason> = {
            kicked: "kicked",
            banned: "banned",
            affiliation: "kicked",
            "members-only": "members-only",
            shutdown: "destroyed",
            destroyed: "destroyed",
            left: "left",
          };
          this.end(reasons[ev.exit], ev.reason);
          return;
        }
        if (this.participants.delete(ev.id)) this.emit("participants");
        return;
    }
  }

  private onJoinError(e: muc.JoinError) {
    if (this.phase.phase !== "joining") return;
    clearTimeout(this.joinTimer);
    switch (e.kind) {
      case "password":
        this.setPhase({ phase: "password", wrong: this.triedPassword, detail: e.text });
        return;
      case "nick-conflict":
        this.nick = randomHex8();
        if (++this.retries <= 3) this.sendJoin();
        else this.end("error", t("error.noFreeName"));
        return;
      case "not-allowed":
      case "locked":
        // Room creation is restricted or the room is being set up: ask the focus again (LJM retries 3×).
        if (++this.retries <= 3) {
          setTimeout(() => this.askFocusAndJoin(), 1000 * this.retries);
        } else {
          this.end("error", e.text || t("error.roomNotCreated"));
        }
        return;
      case "full":
        this.end("full", e.text);
        return;
      case "banned":
        this.end("banned", e.text);
        return;
      case "members-only":
        this.end("members-only", e.text);
        return;
      default:
        this.end("error", e.text || e.condition);
    }
  }

  private onMessage(el: Element) {
    if (el.attrs.type === "error") {
      if ((el.attrs.from ?? "").toLowerCase().startsWith(this.roomJid.toLowerCase())) {
        const { condition } = muc.stanzaError(el);
        this.emit("notice", condition === "forbidden" || condition === "not-acceptable" ? t("error.messageRefused") : t("error.messageUndelivered"));
      }
      return;
    }
    if (muc.roomStatusCodes(el, this.roomJid).has("104")) this.refreshRoomInfo();
    // An occupant's json-message is an endpoint message, as LJM takes it (a moderator lowering our hand).
    const json = muc.parseOccupantJSON(el, this.roomJid);
    if (json) return this.onEndpointMessage(json.from, json.payload);
    const m = muc.parseChat(el, this.roomJid);
    if (!m) return;
    const logged: LoggedMessage = { ...m, mine: m.from === this.nick && !m.private };
    if (this.chat.add(logged, this.chatOpen)) this.emit("chat", logged);
  }

  private async refreshRoomInfo() {
    let info: lobby.RoomAccess;
    try {
      info = lobby.roomAccess(await this.conn.iq(muc.roomInfoRequest(this.roomJid)));
    } catch {
      return; // Room info is a nicety; the lock state shows after the next change.
    }
    this.locked = info.passwordProtected;
    this.lobbyOn = info.membersOnly;
    if (info.lobbyRoom) this.lobbyRoom = info.lobbyRoom;
    this.syncLobbySeat();
    this.emit("room");
    this.emit("lobby");
  }

  /** Moderators sit in the lobby room while the lobby is on, to see who knocks (§4.5 step 3). */
  private syncLobbySeat() {
    if (this.phase.phase !== "joined") return;
    const want = this.lobbyOn && this.isModerator;
    if (want && !this.inLobby) {
      this.lobbyRoom ||= this.components.get("lobbyrooms") ? `${this.roomJid.split("@")[0]}@${this.components.get("lobbyrooms")}` : lobby.defaultLobbyRoom(this.roomJid, this.cfg.hosts.domain);
      this.inLobby = true;
      this.conn.send(lobby.knockPresence(this.lobbyRoom, this.nick, this.local.displayName)).catch(() => {});
    } else if (!want && this.inLobby) {
      this.inLobby = false;
      this.conn.send(muc.leavePresence(this.lobbyRoom, this.nick)).catch(() => {});
      this.knockers.clear();
    }
  }

  private onLobbyPresence(ev: lobby.LobbyEvent) {
    const p = this.phase.phase;
    if (p === "knocking" || p === "lobby") {
      // Our own knock: a refusal, a denial (kicked), or the lobby closing.
      if (!ev.self) return;
      if (ev.type === "error") this.end(ev.condition === "forbidden" ? "banned" : "error", ev.text || t("error.lobbyRefused", { condition: ev.condition }));
      else if (ev.type === "gone" && ev.kicked) this.end("denied");
      else if (ev.type === "gone" && ev.destroyed && ev.to && muc.bareOf(ev.to).toLowerCase() === this.roomJid.toLowerCase()) this.onInvite("");
      else if (ev.type === "gone" && ev.destroyed) this.end("destroyed");
      return;
    }
    if (!this.inLobby || ev.self) return;
    if (ev.type === "here") {
      const k = ev.knocker;
      // Someone already in the main room (another moderator) is not knocking.
      const inRoom = k.jid !== "" && [...this.participants.values()].some((o) => o.jid === k.jid);
      if (inRoom) return;
      this.knockers.set(k.id, k);
    } else if (!this.knockers.delete(ev.id)) return;
    this.emit("lobby");
  }

  /** The main room invited us (a moderator admitted our knock): leave the lobby and join. */
  private onInvite(password: string) {
    if (this.phase.phase !== "knocking" && this.phase.phase !== "lobby") return;
    if (this.phase.phase === "knocking") this.conn.send(muc.leavePresence(this.lobbyRoom, this.nick)).catch(() => {});
    if (password) this.password = password;
    this.lobbyRoom = "";
    this.setPhase({ phase: "joining" });
    this.sendJoin();
  }

  /** Knocks on the lobby (after phase "lobby") with the name moderators will see. */
  knock(displayName: string): void {
    if (this.phase.phase !== "lobby") return;
    this.local = { ...this.local, displayName: displayName.trim().slice(0, 64) };
    this.knockedAs = this.local.displayName;
    if (!this.lobbyRoom) {
      // The room has not named its lobby yet (the 406 for a missing name): join with the name, and knock on the 407.
      this.setPhase({ phase: "joining" });
      this.sendJoin();
      return;
    }
    this.setPhase({ phase: "knocking" });
    this.conn.send(lobby.knockPresence(this.lobbyRoom, this.nick, this.local.displayName)).catch(() => {});
  }

  /** Turns the lobby on or off (moderators only, §4.5 step 1). Throws a readable Error. */
  async setLobby(on: boolean): Promise<void> {
    if (on) {
      const others = [...this.participants.values()].filter((p) => !p.local && p.jid && !["owner", "admin", "member"].includes(p.affiliation));
      const members = lobby.membersIQ(this.roomJid, others.map((p) => p.jid!));
      if (members) await this.conn.iq(members).catch(() => {});
    }
    try {
      await this.conn.iq(lobby.membersOnlyForm(this.roomJid, on));
    } catch (err) {
      throw new Error(describeIqError(err, on ? "action.lobbyOn" : "action.lobbyOff"));
    }
    await this.refreshRoomInfo();
  }

  /** Lets a knocker in: a mediated invite to the main room (§4.5 step 4). */
  async admit(id: string): Promise<void> {
    const k = this.knockers.get(id);
    if (!k?.jid) throw new Error(t("error.noLongerWaiting"));
    await this.conn.send(lobby.admitMessage(this.roomJid, [k.jid]));
    this.knockers.delete(id);
    this.emit("lobby");
  }

  /** Turns a knocker away: kicked from the lobby room. Throws a readable Error. */
  async deny(id: string): Promise<void> {
    try {
      await this.conn.iq(lobby.denyIQ(this.lobbyRoom, id));
    } catch (err) {
      throw new Error(describeIqError(err, "action.deny"));
    }
    if (this.knockers.delete(id)) this.emit("lobby");
  }

  /** Makes a participant a moderator (owner, §4.6). Throws a readable Error. */
  async grantModerator(id: string): Promise<void> {
    const p = this.participants.get(id);
    if (!p?.jid) throw new Error(t("error.noAddress", { name: this.displayNameOf(id) }));
    try {
      await this.conn.iq(grantOwnerIQ(this.roomJid, p.jid));
    } catch (err) {
      throw new Error(describeIqError(err, "action.grant"));
    }
  }

  /** Asks the focus to mute every other participant's microphone (§4.7); resolves with how many were asked. */
  async muteEveryone(): Promise<number> {
    const ids = [...this.participants.values()].filter((p) => !p.local && !p.audioMuted).map((p) => p.id);
    const results = await Promise.allSettled(ids.map((id) => this.askToMute(id, "audio")));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    return ids.length;
  }

  /** The AV moderation component: as advertised (§2.5), else Jitsi's default address. */
  private get avComponent(): string {
    return this.components.get("av_moderation") ?? `avmoderation.${this.cfg.hosts.domain}`;
  }

  private onAVModeration(ev: AVModerationEvent) {
    if (ev.mediaType !== "audio") return; // the client moderates microphones only
    const actor = muc.resourceOf(ev.actor);
    if (ev.whitelists) {
      this.micAllowed = new Set((ev.whitelists.audio ?? []).filter((j) => muc.bareOf(j).toLowerCase() === this.roomJid.toLowerCase()).map(muc.resourceOf));
      this.emit("avModeration", "whitelist", actor);
    } else if (ev.enabled !== undefined) {
      this.micModerated = ev.enabled;
      if (!ev.enabled) this.micAllowed.clear();
      this.micApproved = false;
      this.emit("avModeration", ev.enabled ? "enabled" : "disabled", actor ? this.displayNameOf(actor) : t("mod.aModerator"));
      // Moderation on: a participant's open microphone is closed until a moderator allows it (as Jitsi's client does).
      if (ev.enabled && !this.isModerator && !this.local.audioMuted) queueMicrotask(() => this.emit("mutedBy", "audio", actor ? this.displayNameOf(actor) : t("mod.aModerator")));
    } else if (ev.approved) {
      this.micApproved = true;
      this.emit("avModeration", "approved", actor ? this.displayNameOf(actor) : t("mod.aModerator"));
    } else if (ev.removed) {
      this.micApproved = false;
      this.emit("avModeration", "removed", "");
      if (this.micModerated && !this.isModerator && !this.local.audioMuted) queueMicrotask(() => this.emit("mutedBy", "audio", t("mod.aModerator")));
    }
    this.emit("room");
  }

  /** Whether we may unmute the microphone now (AV moderation, §4.8). */
  get mayUnmuteMic(): boolean {
    return !this.micModerated || this.isModerator || this.micApproved;
  }

  /** Turns moderation of microphones on or off (moderators only; the component refuses others). */
  async setMicModeration(on: boolean): Promise<void> {
    await this.conn.send(avModerationMessage(this.avComponent, "audio", { enable: on }));
  }

  /** Allows a participant to unmute while microphones are moderated. */
  async allowToSpeak(id: string): Promise<void> {
    await this.conn.send(avModerationMessage(this.avComponent, "audio", { allow: `${this.roomJid}/${id}` }));
  }

  /** Whether the server can end the meeting for everyone (an end_conference component, §2.5). */
  get canEndForAll(): boolean {
    return this.components.has("end_conference");
  }

  /** Ends the meeting for everyone (moderators only): the room is destroyed and everyone sees why. */
  async endForAll(): Promise<void> {
    const component = this.components.get("end_conference");
    if (!component) throw new Error(t("error.cannotEndForAll"));
    await this.conn.send(endConferenceMessage(component));
  }

  private end(reason: EndReason, detail = "") {
    clearTimeout(this.joinTimer);
    clearTimeout(this.hostTimer);
    if (this.phase.phase === "ended") return;
    this.setPhase({ phase: "ended", reason, detail });
    for (const f of this.off) f();
    this.off = [];
    this.conn.close().catch(() => {});
  }

  private sendPresence() {
    if (this.phase.phase !== "joined") return;
    this.conn.send(muc.updatePresence(this.roomJid, this.nick, this.local)).catch(() => {});
  }

  /** Called by the media session: its state ("reconnecting": the pill says "Reconnecting media…"). */
  setMediaState(state: MediaState): void {
    if (state === this.mediaState) return;
    this.mediaState = state;
    this.mediaReconnecting = state === "reconnecting";
    this.emit("room");
  }

  /** Called by the media session: why a session could not be set up (the pill says so). */
  setMediaFailure(why: string): void {
    if (why === this.mediaFailure) return;
    this.mediaFailure = why;
    this.emit("room");
  }

  /** Called by the media session: whether audio and video flow (the pill hides). */
  setMediaConnected(connected: boolean): void {
    if (connected === this.mediaConnected) return;
    this.mediaConnected = connected;
    if (connected) {
      this.mediaEverConnected = true;
      this.mediaFailure = "";
      this.mediaOverdue = false;
      clearTimeout(this.mediaTimer);
      this.mediaTimer = undefined;
    }
    this.emit("room");
  }

  /** What the meeting's media pill says (mediastatus.ts). */
  get mediaPill(): MediaPill {
    return mediaPill({
      available: this.mediaAvailable,
      unavailableCondition: this.mediaUnavailable,
      connected: this.mediaConnected,
      state: this.mediaState,
      failure: this.mediaFailure,
      overdue: this.mediaOverdue,
      everConnected: this.mediaEverConnected,
    });
  }

  setAudioMuted(muted: boolean): void {
    this.local = { ...this.local, audioMuted: muted };
    this.updateSelf();
  }

  setVideoMuted(muted: boolean): void {
    this.local = { ...this.local, videoMuted: muted };
    this.updateSelf();
  }

  setDisplayName(name: string): void {
    this.local = { ...this.local, displayName: name };
    this.updateSelf();
  }

  private updateSelf() {
    const me = this.participants.get(this.nick);
    if (me) this.participants.set(this.nick, { ...me, ...this.local, raisedHand: this.local.raisedHand ?? 0 });
    this.sendPresence();
    this.emit("local");
    this.emit("participants");
  }

  /**
   * Raises or lowers our hand: <jitsi_participant_raisedHand> in presence
   * with the time it went up, "0" when lowered (§9). Raising it again
   * keeps its place in the queue.
   */
  raiseHand(up: boolean): void {
    if (up === (this.local.raisedHand ?? 0) > 0) return;
    this.local = { ...this.local, raisedHand: up ? Date.now() : 0 };
    this.updateSelf();
  }

  /** Whether our hand is up. */
  get handRaised(): boolean {
    return (this.local.raisedHand ?? 0) > 0;
  }

  /** Everyone whose hand is up, in the order the hands went up. */
  get raisedHands(): Participant[] {
    return [...this.participants.values()].filter((p) => p.raisedHand > 0).sort((a, b) => a.raisedHand - b.raisedHand || a.id.localeCompare(b.id));
  }

  /**
   * Asks someone to lower their hand (moderators): the payload Jitsi Meet
   * sends, {"name":"lower-hand-message"}, in a private json-message through
   * the room (§9), which LJM takes for an endpoint message as it takes one
   * through the bridge channel. Through the bridge it would be lost while
   * the recipient's channel is not open yet (the bridge drops a message to
   * an endpoint without one) or while ours is not; the room delivers it to
   * anyone in it. Throws a readable Error.
   */
  askToLowerHand(id: string): void {
    if (!this.isModerator) throw new Error(t("error.lowerHandsModerators"));
    if (this.phase.phase !== "joined" || !this.participants.has(id)) throw new Error(t("error.lowerHandGone", { name: this.displayNameOf(id) }));
    this.conn.send(muc.privateJSON(this.roomJid, id, { name: LOWER_HAND_MESSAGE }, crypto.randomUUID())).catch(() => {});
  }

  /** Sends a reaction to everyone (an "endpoint-reaction" EndpointMessage) and shows it here too. Throws a readable Error. */
  sendReaction(id: ReactionId): void {
    if (!this.sendEndpointMessage("", reactionPayload([id]))) throw new Error(t("error.reactionsNoMedia"));
    this.emit("reaction", this.nick, [id]);
  }

  /** An EndpointMessage from another endpoint (the media session's): reactions, and a moderator lowering our hand. */
  onEndpointMessage(from: string, payload: Record<string, unknown>): void {
    const sender = this.participants.get(from);
    if (!sender || sender.local) return;
    const ev = parseEndpointPayload(payload);
    if (ev?.kind === "reactions") this.emit("reaction", from, ev.reactions);
    else if (ev?.kind === "lower-hand" && sender.role === "moderator" && this.handRaised) {
      this.raiseHand(false);
      this.emit("handLowered", this.displayNameOf(from));
    }
  }

  /** Sends a chat message to the room, or privately to one participant. */
  sendChat(body: string, to?: string): void {
    body = body.trim();
    if (!body || this.phase.phase !== "joined") return;
    const id = crypto.randomUUID();
    if (to) {
      this.conn.send(muc.privateChat(this.roomJid, to, body, id)).catch(() => {});
      // Private messages are not echoed by the room: log ours now.
      const logged: LoggedMessage = { id, from: this.nick, to, body, private: true, at: new Date(), history: false, mine: true };
      if (this.chat.add(logged, this.chatOpen)) this.emit("chat", logged);
    } else {
      this.conn.send(muc.groupchat(this.roomJid, body, id)).catch(() => {});
    }
  }

  /** Sets (or with "" clears) the room password; moderators only. Throws a readable Error. */
  async setPassword(password: string): Promise<void> {
    let form: Map<string, string[]>;
    try {
      form = muc.formFields(await this.conn.iq(muc.ownerFormRequest(this.roomJid)));
    } catch (err) {
      throw new Error(describeIqError(err, "action.readRoom"));
    }
    try {
      await this.conn.iq(muc.passwordForm(this.roomJid, password, form));
    } catch (err) {
      throw new Error(describeIqError(err, password ? "action.lock" : "action.unlock"));
    }
    this.password = password;
    this.locked = !!password;
    this.emit("room");
  }

  /** Removes a participant (moderators only). Throws a readable Error. */
  async kick(id: string, reason = ""): Promise<void> {
    try {
      await this.conn.iq(muc.kickIQ(this.roomJid, id, reason));
    } catch (err) {
      throw new Error(describeIqError(err, "action.kick"));
    }
  }

  /**
   * A mute request (§4.7): taken only from the focus's occupant JID, with the
   * text "true" and for this participant; then replied with a result and
   * "mutedBy" emitted (the UI mutes). Anything else gets an error reply
   * and changes nothing.
   */
  private onMuteRequest(kind: MuteKind, iq: Element, el: Element): Element | object {
    const refuse = (condition: string) => muc.errorElement("cancel", condition);
    if (this.phase.phase !== "joined" && this.phase.phase !== "reconnecting") return refuse("not-allowed");
    if ((iq.attrs.from ?? "") !== `${this.roomJid}/focus`) return refuse("forbidden");
    if (el.getText().trim() !== "true") return refuse("bad-request");
    const target = el.attrs.jid;
    if (target !== undefined && target !== `${this.roomJid}/${this.nick}`) return refuse("item-not-found");
    const actor = muc.resourceOf(el.attrs.actor ?? "");
    queueMicrotask(() => this.emit("mutedBy", kind, actor ? this.displayNameOf(actor) : t("mod.aModerator")));
    return {};
  }

  /**
   * Asks the focus to mute a participant's microphone or camera (§4.7;
   * moderators only). Throws a readable Error when the focus refuses.
   */
  async askToMute(id: string, kind: MuteKind): Promise<void> {
    try {
      await this.conn.iq(muc.muteRequest(this.roomJid, id, NSMute[kind]));
    } catch (err) {
      // The focus says why (§4.7): "only moderators can mute others", "no such participant"…
      const text = (err as { text?: string }).text;
      if (text) throw new Error(t(kind === "audio" ? "error.muteRefused" : "error.camOffRefused", { name: this.displayNameOf(id), reason: text.replace(/[.\s]+$/, "") }));
      throw new Error(describeIqError(err, kind === "audio" ? "action.muteOthers" : "action.camOffOthers"));
    }
  }

  /** Says in presence whether we share a screen (SourceInfo "<endpoint>-v1", §4.1). */
  setSharing(sharing: boolean): void {
    this.local = { ...this.local, sharing };
    this.updateSelf();
  }

  /** Leaves the room and closes the connection. */
  async leave(): Promise<void> {
    if (this.phase.phase === "joined" || this.phase.phase === "joining") {
      await this.conn.send(muc.leavePresence(this.roomJid, this.nick)).catch(() => {});
    }
    if (this.inLobby || this.phase.phase === "knocking") {
      await this.conn.send(muc.leavePresence(this.lobbyRoom, this.nick)).catch(() => {});
    }
    this.end("left");
  }

  displayNameOf(id: string): string {
    const p = this.participants.get(id);
    return p?.displayName || guestName(id);
  }
}

export function guestName(id: string): string {
  return t("guest.name", { id: id.slice(0, 4) });
}

/** A refused or unanswered request in words; what names the action ("action.lock": "lock the room"). */
function describeIqError(err: unknown, what: Key): string {
  const c = (err as { condition?: string }).condition;
  const action = t(what);
  if (c === "forbidden" || c === "not-allowed" || c === "not-authorized") return t("error.moderatorsOnly", { action });
  if ((err as Error).name === "TimeoutError") return t("error.noAnswer", { action });
  return c ? t("error.couldNotWhy", { action, condition: c }) : t("error.couldNot", { action });
}
