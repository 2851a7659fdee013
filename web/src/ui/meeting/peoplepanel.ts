// The participants panel: everyone in the meeting with their role, raised
// hand (with its place in line), whether they are speaking now (the
// bridge's dominant speaker), their microphone and camera, and a private
// message button. Raised hands come first, in the order they went up.
// Each person's menu sends them a private message; moderators also get
// "Mute everyone" and "End meeting for all" above the list, and in each
// person's menu mute, make moderator and remove. Past PEOPLE_SEARCH_FROM people a search box filters the list.
import type { Participant } from "../../conference";
import { clear, h, hueFor, icon, initials } from "../dom";
import { menuButton, type MenuItem } from "../menu";
import { endForAll, grantModerator, muteEveryone } from "../moderation";
import { words } from "../wording";
import { handBadge, handPlaces } from "./hands";
import { nameMatches } from "./peoplesearch";
import type { Meeting } from "./state";
import { t } from "../../i18n";

export interface PeoplePanel {
  element: HTMLElement;
  render(list: Participant[]): void;
}

/** From how many people the panel offers a search box. */
export const PEOPLE_SEARCH_FROM = 9;

export function createPeoplePanel(m: Meeting): PeoplePanel {
  const { conf, state } = m;
  const peopleList = h("ul", { class: "people", attrs: { id: "people" } });
  const muteAll = h("button", { class: "btn btn-ghost btn-small", attrs: { type: "button", id: "people-mute-all" }, on: { click: () => void muteEveryone(conf) } }, icon("micOff"), h("span", { text: words.muteEveryone }));
  const endAll = h("button", { class: "btn btn-ghost btn-small btn-danger-text", attrs: { type: "button", id: "people-end-all" }, on: { click: () => void endForAll(conf) } }, icon("leave"), h("span", { text: words.endForAll }));
  const actions = h("div", { class: "people-actions", attrs: { id: "people-actions" } }, muteAll, endAll);
  const search = h("input", { class: "field-input people-search", attrs: { id: "people-search", type: "search", placeholder: words.searchPeople, "aria-label": words.searchPeople, autocomplete: "off" } });
  const empty = h("p", { class: "muted people-empty", attrs: { id: "people-empty", role: "status" } });
  const element = h("section", { class: "people-panel", attrs: { id: "people-panel", "aria-label": t("toolbar.people") } }, actions, search, peopleList, empty);
  /** The endpoint whose moderator menu is open ("" none): view state of this panel only. */
  let menuFor = "";
  let last: Participant[] = [];

  /** A person's menu: a private message, and for moderators mute, make moderator and remove. */
  const personMenu = (p: Participant, name: string): HTMLElement[] => {
    if (p.local) return [h("span", { class: "person-menu-spacer", attrs: { "aria-hidden": "true" } })]; // keeps the icons in line with the others'
    const items: MenuItem[] = [
      {
        label: words.messagePrivately,
        action: "message",
        run: () => {
          state.privateTo = p.id;
          m.act.setPanel("chat");
        },
      },
    ];
    if (conf.isModerator) {
      if (!p.audioMuted) items.push({ label: words.muteOf(name), action: "mute-audio", run: () => void m.act.askToMute(p.id, "audio", name) });
      if (p.role !== "moderator" && p.jid) items.push({ label: words.makeModerator(name), action: "grant", run: () => void grantModerator(conf, p.id, name) });
      items.push({ label: words.removeOf(name), action: "kick", run: () => void m.act.kick(p.id, name) });
    }
    const [button, menu] = menuButton({
      label: words.optionsFor(name),
      items,
      open: menuFor === p.id,
      onOpen: () => {
        menuFor = p.id;
        render(last);
        peopleList.querySelector<HTMLButtonElement>(`li[data-id="${p.id}"] .tile-menu button`)?.focus();
      },
      onClose: (refocus) => {
        menuFor = "";
        render(last);
        if (refocus) peopleList.querySelector<HTMLButtonElement>(`li[data-id="${p.id}"] .tile-menu-button`)?.focus();
      },
    });
    button.classList.add("person-menu-button");
    return [button, menu];
  };

  const person = (p: Participant, place: number | undefined): HTMLElement => {
    const name = p.local ? p.displayName || t("common.you") : conf.displayNameOf(p.id);
    const speaking = !p.local && p.id === state.speaker;
    const av = h("span", { class: "avatar avatar-small", attrs: { "aria-hidden": "true" }, text: initials(name) });
    av.style.setProperty("--hue", String(hueFor(p.id)));
    return h(
      "li",
      {
        class: `person${speaking ? " speaking" : ""}`,
        attrs: { "data-id": p.id, "data-audio": p.audioMuted ? "off" : "on", "data-video": p.videoMuted ? "off" : "on" },
      },
      av,
      h(
        "span",
        { class: "person-text" },
        h("span", { class: "person-name", text: name + (p.local ? " (you)" : "") }),
        p.role === "moderator" ? h("span", { class: "person-role", text: words.moderator }) : null,
      ),
      speaking ? h("span", { class: "person-speaking", attrs: { role: "img", "aria-label": words.speakingNow(name), title: words.speaking } }, h("i"), h("i"), h("i")) : null,
      handBadge(m, p, place, "person-hand"),
      h("span", { class: "person-icons" }, icon(p.audioMuted ? "micOff" : "mic"), icon(p.videoMuted ? "camOff" : "cam")),
      ...personMenu(p, name),
    );
  };

  const render = (list: Participant[]) => {
    last = list;
    actions.hidden = !conf.isModerator;
    endAll.hidden = !conf.canEndForAll;
    search.hidden = list.length < PEOPLE_SEARCH_FROM;
    const query = search.hidden ? "" : search.value.trim();
    if (menuFor && !list.some((p) => p.id === menuFor && !p.local)) menuFor = "";
    // Raised hands first, in the order they went up; then everyone else as the tiles are.
    const hands = handPlaces(m);
    const order = [...list]
      .filter((p) => !query || nameMatches(p.local ? p.displayName || t("common.you") : conf.displayNameOf(p.id), query))
      .sort((a, b) => (hands.get(a.id) ?? Number.MAX_SAFE_INTEGER) - (hands.get(b.id) ?? Number.MAX_SAFE_INTEGER));
    // The list is rebuilt on every change (someone starts speaking): keep the keyboard focus where it was.
    const focus = focusedControl(peopleList);
    clear(peopleList);
    for (const p of order) peopleList.append(person(p, hands.get(p.id)));
    if (focus) peopleList.querySelector<HTMLElement>(`li[data-id="${focus.id}"] ${focus.selector}`)?.focus();
    empty.hidden = order.length > 0;
    empty.textContent = order.length ? "" : words.nobodyMatches(query);
  };
  search.addEventListener("input", () => render(last));
  // A click elsewhere closes a person's menu.
  element.addEventListener("click", (ev) => {
    if (menuFor && !(ev.target as Element | null)?.closest?.(".tile-menu, .tile-menu-button")) {
      menuFor = "";
      render(last);
    }
  });

  return { element, render };
}

/** The control with the focus inside the list, as its person's ID and a selector that finds it again after a rebuild; null if none. */
function focusedControl(list: HTMLElement): { id: string; selector: string } | null {
  const el = document.activeElement as HTMLElement | null;
  const li = el?.closest<HTMLElement>("li[data-id]");
  if (!el || !li || !list.contains(li)) return null;
  const selector = el.dataset.action ? `[data-action="${el.dataset.action}"]` : el.classList.contains("tile-menu-button") ? ".tile-menu-button" : el.classList.contains("hand-button") ? ".hand-button" : "";
  return selector ? { id: li.dataset.id ?? "", selector } : null;
}
