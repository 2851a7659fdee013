// Short messages at the bottom of the screen, announced to screen readers.
import { h } from "./dom";

let region: HTMLElement | null = null;

// Every message shown, newest last (at most 50). A toast is gone after a few
// seconds; the log lets tests (and anyone debugging) see what was said.
const shown: string[] = [];
(window as unknown as { parleyToasts?: string[] }).parleyToasts = shown;

/** At most this many toasts are on screen at once. */
const maxShown = 3;

export function toast(message: string, kind: "info" | "error" = "info", ms = 4000): void {
  if (!region || !region.isConnected) {
    region = h("div", { class: "toasts", attrs: { role: "status", "aria-live": "polite" } });
    document.body.append(region);
  }
  shown.push(message);
  if (shown.length > 50) shown.shift();
  const t = h("div", { class: `toast toast-${kind}`, text: message });
  // A busy meeting (hands, chat) would stack toasts over the tiles: the oldest make way.
  while (region.childElementCount >= maxShown) region.firstElementChild?.remove();
  region.append(t);
  setTimeout(() => {
    t.classList.add("toast-out");
    setTimeout(() => t.remove(), 300);
  }, ms);
}
