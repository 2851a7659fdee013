// A full-page message: for failures that end a meeting or stop one starting.
import { clear, h, icon } from "./dom";

export interface NoticeAction {
  label: string;
  primary?: boolean;
  run: () => void;
}

export function showNotice(root: HTMLElement, title: string, message: string, actions: NoticeAction[], id = "notice"): void {
  clear(root);
  const buttons = actions.map((a) =>
    h("button", { class: `btn ${a.primary ? "btn-primary" : "btn-ghost"}`, text: a.label, attrs: { type: "button" }, on: { click: a.run } }),
  );
  root.append(
    h(
      "main",
      { class: "notice", attrs: { id } },
      h("div", { class: "notice-icon" }, icon("warn")),
      h("h1", { text: title }),
      h("p", { class: "muted", text: message }),
      h("div", { class: "notice-actions" }, ...buttons),
    ),
  );
  buttons[0]?.focus();
  document.title = `${title} · Parley`;
}
