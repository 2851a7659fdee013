// Short messages at the bottom of the screen, announced to screen readers.
import { h } from "./dom";

let region: HTMLElement | null = null;

export function toast(message: string, kind: "info" | "error" = "info", ms = 4000): void {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", attrs: { role: "status", "aria-live": "polite" } });
    document.body.append(region);
  }
  const t = h("div", { class: `toast toast-${kind}`, text: message });
  region.append(t);
  setTimeout(() => {
    t.classList.add("toast-out");
    setTimeout(() => t.remove(), 300);
  }, ms);
}
