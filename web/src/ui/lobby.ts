// The lobby's screens (protocol/jitsi-dialect.md §4.5; the protocol is in
// ../lobby.ts): for a newcomer, the knock screen (name prefilled from the
// pre-join screen) and the waiting screen while moderators decide; for a
// moderator, the card listing who knocks with Admit and Deny.
import type { Conference } from "../conference";
import { prompt } from "./dialog";
import { clear, h, hueFor, initials } from "./dom";
import { toast } from "./toast";
import { t } from "../i18n";

/** Asks to be let in: resolves the knock with the name typed. */
export function showKnock(root: HTMLElement, room: string, name: string, on: { knock: (name: string) => void; password: (pw: string) => void; leave: () => void }): void {
  clear(root);
  document.title = t("lobby.pageTitle", { room });
  const input = h("input", { class: "field-input", attrs: { id: "lobby-name", type: "text", autocomplete: "nickname", maxlength: "64", placeholder: t("prejoin.yourName"), required: true } });
  input.value = name;
  const form = h(
    "form",
    { class: "lobby-form", attrs: { id: "knock-form" } },
    h("label", { class: "field-label", attrs: { for: "lobby-name" }, text: t("lobby.nameLabel") }),
    input,
    h("div", { class: "notice-actions" }, h("button", { class: "btn btn-primary", attrs: { type: "submit", id: "knock" }, text: t("lobby.knock") }), h("button", { class: "btn btn-ghost", attrs: { type: "button", id: "lobby-leave" }, text: t("common.leave"), on: { click: on.leave } })),
    h("button", {
      class: "btn btn-link",
      attrs: { type: "button", id: "lobby-password" },
      text: t("lobby.havePassword"),
      on: {
        click: async () => {
          const pw = await prompt({ id: "password-dialog", title: t("lobby.passwordTitle"), message: t("lobby.passwordText"), label: t("common.password"), type: "password", confirm: t("common.join"), cancel: t("common.cancel") });
          if (pw) on.password(pw);
        },
      },
    }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const n = input.value.trim();
    if (!n) {
      input.focus();
      return;
    }
    on.knock(n);
  });
  root.append(
    h(
      "main",
      { class: "notice lobby", attrs: { id: "lobby-knock" } },
      h("h1", { text: t("lobby.title") }),
      h("p", { class: "waiting-room", text: room }),
      h("p", { class: "muted", text: t("lobby.text") }),
      form,
    ),
  );
  input.focus();
}

export function showKnocking(root: HTMLElement, room: string, name: string, onLeave: () => void): void {
  clear(root);
  document.title = t("lobby.knockingPageTitle", { room });
  root.append(
    h(
      "main",
      { class: "notice waiting", attrs: { id: "lobby-waiting", "aria-busy": "true" } },
      h("div", { class: "spinner", attrs: { "aria-hidden": "true" } }),
      h("h1", { text: t("lobby.knockingTitle") }),
      h("p", { class: "waiting-room", text: room }),
      h("p", { class: "muted", attrs: { role: "status" }, text: t("lobby.knockingText", { name }) }),
      h("div", { class: "notice-actions" }, h("button", { class: "btn btn-ghost", attrs: { type: "button", id: "knock-leave" }, text: t("common.leave"), on: { click: onLeave } })),
    ),
  );
}

/** The moderator's card of people knocking; hidden while nobody does. Returns the element and its teardown. */
export function knockList(conf: Conference): [HTMLElement, () => void] {
  const list = h("ul", { class: "knockers" });
  const title = h("h2", { class: "knock-title" });
  const card = h("section", { class: "knock-card", attrs: { id: "lobby-list", "aria-label": t("lobby.waitingList"), role: "region" } }, title, list);
  let seen = new Set<string>();
  const act = async (fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      toast((err as Error).message, "error");
    }
  };
  const render = () => {
    const ks = [...conf.knockers.values()];
    card.hidden = !conf.isModerator || ks.length === 0;
    title.textContent = t("lobby.waitingCount", { count: ks.length });
    clear(list);
    for (const k of ks) {
      const name = k.displayName || t("common.someone");
      const av = h("span", { class: "avatar avatar-small", attrs: { "aria-hidden": "true" }, text: initials(name) });
      av.style.setProperty("--hue", String(hueFor(k.id)));
      list.append(
        h(
          "li",
          { class: "knocker", attrs: { "data-id": k.id } },
          av,
          h("span", { class: "person-name", text: name }),
          h("button", { class: "btn btn-compact btn-primary", attrs: { type: "button", "data-action": "admit", "aria-label": t("lobby.admitName", { name }) }, text: t("lobby.admit"), on: { click: () => act(() => conf.admit(k.id)) } }),
          h("button", { class: "btn btn-compact btn-ghost", attrs: { type: "button", "data-action": "deny", "aria-label": t("lobby.denyName", { name }) }, text: t("lobby.deny"), on: { click: () => act(() => conf.deny(k.id)) } }),
        ),
      );
    }
    const now = new Set(ks.map((k) => k.id));
    for (const k of ks) if (!seen.has(k.id)) toast(t("lobby.asking", { name: k.displayName || t("common.someone") }));
    seen = now;
  };
  const off = [conf.on("lobby", render), conf.on("local", render)];
  render();
  return [card, () => off.forEach((f) => f())];
}
