// The side panel beside the tiles: chat or participants, one at a time,
// with a title and a close button (Esc closes it too, keys.ts).
import { h, icon } from "../dom";
import type { ChatPanel } from "./chatpanel";
import type { PeoplePanel } from "./peoplepanel";
import type { Meeting, Panel } from "./state";
import { t } from "../../i18n";

export interface Side {
  element: HTMLElement;
  /** Shows a panel (null closes the side); the caller re-renders what depends on it. */
  show(p: Panel): void;
}

export function createSide(m: Meeting, chat: ChatPanel, people: PeoplePanel): Side {
  const title = h("h2", { class: "side-title" });
  const element = h(
    "aside",
    { class: "side", attrs: { id: "side" } },
    h("div", { class: "side-head" }, title, h("button", { class: "btn btn-icon", attrs: { type: "button", "aria-label": t("side.close"), title: t("side.closeTitle") }, on: { click: () => m.act.setPanel(null) } }, icon("close"))),
    chat.element,
    people.element,
  );
  return {
    element,
    show(p) {
      m.state.panel = p;
      m.conf.chatOpen = p === "chat";
      element.classList.toggle("open", p !== null);
      chat.element.hidden = p !== "chat";
      people.element.hidden = p !== "people";
      title.textContent = p === "chat" ? t("toolbar.chat") : t("toolbar.people");
    },
  };
}
