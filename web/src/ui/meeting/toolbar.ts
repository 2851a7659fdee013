// The toolbar: microphone, camera, screen share, grid or stage, raise
// hand, reactions, chat (with the unread count, also in the tab's title),
// participants, settings, invite link, room lock, the moderation menu and leave.
// Its buttons show the state (render*); what they do is in Actions.
import { prompt } from "../dialog";
import { clear, h, icon } from "../dom";
import type { ModerationControls } from "../moderation";
import { setToggle } from "../prejoin";
import { toast } from "../toast";
import { words } from "../wording";
import type { Meeting } from "./state";
import { t } from "../../i18n";

export interface Toolbar {
  element: HTMLElement;
  /** Whether this browser can share its screen (the button is shown). */
  canShare: boolean;
  renderLocal(): void;
  renderRoom(): void;
  renderView(): void;
  renderUnread(): void;
  renderPanel(): void;
  teardown(): void;
}

export function createToolbar(m: Meeting, moderation: ModerationControls, reactionsPicker: HTMLElement, inviteUrl: string, onLeave: () => void): Toolbar {
  const { conf, state } = m;
  const micBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "mic-toggle", "aria-keyshortcuts": "M" } });
  const camBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "cam-toggle", "aria-keyshortcuts": "V" } });
  const chatBadge = h("span", { class: "count-badge", attrs: { id: "unread", "aria-hidden": "true" } });
  const chatBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "chat-toggle", "aria-label": t("toolbar.chat"), title: `${t("toolbar.chat")} (C)`, "aria-keyshortcuts": "C", "aria-expanded": "false", "aria-controls": "side" } }, icon("chat"), chatBadge);
  const peopleBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "people-toggle", "aria-label": t("toolbar.people"), title: `${t("toolbar.people")} (P)`, "aria-keyshortcuts": "P", "aria-expanded": "false", "aria-controls": "side" } }, icon("people"));
  const settingsBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "settings-toggle", "aria-label": words.settings, title: `${words.settings} (S)`, "aria-keyshortcuts": "S", "aria-haspopup": "dialog" }, on: { click: () => m.act.openSettings() } }, icon("settings"));
  const inviteBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "invite", "aria-label": t("toolbar.invite"), title: t("toolbar.invite") } }, icon("link"));
  const lockBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "lock-toggle" } });
  const leaveBtn = h("button", { class: "btn btn-round btn-danger", attrs: { type: "button", id: "leave", "aria-label": t("toolbar.leave"), title: t("toolbar.leave") } }, icon("leave"));
  const shareBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "share-toggle", "aria-keyshortcuts": "D", "aria-pressed": "false" } }, icon("screen"));
  shareBtn.hidden = typeof navigator.mediaDevices?.getDisplayMedia !== "function";
  const viewBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "view-toggle", "aria-keyshortcuts": "W", "aria-pressed": "false" } });
  const handBtn = h("button", { class: "btn btn-round", attrs: { type: "button", id: "hand-toggle", "aria-keyshortcuts": "R", "aria-pressed": "false" } }, icon("hand"));
  // On a phone only the main buttons stay in the row; the others go to a
  // sheet that the "More" button opens (style.css, "Phones"). On a wide
  // screen the sheet is display: contents and its buttons sit in the row.
  const more = h("div", { class: "toolbar-more", attrs: { id: "toolbar-more", role: "group", "aria-label": t("toolbar.more") } }, shareBtn, viewBtn, handBtn, reactionsPicker, settingsBtn, inviteBtn, lockBtn, moderation.button);
  const moreBtn = h("button", { class: "btn btn-round more-toggle", attrs: { type: "button", id: "more-toggle", "aria-label": t("toolbar.more"), title: t("toolbar.more"), "aria-expanded": "false", "aria-controls": "toolbar-more" } }, icon("more"));
  const element = h("nav", { class: "toolbar", attrs: { "aria-label": t("toolbar.label") } }, micBtn, camBtn, chatBtn, peopleBtn, moreBtn, more, leaveBtn);
  const setMore = (open: boolean, refocus = false) => {
    more.classList.toggle("open", open);
    moreBtn.setAttribute("aria-expanded", String(open));
    moreBtn.classList.toggle("btn-active", open);
    if (open) more.querySelector<HTMLButtonElement>("button:not([hidden])")?.focus();
    else if (refocus) moreBtn.focus();
  };
  moreBtn.addEventListener("click", () => setMore(!more.classList.contains("open")));
  // An action taken from the sheet closes it; a button that opens a menu of its own (reactions, moderation) keeps it open.
  more.addEventListener("click", (ev) => {
    const b = (ev.target as Element).closest("button");
    if (b && !b.hasAttribute("aria-expanded")) setMore(false);
  });
  more.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && more.classList.contains("open")) {
      ev.stopPropagation();
      setMore(false, true);
    }
  });
  const onDocClick = (ev: MouseEvent) => {
    const t = ev.target as Node;
    if (more.classList.contains("open") && !more.contains(t) && !moreBtn.contains(t)) setMore(false);
  };
  document.addEventListener("click", onDocClick);

  micBtn.addEventListener("click", () => m.act.toggleMedia("audio"));
  camBtn.addEventListener("click", () => m.act.toggleMedia("video"));
  shareBtn.addEventListener("click", () => m.act.toggleShare());
  handBtn.addEventListener("click", () => m.act.toggleHand());
  viewBtn.addEventListener("click", () => m.act.setStageView(!state.stageView));
  chatBtn.addEventListener("click", () => m.act.setPanel(state.panel === "chat" ? null : "chat"));
  peopleBtn.addEventListener("click", () => m.act.setPanel(state.panel === "people" ? null : "people"));
  inviteBtn.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(inviteUrl);
      toast(t("toolbar.inviteCopied"));
    } catch {
      await prompt({ title: t("toolbar.inviteTitle"), message: t("toolbar.inviteText"), label: t("toolbar.inviteLabel"), value: inviteUrl, confirm: t("toolbar.done"), allowEmpty: true });
    }
  });
  lockBtn.addEventListener("click", () => void toggleLock(m));
  leaveBtn.addEventListener("click", onLeave);

  return {
    element,
    canShare: !shareBtn.hidden,
    renderLocal() {
      setToggle(micBtn, !conf.local.audioMuted, "mic", "micOff");
      setToggle(camBtn, !conf.local.videoMuted, "cam", "camOff");
      micBtn.title += " (M)";
      camBtn.title += " (V)";
      const up = conf.handRaised;
      const label = up ? words.lowerHand : words.raiseHand;
      handBtn.setAttribute("aria-pressed", String(up));
      handBtn.setAttribute("aria-label", label);
      handBtn.title = `${label} (R)`;
      handBtn.classList.toggle("btn-active", up);
    },
    renderRoom() {
      lockBtn.hidden = !conf.isModerator;
      clear(lockBtn);
      lockBtn.append(icon(conf.locked ? "unlock" : "lock"));
      const label = conf.locked ? t("toolbar.unlock") : t("toolbar.lock");
      lockBtn.setAttribute("aria-label", label);
      lockBtn.title = label;
    },
    renderView() {
      clear(viewBtn);
      viewBtn.append(icon(state.stageView ? "grid" : "stage"));
      const label = state.stageView ? t("toolbar.grid") : t("toolbar.stage");
      viewBtn.setAttribute("aria-label", label);
      viewBtn.setAttribute("aria-pressed", String(state.stageView));
      viewBtn.title = `${label} (W)`;
      viewBtn.classList.toggle("btn-active", state.stageView);
      shareBtn.setAttribute("aria-pressed", String(!!state.sharing));
      shareBtn.classList.toggle("btn-active", !!state.sharing);
      const shareLabel = state.sharing ? t("toolbar.stopShare") : t("toolbar.share");
      shareBtn.setAttribute("aria-label", shareLabel);
      shareBtn.title = `${shareLabel} (D)`;
    },
    renderUnread() {
      const n = conf.chat.unread;
      chatBadge.textContent = n > 99 ? "99+" : String(n);
      chatBadge.hidden = n === 0;
      chatBtn.setAttribute("aria-label", words.chatUnread(n));
      document.title = words.title(conf.roomName, n);
    },
    teardown() {
      document.removeEventListener("click", onDocClick);
    },
    renderPanel() {
      chatBtn.setAttribute("aria-expanded", String(state.panel === "chat"));
      peopleBtn.setAttribute("aria-expanded", String(state.panel === "people"));
      chatBtn.classList.toggle("btn-active", state.panel === "chat");
      peopleBtn.classList.toggle("btn-active", state.panel === "people");
    },
  };
}

/** Locks the room with a password asked for, or removes the password. */
async function toggleLock(m: Meeting): Promise<void> {
  const { conf } = m;
  if (conf.locked) {
    try {
      await conf.setPassword("");
      toast(t("lock.removed"));
    } catch (err) {
      toast((err as Error).message, "error");
    }
    return;
  }
  const pw = await prompt({ id: "lock-dialog", title: t("lock.title"), message: t("lock.text"), label: t("common.password"), type: "password", confirm: t("lock.confirm"), cancel: t("common.cancel") });
  if (!pw) return;
  try {
    await conf.setPassword(pw);
    toast(t("lock.done"));
  } catch (err) {
    toast((err as Error).message, "error");
  }
}
