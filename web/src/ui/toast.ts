// Short messages, announced to screen readers. In a meeting they sit at the
// top of the stage area, below the top bar (so the people count stays in
// sight) and above the first row of tiles' name tags (at the tiles' bottom);
// elsewhere at the top of the page.
import { h } from "./dom";

let region: HTMLElement | null = null;

// Every message shown, newest last (at most 50). A toast is gone after a few
// seconds; the log lets tests (and anyone debugging) see what was said.
const shown: string[] = [];
(window as unknown as { parleyToasts?: string[] }).parleyToasts = shown;

/** At most this many toasts are on screen at once. */
const maxShown = 3;

const overlaps = (a: DOMRect, b: DOMRect) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/** Whether the toasts cover a name tag of a tile in sight. */
function coversName(r: HTMLElement): boolean {
  const box = r.getBoundingClientRect();
  for (const tag of document.querySelectorAll(".tile .tile-name")) {
    const t = tag.getBoundingClientRect();
    if (t.width > 0 && t.height > 0 && overlaps(box, t)) return true;
  }
  return false;
}

export function toast(message: string, kind: "info" | "error" = "info", ms = 4000): void {
  const host = document.querySelector<HTMLElement>(".stage-area") ?? document.body;
  if (!region) region = h("div", { class: "toasts", attrs: { role: "status", "aria-live": "polite" } });
  if (region.parentElement !== host) host.append(region);
  shown.push(message);
  if (shown.length > 50) shown.shift();
  const t = h("div", { class: `toast toast-${kind}`, text: message });
  // A busy meeting (hands, chat) would stack toasts down over the tiles: the oldest make way, also
  // while the stack would reach a name tag (small tiles); the newest alone then keeps to one line.
  while (region.childElementCount >= maxShown) region.firstElementChild?.remove();
  region.append(t);
  while (region.childElementCount > 1 && coversName(region)) region.firstElementChild?.remove();
  if (coversName(region)) t.classList.add("toast-line");
  setTimeout(() => {
    t.classList.add("toast-out");
    setTimeout(() => t.remove(), 300);
  }, ms);
}
