// The top bar (room name, lock and lobby badges, how many people, the
// media pill) and the banner shown while the connection is lost.
import { h, icon } from "../dom";
import type { ModerationControls } from "../moderation";
import { words } from "../wording";
import type { Meeting } from "./state";
import { t } from "../../i18n";

export interface TopBar {
  element: HTMLElement;
  banner: HTMLElement;
  renderRoom(): void;
  renderCount(n: number): void;
  /** Shows whether we talk because Space is held. */
  renderPushToTalk(on: boolean): void;
}

export function createTopBar(m: Meeting, moderation: ModerationControls): TopBar {
  const { conf } = m;
  const lockBadge = h("span", { class: "badge badge-lock", attrs: { id: "lock-state", title: t("topbar.lockedTitle") } }, icon("lock"), h("span", { text: t("topbar.locked") }));
  const count = h("span", { class: "muted", attrs: { id: "participant-count" } });
  const mediaPill = h("span", { class: "pill pill-warn", attrs: { id: "media-unavailable", role: "status", "aria-live": "polite", hidden: true } });
  const pttPill = h("span", { class: "pill pill-live", attrs: { id: "push-to-talk", role: "status", hidden: true }, text: words.pushToTalk });
  const element = h("header", { class: "topbar" }, h("span", { class: "brand-mark brand-small", attrs: { "aria-hidden": "true" } }), h("h1", { class: "topbar-room", text: conf.roomName }), lockBadge, moderation.lobbyBadge, count, h("span", { class: "spacer" }), pttPill, mediaPill);
  const banner = h("div", { class: "banner", attrs: { id: "connection-banner", role: "status", "aria-live": "polite" }, text: t("topbar.connectionLost") });
  banner.hidden = true;
  return {
    element,
    banner,
    renderRoom() {
      lockBadge.hidden = !conf.locked;
      // Only a real failure (with why) or a lost session coming back (calm, not a warning); see mediastatus.ts.
      const pill = conf.mediaPill;
      mediaPill.hidden = pill.kind === "hidden";
      if (pill.kind !== "hidden") {
        mediaPill.className = pill.kind === "reconnecting" ? "pill pill-info" : "pill pill-warn";
        mediaPill.textContent = pill.text;
        mediaPill.title = pill.title;
      }
    },
    renderPushToTalk(on) {
      pttPill.hidden = !on;
    },
    renderCount(n) {
      count.textContent = t("topbar.count", { count: n });
    },
  };
}
