// The home page: type a room name or take a generated one, and the recent rooms.
import { Prefs } from "../prefs";
import { cleanRoomName, generateRoomName } from "../roomname";
import { clear, h, icon } from "./dom";
import { language, t } from "../i18n";

export function renderHome(root: HTMLElement, prefs: Prefs, go: (room: string) => void): void {
  clear(root);
  document.title = t("app.name");
  let suggestion = generateRoomName();
  const input = h("input", {
    class: "field-input room-input",
    attrs: { id: "room-name", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "room-hint", maxlength: "64" },
  });
  input.placeholder = suggestion;
  const hint = h("p", { class: "hint", attrs: { id: "room-hint" }, text: t("home.roomHint") });

  const shuffle = h(
    "button",
    {
      class: "btn btn-icon",
      attrs: { type: "button", "aria-label": t("home.shuffle"), title: t("home.shuffle"), id: "shuffle" },
      on: {
        click: () => {
          suggestion = generateRoomName();
          input.placeholder = suggestion;
          input.value = "";
          input.focus();
        },
      },
    },
    icon("shuffle"),
  );

  const form = h(
    "form",
    { class: "home-form", attrs: { id: "home-form" } },
    h("label", { class: "field-label", attrs: { for: "room-name" }, text: t("home.roomLabel") }),
    h("div", { class: "room-row" }, input, shuffle),
    hint,
    h("button", { class: "btn btn-primary btn-wide", attrs: { type: "submit", id: "start" }, text: t("home.start") }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const typed = input.value.trim();
    const name = typed ? cleanRoomName(typed.replace(/\s+/g, "")) : suggestion;
    if (!name) {
      hint.textContent = t("home.roomInvalid");
      hint.classList.add("form-error");
      input.focus();
      return;
    }
    go(name);
  });

  const recentList = h("ul", { class: "recent-list", attrs: { id: "recent" } });
  const renderRecent = () => {
    clear(recentList);
    for (const r of prefs.recentRooms()) {
      const link = h("a", { class: "recent-link", attrs: { href: "/" + encodeURIComponent(r.name) }, text: r.name });
      link.addEventListener("click", (ev) => {
        ev.preventDefault();
        go(r.name);
      });
      recentList.append(
        h(
          "li",
          { class: "recent-item" },
          link,
          h("span", { class: "recent-when muted", text: when(r.at) }),
          h(
            "button",
            {
              class: "btn btn-icon btn-small",
              attrs: { type: "button", "aria-label": t("home.removeRecent", { room: r.name }), title: t("home.remove") },
              on: {
                click: () => {
                  prefs.removeRecentRoom(r.name);
                  renderRecent();
                },
              },
            },
            icon("close"),
          ),
        ),
      );
    }
    recentSection.hidden = recentList.childElementCount === 0;
  };
  const recentSection = h("section", { class: "recent", attrs: { "aria-labelledby": "recent-title" } }, h("h2", { attrs: { id: "recent-title" }, text: t("home.recent") }), recentList);

  root.append(
    h(
      "main",
      { class: "home", attrs: { id: "home" } },
      h("header", { class: "brand" }, h("span", { class: "brand-mark", attrs: { "aria-hidden": "true" } }), h("span", { text: t("app.name") })),
      h("h1", { class: "home-title", text: t("home.title") }),
      h("p", { class: "home-lead muted", text: t("home.lead") }),
      form,
      recentSection,
    ),
  );
  renderRecent();
  input.focus();
}

function when(at: number): string {
  const d = new Date(at);
  const days = Math.floor((Date.now() - at) / 86_400_000);
  if (days <= 0) return d.toLocaleTimeString(language(), { hour: "2-digit", minute: "2-digit" });
  if (days === 1) return t("home.yesterday");
  return d.toLocaleDateString(language());
}
