// A small popup menu behind an icon button (a tile's ⋮): the WAI-ARIA menu
// button pattern without a framework. The caller keeps which menu is open
// and renders again on open and close; this module builds the elements and
// their keyboard handling (arrows move, Escape closes and returns focus).
import { h, icon } from "./dom";
import { t } from "../i18n";

export interface MenuItem {
  label: string;
  /** data-action of the item (what tests and styles select on). */
  action: string;
  run: () => void;
}

export interface MenuOptions {
  label: string;
  items: MenuItem[];
  open: boolean;
  onOpen: () => void;
  /** Called with whether focus should go back to the button (Escape). */
  onClose: (refocus: boolean) => void;
}

/** The button and its menu (hidden unless open). */
export function menuButton(o: MenuOptions): [HTMLButtonElement, HTMLElement] {
  const menu = h("div", { class: "tile-menu", attrs: { role: "menu", "aria-label": o.label } });
  menu.hidden = !o.open;
  for (const it of o.items) {
    menu.append(
      h("button", {
        class: "tile-menu-item",
        attrs: { type: "button", role: "menuitem", "data-action": it.action },
        text: it.label,
        on: {
          click: (ev) => {
            ev.stopPropagation();
            o.onClose(false);
            it.run();
          },
        },
      }),
    );
  }
  menu.addEventListener("keydown", (ev) => {
    const buttons = [...menu.querySelectorAll<HTMLButtonElement>("button")];
    const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (ev.key === "Escape") {
      ev.stopPropagation();
      o.onClose(true);
    } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      buttons[(i + (ev.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length]?.focus();
    }
  });
  const button = h(
    "button",
    {
      class: "btn btn-icon btn-small tile-menu-button",
      attrs: { type: "button", "aria-haspopup": "menu", "aria-expanded": String(o.open), "aria-label": o.label, title: t("common.options") },
      on: {
        click: (ev) => {
          ev.stopPropagation();
          if (o.open) o.onClose(false);
          else o.onOpen();
        },
      },
    },
    icon("more"),
  );
  return [button, menu];
}
