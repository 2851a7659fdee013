// Reactions: the toolbar's picker (Jitsi Meet's six, sent as its
// "endpoint-reaction" EndpointMessage, src/reactions.ts) and the overlay
// where everyone's reactions float up over the meeting for a few seconds.
import { REACTIONS, type ReactionId } from "../../reactions";
import { h, icon } from "../dom";
import { toast } from "../toast";
import { words } from "../wording";
import type { Meeting } from "./state";
import { t } from "../../i18n";

/** How long a reaction floats over the meeting (the CSS animation's length). */
const floatMs = 3000;
/** At most this many reactions float at once; the oldest go first. */
const maxFloating = 24;

export interface Reactions {
  /** The toolbar's button and its picker. */
  picker: HTMLElement;
  /** The layer over the tiles where reactions float. */
  overlay: HTMLElement;
  /** Floats reactions from a participant (our endpoint ID for ours). */
  show(from: string, ids: ReactionId[]): void;
  /** Closes the picker; true if it was open. */
  close(): boolean;
  teardown(): void;
}

export function createReactions(m: Meeting): Reactions {
  const { conf, state } = m;
  const button = h("button", { class: "btn btn-round", attrs: { type: "button", id: "react", "aria-label": words.reactions, title: words.reactions, "aria-expanded": "false", "aria-controls": "reactions-menu" } }, icon("smile"));
  const menu = h("div", { class: "reactions-menu", attrs: { id: "reactions-menu", role: "group", "aria-label": words.reactions } });
  for (const [id, emoji] of Object.entries(REACTIONS) as [ReactionId, string][]) {
    menu.append(h("button", { class: "reaction-choice", attrs: { type: "button", "data-reaction": id, "aria-label": words.reactionName(id), title: words.reactionName(id) }, text: emoji, on: { click: () => send(id) } }));
  }
  const picker = h("div", { class: "toolbar-menu" }, button, menu);
  const overlay = h("div", { class: "reactions-overlay", attrs: { id: "reactions", "aria-hidden": "true" } });

  const render = () => {
    menu.hidden = !state.reactionsOpen;
    button.setAttribute("aria-expanded", String(state.reactionsOpen));
    button.classList.toggle("btn-active", state.reactionsOpen);
  };
  const send = (id: ReactionId) => {
    try {
      conf.sendReaction(id);
    } catch (err) {
      toast((err as Error).message, "error", 5000);
    }
  };
  button.addEventListener("click", () => {
    state.reactionsOpen = !state.reactionsOpen;
    render();
    if (state.reactionsOpen) menu.querySelector<HTMLButtonElement>("button")?.focus();
  });
  const onDocClick = (ev: MouseEvent) => {
    if (state.reactionsOpen && !picker.contains(ev.target as Node)) {
      state.reactionsOpen = false;
      render();
    }
  };
  document.addEventListener("click", onDocClick);
  render();

  return {
    picker,
    overlay,
    show(from, ids) {
      const name = from === conf.endpointId ? conf.local.displayName || t("common.you") : conf.displayNameOf(from);
      for (const id of ids) {
        while (overlay.childElementCount >= maxFloating) overlay.firstElementChild?.remove();
        const el = h("div", { class: "reaction-float", attrs: { "data-reaction": id, "data-from": from } }, h("span", { class: "reaction-emoji", text: REACTIONS[id] }), h("span", { class: "reaction-name", text: name }));
        // Spread over the left part of the meeting, so that a burst does not stack up.
        el.style.setProperty("--x", `${4 + Math.random() * 30}%`);
        overlay.append(el);
        setTimeout(() => el.remove(), floatMs);
      }
    },
    close() {
      if (!state.reactionsOpen) return false;
      state.reactionsOpen = false;
      render();
      button.focus();
      return true;
    },
    teardown() {
      document.removeEventListener("click", onDocClick);
    },
  };
}
