// The meeting's keyboard shortcuts: M microphone, V camera, D share the
// screen, W grid or stage, C chat, P participants, Esc closes the side
// panel. None fires while typing or while a dialog is open.
import { inTextField } from "../dom";
import type { Meeting } from "./state";

/** Installs the shortcuts on the document; returns their removal. */
export function installKeys(m: Meeting, canShare: () => boolean): () => void {
  const { state, act } = m;
  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === "Escape" && state.panel && !document.querySelector("dialog[open]")) {
      act.setPanel(null);
      return;
    }
    if (inTextField(ev) || ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]")) return;
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
        if (canShare()) act.toggleShare();
        break;
      case "w":
        act.setStageView(!state.stageView);
        break;
      default:
        return;
    }
    ev.preventDefault();
  };
  document.addEventListener("keydown", onKey);
  return () => document.removeEventListener("keydown", onKey);
}
