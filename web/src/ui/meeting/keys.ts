// The meeting's keyboard shortcuts: M microphone, V camera, D share the
// screen, R raise or lower the hand, W grid or stage, C chat,
// P participants, S settings, ? the list of shortcuts, Esc closes the reactions picker
// or the side panel; holding Space while muted talks (push to talk). None
// fires while typing or while a dialog is open.
import { h, inTextField } from "../dom";
import { words } from "../wording";
import type { Meeting } from "./state";

export interface KeyOptions {
  canShare(): boolean;
  /** Closes the reactions picker; true if it was open. */
  closeReactions(): boolean;
  /** Push to talk started or ended (the screen says so). */
  pushToTalk(on: boolean): void;
}

/** Installs the shortcuts on the document; returns their removal. */
export function installKeys(m: Meeting, o: KeyOptions): () => void {
  const { state, act, conf } = m;
  // Push to talk: the unmute in progress, so that a quick release waits for it before muting again.
  let talking: Promise<void> | null = null;
  const startTalking = () => {
    if (state.pushToTalk || !conf.local.audioMuted) return;
    state.pushToTalk = true;
    o.pushToTalk(true);
    talking = act.toggleMedia("audio").then(() => {
      // Not allowed to unmute (moderated microphones): there is nothing to hold.
      if (conf.local.audioMuted) stopTalking();
    });
  };
  const stopTalking = () => {
    if (!state.pushToTalk) return;
    state.pushToTalk = false;
    o.pushToTalk(false);
    const pending = talking ?? Promise.resolve();
    talking = null;
    void pending.then(() => {
      if (!conf.local.audioMuted && !state.pushToTalk) return act.toggleMedia("audio");
    });
  };

  const onKey = (ev: KeyboardEvent) => {
    const dialogOpen = !!document.querySelector("dialog[open]");
    if (ev.key === "Escape" && !dialogOpen) {
      if (o.closeReactions()) return;
      if (state.panel) act.setPanel(null);
      return;
    }
    if (inTextField(ev) || ev.ctrlKey || ev.metaKey || ev.altKey || dialogOpen) return;
    if (ev.code === "Space") {
      // Space still presses a focused button; elsewhere, held while muted, it talks.
      if ((ev.target as Element | null)?.closest?.("button, a, [role=menu]")) return;
      ev.preventDefault();
      if (!ev.repeat) startTalking();
      return;
    }
    switch (ev.key.toLowerCase()) {
      case "m":
        act.toggleMedia("audio");
        break;
      case "v":
        act.toggleMedia("video");
        break;
      case "c":
        act.setPanel(state.panel === "chat" ? null : "chat");
        break;
      case "p":
        act.setPanel(state.panel === "people" ? null : "people");
        break;
      case "d":
        if (o.canShare()) act.toggleShare();
        break;
      case "r":
        act.toggleHand();
        break;
      case "w":
        act.setStageView(!state.stageView);
        break;
      case "s":
        act.openSettings();
        break;
      case "?":
        showShortcuts();
        break;
      default:
        return;
    }
    ev.preventDefault();
  };
  const onKeyUp = (ev: KeyboardEvent) => {
    if (ev.code === "Space") stopTalking();
  };
  // A window that loses focus never sees the key go up.
  const onBlur = () => stopTalking();
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);
  addEventListener("blur", onBlur);
  return () => {
    document.removeEventListener("keydown", onKey);
    document.removeEventListener("keyup", onKeyUp);
    removeEventListener("blur", onBlur);
  };
}

/** The help sheet: every shortcut and what it does, in a dialog (Esc or Close closes it). */
export function showShortcuts(): void {
  if (document.getElementById("shortcuts")) return;
  const dialog = h("dialog", { class: "dialog", attrs: { id: "shortcuts", "aria-labelledby": "shortcuts-title" } });
  const list = h("dl", { class: "shortcuts" });
  for (const [key, what] of words.shortcuts) list.append(h("dt", {}, h("kbd", { text: key })), h("dd", { text: what }));
  const close = h("button", { class: "btn btn-primary", attrs: { type: "button" }, text: words.close, on: { click: () => dialog.close() } });
  dialog.append(h("h2", { attrs: { id: "shortcuts-title" }, text: words.shortcutsTitle }), list, h("div", { class: "dialog-actions" }, close));
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
